//! [`Document`] → JSON: every part of the wire model written with the [`json`](crate::json)
//! writer, in the field order of X-Ray's own SDKs.
//!
//! The writers check the limit between spans and after every metadata value, so a document that
//! grows past it stops early with [`TooLarge`].

use std::borrow::Cow;

use super::document::{
    Annotations, Aws, Cause, Document, Http, MAX_ANNOTATION_KEY_CHARS, MAX_ANNOTATION_VALUE_CHARS,
    METADATA_NAMESPACE, Metadata, Omitted, cut, exception_id,
};
use crate::context::SpanId;
use crate::json::{Array, Object, Out, TooLarge};
use crate::span::{AnnotationValue, AttributeValue, MetadataEntry};

impl Document<'_> {
    /// Appends this document as JSON to `buf` (`minimal_document_skips_empty_fields` shows the
    /// text).
    pub(crate) fn write_json(&self, buf: &mut Vec<u8>) {
        let _ = self.write(&mut Out::new(buf, usize::MAX));
    }

    /// This document as JSON.
    #[cfg(test)]
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(1024);
        self.write_json(&mut buf);
        buf
    }

    /// Writes the document; stops with [`TooLarge`] once `out` passed its limit.
    pub(crate) fn write(&self, out: &mut Out<'_>) -> Result<(), TooLarge> {
        self.write_fields(out)?;
        if !self.subsegments.is_empty() {
            out.raw(",\"subsegments\":");
            let mut list = Array::begin(out);
            for sub in &self.subsegments {
                list.next(out);
                sub.write(out)?;
                out.check()?;
            }
            list.end(out);
        }
        out.byte(b'}');
        out.check()
    }

    /// Writes `{` and every field but `subsegments` (always the last one), without the closing
    /// `}`: the caller writes the subsegments it has (from [`Document::subsegments`], or straight
    /// from a batch's spans in [`encode_with`](super::encode_with)) and closes the object.
    pub(crate) fn write_fields(&self, out: &mut Out<'_>) -> Result<(), TooLarge> {
        // `name` is always first: every other key is written with its leading comma.
        out.raw("{\"name\":");
        out.string(&self.name);
        out.raw(",\"id\":");
        out.ascii_string(&self.id.hex());
        if let Some(trace_id) = self.trace_id {
            out.raw(",\"trace_id\":");
            out.ascii_string(&trace_id.0.xray_bytes());
        }
        if let Some(parent) = self.parent_id {
            out.raw(",\"parent_id\":");
            out.ascii_string(&parent.hex());
        }
        if let Some(kind) = self.kind {
            out.raw(",\"type\":");
            out.string(kind);
        }
        out.raw(",\"start_time\":");
        out.seconds(self.start_time);
        if let Some(end) = self.end_time {
            out.raw(",\"end_time\":");
            out.seconds(end);
        }
        let mut o = Object::continued();
        flag(&mut o, out, "in_progress", self.in_progress);
        write_str_field(&mut o, out, "origin", self.origin);
        write_str_field(&mut o, out, "namespace", self.namespace);
        flag(&mut o, out, "error", self.error);
        flag(&mut o, out, "throttle", self.throttle);
        flag(&mut o, out, "fault", self.fault);
        if !self.cause.is_empty() {
            o.key(out, "cause");
            write_cause(&self.cause, out);
        }
        if let Some(http) = &self.http {
            o.key(out, "http");
            write_http(http, out);
        }
        if !self.aws.is_empty() {
            o.key(out, "aws");
            write_aws(&self.aws, out);
        }
        if let Some(service) = &self.service {
            o.key(out, "service");
            let mut s = Object::begin(out);
            s.key(out, "version");
            out.string(service.version);
            s.end(out);
        }
        if !self.annotations.is_empty() {
            o.key(out, "annotations");
            write_annotations(&self.annotations, out);
        }
        if !self.metadata.is_empty() {
            o.key(out, "metadata");
            write_metadata(&self.metadata, out)?;
        }
        out.check()
    }
}

/// `"key":true` when `set`; nothing otherwise.
fn flag(o: &mut Object, out: &mut Out<'_>, key: &str, set: bool) {
    if set {
        o.key(out, key);
        out.bool(true);
    }
}

/// `"key":"value"` when there is a value.
fn write_str_field(o: &mut Object, out: &mut Out<'_>, key: &str, value: Option<&str>) {
    if let Some(value) = value {
        o.key(out, key);
        out.string(value);
    }
}

