//! `XrayInterceptor` on an `aws-sdk-xray` client, called inside a traced invocation.
//!
//! Against `moto_server` (`make venv`): a real call becomes an `aws` subsegment `XRay` with
//! operation, region, request id and `retries: 0`, and its document validates against the X-Ray
//! schema. Against a small local HTTP server that records what it receives and answers canned
//! responses: the signed request carries `X-Amzn-Trace-Id` naming the subsegment; retries are
//! counted; 4xx / throttling / 5xx / no connection set the right flags.
#![cfg(all(feature = "aws-sdk", feature = "xray-api"))]

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use aws_config::SdkConfig;
use aws_config::retry::RetryConfig;
use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::aws::XrayInterceptor;
use lambda_trace::export::{Export, Exporter};
use lambda_trace::span::{AttributeValue, SpanBatch, SpanKind, SpanRecord};
use lambda_trace::{Config, TraceLayer};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};

/// Keeps every exported batch.
#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Vec<SpanBatch>>>);

impl Exporter for Capture {
    fn export(&self, batch: SpanBatch) -> Export {
        self.0.lock().unwrap().push(batch);
        Export::Done(Ok(()))
    }
}

fn client(config: &SdkConfig) -> aws_sdk_xray::Client {
    let config = aws_sdk_xray::config::Builder::from(config)
        .interceptor(XrayInterceptor::new())
        .build();
    aws_sdk_xray::Client::from_conf(config)
}

const DOCUMENT: &str = r#"{"name":"job","id":"70de5b6f19ff9a0a","trace_id":"1-581cf771-a006649127e371903a2de979","start_time":1478293361.271,"end_time":1478293361.449}"#;

/// Runs one traced invocation whose handler calls `PutTraceSegments` with `config`; returns the
/// invocation's batch and what the call returned (as text).
async fn traced_call(config: SdkConfig) -> (SpanBatch, Result<(), String>) {
    let capture = Capture::default();
    let layer = TraceLayer::builder()
        .config(Config::from_lookup(|k| match k {
            "AWS_LAMBDA_FUNCTION_NAME" => Some("orders-fn".into()),
            _ => None,
        }))
        .exporter(capture.clone())
        .build();
    let client = client(&config);
    let result = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&result);
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let client = client.clone();
        let seen = Arc::clone(&seen);
        async move {
            let r = client
                .put_trace_segments()
                .trace_segment_documents(DOCUMENT)
                .send()
                .await
                .map(drop)
                .map_err(|e| aws_sdk_xray::error::DisplayErrorContext(e).to_string());
            *seen.lock().unwrap() = Some(r);
            Ok::<_, Error>(event.payload)
        }
    });
    let mut svc = layer.layer(handler);
    let mut cx = Context::default();
    cx.request_id = "req-1".into();
    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(json!({}), cx))
        .await
        .unwrap();
    let mut batches = capture.0.lock().unwrap().split_off(0);
    assert_eq!(batches.len(), 1);
    let result = result.lock().unwrap().take().expect("the handler ran");
    (batches.remove(0), result)
}

/// The one client span of `batch`.
fn aws_span(batch: &SpanBatch) -> &SpanRecord {
    let spans: Vec<_> = batch
        .spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client)
        .collect();
    assert_eq!(spans.len(), 1, "{:#?}", batch.spans);
    assert_eq!(spans[0].parent_id, Some(batch.spans[0].span_id));
    spans[0]
}

/// The subsegment document of the AWS call, from the batch's (single) document.
fn aws_document(batch: &SpanBatch) -> Value {
    let mut docs = Vec::new();
    lambda_trace::xray::encode_batch(batch, &mut docs);
    assert_eq!(docs.len(), 1);
    let root: Value = serde_json::from_slice(&docs[0]).unwrap();
    support::assert_valid_document(&root);
    root["subsegments"][0].clone()
}

fn string_attr<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a str> {
    match span.attribute(key)? {
        AttributeValue::String(s) => Some(s),
        _ => None,
    }
}

#[tokio::test]
async fn a_call_to_moto_is_an_aws_subsegment() {
    let moto = support::moto::Moto::start();
    let (batch, result) = traced_call(support::moto::sdk_config(&moto.endpoint())).await;
    result.unwrap();
    let span = aws_span(&batch);
    assert_eq!(span.name, "XRay");
    assert_eq!(string_attr(span, "rpc.method"), Some("PutTraceSegments"));
    let request_id = string_attr(span, "aws.request_id").expect("moto sends a request id");
    let doc = aws_document(&batch);
    assert_eq!(doc["name"], "XRay");
    assert_eq!(doc["namespace"], "aws");
    assert_eq!(
        doc["aws"],
        json!({
            "operation": "PutTraceSegments",
            "region": support::moto::REGION,
            "request_id": request_id,
            "retries": 0,
        })
    );
    assert_eq!(doc["http"]["response"]["status"], 200);
    for flag in ["error", "throttle", "fault"] {
        assert!(doc.get(flag).is_none(), "{flag}: {doc}");
    }
}

