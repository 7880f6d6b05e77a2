//! Emulates the Lambda service's part of a trace under Active tracing.
//!
//! For each invocation, Lambda records two segments: one with `origin: "AWS::Lambda"` (the
//! service, named after the function; its parent is the caller's segment, e.g. API Gateway) and
//! one with `origin: "AWS::Lambda::Function"` (the function, parent = the `AWS::Lambda` segment).
//! The invocation's `Lambda-Runtime-Trace-Id` is `Root=…;Parent=<function segment id>;Sampled=1`,
//! so the spans the function sends become subsegments of the function segment. The two segments
//! go straight into a [`Collector`], not through UDP.
//!
//! Under [`TracingMode::PassThrough`] that happens only for an invocation whose upstream sampled
//! it ([`TraceParent::sampled`]); otherwise the function gets `Root=…` alone and nothing is
//! recorded (see [`crate::tracing_mode`] for what Lambda does and the sources).

use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::collector::{Collector, Source};
use crate::ids;
use crate::runtime_api::{Invocation, InvocationResult, Outcome, RuntimeApi};
use crate::tracing_mode::TracingMode;

/// The account id used in the emulated ARNs.
pub const ACCOUNT_ID: &str = "123456789012";
/// The region used in the emulated ARNs.
pub const REGION: &str = "us-east-1";

/// A function: its name, ARN, timeout and the Runtime API its process polls.
#[derive(Debug, Clone)]
pub struct LambdaFunction {
    /// The function name (also the name of the emulated segments).
    pub name: String,
    /// The function ARN.
    pub arn: String,
    /// The function timeout (the invocation deadline).
    pub timeout: Duration,
    /// The Runtime API the function process polls.
    pub runtime: RuntimeApi,
    /// Active (the default) or PassThrough tracing.
    pub tracing: TracingMode,
}

/// Where an invocation sits in a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    /// The X-Ray trace id (`1-…-…`).
    pub trace_id: String,
    /// The caller's segment id, the parent of the `AWS::Lambda` segment.
    pub parent_id: Option<String>,
    /// Whether the upstream sampled the request (`Sampled=1`). Active tracing traces either way;
    /// PassThrough only when this is set.
    pub sampled: bool,
}

impl TraceParent {
    /// A new sampled trace with no parent (what Active tracing starts for a direct invoke).
    pub fn new_trace() -> TraceParent {
        TraceParent {
            trace_id: ids::trace_id(),
            parent_id: None,
            sampled: true,
        }
    }

    /// A new trace with no parent that nothing upstream sampled (a direct invoke under
    /// PassThrough).
    pub fn unsampled() -> TraceParent {
        TraceParent {
            sampled: false,
            ..TraceParent::new_trace()
        }
    }
}

/// The result of [`LambdaFunction::invoke_traced`].
#[derive(Debug, Clone)]
pub struct TracedInvocation {
    /// What the Runtime API got back.
    pub result: InvocationResult,
    /// The trace id.
    pub trace_id: String,
    /// Id of the emulated `AWS::Lambda` segment (`None`: not traced, PassThrough).
    pub lambda_segment_id: Option<String>,
    /// Id of the emulated `AWS::Lambda::Function` segment (`None`: not traced, PassThrough).
    pub function_segment_id: Option<String>,
    /// The `Lambda-Runtime-Trace-Id` the function got.
    pub trace_header: String,
}

/// Converts `Instant`s to epoch seconds from one reference point.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    system: SystemTime,
    instant: Instant,
}

impl Clock {
    /// A clock anchored now.
    pub fn now() -> Clock {
        Clock {
            system: SystemTime::now(),
            instant: Instant::now(),
        }
    }

    /// Epoch seconds of `at`.
    pub fn epoch(&self, at: Instant) -> f64 {
        let t = if at >= self.instant {
            self.system + (at - self.instant)
        } else {
            self.system - (self.instant - at)
        };
        ids::epoch_seconds(t)
    }
}

impl LambdaFunction {
    /// A function named `name` served by `runtime`, with a 30 s timeout and the ARN
    /// `arn:aws:lambda:us-east-1:123456789012:function:{name}`.
    pub fn new(name: impl Into<String>, runtime: RuntimeApi) -> LambdaFunction {
        let name = name.into();
        LambdaFunction {
            arn: format!("arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"),
            name,
            timeout: Duration::from_secs(30),
            runtime,
            tracing: TracingMode::Active,
        }
    }

    /// Sets the tracing mode.
    pub fn with_tracing(mut self, tracing: TracingMode) -> LambdaFunction {
        self.tracing = tracing;
        self
    }

    /// Whether Lambda traces an invocation with this parent: always under Active, only a
    /// sampled upstream under PassThrough.
    pub fn traces(&self, parent: &TraceParent) -> bool {
        self.tracing == TracingMode::Active || parent.sampled
    }

