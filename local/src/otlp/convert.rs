//! OTLP spans → documents of the [`Collector`](crate::collector::Collector)'s model (X-Ray
//! segment documents), so spans from the daemon and from OTLP assemble into one tree.
//!
//! | OTLP | document |
//! |---|---|
//! | `trace_id` (16 bytes) | `trace_id` in X-Ray form, `1-` + 8 hex + `-` + 24 hex |
//! | `span_id`, `parent_span_id` | `id`, `parent_id` (16 hex, the W3C ids); a span with a parent is a standalone `"type": "subsegment"` |
//! | `name`, start/end (ns) | `name`, `start_time` / `end_time` (epoch seconds); no end: `in_progress` |
//! | attributes named in `aws.xray.annotations`, else every attribute whose key is a valid X-Ray annotation key (letters, digits, `_`: `ColdStart`, `Service`, `orderId`) with a scalar value | `annotations` |
//! | `lambda_trace.metadata.<namespace>.<key>` (JSON text) | `metadata.<namespace>.<key>` |
//! | other attributes, kind, scope, resource, status, events, links | `metadata.otel` |
//! | `http.request.method`, `url.full` / `url.path`, `user_agent.original`, `client.address`, `http.response.status_code`, `http.response.body.size` (and the older `http.method`, `http.url`, `http.target`, `http.status_code`) | `http.request`, `http.response` |
//! | kind `CLIENT` / `PRODUCER` | `namespace`: `aws` for `rpc.system = aws-api`, else `remote` |
//! | status `ERROR`, HTTP status | `fault` (5xx, or `ERROR` without a 4xx), `error` (4xx), `throttle` (429), as X-Ray flags them |
//! | `exception` events (or the `ERROR` status message) | `cause.exceptions` |

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{Span, Status};
use serde_json::{Map, Value, json};

/// The attribute prefix lambda-trace writes metadata under.
const METADATA_PREFIX: &str = "lambda_trace.metadata.";
/// The attribute listing which attributes are X-Ray annotations.
const XRAY_ANNOTATIONS: &str = "aws.xray.annotations";

/// What a request converts to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Converted {
    /// One document per usable span.
    pub documents: Vec<Value>,
    /// Why the other spans could not be used (one line each).
    pub rejected: Vec<String>,
}

/// The documents of every span of `request`.
pub fn documents(request: &ExportTraceServiceRequest) -> Converted {
    let mut out = Converted::default();
    for resource_spans in &request.resource_spans {
        let resource = resource_spans
            .resource
            .as_ref()
            .map(|r| attributes_json(&r.attributes))
            .unwrap_or_default();
        for scope_spans in &resource_spans.scope_spans {
            let scope = scope_spans.scope.as_ref().map(|s| {
                if s.version.is_empty() {
                    s.name.clone()
                } else {
                    format!("{} {}", s.name, s.version)
                }
            });
            for span in &scope_spans.spans {
                match document(span, &resource, scope.as_deref()) {
                    Ok(doc) => out.documents.push(doc),
                    Err(why) => out.rejected.push(why),
                }
            }
        }
    }
    out
}

/// A 16-byte trace id in X-Ray form (`1-5759e988-bd862e3fe1be46a994272793`); `None` unless it is
/// 16 bytes and not all zero.
pub fn xray_trace_id(bytes: &[u8]) -> Option<String> {
    if bytes.len() != 16 || bytes.iter().all(|b| *b == 0) {
        return None;
    }
    let hex = hex(bytes);
    Some(format!("1-{}-{}", &hex[..8], &hex[8..]))
}

