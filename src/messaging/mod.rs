//! Messages: one span per message of a batch, continuing **that message's** trace.
//!
//! A Lambda function fed by a queue or a stream gets its messages in batches, each message sent
//! from another trace. The layer opens one invocation span for the batch (its parent is the first
//! message's context, or Lambda's segment under Active tracing) and **links** it to every
//! message's context (`faas.trigger = pubsub`, `messaging.system`, `messaging.destination.name`,
//! `messaging.operation.type = process`, `messaging.batch.message_count`). To follow each message
//! in the trace it came from, run the work of each record with [`each_record`]: it opens
//! OpenTelemetry's messaging **`process` span** for each record, whose parent is the record's own
//! context, current while the record's work runs (so outgoing calls and AWS SDK calls nest under
//! it), and collects the results as a partial batch response (SQS, Kinesis, DynamoDB Streams).
//!
//! ```no_run
//! use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//!
//! #[derive(serde::Deserialize)]
//! struct Order {
//!     #[serde(rename = "orderId")]
//!     order_id: String,
//! }
//!
//! async fn handler(event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
//!     let processed = lambda_trace::messaging::each_record(&event.payload, |record| async move {
//!         let order: Order = serde_json::from_str(record.body.as_deref().unwrap_or_default())?;
//!         lambda_trace::current().annotate("orderId", order.order_id);
//!         // … fulfil the order: calls made here are children of this record's span.
//!         Ok::<_, Error>(())
//!     })
//!     .await;
//!     // Failed records go back to the queue; the others are deleted.
//!     Ok(processed.into_batch_response())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_trace::run(service_fn(handler)).await
//! }
//! ```
//!
//! # Sources
//!
//! [`each_record`] takes any [`Batch`]; these are built in (SNS, Kinesis and DynamoDB Streams
//! with feature `event-sources`; the [`carrier`](crate::carrier) module says what each event
//! carries):
//!
//! | event | a record's context | `messaging.system` | destination | message id | partial batch response |
//! |---|---|---|---|---|---|
//! | [`SqsEvent`](aws_lambda_events::sqs::SqsEvent) | `AWSTraceHeader`, message attributes | `aws_sqs` | queue | `messageId` | `SqsBatchResponse` (FIFO: stops at the first failure) |
//! | `SnsEvent` | `String` message attributes | `aws.sns` | topic | `MessageId` | — |
//! | `KinesisEvent` | the data's `_trace` (the `carrier::payload` convention) | `aws.kinesis` | stream | `eventID` | `KinesisEventResponse` (stops at the first failure) |
//! | DynamoDB Streams `Event` | `NewImage._trace` (the `carrier::payload` convention) | `aws.dynamodb_streams` | table | `eventID` | `DynamoDbEventResponse` (stops at the first failure) |
//! | your [`Batch`] | [`Record::headers`] | yours | yours | yours | from [`Processed::failures`] |
//!
//! # The record's span
//!
//! | | |
//! |---|---|
//! | name | `process <destination>` (`process` when the record names none) |
//! | kind | [`SpanKind::Consumer`](crate::span::SpanKind::Consumer) |
//! | parent | the record's context (the table above; the layer's propagators in their order); without one, the span current when `each_record` was called (the invocation span) |
//! | trace | the record's trace: in X-Ray its own segment (named like the function) under the producer's span; with OTLP a span of that trace whose parent is remote |
//! | link | to the span current when `each_record` was called (the batch's trace), when the record has a context of its own |
//! | attributes | `messaging.system`, `messaging.destination.name`, `messaging.message.id`, `messaging.operation.type = process` |
//! | outcome | the work's `Err`: a fault with the error as its cause (its chain of sources for `lambda_runtime::Error`) |
//! | sampling | a record whose context says not sampled is not recorded (its context still propagates); one without a decision follows the invocation's |
//!
//! Record spans count against `LAMBDA_TRACE_MAX_SPANS` like any span: past it they are counted
//! (`dropped_spans`), not recorded, and the work still runs. Outside an invocation (or when the
//! invocation is not sampled) the work runs with no-op spans.
//!
//! Conventions: OpenTelemetry's messaging spans (span name `{operation} {destination}`, kind
//! `CONSUMER` for `process`) and its registered systems (`aws_sqs`, `aws.sns`; it registers
//! none for Kinesis, EventBridge or DynamoDB Streams, whose values here follow the form of
//! `aws.sns`); AWS's "Using Lambda with Amazon SQS" and "… with Kinesis" for partial batch
//! responses (`batchItemFailures`; FIFO queues and streams stop at the first failure, and a
//! stream is retried from the lowest sequence number reported).