fn write_cause(cause: &Cause<'_>, out: &mut Out<'_>) {
    let seed = cause.span_id.map_or(0, SpanId::to_u64);
    let mut o = Object::begin(out);
    o.key(out, "exceptions");
    let mut list = Array::begin(out);
    for (i, e) in cause.exceptions.iter().enumerate() {
        list.next(out);
        let mut x = Object::begin(out);
        x.key(out, "id");
        // Never zero, so always a valid id.
        let id = SpanId::from_u64(exception_id(seed, i));
        out.ascii_string(&id.map_or([b'1'; 16], SpanId::hex));
        x.key(out, "message");
        out.string(&e.message);
        write_str_field(&mut x, out, "type", e.type_name.as_deref());
        if e.remote {
            x.key(out, "remote");
            out.bool(true);
        }
        if !e.stack.is_empty() {
            x.key(out, "stack");
            let mut frames = Array::begin(out);
            for frame in &e.stack {
                frames.next(out);
                let mut f = Object::begin(out);
                write_str_field(&mut f, out, "path", frame.path.as_deref());
                if let Some(line) = frame.line {
                    f.key(out, "line");
                    out.u64(u64::from(line));
                }
                f.key(out, "label");
                out.string(&frame.label);
                f.end(out);
            }
            frames.end(out);
        }
        x.end(out);
    }
    list.end(out);
    o.end(out);
}

fn write_http(http: &Http<'_>, out: &mut Out<'_>) {
    let mut o = Object::begin(out);
    if let Some(r) = &http.request {
        o.key(out, "request");
        let mut q = Object::begin(out);
        write_str_field(&mut q, out, "method", r.method.map(|v| v.as_str()));
        write_str_field(&mut q, out, "url", r.url.map(|v| v.as_str()));
        write_str_field(&mut q, out, "user_agent", r.user_agent.map(|v| v.as_str()));
        write_str_field(&mut q, out, "client_ip", r.client_ip.map(|v| v.as_str()));
        if r.x_forwarded_for {
            q.key(out, "x_forwarded_for");
            out.bool(true);
        }
        q.end(out);
    }
    if let Some(r) = &http.response {
        o.key(out, "response");
        let mut q = Object::begin(out);
        if let Some(status) = r.status {
            q.key(out, "status");
            out.u64(u64::from(status));
        }
        if let Some(len) = r.content_length {
            q.key(out, "content_length");
            out.u64(len);
        }
        q.end(out);
    }
    o.end(out);
}

fn write_aws(aws: &Aws<'_>, out: &mut Out<'_>) {
    let mut o = Object::begin(out);
    write_str_field(&mut o, out, "account_id", aws.account_id);
    write_str_field(&mut o, out, "operation", aws.operation);
    write_str_field(&mut o, out, "region", aws.region);
    write_str_field(&mut o, out, "request_id", aws.request_id);
    write_str_field(&mut o, out, "queue_url", aws.queue_url);
    write_str_field(&mut o, out, "table_name", aws.table_name);
    if let Some(retries) = aws.retries {
        o.key(out, "retries");
        out.i64(retries);
    }
    if let Some(tracing) = aws.tracing {
        o.key(out, "tracing");
        let mut t = Object::begin(out);
        t.key(out, "sdk");
        out.string(tracing.sdk);
        t.end(out);
    }
    o.end(out);
}

/// Keys re-sanitized to `[A-Za-z0-9_]{1,500}` (other characters become `_`, an empty key `_`),
/// string values cut to [`MAX_ANNOTATION_VALUE_CHARS`]; non-finite floats are written as strings
/// so the value stays a valid annotation. A no-op for data the span API recorded.
fn write_annotations(annotations: &Annotations<'_>, out: &mut Out<'_>) {
    let mut o = Object::begin(out);
    for (key, value) in annotations.0.iter() {
        o.key(out, &annotation_key(key));
        match value {
            AnnotationValue::String(v) => out.string(cut(v, MAX_ANNOTATION_VALUE_CHARS)),
            AnnotationValue::Int(v) => out.i64(*v),
            AnnotationValue::Float(v) if v.is_finite() => out.f64(*v),
            AnnotationValue::Float(v) => out.string(&v.to_string()),
            AnnotationValue::Bool(v) => out.bool(*v),
        }
    }
    o.end(out);
}

