//! Layer tests of faults (issue #7): a handler still running at its deadline, a daemon address
//! that is garbage or unreachable, 10,000 spans in one invocation. In every case the handler's
//! response is unchanged.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};

use super::timeout::{TIMED_OUT_ANNOTATION, TIMEOUT_EXCEPTION_TYPE};
use super::{FlushMode, TraceLayer};
use crate::Config;
use crate::export::{Export, Exporter, InMemoryExporter};
use crate::span::{AnnotationValue, SpanBatch, SpanRecord};

fn config(vars: &[(&'static str, &'static str)]) -> Config {
    let vars = vars.to_vec();
    Config::from_lookup(move |k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
            .or_else(|| (k == "AWS_LAMBDA_FUNCTION_NAME").then(|| "orders-fn".into()))
    })
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A context whose deadline is `in_ms` from now (`None`: unknown).
fn context(in_ms: Option<u64>) -> Context {
    let mut cx = Context::default();
    cx.request_id = "req-1".into();
    cx.deadline = in_ms.map_or(0, |ms| now_ms() + ms);
    cx
}

fn span<'a>(batch: &'a SpanBatch, name: &str) -> &'a SpanRecord {
    batch
        .spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {:?}", names(batch)))
}

fn names(batch: &SpanBatch) -> Vec<&str> {
    batch.spans.iter().map(|s| s.name.as_ref()).collect()
}

fn timed_out(span: &SpanRecord) -> bool {
    span.outcome.fault
        && span.unfinished
        && span.exceptions.first().and_then(|e| e.type_name.as_deref())
            == Some(TIMEOUT_EXCEPTION_TYPE)
}

/// What a slow handler saw of the exporter when it woke up.
type Seen = Arc<Mutex<Option<Vec<SpanBatch>>>>;

/// A handler that opens spans, then sleeps `sleep` inside a child span, then records more (which
/// must be ignored after a timeout) and answers `{"done": true}`. When it wakes, it notes what
/// `exporter` had received by then.
fn slow_handler(
    exporter: InMemoryExporter,
    sleep: Duration,
    seen: Seen,
) -> impl Service<LambdaEvent<Value>, Response = Value, Error = Error> + Clone {
    service_fn(move |_: LambdaEvent<Value>| {
        let (exporter, seen) = (exporter.clone(), Arc::clone(&seen));
        async move {
            let span = crate::current();
            span.annotate("orderId", "o-1");
            span.in_child("finished", async {}).await;
            let _open = span.child("forgotten");
            span.in_child("sleeping", tokio::time::sleep(sleep)).await;
            *seen.lock().unwrap() = Some(exporter.batches());
            span.annotate("late", true);
            span.child("late-child").end();
            Ok::<_, Error>(json!({"done": true}))
        }
    })
}

#[tokio::test(start_paused = true)]
async fn a_handler_still_running_at_its_deadline_is_flushed_as_timed_out() {
    let exporter = InMemoryExporter::default();
    let seen = Seen::default();
    let handler = slow_handler(exporter.clone(), Duration::from_secs(10), Arc::clone(&seen));
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter.clone())
        .build();
    let started = tokio::time::Instant::now();
    let out = layer
        .layer(handler)
        .oneshot(LambdaEvent::new(json!({}), context(Some(1000))))
        .await
        .unwrap();
    assert_eq!(out, json!({"done": true}), "the handler's own output");
    assert!(
        started.elapsed() >= Duration::from_secs(10),
        "the handler ran to its end"
    );

    let batches = seen.lock().unwrap().take().expect("the handler woke up");
    assert_eq!(batches.len(), 1, "exported while the handler was running");
    assert_eq!(exporter.batches().len(), 1, "no second export");
    let batch = &batches[0];
    assert_eq!(
        names(batch),
        ["orders-fn", "finished", "forgotten", "sleeping"]
    );
    let root = &batch.spans[0];
    assert!(timed_out(root), "{root:?}");
    assert_eq!(
        root.annotation(TIMED_OUT_ANNOTATION),
        Some(&AnnotationValue::Bool(true))
    );
    assert_eq!(
        root.annotation("orderId"),
        Some(&AnnotationValue::String("o-1".into()))
    );
    assert!(root.annotation("late").is_none(), "late data is ignored");
    let message = &root.exceptions[0].message;
    assert!(message.starts_with("Task timed out after "), "{message}");
    assert!(
        message.contains("before the invocation deadline"),
        "{message}"
    );
    assert!(timed_out(span(batch, "forgotten")));
    assert!(timed_out(span(batch, "sleeping")));
    let finished = span(batch, "finished");
    assert!(!finished.unfinished && !finished.outcome.fault && finished.exceptions.is_empty());
    assert!(
        span(batch, "sleeping")
            .annotation(TIMED_OUT_ANNOTATION)
            .is_none()
    );
}

