//! The `tracing` bridge end to end: `#[instrument]`ed handler code under a `TraceLayer`, with
//! the in-memory exporter, and the X-Ray documents of what it recorded.

#![cfg(feature = "tracing")]

mod support;

use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_trace::SpanId;
use lambda_trace::bridge::{self, TracingBridge};
use lambda_trace::export::InMemoryExporter;
use lambda_trace::span::{AnnotationValue, SpanBatch, SpanKind, SpanRecord};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};
use tracing::{Instrument, field};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

use support::bridge::{event, invoke_with, trace_layer};

/// Runs `handler` once under a `TraceLayer`, with the bridge (`INFO`) installed for this thread.
async fn invoke<F, Fut>(handler: F) -> SpanBatch
where
    F: FnMut(LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Error>>,
{
    invoke_with(TracingBridge::new().with_filter(LevelFilter::INFO), handler).await
}

fn named<'a>(batch: &'a SpanBatch, name: &str) -> &'a SpanRecord {
    batch
        .spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {:#?}", names(batch)))
}

fn names(batch: &SpanBatch) -> Vec<&str> {
    batch.spans.iter().map(|s| s.name.as_ref()).collect()
}

fn metadata<'a>(span: &'a SpanRecord, key: &str) -> Vec<&'a Value> {
    span.metadata
        .iter()
        .filter(|e| e.namespace == "tracing" && e.key == key)
        .map(|e| &e.value)
        .collect()
}

fn documents(batch: &SpanBatch) -> Vec<Value> {
    let mut out = Vec::new();
    lambda_trace::xray::encode_batch(batch, &mut out);
    out.iter()
        .map(|d| {
            let v: Value = serde_json::from_slice(d).unwrap();
            support::assert_valid_document(&v);
            v
        })
        .collect()
}

#[tracing::instrument]
async fn checkout(order: u32) -> u32 {
    tokio::task::yield_now().await;
    price(order).await + 1
}

#[tracing::instrument]
async fn price(order: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(2)).await;
    fetch_rate("eu").await * order
}

#[tracing::instrument(fields(otel.kind = "client", otel.name = "GET rates"))]
async fn fetch_rate(region: &str) -> u32 {
    tokio::task::yield_now().await;
    tracing::info!(region, "fetched rate");
    3
}

#[tokio::test]
async fn instrumented_call_tree_nests_under_the_invocation_span() {
    let batch = invoke(|e| async move {
        let total = checkout(2).await;
        Ok(json!({ "total": total, "request": e.context.request_id }))
    })
    .await;
    assert_eq!(
        names(&batch),
        ["orders-fn", "checkout", "price", "GET rates"]
    );
    let root = batch.root().unwrap();
    let (checkout, price, rate) = (
        named(&batch, "checkout"),
        named(&batch, "price"),
        named(&batch, "GET rates"),
    );
    assert_eq!(checkout.parent_id, Some(root.span_id));
    assert_eq!(price.parent_id, Some(checkout.span_id));
    assert_eq!(rate.parent_id, Some(price.span_id));
    assert_eq!(rate.kind, SpanKind::Client);
    assert_eq!(checkout.kind, SpanKind::Internal);
    for span in [checkout, price, rate] {
        assert!(
            !span.unfinished,
            "{} ended when its future completed",
            span.name
        );
        assert!(span.end_unix_nanos >= span.start_unix_nanos);
    }
    assert!(price.end_unix_nanos - price.start_unix_nanos >= 2_000_000);
    assert_eq!(metadata(checkout, "order"), [&json!(2)]);
    assert_eq!(metadata(rate, "region"), [&json!("eu")]);
    assert!(metadata(rate, "otel.kind").is_empty() && metadata(rate, "otel.name").is_empty());

    let docs = documents(&batch);
    assert_eq!(docs.len(), 1);
    let rate_doc = &docs[0]["subsegments"][0]["subsegments"][0]["subsegments"][0];
    assert_eq!(rate_doc["name"], "GET rates");
    assert_eq!(rate_doc["id"], rate.span_id.to_string());
}

