//! What a finished span holds: the data exporters translate ([`SpanRecord`], [`SpanBatch`]).
//!
//! These are plain data, independent of any backend: `xray` turns them into segment documents,
//! OTLP into protobuf spans.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::context::{SpanId, TraceId};

/// An annotation value: X-Ray indexes strings, numbers and booleans.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AnnotationValue {
    /// A string (at most [`MAX_ANNOTATION_STRING`](crate::span::MAX_ANNOTATION_STRING) chars).
    String(String),
    /// An integer.
    Int(i64),
    /// A floating-point number (non-finite values are recorded as strings).
    Float(f64),
    /// A boolean.
    Bool(bool),
}

macro_rules! annotation_from {
    ($($t:ty => $v:ident $(as $cast:ty)?),* $(,)?) => {$(
        impl From<$t> for AnnotationValue {
            fn from(v: $t) -> Self {
                AnnotationValue::$v(v $(as $cast)?.into())
            }
        }
    )*};
}
annotation_from!(
    &str => String, String => String, &String => String, Cow<'_, str> => String,
    bool => Bool, i8 => Int, i16 => Int, i32 => Int, i64 => Int, u8 => Int, u16 => Int, u32 => Int,
    f32 => Float, f64 => Float,
);

/// `u64` and `usize` become integers when they fit in `i64`, floats otherwise.
impl From<u64> for AnnotationValue {
    fn from(v: u64) -> Self {
        i64::try_from(v).map_or(AnnotationValue::Float(v as f64), AnnotationValue::Int)
    }
}

impl From<usize> for AnnotationValue {
    fn from(v: usize) -> Self {
        AnnotationValue::from(v as u64)
    }
}

/// What a span measures, in OpenTelemetry's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SpanKind {
    /// The invocation span: the function serving a request.
    Server,
    /// Work inside the function.
    #[default]
    Internal,
    /// An outgoing call (HTTP, AWS SDK, another function).
    Client,
    /// The processing of a message received from a queue or a stream (OpenTelemetry's
    /// messaging `process` span: [`messaging::each_record`](crate::messaging::each_record)).
    /// OTLP kind `CONSUMER`; in X-Ray a subsegment, or the segment of the message's own trace.
    Consumer,
    /// Sending a message to a queue, a topic or a bus (OTLP kind `PRODUCER`; in X-Ray a
    /// subsegment).
    Producer,
}

/// Outcome flags, as X-Ray records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// A client error (HTTP 4xx).
    pub error: bool,
    /// Throttled (HTTP 429); `error` is set too.
    pub throttle: bool,
    /// A server error (HTTP 5xx, the handler's `Err`, a panic).
    pub fault: bool,
}

impl Outcome {
    /// The flags for an HTTP status code.
    pub const fn from_http_status(status: u16) -> Self {
        Self {
            error: status >= 400 && status < 500,
            throttle: status == 429,
            fault: status >= 500,
        }
    }

    /// Sets every flag that `other` has.
    pub fn merge(&mut self, other: Outcome) {
        self.error |= other.error;
        self.throttle |= other.throttle;
        self.fault |= other.fault;
    }
}

/// One recorded error (an entry of X-Ray's `cause.exceptions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExceptionRecord {
    /// The error's message (its `Display`).
    pub message: String,
    /// The error's type name, when known.
    pub type_name: Option<String>,
    /// `true` when the error came from a remote service.
    pub remote: bool,
    /// Where it happened, innermost frame first (a panic's stack); empty when unknown.
    pub stack: Vec<StackFrame>,
}

/// One frame of an exception's stack (an entry of X-Ray's `cause.exceptions[].stack`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFrame {
    /// The function (`orders::handler::{{closure}}`), or `<unknown>` in a binary without
    /// symbols.
    pub label: String,
    /// The source file, when the binary has debug information.
    pub path: Option<String>,
    /// The line in `path`.
    pub line: Option<u32>,
}

