//! The OpenTelemetry view of a [`SpanBatch`], shared by both OTLP encoders: protobuf
//! (`protobuf.rs`, feature `otlp`) and JSON (`json.rs`: the stdout exporter and OTLP/HTTP JSON). Every
//! mapping decision lives here once, so the two wire formats cannot drift apart.
//!
//! | record | OTLP |
//! |---|---|
//! | `attributes` (`faas.*`, `cloud.*`, `http.*` set by the layer) | span attributes, as they are |
//! | `http_request` / `http_response` | `http.request.method`, `url.full` or `url.path`, `http.route`, `user_agent.original`, `client.address`, `http.response.status_code`, `http.response.body.size` (unless already set) |
//! | annotations | attributes under their own key (`orderId`, `ColdStart`, …) |
//! | metadata | `lambda_trace.metadata.<namespace>.<key>` = the value as JSON text |
//! | `unfinished` | `lambda_trace.unfinished = true` |
//! | `SpanBatch::dropped_spans` | `lambda_trace.dropped_spans` on the invocation span |
//! | `fault` | status `ERROR`, message = the first exception's message |
//! | `error` / `throttle` (4xx) | `ERROR` on client and internal spans; `UNSET` on the server span (OTel HTTP semantic conventions: a 4xx is the caller's fault) |
//! | exceptions | `exception` events with `exception.message`, `exception.type`, `exception.stacktrace` (a panic's stack), at the span's end |
//! | links | links (a missing span id is sent empty); `dropped_links` → `dropped_links_count` |
//! | `trace_id` (a span of a message's trace) | that span's `trace_id`, else the batch's |
//! | kind | `Internal` 1, `Server` 2 (1 for the invocation span under Lambda's segment, X-Ray dialect), `Client` 3, `Producer` 4, `Consumer` 5 |
//!
//! Attribute keys are unique per span: the first value set for a key wins.

use std::borrow::Cow;

use crate::json::value_text;
use crate::span::{
    AnnotationValue, AttributeValue, ExceptionRecord, Resource, RootPlacement, SpanBatch, SpanKind,
    SpanRecord,
};

/// The instrumentation scope's name.
pub(crate) const SCOPE_NAME: &str = "lambda-trace";
/// The instrumentation scope's version: this crate's.
pub(crate) const SCOPE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Prefix of metadata attributes: `lambda_trace.metadata.<namespace>.<key>`.
pub(crate) const METADATA_PREFIX: &str = "lambda_trace.metadata.";
/// The name of an exception event (OTel semantic conventions).
pub(crate) const EXCEPTION_EVENT: &str = "exception";

/// W3C trace flag `sampled` (only sampled spans are exported).
const FLAG_SAMPLED: u32 = 0x01;
/// OTLP `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`: the next bit is meaningful.
const FLAG_HAS_IS_REMOTE: u32 = 0x100;
/// OTLP `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`: the parent is in another process.
const FLAG_IS_REMOTE: u32 = 0x200;

/// Which receiver a request is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Dialect {
    /// Any OpenTelemetry backend.
    #[default]
    Otel,
    /// X-Ray's OTLP endpoint (feature `xray-otlp`), which reads two things its own way:
    /// - X-Ray indexes as annotations only the attributes whose keys a span lists in
    ///   `aws.xray.annotations` (a string array); every other attribute becomes metadata. So each
    ///   span lists its annotations' keys there.
    /// - A `SERVER` span becomes a segment of its own, even with a parent. Under Active tracing
    ///   (the invocation span's parent is Lambda's function segment) the invocation span is sent
    ///   as `INTERNAL`, which X-Ray makes a subsegment of Lambda's segment: one function node in
    ///   the trace map, as with the daemon.
    #[cfg_attr(not(feature = "xray-otlp"), allow(dead_code))]
    Xray,
}

/// The attribute X-Ray reads the annotation keys of a span from.
#[cfg(feature = "xray-otlp")]
pub(crate) const XRAY_ANNOTATIONS: &str = "aws.xray.annotations";

/// An attribute value, before it is encoded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Double(f64),
    Bool(bool),
    StrArray(Vec<Cow<'a, str>>),
}

/// Attributes with unique keys, in insertion order.
#[derive(Debug, Default)]
pub(crate) struct KeyValues<'a>(pub(crate) Vec<(Cow<'a, str>, Value<'a>)>);

