//! `OtlpExporter` against a local OTLP/HTTP receiver (a hyper server on 127.0.0.1:0 that decodes
//! the protobuf with `opentelemetry-proto`), driven through the layer. The fault tests check the
//! "never hurt the function" contract: the response is unchanged, the invocation takes at most
//! the flush timeout (plus a generous margin) and the failure is reported.

#![cfg(feature = "otlp")]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::export::{Export, Exporter, OtlpExporter};
use lambda_trace::span::SpanBatch;
use lambda_trace::{Config, TraceLayer};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower::{Layer, ServiceExt};

mod support;

use support::logs::Logs;

const FLUSH_TIMEOUT: Duration = Duration::from_millis(200);
/// Generous: the point is "bounded by the flush timeout", not a benchmark.
const BOUND: Duration = Duration::from_secs(3);
const CALLER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const LAMBDA_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

// ---------------------------------------------------------------------------------------------
// The receiver

#[derive(Debug, Clone, Copy)]
enum Mode {
    Ok,
    Status(u16),
    Delay(Duration),
    /// Accepts the connection and never reads or answers.
    Hang,
    RejectOne,
    /// Answers 200 with a body that is not an `ExportTraceServiceResponse`.
    Garbage200,
    /// Writes bytes that are not HTTP on every connection (and keeps it open).
    NotHttp,
}

#[derive(Debug, Clone)]
struct Received {
    headers: http::HeaderMap,
    request: ExportTraceServiceRequest,
}

#[derive(Clone)]
struct Receiver {
    url: String,
    connections: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let receiver = Self {
            url,
            connections: Arc::default(),
            received: Arc::default(),
        };
        let state = receiver.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                state.connections.fetch_add(1, Ordering::SeqCst);
                if let Mode::Hang = mode {
                    held.push(stream);
                    continue;
                }
                if let Mode::NotHttp = mode {
                    let mut stream = stream;
                    let _ = tokio::io::AsyncWriteExt::write_all(
                        &mut stream,
                        b"\x16\x03\x01 this is not HTTP \xff\xfe\r\n\r\n",
                    )
                    .await;
                    held.push(stream);
                    continue;
                }
                let state = state.clone();
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { state.handle(req, mode).await }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        receiver
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
        mode: Mode,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        assert_eq!(parts.method, http::Method::POST);
        assert_eq!(parts.uri.path(), "/v1/traces");
        let request = ExportTraceServiceRequest::decode(body).expect("a protobuf request");
        self.received.lock().unwrap().push(Received {
            headers: parts.headers,
            request,
        });
        let mut response = ExportTraceServiceResponse::default();
        match mode {
            Mode::Status(code) => {
                return Ok(Response::builder()
                    .status(code)
                    .body(Full::new(Bytes::from_static(b"collector is down")))
                    .unwrap());
            }
            Mode::Delay(delay) => tokio::time::sleep(delay).await,
            Mode::RejectOne => {
                response.partial_success = Some(ExportTracePartialSuccess {
                    rejected_spans: 1,
                    error_message: "span too old".into(),
                })
            }
            Mode::Garbage200 => {
                return Ok(Response::builder()
                    .header("content-type", "application/x-protobuf")
                    .body(Full::new(Bytes::from_static(b"\xff\xfe<html>not protobuf")))
                    .unwrap());
            }
            Mode::Ok | Mode::Hang | Mode::NotHttp => {}
        }
        Ok(Response::builder()
            .header("content-type", "application/x-protobuf")
            .body(Full::new(Bytes::from(response.encode_to_vec())))
            .unwrap())
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------------------------
// What happened to each export: finished (and how), or dropped by the layer at its deadline.

#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Ok,
    Failed(String),
    /// The layer stopped waiting (its flush deadline passed) and dropped the export.
    Abandoned,
}

#[derive(Debug, Clone)]
struct Observed<E> {
    inner: E,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
}

impl<E> Observed<E> {
    fn new(inner: E) -> Self {
        Self {
            inner,
            outcomes: Arc::default(),
        }
    }

