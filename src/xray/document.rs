//! The X-Ray segment document wire model (serde), borrowing from the [`SpanRecord`]s it
//! describes.
//!
//! These types only *serialize*; they know nothing about spans, placement or splitting (that is
//! [`translate`](super::translate) and [`encode`](super::encode)). Optional fields are skipped
//! when empty, ids are written from hex digits formatted on the stack (no temporary `String`),
//! and strings that X-Ray limits (annotation values, HTTP fields) are cut while serializing, on
//! a char boundary, without allocating.
//!
//! Fields that may need to be shortened when a document is too large for one datagram
//! (metadata, annotations, exceptions) are [`Cow`]s: borrowed on the hot path, owned only when
//! [`encode`](super::encode) truncates them.
//!
//! [`SpanRecord`]: crate::span::SpanRecord

use std::borrow::Cow;
use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::context::{SpanId, TraceId};
use crate::span::{AnnotationValue, Attribute, AttributeValue, ExceptionRecord, MetadataEntry};

/// Longest annotation string value X-Ray accepts, in characters.
pub const MAX_ANNOTATION_VALUE_CHARS: usize = crate::span::MAX_ANNOTATION_STRING;

/// Longest annotation key X-Ray accepts, in characters.
pub const MAX_ANNOTATION_KEY_CHARS: usize = 500;

/// Longest `http.request` string field the schema accepts, in characters.
pub const MAX_HTTP_FIELD_CHARS: usize = 250;

/// The metadata namespace this crate writes its own keys (and the span's semantic-convention
/// attributes) under.
pub const METADATA_NAMESPACE: &str = "lambda_trace";

/// `type` of a subsegment sent as its own document.
pub const SUBSEGMENT_TYPE: &str = "subsegment";

/// `origin` of a segment this crate emits for a function invocation.
pub const LAMBDA_ORIGIN: &str = "AWS::Lambda::Function";

/// One segment or subsegment document.
///
/// A top-level document needs `trace_id`; a standalone subsegment also needs `type:
/// "subsegment"` and `parent_id`. Nested subsegments (in [`Document::subsegments`]) carry
/// neither.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Document<'a> {
    /// 1–200 characters from X-Ray's name set (see [`sanitize_name`](super::sanitize_name)).
    pub name: Cow<'a, str>,
    /// The segment / subsegment id (16 lowercase hex).
    #[serde(serialize_with = "span_id")]
    pub id: SpanId,
    /// `1-{8 hex}-{24 hex}`; required on top-level documents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<XrayTraceId>,
    /// The parent segment or subsegment.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "span_id_opt"
    )]
    pub parent_id: Option<SpanId>,
    /// `"subsegment"` for a subsegment sent as its own document.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// Epoch seconds, microsecond precision.
    pub start_time: f64,
    /// Epoch seconds, microsecond precision; absent only while `in_progress`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<f64>,
    /// `true` for a segment that has not ended yet.
    #[serde(skip_serializing_if = "is_false")]
    pub in_progress: bool,
    /// The AWS resource type (`AWS::Lambda::Function`), segments only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<&'static str>,
    /// `"remote"` or `"aws"` for outgoing calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'static str>,
    /// Client error (4xx).
    #[serde(skip_serializing_if = "is_false")]
    pub error: bool,
    /// Throttled (429).
    #[serde(skip_serializing_if = "is_false")]
    pub throttle: bool,
    /// Server error (5xx, `Err`, panic).
    #[serde(skip_serializing_if = "is_false")]
    pub fault: bool,
    /// Recorded errors.
    #[serde(skip_serializing_if = "Cause::is_empty")]
    pub cause: Cause<'a>,
    /// HTTP request / response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Http<'a>>,
    /// AWS resource data.
    #[serde(skip_serializing_if = "Aws::is_empty")]
    pub aws: Aws<'a>,
    /// `service.version` (segments only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<Service<'a>>,
    /// Indexed key/values.
    #[serde(skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations<'a>,
    /// `namespace → key → JSON`.
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata<'a>,
    /// Nested subsegments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subsegments: Vec<Document<'a>>,
}

