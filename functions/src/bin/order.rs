//! `order`: `POST /orders`, traced the way Powertools for AWS Lambda's Tracer does it.
//!
//! Input: an API Gateway REST (v1) proxy event with the body
//! `{"orderId": "o-1", "customerId": "c-1", "items": [{"sku": "s-1", "qty": 2, "price": 9.5}]}`.
//! Output: `201` with the order and its `total`, or `400 {"error": …}` for an invalid order.
//!
//! What lands in the trace, as with Powertools' `@tracer.capture_lambda_handler`: the layer adds
//! the `ColdStart` and `Service` annotations (`Service` from `POWERTOOLS_SERVICE_NAME` or
//! `OTEL_SERVICE_NAME`); the handler adds a `Handler` child span with the annotations `orderId`
//! and `successfulOrder` and the metadata `orderCreated`.
//!
//! Run locally: `make invoke FN=order EVENT=events/apigw-v1-order.json`.
//! Deploy: `make deploy` (SAM, see `template.yaml`), or
//! `cargo lambda build --release --arm64 --bin order && cargo lambda deploy order`.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_trace::Span;
use lambda_trace_functions::json_response;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_trace::run(service_fn(handler)).await
}

/// An order as the client sends it; `total` is computed here, never taken from the client.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    order_id: String,
    customer_id: String,
    items: Vec<Item>,
    #[serde(default, skip_deserializing)]
    total: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
struct Item {
    sku: String,
    qty: u32,
    price: f64,
}

async fn handler(
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let body = event.payload.body.unwrap_or_default();
    let response = lambda_trace::current().in_child_sync("Handler", |span| {
        match create_order(&body, span) {
            Ok(order) => {
                span.annotate("successfulOrder", true);
                // Metadata is not indexed but holds any JSON: the place for the whole order.
                span.metadata("orderCreated", &order);
                json_response(201, &json!(order))
            }
            Err(e) => {
                span.annotate("successfulOrder", false);
                span.record_error(&*e);
                json_response(400, &json!({"error": e.to_string()}))
            }
        }
    });
    Ok(response)
}