/// An annotation key made valid (only `[A-Za-z0-9_]`, so it needs no escaping).
fn annotation_key(key: &str) -> Cow<'_, str> {
    if key.is_empty() {
        return Cow::Borrowed("_");
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let key = cut(key, MAX_ANNOTATION_KEY_CHARS);
    if key.bytes().all(|b| valid(char::from(b))) {
        return Cow::Borrowed(key);
    }
    Cow::Owned(
        key.chars()
            .map(|c| if valid(c) { c } else { '_' })
            .collect(),
    )
}

/// The span's entries grouped by namespace (in order of first appearance: a quadratic scan, fine
/// for the handful of entries a span holds, and no map allocation), plus this crate's own keys
/// under [`METADATA_NAMESPACE`].
fn write_metadata(m: &Metadata<'_>, out: &mut Out<'_>) -> Result<(), TooLarge> {
    let entries = &*m.entries;
    let mut o = Object::begin(out);
    let mut own_written = false;
    for (i, entry) in entries.iter().enumerate() {
        let ns = entry.namespace.as_str();
        if entries[..i].iter().any(|e| e.namespace == ns) {
            continue;
        }
        let own = ns == METADATA_NAMESPACE;
        own_written |= own;
        o.data_key(out, ns);
        write_namespace(&entries[i..], ns, own.then_some(m), out)?;
    }
    if !own_written && m.has_own() {
        o.key(out, METADATA_NAMESPACE);
        write_namespace(&[], METADATA_NAMESPACE, Some(m), out)?;
    }
    o.end(out);
    Ok(())
}

/// One namespace object: the entries named `ns`, plus this crate's keys when `own` is given.
fn write_namespace(
    entries: &[MetadataEntry],
    ns: &str,
    own: Option<&Metadata<'_>>,
    out: &mut Out<'_>,
) -> Result<(), TooLarge> {
    let mut o = Object::begin(out);
    for e in entries.iter().filter(|e| e.namespace == ns) {
        o.data_key(out, &e.key);
        out.value(&e.value);
        out.check()?;
    }
    if let Some(m) = own {
        for (key, value) in m.attributes {
            o.data_key(out, key);
            match value {
                AttributeValue::String(v) => out.string(v),
                AttributeValue::Int(v) => out.i64(*v),
                AttributeValue::Bool(v) => out.bool(*v),
            }
        }
        if !m.links.is_empty() {
            o.key(out, "links");
            let mut list = Array::begin(out);
            for &(trace_id, span_id) in m.links {
                list.next(out);
                let mut l = Object::begin(out);
                l.key(out, "trace_id");
                out.ascii_string(&trace_id.xray_bytes());
                if let Some(id) = span_id {
                    l.key(out, "span_id");
                    out.ascii_string(&id.hex());
                }
                l.end(out);
            }
            list.end(out);
        }
        let counts = [
            ("dropped_spans", m.dropped_spans),
            ("dropped_links", m.dropped_links),
            ("dropped_events", m.dropped_events),
        ];
        if m.unfinished {
            o.key(out, "unfinished");
            out.bool(true);
        }
        for (key, n) in counts {
            if n > 0 {
                o.key(out, key);
                out.u64(n as u64);
            }
        }
        if m.truncated {
            o.key(out, "truncated");
            out.bool(true);
        }
        if let Some(omitted) = &m.omitted {
            o.key(out, "omitted");
            write_omitted(omitted, out);
        }
    }
    o.end(out);
    Ok(())
}