#[tokio::test(start_paused = true)]
async fn handlers_that_finish_in_time_are_not_timed_out() {
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter.clone())
        .build();
    for sleep in [
        Duration::ZERO,
        Duration::from_millis(1),
        Duration::from_millis(800),
    ] {
        let handler = slow_handler(exporter.clone(), sleep, Seen::default());
        let out = layer
            .layer(handler)
            .oneshot(LambdaEvent::new(json!({}), context(Some(1000))))
            .await
            .unwrap();
        assert_eq!(out, json!({"done": true}));
        let batches = exporter.take();
        assert_eq!(batches.len(), 1);
        let root = &batches[0].spans[0];
        assert!(
            !root.outcome.fault && !root.unfinished,
            "{sleep:?}: {root:?}"
        );
        assert!(root.annotation(TIMED_OUT_ANNOTATION).is_none());
        assert_eq!(root.annotation("late"), Some(&AnnotationValue::Bool(true)));
    }
}

#[tokio::test(start_paused = true)]
async fn no_watch_without_a_deadline_a_recorded_trace_or_a_margin() {
    for (deadline, sample_rate, margin) in [
        (None, 1.0, Duration::from_millis(100)),
        (Some(1000), 0.0, Duration::from_millis(100)),
        (Some(1000), 1.0, Duration::ZERO),
    ] {
        let exporter = InMemoryExporter::default();
        let seen = Seen::default();
        let handler = slow_handler(exporter.clone(), Duration::from_secs(5), Arc::clone(&seen));
        let out = TraceLayer::builder()
            .config(config(&[]))
            .sample_rate(sample_rate)
            .timeout_margin(margin)
            .exporter(exporter.clone())
            .build()
            .layer(handler)
            .oneshot(LambdaEvent::new(json!({}), context(deadline)))
            .await
            .unwrap();
        assert_eq!(out, json!({"done": true}));
        let seen = seen.lock().unwrap().take().unwrap();
        assert!(
            seen.is_empty(),
            "nothing exported before the handler finished"
        );
        let batches = exporter.take();
        if sample_rate > 0.0 {
            assert_eq!(batches.len(), 1);
            assert!(!batches[0].spans[0].outcome.fault);
        } else {
            assert!(batches.is_empty());
        }
    }
}

/// Completes each export after `delay` (tokio time), noting that it did.
#[derive(Debug, Default)]
struct Slow {
    delay: Duration,
    batches: InMemoryExporter,
    done: Arc<AtomicUsize>,
}

impl Exporter for Slow {
    fn export(&self, batch: SpanBatch) -> Export {
        let _ = self.batches.export(batch);
        let (delay, done) = (self.delay, Arc::clone(&self.done));
        Export::Pending(Box::pin(async move {
            tokio::time::sleep(delay).await;
            done.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }))
    }
}

