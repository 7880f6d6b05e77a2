//! What is recorded, and what never is (README "Security"). Each test fails when its property
//! breaks:
//!
//! - credentials in requests (`Authorization`, `Cookie`, `X-Api-Key`, `Set-Cookie`, query
//!   tokens, bodies, presigned URLs, user info) and the values of environment variables never
//!   reach an exported document, with capture off and on;
//! - query strings are recorded only when switched on, and then redacted;
//! - response bodies are recorded only when switched on, and then capped;
//! - with `CallerSampling::Ignore`, a caller cannot decide whether it is traced.

use std::process::Command;

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyResponse, ApiGatewayV2httpRequest,
};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::config::CallerSampling;
use lambda_trace::export::{InMemoryExporter, StdoutExporter};
use lambda_trace::layer::MAX_CAPTURED_BODY;
use lambda_trace::outgoing::OutgoingCall;
use lambda_trace::span::SpanBatch;
use lambda_trace::{Config, TraceLayer};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};

mod support;

/// Values that must never appear in an exported document.
const SECRETS: &[&str] = &[
    "s3cr3t-bearer",
    "s3cr3t-cookie",
    "s3cr3t-apikey",
    "s3cr3t-setcookie",
    "s3cr3t-query",
    "hunter2-body-password",
    "s3cr3t-outgoing-auth",
    "s3cr3t-outgoing-cookie",
    "s3cr3t-outgoing-setcookie",
    "s3cr3t-outgoing-query",
    "AKIAFAKECANARY",
    "FwoGZXIvYXdzCANARY",
    "deadbeefcanary",
    "userinfo-pw-canary",
    "s3cr3t-response-cookie",
];

/// Environment variables set for the child process, and their canary values.
const CANARY_ENV: &[(&str, &str)] = &[
    ("AWS_SECRET_ACCESS_KEY", "canary-secret-access-key-5b1e"),
    ("AWS_SESSION_TOKEN", "canary-session-token-9f3a"),
    ("AWS_ACCESS_KEY_ID", "AKIACANARYENVKEYID"),
    ("DATABASE_PASSWORD", "canary-db-password-77c2"),
    ("STRIPE_API_KEY", "canary-stripe-key-1d0d"),
    ("LAMBDA_TRACE_TEST_CANARY", "canary-plain-variable-4e8b"),
    (
        "OTEL_EXPORTER_OTLP_HEADERS",
        "x-honeycomb-team=canary-otlp-token-3c3c",
    ),
    (
        "_X_AMZN_TRACE_ID",
        "Root=1-00000000-canarycanarycanary000000",
    ),
];

/// Variables whose values are recorded on purpose (README "Security").
const RECORDED_ENV: &[(&str, &str)] = &[
    ("AWS_LAMBDA_FUNCTION_NAME", "sec-fn"),
    ("OTEL_SERVICE_NAME", "sec-svc"),
    ("AWS_REGION", "eu-west-1"),
];

const CHILD: &str = "LAMBDA_TRACE_SECURITY_CHILD";
const CALLER: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
const PRESIGNED: &str = "https://user:userinfo-pw-canary@bucket.s3.amazonaws.com/report.csv?\
    X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAFAKECANARY%2F20240101%2Feu-west-1%2Fs3%2Faws4_request\
    &X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=FwoGZXIvYXdzCANARY\
    &X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeefcanary&page=3";

// ---------------------------------------------------------------------------------------------
// Events full of credentials

fn headers() -> Value {
    json!({
        "Authorization": "Bearer s3cr3t-bearer",
        "Cookie": "session=s3cr3t-cookie; theme=dark",
        "X-Api-Key": "s3cr3t-apikey",
        "Set-Cookie": "id=s3cr3t-setcookie",
        "User-Agent": "curl/8",
        "traceparent": CALLER,
    })
}

fn multi_headers() -> Value {
    let mut multi = serde_json::Map::new();
    for (k, v) in headers().as_object().unwrap() {
        multi.insert(k.clone(), json!([v]));
    }
    Value::Object(multi)
}

const BODY: &str = r#"{"user":"ada","password":"hunter2-body-password"}"#;