    /// Sets the timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> LambdaFunction {
        self.timeout = timeout;
        self
    }

    /// Invokes the function. When Lambda traces it ([`LambdaFunction::traces`]) the invocation
    /// gets a `Lambda-Runtime-Trace-Id` pointing at an emulated function segment, and both
    /// emulated segments (see the module docs) are added to `collector` when the invocation
    /// ends; otherwise (PassThrough, not sampled upstream) it gets `Root=<trace id>` only and
    /// nothing is recorded.
    pub async fn invoke_traced(
        &self,
        payload: impl Into<Bytes>,
        parent: &TraceParent,
        collector: &Collector,
    ) -> TracedInvocation {
        if !self.traces(parent) {
            let trace_header = format!("Root={}", parent.trace_id);
            let invocation = Invocation::new(payload)
                .with_trace_header(trace_header.clone())
                .with_deadline(self.timeout)
                .with_function_arn(self.arn.clone());
            return TracedInvocation {
                result: self.runtime.invoke(invocation).await,
                trace_id: parent.trace_id.clone(),
                lambda_segment_id: None,
                function_segment_id: None,
                trace_header,
            };
        }
        let clock = Clock::now();
        let started = Instant::now();
        let lambda_segment_id = ids::segment_id();
        let function_segment_id = ids::segment_id();
        let trace_header = format!(
            "Root={};Parent={function_segment_id};Sampled=1",
            parent.trace_id
        );
        let invocation = Invocation::new(payload)
            .with_trace_header(trace_header.clone())
            .with_deadline(self.timeout)
            .with_function_arn(self.arn.clone());
        let result = self.runtime.invoke(invocation).await;
        let ended = Instant::now();

        let (function_flags, lambda_fault) = match &result.outcome {
            Outcome::Response(_) => (json!({}), false),
            Outcome::Error { error_type, body } => {
                let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let message = parsed
                    .get("errorMessage")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
                let kind = parsed
                    .get("errorType")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| error_type.clone())
                    .unwrap_or_else(|| "Error".into());
                (
                    json!({"fault": true, "cause": {"exceptions": [{
                        "id": ids::segment_id(), "message": message, "type": kind, "remote": false
                    }]}}),
                    false,
                )
            }
            Outcome::TimedOut => (
                json!({"fault": true, "cause": {"exceptions": [{
                    "id": ids::segment_id(), "type": "Sandbox.Timedout",
                    "message": format!("Task timed out after {:.2} seconds", self.timeout.as_secs_f64()),
                    "remote": false
                }]}}),
                true,
            ),
        };
        let mut lambda_doc = json!({
            "name": self.name,
            "id": lambda_segment_id,
            "trace_id": parent.trace_id,
            "start_time": clock.epoch(started),
            "end_time": clock.epoch(ended),
            "origin": "AWS::Lambda",
            "resource_arn": self.arn,
            "http": {"response": {"status": if lambda_fault { 504 } else { 200 }}},
            "aws": {"request_id": result.request_id},
        });
        if let Some(p) = &parent.parent_id {
            lambda_doc["parent_id"] = json!(p);
        }
        if lambda_fault {
            lambda_doc["fault"] = json!(true);
        }
        let mut function_doc = json!({
            "name": self.name,
            "id": function_segment_id,
            "trace_id": parent.trace_id,
            "parent_id": lambda_segment_id,
            "start_time": clock.epoch(result.next_answered_at),
            "end_time": clock.epoch(result.completed_at),
            "origin": "AWS::Lambda::Function",
            "resource_arn": self.arn,
            "aws": {"request_id": result.request_id},
        });
        if let (Some(doc), Some(flags)) = (function_doc.as_object_mut(), function_flags.as_object())
        {
            doc.extend(flags.clone());
        }
        collector.add(lambda_doc, Source::Emulated("Lambda".into()));
        collector.add(function_doc, Source::Emulated("Lambda".into()));
        TracedInvocation {
            trace_id: parent.trace_id.clone(),
            lambda_segment_id: Some(lambda_segment_id),
            function_segment_id: Some(function_segment_id),
            trace_header,
            result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client;
    use hyper::Method;

    #[tokio::test]
    async fn emulated_segments_and_trace_header() {
        let runtime = RuntimeApi::start().await.unwrap();
        let addr = runtime.address();
        let function = LambdaFunction::new("order", runtime);
        let collector = Collector::new();
        let parent = TraceParent {
            trace_id: "1-5759e988-bd862e3fe1be46a994272793".into(),
            parent_id: Some("53995c3f42cd8ad8".into()),
            sampled: true,
        };
        let fake = tokio::spawn(async move {
            let next = client::send(
                addr,
                Method::GET,
                "/2018-06-01/runtime/invocation/next",
                &[],
                "",
            )
            .await
            .unwrap();
            let id = next.headers["lambda-runtime-aws-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let trace = next.headers["lambda-runtime-trace-id"]
                .to_str()
                .unwrap()
                .to_owned();
            assert_eq!(
                next.headers["lambda-runtime-invoked-function-arn"],
                "arn:aws:lambda:us-east-1:123456789012:function:order"
            );
            client::send(
                addr,
                Method::POST,
                &format!("/2018-06-01/runtime/invocation/{id}/error"),
                &[],
                r#"{"errorType":"Oops","errorMessage":"broken"}"#,
            )
            .await
            .unwrap();
            trace
        });
        let traced = function.invoke_traced("{}", &parent, &collector).await;
        let header = fake.await.unwrap();
        assert_eq!(header, traced.trace_header);
        assert_eq!(
            header,
            format!(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent={};Sampled=1",
                traced.function_segment_id.as_deref().unwrap()
            )
        );
        let trace = collector.trace(&parent.trace_id).unwrap();
        let lambda = trace
            .node(traced.lambda_segment_id.as_deref().unwrap())
            .unwrap();
        assert_eq!(lambda.origin.as_deref(), Some("AWS::Lambda"));
        assert_eq!(lambda.parent_id.as_deref(), Some("53995c3f42cd8ad8"));
        let func = trace
            .node(traced.function_segment_id.as_deref().unwrap())
            .unwrap();
        assert_eq!(func.origin.as_deref(), Some("AWS::Lambda::Function"));
        assert_eq!(
            func.parent_id.as_deref(),
            traced.lambda_segment_id.as_deref()
        );
        assert!(func.fault);
        assert_eq!(func.cause["exceptions"][0]["message"], "broken");
        assert!(func.start_time >= lambda.start_time && func.end_time <= lambda.end_time);
    }
}
