//! SQS batches through the layer: the invocation span links to every record's context (capped,
//! the rest counted), carries the messaging attributes, and `messaging::each_record` runs each
//! record in a `process` span continuing that record's own trace, with partial batch responses.
//! Every X-Ray document is validated against the schema. Also: a user's own event type as a
//! carrier (`TraceLayerBuilder::carrier_with`).

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::export::InMemoryExporter;
use lambda_trace::span::{AttributeValue, SpanBatch, SpanKind, SpanRecord};
use lambda_trace::{Config, TraceId, TraceLayer};
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

const QUEUE_ARN: &str = "arn:aws:sqs:us-east-2:123456789012:orders";

/// A record's context: how the producer sent it.
#[derive(Clone, Copy, Debug)]
enum Cx {
    /// `AWSTraceHeader` of trace `i`.
    Xray(u32),
    /// `traceparent` + `tracestate` message attributes of trace `i`.
    W3c(u32),
    /// No context.
    None,
}

fn trace_hex(i: u32) -> String {
    format!("6a00{i:04x}0000000000000000{i:08x}")
}

fn span_hex(i: u32) -> String {
    format!("5b00{i:012x}")
}

fn record(i: usize, cx: Cx, arn: &str) -> Value {
    let mut attributes = json!({"ApproximateReceiveCount": "1", "SentTimestamp": "1710411700000"});
    let mut message_attributes = json!({});
    match cx {
        Cx::Xray(t) => {
            let trace = trace_hex(t);
            attributes["AWSTraceHeader"] = json!(format!(
                "Root=1-{}-{};Parent={};Sampled=1",
                &trace[..8],
                &trace[8..],
                span_hex(t)
            ));
        }
        Cx::W3c(t) => {
            message_attributes["traceparent"] = json!({
                "stringValue": format!("00-{}-{}-01", trace_hex(t), span_hex(t)),
                "dataType": "String"
            });
            message_attributes["tracestate"] =
                json!({"stringValue": "shop=1", "dataType": "String"});
        }
        Cx::None => {}
    }
    json!({
        "messageId": format!("m-{i}"),
        "receiptHandle": "AQEB",
        "body": format!("{{\"orderId\": \"o-{i}\"}}"),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-2"
    })
}

fn sqs_json(contexts: &[Cx], arn: &str) -> Value {
    let records: Vec<Value> = contexts
        .iter()
        .enumerate()
        .map(|(i, cx)| record(i, *cx, arn))
        .collect();
    json!({ "Records": records })
}

fn sqs_event(contexts: &[Cx]) -> SqsEvent {
    serde_json::from_value(sqs_json(contexts, QUEUE_ARN)).expect("an SQS event")
}

fn layer(exporter: &InMemoryExporter, max_spans: usize) -> TraceLayer {
    TraceLayer::builder()
        .config(Config::from_lookup(|k| {
            (k == "AWS_LAMBDA_FUNCTION_NAME").then(|| "fulfil".to_string())
        }))
        .sample_rate(1.0)
        .max_spans(max_spans)
        .exporter(exporter.clone())
        .build()
}

fn context() -> Context {
    let mut cx = Context::default();
    cx.request_id = "req-1".into();
    cx
}

/// Runs `handler` on `event` behind the layer; the response and the invocation's batch.
async fn traced<E, R, F, Fut>(
    layer: TraceLayer,
    exporter: &InMemoryExporter,
    event: E,
    handler: F,
) -> (R, SpanBatch)
where
    E: serde::de::DeserializeOwned + Send + 'static,
    R: serde::Serialize + 'static,
    F: Fn(LambdaEvent<E>) -> Fut,
    Fut: std::future::Future<Output = Result<R, Error>>,
{
    let out = layer
        .layer(service_fn(handler))
        .oneshot(LambdaEvent::new(event, context()))
        .await
        .expect("the handler's own result");
    let mut batches = exporter.take();
    assert_eq!(batches.len(), 1);
    (out, batches.remove(0))
}