fn v1_json() -> Value {
    json!({
        "resource": "/orders/{id}", "path": "/orders/42", "httpMethod": "POST",
        "headers": headers(), "multiValueHeaders": multi_headers(),
        "queryStringParameters": {"token": "s3cr3t-query", "page": "2"},
        "multiValueQueryStringParameters": {"token": ["s3cr3t-query"], "page": ["2"]},
        "requestContext": {"identity": {"sourceIp": "203.0.113.9"}, "resourcePath": "/orders/{id}", "httpMethod": "POST"},
        "body": BODY, "isBase64Encoded": false,
    })
}

fn v2_json() -> Value {
    json!({
        "version": "2.0", "routeKey": "POST /orders/{id}", "rawPath": "/orders/42",
        "rawQueryString": "token=s3cr3t-query&page=2",
        "cookies": ["session=s3cr3t-cookie"],
        "headers": headers(),
        "queryStringParameters": {"token": "s3cr3t-query", "page": "2"},
        "requestContext": {"http": {"method": "POST", "path": "/orders/42", "sourceIp": "203.0.113.9", "userAgent": "curl/8"}},
        "body": BODY, "isBase64Encoded": false,
    })
}

fn alb_json() -> Value {
    json!({
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/t/1"}},
        "httpMethod": "POST", "path": "/orders/42",
        "queryStringParameters": {"token": "s3cr3t-query", "page": "2"},
        "headers": headers(), "body": BODY, "isBase64Encoded": false,
    })
}

fn typed<T: DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).expect("a valid event")
}

fn function_url() -> LambdaFunctionUrlRequest {
    let mut v: Value =
        serde_json::from_str(include_str!("../events/function-url-b3.json")).unwrap();
    for field in ["rawPath", "rawQueryString", "cookies", "headers", "body"] {
        v[field] = v2_json()[field].clone();
    }
    v["requestContext"]["http"]["path"] = json!("/orders/42");
    typed(v)
}

// ---------------------------------------------------------------------------------------------
// Driving the layer

/// A layer with query and response capture switched on or off (`None`: left at the default).
fn layer_with(config: Config, capture: Option<bool>, exporter: &InMemoryExporter) -> TraceLayer {
    let mut builder = TraceLayer::builder().config(config);
    if let Some(capture) = capture {
        builder = builder.capture_query(capture).capture_response(capture);
    }
    builder.exporter(exporter.clone()).build()
}

/// Two outgoing calls full of credentials: a presigned S3 URL with user info and an
/// `Authorization` header, and a relative URI whose `Host` header carries user info.
fn outgoing_calls() {
    let mut request = http::Request::get(PRESIGNED)
        .header("authorization", "Bearer s3cr3t-outgoing-auth")
        .header("cookie", "sid=s3cr3t-outgoing-cookie")
        .body(())
        .unwrap();
    let call = OutgoingCall::start(&mut request);
    call.finish(
        &http::Response::builder()
            .status(200)
            .header("set-cookie", "sid=s3cr3t-outgoing-setcookie")
            .body(())
            .unwrap(),
    );
    let mut request = http::Request::get("/v1/items?access_token=s3cr3t-outgoing-query&page=4")
        .header("host", "user:userinfo-pw-canary@api.internal")
        .body(())
        .unwrap();
    OutgoingCall::start(&mut request).finish_status(http::StatusCode::OK);
}

fn response() -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = 200;
    response
        .headers
        .insert("set-cookie", "sid=s3cr3t-response-cookie".parse().unwrap());
    response.body = Some(Body::Text(r#"{"ok":true}"#.into()));
    response
}

/// Runs `event` through `layer` with a handler that makes the outgoing calls.
async fn invoke<E: Send + 'static>(layer: &TraceLayer, event: E) {
    let mut svc = layer.layer(service_fn(|_: LambdaEvent<E>| async {
        outgoing_calls();
        Ok::<_, Error>(response())
    }));
    let mut cx = Context::default();
    cx.request_id = "req-sec".into();
    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(event, cx))
        .await
        .unwrap();
}

/// Every event type the layer reads, once each.
async fn invoke_all(layer: &TraceLayer) {
    invoke(layer, typed::<ApiGatewayProxyRequest>(v1_json())).await;
    invoke(layer, typed::<ApiGatewayV2httpRequest>(v2_json())).await;
    invoke(layer, typed::<AlbTargetGroupRequest>(alb_json())).await;
    invoke(layer, function_url()).await;
    invoke(layer, v1_json()).await;
    invoke(layer, v2_json()).await;
    invoke(layer, alb_json()).await;
}

