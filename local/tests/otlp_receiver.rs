//! The OTLP receiver over real sockets: protobuf, OTLP/JSON and gzip bodies, plain HTTP and TLS
//! (a client trusting the CA made at start), refusals, and spans joining the X-Ray daemon's
//! documents of the same trace in one tree.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use lambda_trace_local::client::{self, ClientResponse};
use lambda_trace_local::collector::{Collector, Source, Trace};
use lambda_trace_local::otlp::{Encoding, OtlpReceiver, TRACES_PATH};
use lambda_trace_local::{XrayDaemon, waterfall};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::json;

const TRACE_HEX: &str = "5759e988bd862e3fe1be46a994272793";
const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";
/// The emulated `AWS::Lambda::Function` segment, sent to the daemon.
const FUNCTION_SEGMENT: &str = "53995c3f42cd8ad8";
const INVOCATION: &str = "1000000000000001";
const EGRESS: &str = "1000000000000002";
/// A span of another OpenTelemetry SDK, under our egress span.
const FOREIGN: &str = "2000000000000003";
const T0: u64 = 1_700_000_000_000_000_000;

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

/// What lambda-trace sends for one invocation: the invocation span under Lambda's function
/// segment (annotations as plain attributes) and a client span under it.
fn lambda_trace_request() -> ExportTraceServiceRequest {
    let invocation = Span {
        trace_id: bytes(TRACE_HEX),
        span_id: bytes(INVOCATION),
        parent_span_id: bytes(FUNCTION_SEGMENT),
        name: "router".into(),
        kind: SpanKind::Server as i32,
        start_time_unix_nano: T0 + 1_000_000,
        end_time_unix_nano: T0 + 40_000_000,
        attributes: vec![
            kv("ColdStart", any_value::Value::BoolValue(true)),
            string("Service", "router"),
            string("orderId", "o-42"),
            string("faas.trigger", "http"),
            kv("http.response.status_code", any_value::Value::IntValue(200)),
        ],
        ..Span::default()
    };
    let egress = Span {
        trace_id: bytes(TRACE_HEX),
        span_id: bytes(EGRESS),
        parent_span_id: bytes(INVOCATION),
        name: "service-egress".into(),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: T0 + 5_000_000,
        end_time_unix_nano: T0 + 30_000_000,
        attributes: vec![
            string("http.request.method", "POST"),
            kv("http.response.status_code", any_value::Value::IntValue(503)),
        ],
        status: Some(Status {
            message: "HTTP 503".into(),
            code: StatusCode::Error as i32,
        }),
        ..Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![string("service.name", "router")],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![invocation, egress],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// OTLP/JSON as the Python and Node SDKs write it (hex ids, int64 as strings, numeric enums),
/// for a span of another service under our egress span.
fn foreign_sdk_json() -> String {
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "inventory-py"}},
            {"key": "telemetry.sdk.language", "value": {"stringValue": "python"}}]},
        "scopeSpans": [{
            "scope": {"name": "opentelemetry.instrumentation.flask", "version": "0.48b0"},
            "spans": [{
                "traceId": TRACE_HEX,
                "spanId": FOREIGN,
                "parentSpanId": EGRESS,
                "name": "POST /reserve",
                "kind": 2,
                "startTimeUnixNano": (T0 + 10_000_000).to_string(),
                "endTimeUnixNano": (T0 + 20_000_000).to_string(),
                "attributes": [
                    {"key": "http.method", "value": {"stringValue": "POST"}},
                    {"key": "http.status_code", "value": {"intValue": "404"}},
                    {"key": "sku", "value": {"stringValue": "b-7"}}],
                "status": {}
            }]
        }]
    }]})
    .to_string()
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body).unwrap();
    encoder.finish().unwrap()
}

/// POSTs to the receiver, over TLS (trusting its CA) when it speaks TLS.
async fn post(receiver: &OtlpReceiver, headers: &[(&str, &str)], body: Vec<u8>) -> ClientResponse {
    let result = match receiver.ca() {
        None => client::send(receiver.address(), Method::POST, TRACES_PATH, headers, body).await,
        Some(ca) => {
            client::send_tls(
                receiver.address(),
                Arc::new(ca.client_config().unwrap()),
                Method::POST,
                TRACES_PATH,
                headers,
                body,
            )
            .await
        }
    };
    result.expect("the receiver answers")
}