impl<'a> Document<'a> {
    /// A document with only the required fields set (and `end_time`).
    pub fn new(name: Cow<'a, str>, id: SpanId, start_time: f64, end_time: f64) -> Self {
        Self {
            name,
            id,
            trace_id: None,
            parent_id: None,
            kind: None,
            start_time,
            end_time: Some(end_time),
            in_progress: false,
            origin: None,
            namespace: None,
            error: false,
            throttle: false,
            fault: false,
            cause: Cause::default(),
            http: None,
            aws: Aws::default(),
            service: None,
            annotations: Annotations::default(),
            metadata: Metadata::default(),
            subsegments: Vec::new(),
        }
    }
}

/// An X-Ray trace id, written as `1-{8 hex}-{24 hex}` straight into the serializer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XrayTraceId(pub TraceId);

impl fmt::Display for XrayTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0.to_u128();
        write!(
            f,
            "1-{:08x}-{:024x}",
            (v >> 96) as u32,
            v & ((1u128 << 96) - 1)
        )
    }
}

impl Serialize for XrayTraceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(ascii(&self.0.xray_bytes()))
    }
}

/// `cause.exceptions`: the span's recorded errors.
///
/// Exception ids are derived from the span id and the exception's position (16 hex, non-zero),
/// so serializing twice gives the same document and nothing is stored per exception.
#[derive(Debug, Clone, Default)]
pub struct Cause<'a> {
    /// The span whose errors these are (seeds the exception ids).
    pub span_id: Option<SpanId>,
    /// The errors, outermost first.
    pub exceptions: Cow<'a, [ExceptionRecord]>,
}

impl Cause<'_> {
    /// `true` when there is no exception to write.
    pub fn is_empty(&self) -> bool {
        self.exceptions.is_empty()
    }
}

impl Serialize for Cause<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Exceptions<'c>(&'c Cause<'c>);
        impl Serialize for Exceptions<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let seed = self.0.span_id.map_or(0, SpanId::to_u64);
                let mut seq = s.serialize_seq(Some(self.0.exceptions.len()))?;
                for (i, e) in self.0.exceptions.iter().enumerate() {
                    seq.serialize_element(&Exception {
                        id: exception_id(seed, i),
                        record: e,
                    })?;
                }
                seq.end()
            }
        }
        let mut st = s.serialize_struct("Cause", 1)?;
        st.serialize_field("exceptions", &Exceptions(self))?;
        st.end()
    }
}

/// A stable, non-zero id for exception `index` of the span `seed`, written as 16 hex digits.
fn exception_id(seed: u64, index: usize) -> Hex16 {
    let mixed = (seed ^ 0x5851_f42d_4c95_7f2d)
        .wrapping_add((index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .rotate_left(17)
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    Hex16(mixed.max(1))
}

/// A 64-bit id printed as 16 lowercase hex digits.
struct Hex16(u64);

impl fmt::Display for Hex16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

struct Exception<'e> {
    id: Hex16,
    record: &'e ExceptionRecord,
}

impl Serialize for Exception<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Exception", 4)?;
        st.serialize_field("id", &Shown(&self.id))?;
        st.serialize_field("message", &self.record.message)?;
        if let Some(t) = &self.record.type_name {
            st.serialize_field("type", t)?;
        }
        if self.record.remote {
            st.serialize_field("remote", &true)?;
        }
        st.end()
    }
}

/// The `http` block.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Http<'a> {
    /// The request served or made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest<'a>>,
    /// Its response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

/// `http.request`; strings are cut to [`MAX_HTTP_FIELD_CHARS`] when written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HttpRequest<'a> {
    /// `GET`, `POST`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<Limited<'a, MAX_HTTP_FIELD_CHARS>>,
    /// The URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Limited<'a, MAX_HTTP_FIELD_CHARS>>,
    /// `User-Agent`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<Limited<'a, MAX_HTTP_FIELD_CHARS>>,
    /// The client's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<Limited<'a, MAX_HTTP_FIELD_CHARS>>,
    /// `true` when `client_ip` was read from `X-Forwarded-For`.
    #[serde(skip_serializing_if = "is_false")]
    pub x_forwarded_for: bool,
}

