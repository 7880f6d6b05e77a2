//! 10,000 spans in one invocation: the memory an invocation holds stays bounded by the span
//! limit (`LAMBDA_TRACE_MAX_SPANS`), measured with a counting global allocator, and the spans
//! over it are counted in the batch (`dropped_spans`, which the translations write into the
//! trace). The response is unchanged.
//!
//! One test in its own binary: the allocator counts the whole process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::export::InMemoryExporter;
use lambda_trace::{Config, TraceLayer};
use serde_json::json;
use tower::{Layer, ServiceExt};

/// Bytes allocated and not yet freed.
static LIVE: AtomicIsize = AtomicIsize::new(0);

struct Counting;

// SAFETY: every call is forwarded to `System` unchanged; only a counter is updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is `System.alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is `System.realloc`'s.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const LIMIT: usize = 500;

#[test]
fn ten_thousand_spans_hold_no_more_memory_than_the_limit() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(Config::from_lookup(|k| {
            (k == "AWS_LAMBDA_FUNCTION_NAME").then(|| "orders-fn".to_string())
        }))
        .max_spans(LIMIT)
        .exporter(exporter.clone())
        .build();
    // Live bytes after 2 × LIMIT spans and after 10,000, as the handler saw them.
    let marks = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&marks);
    let handler = service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let seen = Arc::clone(&seen);
        async move {
            let span = lambda_trace::current();
            for i in 0..10_000usize {
                let child = span.child(format!("step-{i}"));
                child.annotate("i", i);
                child.metadata("payload", json!({"i": i, "text": "x".repeat(100)}));
                child.end();
                if i + 1 == 2 * LIMIT || i + 1 == 10_000 {
                    seen.lock().unwrap().push(LIVE.load(Ordering::Relaxed));
                }
            }
            Ok::<_, Error>(event.payload)
        }
    });
    let mut cx = Context::default();
    cx.request_id = "req-1".into();
    let out = runtime
        .block_on(
            layer
                .layer(handler)
                .oneshot(LambdaEvent::new(json!({"n": 1}), cx)),
        )
        .unwrap();
    assert_eq!(out, json!({"n": 1}), "the handler's own output");

    let marks = marks.lock().unwrap().clone();
    let growth = marks[1] - marks[0];
    assert!(
        growth < 16 * 1024,
        "9,000 spans over the limit grew the heap by {growth} bytes"
    );
    let batch = exporter.take().remove(0);
    assert_eq!(batch.spans.len(), LIMIT);
    assert_eq!(batch.dropped_spans, 10_001 - LIMIT);
    let mut docs = Vec::new();
    lambda_trace::xray::encode_batch(&batch, &mut docs);
    let root_id = batch.spans[0].span_id.to_string();
    let root = docs
        .iter()
        .map(|d| serde_json::from_slice::<serde_json::Value>(d).unwrap())
        .find(|d| d["id"] == root_id.as_str())
        .expect("the invocation span's document");
    assert_eq!(
        root["metadata"]["lambda_trace"]["dropped_spans"],
        10_001 - LIMIT
    );
}