/// The X-Ray daemon gets Lambda's function segment, as the stand-in's documents would have it.
async fn daemon_segment(collector: &Collector) {
    let daemon = XrayDaemon::bind().unwrap();
    let document = json!({"trace_id": TRACE, "id": FUNCTION_SEGMENT, "name": "router",
        "origin": "AWS::Lambda::Function", "start_time": 1_700_000_000.0, "end_time": 1_700_000_000.05});
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let datagram = format!("{{\"format\": \"json\", \"version\": 1}}\n{document}");
    socket
        .send_to(datagram.as_bytes(), daemon.address())
        .unwrap();
    let got = daemon
        .recv_until(|d| !d.is_empty(), Duration::from_secs(2))
        .await;
    collector.add_datagrams(&got);
}

/// Sends lambda-trace's spans as protobuf and the foreign span as OTLP/JSON, each `gzipped` or
/// not, and checks the answers.
async fn send_both(receiver: &OtlpReceiver, gzipped: bool) {
    let encode = |b: Vec<u8>| if gzipped { gzip(&b) } else { b };
    let mut headers = vec![
        ("content-type", "application/x-protobuf"),
        ("x-access-token", "tok-1"),
    ];
    if gzipped {
        headers.push(("content-encoding", "gzip"));
    }
    let answer = post(
        receiver,
        &headers,
        encode(lambda_trace_request().encode_to_vec()),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.headers["content-type"], "application/x-protobuf");
    let decoded = ExportTraceServiceResponse::decode(&answer.body[..]).unwrap();
    assert_eq!(decoded, ExportTraceServiceResponse::default());

    headers[0].1 = "application/json; charset=utf-8";
    let answer = post(receiver, &headers, encode(foreign_sdk_json().into_bytes())).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(answer.text(), "{}");
}

/// One tree: Lambda's segment (daemon) → invocation → egress → the foreign service's span.
fn assert_merged(trace: &Trace) {
    let shape: Vec<(usize, &str, &Source)> = trace
        .nodes
        .iter()
        .map(|n| (n.depth, n.id.as_str(), &n.source))
        .collect();
    assert_eq!(
        shape,
        vec![
            (0, FUNCTION_SEGMENT, &Source::Daemon),
            (1, INVOCATION, &Source::Otlp),
            (2, EGRESS, &Source::Otlp),
            (3, FOREIGN, &Source::Otlp),
        ],
        "{trace:#?}"
    );
    let invocation = trace.node(INVOCATION).unwrap();
    assert_eq!(invocation.parent_id.as_deref(), Some(FUNCTION_SEGMENT));
    assert_eq!(invocation.function.as_deref(), Some("router"));
    assert_eq!(invocation.annotations["ColdStart"], true);
    assert_eq!(invocation.annotations["Service"], "router");
    assert_eq!(invocation.annotations["orderId"], "o-42");
    assert!(!invocation.annotations.contains_key("faas.trigger"));
    assert_eq!(invocation.http_status, Some(200));
    assert!((invocation.start_time - 1_700_000_000.001).abs() < 1e-6);
    assert!((invocation.duration_ms().unwrap() - 39.0).abs() < 1e-3);
    let egress = trace.node(EGRESS).unwrap();
    assert_eq!(egress.parent_id.as_deref(), Some(INVOCATION));
    assert_eq!(egress.namespace.as_deref(), Some("remote"));
    assert!(egress.fault && !egress.error, "{egress:#?}");
    assert_eq!(egress.cause["exceptions"][0]["message"], "HTTP 503");
    let foreign = trace.node(FOREIGN).unwrap();
    assert_eq!(foreign.parent_id.as_deref(), Some(EGRESS));
    assert_eq!(foreign.name, "POST /reserve");
    assert_eq!(foreign.http_status, Some(404));
    assert!(foreign.error && !foreign.fault);
    assert_eq!(foreign.annotations["sku"], "b-7");
    assert_eq!(
        foreign.metadata["otel"]["service.name"], "inventory-py",
        "{foreign:#?}"
    );
    let text = waterfall::render(trace, &waterfall::Options::default());
    assert!(
        text.contains("  200  ColdStart=true Service=router orderId=o-42"),
        "{text}"
    );
}