/// `http.response`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct HttpResponse {
    /// Status code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `Content-Length`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_length: Option<u64>,
}

/// The `aws` block: only keys the schema declares (`account_id` for segments; `operation`,
/// `account_id`, `region`, `request_id`, `queue_url`, `table_name` for subsegments) plus
/// `tracing.sdk` on segments and `retries` on subsegments (what X-Ray's SDKs write for AWS
/// calls; the schema's subsegment `aws` block allows extra keys).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Aws<'a> {
    /// The AWS account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<&'a str>,
    /// The AWS API operation (subsegments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<&'a str>,
    /// The region called (subsegments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<&'a str>,
    /// The AWS request id (subsegments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    /// SQS queue URL (subsegments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<&'a str>,
    /// DynamoDB table (subsegments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_name: Option<&'a str>,
    /// How many times the AWS SDK retried the call (subsegments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<i64>,
    /// `tracing.sdk`: who wrote the document (segments).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

impl Aws<'_> {
    /// `true` when no key is set.
    pub fn is_empty(&self) -> bool {
        self.account_id.is_none()
            && self.operation.is_none()
            && self.region.is_none()
            && self.request_id.is_none()
            && self.queue_url.is_none()
            && self.table_name.is_none()
            && self.retries.is_none()
            && self.tracing.is_none()
    }
}

/// `aws.tracing`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Tracing {
    /// The tracing library and its version.
    pub sdk: &'static str,
}

/// The top-level `service` block.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Service<'a> {
    /// The function version.
    pub version: &'a str,
}

/// `annotations`: keys re-sanitized to `[A-Za-z0-9_]{1,500}` and string values cut to
/// [`MAX_ANNOTATION_VALUE_CHARS`] while writing (a no-op for data the span API recorded);
/// non-finite floats are written as strings so the value stays a valid annotation.
#[derive(Debug, Clone, Default)]
pub struct Annotations<'a>(pub Cow<'a, [(String, AnnotationValue)]>);

impl Annotations<'_> {
    /// `true` when there is no annotation.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for Annotations<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0.iter() {
            map.serialize_key(&AnnotationKey(key))?;
            match value {
                AnnotationValue::String(v) => {
                    map.serialize_value(&Limited::<MAX_ANNOTATION_VALUE_CHARS>(v))?
                }
                AnnotationValue::Int(v) => map.serialize_value(v)?,
                AnnotationValue::Float(v) if v.is_finite() => map.serialize_value(v)?,
                AnnotationValue::Float(v) => map.serialize_value(&Shown(v))?,
                AnnotationValue::Bool(v) => map.serialize_value(v)?,
            }
        }
        map.end()
    }
}

/// An annotation key, sanitized while writing: other characters become `_`, at most 500
/// characters, an empty key becomes `_`.
struct AnnotationKey<'k>(&'k str);

impl fmt::Display for AnnotationKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        if self.0.is_empty() {
            return f.write_char('_');
        }
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
        let key = cut(self.0, MAX_ANNOTATION_KEY_CHARS);
        if key.bytes().all(|b| valid(char::from(b))) {
            return f.write_str(key);
        }
        for c in key.chars() {
            f.write_char(if valid(c) { c } else { '_' })?;
        }
        Ok(())
    }
}

