//! X-Ray segment documents: the wire model, the span → document translation, and the encoding
//! that keeps every document under X-Ray's 64 kB limit (written with the crate's JSON writer,
//! `src/json.rs`).
//!
//! | file | concern |
//! |---|---|
//! | `document.rs` | `Document` and its parts: the wire model, borrowing from the spans |
//! | `write.rs` | `Document` → JSON (`Document::write_json`) |
//! | `translate.rs` | [`SpanBatch`](crate::span::SpanBatch) → documents: root placement, nesting, where each piece of span data goes |
//! | `encode.rs` | bytes for the wire: one document when it fits, split and truncate when not |
//! | `name.rs` | segment names: X-Ray's character set, 200 characters |
//!
//! Exporters call [`encode_with`] with a reused buffer (the daemon exporter passes
//! [`DAEMON_HEADER`] as the prefix and sends each document as one datagram); [`encode_batch`]
//! collects the documents for tests and other callers.
//!
//! ```
//! use std::sync::Arc;
//! use lambda_trace::span::{Resource, RootPlacement, SpanBatch, SpanKind, SpanRecord};
//! use lambda_trace::{SpanId, TraceId};
//!
//! let root = SpanRecord::new(SpanId::generate(), None, "orders", SpanKind::Server, 1);
//! let batch = SpanBatch::new(
//!     Arc::new(Resource::default()),
//!     TraceId::generate(),
//!     RootPlacement::Segment,
//!     vec![root],
//! );
//! let mut documents = Vec::new();
//! lambda_trace::xray::encode_batch(&batch, &mut documents);
//! assert_eq!(documents.len(), 1);
//! let doc: serde_json::Value = serde_json::from_slice(&documents[0]).unwrap();
//! assert_eq!(doc["origin"], "AWS::Lambda::Function");
//! ```
//!
//! Metadata this crate writes itself lives under the `lambda_trace` namespace: the span's
//! semantic-convention attributes (`faas.*`, `cloud.*`, `http.*`, …), `links`, `unfinished`,
//! `dropped_spans`, `truncated` and `omitted`.

mod document;
mod encode;
mod name;
mod translate;
mod write;

#[allow(unused_imports)]
pub(crate) use document::{
    Annotations, Aws, Cause, Document, Http, HttpRequest, HttpResponse, LAMBDA_ORIGIN, Limited,
    MAX_ANNOTATION_KEY_CHARS, MAX_ANNOTATION_VALUE_CHARS, MAX_HTTP_FIELD_CHARS, METADATA_NAMESPACE,
    Metadata, Omitted, SUBSEGMENT_TYPE, Service, Tracing, XrayTraceId,
};
pub use encode::{DAEMON_HEADER, MAX_DOCUMENT_BYTES, encode_batch, encode_with};
#[allow(unused_imports)]
pub(crate) use name::{MAX_NAME_CHARS, UNNAMED, sanitize_name};
#[allow(unused_imports)]
pub(crate) use translate::{
    EVENTS_KEY, EVENTS_NAMESPACE, Family, MAX_NESTING_DEPTH, SDK, root_document, seconds,
    span_document, standalone_subsegment,
};
