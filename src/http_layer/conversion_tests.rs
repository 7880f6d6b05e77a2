//! The parent rule behind `lambda_http`'s own request conversion.
//!
//! `lambda_http::Adapter` (what `lambda_http::run` serves) turns the API Gateway event into an
//! `http::Request` and replaces its `x-amzn-trace-id` header with Lambda's trace header before
//! the layer sees it. These tests feed the sample events of `events/` through that adapter, so
//! the overwrite is `lambda_http`'s, not a hand-built request's.

use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Body, Error, LambdaEvent, Request, RequestExt, Response, service_fn};
use lambda_runtime::Context;
use serde_json::Value;
use tower::{Layer, ServiceExt};

use super::HttpTraceLayer;
use crate::context::TraceId;
use crate::span::{RootPlacement, SpanBatch};
use crate::{Config, TraceLayer, export::InMemoryExporter};

const V1: &str = include_str!("../../events/apigw-v1-none.json");
const V2: &str = include_str!("../../events/apigw-v2-w3c.json");

/// Lambda's trace header, as `Lambda-Runtime-Trace-Id` gives it.
const LAMBDA_ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const LAMBDA_PARENT: &str = "53995c3f42cd8ad8";
/// A caller's W3C context (another trace than Lambda's).
const W3C_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const W3C_PARENT: &str = "b7ad6b7169203331";
/// A caller's X-Ray context (another trace than Lambda's).
const XRAY_ROOT: &str = "1-67891233-abcdef012345678912345678";
const XRAY_PARENT: &str = "463ac35c9f6413ad";

#[derive(Debug, Clone, Copy)]
enum Lambda {
    None,
    /// Active tracing, sampled.
    Sampled,
    /// Active tracing, sampled out.
    NotSampled,
    /// PassThrough with nothing upstream sampled: Lambda sends the root alone.
    RootOnly,
}

#[derive(Debug, Clone, Copy)]
enum Caller {
    None,
    W3cSampled,
    Xray,
}

