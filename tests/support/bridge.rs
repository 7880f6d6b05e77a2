//! One traced invocation with a `tracing` bridge installed for the test's thread: the
//! invocation's batch, for the bridge's tests (`tests/tracing_bridge.rs`, `tests/bridge_current.rs`).

use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::export::InMemoryExporter;
use lambda_trace::span::SpanBatch;
use lambda_trace::{Config, TraceLayer};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};
use tracing_subscriber::Registry;
use tracing_subscriber::prelude::*;

/// The layer of these tests: function `orders-fn`, service `orders`, the in-memory exporter.
pub fn trace_layer(exporter: &InMemoryExporter) -> TraceLayer {
    TraceLayer::builder()
        .config(Config::from_lookup(|k| match k {
            "AWS_LAMBDA_FUNCTION_NAME" => Some("orders-fn".into()),
            "OTEL_SERVICE_NAME" => Some("orders".into()),
            _ => None,
        }))
        .exporter(exporter.clone())
        .build()
}

/// An empty JSON event with request id `request_id`.
pub fn event(request_id: &str) -> LambdaEvent<Value> {
    let mut cx = Context::default();
    cx.request_id = request_id.into();
    cx.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn".into();
    LambdaEvent::new(json!({}), cx)
}

/// Runs `handler` once under [`trace_layer`] with `bridge` (a `TracingBridge`, filtered or
/// not) installed for this thread; the one batch exported (the handler's result is ignored).
pub async fn invoke_with<B, F, Fut>(bridge: B, handler: F) -> SpanBatch
where
    B: tracing_subscriber::Layer<Registry> + Send + Sync + 'static,
    F: FnMut(LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Error>>,
{
    let _guard = tracing_subscriber::registry().with(bridge).set_default();
    let exporter = InMemoryExporter::default();
    let mut svc = trace_layer(&exporter).layer(service_fn(handler));
    let _ = svc.ready().await.unwrap().call(event("req-1")).await;
    let mut batches = exporter.take();
    assert_eq!(batches.len(), 1);
    batches.remove(0)
}