impl Serialize for AnnotationKey<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `metadata`: the span's entries grouped by namespace, plus this crate's own keys under
/// [`METADATA_NAMESPACE`] (`lambda_trace`):
///
/// | key | when |
/// |---|---|
/// | `faas.*`, `cloud.*`, `http.*`, `aws.*`, … | the span's semantic-convention attributes |
/// | `links` | `[{"trace_id", "span_id"}]`, other traces this span is linked to |
/// | `unfinished` | `true`: the span was still open at flush time (timeout, forgotten end) |
/// | `dropped_spans` | spans of the invocation not recorded (span limit), on the root |
/// | `dropped_events` | events of the span not recorded (per-span event limit) |
/// | `truncated` | `true`: values were shortened to fit the 64 kB document limit |
/// | `omitted` | what a last-resort truncation left out, as counts |
///
/// Entries of the same namespace are grouped in the order of their first appearance (a
/// quadratic scan, fine for the handful of entries a span holds; it avoids a map allocation).
#[derive(Debug, Clone, Default)]
pub struct Metadata<'a> {
    /// The span's metadata entries.
    pub entries: Cow<'a, [MetadataEntry]>,
    /// Semantic-convention attributes, written under `lambda_trace`.
    pub attributes: &'a [Attribute],
    /// Linked traces, written as `lambda_trace.links`.
    pub links: &'a [(TraceId, Option<SpanId>)],
    /// Writes `lambda_trace.unfinished: true`.
    pub unfinished: bool,
    /// Writes `lambda_trace.dropped_spans` when non-zero.
    pub dropped_spans: usize,
    /// Writes `lambda_trace.dropped_events` when non-zero.
    pub dropped_events: usize,
    /// Writes `lambda_trace.truncated: true`.
    pub truncated: bool,
    /// Writes `lambda_trace.omitted`: what was left out to fit the size limit.
    pub omitted: Option<Omitted>,
}

/// Counts of what a last-resort truncation left out of a document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Omitted {
    /// Metadata entries.
    pub metadata: usize,
    /// Annotations.
    pub annotations: usize,
    /// Exceptions.
    pub exceptions: usize,
    /// Attributes.
    pub attributes: usize,
    /// Links.
    pub links: usize,
}

impl Metadata<'_> {
    /// `true` when nothing would be written.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && !self.has_own()
    }

    fn has_own(&self) -> bool {
        !self.attributes.is_empty()
            || !self.links.is_empty()
            || self.unfinished
            || self.dropped_spans > 0
            || self.dropped_events > 0
            || self.truncated
            || self.omitted.is_some()
    }
}

impl Serialize for Metadata<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entries = &*self.entries;
        let mut map = s.serialize_map(None)?;
        let mut own_written = false;
        for (i, entry) in entries.iter().enumerate() {
            let ns = entry.namespace.as_str();
            if entries[..i].iter().any(|e| e.namespace == ns) {
                continue;
            }
            let own = ns == METADATA_NAMESPACE;
            own_written |= own;
            map.serialize_entry(
                ns,
                &Namespace {
                    entries: &entries[i..],
                    ns,
                    own: own.then_some(self),
                },
            )?;
        }
        if !own_written && self.has_own() {
            map.serialize_entry(
                METADATA_NAMESPACE,
                &Namespace {
                    entries: &[],
                    ns: METADATA_NAMESPACE,
                    own: Some(self),
                },
            )?;
        }
        map.end()
    }
}

/// One namespace object: the entries named `ns` (from `entries`), plus this crate's keys.
struct Namespace<'n> {
    entries: &'n [MetadataEntry],
    ns: &'n str,
    own: Option<&'n Metadata<'n>>,
}

impl Serialize for Namespace<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for e in self.entries.iter().filter(|e| e.namespace == self.ns) {
            map.serialize_entry(&e.key, &e.value)?;
        }
        if let Some(m) = self.own {
            for (key, value) in m.attributes {
                map.serialize_key(key.as_ref())?;
                match value {
                    AttributeValue::String(v) => map.serialize_value(v.as_ref())?,
                    AttributeValue::Int(v) => map.serialize_value(v)?,
                    AttributeValue::Bool(v) => map.serialize_value(v)?,
                }
            }
            if !m.links.is_empty() {
                map.serialize_entry("links", &Links(m.links))?;
            }
            if m.unfinished {
                map.serialize_entry("unfinished", &true)?;
            }
            if m.dropped_spans > 0 {
                map.serialize_entry("dropped_spans", &m.dropped_spans)?;
            }
            if m.dropped_events > 0 {
                map.serialize_entry("dropped_events", &m.dropped_events)?;
            }
            if m.truncated {
                map.serialize_entry("truncated", &true)?;
            }
            if let Some(omitted) = &m.omitted {
                map.serialize_entry("omitted", omitted)?;
            }
        }
        map.end()
    }
}