fn attr<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a AttributeValue> {
    span.attribute(key)
}

fn string(value: &str) -> AttributeValue {
    AttributeValue::String(value.to_string().into())
}

/// Every X-Ray document of `batch`, parsed and validated against the schema.
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

/// The distinct contexts (trace, span) of `contexts`.
fn distinct(contexts: &[Cx]) -> usize {
    let mut seen = std::collections::HashSet::new();
    for cx in contexts {
        match cx {
            Cx::Xray(t) | Cx::W3c(t) => {
                seen.insert(*t);
            }
            Cx::None => {}
        }
    }
    seen.len()
}

/// Mixed contexts: X-Ray, W3C, none, and a repeat of an earlier producer every 5th record.
fn mixed(n: usize) -> Vec<Cx> {
    (0..n)
        .map(|i| match i % 5 {
            0 | 3 => Cx::Xray(i as u32 + 1),
            1 => Cx::W3c(i as u32 + 1),
            2 => Cx::None,
            _ => Cx::Xray(1),
        })
        .collect()
}

#[tokio::test]
async fn the_invocation_span_links_every_record_and_carries_the_messaging_attributes() {
    for n in [0usize, 1, 3, 25] {
        let contexts = mixed(n);
        let exporter = InMemoryExporter::default();
        let (_, batch): ((), _) = traced(
            layer(&exporter, 500),
            &exporter,
            sqs_event(&contexts),
            |_e: LambdaEvent<SqsEvent>| async { Ok(()) },
        )
        .await;
        let root = &batch.spans[0];
        assert_eq!(root.kind, SpanKind::Server, "{n} records");
        assert_eq!(attr(root, "faas.trigger"), Some(&string("pubsub")), "{n}");
        assert_eq!(
            attr(root, "messaging.system"),
            Some(&string("aws_sqs")),
            "{n}"
        );
        assert_eq!(
            attr(root, "messaging.operation.type"),
            Some(&string("process")),
            "{n}"
        );
        assert_eq!(
            attr(root, "messaging.batch.message_count"),
            Some(&AttributeValue::Int(n as i64)),
            "{n}"
        );
        let destination = attr(root, "messaging.destination.name");
        assert_eq!(
            destination,
            (n > 0).then(|| string("orders")).as_ref(),
            "{n}"
        );
        // Every distinct record context, once; the first record's is the parent (PassThrough).
        assert_eq!(root.links.len(), distinct(&contexts), "{n} records: links");
        assert_eq!(root.dropped_links, 0);
        if n > 0 {
            let first: TraceId = trace_hex(1).parse().unwrap();
            assert_eq!(batch.trace_id, first, "{n}: the first record's trace");
            assert_eq!(root.parent_id.map(|p| p.to_string()), Some(span_hex(1)));
        }
        for (i, cx) in contexts.iter().enumerate() {
            if let Cx::Xray(t) | Cx::W3c(t) = cx {
                let trace: TraceId = trace_hex(*t).parse().unwrap();
                assert!(
                    root.links
                        .iter()
                        .any(|(lt, ls)| *lt == trace
                            && ls.map(|s| s.to_string()) == Some(span_hex(*t))),
                    "{n} records: record {i} linked"
                );
            }
        }
        let docs = documents(&batch);
        assert_eq!(docs.len(), 1, "{n}");
        let meta = &docs[0]["metadata"]["lambda_trace"];
        let links = meta["links"].as_array().map_or(0, Vec::len);
        assert_eq!(links, distinct(&contexts).min(20), "{n}: X-Ray links");
        assert_eq!(
            meta["dropped_links"].as_u64().unwrap_or(0) as usize,
            distinct(&contexts).saturating_sub(20),
            "{n}: X-Ray counts the links past 20"
        );
        assert_eq!(
            meta["messaging.destination.name"],
            if n > 0 { json!("orders") } else { Value::Null }
        );
    }
}