impl ExceptionRecord {
    /// `error` and its sources (`Error::source`), outermost first, at most [`MAX_EXCEPTIONS`](super::MAX_EXCEPTIONS)
    /// of them, each marked `remote` as given.
    pub(crate) fn chain(error: &(dyn std::error::Error + 'static), remote: bool) -> Vec<Self> {
        let mut chain = Vec::new();
        let mut next = Some(error);
        while let Some(e) = next {
            if chain.len() == super::MAX_EXCEPTIONS {
                break;
            }
            chain.push(ExceptionRecord {
                message: e.to_string(),
                type_name: None,
                remote,
                stack: Vec::new(),
            });
            next = e.source();
        }
        chain
    }
}

/// HTTP data of the request a span served or made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpRequestInfo {
    /// `GET`, `POST`, …
    pub method: Option<String>,
    /// Full URL or path (query strings are redacted by the carrier).
    pub url: Option<String>,
    /// The route template (`/orders/{id}`) when the trigger knows it.
    pub route: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// The client's address as the front door saw it.
    pub client_ip: Option<String>,
    /// `true` when `client_ip` comes from `X-Forwarded-For`.
    pub x_forwarded_for: bool,
}

impl HttpRequestInfo {
    /// A request with `method` and `url` (give a path or a URL without its query string).
    ///
    /// ```
    /// use lambda_trace::span::HttpRequestInfo;
    ///
    /// let request = HttpRequestInfo::new("POST", "https://api.example.com/orders").with_user_agent("my-client/1");
    /// assert_eq!(request.method.as_deref(), Some("POST"));
    /// ```
    pub fn new(method: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            method: Some(method.into()),
            url: Some(url.into()),
            ..Self::default()
        }
    }

    /// Sets the route template.
    pub fn with_route(mut self, route: impl Into<String>) -> Self {
        self.route = Some(route.into());
        self
    }

    /// Sets the user agent.
    pub fn with_user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Sets the client address; `forwarded` says it comes from `X-Forwarded-For`.
    pub fn with_client_ip(mut self, ip: impl Into<String>, forwarded: bool) -> Self {
        self.client_ip = Some(ip.into());
        self.x_forwarded_for = forwarded;
        self
    }
}

/// HTTP data of the response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpResponseInfo {
    /// Status code.
    pub status: Option<u16>,
    /// `Content-Length`, when known.
    pub content_length: Option<u64>,
}

/// A metadata entry: any JSON under a namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataEntry {
    /// Namespace (`default`, the service name, …; never starting with `AWS.`).
    pub namespace: String,
    /// Key inside the namespace.
    pub key: String,
    /// The value.
    pub value: serde_json::Value,
}

/// Something that happened at one instant inside a span: a log line of the `tracing` crate
/// (`info!`, `warn!`, …) recorded by the `tracing` bridge (feature `tracing`).
///
/// X-Ray has no events of its own: the translation writes them as the metadata array
/// `tracing.events`. A span keeps at most [`MAX_SPAN_EVENTS`](crate::span::MAX_SPAN_EVENTS)
/// events; later ones are counted in [`SpanRecord::dropped_events`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpanEvent {
    /// What happened: the event's message (its `message` field), or the event's name when it
    /// has no message.
    pub name: String,
    /// When, nanoseconds since the Unix epoch.
    pub unix_nanos: u64,
    /// Severity, as `tracing` spells it: `TRACE`, `DEBUG`, `INFO`, `WARN` or `ERROR`.
    pub level: String,
    /// Where it came from: the event's target (by default the emitting module's path).
    pub target: String,
    /// The event's other fields, in the order they were recorded.
    pub fields: Vec<(String, serde_json::Value)>,
}

impl SpanEvent {
    /// An event named `name` that happened now, with no fields.
    pub fn new(
        name: impl Into<String>,
        level: impl Into<String>,
        target: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            unix_nanos: now_unix_nanos(),
            level: level.into(),
            target: target.into(),
            fields: Vec::new(),
        }
    }
}

/// Where an X-Ray subsegment points: a remote HTTP service or an AWS service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteNamespace {
    /// `"remote"`: an HTTP call.
    Remote,
    /// `"aws"`: an AWS SDK call.
    Aws,
}