fn write_omitted(n: &Omitted, out: &mut Out<'_>) {
    let mut o = Object::begin(out);
    for (key, count) in [
        ("metadata", n.metadata),
        ("annotations", n.annotations),
        ("exceptions", n.exceptions),
        ("attributes", n.attributes),
        ("links", n.links),
    ] {
        o.key(out, key);
        out.u64(count as u64);
    }
    o.end(out);
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::TraceId;
    use crate::span::{Attribute, ExceptionRecord};
    use crate::xray::Limited;
    use serde_json::json;

    /// What `write` wrote, as text.
    fn text(write: impl FnOnce(&mut Out<'_>)) -> String {
        let mut buf = Vec::new();
        write(&mut Out::new(&mut buf, usize::MAX));
        String::from_utf8(buf).unwrap()
    }

    /// What `write` wrote, parsed.
    fn value(write: impl FnOnce(&mut Out<'_>)) -> serde_json::Value {
        serde_json::from_str(&text(write)).unwrap()
    }

    fn id(v: u64) -> SpanId {
        SpanId::from_u64(v).unwrap()
    }

    #[test]
    fn minimal_document_skips_empty_fields() {
        let doc = Document::new("fn".into(), id(0xabc), 1.5, 2.25);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&doc.to_json()).unwrap(),
            json!({"name": "fn", "id": "0000000000000abc", "start_time": 1.5, "end_time": 2.25})
        );
    }

    #[test]
    fn annotations_are_made_valid_while_writing() {
        let list = vec![
            ("ok_key".into(), AnnotationValue::Int(1)),
            ("bad key.é".into(), AnnotationValue::Bool(true)),
            ("".into(), AnnotationValue::Float(f64::NAN)),
            ("long".into(), AnnotationValue::String("x".repeat(1200))),
            ("k".repeat(600).into(), AnnotationValue::Float(1.5)),
        ];
        let v = value(|out| write_annotations(&Annotations(Cow::Borrowed(&list)), out));
        assert_eq!(v["ok_key"], 1);
        assert_eq!(v["bad_key__"], true);
        assert_eq!(v["_"], "NaN");
        assert_eq!(v["long"].as_str().unwrap().len(), 1000);
        assert_eq!(v["k".repeat(500)], 1.5);
    }

    #[test]
    fn metadata_groups_namespaces_and_adds_own_keys() {
        let entries = vec![
            MetadataEntry {
                namespace: "default".into(),
                key: "a".into(),
                value: json!(1),
            },
            MetadataEntry {
                namespace: "lambda_trace".into(),
                key: "user".into(),
                value: json!("u"),
            },
            MetadataEntry {
                namespace: "default".into(),
                key: "b".into(),
                value: json!({"x": [1, 2]}),
            },
        ];
        let attrs: Vec<Attribute> = vec![("faas.coldstart".into(), AttributeValue::Bool(true))];
        let t: TraceId = "5759e988bd862e3fe1be46a994272793".parse().unwrap();
        let links = vec![(t, Some(id(1))), (t, None)];
        let m = Metadata {
            entries: Cow::Borrowed(&entries),
            attributes: &attrs,
            links: &links,
            unfinished: true,
            dropped_spans: 3,
            dropped_links: 5,
            dropped_events: 0,
            truncated: false,
            omitted: None,
        };
        let text = text(|out| write_metadata(&m, out).unwrap());
        assert_eq!(text.matches("\"default\"").count(), 1);
        assert_eq!(text.matches("\"lambda_trace\"").count(), 1);
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            json!({
                "default": {"a": 1, "b": {"x": [1, 2]}},
                "lambda_trace": {
                    "user": "u",
                    "faas.coldstart": true,
                    "links": [
                        {"trace_id": "1-5759e988-bd862e3fe1be46a994272793", "span_id": "0000000000000001"},
                        {"trace_id": "1-5759e988-bd862e3fe1be46a994272793"}
                    ],
                    "unfinished": true,
                    "dropped_spans": 3,
                    "dropped_links": 5
                }
            })
        );
        assert!(Metadata::default().is_empty());
    }

    #[test]
    fn cause_ids_are_stable_hex() {
        let ex = vec![
            ExceptionRecord {
                message: "boom".into(),
                type_name: Some("E".into()),
                remote: true,
                stack: Vec::new(),
            },
            ExceptionRecord {
                message: "inner".into(),
                type_name: None,
                remote: false,
                stack: Vec::new(),
            },
        ];
        let cause = Cause {
            span_id: Some(id(42)),
            exceptions: Cow::Borrowed(&ex),
        };
        let a = value(|out| write_cause(&cause, out));
        assert_eq!(a, value(|out| write_cause(&cause, out)));
        let list = a["exceptions"].as_array().unwrap();
        assert_eq!(list[0]["message"], "boom");
        assert_eq!(list[0]["type"], "E");
        assert_eq!(list[0]["remote"], true);
        assert!(list[1].get("type").is_none() && list[1].get("remote").is_none());
        for e in list {
            let id = e["id"].as_str().unwrap();
            assert!(id.parse::<SpanId>().is_ok(), "{id}");
        }
        assert_ne!(list[0]["id"], list[1]["id"]);
    }

    #[test]
    fn limited_cuts_on_char_boundaries() {
        let s = "é".repeat(300);
        assert_eq!(Limited::<250>(&s).as_str().chars().count(), 250);
        assert_eq!(cut("abc", 5), "abc");
    }
}