#[tokio::test]
async fn protobuf_json_and_gzip_over_plain_http_join_the_daemons_trace() {
    let collector = Arc::new(Collector::new());
    let receiver = OtlpReceiver::start(collector.clone(), 0, false)
        .await
        .unwrap();
    assert!(!receiver.is_tls() && receiver.ca_file().is_none());
    assert_eq!(
        receiver.traces_url(),
        format!("http://{}/v1/traces", receiver.address())
    );
    daemon_segment(&collector).await;
    send_both(&receiver, false).await;
    send_both(&receiver, true).await;

    let trace = collector.trace(TRACE).expect("the trace");
    // The same spans twice: each id once in the tree.
    assert_merged(&trace);
    let requests = receiver.requests();
    let seen: Vec<_> = requests
        .iter()
        .map(|r| (r.encoding, r.gzip, r.spans, r.status))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some(Encoding::Protobuf), false, 2, 200),
            (Some(Encoding::Json), false, 1, 200),
            (Some(Encoding::Protobuf), true, 2, 200),
            (Some(Encoding::Json), true, 1, 200),
        ]
    );
    assert!(
        requests
            .iter()
            .all(|r| r.headers["x-access-token"] == "tok-1")
    );
    assert!(
        collector.rejected().is_empty(),
        "{:?}",
        collector.rejected()
    );
}

#[tokio::test]
async fn tls_with_the_ca_made_at_start() {
    let collector = Arc::new(Collector::new());
    let receiver = OtlpReceiver::start(collector.clone(), 0, true)
        .await
        .unwrap();
    assert!(receiver.is_tls());
    assert_eq!(
        receiver.endpoint(),
        format!("https://{}", receiver.address())
    );
    let ca_file = receiver.ca_file().unwrap().to_path_buf();
    assert_eq!(
        std::fs::read_to_string(&ca_file).unwrap(),
        receiver.ca().unwrap().ca_pem()
    );
    daemon_segment(&collector).await;
    send_both(&receiver, true).await;
    send_both(&receiver, false).await;
    assert_merged(&collector.trace(TRACE).unwrap());
    assert_eq!(receiver.requests().len(), 4);

    // Plain HTTP to the TLS port gets no answer; a client trusting other roots fails.
    let plain = client::send(
        receiver.address(),
        Method::POST,
        TRACES_PATH,
        &[],
        lambda_trace_request().encode_to_vec(),
    )
    .await;
    assert!(plain.is_err(), "{plain:?}");
    let other_ca = lambda_trace_local::tls::LocalCa::generate().unwrap();
    let untrusted = client::send_tls(
        receiver.address(),
        Arc::new(other_ca.client_config().unwrap()),
        Method::POST,
        TRACES_PATH,
        &[],
        Vec::new(),
    )
    .await;
    assert!(untrusted.is_err(), "{untrusted:?}");
    assert_eq!(receiver.requests().len(), 4);

    drop(receiver);
    assert!(
        !ca_file.exists(),
        "the CA file is removed with the receiver"
    );
}

#[tokio::test]
async fn refusals_and_partial_success() {
    let collector = Arc::new(Collector::new());
    let receiver = OtlpReceiver::start(collector.clone(), 0, false)
        .await
        .unwrap();
    let addr = receiver.address();
    let status = |r: ClientResponse| r.status.as_u16();
    let get = client::send(addr, Method::GET, TRACES_PATH, &[], "")
        .await
        .unwrap();
    assert_eq!(status(get), 405);
    let other = client::send(addr, Method::POST, "/v1/metrics", &[], "")
        .await
        .unwrap();
    assert_eq!(status(other), 404);
    for (headers, body, expected) in [
        (vec![("content-type", "text/plain")], b"hi".to_vec(), 415u16),
        (
            vec![("content-type", "application/x-protobuf")],
            vec![0xff, 0xff, 0xff],
            400,
        ),
        (
            vec![("content-type", "application/json")],
            b"{not json".to_vec(),
            400,
        ),
        (
            vec![
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            b"not gzip".to_vec(),
            400,
        ),
        (
            vec![
                ("content-type", "application/json"),
                ("content-encoding", "br"),
            ],
            b"{}".to_vec(),
            415,
        ),
    ] {
        assert_eq!(status(post(&receiver, &headers, body).await), expected);
    }
    assert_eq!(collector.rejected().len(), 5, "{:?}", collector.rejected());

    // One span with a broken trace id: the others are kept, the answer counts it.
    let mut request = lambda_trace_request();
    request.resource_spans[0].scope_spans[0].spans[1].trace_id = vec![0; 16];
    let answer = post(
        &receiver,
        &[("content-type", "application/x-protobuf")],
        request.encode_to_vec(),
    )
    .await;
    assert_eq!(answer.status, 200);
    let partial = ExportTraceServiceResponse::decode(&answer.body[..])
        .unwrap()
        .partial_success
        .expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("service-egress"));
    assert_eq!(collector.trace(TRACE).unwrap().nodes.len(), 1);
    let last = receiver.requests().pop().unwrap();
    assert_eq!((last.spans, last.status), (1, 200));
}
