//! The span API inside a recording invocation: annotation rules and limits, metadata namespaces,
//! error causes, spans after the flush.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

use serde_json::json;

use super::recorder::{Recorder, Settings};
use super::{
    AnnotationValue, AttributeValue, HttpRequestInfo, MAX_ATTRIBUTE_CHARS,
    MAX_EXCEPTION_MESSAGE_CHARS, MAX_METADATA_BYTES, MAX_METADATA_DEPTH, MAX_METADATA_ENTRIES,
    MAX_SPAN_ATTRIBUTES, MAX_SPAN_LINKS, MAX_SPAN_NAME_CHARS, Outcome, Resource, RootPlacement,
    Span, SpanKind,
};
use crate::context::{Sampling, TraceContext};
use crate::propagation::CompositePropagator;

fn recorder(max_annotations: usize) -> Arc<Recorder> {
    let resource = Resource {
        service_name: "orders".into(),
        ..Resource::default()
    };
    let settings = Settings {
        propagator: Arc::new(CompositePropagator::default()),
        resource: Arc::new(resource),
        max_spans: 100,
        max_annotations,
        limits: crate::span::SpanLimits::default(),
        capture_query: false,
    };
    Arc::new(Recorder::new(
        Arc::new(settings),
        TraceContext::new_root(Sampling::Sampled),
        true,
    ))
}

fn root(recorder: &Arc<Recorder>) -> Span {
    Span::start_in(
        Arc::clone(recorder),
        None,
        0,
        "root".into(),
        SpanKind::Server,
    )
}

#[test]
fn annotations_are_sanitized_cut_and_limited_per_trace() {
    let rec = recorder(50);
    let span = root(&rec);
    let child = span.child("child");
    span.annotate("order-id", "o-1");
    span.annotate("long", "x".repeat(5000));
    span.annotate("nan", f64::NAN);
    span.annotate("order-id", "o-2"); // replaces, takes no new slot
    span.annotate(String::from("built key.é"), 1); // owned and invalid: sanitized
    span.annotate(String::from("built_key"), 2); // owned and valid: kept
    for i in 0..60 {
        child.annotate(format!("k{i}"), i);
    }
    let batch = rec.finish(RootPlacement::Segment, super::now_unix_nanos());
    let (root, child) = (&batch.spans[0], &batch.spans[1]);
    assert_eq!(
        root.annotations[0],
        ("order_id".into(), AnnotationValue::String("o-2".into()))
    );
    match &root.annotations[1].1 {
        AnnotationValue::String(s) => assert_eq!(s.chars().count(), 1000),
        other => panic!("{other:?}"),
    }
    assert_eq!(root.annotations[2].1, AnnotationValue::String("NaN".into()));
    assert_eq!(
        root.annotations[3],
        ("built_key__".into(), AnnotationValue::Int(1))
    );
    assert_eq!(
        root.annotations[4],
        ("built_key".into(), AnnotationValue::Int(2))
    );
    assert_eq!(
        root.annotations.len() + child.annotations.len(),
        50,
        "at most 50 per trace, across spans"
    );
}

#[test]
fn metadata_defaults_to_the_service_namespace_and_refuses_aws_ones() {
    let rec = recorder(50);
    let span = root(&rec);
    span.metadata("order", json!({"items": 2}));
    span.metadata_in("billing", "total", 9.5);
    span.metadata_in("AWS.internal", "x", 1);
    let batch = rec.finish(RootPlacement::Segment, super::now_unix_nanos());
    let entries: Vec<(&str, &str)> = batch.spans[0]
        .metadata
        .iter()
        .map(|m| (m.namespace.as_str(), m.key.as_str()))
        .collect();
    assert_eq!(entries, [("orders", "order"), ("billing", "total")]);
}

#[test]
fn metadata_keys_replace_and_entries_and_bytes_are_capped_per_span() {
    let rec = recorder(50);
    let span = root(&rec);
    span.metadata("k", 1);
    span.metadata("k", 2); // replaces: one key, one entry
    for i in 0..2 * MAX_METADATA_ENTRIES {
        span.metadata_in("many", &format!("k{i}"), i);
    }
    span.metadata("k", 3); // replacing still works when the span is full
    let child = span.child("big");
    let half = "x".repeat(MAX_METADATA_BYTES / 2);
    child.metadata_in("b", "one", &half);
    child.metadata_in("b", "two", &half); // over the byte budget: dropped
    child.metadata_in("b", "one", "small"); // frees room
    child.metadata_in("b", "two", &half);
    child.metadata_in("b", "huge", "y".repeat(10 * MAX_METADATA_BYTES));
    let mut deep = json!(1);
    for _ in 0..=MAX_METADATA_DEPTH {
        deep = json!([deep]);
    }
    child.metadata_in("b", "deep", &deep); // one level too deep: kept as its JSON text
    let batch = rec.finish(RootPlacement::Segment, super::now_unix_nanos());

    let root = &batch.spans[0];
    assert_eq!(root.metadata.len(), MAX_METADATA_ENTRIES);
    assert_eq!(
        (root.metadata[0].key.as_str(), &root.metadata[0].value),
        ("k", &json!(3))
    );
    let child = &batch.spans[1];
    let keys: Vec<(&str, usize)> = child
        .metadata
        .iter()
        .map(|m| (m.key.as_str(), m.value.to_string().len()))
        .collect();
    let deep_text = 2 * (MAX_METADATA_DEPTH + 1) + 1;
    assert_eq!(
        keys,
        [
            ("one", 7),
            ("two", MAX_METADATA_BYTES / 2 + 2),
            ("deep", deep_text + 2)
        ]
    );
    assert!(child.metadata[2].value.is_string());
}