/// What the parent rule says the invocation becomes.
#[derive(Debug, PartialEq)]
enum Expected {
    /// Nothing recorded: the trace is not sampled.
    Silent,
    /// A segment of this trace under this parent (`None`: a new trace).
    Segment(Option<(&'static str, &'static str)>),
    /// A subsegment of Lambda's segment, with the caller's trace as a link or not.
    Subsegment { link: Option<&'static str> },
}

/// The event of `template` with the caller's headers in every place the API Gateway version
/// carries headers, and none of the template's trace headers.
fn event(template: &str, caller: Caller) -> Value {
    let mut event: Value = serde_json::from_str(template).unwrap();
    let headers: &[(&str, String)] = &match caller {
        Caller::None => vec![],
        Caller::W3cSampled => vec![("traceparent", format!("00-{W3C_TRACE}-{W3C_PARENT}-01"))],
        Caller::Xray => vec![(
            "X-Amzn-Trace-Id",
            format!("Root={XRAY_ROOT};Parent={XRAY_PARENT};Sampled=1"),
        )],
    };
    for (field, multi) in [("headers", false), ("multiValueHeaders", true)] {
        let Some(map) = event.get_mut(field).and_then(Value::as_object_mut) else {
            continue;
        };
        map.retain(|k, _| {
            !["traceparent", "tracestate", "x-amzn-trace-id"].contains(&&*k.to_lowercase())
        });
        for (name, value) in headers {
            let value = match multi {
                true => Value::from(vec![value.clone()]),
                false => Value::from(value.clone()),
            };
            map.insert(name.to_string(), value);
        }
    }
    event
}

fn context(lambda: Lambda) -> Context {
    let mut cx = Context::default();
    cx.request_id = "req-conversion".into();
    cx.xray_trace_id = match lambda {
        Lambda::None => None,
        Lambda::Sampled => Some(format!(
            "Root={LAMBDA_ROOT};Parent={LAMBDA_PARENT};Sampled=1"
        )),
        Lambda::NotSampled => Some(format!(
            "Root={LAMBDA_ROOT};Parent={LAMBDA_PARENT};Sampled=0"
        )),
        Lambda::RootOnly => Some(format!("Root={LAMBDA_ROOT}")),
    };
    cx
}

/// One invocation through `lambda_http`'s adapter; the batches the layer exported.
async fn invoke(template: &str, lambda: Lambda, caller: Caller) -> Vec<SpanBatch> {
    let exporter = InMemoryExporter::default();
    let layer: HttpTraceLayer = TraceLayer::builder()
        .config(Config::from_lookup(|k| {
            (k == "AWS_LAMBDA_FUNCTION_NAME").then(|| "api".to_string())
        }))
        .exporter(exporter.clone())
        .build()
        .into();
    let handler = service_fn(|_: Request| async {
        Ok::<_, Error>(Response::builder().status(200).body(Body::from("ok"))?)
    });
    let payload: LambdaRequest = serde_json::from_value(event(template, caller)).unwrap();
    let adapter = Adapter::from(layer.layer(handler));
    adapter
        .oneshot(LambdaEvent::new(payload, context(lambda)))
        .await
        .expect("the handler's response");
    exporter.take()
}

fn outcome(batches: &[SpanBatch]) -> Expected {
    let Some(batch) = batches.first() else {
        return Expected::Silent;
    };
    assert_eq!(batches.len(), 1, "one batch per invocation");
    let root = &batch.spans[0];
    let trace = batch.trace_id.to_string();
    match batch.placement {
        RootPlacement::LambdaSubsegment => {
            assert_eq!(trace, TraceId::from_xray(LAMBDA_ROOT).unwrap().to_string());
            assert_eq!(root.parent_id.unwrap().to_string(), LAMBDA_PARENT);
            assert!(root.links.len() <= 1);
            Expected::Subsegment {
                link: root.links.first().map(|(t, _)| match t.to_string() {
                    t if t == W3C_TRACE => W3C_TRACE,
                    t => panic!("unexpected link {t}"),
                }),
            }
        }
        RootPlacement::Segment => Expected::Segment(root.parent_id.map(|p| {
            let known = [
                (W3C_TRACE.to_string(), W3C_TRACE),
                (
                    TraceId::from_xray(XRAY_ROOT).unwrap().to_string(),
                    XRAY_ROOT,
                ),
                (
                    TraceId::from_xray(LAMBDA_ROOT).unwrap().to_string(),
                    LAMBDA_ROOT,
                ),
            ];
            let trace = known
                .iter()
                .find(|(hex, _)| *hex == trace)
                .unwrap_or_else(|| panic!("unexpected trace {trace}"))
                .1;
            let parent = [W3C_PARENT, XRAY_PARENT, LAMBDA_PARENT]
                .into_iter()
                .find(|known| *known == p.to_string())
                .unwrap_or_else(|| panic!("unexpected parent {p}"));
            (trace, parent)
        })),
    }
}

/// API Gateway v1 and v2 × Lambda's header × the caller's header, as the README's parent rule
/// says. A caller's `X-Amzn-Trace-Id` cannot be told apart once `lambda_http` has replaced it
/// with Lambda's header: with Lambda's header present, that column is the "no caller" column.
#[tokio::test]
async fn lambda_http_events_follow_the_parent_rule() {
    use Expected::*;
    #[rustfmt::skip]
    let table = [
        (Lambda::None,       Caller::None,       Segment(None)),
        (Lambda::None,       Caller::W3cSampled, Segment(Some((W3C_TRACE, W3C_PARENT)))),
        (Lambda::None,       Caller::Xray,       Segment(Some((XRAY_ROOT, XRAY_PARENT)))),
        (Lambda::Sampled,    Caller::None,       Subsegment { link: None }),
        (Lambda::Sampled,    Caller::W3cSampled, Subsegment { link: Some(W3C_TRACE) }),
        (Lambda::Sampled,    Caller::Xray,       Subsegment { link: None }),
        // Active tracing sampled the request out: the platform's decision stands, whatever
        // the caller's flag (issue 18).
        (Lambda::NotSampled, Caller::None,       Silent),
        (Lambda::NotSampled, Caller::W3cSampled, Silent),
        (Lambda::NotSampled, Caller::Xray,       Silent),
        // PassThrough: Lambda sends `Root=…` alone, no decision; the caller's context decides,
        // else Lambda's trace id with the sample rate (1.0 here).
        (Lambda::RootOnly,   Caller::None,       Segment(None)),
        (Lambda::RootOnly,   Caller::W3cSampled, Segment(Some((W3C_TRACE, W3C_PARENT)))),
        (Lambda::RootOnly,   Caller::Xray,       Segment(None)),
    ];
    for (name, template) in [("v1", V1), ("v2", V2)] {
        for (lambda, caller, expected) in &table {
            let batches = invoke(template, *lambda, *caller).await;
            assert_eq!(
                &outcome(&batches),
                expected,
                "API Gateway {name}, Lambda {lambda:?}, caller {caller:?}"
            );
        }
    }
}

/// The caller's own `x-amzn-trace-id` is still read when Lambda sent none (outside Lambda, or a
/// runtime that does not set the header), and one that differs from Lambda's is still the
/// caller's.
#[tokio::test]
async fn a_callers_xray_header_that_is_not_lambdas_is_still_read() {
    let exporter = InMemoryExporter::default();
    let layer: HttpTraceLayer = TraceLayer::builder()
        .exporter(exporter.clone())
        .build()
        .into();
    let svc = layer.layer(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::Empty))
    }));
    let request = http::Request::builder()
        .header(
            "x-amzn-trace-id",
            format!("Root={XRAY_ROOT};Parent={XRAY_PARENT};Sampled=1"),
        )
        .body(Body::Empty)
        .unwrap()
        .with_lambda_context(context(Lambda::RootOnly));
    svc.oneshot(request).await.unwrap();
    assert_eq!(
        outcome(&exporter.take()),
        Expected::Segment(Some((XRAY_ROOT, XRAY_PARENT)))
    );
}
