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
//!
//! End-to-end overhead is measured by `make bench` (the `bench/` crate), not here.

use std::convert::Infallible;
use std::hint::black_box;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use lambda_trace::carrier;
use lambda_trace::export::{DaemonExporter, Export, Exporter};
use lambda_trace::propagation::{CompositePropagator, Propagator};
use lambda_trace::span::{
    AttributeValue, HttpRequestInfo, HttpResponseInfo, Resource, RootPlacement, SpanBatch,
    SpanKind, SpanRecord,
};
use lambda_trace::xray::{self, DAEMON_HEADER};
use lambda_trace::{SpanId, TraceId};

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
            while !stop.load(Ordering::Relaxed) {
                if receiver.recv(&mut buf).is_ok() {
                    received += 1;
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = extract, encode, daemon_export
}
criterion_main!(benches);