#[tokio::test]
async fn fields_become_metadata_and_prefixed_fields_annotations() {
    let batch = invoke(|_| async {
        let span = tracing::info_span!(
            "checkout",
            annotation.orderId = "o-1",
            annotation.count = 3u64,
            "annotation.bad key" = -1,
            items = 3,
            ok = true,
            ratio = 0.5,
            nan = f64::NAN,
            who = ?vec![1, 2],
            shown = %"display",
            late = field::Empty,
            annotation.paid = field::Empty,
            otel.name = field::Empty,
            otel.status_code = field::Empty,
        );
        span.record("items", 4);
        span.record("late", "later");
        span.record("annotation.paid", true);
        span.record("otel.name", "checkout o-1");
        span.record("otel.status_code", "ERROR");
        drop(span);
        Ok(json!({}))
    })
    .await;
    let span = named(&batch, "checkout o-1");
    assert_eq!(span.parent_id, batch.root().map(|r| r.span_id));
    assert_eq!(
        span.annotation("orderId"),
        Some(&AnnotationValue::String("o-1".into()))
    );
    assert_eq!(span.annotation("count"), Some(&AnnotationValue::Int(3)));
    assert_eq!(span.annotation("bad_key"), Some(&AnnotationValue::Int(-1)));
    assert_eq!(span.annotation("paid"), Some(&AnnotationValue::Bool(true)));
    assert_eq!(
        metadata(span, "items"),
        [&json!(4)],
        "recorded again: replaced"
    );
    assert_eq!(metadata(span, "ok"), [&json!(true)]);
    assert_eq!(metadata(span, "ratio"), [&json!(0.5)]);
    assert_eq!(metadata(span, "nan"), [&Value::Null]);
    assert_eq!(metadata(span, "who"), [&json!("[1, 2]")]);
    assert_eq!(metadata(span, "shown"), [&json!("display")]);
    assert_eq!(metadata(span, "late"), [&json!("later")]);
    assert!(metadata(span, "annotation.orderId").is_empty());
    assert!(span.outcome.fault);

    let docs = documents(&batch);
    let doc = &docs[0]["subsegments"][0];
    assert_eq!(doc["name"], "checkout o-1");
    assert_eq!(doc["fault"], true);
    assert_eq!(
        doc["annotations"],
        json!({"orderId": "o-1", "count": 3, "bad_key": -1, "paid": true})
    );
    assert_eq!(doc["metadata"]["tracing"]["items"], 4);
}

#[tokio::test]
async fn events_become_span_events_and_xray_metadata() {
    let batch = invoke(|_| async {
        tracing::warn!(attempt = 2u64, "retrying");
        async {
            tracing::info!(user = 7, ok = true, "hello {}", "world");
            tracing::debug!("filtered out by the bridge's INFO filter");
            tracing::warn!(target: "lambda_trace", "the crate's own log line: ignored");
            tracing::error!(target: "lambda_trace::export", "also ignored");
        }
        .instrument(tracing::info_span!("work"))
        .await;
        Ok(json!({}))
    })
    .await;
    let root = batch.root().unwrap();
    let work = named(&batch, "work");
    assert_eq!(root.events.len(), 1);
    assert_eq!(root.events[0].name, "retrying");
    assert_eq!(root.events[0].level, "WARN");
    assert_eq!(root.events[0].target, "tracing_bridge");
    assert_eq!(root.events[0].fields, [("attempt".to_string(), json!(2))]);
    assert_eq!(work.events.len(), 1, "{:?}", work.events);
    let hello = &work.events[0];
    assert_eq!(hello.name, "hello world");
    assert!(hello.unix_nanos >= work.start_unix_nanos && hello.unix_nanos <= work.end_unix_nanos);

    let docs = documents(&batch);
    let doc = &docs[0];
    let events = &doc["subsegments"][0]["metadata"]["tracing"]["events"];
    let event = &events[0];
    assert_eq!(event["message"], "hello world");
    assert_eq!(event["level"], "INFO");
    assert_eq!(event["target"], "tracing_bridge");
    assert_eq!(event["fields"], json!({"user": 7, "ok": true}));
    let time = event["time"].as_f64().unwrap();
    assert!((time - hello.unix_nanos as f64 / 1e9).abs() < 1e-5);
    assert_eq!(
        doc["metadata"]["tracing"]["events"][0]["message"],
        "retrying"
    );
}

