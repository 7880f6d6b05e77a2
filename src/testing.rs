//! Helpers for testing code that uses this crate (feature `testing`): a Lambda `Context` for a
//! test invocation, a [`Config`] from pairs (no process environment), and the in-memory
//! exporter ([`InMemoryExporter`](crate::export::InMemoryExporter)) that keeps what the layer
//! exported. Read a recorded span's annotations with
//! [`SpanRecord::annotation`](crate::span::SpanRecord::annotation).
//!
//! ```
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//! use lambda_trace::export::InMemoryExporter;
//! use lambda_trace::span::AnnotationValue;
//! use lambda_trace::testing::{TestContext, config};
//! use lambda_trace::TraceLayer;
//! use serde_json::{json, Value};
//! use tower::{Layer, ServiceExt};
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     lambda_trace::current().annotate("orderId", "o-42");
//!     Ok(event.payload)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let exporter = InMemoryExporter::default();
//! let layer = TraceLayer::builder()
//!     .config(config(&[("AWS_LAMBDA_FUNCTION_NAME", "orders")]))
//!     .exporter(exporter.clone())
//!     .build();
//! let context = TestContext::new("req-1")
//!     .trace_header("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
//!     .build();
//! let response = layer
//!     .layer(service_fn(handler))
//!     .oneshot(LambdaEvent::new(json!({"ok": true}), context))
//!     .await
//!     .unwrap();
//! assert_eq!(response, json!({"ok": true}));
//!
//! let batch = exporter.take().remove(0);
//! let root = batch.root().unwrap();
//! assert_eq!(root.annotation("orderId"), Some(&AnnotationValue::from("o-42")));
//! assert_eq!(root.annotation("ColdStart"), Some(&AnnotationValue::Bool(true)));
//! # }
//! ```

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;

use lambda_runtime::Context;

use crate::config::Config;

/// A configuration read from `pairs` (variable name, value) instead of the process
/// environment, as [`Config::from_lookup`] reads it; unnamed variables are unset.
pub fn config(pairs: &[(&str, &str)]) -> Config {
    Config::from_lookup(|k| {
        pairs
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_string())
    })
}

/// Builds the `lambda_runtime::Context` of a test invocation (the type is `#[non_exhaustive]`,
/// so it cannot be written as a literal outside `lambda_runtime`).
#[derive(Debug, Clone)]
pub struct TestContext {
    context: Context,
}

impl TestContext {
    /// A context with `request_id`, the ARN of function `test` in `us-east-1`, and no deadline
    /// and no trace header.
    pub fn new(request_id: &str) -> Self {
        let mut context = Context::default();
        context.request_id = request_id.to_string();
        context.invoked_function_arn =
            "arn:aws:lambda:us-east-1:123456789012:function:test".to_string();
        Self { context }
    }

    /// Lambda's trace header (`Lambda-Runtime-Trace-Id`): `Sampled=1` is Active tracing.
    pub fn trace_header(mut self, header: &str) -> Self {
        self.context.xray_trace_id = Some(header.to_string());
        self
    }

    /// The invoked function's ARN.
    pub fn function_arn(mut self, arn: &str) -> Self {
        self.context.invoked_function_arn = arn.to_string();
        self
    }

    /// A deadline `after` from now.
    pub fn deadline_in(mut self, after: Duration) -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.context.deadline = u64::try_from((now + after).as_millis()).unwrap_or(u64::MAX);
        self
    }

    /// The context.
    pub fn build(self) -> Context {
        self.context
    }
}

/// An event read from its JSON (an `events/` file of your project): `LambdaEvent::new(event(…)?,
/// context)` is the invocation `lambda_runtime` would hand your service.
///
/// ```
/// use aws_lambda_events::sqs::SqsEvent;
///
/// let event: SqsEvent = lambda_trace::testing::event(r#"{"Records": []}"#).unwrap();
/// assert!(event.records.is_empty());
/// ```
pub fn event<E: DeserializeOwned>(json: &str) -> Result<E, serde_json::Error> {
    serde_json::from_str(json)
}

/// The `lambda_http::Request` that `lambda_http` would hand your service for this API Gateway,
/// ALB or Function URL event and `context`, built the way `lambda_http` builds it — including
/// its replacement of the request's `x-amzn-trace-id` header with Lambda's trace header, so a
/// test sees the headers a deployed function sees (feature `lambda-http`).
///
/// ```
/// use lambda_http::RequestExt;
/// use lambda_trace::testing::{TestContext, http_request};
///
/// let event = r#"{"version": "2.0", "routeKey": "GET /orders/{id}", "rawPath": "/orders/42",
///     "headers": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
///     "requestContext": {"http": {"method": "GET", "path": "/orders/42"}}}"#;
/// let lambda = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";
/// let context = TestContext::new("req-1").trace_header(lambda).build();
/// let request = http_request(event, context).unwrap();
/// assert_eq!(request.uri().path(), "/orders/42");
/// assert_eq!(request.lambda_context().request_id, "req-1");
/// // As lambda_http does it: Lambda's header in the request, the caller's `traceparent` kept.
/// assert_eq!(request.headers()["x-amzn-trace-id"], lambda);
/// assert!(request.headers().contains_key("traceparent"));
/// ```
#[cfg(feature = "lambda-http")]
pub fn http_request(
    event_json: &str,
    context: Context,
) -> Result<lambda_http::Request, serde_json::Error> {
    use lambda_http::RequestExt;

    let mut request = lambda_http::request::from_str(event_json)?;
    let lambda_header = context
        .xray_trace_id
        .as_deref()
        .and_then(|h| http::HeaderValue::from_str(h).ok());
    if let Some(header) = lambda_header {
        request.headers_mut().insert("x-amzn-trace-id", header);
    }
    Ok(request.with_lambda_context(context))
}
