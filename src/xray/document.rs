//! The X-Ray segment document wire model, borrowing from the [`SpanRecord`]s it describes.
//!
//! These types only describe a document; they know nothing about spans, placement or splitting
//! (that is [`translate`](super::translate) and [`encode`](super::encode)) nor about JSON (that
//! is `write.rs`, [`Document::write_json`]). Optional fields are skipped when empty, and strings
//! that X-Ray limits (annotation values, HTTP fields) are cut while writing, on a char boundary,
//! without allocating.
//!
//! Fields that may need to be shortened when a document is too large for one datagram
//! (metadata, annotations, exceptions) are [`Cow`]s: borrowed on the hot path, owned only when
//! [`encode`](super::encode) truncates them.
//!
//! [`SpanRecord`]: crate::span::SpanRecord

use std::borrow::Cow;
use std::fmt;

use crate::context::{SpanId, TraceId};
use crate::span::{AnnotationValue, Attribute, ExceptionRecord, MetadataEntry};

/// Longest annotation string value X-Ray accepts, in characters.
pub(crate) const MAX_ANNOTATION_VALUE_CHARS: usize = crate::span::MAX_ANNOTATION_STRING;

/// Longest annotation key X-Ray accepts, in characters.
pub(crate) const MAX_ANNOTATION_KEY_CHARS: usize = 500;

/// Longest `http.request` string field the schema accepts, in characters.
pub(crate) const MAX_HTTP_FIELD_CHARS: usize = 250;

/// The metadata namespace this crate writes its own keys (and the span's semantic-convention
/// attributes) under.
pub(crate) const METADATA_NAMESPACE: &str = "lambda_trace";

/// `type` of a subsegment sent as its own document.
pub(crate) const SUBSEGMENT_TYPE: &str = "subsegment";

/// `origin` of a segment this crate emits for a function invocation.
pub(crate) const LAMBDA_ORIGIN: &str = "AWS::Lambda::Function";

/// One segment or subsegment document.
///
/// A top-level document needs `trace_id`; a standalone subsegment also needs `type:
/// "subsegment"` and `parent_id`. Nested subsegments (in [`Document::subsegments`]) carry
/// neither.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub(crate) struct Document<'a> {
    /// 1–200 characters from X-Ray's name set (see [`sanitize_name`](super::sanitize_name)).
    pub name: Cow<'a, str>,
    /// The segment / subsegment id (16 lowercase hex).
    pub id: SpanId,
    /// `1-{8 hex}-{24 hex}`; required on top-level documents.
    pub trace_id: Option<XrayTraceId>,
    /// The parent segment or subsegment.
    pub parent_id: Option<SpanId>,
    /// `"subsegment"` for a subsegment sent as its own document.
    pub kind: Option<&'static str>,
    /// Epoch seconds, microsecond precision.
    pub start_time: f64,
    /// Epoch seconds, microsecond precision; absent only while `in_progress`.
    pub end_time: Option<f64>,
    /// `true` for a segment that has not ended yet.
    pub in_progress: bool,
    /// The AWS resource type (`AWS::Lambda::Function`), segments only.
    pub origin: Option<&'static str>,
    /// `"remote"` or `"aws"` for outgoing calls.
    pub namespace: Option<&'static str>,
    /// Client error (4xx).
    pub error: bool,
    /// Throttled (429).
    pub throttle: bool,
    /// Server error (5xx, `Err`, panic).
    pub fault: bool,
    /// Recorded errors.
    pub cause: Cause<'a>,
    /// HTTP request / response.
    pub http: Option<Http<'a>>,
    /// AWS resource data.
    pub aws: Aws<'a>,
    /// `service.version` (segments only).
    pub service: Option<Service<'a>>,
    /// Indexed key/values.
    pub annotations: Annotations<'a>,
    /// `namespace → key → JSON`.
    pub metadata: Metadata<'a>,
    /// Nested subsegments.
    pub subsegments: Vec<Document<'a>>,
}

impl<'a> Document<'a> {
    /// A document with only the required fields set (and `end_time`).
    pub(crate) fn new(name: Cow<'a, str>, id: SpanId, start_time: f64, end_time: f64) -> Self {
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

/// An X-Ray trace id, written as `1-{8 hex}-{24 hex}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct XrayTraceId(pub TraceId);

impl fmt::Display for XrayTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0.xray_bytes();
        f.write_str(std::str::from_utf8(&bytes).unwrap_or_default())
    }
}

/// `cause.exceptions`: the span's recorded errors.
///
/// Exception ids are derived from the span id and the exception's position (16 hex, non-zero),
/// so serializing twice gives the same document and nothing is stored per exception.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cause<'a> {
    /// The span whose errors these are (seeds the exception ids).
    pub span_id: Option<SpanId>,
    /// The errors, outermost first.
    pub exceptions: Cow<'a, [ExceptionRecord]>,
}

impl Cause<'_> {
    /// `true` when there is no exception to write.
    pub(crate) fn is_empty(&self) -> bool {
        self.exceptions.is_empty()
    }
}

