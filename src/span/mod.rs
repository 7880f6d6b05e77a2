//! Spans: the invocation span the layer opens, and the child spans handler code adds.
//!
//! [`current()`] gives the span of the running invocation (task-local); [`Span`] adds child spans,
//! annotations, metadata, errors and HTTP data, and injects the context into outgoing calls.
//! Finished spans are plain [`SpanRecord`]s, grouped per invocation in a [`SpanBatch`].
//!
//! Limits (X-Ray's): annotation keys `[A-Za-z0-9_]{1,500}` (other characters become `_`), string
//! values at most [`MAX_ANNOTATION_STRING`] chars, at most 50 annotations per trace; what does not
//! fit is dropped with one log line.

mod current;
mod guard;
mod handle;
mod limits;
mod record;
pub(crate) mod recorder;

pub use current::{current, scope, sync_scope};
pub use guard::SpanGuard;
pub use handle::Span;
pub(crate) use record::now_unix_nanos;
pub use record::{
    AnnotationValue, Attribute, AttributeValue, ExceptionRecord, HttpRequestInfo, HttpResponseInfo,
    MetadataEntry, Outcome, RemoteNamespace, Resource, RootPlacement, SpanBatch, SpanEvent,
    SpanKind, SpanRecord,
};

/// Longest annotation string value, in characters.
pub const MAX_ANNOTATION_STRING: usize = 1000;

/// Most events recorded on one span; later ones are counted in
/// [`SpanRecord::dropped_events`].
pub const MAX_SPAN_EVENTS: usize = 128;

/// Most exceptions recorded on one span (an error chain is cut there).
pub const MAX_EXCEPTIONS: usize = 16;

#[cfg(test)]
mod tests;
