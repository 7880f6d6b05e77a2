//! Criterion micro benchmarks of the per-invocation hot paths (issue 6): `make bench-micro`.
//!
//! - `extract/<format>`: the carrier of a realistic API Gateway (REST, v1) event
//!   ([`carrier::from_event`]) + the default [`CompositePropagator`]'s `extract`, one event per
//!   trace-header format (`none` = no trace header: every format is tried and misses).
//! - `encode_batch/<n>` and `encode_reused/<n>`: an invocation's spans (one invocation span as
//!   the layer fills it + `n - 1` child spans with one annotation each) translated to X-Ray
//!   documents and serialized, by [`xray::encode_batch`] (fresh buffers) and by
//!   [`xray::encode_with`] into a reused buffer (what the daemon exporter does).
//! - `daemon_export/<n>`: [`DaemonExporter::export`] to a UDP socket on 127.0.0.1 that a thread
//!   drains (the batch clone that `export` consumes is made outside the timing).
//! - `per_record/<way>/<n>` (issue 16): the records of an `SqsEvent` of `n` records (10 and
//!   1,000; each with its own `AWSTraceHeader` and a `traceparent` message attribute naming the
//!   same context, as in `events/sqs-batch-10.json`) run through a trivial async closure inside a
//!   traced, sampled invocation (a [`TraceLayer`] with an in-memory exporter and
//!   `max_spans(2000)`, so every span is recorded), one after the other. `each_record`:
//!   [`messaging::each_record`], a `process` span per record in the record's own trace;
//!   `child_span`: one plain child span of the invocation span per record, opened, made current
//!   while the closure runs and ended by hand (the baseline of the issue's target: "no more than
//!   a child span per record"); `by_hand`: what `each_record` records, done by hand with the
//!   public API (the record's context extracted with the default propagators, a `CONSUMER`
//!   child span linked to it, the four messaging attributes); `no_span`: the same loop without
//!   spans (the floor). `<way>/<n>` times only the loop (`iter_custom`: one invocation per
//!   iteration, the layer's own work and the export outside the timing);
//!   `<way>/<n>/invocation` times the whole invocation (the layer's start, which reads every
//!   record's context to link the invocation span to it and keeps them for `each_record`, the
//!   loop, the end and the export; the event's clone and the batch's drop outside). Criterion
//!   reports the time per batch; divide by `n` for the time per record.
//!
//! End-to-end overhead is measured by `make bench` (the `bench/` crate), not here.

use std::convert::Infallible;
use std::hint::black_box;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lambda_runtime::LambdaEvent;
use lambda_trace::carrier;
use lambda_trace::export::{DaemonExporter, Export, Exporter, InMemoryExporter};
use lambda_trace::messaging;
use lambda_trace::propagation::{CompositePropagator, Propagator};
use lambda_trace::span::{
    AttributeValue, HttpRequestInfo, HttpResponseInfo, Resource, RootPlacement, SpanBatch,
    SpanKind, SpanRecord,
};
use lambda_trace::xray::{self, DAEMON_HEADER};
use lambda_trace::{Config, SpanId, TraceId, TraceLayer};
use tower::{Layer, ServiceExt};

/// One event per trace-header format, from the repository's `events/`.
const EVENTS: [(&str, &str); 7] = [
    ("xray", include_str!("../events/apigw-v1-xray.json")),
    ("w3c", include_str!("../events/apigw-v1-w3c.json")),
    ("b3", include_str!("../events/apigw-v1-b3.json")),
    ("b3multi", include_str!("../events/apigw-v1-b3multi.json")),
    ("jaeger", include_str!("../events/apigw-v1-jaeger.json")),
    ("ot", include_str!("../events/apigw-v1-ottrace.json")),
    ("none", include_str!("../events/apigw-v1-none.json")),
];