#[tokio::test(start_paused = true)]
async fn a_hanging_export_of_a_timed_out_invocation_is_bounded_by_the_deadline() {
    let slow = Slow {
        delay: Duration::from_secs(3600),
        ..Slow::default()
    };
    let exporter = slow.batches.clone();
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(slow)
        .build();
    let seen = Seen::default();
    let handler = slow_handler(exporter.clone(), Duration::from_secs(10), Arc::clone(&seen));
    let started = tokio::time::Instant::now();
    let out = layer
        .layer(handler)
        .oneshot(LambdaEvent::new(json!({}), context(Some(1000))))
        .await
        .unwrap();
    assert_eq!(out, json!({"done": true}));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(10) && took < Duration::from_secs(11),
        "{took:?}"
    );
    assert_eq!(seen.lock().unwrap().take().unwrap().len(), 1);
    assert_eq!(exporter.batches().len(), 1, "no second export");
    assert_eq!(
        layer.shared.failures.total(),
        1,
        "the abandoned export is reported"
    );
}

#[tokio::test(start_paused = true)]
async fn a_handler_finishing_during_the_timed_out_export_waits_for_it() {
    let slow = Slow {
        delay: Duration::from_millis(40),
        ..Slow::default()
    };
    let (exporter, done) = (slow.batches.clone(), Arc::clone(&slow.done));
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(slow)
        .build();
    // The timer fires at ~900 ms; the handler finishes at 910 ms, the export at ~940 ms.
    let handler = slow_handler(
        exporter.clone(),
        Duration::from_millis(910),
        Seen::default(),
    );
    let out = layer
        .layer(handler)
        .oneshot(LambdaEvent::new(json!({}), context(Some(1000))))
        .await
        .unwrap();
    assert_eq!(out, json!({"done": true}));
    assert_eq!(
        done.load(Ordering::SeqCst),
        1,
        "the response waited for the export"
    );
    assert!(timed_out(&exporter.take()[0].spans[0]));
    assert_eq!(layer.shared.failures.total(), 0);
}

#[tokio::test(start_paused = true)]
async fn after_response_mode_never_defers_the_timed_out_export() {
    let slow = Slow {
        delay: Duration::from_millis(10),
        ..Slow::default()
    };
    let (exporter, done) = (slow.batches.clone(), Arc::clone(&slow.done));
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .flush_mode(crate::config::FlushMode::AfterResponse)
        .exporter(slow)
        .build();
    let _installed = layer.after_response_layer();
    let done_when_awake = Arc::new(AtomicBool::new(false));
    let (d, seen) = (Arc::clone(&done), Arc::clone(&done_when_awake));
    let handler = service_fn(move |_: LambdaEvent<Value>| {
        let (d, seen) = (Arc::clone(&d), Arc::clone(&seen));
        async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            seen.store(d.load(Ordering::SeqCst) == 1, Ordering::SeqCst);
            Ok::<_, Error>(json!(1))
        }
    });
    let out = layer
        .layer(handler)
        .oneshot(LambdaEvent::new(json!({}), context(Some(1000))))
        .await
        .unwrap();
    assert_eq!(out, json!(1));
    assert!(
        done_when_awake.load(Ordering::SeqCst),
        "exported while the handler ran"
    );
    assert!(format!("{:?}", layer.shared.deferred).contains("pending: 0"));
    assert_eq!(exporter.batches().len(), 1);
}

/// Panics in `export` itself (`in_export`) or in the future it returns.
#[derive(Debug)]
struct Panicking {
    in_export: bool,
}

impl Exporter for Panicking {
    fn export(&self, _batch: SpanBatch) -> Export {
        assert!(!self.in_export, "exporter bug in export");
        Export::Pending(Box::pin(async { panic!("exporter bug in its future") }))
    }
}