/// Every byte exported for `batch`: its X-Ray documents and its OTLP/JSON encoding.
fn exported_bytes(batch: &SpanBatch) -> Vec<u8> {
    let mut documents = Vec::new();
    lambda_trace::xray::encode_batch(batch, &mut documents);
    let mut bytes = documents.concat();
    bytes.extend_from_slice(StdoutExporter::encode(batch).as_bytes());
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

fn assert_no_secrets(batches: &[SpanBatch], secrets: &[&str]) {
    for batch in batches {
        let bytes = exported_bytes(batch);
        for secret in secrets {
            assert!(
                !contains(&bytes, secret),
                "{secret:?} was exported:\n{}",
                String::from_utf8_lossy(&bytes)
            );
        }
    }
}

/// The URLs recorded in `batch`: the invocation's, then the outgoing calls'.
fn urls(batch: &SpanBatch) -> Vec<String> {
    batch
        .spans
        .iter()
        .filter_map(|s| s.http_request.as_ref()?.url.clone())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Credentials and environment variables

/// Runs the test `name` again in a child process whose environment holds only the canary
/// variables, the recorded ones and `extra` (none of the runner's settings can switch capture
/// on), and asserts that it passed there.
fn run_in_child(name: &str, extra: &[(&str, &str)]) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(CHILD, "1")
        .envs(CANARY_ENV.iter().copied())
        .envs(RECORDED_ENV.iter().copied())
        .envs(extra.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs in a child process with canary variables in its environment (the environment is
/// process-global: setting it in this process would race other tests).
#[test]
fn no_credential_and_no_environment_value_is_ever_exported() {
    if std::env::var_os(CHILD).is_none() {
        run_in_child(
            "no_credential_and_no_environment_value_is_ever_exported",
            &[],
        );
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let canaries: Vec<&str> = CANARY_ENV.iter().map(|(_, v)| *v).collect();
    for switch in [None, Some(false), Some(true)] {
        let capture = switch == Some(true);
        let exporter = InMemoryExporter::default();
        // The whole configuration from this process's environment, as in Lambda.
        let layer = layer_with(Config::from_env(), switch, &exporter);
        runtime.block_on(invoke_all(&layer));
        let batches = exporter.take();
        assert_eq!(batches.len(), 7, "one batch per event");
        assert_no_secrets(&batches, SECRETS);
        assert_no_secrets(&batches, &canaries);
        for batch in &batches {
            let bytes = exported_bytes(batch);
            // The documented variables are read (the search above did look at a real trace).
            assert!(contains(&bytes, "sec-svc") && contains(&bytes, "eu-west-1"));
            let urls = urls(batch);
            assert_eq!(urls.len(), 3, "{urls:?}");
            assert!(
                urls[1].starts_with("https://bucket.s3.amazonaws.com/report.csv"),
                "{urls:?}"
            );
            assert!(
                urls[2].starts_with("http://api.internal/v1/items"),
                "{urls:?}"
            );
            if capture {
                assert!(
                    urls[0].ends_with("?page=2&token=REDACTED")
                        || urls[0].ends_with("?token=REDACTED&page=2"),
                    "{urls:?}"
                );
                assert!(
                    urls[1].contains("X-Amz-Signature=REDACTED") && urls[1].ends_with("&page=3"),
                    "{urls:?}"
                );
                assert!(
                    urls[2].ends_with("?access_token=REDACTED&page=4"),
                    "{urls:?}"
                );
                assert!(
                    contains(&bytes, r#"{\"ok\":true}"#),
                    "the response body is captured"
                );
            } else {
                assert!(urls.iter().all(|u| !u.contains('?')), "{urls:?}");
                assert!(!contains(&bytes, "response.body"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Query capture

fn config() -> Config {
    lambda_trace::testing::config(&[("AWS_LAMBDA_FUNCTION_NAME", "fn")])
}

#[tokio::test]
async fn query_strings_are_recorded_only_when_switched_on_and_then_redacted() {
    for switch in [None, Some(false), Some(true)] {
        let capture = switch == Some(true);
        let exporter = InMemoryExporter::default();
        let layer = layer_with(config(), switch, &exporter);
        invoke_all(&layer).await;
        let batches = exporter.take();
        assert_eq!(batches.len(), 7);
        for batch in &batches {
            let url = &urls(batch)[0];
            if capture {
                assert!(url.starts_with("/orders/42?"), "{url}");
                assert!(
                    url.contains("token=REDACTED") && url.contains("page=2"),
                    "{url}"
                );
            } else {
                assert_eq!(url, "/orders/42");
            }
        }
        assert_no_secrets(&batches, SECRETS);
    }
}

// ---------------------------------------------------------------------------------------------
// Response capture

/// The `lambda_trace.response.body` metadata recorded for `response` (`capture`: `None` leaves
/// the switch at its default).
async fn captured_body<R>(capture: Option<bool>, response: R) -> Value
where
    R: Send + Sync + Clone + 'static,
{
    let exporter = InMemoryExporter::default();
    let mut builder = TraceLayer::builder().config(config());
    if let Some(capture) = capture {
        builder = builder.capture_response(capture);
    }
    let layer = builder.exporter(exporter.clone()).build();
    let mut svc = layer.layer(service_fn(move |_: LambdaEvent<Value>| {
        let response = response.clone();
        async move { Ok::<_, Error>(response) }
    }));
    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(json!({}), Context::default()))
        .await
        .unwrap();
    let batch = exporter.take().remove(0);
    let mut documents = Vec::new();
    lambda_trace::xray::encode_batch(&batch, &mut documents);
    let doc: Value = serde_json::from_slice(&documents[0]).unwrap();
    doc["metadata"]["lambda_trace"]["response.body"].clone()
}

#[tokio::test]
async fn response_bodies_are_recorded_only_when_switched_on_and_then_capped() {
    let small = response();
    let mut large = response();
    large.body = Some(Body::Text("é".repeat(5_000)));
    assert_eq!(
        captured_body(None, small.clone()).await,
        Value::Null,
        "off by default"
    );
    assert_eq!(captured_body(Some(false), small.clone()).await, Value::Null);
    assert_eq!(captured_body(None, "plain".to_string()).await, Value::Null);
    assert_eq!(
        captured_body(Some(true), small).await,
        json!({"text": r#"{"ok":true}"#})
    );
    let cut = captured_body(Some(true), large).await;
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["bytes"], 10_000);
    let text = cut["text"].as_str().unwrap();
    assert!(text.len() <= MAX_CAPTURED_BODY && text.len() > MAX_CAPTURED_BODY - 2);
    assert_eq!(
        captured_body(Some(true), json!({"statusCode": 200, "headers": {"Set-Cookie": "s3cr3t-response-cookie"}, "body": "b"})).await,
        json!({"text": "b"}),
        "a proxy-shaped JSON response records its body, not its headers"
    );
    let mut binary = response();
    binary.body = Some(Body::Binary(vec![0, 1, 2]));
    assert_eq!(
        captured_body(Some(true), binary).await,
        json!({"binary": true, "bytes": 3})
    );
}

#[cfg(feature = "lambda-http")]
#[tokio::test]
async fn lambda_http_queries_and_responses() {
    use lambda_http::{Request, RequestExt, Response};
    use lambda_trace::http_layer::HttpTraceLayer;

    for switch in [None, Some(true)] {
        let capture = switch == Some(true);
        let exporter = InMemoryExporter::default();
        let layer: HttpTraceLayer = layer_with(config(), switch, &exporter).into();
        let mut svc = layer.layer(service_fn(|_: Request| async {
            outgoing_calls();
            Ok::<_, Error>(
                Response::builder()
                    .header("set-cookie", "sid=s3cr3t-response-cookie")
                    .body(lambda_http::Body::from("hello"))
                    .unwrap(),
            )
        }));
        let request =
            http::Request::post("https://api.example.com/orders/42?token=s3cr3t-query&page=2")
                .header("authorization", "Bearer s3cr3t-bearer")
                .header("cookie", "session=s3cr3t-cookie")
                .header("x-api-key", "s3cr3t-apikey")
                .header("traceparent", CALLER)
                .body(lambda_http::Body::from(BODY))
                .unwrap()
                .with_lambda_context(Context::default());
        svc.ready().await.unwrap().call(request).await.unwrap();
        let batches = exporter.take();
        assert_no_secrets(&batches, SECRETS);
        let bytes = exported_bytes(&batches[0]);
        let url = &urls(&batches[0])[0];
        if capture {
            assert_eq!(url, "/orders/42?token=REDACTED&page=2");
            assert!(contains(&bytes, r#""text":"hello""#));
        } else {
            assert_eq!(url, "/orders/42");
            assert!(!contains(&bytes, "hello"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Caller sampling

/// Whether an invocation whose event carries `header` is recorded.
async fn recorded(
    policy: CallerSampling,
    rate: f64,
    header: (&str, &str),
    lambda: Option<&str>,
) -> Option<SpanBatch> {
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(config())
        .sample_rate(rate)
        .caller_sampling(policy)
        .exporter(exporter.clone())
        .build();
    let mut svc = layer.layer(service_fn(|e: LambdaEvent<Value>| async move {
        Ok::<_, Error>(e.payload)
    }));
    let mut cx = Context::default();
    cx.xray_trace_id = lambda.map(str::to_string);
    let event = json!({"headers": {header.0: header.1}});
    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(event, cx))
        .await
        .unwrap();
    exporter.take().pop()
}

#[rustfmt::skip]
const SAMPLED: [(&str, &str); 2] = [
    ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    ("X-Amzn-Trace-Id", "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=1"),
];
#[rustfmt::skip]
const NOT_SAMPLED: [(&str, &str); 2] = [
    ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"),
    ("X-Amzn-Trace-Id", "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=0"),
];

#[tokio::test]
async fn a_caller_cannot_force_tracing_when_its_decision_is_ignored() {
    use CallerSampling::{Ignore, Respect};
    for header in SAMPLED {
        assert!(
            recorded(Respect, 0.0, header, None).await.is_some(),
            "{header:?}"
        );
        assert!(
            recorded(Ignore, 0.0, header, None).await.is_none(),
            "{header:?}"
        );
    }
    for header in NOT_SAMPLED {
        assert!(
            recorded(Respect, 1.0, header, None).await.is_none(),
            "{header:?}"
        );
        // Our own rate decides, and the trace still connects to the caller.
        let batch = recorded(Ignore, 1.0, header, None).await.expect("recorded");
        assert_eq!(
            batch.trace_id.to_string(),
            "0af7651916cd43dd8448eb211c80319c"
        );
        let parent = batch.root().unwrap().parent_id.unwrap();
        assert_eq!(parent.to_string(), "b7ad6b7169203331", "{header:?}");
    }
    // Lambda's Active-tracing decision is the platform's: followed under `Ignore`.
    let lambda = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    assert!(
        recorded(Ignore, 0.0, NOT_SAMPLED[0], Some(lambda))
            .await
            .is_some()
    );
}

#[test]
fn caller_sampling_is_respected_by_default_and_configurable() {
    assert_eq!(config().caller_sampling, CallerSampling::Respect);
    let ignore = Config::from_lookup(|k| {
        (k == "LAMBDA_TRACE_CALLER_SAMPLING").then(|| "ignore".to_string())
    });
    assert_eq!(ignore.caller_sampling, CallerSampling::Ignore);
}

// ---------------------------------------------------------------------------------------------
// OTLP headers and SigV4 credentials (issue 15)

/// With `xray-otlp` configured from an environment full of canaries, the OTLP header values,
/// the secret key and the session token reach no log line (at any level: `aws-sigv4` logs its
/// canonical request at TRACE) and no `Debug` output, while a request is really signed and
/// sent. The receiver accepts the connection and closes it, so the export fails and is logged.
#[cfg(feature = "xray-otlp")]
#[test]
fn otlp_headers_and_sigv4_credentials_never_reach_logs_or_debug() {
    if std::env::var_os(CHILD).is_none() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
        let closer = std::thread::spawn(move || {
            // Accept and close each connection without answering.
            for stream in listener.incoming().take(1) {
                drop(stream);
            }
        });
        run_in_child(
            "otlp_headers_and_sigv4_credentials_never_reach_logs_or_debug",
            &[
                ("LAMBDA_TRACE_EXPORTER", "xray-otlp"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &url),
            ],
        );
        closer.join().unwrap();
        return;
    }
    let logs = support::logs::Logs::default();
    let _guard = logs.capture();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = Config::from_env();
    let layer = TraceLayer::builder().config(config.clone()).build();
    runtime.block_on(invoke(&layer, typed::<ApiGatewayProxyRequest>(v1_json())));
    let shown = [format!("{config:?}"), format!("{layer:?}")];
    assert!(shown[1].contains("signed: true"), "{}", shown[1]);
    let lines = logs.lines();
    assert!(
        lines.iter().any(|l| l.contains("trace export failed")),
        "the request was sent and failed: {lines:?}"
    );
    for (name, canary) in CANARY_ENV {
        for text in shown.iter().chain(&lines) {
            assert!(!text.contains(canary), "{name}'s value in {text}");
        }
    }
}