/// Response headers of a [`Reply`].
type Headers = &'static [(&'static str, &'static str)];

/// One canned answer of [`Server`].
struct Reply {
    status: u16,
    headers: Headers,
    body: &'static str,
}

const OK: Reply = Reply {
    status: 200,
    headers: &[("x-amzn-requestid", "R-ok")],
    body: r#"{"UnprocessedTraceSegments":[]}"#,
};

/// A loopback HTTP/1.1 server answering one request per connection with the next [`Reply`],
/// recording each request's headers (lowercase names). It stops after the last reply.
struct Server {
    endpoint: String,
    requests: Arc<Mutex<Vec<HashMap<String, String>>>>,
    thread: JoinHandle<()>,
}

impl Server {
    fn start(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let thread = std::thread::spawn(move || {
            for reply in replies {
                let (stream, _) = listener.accept().unwrap();
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut reader = BufReader::new(stream);
                let mut headers = HashMap::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap(); // request line
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    let (k, v) = l.split_once(':').unwrap();
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
                }
                let len: usize = headers
                    .get("content-length")
                    .map_or(0, |v| v.parse().unwrap());
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                seen.lock().unwrap().push(headers);
                let mut out = format!(
                    "HTTP/1.1 {} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                    reply.status,
                    reply.body.len()
                );
                for (k, v) in reply.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                out.push_str("\r\n");
                out.push_str(reply.body);
                let mut stream = reader.into_inner();
                stream.write_all(out.as_bytes()).unwrap();
                let _ = stream.flush();
            }
        });
        Server {
            endpoint,
            requests,
            thread,
        }
    }

    /// The recorded requests, once every reply was sent.
    fn finish(self) -> Vec<HashMap<String, String>> {
        self.thread.join().expect("server thread");
        Arc::try_unwrap(self.requests)
            .unwrap()
            .into_inner()
            .unwrap()
    }
}

/// SDK configuration for `endpoint`: fast retries, at most `attempts` attempts.
fn config(endpoint: &str, attempts: u32) -> SdkConfig {
    support::moto::sdk_config(endpoint)
        .into_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(1))
                .with_max_backoff(Duration::from_millis(5)),
        )
        .build()
}

#[tokio::test]
async fn the_signed_request_names_the_subsegment() {
    let server = Server::start(vec![OK]);
    let (batch, result) = traced_call(config(&server.endpoint, 1)).await;
    result.unwrap();
    let requests = server.finish();
    let span = aws_span(&batch);
    let header = requests[0]
        .get("x-amzn-trace-id")
        .expect("X-Amzn-Trace-Id sent");
    assert_eq!(
        header,
        &format!(
            "Root={};Parent={};Sampled=1",
            batch.trace_id.to_xray(),
            span.span_id
        )
    );
    let authorization = &requests[0]["authorization"];
    let signed = authorization
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap();
    // SigV4 leaves the trace header out of the signature on purpose (proxies and AWS front
    // doors rewrite it), so the header we set before signing travels with a valid signature.
    assert!(signed.split(';').any(|h| h == "host"), "{authorization}");
    assert!(
        !signed.split(';').any(|h| h == "x-amzn-trace-id"),
        "signed headers: {signed}"
    );
    let doc = aws_document(&batch);
    assert_eq!(doc["aws"]["request_id"], "R-ok");
    assert_eq!(doc["aws"]["retries"], 0);
}

#[tokio::test]
async fn retries_are_counted_and_the_final_answer_decides_the_flags() {
    let throttled = Reply {
        status: 429,
        headers: &[
            ("x-amzn-errortype", "ThrottlingException"),
            ("x-amzn-requestid", "R-1"),
        ],
        body: r#"{"message":"slow down"}"#,
    };
    let server = Server::start(vec![throttled, OK]);
    let (batch, result) = traced_call(config(&server.endpoint, 3)).await;
    result.unwrap();
    let requests = server.finish();
    assert_eq!(requests.len(), 2);
    // Every attempt carries the same parent.
    assert_eq!(
        requests[0]["x-amzn-trace-id"],
        requests[1]["x-amzn-trace-id"]
    );
    let doc = aws_document(&batch);
    assert_eq!(doc["aws"]["retries"], 1);
    assert_eq!(doc["aws"]["request_id"], "R-ok");
    assert_eq!(doc["http"]["response"]["status"], 200);
    assert!(doc.get("error").is_none() && doc.get("throttle").is_none());
}

