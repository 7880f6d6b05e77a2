//! The alternatives to lambda-trace that `make bench-alternatives` measures (issue 6: "every
//! alternative measured in the same run"). Each binary runs the bench handler
//! ([`lambda_trace_bench::handler`]) with the tracing stack a Rust user would pick instead:
//!
//! | variant | binary | stack | export per invocation |
//! |---|---|---|---|
//! | E | `alt-otel-otlp` | `lambda_runtime::layers::OpenTelemetryLayer` + tracing-opentelemetry + opentelemetry-otlp | batch processor, `force_flush` after the response: one OTLP/HTTP protobuf POST (reqwest blocking client, from the processor's thread) |
//! | F | `alt-otel-lite` | lambda-otel-lite `create_traced_handler` | sync mode: `force_flush` before the response, one gzip + base64 JSON line on stdout |
//! | G | `alt-otel-xray` | `OpenTelemetryLayer` + tracing-opentelemetry + opentelemetry-aws `XrayExporter` | batch processor, `force_flush` after the response: one UDP datagram per span to the X-Ray daemon |
//! | H | `alt-floor` | none: the bare handler | one hand-written segment (serde_json), one `send_to`, before the response |
//!
//! E, F and G run [`traced`]: the handler's three steps each in a child span of the invocation
//! span with one attribute each (the `tracing` counterpart of
//! [`lambda_trace_bench::handler::traced`]), so that every stack exports the same four spans.
//! E and G first call [`server_span_in_event_trace`]: the layer's invocation span reads no trace
//! header and is `INTERNAL`, which opentelemetry-aws turns into a subsegment without a parent, an
//! invalid document it drops without a word (variant G lost one span in four that way).

#![warn(missing_docs)]
#![forbid(unsafe_code)]

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use http::HeaderMap;
use lambda_runtime::{Error, LambdaEvent};
use lambda_trace_bench::handler::{bad_request, parse, price, render};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_aws::trace::XrayPropagator;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// For E and G: makes the current span (lambda_runtime's `OpenTelemetryLayer` span) a `SERVER`
/// span (as in lambda_runtime's `opentelemetry-tracing` example) in the trace of the event's
/// `X-Amzn-Trace-Id` (opentelemetry-aws's `XrayPropagator`).
///
/// Both only work while the OpenTelemetry span is not started yet: tracing-opentelemetry starts
/// it when the span is entered unless its layer is built `with_context_activation(false)`, which
/// E and G therefore do. A parent that cannot be set is reported on stderr (the driver fails).
pub fn server_span_in_event_trace(request: &ApiGatewayProxyRequest) {
    let span = tracing::Span::current();
    span.record("otel.kind", "SERVER");
    let parent = XrayPropagator::new().extract(&Headers(&request.headers));
    if let Err(e) = span.set_parent(parent) {
        eprintln!("cannot continue the event's trace: {e}");
    }
}

/// The request headers as an OpenTelemetry carrier, borrowed (opentelemetry-aws's
/// `XrayExtractor` takes the `HeaderMap` by value and reads `_X_AMZN_TRACE_ID` each time).
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// [`traced`] in a `SERVER` span of the event's trace ([`server_span_in_event_trace`]).
pub async fn traced_server(
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    server_span_in_event_trace(&event.payload);
    traced(event).await
}

/// The bench handler with three `tracing` child spans of the current (invocation) span, one
/// attribute each: `parse` (`items`), `price` (`total`), `render` (`orderId`).
pub async fn traced(
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let span = tracing::info_span!("parse", items = Empty);
    let parsed = span.in_scope(|| {
        let parsed = parse(&event.payload);
        if let Ok(order) = &parsed {
            span.record("items", order.items.len());
        }
        parsed
    });
    let order = match parsed {
        Ok(order) => order,
        Err(e) => return Ok(bad_request(&e)),
    };
    let span = tracing::info_span!("price", total = Empty);
    let priced = span.in_scope(|| {
        let priced = price(&order);
        span.record("total", priced.total);
        priced
    });
    let span = tracing::info_span!("render", orderId = Empty);
    Ok(span.in_scope(|| {
        span.record("orderId", priced.order_id);
        render(&priced)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::encodings::Body;
    use lambda_trace_bench::handler::{SAMPLE_BODY, bare};

    fn event(body: &str) -> LambdaEvent<ApiGatewayProxyRequest> {
        let mut request = ApiGatewayProxyRequest::default();
        request.body = Some(body.to_owned());
        LambdaEvent::new(request, lambda_runtime::Context::default())
    }

    fn text(response: &ApiGatewayProxyResponse) -> (i64, String) {
        let body = match &response.body {
            Some(Body::Text(text)) => text.clone(),
            _ => String::new(),
        };
        (response.status_code, body)
    }

    #[tokio::test]
    async fn answers_like_the_bare_handler() {
        for body in [SAMPLE_BODY, "nope"] {
            let a = bare(event(body)).await.unwrap();
            let t = traced(event(body)).await.unwrap();
            assert_eq!(text(&a), text(&t));
        }
    }
}
