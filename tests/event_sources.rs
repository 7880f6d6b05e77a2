//! SNS, EventBridge, Kinesis, DynamoDB Streams, S3 and scheduled events through the layer: the
//! sample events of `events/` (the context found, the links, the attributes, and each
//! record's `process` span with `messaging::each_record`), big batches (1,000 DynamoDB and
//! 10,000 Kinesis records: links capped and counted, spans within the limit, X-Ray documents
//! valid), partial batch responses of streams, and hostile payloads. Feature `event-sources`.

#![cfg(feature = "event-sources")]

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::streams::{DynamoDbEventResponse, KinesisEventResponse};
use base64::Engine as _;
use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::export::InMemoryExporter;
use lambda_trace::messaging::{Batch, each_record};
use lambda_trace::span::{AttributeValue, SpanBatch, SpanKind, SpanRecord};
use lambda_trace::{Config, TraceLayer};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

fn layer(exporter: &InMemoryExporter, max_spans: usize) -> TraceLayer {
    TraceLayer::builder()
        .config(Config::from_lookup(|k| {
            (k == "AWS_LAMBDA_FUNCTION_NAME").then(|| "consumer".to_string())
        }))
        .sample_rate(1.0)
        .max_spans(max_spans)
        .exporter(exporter.clone())
        .build()
}

/// Runs `handler` on `event` behind a layer; the response and the invocation's batch.
async fn traced<E, R, F, Fut>(max_spans: usize, event: E, handler: F) -> (R, SpanBatch)
where
    E: DeserializeOwned + Send + 'static,
    R: serde::Serialize + 'static,
    F: Fn(LambdaEvent<E>) -> Fut,
    Fut: std::future::Future<Output = Result<R, Error>>,
{
    let exporter = InMemoryExporter::default();
    let out = layer(&exporter, max_spans)
        .layer(service_fn(handler))
        .oneshot(LambdaEvent::new(event, Context::default()))
        .await
        .expect("the handler's own result");
    let mut batches = exporter.take();
    assert_eq!(batches.len(), 1);
    (out, batches.remove(0))
}

/// The batch of a handler that does nothing with `event`.
async fn plain<E: DeserializeOwned + Send + 'static>(event: E) -> SpanBatch {
    traced(500, event, |_e: LambdaEvent<E>| async { Ok(()) })
        .await
        .1
}

/// The batch of a handler that runs every record with `each_record`.
async fn per_record<E>(event: E) -> SpanBatch
where
    E: Batch + DeserializeOwned + Send + 'static,
{
    traced(500, event, |e: LambdaEvent<E>| async move {
        let processed = each_record(&e.payload, |_| async { Ok::<_, Error>(()) }).await;
        assert_eq!(processed.failed(), 0);
        Ok(())
    })
    .await
    .1
}

fn sample<E: DeserializeOwned>(file: &str) -> E {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("events")
        .join(file);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"))
}

fn text<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a str> {
    match span.attribute(key)? {
        AttributeValue::String(s) => Some(s),
        _ => None,
    }
}

/// Every X-Ray document of `batch`, validated against the schema and the 64 kB limit.
fn documents(batch: &SpanBatch) -> Vec<Value> {
    let mut docs = Vec::new();
    lambda_trace::xray::encode_batch(batch, &mut docs);
    docs.iter()
        .map(|d| {
            assert!(d.len() <= lambda_trace::xray::MAX_DOCUMENT_BYTES);
            let v: Value = serde_json::from_slice(d).expect("a JSON document");
            support::assert_valid_document(&v);
            v
        })
        .collect()
}

/// What one sample event must give through the layer.
struct Case {
    file: &'static str,
    /// `faas.trigger`.
    trigger: &'static str,
    /// The invocation's trace and parent span, when the event's own context is the parent.
    parent: Option<(&'static str, &'static str)>,
    /// The traces the invocation span links to.
    links: &'static [&'static str],
    /// Attributes of the invocation span (`None`: must be absent).
    attributes: &'static [(&'static str, Option<&'static str>)],
    /// `messaging.batch.message_count`.
    count: Option<i64>,
    /// With `each_record`: each record span's trace (`None`: the invocation's).
    records: &'static [Option<&'static str>],
}

