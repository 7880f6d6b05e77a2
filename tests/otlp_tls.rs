//! OTLP over HTTPS, the OTLP options and X-Ray's OTLP endpoint, against the receiver of
//! `tests/support/otlp_receiver.rs`: TLS with a certificate made at test time and trusted
//! through `OTEL_EXPORTER_OTLP_CERTIFICATE`, bodies decoded by `opentelemetry-proto`
//! (protobuf, and OTLP/JSON through its serde support), gzip undone by flate2, and SigV4
//! signatures recomputed by botocore. Every test drives the layer with a real handler; the
//! fault tests check that the response is the handler's own, the invocation bounded, and the
//! failure logged once, with no secret in any line.

#![cfg(feature = "xray-otlp")]

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::export::OtlpExporter;
use lambda_trace::export::otlp::XrayCredentials;
use lambda_trace::{Config, TraceLayer};
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::{Value, json};
use tower::{Layer, ServiceExt};

mod support;

use support::logs::Logs;
use support::otlp_receiver::{Behaviour, OtlpReceiver, Received, SigV4Check};
use support::tls::{TestPki, Validity, pki};

/// Generous: the point is "bounded by the flush timeout", not a benchmark.
const BOUND: Duration = Duration::from_secs(3);
const CALLER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const LAMBDA_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
const TOKEN_CANARY: &str = "hdr-canary-7b3f9e";
const SECRET_CANARY: &str = "secret-canary-2c8d1a/Kq+Zx";
const SESSION_CANARY: &str = "session-canary-9f1e4b";

// ---------------------------------------------------------------------------------------------
// Driving an invocation

/// A configuration as Lambda's environment gives it, plus `extra`.
fn config(extra: &[(&'static str, String)]) -> Config {
    let base = [
        ("AWS_LAMBDA_FUNCTION_NAME", "orders-fn"),
        ("OTEL_SERVICE_NAME", "orders"),
        ("AWS_REGION", "eu-west-1"),
        ("LAMBDA_TRACE_FLUSH_TIMEOUT_MS", "300"),
    ];
    support::config_over(&base, extra)
}

/// The OTLP settings for `receiver`, trusting `pki`'s CA, with an access-token header.
fn otlp_env(receiver: &OtlpReceiver, pki: &TestPki) -> Vec<(&'static str, String)> {
    vec![
        ("OTEL_TRACES_EXPORTER", "otlp".into()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url.clone()),
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            pki.ca_file.display().to_string(),
        ),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("x-access-token={TOKEN_CANARY}"),
        ),
    ]
}

fn context(lambda_header: Option<&str>) -> Context {
    let mut cx = Context::default();
    cx.request_id = "req-tls".into();
    cx.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn".into();
    cx.xray_trace_id = lambda_header.map(str::to_string);
    cx
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let span = lambda_trace::current();
    span.annotate("orderId", "o-42");
    let total = span.in_child("price", async { 42 }).await;
    Ok(json!({ "total": total, "echo": event.payload["body"] }))
}

fn expected_response() -> Value {
    json!({ "total": 42, "echo": "payload" })
}

/// One invocation; the response (checked to be the handler's own) and the time it took.
async fn invoke(layer: &TraceLayer, lambda_header: Option<&str>) -> Duration {
    let event = json!({
        "httpMethod": "GET",
        "path": "/orders/42",
        "headers": { "traceparent": CALLER },
        "body": "payload",
    });
    let started = Instant::now();
    let response = layer
        .layer(service_fn(handler))
        .oneshot(LambdaEvent::new(event, context(lambda_header)))
        .await
        .expect("the handler's own Ok");
    assert_eq!(response, expected_response());
    started.elapsed()
}

fn spans(received: &Received) -> &[Span] {
    &received.request.resource_spans[0].scope_spans[0].spans
}