#[test]
fn exceptions_names_attributes_and_links_are_capped() {
    #[derive(Debug)]
    struct Loud(String);
    impl fmt::Display for Loud {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }
    impl Error for Loud {}

    let rec = recorder(50);
    let span = root(&rec);
    span.record_error(&Loud("é".repeat(3 * MAX_EXCEPTION_MESSAGE_CHARS)));
    let named = span.child("n".repeat(10 * MAX_SPAN_NAME_CHARS));
    let cx = span.context().unwrap();
    for i in 0..2 * MAX_SPAN_LINKS {
        span.add_link(&cx);
        span.set_attribute((format!("a{i}").into(), AttributeValue::Int(1)));
    }
    span.set_attribute(("a0".into(), AttributeValue::Int(2))); // replacing still works
    let long = "v".repeat(2 * MAX_ATTRIBUTE_CHARS);
    named.set_attribute(("k".into(), AttributeValue::String(long.clone().into())));
    named.set_http_request(HttpRequestInfo::new("GET", long.clone()).with_user_agent(long));
    let batch = rec.finish(RootPlacement::Segment, super::now_unix_nanos());

    let root = &batch.spans[0];
    let message = &root.exceptions[0].message;
    assert_eq!(message.chars().count(), MAX_EXCEPTION_MESSAGE_CHARS);
    assert!(
        message.capacity() < 3 * MAX_EXCEPTION_MESSAGE_CHARS,
        "memory given back"
    );
    let named = &batch.spans[1];
    assert_eq!(named.name.len(), MAX_SPAN_NAME_CHARS);
    match named.attribute("k") {
        Some(AttributeValue::String(v)) => assert_eq!(v.len(), MAX_ATTRIBUTE_CHARS),
        other => panic!("{other:?}"),
    }
    let request = named.http_request.as_ref().unwrap();
    assert_eq!(
        request.url.as_ref().map(String::len),
        Some(MAX_ATTRIBUTE_CHARS)
    );
    assert_eq!(
        request.user_agent.as_ref().map(String::len),
        Some(MAX_ATTRIBUTE_CHARS)
    );
    assert_eq!(root.links.len(), MAX_SPAN_LINKS);
    assert_eq!(root.attributes.len(), MAX_SPAN_ATTRIBUTES);
    assert_eq!(root.attribute("a0"), Some(&AttributeValue::Int(2)));
}

#[derive(Debug)]
struct Outer(Inner);
#[derive(Debug)]
struct Inner;
impl fmt::Display for Outer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("order failed")
    }
}
impl fmt::Display for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stock service unavailable")
    }
}
impl Error for Outer {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}
impl Error for Inner {}

#[test]
fn errors_record_their_chain_as_the_cause() {
    let rec = recorder(50);
    let span = root(&rec);
    let call = span.child("call");
    span.record_error(&Outer(Inner));
    call.record_error_as(
        &Inner,
        Outcome {
            error: true,
            ..Outcome::default()
        },
    );
    let batch = rec.finish(RootPlacement::Segment, super::now_unix_nanos());
    let messages: Vec<&str> = batch.spans[0]
        .exceptions
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(messages, ["order failed", "stock service unavailable"]);
    assert!(batch.spans[0].outcome.fault);
    assert!(batch.spans[1].outcome.error && !batch.spans[1].outcome.fault);
}

#[test]
fn changes_after_the_flush_are_ignored_and_new_spans_not_recorded() {
    let rec = recorder(50);
    let span = root(&rec);
    let batch = rec.finish(RootPlacement::Segment, super::now_unix_nanos());
    assert_eq!(batch.spans.len(), 1);
    span.annotate("late", true);
    let late_child = span.child("late");
    assert!(!span.is_recording() && !late_child.is_recording());
    assert!(
        rec.finish(RootPlacement::Segment, super::now_unix_nanos())
            .spans
            .is_empty()
    );
    // Still usable for propagation: the context is there.
    assert_eq!(late_child.trace_id(), Some(rec.trace_id()));
}

#[test]
fn the_span_limit_counts_what_it_drops() {
    let rec = recorder(50);
    let span = root(&rec);
    for i in 0..150 {
        span.child(format!("c{i}")).end();
    }
    let batch = rec.finish(RootPlacement::Segment, super::now_unix_nanos());
    assert_eq!(batch.spans.len(), 100);
    assert_eq!(batch.dropped_spans, 51);
}

#[test]
fn a_guard_ends_its_span_when_dropped() {
    let rec = recorder(50);
    let span = root(&rec);
    let result: Result<(), &str> = (|| {
        let step = span.child_guard("step");
        step.annotate("phase", 1);
        Err("early return")?;
        Ok(())
    })();
    assert!(result.is_err());
    let batch = rec.finish(RootPlacement::Segment, super::now_unix_nanos());
    assert_eq!(batch.spans[1].name, "step");
    assert!(
        !batch.spans[1].unfinished,
        "ended by the guard, not by the flush"
    );
}
