//! `order`: `POST /orders`, traced the way Powertools for AWS Lambda's Tracer does it, and the
//! producer of the asynchronous hop to `fulfil`.
//!
//! Input: an API Gateway REST (v1) proxy event with the body
//! `{"orderId": "o-1", "customerId": "c-1", "items": [{"sku": "s-1", "qty": 2, "price": 9.5}]}`.
//! Output: `201` with the order and its `total`, `400 {"error": …}` for an invalid order, or
//! `503 {"error": …}` when the order could not be queued for fulfilment.
//!
//! A valid order is sent as JSON (the `201` body) to the SQS queue `ORDERS_QUEUE_URL`, where the
//! `fulfil` function takes it. Without `ORDERS_QUEUE_URL` the function logs one line at start and
//! creates orders without queueing them (`make invoke FN=order`). The SQS client is built once,
//! at start, from the usual AWS variables (`AWS_ENDPOINT_URL_SQS` points it at another endpoint,
//! e.g. moto).
//!
//! What lands in the trace, as with Powertools' `@tracer.capture_lambda_handler`: the layer adds
//! the `ColdStart` and `Service` annotations (`Service` from `POWERTOOLS_SERVICE_NAME` or
//! `OTEL_SERVICE_NAME`); the handler adds a `Handler` child span with the annotations `orderId`
//! and `successfulOrder` and the metadata `orderCreated`. The `SendMessage` call is an `SQS`
//! subsegment of `Handler` (lambda-trace's `XrayInterceptor`), and the message carries its context
//! (SQS turns the request's `X-Amzn-Trace-Id` into the message's `AWSTraceHeader`; the interceptor
//! also adds a `traceparent` message attribute), so `fulfil`'s span for the message continues
//! this trace under that subsegment.
//!
//! Run locally: `make invoke FN=order EVENT=events/apigw-v1-order.json` (no queue), or
//! `make demo` (with a queue in moto and `fulfil` behind it).
//! Deploy: `make deploy` (SAM, see `template.yaml`), or
//! `cargo lambda build --release --arm64 --bin order && cargo lambda deploy order`.

use aws_config::BehaviorVersion;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_trace::Span;
use lambda_trace::aws::XrayInterceptor;
use lambda_trace_functions::json_response;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let queue = OrderQueue::from_env().await;
    let queue = queue.as_ref();
    lambda_trace::run(service_fn(move |event| handler(queue, event))).await
}

/// Where valid orders go: the SQS queue `ORDERS_QUEUE_URL`, through a client built once.
#[derive(Debug, Clone)]
struct OrderQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl OrderQueue {
    /// The queue of `ORDERS_QUEUE_URL`, or `None` (one log line) when it is unset or empty.
    async fn from_env() -> Option<OrderQueue> {
        let url = std::env::var("ORDERS_QUEUE_URL")
            .ok()
            .filter(|u| !u.trim().is_empty());
        let Some(url) = url else {
            eprintln!("order: ORDERS_QUEUE_URL is not set: orders are created, not queued");
            return None;
        };
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(https_client())
            .load()
            .await;
        // The interceptor makes each call a subsegment of the current span and puts its
        // context on the request (and on each message, as a `traceparent` attribute).
        let config = aws_sdk_sqs::config::Builder::from(&sdk_config)
            .interceptor(XrayInterceptor::new())
            .build();
        Some(OrderQueue {
            client: aws_sdk_sqs::Client::from_conf(config),
            url,
        })
    }

    /// Sends `order` as one JSON message.
    async fn send(&self, order: &Order) -> Result<(), Error> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(serde_json::to_string(order)?)
            .send()
            .await?;
        Ok(())
    }
}

/// The SDK's HTTPS client on rustls with `ring` (its default client would bring aws-lc-rs).
fn https_client() -> aws_sdk_sqs::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
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
    queue: Option<&OrderQueue>,
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let body = event.payload.body.unwrap_or_default();
    let response = lambda_trace::current()
        .in_child("Handler", create(queue, &body))
        .await;
    Ok(response)
}

/// Creates the order in `body` and queues it; runs in the `Handler` span.
async fn create(queue: Option<&OrderQueue>, body: &str) -> ApiGatewayProxyResponse {
    let span = lambda_trace::current();
    let order = match create_order(body, &span) {
        Ok(order) => order,
        Err(e) => {
            span.annotate("successfulOrder", false);
            span.record_error(&*e);
            return json_response(400, &json!({"error": e.to_string()}));
        }
    };
    if let Some(queue) = queue {
        // The `SQS` subsegment is a child of this span; the message names it as its parent.
        if let Err(e) = queue.send(&order).await {
            span.annotate("successfulOrder", false);
            span.record_error(&*e);
            return json_response(
                503,
                &json!({"error": "the order could not be queued for fulfilment"}),
            );
        }
    }
    span.annotate("successfulOrder", true);
    // Metadata is not indexed but holds any JSON: the place for the whole order.
    span.metadata("orderCreated", &order);
    json_response(201, &json!(order))
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
        let response = handler(None, event).await.unwrap();
        assert_eq!(response.status_code, 201);
        assert_eq!(body(&response)["total"], 9.25);
    }

    #[tokio::test]
    async fn a_valid_order_is_created_with_its_total() {
        let response = handler(None, event(ORDER)).await.unwrap();
        assert_eq!(response.status_code, 201);
        let order = body(&response);
        assert_eq!(order["orderId"], "o-1");
        assert_eq!(order["total"], 19.1);
        assert_eq!(order["items"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_client_total_is_ignored() {
        let body_with_total = ORDER.replacen('{', r#"{"total": 0.01, "#, 1);
        let response = handler(None, event(&body_with_total)).await.unwrap();
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
            let response = handler(None, event(bad)).await.unwrap();
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
        let mut service = layer.layer(service_fn(|e| handler(None, e)));
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