/// Parses and checks the order, annotates its id, and computes its total.
fn create_order(body: &str, span: &Span) -> Result<Order, Box<dyn std::error::Error>> {
    let mut order: Order = serde_json::from_str(body)?;
    // Annotate as soon as the id is known, so a trace of a rejected order is findable too
    // (X-Ray filter: `annotation.orderId = "o-1"`).
    span.annotate("orderId", order.order_id.as_str());
    if order.order_id.trim().is_empty() {
        return Err("orderId must not be empty".into());
    }
    if order.items.is_empty() {
        return Err("an order needs at least one item".into());
    }
    if let Some(item) = order
        .items
        .iter()
        .find(|i| i.qty == 0 || !i.price.is_finite() || i.price < 0.0)
    {
        return Err(format!(
            "item {:?}: qty must be positive and price not negative",
            item.sku
        )
        .into());
    }
    let total: f64 = order.items.iter().map(|i| f64::from(i.qty) * i.price).sum();
    // Rounded to cents; a real service would use integer cents throughout.
    order.total = (total * 100.0).round() / 100.0;
    Ok(order)
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use lambda_trace::TraceLayer;
    use lambda_trace::export::InMemoryExporter;
    use lambda_trace::span::AnnotationValue;
    use lambda_trace_functions::body_text;
    use serde_json::Value;
    use tower::{Layer, Service, ServiceExt};

    use super::*;

    const ORDER: &str = r#"{"orderId": "o-1", "customerId": "c-1",
        "items": [{"sku": "s-1", "qty": 2, "price": 9.5}, {"sku": "s-2", "qty": 1, "price": 0.1}]}"#;

    fn event(body: &str) -> LambdaEvent<ApiGatewayProxyRequest> {
        let mut request = ApiGatewayProxyRequest::default();
        request.http_method = http::Method::POST;
        request.body = Some(body.to_string());
        LambdaEvent::new(request, Context::default())
    }

    fn body(response: &ApiGatewayProxyResponse) -> Value {
        serde_json::from_str(body_text(response)).unwrap()
    }

    #[tokio::test]
    async fn the_sample_event_creates_an_order() {
        let request = serde_json::from_str(include_str!("../../../events/apigw-v1-order.json"));
        let event = LambdaEvent::new(request.unwrap(), Context::default());
        let response = handler(event).await.unwrap();
        assert_eq!(response.status_code, 201);
        assert_eq!(body(&response)["total"], 9.25);
    }

    #[tokio::test]
    async fn a_valid_order_is_created_with_its_total() {
        let response = handler(event(ORDER)).await.unwrap();
        assert_eq!(response.status_code, 201);
        let order = body(&response);
        assert_eq!(order["orderId"], "o-1");
        assert_eq!(order["total"], 19.1);
        assert_eq!(order["items"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_client_total_is_ignored() {
        let body_with_total = ORDER.replacen('{', r#"{"total": 0.01, "#, 1);
        let response = handler(event(&body_with_total)).await.unwrap();
        assert_eq!(body(&response)["total"], 19.1);
    }

    #[tokio::test]
    async fn invalid_orders_are_a_400() {
        for bad in [
            "",
            "{not json",
            r#"{"orderId": "o-1", "customerId": "c-1"}"#,
            r#"{"orderId": " ", "customerId": "c-1", "items": [{"sku": "s", "qty": 1, "price": 1}]}"#,
            r#"{"orderId": "o-1", "customerId": "c-1", "items": []}"#,
            r#"{"orderId": "o-1", "customerId": "c-1", "items": [{"sku": "s", "qty": 0, "price": 1}]}"#,
            r#"{"orderId": "o-1", "customerId": "c-1", "items": [{"sku": "s", "qty": 1, "price": -1}]}"#,
        ] {
            let response = handler(event(bad)).await.unwrap();
            assert_eq!(response.status_code, 400, "{bad}");
            assert!(body(&response)["error"].is_string(), "{bad}");
        }
    }

    async fn traced(body: &str) -> lambda_trace::span::SpanBatch {
        let exporter = InMemoryExporter::default();
        let layer = TraceLayer::builder()
            .service_name("orders")
            .exporter(exporter.clone())
            .build();
        let mut service = layer.layer(service_fn(handler));
        service
            .ready()
            .await
            .unwrap()
            .call(event(body))
            .await
            .unwrap();
        exporter.take().pop().unwrap()
    }

    fn annotation<'a>(span: &'a lambda_trace::span::SpanRecord, key: &str) -> &'a AnnotationValue {
        &span.annotations.iter().find(|(k, _)| k == key).unwrap().1
    }

    #[tokio::test]
    async fn the_trace_looks_like_powertools() {
        let batch = traced(ORDER).await;
        let root = batch.root().unwrap();
        assert_eq!(
            annotation(root, "Service"),
            &AnnotationValue::from("orders")
        );
        assert!(matches!(
            annotation(root, "ColdStart"),
            AnnotationValue::Bool(_)
        ));

        let handler = batch.spans.iter().find(|s| s.name == "Handler").unwrap();
        assert_eq!(handler.parent_id, Some(root.span_id));
        assert_eq!(
            annotation(handler, "orderId"),
            &AnnotationValue::from("o-1")
        );
        assert_eq!(
            annotation(handler, "successfulOrder"),
            &AnnotationValue::Bool(true)
        );
        let created = handler
            .metadata
            .iter()
            .find(|m| m.key == "orderCreated")
            .unwrap();
        assert_eq!(created.value["total"], 19.1);
    }

    #[tokio::test]
    async fn a_rejected_order_records_the_error() {
        let batch = traced(r#"{"orderId": "o-2", "customerId": "c-1", "items": []}"#).await;
        let handler = batch.spans.iter().find(|s| s.name == "Handler").unwrap();
        assert_eq!(
            annotation(handler, "orderId"),
            &AnnotationValue::from("o-2")
        );
        assert_eq!(
            annotation(handler, "successfulOrder"),
            &AnnotationValue::Bool(false)
        );
        assert_eq!(
            handler.exceptions[0].message,
            "an order needs at least one item"
        );
        assert!(
            batch.root().unwrap().outcome.error,
            "the 400 flags the invocation span"
        );
    }
}