fn extract(c: &mut Criterion) {
    let propagator = CompositePropagator::default();
    let mut group = c.benchmark_group("extract");
    for (format, json) in EVENTS {
        let event: ApiGatewayProxyRequest = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("events/ {format} event does not parse: {e}"));
        let found = carrier::from_event(&event).and_then(|c| propagator.extract(c));
        assert_eq!(found.is_some(), format != "none", "{format}: {found:?}");
        group.bench_function(format, |b| {
            b.iter(|| {
                let carrier = carrier::from_event(black_box(&event));
                black_box(carrier.and_then(|c| propagator.extract(c)))
            });
        });
    }
    group.finish();
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The spans of one invocation: the invocation span with what the layer records for an API
/// Gateway request, then `spans - 1` children with one annotation each.
fn batch(spans: usize) -> SpanBatch {
    let start = now_nanos();
    let s = |v: &str| AttributeValue::String(v.to_owned().into());
    let mut root = SpanRecord::new(
        SpanId::generate(),
        Some(SpanId::generate()),
        "orders",
        SpanKind::Server,
        start,
    );
    root.end_unix_nanos = start + 1_800_000;
    root.annotations = vec![
        ("ColdStart".into(), false.into()),
        ("Service".into(), "orders".into()),
    ];
    root.attributes = vec![
        ("faas.trigger".into(), s("http")),
        (
            "faas.invocation_id".into(),
            s("8476a536-e9f4-11e8-9739-2dfe598c3fcd"),
        ),
        ("faas.coldstart".into(), AttributeValue::Bool(false)),
        ("faas.name".into(), s("orders")),
        ("faas.version".into(), s("$LATEST")),
        ("cloud.provider".into(), s("aws")),
        ("cloud.region".into(), s("us-east-1")),
        ("cloud.account.id".into(), s("123456789012")),
        (
            "aws.lambda.invoked_arn".into(),
            s("arn:aws:lambda:us-east-1:123456789012:function:orders"),
        ),
        ("http.request.method".into(), s("POST")),
        ("http.route".into(), s("/orders")),
        ("http.response.status_code".into(), AttributeValue::Int(200)),
    ];
    root.http_request = Some(
        HttpRequestInfo::new("POST", "/orders")
            .with_route("/orders")
            .with_user_agent("curl/8.5.0")
            .with_client_ip("198.51.100.23", true),
    );
    root.http_response = Some(HttpResponseInfo {
        status: Some(200),
        content_length: Some(42),
    });
    let root_id = root.span_id;
    let mut records = vec![root];
    for i in 1..spans {
        let mut child = SpanRecord::new(
            SpanId::generate(),
            Some(root_id),
            format!("step-{i}"),
            SpanKind::Internal,
            start + i as u64 * 1_000,
        );
        child.end_unix_nanos = child.start_unix_nanos + 900;
        child.annotations = vec![("step".into(), (i as i64).into())];
        records.push(child);
    }
    let mut resource = Resource::new("orders", "orders", "$LATEST");
    resource.region = Some("us-east-1".into());
    SpanBatch::new(
        Arc::new(resource),
        TraceId::generate(),
        RootPlacement::Segment,
        records,
    )
}

const SIZES: [usize; 3] = [1, 10, 100];

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_batch");
    for n in SIZES {
        let batch = batch(n);
        group.bench_function(n.to_string(), |b| {
            b.iter(|| {
                let mut documents = Vec::new();
                xray::encode_batch(black_box(&batch), &mut documents);
                black_box(documents)
            });
        });
    }
    group.finish();
    let mut group = c.benchmark_group("encode_reused");
    for n in SIZES {
        let batch = batch(n);
        let mut buf = Vec::new();
        group.bench_function(n.to_string(), |b| {
            b.iter(|| {
                let Ok(()) = xray::encode_with(black_box(&batch), &mut buf, DAEMON_HEADER, |d| {
                    black_box(d.len());
                    Ok::<(), Infallible>(())
                });
            });
        });
    }
    group.finish();
}