mod each;
mod outcome;
mod record;
mod span;

pub use each::each_record;
pub use outcome::Processed;
pub use record::{Batch, Record};

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use aws_lambda_events::sqs::SqsEvent;

    use crate::export::InMemoryExporter;
    use crate::span::{SpanBatch, SpanKind};
    use crate::{Config, TraceLayer};

    const PRODUCER_TRACE: &str = "5759e988bd862e3fe1be46a994272793";
    const PRODUCER_SPAN: &str = "53995c3f42cd8ad8";

    /// A batch of two records (the first with an `AWSTraceHeader`, the second without), each
    /// processed with `each_record`.
    async fn batch() -> SpanBatch {
        use lambda_runtime::{LambdaEvent, service_fn};
        use tower::{Layer, ServiceExt};
        let exporter = InMemoryExporter::default();
        let layer = TraceLayer::builder()
            .config(Config::from_lookup(|_| None))
            .sample_rate(1.0)
            .exporter(exporter.clone())
            .build();
        let event: SqsEvent = serde_json::from_str(&format!(
            r#"{{"Records": [
                {{"messageId": "a", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:r:1:q",
                  "attributes": {{"AWSTraceHeader": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent={PRODUCER_SPAN};Sampled=1"}}}},
                {{"messageId": "b", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:r:1:q"}}
            ]}}"#
        ))
        .unwrap();
        let handler = service_fn(|e: LambdaEvent<SqsEvent>| async move {
            let processed = super::each_record(&e.payload, |_| async { Ok::<_, &str>(()) }).await;
            Ok::<_, lambda_runtime::Error>(processed.into_batch_response())
        });
        layer
            .layer(handler)
            .oneshot(LambdaEvent::new(event, lambda_runtime::Context::default()))
            .await
            .unwrap();
        let mut batches = exporter.take();
        batches.remove(0)
    }

    /// The parent of every record's span when the handler changes the event before
    /// `each_record` (the layer read the records' contexts as they came): records reordered,
    /// one header changed, one record dropped.
    #[tokio::test]
    async fn records_changed_by_the_handler_get_their_own_context() {
        use lambda_runtime::{LambdaEvent, service_fn};
        use tower::{Layer, ServiceExt};
        let exporter = InMemoryExporter::default();
        let layer = TraceLayer::builder()
            .config(Config::from_lookup(|_| None))
            .sample_rate(1.0)
            .exporter(exporter.clone())
            .build();
        let header = |trace: u32, parent: u32| {
            format!("Root=1-5759e988-bd862e3fe1be46a99{trace:07x};Parent={parent:016x};Sampled=1")
        };
        let records: Vec<String> = (1..=4)
            .map(|i| {
                format!(
                    r#"{{"messageId": "m{i}", "eventSourceARN": "arn:aws:sqs:r:1:q",
                        "attributes": {{"AWSTraceHeader": "{}"}}}}"#,
                    header(i, i)
                )
            })
            .collect();
        let event: SqsEvent =
            serde_json::from_str(&format!(r#"{{"Records": [{}]}}"#, records.join(","))).unwrap();
        let handler = service_fn(move |mut e: LambdaEvent<SqsEvent>| async move {
            let records = &mut e.payload.records;
            records.reverse();
            records.remove(1);
            records[0]
                .attributes
                .insert("AWSTraceHeader".into(), header(9, 9));
            let processed = super::each_record(&e.payload, |_| async { Ok::<_, &str>(()) }).await;
            Ok::<_, lambda_runtime::Error>(processed.into_batch_response())
        });
        layer
            .layer(handler)
            .oneshot(LambdaEvent::new(event, lambda_runtime::Context::default()))
            .await
            .unwrap();
        let batch = exporter.take().remove(0);
        let parents: Vec<String> = batch.spans[1..]
            .iter()
            .map(|s| s.parent_id.map(|p| p.to_string()).unwrap_or_default())
            .collect();
        // m4 (changed to 9), m2, m1: m3 was dropped.
        let expected: Vec<String> = [9u32, 2, 1].iter().map(|p| format!("{p:016x}")).collect();
        assert_eq!(parents, expected);
        let traces: Vec<String> = batch.spans[1..]
            .iter()
            .map(|s| s.trace_in(&batch).to_string())
            .collect();
        let expected: Vec<String> = [9u32, 2, 1]
            .iter()
            .map(|t| format!("5759e988bd862e3fe1be46a99{t:07x}"))
            .collect();
        assert_eq!(traces, expected);
    }

    #[tokio::test]
    async fn otlp_json_carries_each_spans_trace_kind_links_and_remote_parent() {
        let mut batch = batch().await;
        batch.spans[0].dropped_links = 3;
        let mut buf = Vec::new();
        crate::otlp::json::write_request(&batch, crate::otlp::model::Dialect::Otel, &mut buf);
        let request: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        let spans = request["resourceSpans"][0]["scopeSpans"][0]["spans"]
            .as_array()
            .unwrap();
        assert_eq!(spans.len(), 3);
        let root = &spans[0];
        assert_eq!(
            root["traceId"], PRODUCER_TRACE,
            "PassThrough: the first record's trace"
        );
        assert_eq!(root["droppedLinksCount"], 3);
        assert_eq!(root["links"][0]["traceId"], PRODUCER_TRACE);
        assert_eq!(root["links"][0]["spanId"], PRODUCER_SPAN);
        let with_context = &spans[1];
        assert_eq!(with_context["kind"], 5, "CONSUMER");
        assert_eq!(with_context["traceId"], PRODUCER_TRACE);
        assert_eq!(with_context["parentSpanId"], PRODUCER_SPAN);
        assert_eq!(with_context["flags"], 0x301, "sampled, remote parent");
        let without = &spans[2];
        assert_eq!(without["kind"], 5);
        assert_eq!(without["parentSpanId"], root["spanId"]);
        assert_eq!(without["flags"], 0x101, "sampled, local parent");
        assert_eq!(batch.spans[1].kind, SpanKind::Consumer);
        let _ = Arc::clone(&batch.resource);
    }

    #[cfg(feature = "otlp")]
    #[tokio::test]
    async fn otlp_protobuf_carries_each_spans_trace_and_links() {
        let mut batch = batch().await;
        // A record span of another trace than the batch's.
        let other: crate::TraceId = "0af7651916cd43dd8448eb211c80319c".parse().unwrap();
        batch.spans[1].trace_id = Some(other);
        batch.spans[1].dropped_links = 2;
        let request = crate::otlp::protobuf::request(&batch, crate::otlp::model::Dialect::Otel);
        let spans = &request.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans[1].trace_id, other.to_u128().to_be_bytes().to_vec());
        assert_eq!(spans[1].kind, 5);
        assert_eq!(spans[1].dropped_links_count, 2);
        assert_eq!(spans[1].links.len(), 1, "linked to the invocation span");
        assert_eq!(
            spans[1].links[0].span_id,
            batch.spans[0].span_id.to_u64().to_be_bytes().to_vec()
        );
        assert_eq!(
            spans[2].trace_id,
            batch.trace_id.to_u128().to_be_bytes().to_vec()
        );
        assert_eq!(spans[0].links.len(), 1);
    }
}