fn attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The received request is the invocation: caller's trace, the root under the caller's span,
/// the child under the root, the annotation as an attribute.
fn assert_is_the_invocation(received: &Received) {
    let spans = spans(received);
    assert_eq!(spans.len(), 2);
    let (root, child) = (&spans[0], &spans[1]);
    assert_eq!(hex(&root.trace_id), "0af7651916cd43dd8448eb211c80319c");
    assert_eq!(hex(&root.parent_span_id), "b7ad6b7169203331");
    assert_eq!(root.name, "orders-fn");
    assert_eq!(
        (child.name.as_str(), &child.parent_span_id),
        ("price", &root.span_id)
    );
    assert_eq!(
        attr(&root.attributes, "orderId"),
        Some(&any_value::Value::StringValue("o-42".into()))
    );
    let resource = received.request.resource_spans[0]
        .resource
        .as_ref()
        .unwrap();
    assert_eq!(
        attr(&resource.attributes, "service.name"),
        Some(&any_value::Value::StringValue("orders".into()))
    );
}

// ---------------------------------------------------------------------------------------------
// HTTPS, protocols, compression, retries

#[tokio::test]
async fn https_with_an_access_token_reuses_one_tls_connection() {
    let pki = pki(Validity::Now);
    let receiver = OtlpReceiver::start(Some(pki.server.clone()), Behaviour::Serve, None).await;
    let layer = TraceLayer::builder()
        .config(config(&otlp_env(&receiver, &pki)))
        .build();
    for _ in 0..5 {
        invoke(&layer, None).await;
        // The pooled connection goes back to the pool on a task of its own; in Lambda the gap
        // between invocations is far longer.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = receiver.wait_for(5).await;
    assert_eq!(received.len(), 5);
    for r in &received {
        assert_is_the_invocation(r);
        assert_eq!(r.headers["x-access-token"], TOKEN_CANARY);
        assert_eq!(r.headers["content-type"], "application/x-protobuf");
        assert!(r.headers.get("content-encoding").is_none());
    }
    assert_eq!(
        receiver.connections.load(Ordering::SeqCst),
        1,
        "one TCP connection"
    );
    assert_eq!(
        receiver.full_handshakes.load(Ordering::SeqCst),
        1,
        "one TLS handshake"
    );
}

#[tokio::test]
async fn a_connection_the_server_closed_is_replaced_with_a_resumed_session() {
    let pki = pki(Validity::Now);
    let receiver = OtlpReceiver::start(
        Some(pki.server.clone()),
        Behaviour::OneRequestPerConnection,
        None,
    )
    .await;
    let layer = TraceLayer::builder()
        .config(config(&otlp_env(&receiver, &pki)))
        .build();
    let logs = Logs::default();
    let _guard = logs.capture();
    for pause in [0, 50, 0, 50] {
        invoke(&layer, None).await;
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    let received = receiver.wait_for(4).await;
    assert_eq!(received.len(), 4, "every invocation exported");
    assert_eq!(logs.lines_containing("trace export failed"), 0);
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 4);
    assert_eq!(receiver.full_handshakes.load(Ordering::SeqCst), 1);
    assert_eq!(
        receiver.resumed_handshakes.load(Ordering::SeqCst),
        3,
        "re-established with the session of the first"
    );
}

#[tokio::test]
async fn json_and_gzip_are_read_by_opentelemetry_proto() {
    let pki = pki(Validity::Now);
    let receiver = OtlpReceiver::start(Some(pki.server.clone()), Behaviour::Serve, None).await;
    for (protocol, compression) in [
        ("http/json", "none"),
        ("http/json", "gzip"),
        ("http/protobuf", "gzip"),
    ] {
        let mut env = otlp_env(&receiver, &pki);
        env.push(("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", protocol.into()));
        env.push(("OTEL_EXPORTER_OTLP_COMPRESSION", compression.into()));
        let layer = TraceLayer::builder().config(config(&env)).build();
        invoke(&layer, None).await;
    }
    let received = receiver.wait_for(3).await;
    assert_eq!(received.len(), 3);
    for r in &received {
        assert_is_the_invocation(r);
    }
    assert_eq!(received[0].headers["content-type"], "application/json");
    assert!(received[0].headers.get("content-encoding").is_none());
    assert_eq!(received[1].headers["content-type"], "application/json");
    assert_eq!(received[1].headers["content-encoding"], "gzip");
    assert_eq!(
        received[2].headers["content-type"],
        "application/x-protobuf"
    );
    assert_eq!(received[2].headers["content-encoding"], "gzip");
    assert!(
        received[1].wire_bytes < received[0].wire_bytes,
        "gzip is smaller"
    );
}

#[tokio::test]
async fn grpc_is_answered_with_one_log_line_and_protobuf() {
    let pki = pki(Validity::Now);
    let receiver = OtlpReceiver::start(Some(pki.server.clone()), Behaviour::Serve, None).await;
    let logs = Logs::default();
    let _guard = logs.capture();
    let mut env = otlp_env(&receiver, &pki);
    env.push(("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()));
    let layer = TraceLayer::builder().config(config(&env)).build();
    invoke(&layer, None).await;
    assert_eq!(logs.lines_containing("OTEL_EXPORTER_OTLP_PROTOCOL=grpc"), 1);
    let received = receiver.wait_for(1).await;
    assert_eq!(
        received[0].headers["content-type"],
        "application/x-protobuf"
    );
}

#[tokio::test]
async fn a_503_is_retried_once_when_the_deadline_allows() {
    let pki = pki(Validity::Now);
    let receiver = OtlpReceiver::start(Some(pki.server.clone()), Behaviour::Serve, None).await;
    let layer = TraceLayer::builder()
        .config(config(&otlp_env(&receiver, &pki)))
        .build();
    let logs = Logs::default();
    let _guard = logs.capture();

    // Retry-After 0: retried at once, and the retry is accepted.
    receiver.answer(&[(503, Some("0"))]);
    invoke(&layer, None).await;
    assert_eq!(receiver.wait_for(2).await.len(), 2, "sent twice");
    assert_eq!(logs.lines_containing("trace export failed"), 0);

    // Two failures in a row: one retry only, then the failure is reported.
    receiver.answer(&[(429, None), (502, None)]);
    invoke(&layer, None).await;
    assert_eq!(receiver.wait_for(4).await.len(), 4);
    assert_eq!(logs.lines_containing("HTTP 502"), 1);

    // Retry-After past the flush deadline (300 ms): not retried, reported as it came (a new
    // layer: the one above has logged its one line for this kind of failure).
    let layer = TraceLayer::builder()
        .config(config(&otlp_env(&receiver, &pki)))
        .build();
    receiver.answer(&[(503, Some("5"))]);
    let elapsed = invoke(&layer, None).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.received().len(), 5, "no retry");
    assert!(
        elapsed < Duration::from_secs(1),
        "did not wait: {elapsed:?}"
    );
    assert_eq!(logs.lines_containing("HTTP 503"), 1);
}

// ---------------------------------------------------------------------------------------------
// Faults over TLS: the response is the handler's, the invocation bounded, one log line

/// One invocation against `url` (trusting `ca` when given): the failure's log lines.
async fn faulty(url: &str, ca: Option<&TestPki>) -> Vec<String> {
    let logs = Logs::default();
    let _guard = logs.capture();
    let mut env = vec![
        ("OTEL_TRACES_EXPORTER", "otlp".to_string()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.to_string()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("x-access-token={TOKEN_CANARY}"),
        ),
    ];
    if let Some(pki) = ca {
        env.push((
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            pki.ca_file.display().to_string(),
        ));
    }
    let layer = TraceLayer::builder().config(config(&env)).build();
    let elapsed = invoke(&layer, None).await;
    assert!(elapsed < BOUND, "took {elapsed:?}");
    let lines = logs.lines();
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("trace export failed"))
            .count(),
        1,
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains(TOKEN_CANARY)), "{lines:?}");
    lines
}

