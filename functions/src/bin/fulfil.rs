//! `fulfil`: takes the orders `order` queued off SQS, in batches: the consumer side of the
//! asynchronous hop.
//!
//! Input: an SQS event (the event source mapping of `template.yaml`, up to 10 records) whose
//! records' bodies are orders as `order` sends them,
//! `{"orderId": "o-1", "customerId": "c-1", "items": [{"sku": "s-1", "qty": 2, …}], "total": 19}`
//! (only `orderId` is required). Output: an SQS partial batch response: the records whose order
//! could not be read (not JSON, no `orderId`) are its `batchItemFailures`, so SQS deletes the
//! others and delivers those again (the mapping has `ReportBatchItemFailures` on).
//!
//! What lands in the traces:
//!
//! - the invocation span (the batch) is in Lambda's trace for this invocation, and links to
//!   every record's trace (its `AWSTraceHeader`, or its `traceparent` message attribute), as
//!   X-Ray links a consumer to its producers;
//! - each record's work runs in its own `process orders` span
//!   ([`lambda_trace::messaging::each_record`]) whose parent is the record's own context: the
//!   `SQS` `SendMessage` subsegment of the `order` invocation that queued it, so the order's trace
//!   goes on into its fulfilment. That span carries the annotation `orderId` (the same key
//!   `order` annotates: `annotation.orderId = "o-1"` finds the order and its fulfilment) and
//!   the metadata `fulfilment`; a record that fails is a fault on it.
//!
//! Run locally: `make invoke FN=fulfil EVENT=events/sqs-batch-w3c.json`, or `make demo` (behind
//! a queue in moto, fed by `order`).
//! Deploy: `make deploy` (SAM, see `template.yaml`).

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::{Deserialize, Serialize};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_trace::run(service_fn(handler)).await
}

/// The part of an order that fulfilment reads (other fields are ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Order {
    order_id: String,
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
struct Item {
    sku: String,
    qty: u32,
}

/// What was done for one order (the record span's `fulfilment` metadata).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Fulfilment {
    order_id: String,
    skus: Vec<String>,
    units: u32,
}

async fn handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    let processed =
        lambda_trace::messaging::each_record(
            &event.payload,
            |record| async move { fulfil(record) },
        )
        .await;
    // The records that failed go back to the queue; SQS deletes the others.
    Ok(processed.into_batch_response())
}

/// Fulfils the order in `record`; runs in the record's `process` span.
fn fulfil(record: &SqsMessage) -> Result<Fulfilment, Error> {
    let order: Order = serde_json::from_str(record.body.as_deref().unwrap_or_default())?;
    let span = lambda_trace::current();
    span.annotate("orderId", order.order_id.as_str());
    if order.order_id.trim().is_empty() {
        return Err("orderId must not be empty".into());
    }
    let fulfilment = Fulfilment {
        units: order.items.iter().map(|i| i.qty).sum(),
        skus: order.items.into_iter().map(|i| i.sku).collect(),
        order_id: order.order_id,
    };
    span.metadata("fulfilment", &fulfilment);
    Ok(fulfilment)
}

#[cfg(test)]
mod tests {
    use lambda_runtime::Context;
    use lambda_trace::TraceLayer;
    use lambda_trace::export::InMemoryExporter;
    use lambda_trace::span::{AnnotationValue, SpanBatch, SpanKind, SpanRecord};
    use tower::{Layer, ServiceExt};

    use super::*;

    /// The producer's trace and the `SQS` subsegment that sent the first record.
    const PRODUCER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn event() -> SqsEvent {
        serde_json::from_value(serde_json::json!({"Records": [
            {"messageId": "m-1", "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
             "body": r#"{"orderId": "o-1", "customerId": "c-1", "items": [{"sku": "s-1", "qty": 2, "price": 9.5}], "total": 19}"#,
             "attributes": {"AWSTraceHeader": PRODUCER}},
            {"messageId": "m-2", "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
             "body": "not an order"},
            {"messageId": "m-3", "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:orders",
             "body": r#"{"orderId": ""}"#}
        ]}))
        .unwrap()
    }

    async fn traced(event: SqsEvent) -> (SqsBatchResponse, SpanBatch) {
        let exporter = InMemoryExporter::default();
        let layer = TraceLayer::builder()
            .service_name("fulfil")
            .sample_rate(1.0)
            .exporter(exporter.clone())
            .build();
        let response = layer
            .layer(service_fn(handler))
            .oneshot(LambdaEvent::new(event, Context::default()))
            .await
            .unwrap();
        (response, exporter.take().pop().unwrap())
    }

    fn process_spans(batch: &SpanBatch) -> Vec<&SpanRecord> {
        batch
            .spans
            .iter()
            .filter(|s| s.kind == SpanKind::Consumer)
            .collect()
    }

    #[tokio::test]
    async fn unreadable_orders_are_the_batch_item_failures() {
        let response = handler(LambdaEvent::new(event(), Context::default()))
            .await
            .unwrap();
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["m-2", "m-3"]);
    }

    #[tokio::test]
    async fn each_record_continues_its_producers_trace_with_its_order_id() {
        let (response, batch) = traced(event()).await;
        assert_eq!(response.batch_item_failures.len(), 2);
        let spans = process_spans(&batch);
        assert_eq!(spans.len(), 3, "one span per record: {:#?}", batch.spans);
        let first = spans[0];
        assert_eq!(first.name, "process orders");
        assert_eq!(
            first.trace_in(&batch).to_string(),
            "5759e988bd862e3fe1be46a994272793",
            "the producer's trace"
        );
        assert_eq!(
            first.parent_id.map(|p| p.to_string()).as_deref(),
            Some("53995c3f42cd8ad8"),
            "the producer's SQS subsegment"
        );
        assert_eq!(
            first.annotation("orderId"),
            Some(&AnnotationValue::from("o-1"))
        );
        let fulfilment = first
            .metadata
            .iter()
            .find(|m| m.key == "fulfilment")
            .unwrap();
        assert_eq!(fulfilment.value["units"], 2);
        assert!(!first.outcome.fault);
        // Not JSON: a fault, no annotation; an empty id: a fault, annotated.
        assert!(spans[1].outcome.fault && spans[1].annotation("orderId").is_none());
        assert!(spans[2].outcome.fault);
        assert_eq!(
            spans[2].annotation("orderId"),
            Some(&AnnotationValue::from(""))
        );
        // The batch links to the record that has a context.
        let root = batch.root().unwrap();
        assert_eq!(root.links.len(), 1, "{:#?}", root.links);
        assert_eq!(root.links[0].1.unwrap().to_string(), "53995c3f42cd8ad8");
    }
}