fn daemon_export(c: &mut Criterion) {
    let receiver = UdpSocket::bind("127.0.0.1:0").expect("bind the receiving UDP socket");
    receiver
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("set a read timeout on the receiving socket");
    let address = receiver.local_addr().expect("receiving socket address");
    let stop = Arc::new(AtomicBool::new(false));
    let drain = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            let mut received = 0usize;
            // Stops only once the socket is empty (a read timed out) after `stop`: with a filter
            // that skips the benchmarks, the one datagram sent before them is still counted.
            loop {
                match receiver.recv(&mut buf) {
                    Ok(_) => received += 1,
                    Err(_) if stop.load(Ordering::Relaxed) => break,
                    Err(_) => {}
                }
            }
            received
        })
    };
    let exporter = DaemonExporter::new(&address.to_string()).expect("daemon exporter");
    let mut group = c.benchmark_group("daemon_export");
    for n in SIZES {
        let batch = batch(n);
        match exporter.export(batch.clone()) {
            Export::Done(Ok(())) => {}
            other => panic!("export to {address} failed: {other:?}"),
        }
        group.bench_function(n.to_string(), |b| {
            b.iter_batched(
                || batch.clone(),
                |batch| match exporter.export(batch) {
                    // A full socket buffer (`WouldBlock`) is possible under load: count it as sent.
                    Export::Done(result) => black_box(result.is_ok()),
                    Export::Pending(_) => unreachable!("the daemon exporter never defers"),
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
    stop.store(true, Ordering::Relaxed);
    let received = drain.join().expect("the draining thread panicked");
    assert!(received > 0, "the receiving socket got no datagram");
}

/// An `SqsEvent` of `n` records: the ten of `events/sqs-batch-10.json` over and over, each
/// record past the tenth with a trace id, parent span id and message id of its own (in both its
/// `AWSTraceHeader` and its `traceparent`), as in a real batch of messages from many requests.
fn sqs_batch(n: usize) -> SqsEvent {
    let template: SqsEvent = serde_json::from_str(include_str!("../events/sqs-batch-10.json"))
        .expect("events/sqs-batch-10.json is an SQS event");
    let mut event = SqsEvent::default();
    event.records = (0..n)
        .map(|i| {
            let mut record = template.records[i % template.records.len()].clone();
            if i >= template.records.len() {
                let trace = format!(
                    "{:08x}{:024x}",
                    0x66f1_d300 + i,
                    0x5bd1_e995 * (i as u128 + 1)
                );
                let parent = format!(
                    "{:016x}",
                    0x9e37_79b9_7f4a_7c15_u64.wrapping_mul(i as u64 + 1)
                );
                record.attributes.insert(
                    "AWSTraceHeader".into(),
                    format!(
                        "Root=1-{}-{};Parent={parent};Sampled=1",
                        &trace[..8],
                        &trace[8..]
                    ),
                );
                if let Some(tp) = record.message_attributes.get_mut("traceparent") {
                    tp.string_value = Some(format!("00-{trace}-{parent}-01"));
                }
                record.message_id = Some(format!("m-{i:06}"));
            }
            record
        })
        .collect();
    event
}

/// The per-record work: trivial, async, as a handler's closure would be.
async fn work(record: &SqsMessage) -> Result<usize, std::convert::Infallible> {
    Ok(black_box(record.body.as_deref().map_or(0, str::len)))
}

/// How the records of a batch are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    /// `messaging::each_record`: a `process` span per record, in the record's own trace.
    EachRecord,
    /// One plain child span of the invocation span per record, opened and ended by hand.
    ChildSpan,
    /// What `each_record` records, by hand with the public API: the record's context extracted
    /// with the default propagators, a `CONSUMER` child span of the invocation span named
    /// `process <queue>` (the public API has no remote parent: linked to the record's context
    /// instead), the four messaging attributes.
    ByHand,
    /// No span at all.
    NoSpan,
}

impl Way {
    fn name(self) -> &'static str {
        match self {
            Way::EachRecord => "each_record",
            Way::ChildSpan => "child_span",
            Way::ByHand => "by_hand",
            Way::NoSpan => "no_span",
        }
    }

    /// Runs `event`'s records this way; returns how many succeeded.
    async fn run(self, event: &SqsEvent) -> usize {
        match self {
            Way::EachRecord => {
                let processed = messaging::each_record(event, work).await;
                processed
                    .results()
                    .iter()
                    .filter(|(_, r)| r.is_ok())
                    .count()
            }
            Way::ChildSpan => {
                let current = lambda_trace::current();
                let mut results = Vec::with_capacity(event.records.len());
                for record in &event.records {
                    let child = current.child("process");
                    let result = lambda_trace::scope(child.clone(), work(record)).await;
                    child.end();
                    results.push((record, result));
                }
                results.iter().filter(|(_, r)| r.is_ok()).count()
            }
            Way::ByHand => {
                let propagator = CompositePropagator::default();
                let current = lambda_trace::current();
                let mut results = Vec::with_capacity(event.records.len());
                for record in &event.records {
                    let queue = record
                        .event_source_arn
                        .as_deref()
                        .and_then(|arn| arn.rsplit(':').next())
                        .unwrap_or_default();
                    let child =
                        current.child_of_kind(format!("process {queue}"), SpanKind::Consumer);
                    if let Some(cx) = propagator.extract(record) {
                        child.add_link(&cx);
                    }
                    let s = |v: &str| AttributeValue::String(v.to_owned().into());
                    child.set_attribute(("messaging.system".into(), s("aws_sqs")));
                    child.set_attribute(("messaging.destination.name".into(), s(queue)));
                    child.set_attribute(("messaging.operation.type".into(), s("process")));
                    let id = record.message_id.as_deref().unwrap_or_default();
                    child.set_attribute(("messaging.message.id".into(), s(id)));
                    let result = lambda_trace::scope(child.clone(), work(record)).await;
                    child.end();
                    results.push((record, result));
                }
                results.iter().filter(|(_, r)| r.is_ok()).count()
            }
            Way::NoSpan => {
                let mut results = Vec::with_capacity(event.records.len());
                for record in &event.records {
                    results.push((record, work(record).await));
                }
                results.iter().filter(|(_, r)| r.is_ok()).count()
            }
        }
    }
}

/// One traced invocation of a handler that runs the records `way` and returns the time that
/// took; the exporter gets the invocation's spans.
async fn invoke(layer: &TraceLayer, way: Way, event: SqsEvent) -> Duration {
    let handler = tower::service_fn(move |e: LambdaEvent<SqsEvent>| async move {
        let started = std::time::Instant::now();
        let ok = way.run(&e.payload).await;
        let elapsed = started.elapsed();
        assert_eq!(ok, e.payload.records.len());
        Ok::<_, lambda_runtime::Error>(elapsed)
    });
    let context = lambda_runtime::Context::default();
    layer
        .layer(handler)
        .oneshot(LambdaEvent::new(event, context))
        .await
        .expect("the handler never fails")
}

fn per_record(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(Config::from_lookup(|_| None))
        .sample_rate(1.0)
        .max_spans(2000)
        .exporter(exporter.clone())
        .build();
    let mut group = c.benchmark_group("per_record");
    for n in [10, 1000] {
        let event = sqs_batch(n);
        for way in [Way::EachRecord, Way::ChildSpan, Way::ByHand, Way::NoSpan] {
            // Once outside the timing: every record's span is recorded (and, with each_record,
            // in the record's own trace).
            runtime.block_on(invoke(&layer, way, event.clone()));
            let batches = exporter.take();
            let spans = &batches[0].spans;
            let expected = if way == Way::NoSpan { 1 } else { n + 1 };
            assert_eq!(spans.len(), expected, "{}/{n}", way.name());
            if way == Way::EachRecord {
                let traces: std::collections::HashSet<_> =
                    spans[1..].iter().map(|s| s.trace_in(&batches[0])).collect();
                assert_eq!(traces.len(), n, "each record in its own trace");
            }
            group.bench_function(format!("{}/{n}", way.name()), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += runtime.block_on(invoke(&layer, way, event.clone()));
                        drop(black_box(exporter.take()));
                    }
                    total
                });
            });
            // The whole invocation: the layer's start (which reads every record's context to
            // link the invocation span to it), the loop, the end and the export, and the
            // event's drop in the handler; its clone and the batch's drop stay outside.
            group.bench_function(format!("{}/{n}/invocation", way.name()), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let event = event.clone();
                        let started = std::time::Instant::now();
                        black_box(runtime.block_on(invoke(&layer, way, event)));
                        total += started.elapsed();
                        drop(black_box(exporter.take()));
                    }
                    total
                });
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = extract, encode, daemon_export, per_record
}
criterion_main!(benches);