struct Links<'l>(&'l [(TraceId, Option<SpanId>)]);

impl Serialize for Links<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for &(trace_id, span_id) in self.0 {
            seq.serialize_element(&Link { trace_id, span_id })?;
        }
        seq.end()
    }
}

struct Link {
    trace_id: TraceId,
    span_id: Option<SpanId>,
}

impl Serialize for Link {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Link", 2)?;
        st.serialize_field("trace_id", &XrayTraceId(self.trace_id))?;
        if let Some(id) = &self.span_id {
            st.serialize_field("span_id", &Shown(id))?;
        }
        st.end()
    }
}

/// A string written cut to at most `MAX` characters (on a char boundary, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited<'a, const MAX: usize>(pub &'a str);

impl<const MAX: usize> Serialize for Limited<'_, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(cut(self.0, MAX))
    }
}

/// `s` cut to at most `max` characters.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    match s.char_indices().nth(max) {
        Some((byte, _)) => &s[..byte],
        None => s,
    }
}

/// Serializes any `Display` value as a string, without a temporary `String`.
struct Shown<'d, T: fmt::Display>(&'d T);

impl<T: fmt::Display> Serialize for Shown<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// Ids are hex digits formatted on the stack: `collect_str` would run them through the `fmt`
/// machinery and serde_json's escaping adapter, which showed in profiles of the hot path.
fn span_id<S: Serializer>(v: &SpanId, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(ascii(&v.hex()))
}

#[allow(clippy::ref_option)] // serde's `serialize_with` hands us `&Option<T>`
fn span_id_opt<S: Serializer>(v: &Option<SpanId>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => span_id(v, s),
        None => s.serialize_none(),
    }
}

/// Hex digits as `&str` (always ASCII; an impossible non-UTF-8 buffer would write `""`).
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `skip_serializing_if` hands us `&bool`
fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn id(v: u64) -> SpanId {
        SpanId::from_u64(v).unwrap()
    }

    #[test]
    fn minimal_document_skips_empty_fields() {
        let doc = Document::new("fn".into(), id(0xabc), 1.5, 2.25);
        assert_eq!(
            serde_json::to_value(&doc).unwrap(),
            json!({"name": "fn", "id": "0000000000000abc", "start_time": 1.5, "end_time": 2.25})
        );
    }

    #[test]
    fn trace_id_is_written_in_xray_form() {
        let t: TraceId = "5759e988bd862e3fe1be46a994272793".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&XrayTraceId(t)).unwrap(),
            "\"1-5759e988-bd862e3fe1be46a994272793\""
        );
    }

    #[test]
    fn annotations_are_made_valid_while_writing() {
        let list = vec![
            ("ok_key".to_string(), AnnotationValue::Int(1)),
            ("bad key.é".to_string(), AnnotationValue::Bool(true)),
            (String::new(), AnnotationValue::Float(f64::NAN)),
            (
                "long".to_string(),
                AnnotationValue::String("x".repeat(1200)),
            ),
            ("k".repeat(600), AnnotationValue::Float(1.5)),
        ];
        let v = serde_json::to_value(Annotations(Cow::Borrowed(&list))).unwrap();
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
            dropped_events: 0,
            truncated: false,
            omitted: None,
        };
        let text = serde_json::to_string(&m).unwrap();
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
                    "dropped_spans": 3
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
            },
            ExceptionRecord {
                message: "inner".into(),
                type_name: None,
                remote: false,
            },
        ];
        let cause = Cause {
            span_id: Some(id(42)),
            exceptions: Cow::Borrowed(&ex),
        };
        let a = serde_json::to_value(&cause).unwrap();
        assert_eq!(a, serde_json::to_value(&cause).unwrap());
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
        let v = serde_json::to_value(Limited::<250>(&s)).unwrap();
        assert_eq!(v.as_str().unwrap().chars().count(), 250);
        assert_eq!(cut("abc", 5), "abc");
    }
}
