//! Events the handler's type cannot take: `lambda_runtime` answers them with an error before
//! any service layer runs (with `http` 1.6, `aws_lambda_events` rejects an API Gateway event
//! with a non-ASCII header value), so the handler's layer never sees them. The runtime layer
//! ([`AfterResponseLayer`](super::AfterResponseLayer)) notices that the handler was not called
//! for an invocation, deserializes the raw event into the handler's type the way
//! `lambda_runtime` does to learn why, and records a fault invocation span with that message
//! (capped), in the caller's trace read from the raw event's headers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use lambda_runtime::Context;
use serde::Deserialize;

use super::Shared;
use super::invocation::start;
use crate::export::ExportFuture;
use crate::span::{ExceptionRecord, Outcome};

/// Why `lambda_runtime` would reject a raw event for the handler's event type (`None`: it
/// would not).
pub(crate) type EventCheck = fn(&[u8]) -> Option<String>;

/// The check for events of type `A`: `lambda_runtime`'s own deserialization and message.
pub(crate) fn check_for<A: for<'de> Deserialize<'de>>() -> EventCheck {
    |body| {
        let mut json = serde_json::Deserializer::from_slice(body);
        let error = serde_path_to_error::deserialize::<_, A>(&mut json).err()?;
        let path = error.path().to_string();
        // The words of `lambda_runtime`'s `DeserializeError`.
        let context = "failed to deserialize the incoming data into the function's payload type";
        Some(if path == "." {
            format!("{context}: {}", error.inner())
        } else {
            format!("{context}: [{path}] {}", error.inner())
        })
    }
}

/// The exception type of a rejected event.
pub(crate) const REJECTED_EVENT_TYPE: &str = "EventDeserializationError";

/// Handler calls so far (every traced invocation's start counts one).
pub(crate) fn calls(shared: &Shared) -> u64 {
    shared.handler_calls.load(Ordering::Relaxed)
}

/// Records a rejected event: an invocation span (in the trace the raw event's headers name, or
/// Lambda's under Active tracing), a fault with `message`, ended now and handed to the flush as
/// any invocation's.
/// The export to await, if the exporter needs awaiting (after the response, the deferred
/// exports take it instead).
pub(crate) fn record(
    shared: &Arc<Shared>,
    body: &Bytes,
    context: &Context,
    message: String,
) -> Option<(ExportFuture, Duration)> {
    // The raw event as JSON, for its headers; not JSON at all: no caller context.
    let raw: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let carrier = raw.as_ref().and_then(crate::carrier::for_event);
    let invocation = start(shared, carrier, context, |_| None);
    if invocation.root.is_recording() {
        // `record_exceptions` cuts the message to `MAX_EXCEPTION_MESSAGE_CHARS`.
        invocation.root.record_exceptions(
            vec![ExceptionRecord {
                message: message.trim_end().to_string(),
                type_name: Some(REJECTED_EVENT_TYPE.to_string()),
                remote: false,
                stack: Vec::new(),
            }],
            Outcome {
                fault: true,
                ..Outcome::default()
            },
        );
    }
    super::future::end_and_export(invocation).map(|flush| (flush.export, flush.budget))
}

#[cfg(test)]
mod tests {
    use aws_lambda_events::apigw::ApiGatewayProxyRequest;
    use lambda_runtime::{Error, LambdaInvocation};
    use serde_json::json;
    use tower::{Layer, ServiceExt};

    use crate::Config;
    use crate::export::InMemoryExporter;
    use crate::layer::TraceLayer;

    /// An API Gateway event with a header value `aws_lambda_events` refuses (a number, where it
    /// takes strings; with `http` 1.6, a non-ASCII `User-Agent` is refused the same way — the
    /// lock here has `http` 1.5, which takes it), from a caller that sent a sampled
    /// `traceparent`.
    fn event() -> Vec<u8> {
        serde_json::to_vec(&json!({
            "resource": "/orders/{id}", "path": "/orders/7", "httpMethod": "GET",
            "headers": {
                "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                "X-Retry-Count": 5
            },
            "requestContext": {"httpMethod": "GET", "path": "/orders/7", "stage": "prod"}
        }))
        .unwrap()
    }

    fn invocation(body: Vec<u8>) -> LambdaInvocation {
        let mut context = lambda_runtime::Context::default();
        context.request_id = "req-1".into();
        LambdaInvocation {
            parts: http::Response::new(()).into_parts().0,
            body: body.into(),
            context,
        }
    }

    /// Runs the runtime layer over a runtime stand-in that calls the traced handler only if the
    /// event deserializes (as `lambda_runtime` does).
    async fn run(body: Vec<u8>) -> Vec<crate::span::SpanBatch> {
        let exporter = InMemoryExporter::default();
        let tracing = TraceLayer::builder()
            .config(Config::from_lookup(|k| {
                (k == "AWS_LAMBDA_FUNCTION_NAME").then(|| "orders".to_string())
            }))
            .exporter(exporter.clone())
            .build();
        let handler = tracing.layer(tower::service_fn(
            |_: lambda_runtime::LambdaEvent<ApiGatewayProxyRequest>| async { Ok::<_, Error>(()) },
        ));
        let runtime = tower::service_fn(move |raw: LambdaInvocation| {
            let handler = handler.clone();
            async move {
                if let Ok(event) = serde_json::from_slice::<ApiGatewayProxyRequest>(&raw.body) {
                    let _ = handler
                        .oneshot(lambda_runtime::LambdaEvent::new(event, raw.context))
                        .await;
                }
                Ok::<(), Error>(())
            }
        });
        let layer = tracing
            .after_response_layer()
            .recording_rejected_events::<ApiGatewayProxyRequest>();
        layer
            .layer(runtime)
            .oneshot(invocation(body))
            .await
            .unwrap();
        exporter.take()
    }

    #[tokio::test]
    async fn a_rejected_event_is_a_fault_in_the_callers_trace() {
        let batches = run(event()).await;
        assert_eq!(batches.len(), 1);
        let batch = &batches[0];
        assert_eq!(
            batch.trace_id.to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        let root = &batch.spans[0];
        assert_eq!(
            root.parent_id.map(|p| p.to_string()).as_deref(),
            Some("b7ad6b7169203331")
        );
        assert!(root.outcome.fault, "{root:#?}");
        assert_eq!(
            root.exceptions[0].type_name.as_deref(),
            Some(super::REJECTED_EVENT_TYPE)
        );
        assert!(
            root.exceptions[0].message.starts_with(
                "failed to deserialize the incoming data into the function's payload type: [headers"
            ),
            "{}",
            root.exceptions[0].message
        );
    }

    #[tokio::test]
    async fn an_event_the_handler_got_is_traced_once() {
        let mut ascii: serde_json::Value = serde_json::from_slice(&event()).unwrap();
        ascii["headers"]["X-Retry-Count"] = json!("5");
        let batches = run(serde_json::to_vec(&ascii).unwrap()).await;
        assert_eq!(batches.len(), 1);
        assert!(!batches[0].spans[0].outcome.fault);
    }
}