impl<'a> KeyValues<'a> {
    /// Adds `key = value` unless `key` is already set.
    fn push(&mut self, key: impl Into<Cow<'a, str>>, value: Value<'a>) {
        self.push_cow(key.into(), value);
    }

    // Not inlined, not generic: called for every key of every span, and each call site would
    // carry its own copy of the duplicate check and the push (issue 6, binary size).
    #[inline(never)]
    fn push_cow(&mut self, key: Cow<'a, str>, value: Value<'a>) {
        if !self.0.iter().any(|(k, _)| *k == key) {
            self.0.push((key, value));
        }
    }

    fn push_str(&mut self, key: &'static str, value: Option<&'a str>) {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            self.push(key, Value::Str(Cow::Borrowed(v)));
        }
    }
}

/// Resource attributes: `service.name`, `cloud.*`, `faas.*`, `aws.log.*`.
pub(crate) fn resource_attributes(r: &Resource) -> KeyValues<'_> {
    let mut kv = KeyValues::default();
    kv.push_str("service.name", Some(&r.service_name));
    kv.push("cloud.provider", Value::Str("aws".into()));
    kv.push("cloud.platform", Value::Str("aws_lambda".into()));
    kv.push_str("cloud.region", r.region.as_deref());
    kv.push_str("faas.name", Some(&r.function_name));
    kv.push_str("faas.version", Some(&r.function_version));
    // The log stream names the execution environment (OTel: `faas.instance`).
    kv.push_str("faas.instance", r.log_stream.as_deref());
    if let Some(mb) = r.memory_mb {
        kv.push("faas.max_memory", Value::Int(i64::from(mb) * 1024 * 1024));
    }
    if let Some(group) = r.log_group.as_deref().filter(|g| !g.is_empty()) {
        kv.push("aws.log.group.names", Value::StrArray(vec![group.into()]));
    }
    if let Some(stream) = r.log_stream.as_deref().filter(|s| !s.is_empty()) {
        kv.push("aws.log.stream.names", Value::StrArray(vec![stream.into()]));
    }
    // `OTEL_RESOURCE_ATTRIBUTES`: after the platform's, which win on a repeated key.
    for (key, value) in &r.attributes {
        kv.push(key.as_str(), Value::Str(Cow::Borrowed(value)));
    }
    kv
}

/// The attributes of `batch.spans[index]`.
pub(crate) fn span_attributes(batch: &SpanBatch, index: usize, dialect: Dialect) -> KeyValues<'_> {
    let span = &batch.spans[index];
    let mut kv = KeyValues::default();
    for (key, value) in &span.attributes {
        let value = match value {
            AttributeValue::String(s) => Value::Str(Cow::Borrowed(s)),
            AttributeValue::Int(i) => Value::Int(*i),
            AttributeValue::Bool(b) => Value::Bool(*b),
        };
        kv.push(Cow::Borrowed(&**key), value);
    }
    if let Some(http) = &span.http_request {
        kv.push_str("http.request.method", http.method.as_deref());
        if let Some(url) = http.url.as_deref().filter(|u| !u.is_empty()) {
            let key = if url.contains("://") {
                "url.full"
            } else {
                "url.path"
            };
            kv.push(key, Value::Str(url.into()));
        }
        kv.push_str("http.route", http.route.as_deref());
        kv.push_str("user_agent.original", http.user_agent.as_deref());
        kv.push_str("client.address", http.client_ip.as_deref());
    }
    if let Some(response) = &span.http_response {
        if let Some(status) = response.status {
            kv.push("http.response.status_code", Value::Int(i64::from(status)));
        }
        if let Some(length) = response.content_length {
            kv.push(
                "http.response.body.size",
                Value::Int(i64::try_from(length).unwrap_or(i64::MAX)),
            );
        }
    }
    for (key, value) in &span.annotations {
        let value = match value {
            AnnotationValue::String(s) => Value::Str(Cow::Borrowed(s)),
            AnnotationValue::Int(i) => Value::Int(*i),
            AnnotationValue::Float(f) if f.is_finite() => Value::Double(*f),
            // What `Display` writes for these, without the float formatting code.
            AnnotationValue::Float(f) if f.is_nan() => Value::Str("NaN".into()),
            AnnotationValue::Float(f) if *f > 0.0 => Value::Str("inf".into()),
            AnnotationValue::Float(_) => Value::Str("-inf".into()),
            AnnotationValue::Bool(b) => Value::Bool(*b),
        };
        kv.push(Cow::Borrowed(&**key), value);
    }
    for entry in &span.metadata {
        let key = format!("{METADATA_PREFIX}{}.{}", entry.namespace, entry.key);
        kv.push(key, Value::Str(value_text(&entry.value).into()));
    }
    if span.unfinished {
        kv.push("lambda_trace.unfinished", Value::Bool(true));
    }
    if index == 0 && batch.dropped_spans > 0 {
        kv.push(
            "lambda_trace.dropped_spans",
            Value::Int(i64::try_from(batch.dropped_spans).unwrap_or(i64::MAX)),
        );
    }
    #[cfg(feature = "xray-otlp")]
    if dialect == Dialect::Xray && !span.annotations.is_empty() {
        let keys = span.annotations.iter().map(|(k, _)| Cow::Borrowed(&**k));
        kv.push(XRAY_ANNOTATIONS, Value::StrArray(keys.collect()));
    }
    #[cfg(not(feature = "xray-otlp"))]
    let _ = dialect;
    kv
}