#[tokio::test]
async fn an_exporter_that_panics_is_a_failed_export_not_the_functions_panic() {
    for in_export in [true, false] {
        for mode in [FlushMode::BeforeResponse, FlushMode::AfterResponse] {
            let layer = TraceLayer::builder()
                .config(config(&[]))
                .flush_mode(mode)
                .exporter(Panicking { in_export })
                .build();
            let runtime_layer = layer.after_response_layer();
            let mut svc = layer.layer(service_fn(|e: LambdaEvent<Value>| async move {
                Ok::<_, Error>(e.payload)
            }));
            let event = LambdaEvent::new(json!({"n": 1}), context(Some(60_000)));
            let response = svc.ready().await.unwrap().call(event).await.unwrap();
            assert_eq!(
                response,
                json!({"n": 1}),
                "{mode:?}, in export: {in_export}"
            );
            // In after-response mode the export runs in the runtime layer's future.
            let runtime =
                runtime_layer.layer(service_fn(|_: lambda_runtime::LambdaInvocation| async {
                    Ok::<(), Error>(())
                }));
            let (parts, _) = http::Response::new(()).into_parts();
            let invocation = lambda_runtime::LambdaInvocation {
                parts,
                body: Default::default(),
                context: context(Some(60_000)),
            };
            runtime
                .oneshot(invocation)
                .await
                .expect("the runtime layer does not fail");
            assert_eq!(
                layer.shared.failures.total(),
                1,
                "{mode:?}, in export: {in_export}"
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_panic_after_the_timeout_still_reaches_the_runtime() {
    let exporter = InMemoryExporter::default();
    let svc = TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter.clone())
        .build()
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            if true {
                panic!("late panic");
            }
            Ok::<Value, Error>(Value::Null)
        }));
    let joined = tokio::spawn(svc.oneshot(LambdaEvent::new(json!({}), context(Some(1000))))).await;
    let panic = joined.unwrap_err().into_panic();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"late panic"));
    let batches = exporter.take();
    assert_eq!(batches.len(), 1);
    let root = &batches[0].spans[0];
    assert!(timed_out(root));
    assert_eq!(root.exceptions.len(), 1, "the late panic is not recorded");
}

#[test]
fn without_a_time_driver_timeouts_are_not_watched() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter.clone())
        .build();
    for _ in 0..2 {
        let svc = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
            tokio::task::yield_now().await;
            Ok::<_, Error>(json!("ok"))
        }));
        let out = runtime
            .block_on(svc.oneshot(LambdaEvent::new(json!({}), context(Some(1000)))))
            .unwrap();
        assert_eq!(out, json!("ok"));
        assert!(!exporter.take()[0].spans[0].outcome.fault);
    }
    assert!(layer.shared.no_timer.load(Ordering::Relaxed));
}

// ---------------------------------------------------------------------------------------------
// Log lines (a minimal thread-local subscriber: these tests poll on the test's thread)

#[allow(unreachable_pub, dead_code)]
#[path = "../../tests/support/logs.rs"]
mod logs;
use logs::Logs;

async fn echo_three_times(layer: &TraceLayer) {
    for n in 0..3 {
        let svc = layer.layer(service_fn(|event: LambdaEvent<Value>| async move {
            crate::current().in_child("work", async {}).await;
            Ok::<_, Error>(event.payload)
        }));
        let payload = json!({"n": n, "text": "žluťoučký"});
        let out = svc
            .oneshot(LambdaEvent::new(payload.clone(), context(Some(30_000))))
            .await
            .unwrap();
        assert_eq!(out, payload);
    }
}

#[tokio::test]
async fn a_garbage_daemon_address_warns_once_and_changes_nothing() {
    for address in [
        "garbage",
        "udp:",
        "127.0.0.1:0",
        "tcp:127.0.0.1:2000",
        "no such host.invalid:2000",
        "\u{1b}[31m:2000",
    ] {
        let logs = Logs::default();
        let _guard = logs.capture();
        let layer = TraceLayer::builder()
            .config(Config::from_lookup(|k| {
                (k == "AWS_XRAY_DAEMON_ADDRESS").then(|| address.to_string())
            }))
            .build();
        echo_three_times(&layer).await;
        assert_eq!(
            logs.lines_containing("X-Ray daemon exporter unavailable"),
            1,
            "{address:?}"
        );
        assert_eq!(logs.lines_containing("\u{1b}"), 0, "escaped in the log");
        assert_eq!(
            layer.shared.failures.total(),
            0,
            "spans dropped, not failed"
        );
    }
}

