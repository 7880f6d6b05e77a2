//! A [`SpanBatch`] as an OTLP/JSON `ExportTraceServiceRequest` (no protobuf dependency, so the
//! stdout exporter works without the `otlp` feature).
//!
//! The OTLP/JSON mapping: lowerCamelCase field names, trace and span ids as lowercase hex
//! strings, enums as integers, 64-bit integers (timestamps, `intValue`) as decimal strings.
//! What goes in each field is decided by [`model`](super::model), shared with the protobuf
//! encoder.
//!
//! Written with the segment documents' JSON writer (`crate::json`), straight into the line's
//! buffer: no `serde_json::Value` tree, and no serde code of its own in the binary (issue 6).
//! The text is what serializing the same request as a `serde_json::Value` gives (compact, the
//! keys of every object in sorted order); a test holds the two byte for byte.

use super::model::{self, Dialect, KeyValues, StatusCode, Value};
use crate::json::Out;
use crate::span::SpanBatch;

/// Appends the request for `batch` to `buf` (one line of JSON, without the newline).
pub(crate) fn write_request(batch: &SpanBatch, dialect: Dialect, buf: &mut Vec<u8>) {
    let mut out = Out::new(buf, usize::MAX);
    let trace_id = batch.trace_id.hex();
    raw(&mut out, r#"{"resourceSpans":[{"resource":{"attributes":"#);
    attributes(&mut out, model::resource_attributes(&batch.resource));
    raw(&mut out, r#"},"scopeSpans":[{"scope":{"name":"#);
    out.string(model::SCOPE_NAME);
    raw(&mut out, r#","version":"#);
    out.string(model::SCOPE_VERSION);
    raw(&mut out, r#"},"spans":["#);
    for index in 0..batch.spans.len() {
        if index > 0 {
            raw(&mut out, ",");
        }
        span(&mut out, batch, index, &trace_id, dialect);
    }
    raw(&mut out, "]}]}]}");
}

/// JSON text as is. Not inlined: the line is written once per invocation, and each of the many
/// keys written inline would add its own copy of the buffer's growth check (issue 6, binary
/// size).
#[inline(never)]
fn raw(out: &mut Out<'_>, text: &str) {
    out.raw(text);
}

/// A decimal string (`"1700000000000000000"`): OTLP/JSON's form of 64-bit integers.
fn quoted_u64(out: &mut Out<'_>, v: u64) {
    raw(out, "\"");
    out.u64(v);
    raw(out, "\"");
}

fn span(out: &mut Out<'_>, batch: &SpanBatch, index: usize, trace_id: &[u8; 32], dialect: Dialect) {
    let s = &batch.spans[index];
    // Keys in sorted order, as a `serde_json::Map` writes them.
    raw(out, r#"{"attributes":"#);
    attributes(out, model::span_attributes(batch, index, dialect));
    if s.dropped_links > 0 {
        raw(out, r#","droppedLinksCount":"#);
        out.u64(u64::from(
            u32::try_from(s.dropped_links).unwrap_or(u32::MAX),
        ));
    }
    raw(out, r#","endTimeUnixNano":"#);
    quoted_u64(out, s.end_unix_nanos);
    if !s.exceptions.is_empty() {
        raw(out, r#","events":["#);
        for (i, e) in s.exceptions.iter().enumerate() {
            if i > 0 {
                raw(out, ",");
            }
            raw(out, r#"{"attributes":"#);
            attributes(out, model::exception_attributes(e));
            raw(out, r#","name":"#);
            out.string(model::EXCEPTION_EVENT);
            raw(out, r#","timeUnixNano":"#);
            quoted_u64(out, s.end_unix_nanos);
            raw(out, "}");
        }
        raw(out, "]");
    }
    raw(out, r#","flags":"#);
    out.u64(model::flags(batch, index).into());
    raw(out, r#","kind":"#);
    out.i64(model::kind(batch, index, dialect).into());
    if !s.links.is_empty() {
        raw(out, r#","links":["#);
        for (i, (trace, span)) in s.links.iter().enumerate() {
            if i > 0 {
                raw(out, ",");
            }
            raw(out, r#"{"spanId":"#);
            match span {
                Some(span) => out.ascii_string(&span.hex()),
                None => raw(out, r#""""#),
            }
            raw(out, r#","traceId":"#);
            out.ascii_string(&trace.hex());
            raw(out, "}");
        }
        raw(out, "]");
    }
    raw(out, r#","name":"#);
    out.string(&s.name);
    if let Some(parent) = s.parent_id {
        raw(out, r#","parentSpanId":"#);
        out.ascii_string(&parent.hex());
    }
    raw(out, r#","spanId":"#);
    out.ascii_string(&s.span_id.hex());
    raw(out, r#","startTimeUnixNano":"#);
    quoted_u64(out, s.start_unix_nanos);
    raw(out, r#","status":{"#);
    let (code, message) = model::status(s);
    if code != StatusCode::Unset {
        raw(out, r#""code":"#);
        out.i64((code as i32).into());
    }
    if !message.is_empty() {
        if code != StatusCode::Unset {
            raw(out, ",");
        }
        raw(out, r#""message":"#);
        out.string(message);
    }
    raw(out, r#"},"traceId":"#);
    match s.trace_id {
        Some(own) => out.ascii_string(&own.hex()),
        None => out.ascii_string(trace_id),
    }
    raw(out, "}");
}

fn attributes(out: &mut Out<'_>, kv: KeyValues<'_>) {
    raw(out, "[");
    for (i, (key, value)) in kv.0.iter().enumerate() {
        if i > 0 {
            raw(out, ",");
        }
        raw(out, r#"{"key":"#);
        out.string(key);
        raw(out, r#","value":"#);
        any_value(out, value);
        raw(out, "}");
    }
    raw(out, "]");
}

fn any_value(out: &mut Out<'_>, value: &Value<'_>) {
    match value {
        Value::Str(s) => {
            raw(out, r#"{"stringValue":"#);
            out.string(s);
        }
        Value::Int(i) => {
            raw(out, r#"{"intValue":""#);
            out.i64(*i);
            raw(out, "\"");
        }
        Value::Double(f) => {
            raw(out, r#"{"doubleValue":"#);
            out.f64(*f);
        }
        Value::Bool(b) => {
            raw(out, r#"{"boolValue":"#);
            out.bool(*b);
        }
        Value::StrArray(items) => {
            raw(out, r#"{"arrayValue":{"values":["#);
            for (i, s) in items.iter().enumerate() {
                if i > 0 {
                    raw(out, ",");
                }
                raw(out, r#"{"stringValue":"#);
                out.string(s);
                raw(out, "}");
            }
            raw(out, "]}");
        }
    }
    raw(out, "}");
}

/// The encoder this module replaced: the request as a `serde_json::Value`. The tests hold the
/// writer's text byte for byte to what this serializes to.
#[cfg(test)]
pub(crate) mod reference {
    use serde_json::{Map, Value as Json, json};

    use crate::otlp::model::{self, Dialect, KeyValues, StatusCode, Value};
    use crate::span::SpanBatch;

    /// The request for `batch`: one resource, one scope, every span.
    pub(crate) fn request(batch: &SpanBatch, dialect: Dialect) -> Json {
        let trace_id = batch.trace_id.to_string();
        let spans: Vec<Json> = (0..batch.spans.len())
            .map(|i| span(batch, i, &trace_id, dialect))
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

    fn span(batch: &SpanBatch, index: usize, trace_id: &str, dialect: Dialect) -> Json {
        let s = &batch.spans[index];
        let mut out = Map::new();
        match s.trace_id {
            Some(own) => out.insert("traceId".into(), own.to_string().into()),
            None => out.insert("traceId".into(), trace_id.into()),
        };
        if s.dropped_links > 0 {
            let n = u32::try_from(s.dropped_links).unwrap_or(u32::MAX);
            out.insert("droppedLinksCount".into(), n.into());
        }
        out.insert("spanId".into(), s.span_id.to_string().into());
        if let Some(parent) = s.parent_id {
            out.insert("parentSpanId".into(), parent.to_string().into());
        }
        out.insert("flags".into(), model::flags(batch, index).into());
        out.insert("name".into(), s.name.as_ref().into());
        out.insert("kind".into(), model::kind(batch, index, dialect).into());
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
            attributes(model::span_attributes(batch, index, dialect)),
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