#[tokio::test]
async fn events_past_the_cap_are_counted() {
    let batch = invoke(|_| async {
        for i in 0..(lambda_trace::span::MAX_SPAN_EVENTS + 5) {
            tracing::info!(i, "tick");
        }
        Ok(json!({}))
    })
    .await;
    let root = batch.root().unwrap();
    assert_eq!(root.events.len(), lambda_trace::span::MAX_SPAN_EVENTS);
    assert_eq!(root.dropped_events, 5);
    let docs = documents(&batch);
    assert_eq!(docs[0]["metadata"]["lambda_trace"]["dropped_events"], 5);
}

#[tokio::test]
async fn huge_field_values_are_cut_while_formatting() {
    const MAX: usize = lambda_trace::span::MAX_FIELD_CHARS;
    let batch = invoke(|_| async {
        let body = "é".repeat(3 * MAX);
        let numbers: Vec<u64> = (0..100_000).collect();
        tracing::info!(body = %body, numbers = ?numbers, "{}", "m".repeat(2 * MAX));
        let span = tracing::info_span!("work", payload = %"p".repeat(2 * MAX));
        span.in_scope(|| {});
        Ok(json!({}))
    })
    .await;
    let root = batch.root().unwrap();
    let event = &root.events[0];
    assert_eq!(event.name, "m".repeat(MAX), "the message");
    let field = |name: &str| {
        let (_, v) = event.fields.iter().find(|(n, _)| n == name).unwrap();
        v.as_str().unwrap().to_owned()
    };
    assert_eq!(field("body"), "é".repeat(MAX));
    assert_eq!(field("numbers").chars().count(), MAX);
    assert!(field("numbers").starts_with("[0, 1, 2"));
    let work = named(&batch, "work");
    assert_eq!(metadata(work, "payload"), [&json!("p".repeat(MAX))]);
}

#[test]
fn outside_an_invocation_nothing_is_recorded_and_nothing_panics() {
    let subscriber = tracing_subscriber::registry().with(TracingBridge::new());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("startup", annotation.phase = "init", late = field::Empty);
        let _entered = span.enter();
        span.record("late", 1);
        tracing::info!("booting");
        assert!(bridge::span_of(&span).is_none());
        assert!(lambda_trace::current().span_id().is_none());
        assert!(lambda_trace::current().span_id().is_none());
    });
    // Without any subscriber, or with another one, the lookups are safe too.
    assert!(bridge::span_of(&tracing::info_span!("none")).is_none());
    assert!(lambda_trace::current().span_id().is_none());
}

#[tokio::test]
async fn a_span_created_before_the_invocation_does_not_capture_its_children() {
    let exporter = InMemoryExporter::default();
    let _guard = tracing_subscriber::registry()
        .with(TracingBridge::new())
        .set_default();
    // Like the runtime's own per-invocation span: created outside, entered around the call.
    let outer = tracing::info_span!("Lambda runtime invoke");
    let mut svc = trace_layer(&exporter).layer(service_fn(|_: LambdaEvent<Value>| async {
        let inner = tracing::info_span!("inner");
        let bridged = bridge::span_of(&inner).expect("bridged");
        let _entered = inner.enter();
        assert_eq!(lambda_trace::current().span_id(), bridged.span_id());
        Ok::<_, Error>(json!({}))
    }));
    let fut = svc.ready().await.unwrap().call(event("req-1"));
    fut.instrument(outer).await.unwrap();
    let batch = exporter.take().remove(0);
    assert_eq!(names(&batch), ["orders-fn", "inner"]);
    assert_eq!(batch.spans[1].parent_id, Some(batch.spans[0].span_id));
}

