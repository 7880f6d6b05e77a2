//! A [`SpanBatch`] as an OTLP/JSON `ExportTraceServiceRequest` (no protobuf dependency, so the
//! stdout exporter works without the `otlp` feature).
//!
//! The OTLP/JSON mapping: lowerCamelCase field names, trace and span ids as lowercase hex
//! strings, enums as integers, 64-bit integers (timestamps, `intValue`) as decimal strings.
//! What goes in each field is decided by [`otlp_model`](super::otlp_model), shared with the
//! protobuf encoder.
//!
//! Written with the segment documents' JSON writer (`xray::json`), straight into the line's
//! buffer: no `serde_json::Value` tree, and no serde code of its own in the binary (issue 6).
//! The text is what serializing the same request as a `serde_json::Value` gives (compact, the
//! keys of every object in sorted order); a test holds the two byte for byte.

use super::otlp_model::{self as model, KeyValues, StatusCode, Value};
use crate::span::SpanBatch;
use crate::xray::json::Out;

/// Appends the request for `batch` to `buf` (one line of JSON, without the newline).
pub(crate) fn write_request(batch: &SpanBatch, buf: &mut Vec<u8>) {
    let mut out = Out::new(buf, usize::MAX);
    let trace_id = batch.trace_id.hex();
    out.raw(r#"{"resourceSpans":[{"resource":{"attributes":"#);
    attributes(&mut out, model::resource_attributes(&batch.resource));
    out.raw(r#"},"scopeSpans":[{"scope":{"name":"#);
    out.string(model::SCOPE_NAME);
    out.raw(r#","version":"#);
    out.string(model::SCOPE_VERSION);
    out.raw(r#"},"spans":["#);
    for index in 0..batch.spans.len() {
        if index > 0 {
            out.raw(",");
        }
        span(&mut out, batch, index, &trace_id);
    }
    out.raw("]}]}]}");
}

/// A decimal string (`"1700000000000000000"`): OTLP/JSON's form of 64-bit integers.
fn quoted_u64(out: &mut Out<'_>, v: u64) {
    out.raw("\"");
    out.u64(v);
    out.raw("\"");
}

fn span(out: &mut Out<'_>, batch: &SpanBatch, index: usize, trace_id: &[u8; 32]) {
    let s = &batch.spans[index];
    // Keys in sorted order, as a `serde_json::Map` writes them.
    out.raw(r#"{"attributes":"#);
    attributes(out, model::span_attributes(batch, index));
    out.raw(r#","endTimeUnixNano":"#);
    quoted_u64(out, s.end_unix_nanos);
    if !s.exceptions.is_empty() {
        out.raw(r#","events":["#);
        for (i, e) in s.exceptions.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            out.raw(r#"{"attributes":"#);
            attributes(out, model::exception_attributes(e));
            out.raw(r#","name":"#);
            out.string(model::EXCEPTION_EVENT);
            out.raw(r#","timeUnixNano":"#);
            quoted_u64(out, s.end_unix_nanos);
            out.raw("}");
        }
        out.raw("]");
    }
    out.raw(r#","flags":"#);
    out.u64(model::flags(batch, index).into());
    out.raw(r#","kind":"#);
    out.i64(model::kind(s.kind).into());
    if !s.links.is_empty() {
        out.raw(r#","links":["#);
        for (i, (trace, span)) in s.links.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            out.raw(r#"{"spanId":"#);
            match span {
                Some(span) => out.ascii_string(&span.hex()),
                None => out.raw(r#""""#),
            }
            out.raw(r#","traceId":"#);
            out.ascii_string(&trace.hex());
            out.raw("}");
        }
        out.raw("]");
    }
    out.raw(r#","name":"#);
    out.string(&s.name);
    if let Some(parent) = s.parent_id {
        out.raw(r#","parentSpanId":"#);
        out.ascii_string(&parent.hex());
    }
    out.raw(r#","spanId":"#);
    out.ascii_string(&s.span_id.hex());
    out.raw(r#","startTimeUnixNano":"#);
    quoted_u64(out, s.start_unix_nanos);
    out.raw(r#","status":{"#);
    let (code, message) = model::status(s);
    if code != StatusCode::Unset {
        out.raw(r#""code":"#);
        out.i64((code as i32).into());
    }
    if !message.is_empty() {
        if code != StatusCode::Unset {
            out.raw(",");
        }
        out.raw(r#""message":"#);
        out.string(message);
    }
    out.raw(r#"},"traceId":"#);
    out.ascii_string(trace_id);
    out.raw("}");
}

fn attributes(out: &mut Out<'_>, kv: KeyValues<'_>) {
    out.raw("[");
    for (i, (key, value)) in kv.0.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        out.raw(r#"{"key":"#);
        out.string(key);
        out.raw(r#","value":"#);
        any_value(out, value);
        out.raw("}");
    }
    out.raw("]");
}

fn any_value(out: &mut Out<'_>, value: &Value<'_>) {
    match value {
        Value::Str(s) => {
            out.raw(r#"{"stringValue":"#);
            out.string(s);
        }
        Value::Int(i) => {
            out.raw(r#"{"intValue":""#);
            out.i64(*i);
            out.raw("\"");
        }
        Value::Double(f) => {
            out.raw(r#"{"doubleValue":"#);
            out.f64(*f);
        }
        Value::Bool(b) => {
            out.raw(r#"{"boolValue":"#);
            out.bool(*b);
        }
        Value::StrArray(items) => {
            out.raw(r#"{"arrayValue":{"values":["#);
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    out.raw(",");
                }
                out.raw(r#"{"stringValue":"#);
                out.string(s);
                out.raw("}");
            }
            out.raw("]}");
        }
    }
    out.raw("}");
}

/// The encoder this module replaced: the request as a `serde_json::Value`. The tests hold the
/// writer's text byte for byte to what this serializes to.
#[cfg(test)]
pub(crate) mod reference {
    use serde_json::{Map, Value as Json, json};

    use crate::export::otlp_model::{self as model, KeyValues, StatusCode, Value};
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
}