const SNS_TRACE: &str = "5f1e2d3c4b5a69788796a5b4c3d2e1f0";
const EB_TRACE: &str = "7a6b5c4d3e2f10a1b2c3d4e5f6a7b8c9";
const KINESIS_TRACES: [&str; 2] = [
    "3c4d5e6f708192a3b4c5d6e7f8091a2b",
    "66f1d2a26e5d4c3b2a1f0e9d8c7b6a59",
];
const DYNAMODB_TRACES: [&str; 2] = [
    "9a8b7c6d5e4f30211203f4e5d6c7b8a9",
    "66f1d2a37f6e5d4c3b2a1f0e9d8c7b6a",
];

#[rustfmt::skip]
const CASES: &[Case] = &[
    Case {
        file: "sns-w3c.json", trigger: "pubsub",
        parent: Some((SNS_TRACE, "0a1b2c3d4e5f6a7b")),
        links: &[SNS_TRACE],
        attributes: &[
            ("messaging.system", Some("aws.sns")),
            ("messaging.destination.name", Some("order-events")),
            ("messaging.operation.type", Some("process")),
            ("messaging.message.id", Some("95df01b4-ee98-5cb9-9903-4c221d41eb5e")),
            ("aws.sns.topic.arn", Some("arn:aws:sns:us-east-2:123456789012:order-events")),
        ],
        count: Some(1),
        records: &[Some(SNS_TRACE)],
    },
    Case {
        file: "eventbridge-w3c.json", trigger: "pubsub",
        parent: Some((EB_TRACE, "1f2e3d4c5b6a7980")),
        links: &[],
        attributes: &[
            ("messaging.system", Some("aws.eventbridge")),
            ("messaging.destination.name", None),
            ("messaging.message.id", Some("6a7e8feb-b491-4cf7-a9f1-bf3703467718")),
            ("aws.eventbridge.source", Some("shop.orders")),
            ("aws.eventbridge.detail_type", Some("OrderPlaced")),
        ],
        count: Some(1),
        records: &[],
    },
    Case {
        file: "eventbridge-schedule.json", trigger: "timer",
        parent: None,
        links: &[],
        attributes: &[
            ("faas.time", Some("2024-03-14T02:00:00Z")),
            ("aws.eventbridge.rule", Some("nightly-settlement")),
            ("messaging.system", None),
        ],
        count: None,
        records: &[],
    },
    Case {
        file: "kinesis-batch-w3c.json", trigger: "pubsub",
        parent: Some((KINESIS_TRACES[0], "2a3b4c5d6e7f8091")),
        links: &KINESIS_TRACES,
        attributes: &[
            ("messaging.system", Some("aws.kinesis")),
            ("messaging.destination.name", Some("order-stream")),
        ],
        count: Some(3),
        records: &[Some(KINESIS_TRACES[0]), Some(KINESIS_TRACES[1]), None],
    },
    Case {
        file: "dynamodb-batch-w3c.json", trigger: "datasource",
        parent: None,
        links: &DYNAMODB_TRACES,
        attributes: &[
            ("messaging.system", Some("aws.dynamodb_streams")),
            ("messaging.destination.name", Some("Orders")),
            ("faas.document.collection", Some("Orders")),
            ("faas.document.operation", None),
        ],
        count: Some(3),
        records: &[Some(DYNAMODB_TRACES[0]), Some(DYNAMODB_TRACES[1]), None],
    },
    Case {
        file: "s3-put.json", trigger: "datasource",
        parent: None,
        links: &[],
        attributes: &[
            ("faas.document.collection", Some("shop-invoices")),
            ("faas.document.name", Some("2024/03/o-3001.pdf")),
            ("faas.document.operation", Some("insert")),
            ("faas.document.time", Some("2024-03-14T10:00:00.120Z")),
            ("messaging.system", None),
        ],
        count: None,
        records: &[],
    },
];