    fn outcomes(&self) -> Vec<Outcome> {
        self.outcomes.lock().unwrap().clone()
    }
}

struct Guard {
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    finished: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.finished {
            self.outcomes.lock().unwrap().push(Outcome::Abandoned);
        }
    }
}

impl<E: Exporter> Exporter for Observed<E> {
    fn export(&self, batch: SpanBatch) -> Export {
        let record = |outcomes: &Mutex<Vec<Outcome>>, r: &Result<(), _>| {
            outcomes.lock().unwrap().push(match r {
                Ok(()) => Outcome::Ok,
                Err(e) => Outcome::Failed(format!("{e}")),
            })
        };
        match self.inner.export(batch) {
            Export::Done(r) => {
                record(&self.outcomes, &r);
                Export::Done(r)
            }
            Export::Pending(future) => {
                let mut guard = Guard {
                    outcomes: Arc::clone(&self.outcomes),
                    finished: false,
                };
                Export::Pending(Box::pin(async move {
                    let r = future.await;
                    guard.finished = true;
                    record(&guard.outcomes, &r);
                    r
                }))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Driving an invocation

fn config(extra: &[(&'static str, String)]) -> Config {
    let base = [
        ("AWS_LAMBDA_FUNCTION_NAME", "orders-fn"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
        ("OTEL_SERVICE_NAME", "orders"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/orders-fn"),
        ("LAMBDA_TRACE_FLUSH_TIMEOUT_MS", "200"),
    ];
    support::config_over(&base, extra)
}

fn context(lambda_header: Option<&str>) -> Context {
    let mut cx = Context::default();
    cx.request_id = "req-1".into();
    cx.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn".into();
    cx.xray_trace_id = lambda_header.map(str::to_string);
    cx
}

fn event() -> Value {
    json!({
        "httpMethod": "GET",
        "path": "/orders/42",
        "headers": { "traceparent": CALLER },
        "body": "payload",
    })
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let span = lambda_trace::current();
    span.annotate("orderId", "o-42");
    span.metadata("order", json!({"items": 3}));
    let total = span.in_child("price", async { 42 }).await;
    Ok(json!({ "total": total, "echo": event.payload["body"] }))
}

/// One invocation through a layer built from `layer`; returns the response and the time taken.
async fn invoke(layer: &TraceLayer, lambda_header: Option<&str>) -> (Value, Duration) {
    let service = layer.layer(service_fn(handler));
    let started = Instant::now();
    let response = service
        .oneshot(LambdaEvent::new(event(), context(lambda_header)))
        .await
        .expect("the handler's own Ok");
    (response, started.elapsed())
}

fn expected_response() -> Value {
    json!({ "total": 42, "echo": "payload" })
}

fn observed_layer(endpoint: &str) -> (TraceLayer, Observed<Arc<OtlpExporter>>) {
    let exporter = Observed::new(Arc::new(OtlpExporter::new(endpoint).unwrap()));
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter.clone())
        .build();
    (layer, exporter)
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn string(s: &str) -> any_value::Value {
    any_value::Value::StringValue(s.into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// The tests

#[tokio::test]
async fn a_traced_invocation_arrives_as_otlp_protobuf() {
    let receiver = Receiver::start(Mode::Ok).await;
    let exporter = Observed::new(Arc::new(
        OtlpExporter::new(&receiver.url)
            .unwrap()
            .with_header("lightstep-access-token", "t0ken")
            .unwrap(),
    ));
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter.clone())
        .build();

    let (response, _) = invoke(&layer, None).await;
    assert_eq!(response, expected_response());
    assert_eq!(exporter.outcomes(), [Outcome::Ok]);

    let received = receiver.received();
    assert_eq!(received.len(), 1, "one POST per invocation");
    let Received { headers, request } = &received[0];
    assert_eq!(headers["content-type"], "application/x-protobuf");
    assert_eq!(headers["lightstep-access-token"], "t0ken");

    assert_eq!(request.resource_spans.len(), 1);
    let rs = &request.resource_spans[0];
    let resource = &rs.resource.as_ref().unwrap().attributes;
    assert_eq!(attr(resource, "service.name"), Some(&string("orders")));
    assert_eq!(attr(resource, "cloud.provider"), Some(&string("aws")));
    assert_eq!(
        attr(resource, "cloud.platform"),
        Some(&string("aws_lambda"))
    );
    assert_eq!(attr(resource, "cloud.region"), Some(&string("eu-west-1")));
    assert_eq!(attr(resource, "faas.name"), Some(&string("orders-fn")));
    assert_eq!(attr(resource, "faas.version"), Some(&string("7")));
    assert_eq!(
        attr(resource, "faas.max_memory"),
        Some(&any_value::Value::IntValue(256 * 1024 * 1024))
    );
    match attr(resource, "aws.log.group.names") {
        Some(any_value::Value::ArrayValue(a)) => assert_eq!(
            a.values,
            [AnyValue {
                value: Some(string("/aws/lambda/orders-fn"))
            }]
        ),
        other => panic!("aws.log.group.names: {other:?}"),
    }
    let scope = &rs.scope_spans[0];
    let s = scope.scope.as_ref().unwrap();
    assert_eq!(
        (s.name.as_str(), s.version.as_str()),
        ("lambda-trace", env!("CARGO_PKG_VERSION"))
    );

    let spans = &scope.spans;
    assert_eq!(spans.len(), 2);
    let (root, child) = (&spans[0], &spans[1]);
    for span in spans {
        assert_eq!(hex(&span.trace_id), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(span.span_id.len(), 8);
        assert!(span.end_time_unix_nano >= span.start_time_unix_nano);
        assert!(span.start_time_unix_nano > 1_600_000_000_000_000_000);
    }
    assert_eq!(root.name, "orders-fn");
    assert_eq!(root.kind, 2, "SERVER");
    assert_eq!(
        hex(&root.parent_span_id),
        "b7ad6b7169203331",
        "the caller's span"
    );
    assert_eq!(child.name, "price");
    assert_eq!(child.kind, 1, "INTERNAL");
    assert_eq!(child.parent_span_id, root.span_id);
    assert_ne!(child.span_id, root.span_id);

    let a = &root.attributes;
    assert_eq!(attr(a, "faas.invocation_id"), Some(&string("req-1")));
    assert_eq!(
        attr(a, "faas.coldstart"),
        Some(&any_value::Value::BoolValue(true))
    );
    assert_eq!(attr(a, "faas.trigger"), Some(&string("http")));
    assert_eq!(attr(a, "cloud.account.id"), Some(&string("123456789012")));
    assert_eq!(attr(a, "http.request.method"), Some(&string("GET")));
    assert_eq!(attr(a, "orderId"), Some(&string("o-42")));
    assert_eq!(attr(a, "Service"), Some(&string("orders")));
    assert_eq!(
        attr(a, "lambda_trace.metadata.orders.order"),
        Some(&string(r#"{"items":3}"#))
    );
    let mut keys: Vec<&str> = a.iter().map(|kv| kv.key.as_str()).collect();
    keys.sort_unstable();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "unique attribute keys");
    assert_eq!(root.status.as_ref().map_or(0, |s| s.code), 0, "UNSET");

    // Under Active tracing the invocation span hangs under Lambda's own segment, and the
    // caller's context becomes a link.
    let (response, _) = invoke(&layer, Some(LAMBDA_HEADER)).await;
    assert_eq!(response, expected_response());
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let root = &received[1].request.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(hex(&root.trace_id), "5759e988bd862e3fe1be46a994272793");
    assert_eq!(hex(&root.parent_span_id), "53995c3f42cd8ad8");
    assert_eq!(
        attr(&root.attributes, "faas.coldstart"),
        Some(&any_value::Value::BoolValue(false))
    );
    assert_eq!(root.links.len(), 1);
    assert_eq!(
        hex(&root.links[0].trace_id),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(hex(&root.links[0].span_id), "b7ad6b7169203331");
}

#[tokio::test]
async fn the_environment_selects_the_otlp_exporter() {
    let receiver = Receiver::start(Mode::Ok).await;
    let base = receiver.url.trim_end_matches("/v1/traces").to_string();
    let layer = TraceLayer::builder()
        .config(config(&[
            ("OTEL_TRACES_EXPORTER", "otlp".into()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", base),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-team=orders%2Fcheckout".into(),
            ),
        ]))
        .build();
    let (response, _) = invoke(&layer, None).await;
    assert_eq!(response, expected_response());
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].headers["x-team"], "orders/checkout");
}

#[tokio::test]
async fn two_invocations_share_one_connection() {
    let receiver = Receiver::start(Mode::Ok).await;
    let (layer, exporter) = observed_layer(&receiver.url);
    for _ in 0..2 {
        let (response, _) = invoke(&layer, None).await;
        assert_eq!(response, expected_response());
        // Between invocations the client puts the connection back in its pool (a task of its
        // own); in Lambda the gap between invocations is far longer than this.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(exporter.outcomes(), [Outcome::Ok, Outcome::Ok]);
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1, "keep-alive");
}

/// Runs one invocation against a failing collector: the response is unchanged, the invocation
/// is bounded, and the failure is logged by the layer.
async fn faulty(endpoint: &str) -> (Vec<Outcome>, Vec<String>, Duration) {
    let logs = Logs::default();
    let _guard = logs.capture();
    let (layer, exporter) = observed_layer(endpoint);
    let (response, elapsed) = invoke(&layer, None).await;
    assert_eq!(response, expected_response());
    assert!(elapsed < BOUND, "took {elapsed:?}");
    let lines = logs.lines();
    assert!(
        lines.iter().any(|l| l.contains("trace export failed")),
        "{lines:?}"
    );
    (exporter.outcomes(), lines, elapsed)
}

#[tokio::test]
async fn refused_connection() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (outcomes, lines, _) = faulty(&format!("http://127.0.0.1:{port}/v1/traces")).await;
    match outcomes.as_slice() {
        [Outcome::Failed(e)] => assert!(e.starts_with("transport error"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(
        lines.iter().any(|l| l.contains("transport error")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn collector_accepts_and_never_answers() {
    let receiver = Receiver::start(Mode::Hang).await;
    let (outcomes, lines, elapsed) = faulty(&receiver.url).await;
    assert_eq!(outcomes, [Outcome::Abandoned]);
    assert!(elapsed >= FLUSH_TIMEOUT / 2, "waited {elapsed:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("export timed out after 200ms")),
        "{lines:?}"
    );
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn collector_answers_500() {
    let receiver = Receiver::start(Mode::Status(500)).await;
    let (outcomes, lines, _) = faulty(&receiver.url).await;
    assert_eq!(
        outcomes,
        [Outcome::Failed(
            "export failed: HTTP 500 Internal Server Error: collector is down".into()
        )]
    );
    assert!(lines.iter().any(|l| l.contains("HTTP 500")), "{lines:?}");
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn collector_answers_after_the_flush_timeout() {
    let receiver = Receiver::start(Mode::Delay(Duration::from_secs(1))).await;
    let (outcomes, lines, _) = faulty(&receiver.url).await;
    assert_eq!(
        outcomes,
        [Outcome::Abandoned],
        "did not wait for the answer"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("export timed out after 200ms")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn collector_answers_200_with_garbage() {
    // The spans were accepted (a 2xx); an unreadable body cannot say otherwise.
    let receiver = Receiver::start(Mode::Garbage200).await;
    let (layer, exporter) = observed_layer(&receiver.url);
    let (response, elapsed) = invoke(&layer, None).await;
    assert_eq!(response, expected_response());
    assert!(elapsed < BOUND, "took {elapsed:?}");
    assert_eq!(exporter.outcomes(), [Outcome::Ok]);
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn collector_speaks_garbage_instead_of_http() {
    let receiver = Receiver::start(Mode::NotHttp).await;
    let (outcomes, _, _) = faulty(&receiver.url).await;
    match outcomes.as_slice() {
        [Outcome::Failed(e)] => assert!(!e.contains('\u{ff}'), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_timed_out_invocation_arrives_with_an_error_status_before_the_handler_ends() {
    let receiver = Receiver::start(Mode::Ok).await;
    let exporter = Observed::new(Arc::new(OtlpExporter::new(&receiver.url).unwrap()));
    // The spans are closed 300 ms before the deadline: 250 ms for the export, past the flush
    // margin (50 ms), bounded by the flush timeout (200 ms).
    let layer = TraceLayer::builder()
        .config(config(&[("LAMBDA_TRACE_TIMEOUT_MARGIN_MS", "300".into())]))
        .exporter(exporter.clone())
        .build();
    let arrived_in_time = Arc::new(AtomicUsize::new(0));
    let (seen, probe) = (Arc::clone(&arrived_in_time), receiver.clone());
    let service = layer.layer(service_fn(move |_: LambdaEvent<Value>| {
        let (seen, probe) = (Arc::clone(&seen), probe.clone());
        async move {
            let span = lambda_trace::current();
            span.in_child(
                "slow-query",
                tokio::time::sleep(Duration::from_millis(1200)),
            )
            .await;
            seen.store(probe.received().len(), Ordering::SeqCst);
            Ok::<_, Error>(json!({"late": true}))
        }
    }));
    let mut cx = context(None);
    cx.deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 500;
    let response = service
        .oneshot(LambdaEvent::new(event(), cx))
        .await
        .unwrap();
    assert_eq!(response, json!({"late": true}), "the handler's own output");
    assert_eq!(
        arrived_in_time.load(Ordering::SeqCst),
        1,
        "the spans reached the collector while the handler was still running"
    );
    assert_eq!(exporter.outcomes(), [Outcome::Ok], "one export only");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let spans = &received[0].request.resource_spans[0].scope_spans[0].spans;
    assert_eq!(spans.len(), 2);
    for span in spans {
        let status = span.status.as_ref().expect("a status");
        assert_eq!(status.code, 2, "ERROR: {}", span.name);
        assert!(
            status.message.starts_with("Task timed out after"),
            "{}",
            status.message
        );
        assert_eq!(
            attr(&span.attributes, "lambda_trace.unfinished"),
            Some(&any_value::Value::BoolValue(true))
        );
        assert_eq!(span.events[0].name, "exception");
    }
    assert_eq!(
        attr(&spans[0].attributes, "TimedOut"),
        Some(&any_value::Value::BoolValue(true))
    );
    assert_eq!(spans[1].name, "slow-query");
}

#[tokio::test]
async fn rejected_spans_are_reported() {
    let receiver = Receiver::start(Mode::RejectOne).await;
    let (outcomes, _, _) = faulty(&receiver.url).await;
    assert_eq!(
        outcomes,
        [Outcome::Failed(
            "backend rejected 1 of 2 documents: span too old".into()
        )]
    );
}

#[tokio::test]
async fn an_export_needs_no_layer_either() {
    // The exporter alone: its future resolves on its own (the layer only bounds it).
    let receiver = Receiver::start(Mode::Ok).await;
    let exporter = OtlpExporter::new(&receiver.url).unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(Capture(Mutex::new(Some(tx))))
        .build();
    invoke(&layer, None).await;
    let batch = rx.await.unwrap();
    match exporter.export(batch) {
        Export::Pending(f) => f.await.unwrap(),
        Export::Done(_) => panic!("OTLP export is a network round trip"),
    }
    assert_eq!(receiver.received().len(), 1);
}

/// Hands the first batch over a channel.
#[derive(Debug)]
struct Capture(Mutex<Option<tokio::sync::oneshot::Sender<SpanBatch>>>);

impl Exporter for Capture {
    fn export(&self, batch: SpanBatch) -> Export {
        if let Some(tx) = self.0.lock().unwrap().take() {
            let _ = tx.send(batch);
        }
        Export::Done(Ok(()))
    }
}
