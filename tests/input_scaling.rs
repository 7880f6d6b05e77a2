//! No quadratic time on hostile input (issue #7): the work for an input of size `n` and `8n` is
//! compared, and a ratio near 64 (what a quadratic step gives) fails.
//!
//! Timing on a shared 2-core machine is noisy, so the time is the test thread's **CPU time**
//! (where Linux reports it: other processes taking the CPU do not count), each side is the
//! **minimum** over several rounds of the time per call (each round repeats the call for at
//! least [`ROUND`]), and the bound is generous: under [`MAX_RATIO`] for 8× the input, where
//! linear work gives about 8 and quadratic work about 64.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use http::{HeaderMap, HeaderName, HeaderValue};
use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::carrier::from_event;
use lambda_trace::export::InMemoryExporter;
use lambda_trace::propagation::{CompositePropagator, HeaderExtractor, Propagator, XrayHeader};
use lambda_trace::span::AttributeValue;
use lambda_trace::{TraceLayer, xray};
use serde_json::{Map, Value, json};
use tower::{Layer, Service, ServiceExt};

/// Work for 8× the input may take at most this many times as long.
const MAX_RATIO: f64 = 30.0;
/// Rounds per side; the fastest counts.
const ROUNDS: usize = 5;
/// Shortest round: short calls are repeated until a round lasts this long.
const ROUND: Duration = Duration::from_millis(20);

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// A clock of the work this thread does: its CPU time from `/proc/thread-self/schedstat` on
/// Linux, else wall time.
#[derive(Clone, Copy)]
enum Clock {
    Cpu(u64),
    Wall(Instant),
}

impl Clock {
    fn start() -> Self {
        cpu_nanos().map_or_else(|| Clock::Wall(Instant::now()), Clock::Cpu)
    }

    fn elapsed(self) -> Duration {
        match self {
            Clock::Cpu(start) => {
                Duration::from_nanos(cpu_nanos().unwrap_or(start).saturating_sub(start))
            }
            Clock::Wall(start) => start.elapsed(),
        }
    }
}

/// Nanoseconds this thread has run on a CPU (the first field of its `schedstat`).
fn cpu_nanos() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

/// Fastest time per call of `f` over [`ROUNDS`] rounds.
fn time_per_call(mut f: impl FnMut()) -> Duration {
    (0..ROUNDS)
        .map(|_| {
            let start = Clock::start();
            let mut calls = 0u32;
            while calls == 0 || start.elapsed() < ROUND {
                f();
                calls += 1;
            }
            start.elapsed() / calls
        })
        .min()
        .expect("at least one round")
}

/// One measurement at a time: the test harness runs tests on parallel threads, which would
/// take turns on the CPU in the middle of a measurement.
static MEASURING: Mutex<()> = Mutex::new(());

/// Builds the input for `n` and `8n` with `make`, times `run` on each, checks the ratio.
fn assert_linear<T>(what: &str, n: usize, make: impl Fn(usize) -> T, run: impl Fn(&T)) {
    let (small, large) = (make(n), make(8 * n));
    let _one_at_a_time = MEASURING.lock().unwrap_or_else(PoisonError::into_inner);
    let t_small = time_per_call(|| run(&small));
    let t_large = time_per_call(|| run(&large));
    let ratio = t_large.as_secs_f64() / t_small.as_secs_f64().max(1e-9);
    eprintln!("{what}: n={n} {t_small:?}, 8n {t_large:?}, ratio {ratio:.1}");
    assert!(
        ratio < MAX_RATIO,
        "{what}: 8x the input took {ratio:.1}x as long ({t_small:?} -> {t_large:?}): quadratic?"
    );
}

/// The default composite's extraction plus the request data, as the layer does per invocation.
fn extract_all(event: &dyn std::any::Any) {
    let carrier = from_event(event).expect("known event type");
    let _ = std::hint::black_box(carrier.request_info());
    let _ = std::hint::black_box(carrier.keys());
    let _ = std::hint::black_box(CompositePropagator::default().extract(carrier));
}

fn json_headers(n: usize, name: impl Fn(usize) -> String) -> Map<String, Value> {
    let mut headers: Map<String, Value> = (0..n).map(|i| (name(i), json!("v"))).collect();
    headers.insert("traceparent".into(), json!(TRACEPARENT));
    headers
}

#[test]
fn json_event_with_many_headers() {
    assert_linear(
        "JSON event, n distinct headers (both maps)",
        5_000,
        |n| {
            let headers = json_headers(n, |i| format!("X-Custom-{i}"));
            let multi: Map<String, Value> = headers
                .iter()
                .map(|(k, v)| (k.to_lowercase(), json!([v])))
                .collect();
            json!({"httpMethod": "GET", "path": "/", "headers": headers, "multiValueHeaders": multi})
        },
        |event: &Value| extract_all(event),
    );
}

#[test]
fn json_event_with_many_prefixed_baggage_headers() {
    assert_linear(
        "JSON event, n uberctx-/ot-baggage- headers",
        2_500,
        |n| {
            let mut headers = json_headers(n, |i| format!("uberctx-k{i}"));
            headers.extend(json_headers(n, |i| format!("Ot-Baggage-K{i}")));
            json!({"httpMethod": "GET", "headers": headers})
        },
        |event: &Value| extract_all(event),
    );
}

/// An `http::HeaderMap` panics when it would grow past 32,768 slots, which it does at 24,576
/// entries: 2,500 vs 20,000.
fn header_map(n: usize, name: impl Fn(usize) -> String) -> HeaderMap {
    let mut map = HeaderMap::new();
    for i in 0..n {
        let name = HeaderName::from_bytes(name(i).as_bytes()).expect("valid name");
        map.insert(name, HeaderValue::from_static("v"));
    }
    map.insert("traceparent", HeaderValue::from_static(TRACEPARENT));
    map
}