#[tokio::test]
async fn a_thousand_records_are_capped_counted_and_within_the_span_limit() {
    const LIMIT: usize = 300;
    let contexts: Vec<Cx> = (0..1000)
        .map(|i| {
            if i % 2 == 0 {
                Cx::Xray(i + 1)
            } else {
                Cx::W3c(i + 1)
            }
        })
        .collect();
    let exporter = InMemoryExporter::default();
    let (response, batch): (SqsBatchResponse, _) = traced(
        layer(&exporter, LIMIT),
        &exporter,
        sqs_event(&contexts),
        |event: LambdaEvent<SqsEvent>| async move {
            let processed =
                lambda_trace::messaging::each_record(&event.payload, |record| async move {
                    let child = lambda_trace::current().child("work");
                    child.end();
                    if record
                        .message_id
                        .as_deref()
                        .is_some_and(|id| id.ends_with('7'))
                    {
                        return Err(Error::from("unlucky"));
                    }
                    Ok(())
                })
                .await;
            assert_eq!(processed.results().len(), 1000);
            Ok(processed.into_batch_response())
        },
    )
    .await;
    assert_eq!(response.batch_item_failures.len(), 100);
    let root = &batch.spans[0];
    assert_eq!(root.links.len(), lambda_trace::span::MAX_SPAN_LINKS);
    assert_eq!(
        root.dropped_links,
        1000 - lambda_trace::span::MAX_SPAN_LINKS
    );
    // 1 invocation span + 2 per record (process + work) wanted; the limit holds, the rest counted.
    assert_eq!(batch.spans.len(), LIMIT);
    assert_eq!(batch.dropped_spans, 1 + 2 * 1000 - LIMIT);
    let docs = documents(&batch);
    let root_doc = docs
        .iter()
        .find(|d| d["id"] == json!(root.span_id.to_string()))
        .unwrap();
    let meta = &root_doc["metadata"]["lambda_trace"];
    assert_eq!(meta["links"].as_array().unwrap().len(), 20);
    assert_eq!(meta["dropped_links"], json!(980));
    assert_eq!(meta["dropped_spans"], json!(1 + 2 * 1000 - LIMIT));
    // Each recorded record span is a segment of its record's trace.
    let segments = docs
        .iter()
        .filter(|d| d["origin"] == json!("AWS::Lambda::Function"))
        .count();
    assert_eq!(segments, 1 + (LIMIT - 1) / 2 + (LIMIT - 1) % 2);
}