/// OTLP `Status.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusCode {
    Unset = 0,
    Error = 2,
}

/// The span's status: `ERROR` for a fault, and for a 4xx outside the server span; else `UNSET`.
/// The message is the first exception's message (empty without one).
pub(crate) fn status(span: &SpanRecord) -> (StatusCode, &str) {
    let failed = span.outcome.fault || (span.outcome.error && span.kind != SpanKind::Server);
    if !failed {
        return (StatusCode::Unset, "");
    }
    let message = span.exceptions.first().map_or("", |e| e.message.as_str());
    (StatusCode::Error, message)
}

/// OTLP `Span.SpanKind` of `batch.spans[index]`.
pub(crate) fn kind(batch: &SpanBatch, index: usize, dialect: Dialect) -> i32 {
    let under_lambda = index == 0 && batch.placement == RootPlacement::LambdaSubsegment;
    match batch.spans[index].kind {
        SpanKind::Server if dialect == Dialect::Xray && under_lambda => 1,
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// OTLP `Span.flags`: sampled, and whether the parent is remote (the invocation span's, and a
/// span whose parent is a message's producer: [`SpanRecord::remote_parent`]).
pub(crate) fn flags(batch: &SpanBatch, index: usize) -> u32 {
    let span = &batch.spans[index];
    let remote_parent = span.parent_id.is_some() && (index == 0 || span.remote_parent);
    FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | if remote_parent { FLAG_IS_REMOTE } else { 0 }
}

/// The attributes of an `exception` event.
pub(crate) fn exception_attributes(e: &ExceptionRecord) -> KeyValues<'_> {
    let mut kv = KeyValues::default();
    kv.push("exception.message", Value::Str(Cow::Borrowed(&e.message)));
    kv.push_str("exception.type", e.type_name.as_deref());
    if !e.stack.is_empty() {
        kv.push(
            "exception.stacktrace",
            Value::Str(Cow::Owned(stacktrace(e))),
        );
    }
    kv
}

/// `exception.stacktrace`: the frames as the language prints them (Rust's backtrace form,
/// innermost first): `N: label` and, when known, `at path:line`.
fn stacktrace(e: &ExceptionRecord) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for (i, frame) in e.stack.iter().enumerate() {
        let _ = writeln!(text, "{i:4}: {}", frame.label);
        if let Some(path) = &frame.path {
            let _ = match frame.line {
                Some(line) => writeln!(text, "             at {path}:{line}"),
                None => writeln!(text, "             at {path}"),
            };
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::context::{SpanId, TraceId};
    use crate::span::{MetadataEntry, Outcome, RootPlacement};

    fn record(kind: SpanKind, outcome: Outcome) -> SpanRecord {
        let mut r = SpanRecord::new(SpanId::from_u64(1).unwrap(), None, "s", kind, 1);
        r.outcome = outcome;
        r
    }

    #[test]
    fn status_follows_http_semantic_conventions() {
        let e4 = Outcome::from_http_status(404);
        let e5 = Outcome::from_http_status(503);
        let ok = Outcome::default();
        for (kind, outcome, code) in [
            (SpanKind::Server, ok, StatusCode::Unset),
            (SpanKind::Server, e4, StatusCode::Unset),
            (
                SpanKind::Server,
                Outcome::from_http_status(429),
                StatusCode::Unset,
            ),
            (SpanKind::Server, e5, StatusCode::Error),
            (SpanKind::Client, e4, StatusCode::Error),
            (SpanKind::Client, e5, StatusCode::Error),
            (SpanKind::Internal, e4, StatusCode::Error),
            (SpanKind::Internal, ok, StatusCode::Unset),
        ] {
            assert_eq!(
                status(&record(kind, outcome)).0,
                code,
                "{kind:?} {outcome:?}"
            );
        }
        let mut r = record(SpanKind::Server, e5);
        for m in ["outer", "inner"] {
            r.exceptions.push(ExceptionRecord {
                message: m.into(),
                type_name: None,
                remote: false,
                stack: Vec::new(),
            });
        }
        assert_eq!(status(&r), (StatusCode::Error, "outer"));
    }

    #[test]
    fn attributes_are_unique_and_cover_the_record() {
        let mut r = record(SpanKind::Server, Outcome::default());
        r.attributes.push((
            "http.request.method".into(),
            AttributeValue::String("GET".into()),
        ));
        r.http_request =
            Some(crate::span::HttpRequestInfo::new("POST", "/orders").with_user_agent("curl/8"));
        r.annotations
            .push(("orderId".into(), AnnotationValue::from("o-1")));
        r.annotations
            .push(("nan".into(), AnnotationValue::Float(f64::NAN)));
        r.metadata.push(MetadataEntry {
            namespace: "default".into(),
            key: "order".into(),
            value: json!({"items": 3}),
        });
        r.unfinished = true;
        let mut batch = SpanBatch::new(
            Arc::new(Resource::new("svc", "fn", "1")),
            TraceId::from_u128(7).unwrap(),
            RootPlacement::Segment,
            vec![r],
        );
        batch.dropped_spans = 2;
        let kv = span_attributes(&batch, 0, Dialect::Otel).0;
        let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("http.request.method"), Some(Value::Str("GET".into())));
        assert_eq!(get("url.path"), Some(Value::Str("/orders".into())));
        assert_eq!(
            get("user_agent.original"),
            Some(Value::Str("curl/8".into()))
        );
        assert_eq!(get("orderId"), Some(Value::Str("o-1".into())));
        assert_eq!(get("nan"), Some(Value::Str("NaN".into())));
        assert_eq!(
            get("lambda_trace.metadata.default.order"),
            Some(Value::Str(r#"{"items":3}"#.into()))
        );
        assert_eq!(get("lambda_trace.unfinished"), Some(Value::Bool(true)));
        assert_eq!(get("lambda_trace.dropped_spans"), Some(Value::Int(2)));
        let mut keys: Vec<_> = kv.iter().map(|(k, _)| k.clone()).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), kv.len());
        assert_eq!(flags(&batch, 0), 0x101);
    }

    #[test]
    fn resource_attributes_in_semantic_conventions() {
        let mut r = Resource::new("svc", "fn", "$LATEST");
        r.memory_mb = Some(128);
        r.region = Some("eu-west-1".into());
        r.log_group = Some("/aws/lambda/fn".into());
        let kv = resource_attributes(&r).0;
        let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        assert_eq!(get("faas.max_memory"), Some(Value::Int(134_217_728)));
        assert_eq!(get("cloud.platform"), Some(Value::Str("aws_lambda".into())));
        assert_eq!(
            get("aws.log.group.names"),
            Some(Value::StrArray(vec!["/aws/lambda/fn".into()]))
        );
        assert_eq!(get("faas.instance"), None);
    }

    #[test]
    fn a_stack_becomes_exception_stacktrace() {
        let mut e = ExceptionRecord {
            message: "card declined".into(),
            type_name: Some("panic".into()),
            remote: false,
            stack: Vec::new(),
        };
        let keys = |e: &ExceptionRecord| -> Vec<String> {
            exception_attributes(e)
                .0
                .iter()
                .map(|(k, _)| k.to_string())
                .collect()
        };
        assert_eq!(keys(&e), ["exception.message", "exception.type"]);
        e.stack = vec![
            crate::span::StackFrame {
                label: "orders::charge".into(),
                path: Some("src/main.rs".into()),
                line: Some(12),
            },
            crate::span::StackFrame {
                label: "<unknown>".into(),
                path: None,
                line: None,
            },
        ];
        assert_eq!(
            stacktrace(&e),
            "   0: orders::charge\n             at src/main.rs:12\n   1: <unknown>\n"
        );
        assert!(keys(&e).contains(&"exception.stacktrace".to_string()));
    }
}
