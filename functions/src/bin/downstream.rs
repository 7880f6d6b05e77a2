//! `downstream`: `POST /downstream`, the function that `router` calls.
//!
//! The Lambda function of the Lightstep/OpenTracing Lambda example. Input: an API Gateway REST
//! (v1) proxy event with a JSON body (`router` sends `{"example": "request"}`) and the caller's
//! trace headers, which the layer reads so this invocation joins the caller's trace. Output:
//! `200 {"received": <the body>, "checksum": n, "trace_id": "1-…"}`, or `400` for a body that is
//! not JSON.
//!
//! Run locally: `make invoke FN=downstream EVENT=events/apigw-v1-downstream.json`.
//! Deploy: `make deploy` (SAM, see `template.yaml`), or
//! `cargo lambda build --release --arm64 --bin downstream && cargo lambda deploy downstream`.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_trace::Span;
use lambda_trace_functions::{json_response, trace_id};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    // The layer (inside `run`) extracts the caller's context from the event's headers: X-Ray,
    // W3C, B3, Jaeger or OpenTracing, as `OTEL_PROPAGATORS` says.
    lambda_trace::run(service_fn(handler)).await
}

async fn handler(
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let body = event.payload.body.unwrap_or_default();
    // Synchronous work: `in_child_sync` opens the span, runs the closure, and ends the span.
    let response =
        lambda_trace::current().in_child_sync("lambda-execution", |span| {
            match process(&body, span) {
                Ok(summary) => json_response(200, &summary),
                Err(e) => {
                    span.record_error(&e);
                    json_response(400, &json!({"error": e.to_string()}))
                }
            }
        });
    Ok(response)
}

/// Parses the body and computes its checksum: the "work" of this function.
fn process(body: &str, span: &Span) -> Result<Value, serde_json::Error> {
    span.annotate("bodyBytes", body.len());
    // An empty body is accepted as `null`: the example's point is the trace, not the payload.
    let received: Value = if body.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body)?
    };
    let checksum = fletcher16(body.as_bytes());
    span.metadata("checksum", checksum);
    Ok(json!({
        "received": received,
        "checksum": checksum,
        "trace_id": trace_id(span),
    }))
}

/// Fletcher's 16-bit checksum: a cheap, deterministic digest of the body.
fn fletcher16(data: &[u8]) -> u16 {
    let (mut a, mut b) = (0u16, 0u16);
    for &byte in data {
        a = (a + u16::from(byte)) % 255;
        b = (b + a) % 255;
    }
    (b << 8) | a
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use lambda_trace::TraceLayer;
    use lambda_trace::export::InMemoryExporter;
    use lambda_trace::span::AnnotationValue;
    use lambda_trace_functions::body_text;
    use tower::{Layer, Service, ServiceExt};

    use super::*;

    fn event(body: Option<&str>) -> LambdaEvent<ApiGatewayProxyRequest> {
        let mut request = ApiGatewayProxyRequest::default();
        request.http_method = http::Method::POST;
        request.body = body.map(String::from);
        LambdaEvent::new(request, Context::default())
    }

    fn body(response: &ApiGatewayProxyResponse) -> Value {
        serde_json::from_str(body_text(response)).unwrap()
    }

    #[tokio::test]
    async fn the_sample_event_is_echoed() {
        let request =
            serde_json::from_str(include_str!("../../../events/apigw-v1-downstream.json"));
        let event = LambdaEvent::new(request.unwrap(), Context::default());
        let response = handler(event).await.unwrap();
        assert_eq!(response.status_code, 200);
        assert_eq!(body(&response)["received"], json!({"example": "request"}));
    }

    #[test]
    fn fletcher16_matches_the_reference_values() {
        assert_eq!(fletcher16(b"abcde"), 0xC8F0);
        assert_eq!(fletcher16(b"abcdef"), 0x2057);
        assert_eq!(fletcher16(b""), 0);
    }

    #[tokio::test]
    async fn echoes_the_json_body() {
        let response = handler(event(Some(r#"{"example": "request"}"#)))
            .await
            .unwrap();
        assert_eq!(response.status_code, 200);
        let body = body(&response);
        assert_eq!(body["received"], json!({"example": "request"}));
        assert!(body["checksum"].is_u64());
    }

    #[tokio::test]
    async fn an_empty_body_is_received_as_null() {
        let response = handler(event(None)).await.unwrap();
        assert_eq!(response.status_code, 200);
        assert_eq!(body(&response)["received"], Value::Null);
    }

    #[tokio::test]
    async fn a_body_that_is_not_json_is_a_400() {
        let response = handler(event(Some("{not json"))).await.unwrap();
        assert_eq!(response.status_code, 400);
        assert!(body(&response)["error"].is_string());
    }

    #[tokio::test]
    async fn the_work_is_a_child_span_with_the_body_size() {
        let exporter = InMemoryExporter::default();
        let layer = TraceLayer::builder()
            .service_name("downstream")
            .exporter(exporter.clone())
            .build();
        let mut service = layer.layer(service_fn(handler));
        let response = service
            .ready()
            .await
            .unwrap()
            .call(event(Some(r#"{"example": "request"}"#)))
            .await
            .unwrap();
        let trace = body(&response)["trace_id"].as_str().unwrap().to_string();

        let batch = exporter.take().pop().unwrap();
        assert_eq!(batch.trace_id.to_xray(), trace);
        let root = batch.root().unwrap();
        let work = &batch.spans[1];
        assert_eq!(work.name, "lambda-execution");
        assert_eq!(work.parent_id, Some(root.span_id));
        assert!(
            work.annotations
                .contains(&("bodyBytes".into(), AnnotationValue::Int(22)))
        );
    }
}
