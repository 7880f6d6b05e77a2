//! Spans: the invocation span the layer opens, and the child spans handler code adds.
//!
//! [`current()`] gives the span of the running invocation (task-local); [`Span`] adds child spans,
//! annotations, metadata, errors and HTTP data, and injects the context into outgoing calls.
//! Finished spans are plain [`SpanRecord`]s, grouped per invocation in a [`SpanBatch`].
//!
//! # Limits
//!
//! Whatever handler code records, a span holds a bounded amount (X-Ray's limits, where it has
//! them; OpenTelemetry's default span limits for counts it leaves open):
//!
//! | what | cap | past it |
//! |---|---|---|
//! | annotations | [`MAX_ANNOTATIONS`] per trace; keys `[A-Za-z0-9_]{1,500}`, string values [`MAX_ANNOTATION_STRING`] chars | dropped (one log line), keys sanitized, values cut |
//! | metadata | [`MAX_METADATA_ENTRIES`] entries, [`MAX_METADATA_BYTES`] bytes (serialized) per span | dropped (one log line per span) |
//! | metadata nesting | [`MAX_METADATA_DEPTH`] levels per value | the value kept as its JSON text |
//! | exceptions | [`MAX_EXCEPTIONS`] per span, messages and type names [`MAX_EXCEPTION_MESSAGE_CHARS`] chars | chain cut, text cut |
//! | attributes, links | [`MAX_SPAN_ATTRIBUTES`], [`MAX_SPAN_LINKS`] per span (lower with `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`: [`SpanLimits`]) | dropped |
//! | attribute keys and string values, HTTP request text | [`MAX_ATTRIBUTE_CHARS`] chars (values: lower with `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`) | cut |
//! | events | [`MAX_SPAN_EVENTS`] per span (lower with `OTEL_SPAN_EVENT_COUNT_LIMIT`) | counted in [`SpanRecord::dropped_events`] |
//! | `tracing` field values (span fields, event messages and fields) | [`MAX_FIELD_CHARS`] chars | cut while formatting |
//! | span name | [`MAX_SPAN_NAME_CHARS`] chars | cut |
//! | spans | `LAMBDA_TRACE_MAX_SPANS` per invocation ([`Config::max_spans`](crate::Config::max_spans)) | counted |
//!
//! Text that is cut keeps no more memory than it shows. Setting the same annotation or metadata
//! key again replaces its value. The X-Ray encoder then fits every document into 64 kB
//! ([`xray::MAX_DOCUMENT_BYTES`](crate::xray::MAX_DOCUMENT_BYTES)).

mod current;
mod guard;
mod handle;
mod limits;
pub(crate) mod messages;
mod record;
pub(crate) mod recorder;
mod state;

pub(crate) use current::task_span;
pub use current::{current, scope, sync_scope};
#[cfg(feature = "tracing")]
pub(crate) use current::{innermost, register_lookup};
pub use guard::SpanGuard;
pub use handle::Span;
pub use limits::SpanLimits;
pub(crate) use limits::cap_chars;
pub(crate) use record::now_unix_nanos;
pub use record::{
    AnnotationValue, Attribute, AttributeValue, ExceptionRecord, HttpRequestInfo, HttpResponseInfo,
    MetadataEntry, Outcome, RemoteNamespace, Resource, RootPlacement, SpanBatch, SpanEvent,
    SpanKind, SpanRecord, StackFrame,
};

/// Longest annotation string value, in characters.
pub const MAX_ANNOTATION_STRING: usize = 1000;

/// Most annotations per trace (X-Ray's limit); later ones are dropped.
pub const MAX_ANNOTATIONS: usize = 50;

/// Most metadata entries (namespace and key pairs) on one span; later ones are dropped.
pub const MAX_METADATA_ENTRIES: usize = 128;

/// Most metadata bytes on one span: namespaces, keys and serialized values added up (the size of
/// an X-Ray document). An entry that would take a span past it is dropped.
pub const MAX_METADATA_BYTES: usize = 64_000;

/// Most levels of arrays and objects in one metadata value; a deeper value is kept as its JSON
/// text (a string), so documents stay within the nesting that JSON parsers accept.
pub const MAX_METADATA_DEPTH: usize = 32;

/// Longest exception message (and type name) kept, in characters.
pub const MAX_EXCEPTION_MESSAGE_CHARS: usize = 4096;

/// Most attributes on one span (OpenTelemetry's default); later new keys are dropped.
pub const MAX_SPAN_ATTRIBUTES: usize = 128;

/// Most links on one span (OpenTelemetry's default); later ones are dropped.
pub const MAX_SPAN_LINKS: usize = 128;

/// Longest attribute key or string value, and HTTP request text
/// ([`Span::set_http_request`]), kept, in characters.
pub const MAX_ATTRIBUTE_CHARS: usize = 4096;

/// Longest span name kept, in characters (X-Ray shows at most 200).
pub const MAX_SPAN_NAME_CHARS: usize = 1024;

/// Most events recorded on one span; later ones are counted in
/// [`SpanRecord::dropped_events`].
pub const MAX_SPAN_EVENTS: usize = 128;

/// Longest text value of a `tracing` field the bridge keeps (a span field, an event's message or
/// field), in characters: longer ones are cut while they are formatted, so a huge `Debug` value
/// costs no more than this to record.
pub const MAX_FIELD_CHARS: usize = 4096;

/// Most exceptions recorded on one span (an error chain is cut there).
pub const MAX_EXCEPTIONS: usize = 16;

#[cfg(test)]
mod tests;