#[tokio::test]
async fn an_unreachable_daemon_costs_at_most_one_log_line() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let logs = Logs::default();
    let _guard = logs.capture();
    let layer = TraceLayer::builder()
        .config(Config::from_lookup(move |k| {
            (k == "AWS_XRAY_DAEMON_ADDRESS").then(|| closed.clone())
        }))
        .build();
    let started = std::time::Instant::now();
    echo_three_times(&layer).await;
    echo_three_times(&layer).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    // The kernel may report the closed port (ICMP) on a later send; that is one line at most.
    assert!(logs.lines_containing("trace export failed") <= 1);
    assert_eq!(logs.lines_containing("unavailable"), 0);
}

#[tokio::test]
async fn ten_thousand_spans_are_capped_and_the_overflow_is_in_the_trace() {
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter.clone())
        .build();
    let svc = layer.layer(service_fn(|event: LambdaEvent<Value>| async move {
        let span = crate::current();
        for i in 0..10_000 {
            let child = span.child(format!("step-{i}"));
            child.annotate("i", i);
            child.end();
        }
        Ok::<_, Error>(event.payload)
    }));
    let out = svc
        .oneshot(LambdaEvent::new(json!({"n": 1}), context(None)))
        .await
        .unwrap();
    assert_eq!(out, json!({"n": 1}));
    let batch = exporter.take().remove(0);
    assert_eq!(batch.spans.len(), 1000, "the default limit, root included");
    assert_eq!(batch.dropped_spans, 9_001);

    let mut docs = Vec::new();
    crate::xray::encode_batch(&batch, &mut docs);
    let docs: Vec<Value> = docs
        .iter()
        .map(|d| {
            assert!(d.len() <= crate::xray::MAX_DOCUMENT_BYTES);
            serde_json::from_slice(d).unwrap()
        })
        .collect();
    assert!(docs.len() > 1, "1,000 spans do not fit one document");
    let root_id = batch.spans[0].span_id.to_string();
    let root = docs.iter().find(|d| d["id"] == root_id.as_str()).unwrap();
    assert_eq!(root["metadata"]["lambda_trace"]["dropped_spans"], 9_001);
    let mut ids = Vec::new();
    for d in &docs {
        collect_ids(d, &mut ids);
    }
    ids.sort();
    let mut expected: Vec<String> = batch.spans.iter().map(|s| s.span_id.to_string()).collect();
    expected.sort();
    assert_eq!(
        ids, expected,
        "every recorded span is in exactly one document"
    );
}

fn collect_ids(doc: &Value, out: &mut Vec<String>) {
    out.push(doc["id"].as_str().unwrap().to_string());
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        collect_ids(sub, out);
    }
}

/// Panics in `charge`, two frames below the handler.
#[inline(never)]
fn charge(amount: u32) -> u32 {
    if amount > 0 {
        panic!("card declined");
    }
    amount
}

#[tokio::test]
async fn a_panic_is_recorded_with_its_stack() {
    let exporter = InMemoryExporter::default();
    let svc = TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter.clone())
        .build()
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            Ok::<Value, Error>(json!(charge(7)))
        }));
    let joined = tokio::spawn(svc.oneshot(LambdaEvent::new(json!({}), context(None)))).await;
    assert!(joined.unwrap_err().is_panic());
    let batches = exporter.take();
    let exception = &batches[0].spans[0].exceptions[0];
    assert_eq!(exception.message, "card declined");
    // A test binary has symbols: the first frame is the one that panicked, and the stack stops
    // at the layer (no runtime frames).
    let first = &exception.stack[0];
    assert!(
        first.label.contains("fault_tests::charge"),
        "{:#?}",
        exception.stack
    );
    assert!(
        first
            .path
            .as_deref()
            .is_some_and(|p| p.ends_with("fault_tests.rs"))
    );
    assert!(first.line.is_some());
    assert!(exception.stack.len() <= crate::layer::panic_stack::MAX_STACK_FRAMES);
    assert!(
        exception
            .stack
            .iter()
            .all(|f| !f.label.contains("tokio::runtime")),
        "{:#?}",
        exception.stack
    );
    // And a panic outside an invocation leaves nothing behind for the next one.
    let _ = std::panic::catch_unwind(|| charge(1));
    assert!(super::panic_stack::take().is_empty());
}