#[tokio::test]
async fn each_record_continues_each_records_trace_and_reports_partial_failures() {
    let contexts = [Cx::Xray(7), Cx::None, Cx::W3c(9), Cx::Xray(7)];
    let exporter = InMemoryExporter::default();
    let (response, batch): (SqsBatchResponse, _) = traced(
        layer(&exporter, 500),
        &exporter,
        sqs_event(&contexts),
        |event: LambdaEvent<SqsEvent>| async move {
            let processed =
                lambda_trace::messaging::each_record(&event.payload, |record| async move {
                    let span = lambda_trace::current();
                    span.annotate("orderId", record.message_id.clone().unwrap_or_default());
                    // An outgoing call made while the record is processed nests under its span.
                    let call = span.child_of_kind("DynamoDB", SpanKind::Client);
                    call.end();
                    match record.message_id.as_deref() {
                        Some("m-1") | Some("m-2") => Err(Error::from(format!(
                            "cannot fulfil {:?}",
                            record.message_id
                        ))),
                        _ => Ok(record.body.clone()),
                    }
                })
                .await;
            assert_eq!(processed.failed(), 2);
            assert!(
                processed.skipped().is_empty(),
                "a standard queue processes every record"
            );
            Ok(SqsBatchResponse::from(processed))
        },
    )
    .await;
    let ids: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(ids, ["m-1", "m-2"]);

    let root = &batch.spans[0];
    let process: Vec<&SpanRecord> = batch
        .spans
        .iter()
        .filter(|s| s.kind == SpanKind::Consumer)
        .collect();
    assert_eq!(process.len(), 4);
    for (i, (span, cx)) in process.iter().zip(contexts).enumerate() {
        assert_eq!(span.name, "process orders");
        assert_eq!(
            attr(span, "messaging.message.id"),
            Some(&string(&format!("m-{i}")))
        );
        assert_eq!(attr(span, "messaging.system"), Some(&string("aws_sqs")));
        assert_eq!(
            attr(span, "messaging.destination.name"),
            Some(&string("orders"))
        );
        assert_eq!(span.outcome.fault, i == 1 || i == 2, "record {i}: fault");
        if span.outcome.fault {
            assert!(
                span.exceptions[0].message.contains("cannot fulfil"),
                "record {i}"
            );
        }
        match cx {
            Cx::Xray(t) | Cx::W3c(t) => {
                // The record's own context is the parent: its producer's span, in its trace.
                assert_eq!(
                    span.trace_id,
                    Some(trace_hex(t).parse().unwrap()),
                    "record {i}"
                );
                assert_eq!(
                    span.parent_id.map(|p| p.to_string()),
                    Some(span_hex(t)),
                    "record {i}"
                );
                assert!(span.remote_parent);
                assert_eq!(
                    span.links,
                    vec![(batch.trace_id, Some(root.span_id))],
                    "record {i}: linked to the batch"
                );
            }
            Cx::None => {
                assert_eq!(span.trace_id, None, "record {i}: the invocation's trace");
                assert_eq!(span.parent_id, Some(root.span_id));
                assert!(!span.remote_parent);
            }
        }
        let call = batch
            .spans
            .iter()
            .find(|s| s.parent_id == Some(span.span_id))
            .expect("the call");
        assert_eq!(call.kind, SpanKind::Client);
        assert_eq!(
            call.trace_id, span.trace_id,
            "record {i}: the call is in the record's trace"
        );
    }
    // X-Ray: the invocation's segment (with the record without context nested), and a segment
    // per record with a context, in its producer's trace, under its producer's span.
    let docs = documents(&batch);
    assert_eq!(docs.len(), 4);
    assert_eq!(
        docs[0]["trace_id"],
        json!(format!("1-{}-{}", &trace_hex(7)[..8], &trace_hex(7)[8..]))
    );
    assert_eq!(docs[0]["subsegments"].as_array().unwrap().len(), 1);
    for (doc, t) in docs[1..].iter().zip([7u32, 9, 7]) {
        assert_eq!(doc["origin"], json!("AWS::Lambda::Function"));
        assert_eq!(doc["name"], json!("fulfil"));
        assert_eq!(doc["parent_id"], json!(span_hex(t)));
        let trace = trace_hex(t);
        assert_eq!(
            doc["trace_id"],
            json!(format!("1-{}-{}", &trace[..8], &trace[8..]))
        );
        assert_eq!(
            doc["metadata"]["lambda_trace"]["span_name"],
            json!("process orders")
        );
        assert_eq!(doc["subsegments"][0]["name"], json!("DynamoDB"));
    }
    assert_eq!(docs[2]["fault"], json!(true), "the W3C record failed");
}

#[tokio::test]
async fn a_fifo_batch_stops_at_its_first_failure() {
    let exporter = InMemoryExporter::default();
    let event: SqsEvent = serde_json::from_value(sqs_json(
        &[Cx::None, Cx::Xray(3), Cx::None, Cx::None],
        "arn:aws:sqs:us-east-2:1:orders.fifo",
    ))
    .unwrap();
    let (response, batch): (SqsBatchResponse, _) = traced(
        layer(&exporter, 500),
        &exporter,
        event,
        |event: LambdaEvent<SqsEvent>| async move {
            let processed =
                lambda_trace::messaging::each_record(&event.payload, |record| async move {
                    if record.message_id.as_deref() == Some("m-1") {
                        Err("out of stock")
                    } else {
                        Ok(())
                    }
                })
                .await;
            assert_eq!(processed.results().len(), 2);
            assert_eq!(processed.skipped().len(), 2);
            Ok(processed.into_batch_response())
        },
    )
    .await;
    let ids: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(ids, ["m-1", "m-2", "m-3"]);
    let process: Vec<&SpanRecord> = batch
        .spans
        .iter()
        .filter(|s| s.kind == SpanKind::Consumer)
        .collect();
    assert_eq!(process.len(), 2, "skipped records get no span");
    assert_eq!(process[1].exceptions[0].message, "out of stock");
    assert_eq!(process[1].exceptions[0].type_name.as_deref(), Some("&str"));
    documents(&batch);
}