#[test]
fn typed_event_with_many_headers() {
    assert_linear(
        "API Gateway v1 event, n headers in each map",
        2_500,
        |n| {
            let mut event = ApiGatewayProxyRequest::default();
            event.headers = header_map(n, |i| format!("x-single-{i}"));
            event.multi_value_headers = header_map(n, |i| format!("x-multi-{i}"));
            event
        },
        |event: &ApiGatewayProxyRequest| extract_all(event),
    );
}

#[test]
fn header_map_and_hash_map_with_many_prefixed_headers() {
    assert_linear(
        "HeaderMap, n uberctx- and ot-baggage- headers",
        1_200,
        |n| {
            let mut map = header_map(n, |i| format!("uberctx-k{i}"));
            map.extend(header_map(n, |i| format!("ot-baggage-k{i}")));
            map
        },
        |map: &HeaderMap| {
            let _ =
                std::hint::black_box(CompositePropagator::default().extract(&HeaderExtractor(map)));
        },
    );
    assert_linear(
        "HashMap, n mixed-case uberctx- headers",
        2_000,
        |n| {
            let mut map: HashMap<String, String> = (0..n)
                .map(|i| (format!("UberCtx-K{i}"), "v".to_string()))
                .collect();
            map.insert("Traceparent".into(), TRACEPARENT.into());
            map
        },
        |map: &HashMap<String, String>| {
            let _ = std::hint::black_box(CompositePropagator::default().extract(map));
        },
    );
}

#[test]
fn long_header_values() {
    let value = |n: usize| format!("Root=1-{};{}", "a".repeat(n), "k=v;".repeat(n / 4));
    assert_linear(
        "JSON event, 100 kB vs 800 kB header values",
        100_000,
        |n| {
            let v = value(n);
            let headers: Map<String, Value> = [
                "x-amzn-trace-id",
                "traceparent",
                "tracestate",
                "baggage",
                "b3",
                "uber-trace-id",
                "uberctx-k",
                "ot-tracer-traceid",
                "user-agent",
                "x-forwarded-for",
            ]
            .into_iter()
            .map(|k| (k.to_string(), json!(v)))
            .collect();
            json!({"httpMethod": v, "path": v, "resource": v, "headers": headers})
        },
        |event: &Value| extract_all(event),
    );
    assert_linear(
        "XrayHeader::from_str, 100 kB vs 800 kB",
        100_000,
        value,
        |v: &String| {
            let _ = std::hint::black_box(v.parse::<XrayHeader>());
        },
    );
}

/// One invocation of a layer with an in-memory exporter whose handler calls `ops` on the
/// invocation span, then the X-Ray encoding of its batch.
fn invoke_and_encode(rt: &tokio::runtime::Runtime, ops: fn(usize), n: usize) {
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(lambda_trace::testing::config(&[]))
        .exporter(exporter.clone())
        .max_spans(100_000)
        .build();
    let mut svc = layer.layer(service_fn(move |_: LambdaEvent<Value>| async move {
        ops(n);
        Ok::<_, Error>(())
    }));
    let mut cx = Context::default();
    cx.xray_trace_id =
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
    rt.block_on(async {
        svc.ready()
            .await
            .unwrap()
            .call(LambdaEvent::new(Value::Null, cx))
            .await
            .unwrap();
    });
    let mut docs = Vec::new();
    for batch in exporter.take() {
        xray::encode_batch(&batch, &mut docs);
    }
    std::hint::black_box(docs);
}

fn assert_span_api_linear(what: &str, n: usize, ops: fn(usize)) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_linear(what, n, |n| n, |&n| invoke_and_encode(&rt, ops, n));
}

#[test]
fn many_annotations() {
    assert_span_api_linear("n annotations", 1_000, |n| {
        let span = lambda_trace::current();
        for i in 0..n {
            span.annotate(format!("key_{i}"), i);
        }
    });
}

#[test]
fn many_metadata_entries() {
    assert_span_api_linear("n metadata entries, one namespace each", 1_000, |n| {
        let span = lambda_trace::current();
        for i in 0..n {
            span.metadata_in(&format!("ns{i}"), &format!("k{i}"), i);
        }
    });
    assert_span_api_linear("n metadata entries, one namespace", 1_000, |n| {
        let span = lambda_trace::current();
        for i in 0..n {
            span.metadata(&format!("k{i}"), "value");
        }
    });
}

#[test]
fn many_attributes_links_and_errors() {
    assert_span_api_linear("n attributes", 1_000, |n| {
        let span = lambda_trace::current();
        for i in 0..n {
            span.set_attribute((format!("attr.{i}").into(), AttributeValue::Int(i as i64)));
        }
    });
    assert_span_api_linear("n links", 1_000, |n| {
        let span = lambda_trace::current();
        let cx = span.context().expect("recording span");
        for _ in 0..n {
            span.add_link(&cx);
        }
    });
    assert_span_api_linear("n errors", 1_000, |n| {
        let span = lambda_trace::current();
        let error = std::io::Error::other("boom");
        for _ in 0..n {
            span.record_error(&error);
        }
    });
}

/// A chain of nested spans: deeper than the encoder nests, so each span is its own document at
/// both sizes. (A flat batch is one document up to 64 kB and one document per span past it,
/// several times the work per span: a step, not a slope, so it is not compared here.)
#[test]
fn many_child_spans() {
    assert_span_api_linear("n nested child spans", 500, |n| {
        let mut parent = lambda_trace::current();
        for i in 0..n {
            let child = parent.child("deep");
            child.annotate("i", i);
            child.end();
            parent = child;
        }
    });
}
