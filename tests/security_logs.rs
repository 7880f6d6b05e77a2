//! Untrusted input never reaches a log line raw: every line this crate logs while handling
//! hostile trace headers, hostile configuration values and hostile exporter / backend errors
//! has no control character and is at most [`LINE_CAP`] bytes long.
//!
//! The capturing subscriber (`support::logs::Logs`) writes each event as a `fmt` subscriber
//! would (message, then `name=value` fields, values written raw), so a raw value anywhere in an
//! event shows.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use http::{HeaderName, HeaderValue};
use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::export::{Export, ExportError, Exporter};
use lambda_trace::layer::{MAX_LOGGED, MAX_LOGGED_MESSAGE};
use lambda_trace::span::SpanBatch;
use lambda_trace::{Config, TraceLayer};
use tower::{Layer, Service, ServiceExt};

mod support;

use support::logs::Logs;

/// Longest log line allowed: the longest fixed text of a message, plus an escaped error message
/// and an escaped value at their caps.
const LINE_CAP: usize = 256 + MAX_LOGGED_MESSAGE + 3 + MAX_LOGGED + 3;

/// 100 kB of a value that would break a log line, recolour a terminal and fill the log.
fn hostile(prefix: &str) -> String {
    let mut s = format!("{prefix}\n\r\x1b[31mFAKE LOG LINE\x1b[0m\u{202e}\0");
    while s.len() < 100_000 {
        s.push_str("\x1b[31m0123456789\n");
    }
    s
}

fn assert_safe(lines: &[String]) {
    for line in lines {
        let raw: Vec<char> = line.chars().filter(|c| c.is_control()).collect();
        assert!(raw.is_empty(), "raw control characters {raw:?} in {line:?}");
        assert!(
            !line.contains('\u{202e}'),
            "raw bidirectional override in {line:?}"
        );
        assert!(
            line.len() <= LINE_CAP,
            "log line of {} bytes: {}…",
            line.len(),
            &line[..200]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Exporters that fail with a hostile message (a backend echoing its input)

/// Builds the failure from a message.
type MakeError = fn(String) -> ExportError;

/// Fails every export with `.0`'s error, at once or (`.1`) after a poll.
#[derive(Debug)]
struct Failing(MakeError, bool);

impl Exporter for Failing {
    fn export(&self, _: SpanBatch) -> Export {
        let error = (self.0)(hostile("backend says"));
        if self.1 {
            Export::Pending(Box::pin(async move { Err(error) }))
        } else {
            Export::Done(Err(error))
        }
    }
}

fn hostile_event() -> ApiGatewayProxyRequest {
    let mut event = ApiGatewayProxyRequest::default();
    event.http_method = http::Method::GET;
    event.path = Some(hostile("/path"));
    for (name, value) in [
        (
            "x-amzn-trace-id",
            hostile("Root=1-5759e988-bd862e3fe1be46a994272793;Parent="),
        ),
        (
            "traceparent",
            hostile("00-0af7651916cd43dd8448eb211c80319c-"),
        ),
        ("tracestate", hostile("k=")),
        ("baggage", hostile("k=")),
        ("b3", hostile("0af7651916cd43dd8448eb211c80319c-")),
        ("uber-trace-id", hostile("a:b:")),
        ("user-agent", hostile("curl")),
    ] {
        // `HeaderValue` refuses control characters (the JSON event below carries them); the
        // rest (100 kB, a bidirectional override) goes in.
        let value: String = value.chars().filter(|c| !c.is_control()).collect();
        let value = HeaderValue::from_bytes(value.as_bytes()).unwrap();
        event.headers.insert(HeaderName::from_static(name), value);
    }
    event
}

fn hostile_json_event() -> serde_json::Value {
    serde_json::json!({
        "httpMethod": "GET",
        "path": hostile("/p"),
        "headers": {
            "X-Amzn-Trace-Id": hostile("Root=1-"),
            "traceparent": hostile("00-"),
            "b3": hostile("1-"),
            "user-agent": hostile("ua"),
        },
    })
}

#[test]
fn hostile_headers_and_exporter_errors_are_escaped_and_capped_in_logs() {
    let logs = Logs::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let kinds: [(MakeError, bool); 4] = [
        (ExportError::Other, false),
        (|m| ExportError::Io(std::io::Error::other(m)), false),
        (
            |message| ExportError::Rejected {
                rejected: 1,
                total: 1,
                message,
            },
            true,
        ),
        (ExportError::Other, true),
    ];
    logs.during(|| {
        runtime.block_on(async {
            for (make, pending) in kinds {
                let layer = TraceLayer::builder()
                    .config(lambda_trace::testing::config(&[]))
                    .exporter(Failing(make, pending))
                    .build();
                let mut svc = layer.layer(service_fn(
                    |e: LambdaEvent<ApiGatewayProxyRequest>| async move {
                        Ok::<_, Error>(e.payload.path)
                    },
                ));
                let mut cx = Context::default();
                cx.xray_trace_id = Some(hostile("Root=1-"));
                let out = svc
                    .ready()
                    .await
                    .unwrap()
                    .call(LambdaEvent::new(hostile_event(), cx))
                    .await
                    .unwrap();
                assert_eq!(out, hostile_event().path, "the response is unchanged");

                let mut json =
                    layer.layer(service_fn(|e: LambdaEvent<serde_json::Value>| async move {
                        Ok::<_, Error>(e.payload)
                    }));
                json.ready()
                    .await
                    .unwrap()
                    .call(LambdaEvent::new(hostile_json_event(), Context::default()))
                    .await
                    .unwrap();
            }
        })
    });
    let lines = logs.lines();
    let failures: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("trace export failed"))
        .collect();
    assert!(
        failures.len() >= 4,
        "every failure kind was logged: {lines:#?}"
    );
    for line in &failures {
        assert!(
            line.contains("backend says\\n\\r\\u{1b}[31m"),
            "escaped: {line}"
        );
        assert!(line.contains('…'), "capped: {line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ignoring invalid trace header")),
        "the invalid headers were noticed: {lines:#?}"
    );
    assert_safe(&lines);
}

#[test]
fn hostile_configuration_values_are_escaped_and_capped_in_logs() {
    let logs = Logs::default();
    let vars = [
        ("LAMBDA_TRACE_SAMPLE_RATE", hostile("0.5")),
        ("LAMBDA_TRACE_FLUSH_TIMEOUT_MS", hostile("10")),
        ("LAMBDA_TRACE_CALLER_SAMPLING", hostile("ignore")),
        ("LAMBDA_TRACE_FLUSH_MODE", hostile("after")),
        ("LAMBDA_TRACE_EXPORTER", hostile("xray")),
        ("OTEL_PROPAGATORS", format!("xray,{}", hostile("w3c"))),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("{}=%zz,novalue{}", hostile("key"), hostile("")),
        ),
        ("AWS_XRAY_DAEMON_ADDRESS", hostile("127.0.0.1:2000")),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", hostile("http://collector")),
    ];
    logs.during(|| {
        let config =
            Config::from_lookup(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()));
        // Building the exporter from the configuration logs the bad daemon address.
        let _ = TraceLayer::builder().config(config.clone()).build();
        let mut otlp = config;
        otlp.exporter = "otlp".parse().unwrap();
        let _ = TraceLayer::builder().config(otlp).build();
    });
    let lines = logs.lines();
    assert!(lines.len() >= 8, "every bad value was reported: {lines:#?}");
    let quoted = lines.iter().filter(|l| l.contains("\\u{1b}[31m")).count();
    assert!(quoted >= 6, "the values are quoted, escaped: {lines:#?}");
    assert_safe(&lines);
}