#[tokio::test]
async fn an_sqs_event_as_json_is_linked_too() {
    let contexts = mixed(6);
    let exporter = InMemoryExporter::default();
    let (_, batch): ((), _) = traced(
        layer(&exporter, 500),
        &exporter,
        sqs_json(&contexts, QUEUE_ARN),
        |_e: LambdaEvent<Value>| async { Ok(()) },
    )
    .await;
    let root = &batch.spans[0];
    assert_eq!(root.links.len(), distinct(&contexts));
    assert_eq!(
        attr(root, "messaging.batch.message_count"),
        Some(&AttributeValue::Int(6))
    );
    assert_eq!(
        attr(root, "messaging.destination.name"),
        Some(&string("orders"))
    );
}

#[tokio::test]
async fn hostile_batches_never_panic() {
    let long = "x".repeat(100_000);
    let events = [
        json!({"Records": [{"messageAttributes": {"traceparent": {"stringValue": long}}}]}),
        json!({"Records": [{"attributes": {"AWSTraceHeader": "Root=garbage"}, "eventSourceARN": format!("arn:aws:sqs:r:1:{long}")}]}),
        json!({"Records": [{"messageId": null, "eventSourceARN": "arn:"}, {}]}),
        json!({"Records": []}),
    ];
    for event in events {
        let exporter = InMemoryExporter::default();
        let event: SqsEvent = serde_json::from_value(event).unwrap();
        let (response, batch): (SqsBatchResponse, _) = traced(
            layer(&exporter, 500),
            &exporter,
            event,
            |event: LambdaEvent<SqsEvent>| async move {
                let processed = lambda_trace::messaging::each_record(&event.payload, |_| async {
                    Err::<(), _>("no")
                })
                .await;
                Ok(processed.into_batch_response())
            },
        )
        .await;
        for failure in &response.batch_item_failures {
            assert!(failure.item_identifier.is_empty() || failure.item_identifier.starts_with('m'));
        }
        for span in &batch.spans {
            assert!(span.name.chars().count() <= lambda_trace::span::MAX_SPAN_NAME_CHARS);
        }
        documents(&batch);
    }
}

/// A Step Functions task's input, carrying the caller's headers.
#[derive(serde::Deserialize)]
struct Task {
    order_id: String,
    headers: HashMap<String, String>,
}

#[tokio::test]
async fn a_users_own_event_type_carries_the_callers_context() {
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .carrier_with::<Task>(|task| &task.headers)
        .sample_rate(0.0)
        .exporter(exporter.clone())
        .build();
    let mut header = String::new();
    write!(header, "00-{}-{}-01", trace_hex(42), span_hex(42)).unwrap();
    let task = Task {
        order_id: "o-42".into(),
        headers: HashMap::from([("TraceParent".to_string(), header)]),
    };
    let (out, batch): (String, _) =
        traced(layer, &exporter, task, |e: LambdaEvent<Task>| async move {
            Ok(e.payload.order_id)
        })
        .await;
    assert_eq!(out, "o-42");
    assert_eq!(
        batch.trace_id,
        trace_hex(42).parse().unwrap(),
        "the caller's trace, sampled by the caller"
    );
    assert_eq!(
        batch.spans[0].parent_id.map(|p| p.to_string()),
        Some(span_hex(42))
    );
    assert_eq!(
        attr(&batch.spans[0], "faas.trigger"),
        Some(&string("other"))
    );
}
