//! A [`SpanBatch`] as an OTLP/JSON `ExportTraceServiceRequest`, written with `serde_json` (no
//! protobuf dependency, so the stdout exporter works without the `otlp` feature).
//!
//! The OTLP/JSON mapping: lowerCamelCase field names, trace and span ids as lowercase hex
//! strings, enums as integers, 64-bit integers (timestamps, `intValue`) as decimal strings.
//! What goes in each field is decided by [`otlp_model`](super::otlp_model), shared with the
//! protobuf encoder.

use serde_json::{Map, Value as Json, json};

use super::otlp_model::{self as model, KeyValues, StatusCode, Value};
use crate::span::SpanBatch;

/// The request for `batch`: one resource, one scope, every span.
pub(crate) fn request(batch: &SpanBatch) -> Json {
    let trace_id = batch.trace_id.to_string();
    let spans: Vec<Json> = (0..batch.spans.len())
        .map(|i| span(batch, i, &trace_id))
        .collect();
    json!({
        "resourceSpans": [{
            "resource": { "attributes": attributes(model::resource_attributes(&batch.resource)) },
            "scopeSpans": [{
                "scope": { "name": model::SCOPE_NAME, "version": model::SCOPE_VERSION },
                "spans": spans,
            }],
        }],
    })
}

fn span(batch: &SpanBatch, index: usize, trace_id: &str) -> Json {
    let s = &batch.spans[index];
    let mut out = Map::new();
    out.insert("traceId".into(), trace_id.into());
    out.insert("spanId".into(), s.span_id.to_string().into());
    if let Some(parent) = s.parent_id {
        out.insert("parentSpanId".into(), parent.to_string().into());
    }
    out.insert("flags".into(), model::flags(batch, index).into());
    out.insert("name".into(), s.name.as_str().into());
    out.insert("kind".into(), model::kind(s.kind).into());
    out.insert(
        "startTimeUnixNano".into(),
        s.start_unix_nanos.to_string().into(),
    );
    out.insert(
        "endTimeUnixNano".into(),
        s.end_unix_nanos.to_string().into(),
    );
    out.insert(
        "attributes".into(),
        attributes(model::span_attributes(batch, index)),
    );
    if !s.exceptions.is_empty() {
        let events: Vec<Json> = s
            .exceptions
            .iter()
            .map(|e| {
                json!({
                    "timeUnixNano": s.end_unix_nanos.to_string(),
                    "name": model::EXCEPTION_EVENT,
                    "attributes": attributes(model::exception_attributes(e)),
                })
            })
            .collect();
        out.insert("events".into(), events.into());
    }
    if !s.links.is_empty() {
        let links: Vec<Json> = s
            .links
            .iter()
            .map(|(trace, span)| {
                json!({
                    "traceId": trace.to_string(),
                    "spanId": span.map(|s| s.to_string()).unwrap_or_default(),
                })
            })
            .collect();
        out.insert("links".into(), links.into());
    }
    let (code, message) = model::status(s);
    let mut status = Map::new();
    if code != StatusCode::Unset {
        status.insert("code".into(), (code as i32).into());
    }
    if !message.is_empty() {
        status.insert("message".into(), message.into());
    }
    out.insert("status".into(), status.into());
    out.into()
}

fn attributes(kv: KeyValues<'_>) -> Json {
    kv.0.into_iter()
        .map(|(key, value)| json!({ "key": key, "value": any_value(value) }))
        .collect::<Vec<_>>()
        .into()
}

fn any_value(value: Value<'_>) -> Json {
    match value {
        Value::Str(s) => json!({ "stringValue": s }),
        Value::Int(i) => json!({ "intValue": i.to_string() }),
        Value::Double(f) => json!({ "doubleValue": f }),
        Value::Bool(b) => json!({ "boolValue": b }),
        Value::StrArray(items) => {
            let values: Vec<Json> = items
                .into_iter()
                .map(|s| json!({ "stringValue": s }))
                .collect();
            json!({ "arrayValue": { "values": values } })
        }
    }
}