/// A stable, non-zero id for exception `index` of the span `seed` (written as 16 hex digits).
pub(crate) fn exception_id(seed: u64, index: usize) -> u64 {
    let mixed = (seed ^ 0x5851_f42d_4c95_7f2d)
        .wrapping_add((index as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .rotate_left(17)
        .wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed.max(1)
}

/// The `http` block.
#[derive(Debug, Clone, Default)]
pub(crate) struct Http<'a> {
    /// The request served or made.
    pub request: Option<HttpRequest<'a>>,
    /// Its response.
    pub response: Option<HttpResponse>,
}

/// `http.request`; strings are cut to [`MAX_HTTP_FIELD_CHARS`] when written.
#[derive(Debug, Clone, Default)]
pub(crate) struct HttpRequest<'a> {
    /// `GET`, `POST`, …
    pub method: Option<Limited<'a, MAX_HTTP_FIELD_CHARS>>,
    /// The URL.
    pub url: Option<Limited<'a, MAX_HTTP_FIELD_CHARS>>,
    /// `User-Agent`.
    pub user_agent: Option<Limited<'a, MAX_HTTP_FIELD_CHARS>>,
    /// The client's address.
    pub client_ip: Option<Limited<'a, MAX_HTTP_FIELD_CHARS>>,
    /// `true` when `client_ip` was read from `X-Forwarded-For`.
    pub x_forwarded_for: bool,
}

/// `http.response`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct HttpResponse {
    /// Status code.
    pub status: Option<u16>,
    /// `Content-Length`.
    pub content_length: Option<u64>,
}

/// The `aws` block: only keys the schema declares (`account_id` for segments; `operation`,
/// `account_id`, `region`, `request_id`, `queue_url`, `table_name` for subsegments) plus
/// `tracing.sdk` on segments and `retries` on subsegments (what X-Ray's SDKs write for AWS
/// calls; the schema's subsegment `aws` block allows extra keys).
#[derive(Debug, Clone, Default)]
pub(crate) struct Aws<'a> {
    /// The AWS account.
    pub account_id: Option<&'a str>,
    /// The AWS API operation (subsegments).
    pub operation: Option<&'a str>,
    /// The region called (subsegments).
    pub region: Option<&'a str>,
    /// The AWS request id (subsegments).
    pub request_id: Option<&'a str>,
    /// SQS queue URL (subsegments).
    pub queue_url: Option<&'a str>,
    /// DynamoDB table (subsegments).
    pub table_name: Option<&'a str>,
    /// How many times the AWS SDK retried the call (subsegments).
    pub retries: Option<i64>,
    /// `tracing.sdk`: who wrote the document (segments).
    pub tracing: Option<Tracing>,
}

impl Aws<'_> {
    /// `true` when no key is set.
    pub(crate) fn is_empty(&self) -> bool {
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
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tracing {
    /// The tracing library and its version.
    pub sdk: &'static str,
}

/// The top-level `service` block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Service<'a> {
    /// The function version.
    pub version: &'a str,
}

/// `annotations`: keys re-sanitized to `[A-Za-z0-9_]{1,500}` and string values cut to
/// [`MAX_ANNOTATION_VALUE_CHARS`] while writing (a no-op for data the span API recorded);
/// non-finite floats are written as strings so the value stays a valid annotation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Annotations<'a>(pub Cow<'a, [(Cow<'static, str>, AnnotationValue)]>);

impl Annotations<'_> {
    /// `true` when there is no annotation.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// `metadata`: the span's entries grouped by namespace, plus this crate's own keys under
/// [`METADATA_NAMESPACE`] (`lambda_trace`):
///
/// | key | when |
/// |---|---|
/// | `faas.*`, `cloud.*`, `http.*`, `aws.*`, … | the span's semantic-convention attributes |
/// | `links` | `[{"trace_id", "span_id"}]`, other traces this span is linked to: at most [`MAX_LINKS`] (X-Ray links a segment to at most 20 traces) |
/// | `dropped_links` | links not written: past the span's link limit, or past [`MAX_LINKS`] |
/// | `unfinished` | `true`: the span was still open at flush time (timeout, forgotten end) |
/// | `dropped_spans` | spans of the invocation not recorded (span limit), on the root |
/// | `dropped_events` | events of the span not recorded (per-span event limit) |
/// | `truncated` | `true`: values were shortened to fit the 64 kB document limit |
/// | `omitted` | what a last-resort truncation left out, as counts |
///
/// Entries of the same namespace are grouped in the order of their first appearance (a
/// quadratic scan, fine for the handful of entries a span holds; it avoids a map allocation).
#[derive(Debug, Clone, Default)]
pub(crate) struct Metadata<'a> {
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
    /// Writes `lambda_trace.dropped_links` when non-zero.
    pub dropped_links: usize,
    /// Writes `lambda_trace.dropped_events` when non-zero.
    pub dropped_events: usize,
    /// Writes `lambda_trace.truncated: true`.
    pub truncated: bool,
    /// Writes `lambda_trace.omitted`: what was left out to fit the size limit.
    pub omitted: Option<Omitted>,
}

/// Most links written per document: X-Ray links a trace segment to at most 20 traces
/// (<https://docs.aws.amazon.com/xray/latest/devguide/xray-tracelinking.html>). The rest are
/// counted in `lambda_trace.dropped_links`.
pub(crate) const MAX_LINKS: usize = 20;

/// Counts of what a last-resort truncation left out of a document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Omitted {
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
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty() && !self.has_own()
    }

    /// `true` when this crate has keys of its own to write under [`METADATA_NAMESPACE`].
    pub(crate) fn has_own(&self) -> bool {
        !self.attributes.is_empty()
            || !self.links.is_empty()
            || self.unfinished
            || self.dropped_spans > 0
            || self.dropped_links > 0
            || self.dropped_events > 0
            || self.truncated
            || self.omitted.is_some()
    }
}

/// A string written cut to at most `MAX` characters (on a char boundary, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limited<'a, const MAX: usize>(pub &'a str);

impl<'a, const MAX: usize> Limited<'a, MAX> {
    /// The string as written: at most `MAX` characters.
    pub(crate) fn as_str(&self) -> &'a str {
        cut(self.0, MAX)
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