async fn run_case(file: &str) -> SpanBatch {
    let prefix = file.split('-').next().unwrap_or_default();
    match prefix {
        "sns" => per_record(sample::<SnsEvent>(file)).await,
        "eventbridge" => plain(sample::<EventBridgeEvent>(file)).await,
        "kinesis" => per_record(sample::<KinesisEvent>(file)).await,
        "dynamodb" => per_record(sample::<DynamoDbEvent>(file)).await,
        "s3" => plain(sample::<S3Event>(file)).await,
        _ => panic!("{file}: no runner"),
    }
}

#[tokio::test]
async fn every_source_gives_its_context_links_and_attributes() {
    for case in CASES {
        let file = case.file;
        let batch = run_case(file).await;
        let root = &batch.spans[0];
        assert_eq!(root.kind, SpanKind::Server, "{file}");
        assert_eq!(
            text(root, "faas.trigger"),
            Some(case.trigger),
            "{file}: trigger"
        );
        match case.parent {
            Some((trace, span)) => {
                assert_eq!(batch.trace_id.to_string(), trace, "{file}: parent trace");
                assert_eq!(
                    root.parent_id.map(|p| p.to_string()).as_deref(),
                    Some(span),
                    "{file}"
                );
            }
            None => assert_eq!(root.parent_id, None, "{file}: no parent from the event"),
        }
        let links: BTreeSet<String> = root.links.iter().map(|(t, _)| t.to_string()).collect();
        let want: BTreeSet<String> = case.links.iter().map(|t| t.to_string()).collect();
        assert_eq!(links, want, "{file}: links");
        assert_eq!(root.dropped_links, 0, "{file}");
        for &(key, value) in case.attributes {
            assert_eq!(text(root, key), value, "{file}: {key}");
        }
        let count = match root.attribute("messaging.batch.message_count") {
            Some(AttributeValue::Int(n)) => Some(*n),
            _ => None,
        };
        assert_eq!(count, case.count, "{file}: message count");
        let records: Vec<&SpanRecord> = batch
            .spans
            .iter()
            .filter(|s| s.kind == SpanKind::Consumer)
            .collect();
        assert_eq!(records.len(), case.records.len(), "{file}: record spans");
        for (span, want) in records.iter().zip(case.records) {
            let trace = span.trace_id.unwrap_or(batch.trace_id).to_string();
            let want = want.map_or_else(|| batch.trace_id.to_string(), str::to_string);
            assert_eq!(trace, want, "{file}: {} trace", span.name);
            assert_eq!(
                text(span, "messaging.system"),
                text(root, "messaging.system"),
                "{file}: record span system"
            );
            assert!(span.name.starts_with("process "), "{file}: {}", span.name);
        }
        documents(&batch);
    }
}

/// A Kinesis record whose data is `data`.
fn kinesis_record(i: usize, data: &[u8]) -> Value {
    json!({
        "kinesis": {
            "partitionKey": format!("p-{i}"),
            "sequenceNumber": format!("{:056}", i),
            "data": base64::engine::general_purpose::STANDARD.encode(data),
            "approximateArrivalTimestamp": 1710410400.0
        },
        "eventSource": "aws:kinesis",
        "eventID": format!("shardId-000000000000:{i}"),
        "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/big"
    })
}

fn trace_of(i: usize) -> String {
    format!("7c00{i:012x}{:016x}", i + 1)
}

fn traceparent(i: usize) -> String {
    format!("00-{}-{:016x}-01", trace_of(i), i + 1)
}