/// An 8-byte span id as 16 hex digits; `None` unless it is 8 bytes and not all zero.
pub fn span_id(bytes: &[u8]) -> Option<String> {
    (bytes.len() == 8 && bytes.iter().any(|b| *b != 0)).then(|| hex(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Nanoseconds since the epoch as epoch seconds.
fn seconds(nanos: u64) -> f64 {
    (nanos / 1_000_000_000) as f64 + (nanos % 1_000_000_000) as f64 / 1e9
}

/// One span's document; `resource` is its resource's attributes, `scope` its scope.
pub fn document(
    span: &Span,
    resource: &Map<String, Value>,
    scope: Option<&str>,
) -> Result<Value, String> {
    let trace_id = xray_trace_id(&span.trace_id).ok_or_else(|| {
        format!(
            "OTLP span {:?} without a valid trace id ({} bytes)",
            span.name,
            span.trace_id.len()
        )
    })?;
    let id = span_id(&span.span_id).ok_or_else(|| {
        format!(
            "OTLP span {:?} of trace {trace_id} without a valid span id",
            span.name
        )
    })?;
    let parent = span_id(&span.parent_span_id);
    let attributes: Vec<(&str, &AnyValue)> = span
        .attributes
        .iter()
        .filter_map(|kv| kv.value.as_ref().map(|v| (kv.key.as_str(), v)))
        .collect();
    let find = |key: &str| {
        attributes
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| to_json(v))
    };
    let listed: Option<Vec<String>> = find(XRAY_ANNOTATIONS).and_then(|v| {
        v.as_array().map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
    });
    let mut annotations = Map::new();
    let mut metadata = Map::new();
    let mut other = Map::new();
    for (key, value) in &attributes {
        let json = to_json(value);
        if *key == XRAY_ANNOTATIONS {
            continue;
        }
        if let Some((namespace, name)) = key
            .strip_prefix(METADATA_PREFIX)
            .and_then(|rest| rest.split_once('.'))
        {
            let parsed = json
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(json);
            let entry = metadata
                .entry(namespace.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(name.to_owned(), parsed);
            }
            continue;
        }
        let annotation = match &listed {
            Some(keys) => keys.iter().any(|k| k == key),
            None => is_annotation_key(key),
        };
        if annotation && is_scalar(&json) {
            annotations.insert((*key).to_owned(), json);
        } else {
            other.insert((*key).to_owned(), json);
        }
    }

    let kind = SpanKind::try_from(span.kind).unwrap_or(SpanKind::Unspecified);
    let http = http_of(&find);
    let http_status = http
        .pointer("/response/status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok());
    let status = span.status.clone().unwrap_or_default();
    let failed = status.code == StatusCode::Error as i32;
    let (fault, error, throttle) = match http_status {
        Some(429) => (false, true, true),
        Some(400..=499) => (false, true, false),
        Some(500..=599) => (true, false, false),
        _ => (failed, false, false),
    };

    let mut doc = Map::new();
    doc.insert("trace_id".into(), trace_id.into());
    doc.insert("id".into(), id.into());
    if let Some(parent) = parent {
        doc.insert("parent_id".into(), parent.into());
        doc.insert("type".into(), "subsegment".into());
    }
    let name = if span.name.is_empty() {
        "(unnamed)"
    } else {
        &span.name
    };
    doc.insert("name".into(), name.into());
    doc.insert(
        "start_time".into(),
        json!(seconds(span.start_time_unix_nano)),
    );
    if span.end_time_unix_nano == 0 {
        doc.insert("in_progress".into(), true.into());
    } else {
        doc.insert("end_time".into(), json!(seconds(span.end_time_unix_nano)));
    }
    if matches!(kind, SpanKind::Client | SpanKind::Producer) {
        let aws = find("rpc.system").is_some_and(|v| v == "aws-api");
        doc.insert(
            "namespace".into(),
            if aws { "aws" } else { "remote" }.into(),
        );
    }
    if !annotations.is_empty() {
        doc.insert("annotations".into(), Value::Object(annotations));
    }
    metadata.insert(
        "otel".into(),
        otel_metadata(span, kind, &status, other, resource, scope),
    );
    doc.insert("metadata".into(), Value::Object(metadata));
    if !http.is_null() {
        doc.insert("http".into(), http);
    }
    doc.insert("fault".into(), fault.into());
    doc.insert("error".into(), error.into());
    doc.insert("throttle".into(), throttle.into());
    if let Some(cause) = cause_of(span, &status, failed) {
        doc.insert("cause".into(), cause);
    }
    Ok(Value::Object(doc))
}

/// Whether X-Ray would take `key` as an annotation key: letters, digits and `_` only.
fn is_annotation_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// An OTLP value as JSON (bytes as hex).
pub fn to_json(value: &AnyValue) -> Value {
    use any_value::Value as V;
    match &value.value {
        None | Some(V::StringValueStrindex(_)) => Value::Null,
        Some(V::StringValue(s)) => s.clone().into(),
        Some(V::BoolValue(b)) => (*b).into(),
        Some(V::IntValue(i)) => (*i).into(),
        Some(V::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| d.to_string().into()),
        Some(V::ArrayValue(a)) => a.values.iter().map(to_json).collect(),
        Some(V::KvlistValue(l)) => Value::Object(attributes_json(&l.values)),
        Some(V::BytesValue(b)) => hex(b).into(),
    }
}

/// Key-value pairs as a JSON object.
pub fn attributes_json(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| {
            let value = kv.value.as_ref().map(to_json).unwrap_or(Value::Null);
            (kv.key.clone(), value)
        })
        .collect()
}

/// `http.request` / `http.response` from the HTTP semantic conventions (current and older
/// names); `Null` when the span has none of them.
fn http_of(find: &impl Fn(&str) -> Option<Value>) -> Value {
    let first = |keys: &[&str]| keys.iter().find_map(|k| find(k));
    let mut request = Map::new();
    if let Some(m) = first(&["http.request.method", "http.method"]) {
        request.insert("method".into(), m);
    }
    if let Some(u) = first(&["url.full", "http.url", "url.path", "http.target"]) {
        request.insert("url".into(), u);
    }
    if let Some(a) = first(&["user_agent.original", "http.user_agent"]) {
        request.insert("user_agent".into(), a);
    }
    if let Some(c) = first(&["client.address", "http.client_ip"]) {
        request.insert("client_ip".into(), c);
    }
    let mut response = Map::new();
    if let Some(s) = first(&["http.response.status_code", "http.status_code"]) {
        // Some SDKs send the status as a string.
        let s = s
            .as_str()
            .and_then(|t| t.parse::<u64>().ok())
            .map_or(s, Value::from);
        response.insert("status".into(), s);
    }
    if let Some(n) = first(&["http.response.body.size", "http.response_content_length"]) {
        response.insert("content_length".into(), n);
    }
    let mut http = Map::new();
    if !request.is_empty() {
        http.insert("request".into(), Value::Object(request));
    }
    if !response.is_empty() {
        http.insert("response".into(), Value::Object(response));
    }
    if http.is_empty() {
        Value::Null
    } else {
        Value::Object(http)
    }
}

/// `metadata.otel`: what the document has no field of its own for.
fn otel_metadata(
    span: &Span,
    kind: SpanKind,
    status: &Status,
    attributes: Map<String, Value>,
    resource: &Map<String, Value>,
    scope: Option<&str>,
) -> Value {
    let mut otel = Map::new();
    otel.insert(
        "kind".into(),
        kind.as_str_name().trim_start_matches("SPAN_KIND_").into(),
    );
    if let Some(scope) = scope {
        otel.insert("scope".into(), scope.into());
    }
    if let Some(service) = resource.get("service.name") {
        otel.insert("service.name".into(), service.clone());
    }
    if status.code != 0 || !status.message.is_empty() {
        let code = StatusCode::try_from(status.code).map_or("?", |c| c.as_str_name());
        otel.insert(
            "status".into(),
            json!({"code": code.trim_start_matches("STATUS_CODE_"), "message": status.message}),
        );
    }
    if !attributes.is_empty() {
        otel.insert("attributes".into(), Value::Object(attributes));
    }
    let events: Vec<Value> = span
        .events
        .iter()
        .filter(|e| e.name != "exception")
        .map(|e| {
            json!({"name": e.name, "time": seconds(e.time_unix_nano),
                   "attributes": attributes_json(&e.attributes)})
        })
        .collect();
    if !events.is_empty() {
        otel.insert("events".into(), events.into());
    }
    let links: Vec<Value> = span
        .links
        .iter()
        .map(|l| json!({"trace_id": xray_trace_id(&l.trace_id), "span_id": span_id(&l.span_id)}))
        .collect();
    if !links.is_empty() {
        otel.insert("links".into(), links.into());
    }
    if !resource.is_empty() {
        otel.insert("resource".into(), Value::Object(resource.clone()));
    }
    Value::Object(otel)
}

/// `cause.exceptions` from the `exception` events, else from an `ERROR` status message.
fn cause_of(span: &Span, status: &Status, failed: bool) -> Option<Value> {
    let mut exceptions: Vec<Value> = span
        .events
        .iter()
        .filter(|e| e.name == "exception")
        .map(|e| {
            let attrs = attributes_json(&e.attributes);
            let mut ex = Map::new();
            ex.insert(
                "message".into(),
                attrs.get("exception.message").cloned().unwrap_or_default(),
            );
            if let Some(t) = attrs.get("exception.type") {
                ex.insert("type".into(), t.clone());
            }
            Value::Object(ex)
        })
        .collect();
    if exceptions.is_empty() && failed && !status.message.is_empty() {
        exceptions.push(json!({"message": status.message}));
    }
    (!exceptions.is_empty()).then(|| json!({ "exceptions": exceptions }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::span::Event;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    fn span() -> Span {
        Span {
            trace_id: (1..=16).collect(),
            span_id: vec![0xab; 8],
            parent_span_id: vec![0x01; 8],
            name: "router".into(),
            kind: SpanKind::Server as i32,
            start_time_unix_nano: 1_700_000_000_250_000_000,
            end_time_unix_nano: 1_700_000_000_500_000_000,
            attributes: vec![
                kv("ColdStart", any_value::Value::BoolValue(true)),
                kv("Service", any_value::Value::StringValue("router".into())),
                kv("faas.name", any_value::Value::StringValue("router".into())),
                kv("http.response.status_code", any_value::Value::IntValue(404)),
                kv(
                    "lambda_trace.metadata.default.order",
                    any_value::Value::StringValue(r#"{"items":3}"#.into()),
                ),
            ],
            ..Span::default()
        }
    }

    #[test]
    fn ids_times_annotations_and_http() {
        let doc = document(&span(), &Map::new(), Some("lambda-trace 0.1.0")).unwrap();
        assert_eq!(doc["trace_id"], "1-01020304-05060708090a0b0c0d0e0f10");
        assert_eq!(doc["id"], "abababababababab");
        assert_eq!(doc["parent_id"], "0101010101010101");
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["start_time"], 1_700_000_000.25);
        assert_eq!(doc["end_time"], 1_700_000_000.5);
        assert_eq!(
            doc["annotations"],
            json!({"ColdStart": true, "Service": "router"})
        );
        assert_eq!(doc["metadata"]["default"]["order"], json!({"items": 3}));
        assert_eq!(doc["metadata"]["otel"]["kind"], "SERVER");
        assert_eq!(doc["metadata"]["otel"]["attributes"]["faas.name"], "router");
        assert_eq!(doc["http"]["response"]["status"], 404);
        assert_eq!(
            (&doc["error"], &doc["fault"]),
            (&json!(true), &json!(false))
        );
    }

    #[test]
    fn status_error_and_exceptions_make_a_fault() {
        let mut s = span();
        s.attributes.clear();
        s.parent_span_id.clear();
        s.kind = SpanKind::Client as i32;
        s.status = Some(Status {
            message: "boom".into(),
            code: StatusCode::Error as i32,
        });
        s.events.push(Event {
            name: "exception".into(),
            attributes: vec![kv(
                "exception.message",
                any_value::Value::StringValue("boom".into()),
            )],
            ..Event::default()
        });
        let doc = document(&s, &Map::new(), None).unwrap();
        assert!(doc.get("parent_id").is_none() && doc.get("type").is_none());
        assert_eq!(doc["namespace"], "remote");
        assert_eq!(
            (&doc["fault"], &doc["error"]),
            (&json!(true), &json!(false))
        );
        assert_eq!(doc["cause"]["exceptions"][0]["message"], "boom");
    }

    #[test]
    fn listed_annotations_win_and_bad_ids_are_rejected() {
        let mut s = span();
        s.attributes.push(kv(
            XRAY_ANNOTATIONS,
            any_value::Value::ArrayValue(opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: vec![AnyValue {
                    value: Some(any_value::Value::StringValue("faas.name".into())),
                }],
            }),
        ));
        let doc = document(&s, &Map::new(), None).unwrap();
        assert_eq!(doc["annotations"], json!({"faas.name": "router"}));
        s.trace_id = vec![0; 16];
        assert!(document(&s, &Map::new(), None).is_err());
        let mut s = span();
        s.span_id = vec![1, 2];
        assert!(document(&s, &Map::new(), None).is_err());
        assert_eq!(xray_trace_id(&[1; 15]), None);
    }
}