#[tokio::test]
async fn an_untrusted_certificate_is_refused() {
    let pki = pki(Validity::Now);
    let receiver = OtlpReceiver::start(Some(pki.server.clone()), Behaviour::Serve, None).await;
    let lines = faulty(&receiver.url, None).await;
    assert!(
        lines.iter().any(|l| l.contains("UnknownIssuer")),
        "{lines:?}"
    );
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn an_expired_certificate_is_refused() {
    let pki = pki(Validity::Expired);
    let receiver = OtlpReceiver::start(Some(pki.server.clone()), Behaviour::Serve, None).await;
    let lines = faulty(&receiver.url, Some(&pki)).await;
    assert!(
        lines.iter().any(|l| l.contains("certificate expired")),
        "{lines:?}"
    );
    assert!(receiver.received().is_empty());
}

#[tokio::test]
async fn a_handshake_that_never_completes_is_abandoned_at_the_flush_deadline() {
    let pki = pki(Validity::Now);
    let receiver = OtlpReceiver::start(None, Behaviour::Hang, None).await;
    let url = receiver.url.replace("http://", "https://");
    let lines = faulty(&url, Some(&pki)).await;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("export timed out after 300ms")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn tls_spoken_to_a_plain_http_port_fails_cleanly() {
    let pki = pki(Validity::Now);
    let receiver = OtlpReceiver::start(None, Behaviour::Serve, None).await;
    let url = receiver.url.replace("http://", "https://");
    let lines = faulty(&url, Some(&pki)).await;
    assert!(
        lines.iter().any(|l| l.contains("transport error")),
        "{lines:?}"
    );
    assert!(receiver.received().is_empty());
}

// ---------------------------------------------------------------------------------------------
// X-Ray's OTLP endpoint: SigV4 checked by botocore

fn check(tamper_body: bool) -> SigV4Check {
    SigV4Check {
        access_key_id: "AKIDLAMBDATRACETEST".into(),
        secret_access_key: SECRET_CANARY.into(),
        session_token: Some(SESSION_CANARY.into()),
        region: "eu-west-1".into(),
        tamper_body,
    }
}

fn xray_layer(receiver: &OtlpReceiver, pki: &TestPki, secret: &str) -> TraceLayer {
    let exporter = OtlpExporter::new(&receiver.url)
        .unwrap()
        .with_trusted_certificates_pem(pki.ca_pem.as_bytes())
        .unwrap()
        .with_sigv4(
            "eu-west-1",
            XrayCredentials::Static {
                access_key_id: "AKIDLAMBDATRACETEST".into(),
                secret_access_key: secret.into(),
                session_token: Some(SESSION_CANARY.into()),
            },
        );
    TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter)
        .build()
}

#[tokio::test]
async fn xray_otlp_requests_are_signed_as_botocore_computes_it() {
    let pki = pki(Validity::Now);
    let receiver = OtlpReceiver::start(
        Some(pki.server.clone()),
        Behaviour::Serve,
        Some(check(false)),
    )
    .await;
    let layer = xray_layer(&receiver, &pki, SECRET_CANARY);
    let logs = Logs::default();
    let _guard = logs.capture();
    // Active tracing: the invocation joins Lambda's trace under Lambda's segment.
    invoke(&layer, Some(LAMBDA_HEADER)).await;
    invoke(&layer, None).await;
    let received = receiver.wait_for(2).await;
    assert_eq!(*receiver.verdicts.lock().unwrap(), ["ok", "ok"]);
    assert_eq!(logs.lines_containing("trace export failed"), 0);
    // Not in any log line (aws-sigv4 logs its canonical request at TRACE), nor in the spans.
    for canary in [SECRET_CANARY, SESSION_CANARY] {
        assert_eq!(logs.lines_containing(canary), 0, "{canary}");
    }
    assert_eq!(received.len(), 2);
    for r in &received {
        let text = format!("{:?}", r.request);
        assert!(!text.contains(SECRET_CANARY) && !text.contains(SESSION_CANARY));
    }

    let active = spans(&received[0]);
    let root = &active[0];
    assert_eq!(hex(&root.trace_id), "5759e988bd862e3fe1be46a994272793");
    assert_eq!(hex(&root.parent_span_id), "53995c3f42cd8ad8");
    assert_eq!(
        root.kind, 1,
        "INTERNAL: a subsegment of Lambda's function segment"
    );
    let annotations = match attr(&root.attributes, "aws.xray.annotations") {
        Some(any_value::Value::ArrayValue(a)) => a
            .values
            .iter()
            .filter_map(|v| match &v.value {
                Some(any_value::Value::StringValue(s)) => Some(s.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>(),
        other => panic!("aws.xray.annotations: {other:?}"),
    };
    for key in ["ColdStart", "Service", "orderId"] {
        assert!(annotations.contains(&key), "{annotations:?}");
    }
    // Without Active tracing the invocation span is the function's segment: SERVER.
    assert_eq!(spans(&received[1])[0].kind, 2);
    assert!(
        received[0].headers["authorization"]
            .to_str()
            .unwrap()
            .contains("/eu-west-1/xray/aws4_request")
    );
}

#[tokio::test]
async fn a_wrong_secret_or_a_changed_body_is_refused_and_reported_once() {
    let pki = pki(Validity::Now);
    for (secret, tamper) in [("not-the-secret", false), (SECRET_CANARY, true)] {
        let receiver = OtlpReceiver::start(
            Some(pki.server.clone()),
            Behaviour::Serve,
            Some(check(tamper)),
        )
        .await;
        let layer = xray_layer(&receiver, &pki, secret);
        let logs = Logs::default();
        let _guard = logs.capture();
        for _ in 0..3 {
            let elapsed = invoke(&layer, None).await;
            assert!(elapsed < BOUND);
        }
        assert_eq!(
            *receiver.verdicts.lock().unwrap(),
            ["mismatch: signature"; 3],
            "secret {secret:?}, tampered {tamper}"
        );
        let lines = logs.lines();
        assert_eq!(
            lines.iter().filter(|l| l.contains("HTTP 403")).count(),
            1,
            "one line per kind of failure: {lines:?}"
        );
        for canary in [SECRET_CANARY, SESSION_CANARY, "not-the-secret"] {
            assert!(!lines.iter().any(|l| l.contains(canary)), "{lines:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A real function process

/// The echo example as a process behind a local Runtime API, exporting over HTTPS in both flush
/// modes: every invocation's spans reach the receiver (before the response in the default
/// mode), warm invocations reuse the one TLS connection of the process.
#[tokio::test]
async fn a_function_process_keeps_one_tls_connection_across_invocations() {
    use lambda_trace_local::{Invocation, Outcome, RuntimeApi, XrayDaemon};

    let pki = pki(Validity::Now);
    for mode in ["before-response", "after-response"] {
        let receiver = OtlpReceiver::start(Some(pki.server.clone()), Behaviour::Serve, None).await;
        let daemon = XrayDaemon::bind().expect("bind UDP daemon");
        let api = RuntimeApi::start().await.expect("start Runtime API");
        let seen_at_response = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (snapshot, probe) = (seen_at_response.clone(), receiver.clone());
        api.on_response(move |_| snapshot.lock().unwrap().push(probe.received().len()));
        let ca = pki.ca_file.display().to_string();
        let token = format!("x-access-token={TOKEN_CANARY}");
        let env = [
            ("LAMBDA_TRACE_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.url.as_str()),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str()),
            ("OTEL_EXPORTER_OTLP_HEADERS", token.as_str()),
            ("LAMBDA_TRACE_FLUSH_MODE", mode),
        ];
        let _process = support::spawn_echo(&api, &daemon, &env).await;
        for n in 0..4 {
            let payload = json!({"children": 2, "n": n});
            let invocation = Invocation::new(serde_json::to_vec(&payload).unwrap())
                .with_trace_header(LAMBDA_HEADER);
            let result = api.invoke(invocation).await;
            match result.outcome {
                Outcome::Response(body) => {
                    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), payload)
                }
                other => panic!("{other:?}"),
            }
        }
        let received = receiver.wait_for(4).await;
        assert_eq!(received.len(), 4, "{mode}");
        for r in &received {
            let spans = spans(r);
            assert_eq!(spans.len(), 3, "{mode}: the invocation span and 2 children");
            assert_eq!(hex(&spans[0].trace_id), "5759e988bd862e3fe1be46a994272793");
            assert_eq!(r.headers["x-access-token"], TOKEN_CANARY);
        }
        if mode == "before-response" {
            assert_eq!(
                *seen_at_response.lock().unwrap(),
                [1, 2, 3, 4],
                "each invocation's spans arrived before its response"
            );
        }
        assert_eq!(receiver.connections.load(Ordering::SeqCst), 1, "{mode}");
        assert_eq!(receiver.full_handshakes.load(Ordering::SeqCst), 1, "{mode}");
    }
}