#[tokio::test]
async fn ten_thousand_kinesis_records_are_linked_capped_and_counted() {
    const LIMIT: usize = 500;
    let records: Vec<Value> = (0..10_000)
        .map(|i| {
            let data = json!({"_trace": {"traceparent": traceparent(i)}, "n": i});
            kinesis_record(i, data.to_string().as_bytes())
        })
        .collect();
    let event: KinesisEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let (response, batch): (KinesisEventResponse, _) =
        traced(LIMIT, event, |e: LambdaEvent<KinesisEvent>| async move {
            let processed = each_record(&e.payload, |_| async { Ok::<_, Error>(()) }).await;
            assert_eq!(processed.results().len(), 10_000);
            Ok(processed.into_batch_response())
        })
        .await;
    assert!(response.batch_item_failures.is_empty());
    let root = &batch.spans[0];
    assert_eq!(text(root, "messaging.destination.name"), Some("big"));
    assert_eq!(root.links.len(), lambda_trace::span::MAX_SPAN_LINKS);
    assert_eq!(
        root.dropped_links,
        10_000 - lambda_trace::span::MAX_SPAN_LINKS
    );
    assert_eq!(batch.spans.len(), LIMIT, "the span limit holds");
    assert_eq!(batch.dropped_spans, 1 + 10_000 - LIMIT);
    let docs = documents(&batch);
    let root_doc = docs
        .iter()
        .find(|d| d["id"] == json!(root.span_id.to_string()))
        .unwrap();
    let meta = &root_doc["metadata"]["lambda_trace"];
    assert_eq!(
        meta["links"].as_array().unwrap().len(),
        20,
        "X-Ray: 20 links"
    );
    assert_eq!(meta["dropped_links"], json!(10_000 - 20));
}

#[tokio::test]
async fn a_thousand_dynamodb_records_are_linked_capped_and_counted() {
    let records: Vec<Value> = (0..1000)
        .map(|i| {
            json!({
                "eventID": format!("e-{i}"), "eventName": "INSERT", "awsRegion": "us-east-2",
                "eventSource": "aws:dynamodb",
                "eventSourceARN": "arn:aws:dynamodb:us-east-2:123456789012:table/Big/stream/x",
                "dynamodb": {"SizeBytes": 1, "SequenceNumber": format!("{i}"),
                    "NewImage": {"_trace": {"M": {"traceparent": {"S": traceparent(i)}}}}}
            })
        })
        .collect();
    let event: DynamoDbEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let batch = per_record(event).await;
    let root = &batch.spans[0];
    assert_eq!(text(root, "faas.document.operation"), Some("insert"));
    assert_eq!(root.links.len(), lambda_trace::span::MAX_SPAN_LINKS);
    assert_eq!(
        root.dropped_links,
        1000 - lambda_trace::span::MAX_SPAN_LINKS
    );
    assert_eq!(batch.spans.len(), 500);
    let continued = batch
        .spans
        .iter()
        .filter(|s| s.kind == SpanKind::Consumer && s.trace_id.is_some())
        .count();
    assert_eq!(
        continued, 499,
        "every recorded record span continues its record's trace"
    );
    documents(&batch);
}

#[tokio::test]
async fn a_stream_stops_at_its_first_failure_and_reports_sequence_numbers() {
    let records: Vec<Value> = (0..4)
        .map(|i| kinesis_record(i, format!("{i}").as_bytes()))
        .collect();
    let event: KinesisEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let (response, batch): (KinesisEventResponse, _) =
        traced(500, event, |e: LambdaEvent<KinesisEvent>| async move {
            let processed = each_record(&e.payload, |r| async move {
                match r.kinesis.data.0.as_slice() {
                    b"1" => Err(Error::from("record 1 failed")),
                    _ => Ok(()),
                }
            })
            .await;
            assert_eq!(
                (processed.results().len(), processed.skipped().len()),
                (2, 2)
            );
            Ok(processed.into())
        })
        .await;
    let ids: Vec<Option<String>> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    let seq = |i: usize| Some(format!("{i:056}"));
    assert_eq!(ids, [seq(1), seq(2), seq(3)]);
    let faults: Vec<bool> = batch
        .spans
        .iter()
        .filter(|s| s.kind == SpanKind::Consumer)
        .map(|s| s.outcome.fault)
        .collect();
    assert_eq!(
        faults,
        [false, true],
        "two records processed, the second a fault"
    );

    let event: DynamoDbEvent = sample("dynamodb-batch-w3c.json");
    let (response, _): (DynamoDbEventResponse, _) =
        traced(500, event, |e: LambdaEvent<DynamoDbEvent>| async move {
            let processed = each_record(&e.payload, |r| async move {
                if r.event_name == "MODIFY" {
                    Err("no")
                } else {
                    Ok(())
                }
            })
            .await;
            Ok(processed.into_batch_response())
        })
        .await;
    let ids: Vec<Option<String>> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    assert_eq!(
        ids,
        [
            Some("111000000000000000002".into()),
            Some("111000000000000000003".into())
        ]
    );
}