#[tokio::test]
async fn concurrent_invocations_keep_their_own_spans() {
    let _guard = tracing_subscriber::registry()
        .with(TracingBridge::new())
        .set_default();
    let exporter = InMemoryExporter::default();
    let handler = |e: LambdaEvent<Value>| async move {
        let id = e.context.request_id.clone();
        for step in 0..3 {
            let span = tracing::info_span!("step", request = %id, step);
            async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                tracing::info!(request = %id, "working");
                checkout(step).await;
            }
            .instrument(span)
            .await;
        }
        Ok::<_, Error>(json!({}))
    };
    let layer = trace_layer(&exporter);
    let mut a = layer.layer(service_fn(handler));
    let mut b = layer.layer(service_fn(handler));
    let (ra, rb) = tokio::join!(a.ready().await.unwrap().call(event("req-a")), async {
        tokio::task::yield_now().await;
        b.ready().await.unwrap().call(event("req-b")).await
    });
    ra.unwrap();
    rb.unwrap();
    let batches = exporter.take();
    assert_eq!(batches.len(), 2);
    assert_ne!(batches[0].trace_id, batches[1].trace_id);
    for batch in &batches {
        let root = batch.root().unwrap();
        let request = match root.attribute("faas.invocation_id") {
            Some(lambda_trace::span::AttributeValue::String(s)) => s.to_string(),
            other => panic!("{other:?}"),
        };
        // 3 × (step, checkout, price, GET rates) under the root.
        assert_eq!(batch.spans.len(), 1 + 3 * 4, "{:?}", names(batch));
        let ids: Vec<SpanId> = batch.spans.iter().map(|s| s.span_id).collect();
        for span in &batch.spans[1..] {
            assert!(
                ids.contains(&span.parent_id.unwrap()),
                "parent in the batch"
            );
            if span.name == "step" {
                assert_eq!(span.parent_id, Some(root.span_id));
                assert_eq!(metadata(span, "request"), [&json!(request)]);
                assert_eq!(span.events.len(), 1);
                assert_eq!(span.events[0].fields[0].1, json!(request));
            }
        }
        documents(batch);
    }
}

#[tokio::test]
async fn a_parent_from_a_flushed_invocation_is_never_used() {
    let _guard = tracing_subscriber::registry()
        .with(TracingBridge::new())
        .set_default();
    let exporter = InMemoryExporter::default();
    let kept = std::sync::Mutex::new(None::<tracing::Span>);
    let mut svc = trace_layer(&exporter).layer(service_fn(|_: LambdaEvent<Value>| async {
        let mut kept = kept.lock().unwrap();
        match kept.as_ref() {
            // First invocation: keep a bridged span beyond the invocation's end.
            None => *kept = Some(tracing::info_span!("kept")),
            // Second: a child of it must hang under this invocation's span.
            Some(old) => drop(tracing::info_span!(parent: old, "child of a stale parent")),
        }
        Ok::<_, Error>(json!({}))
    }));
    for request in ["req-1", "req-2"] {
        svc.ready()
            .await
            .unwrap()
            .call(event(request))
            .await
            .unwrap();
    }
    let batches = exporter.take();
    assert_eq!(names(&batches[0]), ["orders-fn", "kept"]);
    assert!(batches[0].spans[1].unfinished, "still open at flush");
    assert_eq!(names(&batches[1]), ["orders-fn", "child of a stale parent"]);
    assert_eq!(
        batches[1].spans[1].parent_id,
        Some(batches[1].spans[0].span_id)
    );
}