#[rustfmt::skip]
#[tokio::test]
async fn errors_throttles_and_faults() {
    // (status, response headers, body, error, throttle, fault, exception type)
    let cases: [(u16, Headers, &str, bool, bool, bool, &str); 4] = [
        (400, &[], r#"{"__type":"InvalidRequestException","message":"bad"}"#, true, false, false, "InvalidRequestException"),
        (400, &[("x-amzn-errortype", "ThrottledException:http://internal.amazon.com/")], r#"{"message":"m"}"#, true, true, false, "ThrottledException"),
        (429, &[], r#"{"message":"too many"}"#, true, true, false, "ServiceError"),
        (500, &[], r#"{"__type":"InternalFailure","message":"boom"}"#, false, false, true, "InternalFailure"),
    ];
    for (status, headers, body, error, throttle, fault, type_name) in cases {
        let server = Server::start(vec![Reply { status, headers, body }]);
        let (batch, result) = traced_call(config(&server.endpoint, 1)).await;
        assert!(result.is_err(), "{status} {body}");
        server.finish();
        let doc = aws_document(&batch);
        let flag = |k: &str| doc.get(k).and_then(Value::as_bool).unwrap_or(false);
        assert_eq!((flag("error"), flag("throttle"), flag("fault")), (error, throttle, fault), "{status} {body}: {doc}");
        assert_eq!(doc["http"]["response"]["status"], status);
        let exception = &doc["cause"]["exceptions"][0];
        assert_eq!(exception["type"], type_name, "{doc}");
        assert_eq!(exception["remote"], true);
        assert_eq!(doc["aws"]["operation"], "PutTraceSegments");
    }
}

#[tokio::test]
async fn no_connection_is_a_fault() {
    let closed = support::moto::free_port();
    let (batch, result) = traced_call(config(&format!("http://{closed}"), 1)).await;
    assert!(result.is_err());
    let doc = aws_document(&batch);
    assert_eq!(doc["fault"], true, "{doc}");
    assert!(doc.get("error").is_none());
    assert!(doc.get("http").is_none(), "no response, no status: {doc}");
    let exception = &doc["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "DispatchFailure");
    assert!(exception.get("remote").is_none() || exception["remote"] == false);
    assert_eq!(doc["aws"]["retries"], 0);
}

#[tokio::test]
async fn calls_outside_an_invocation_are_untouched() {
    let server = Server::start(vec![OK]);
    client(&config(&server.endpoint, 1))
        .put_trace_segments()
        .trace_segment_documents(DOCUMENT)
        .send()
        .await
        .unwrap();
    let requests = server.finish();
    assert!(!requests[0].contains_key("x-amzn-trace-id"));
}

/// With the `tracing` bridge installed (issue 19 item 3): by default the SDK's own spans and
/// events stay out of the trace; asked for everything, they come in, and still no credential.
#[cfg(feature = "tracing")]
#[tokio::test]
async fn the_bridge_records_no_sdk_internals_and_no_credential() {
    use aws_config::Region;
    use aws_credential_types::Credentials;
    use aws_credential_types::provider::SharedCredentialsProvider;
    use lambda_trace::bridge::TracingBridge;
    use tracing::level_filters::LevelFilter;
    use tracing_subscriber::prelude::*;

    const SECRETS: [&str; 2] = ["canary-secret-key-7f3a", "canary-session-token-9b2c"];
    let moto = support::moto::Moto::start();
    let config = support::moto::sdk_config(&moto.endpoint())
        .to_builder()
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIACANARYBRIDGE",
            SECRETS[0],
            Some(SECRETS[1].to_string()),
            None,
            "test",
        )))
        .build();
    let recorded = |bridge: TracingBridge| {
        let config = config.clone();
        async move {
            let _guard = tracing_subscriber::registry().with(bridge).set_default();
            let (batch, result) = traced_call(config).await;
            result.unwrap();
            batch
        }
    };

    let batch = recorded(TracingBridge::new()).await;
    let names: Vec<_> = batch.spans.iter().map(|s| s.name.to_string()).collect();
    assert_eq!(names[1..], ["XRay"], "only the interceptor's span");
    assert!(batch.spans.iter().all(|s| s.events.is_empty()));

    let everything = TracingBridge::new()
        .with_max_level(LevelFilter::TRACE)
        .with_libraries(true);
    let batch = recorded(everything).await;
    assert!(batch.spans.len() > 5, "the SDK's spans: {:#?}", batch.spans);
    let mut text = String::new();
    for span in &batch.spans {
        text.push_str(&format!("{span:?}"));
    }
    for secret in SECRETS {
        assert!(
            !text.contains(secret),
            "{secret} recorded: {}",
            &text[text.find(secret).unwrap().saturating_sub(700)..]
        );
    }
}