/// The same events as `serde_json::Value`: DynamoDB records are linked as with the typed
/// event; a Kinesis-shaped `Value` gets its request data but no links (its data is base64
/// there, not decoded by the raw-event carrier).
#[tokio::test]
async fn json_value_events_of_the_new_shapes_are_linked_too() {
    let text_of = |file: &str| {
        fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("events")
                .join(file),
        )
        .unwrap()
    };
    for (file, links) in [
        ("kinesis-batch-w3c.json", &[][..]),
        ("dynamodb-batch-w3c.json", &DYNAMODB_TRACES[..]),
        ("sns-w3c.json", &[SNS_TRACE][..]),
    ] {
        let value: Value = serde_json::from_str(&text_of(file)).unwrap();
        let batch = plain(value).await;
        let root = &batch.spans[0];
        let got: BTreeSet<String> = root.links.iter().map(|(t, _)| t.to_string()).collect();
        let want: BTreeSet<String> = links.iter().map(|t| t.to_string()).collect();
        assert_eq!(got, want, "{file} as JSON");
        assert!(text(root, "messaging.system").is_some(), "{file} as JSON");
    }
}

#[tokio::test]
async fn hostile_payloads_never_panic_and_carry_no_context() {
    let huge = format!(
        r#"{{"pad": "{}", "_trace": {{"traceparent": "{}"}}}}"#,
        "x".repeat(lambda_trace::carrier::payload::MAX_PAYLOAD_BYTES),
        traceparent(1)
    );
    let deep = format!("{{\"a\": {}1{}}}", "[".repeat(20_000), "]".repeat(20_000));
    let many: Vec<String> = (0..3_000).map(|i| format!(r#""h{i}": "v""#)).collect();
    let many = format!(r#"{{"_trace": {{{}}}}}"#, many.join(","));
    let long_value = format!(
        r#"{{"_trace": {{"traceparent": "{}"}}}}"#,
        "0".repeat(10_000)
    );
    let payloads: Vec<Vec<u8>> = vec![
        huge.into_bytes(),
        deep.into_bytes(),
        many.into_bytes(),
        long_value.into_bytes(),
        vec![0xff, 0xfe, b'{', 0],
        b"{\"_trace\": {\"traceparent\": \"\\ud800\"}}".to_vec(),
        Vec::new(),
    ];
    let records: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| kinesis_record(i, p))
        .collect();
    let event: KinesisEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let batch = per_record(event).await;
    let root = &batch.spans[0];
    assert!(root.links.is_empty(), "no context from hostile payloads");
    assert_eq!(root.parent_id, None);
    assert!(
        batch
            .spans
            .iter()
            .filter(|s| s.kind == SpanKind::Consumer)
            .all(|s| s.trace_id.is_none()),
        "every record span is a child of the invocation"
    );

    // SNS attributes over the header length, EventBridge `_trace` of every odd type.
    let mut sns: SnsEvent = sample("sns-w3c.json");
    for attribute in sns.records[0].sns.message_attributes.values_mut() {
        attribute.value = format!("{}{}", attribute.value, " ".repeat(20_000));
    }
    let batch = per_record(sns).await;
    assert!(batch.spans[0].links.is_empty() && batch.spans[0].parent_id.is_none());
    for detail in [
        json!(null),
        json!([1]),
        json!({"_trace": "x"}),
        json!({"_trace": {"traceparent": 1}}),
    ] {
        let mut event: EventBridgeEvent = sample("eventbridge-w3c.json");
        event.detail = detail;
        let batch = plain(event).await;
        assert_eq!(batch.spans[0].parent_id, None);
    }
}