/// A key/value attribute in OpenTelemetry's semantic conventions (`faas.trigger`, …).
pub type Attribute = (Cow<'static, str>, AttributeValue);

/// An attribute's value.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum AttributeValue {
    /// A string.
    String(Cow<'static, str>),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

/// A finished span.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SpanRecord {
    /// The span's id.
    pub span_id: SpanId,
    /// Its parent inside this batch, or for the root span the caller's span (or Lambda's segment).
    pub parent_id: Option<SpanId>,
    /// The span's name (borrowed when it is a `&'static str`, as most names are).
    pub name: Cow<'static, str>,
    /// What it measures.
    pub kind: SpanKind,
    /// Start, nanoseconds since the Unix epoch.
    pub start_unix_nanos: u64,
    /// End, nanoseconds since the Unix epoch.
    pub end_unix_nanos: u64,
    /// `true` when the span was still open at flush time and the layer closed it (deadline,
    /// forgotten `end()`, a task that outlived the invocation).
    pub unfinished: bool,
    /// Error / throttle / fault flags.
    pub outcome: Outcome,
    /// Recorded errors, outermost first.
    pub exceptions: Vec<ExceptionRecord>,
    /// Indexed annotations; keys already sanitized (borrowed when they were `&'static str`s).
    pub annotations: Vec<(Cow<'static, str>, AnnotationValue)>,
    /// Metadata entries.
    pub metadata: Vec<MetadataEntry>,
    /// HTTP request data.
    pub http_request: Option<HttpRequestInfo>,
    /// HTTP response data.
    pub http_response: Option<HttpResponseInfo>,
    /// `remote` / `aws` for outgoing calls.
    pub namespace: Option<RemoteNamespace>,
    /// Semantic-convention attributes (`faas.*`, `cloud.*`, `http.*`, `aws.*`).
    pub attributes: Vec<Attribute>,
    /// Other traces this span is linked to (a caller's context that Lambda's trace replaced, the
    /// messages of a batch).
    pub links: Vec<(TraceId, Option<SpanId>)>,
    /// Links not kept because the span already held its link limit
    /// ([`SpanLimits::link_count`](crate::span::SpanLimits::link_count)).
    pub dropped_links: usize,
    /// The trace this span belongs to when it is not the batch's: a span opened under a
    /// message's own context ([`messaging::each_record`](crate::messaging::each_record)), and
    /// the spans opened inside it. `None`: the batch's trace ([`SpanBatch::trace_id`]).
    pub trace_id: Option<TraceId>,
    /// `true` when `parent_id` is a span of another process (a message's producer), not a span
    /// of this batch. Always the case for the invocation span's parent.
    pub remote_parent: bool,
    /// Events (log lines) that happened inside the span, oldest first.
    pub events: Vec<SpanEvent>,
    /// Events not recorded because the span already held
    /// [`MAX_SPAN_EVENTS`](crate::span::MAX_SPAN_EVENTS).
    pub dropped_events: usize,
}

impl SpanRecord {
    /// The value of annotation `key`, if the span has it.
    pub fn annotation(&self, key: &str) -> Option<&AnnotationValue> {
        self.annotations
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// A new record, started at `start_unix_nanos`, not yet ended.
    pub fn new(
        span_id: SpanId,
        parent_id: Option<SpanId>,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        start_unix_nanos: u64,
    ) -> Self {
        Self {
            span_id,
            parent_id,
            name: name.into(),
            kind,
            start_unix_nanos,
            end_unix_nanos: start_unix_nanos,
            unfinished: false,
            outcome: Outcome::default(),
            exceptions: Vec::new(),
            annotations: Vec::new(),
            metadata: Vec::new(),
            http_request: None,
            http_response: None,
            namespace: None,
            attributes: Vec::new(),
            links: Vec::new(),
            dropped_links: 0,
            trace_id: None,
            remote_parent: false,
            events: Vec::new(),
            dropped_events: 0,
        }
    }

    /// The trace this span belongs to: its own ([`SpanRecord::trace_id`]) or the batch's.
    pub fn trace_in(&self, batch: &SpanBatch) -> TraceId {
        self.trace_id.unwrap_or(batch.trace_id)
    }

    /// The attribute `key`, if set.
    pub fn attribute(&self, key: &str) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// What every span of a process shares: who is emitting (OpenTelemetry's *resource*).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Resource {
    /// `service.name` and the `Service` annotation.
    pub service_name: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub function_version: String,
    /// `AWS_REGION`.
    pub region: Option<String>,
    /// Memory size in MB.
    pub memory_mb: Option<u32>,
    /// CloudWatch log group.
    pub log_group: Option<String>,
    /// CloudWatch log stream.
    pub log_stream: Option<String>,
    /// More resource attributes, from `OTEL_RESOURCE_ATTRIBUTES` (percent-decoded, in order,
    /// `service.name` taken out into [`service_name`](Self::service_name)). Sent as OTLP
    /// resource attributes after the ones this crate sets, which win on a repeated key.
    pub attributes: Vec<(String, String)>,
}

impl Resource {
    /// A resource for `service_name`, emitted by function `function_name` at `function_version`;
    /// the optional fields are unset.
    pub fn new(
        service_name: impl Into<String>,
        function_name: impl Into<String>,
        function_version: impl Into<String>,
    ) -> Self {
        Self {
            service_name: service_name.into(),
            function_name: function_name.into(),
            function_version: function_version.into(),
            ..Self::default()
        }
    }
}

/// How the invocation's root span hangs in the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootPlacement {
    /// Lambda opened the function segment (Active tracing): the root span is a subsegment whose
    /// parent is Lambda's segment (`SpanRecord::parent_id`).
    LambdaSubsegment,
    /// The root span is a full segment; its parent (if any) is the caller's span.
    Segment,
}

/// Every finished span of one invocation, handed to an exporter at once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpanBatch {
    /// Who emitted them.
    pub resource: Arc<Resource>,
    /// The trace they belong to.
    pub trace_id: TraceId,
    /// How the root hangs in the trace.
    pub placement: RootPlacement,
    /// The spans; `spans[0]` is the invocation span, parents come before children.
    pub spans: Vec<SpanRecord>,
    /// Spans not recorded because the invocation hit its span limit.
    pub dropped_spans: usize,
    /// When the layer stops waiting for this export (its flush deadline), if known. A network
    /// exporter may use it to decide whether a retry still fits; the layer enforces it anyway.
    pub deadline: Option<std::time::Instant>,
    /// The export runs after the response was posted, on the time Lambda bills before the next
    /// invocation (`FlushMode::AfterResponse`). A network exporter may then end the export once
    /// its request is written out and read the backend's answer at its next export.
    pub after_response: bool,
}

impl SpanBatch {
    /// A batch of `spans` (`spans[0]` the invocation span, parents before children) with no
    /// dropped spans.
    pub fn new(
        resource: Arc<Resource>,
        trace_id: TraceId,
        placement: RootPlacement,
        spans: Vec<SpanRecord>,
    ) -> Self {
        Self {
            resource,
            trace_id,
            placement,
            spans,
            dropped_spans: 0,
            deadline: None,
            after_response: false,
        }
    }

    /// The invocation span.
    pub fn root(&self) -> Option<&SpanRecord> {
        self.spans.first()
    }
}

/// Nanoseconds since the Unix epoch, now.
pub(crate) fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_from_status() {
        assert_eq!(Outcome::from_http_status(200), Outcome::default());
        assert_eq!(
            Outcome::from_http_status(404),
            Outcome {
                error: true,
                throttle: false,
                fault: false
            }
        );
        assert_eq!(
            Outcome::from_http_status(429),
            Outcome {
                error: true,
                throttle: true,
                fault: false
            }
        );
        assert_eq!(
            Outcome::from_http_status(503),
            Outcome {
                error: false,
                throttle: false,
                fault: true
            }
        );
    }

    #[test]
    fn big_unsigned_annotations_become_floats() {
        assert_eq!(AnnotationValue::from(7u64), AnnotationValue::Int(7));
        assert_eq!(
            AnnotationValue::from(u64::MAX),
            AnnotationValue::Float(u64::MAX as f64)
        );
    }
}
