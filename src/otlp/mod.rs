//! The OpenTelemetry translation of a [`SpanBatch`](crate::span::SpanBatch), beside X-Ray's
//! ([`crate::xray`]): what goes where is decided once, in `model.rs`, and written by two
//! encoders that cannot drift apart.
//!
//! | file | concern |
//! |---|---|
//! | `model.rs` | the mapping: span kind, status, flags, resource, span and exception attributes |
//! | `protobuf.rs` | the `ExportTraceServiceRequest` of `opentelemetry-proto` (feature `otlp`) |
//! | `json.rs` | the OTLP/JSON text of the same request, written without serde (the stdout exporter, and OTLP/HTTP with `http/json`) |
//!
//! The transports that send them live in [`crate::export`].

pub(crate) mod json;
pub(crate) mod model;
#[cfg(feature = "otlp")]
pub(crate) mod protobuf;
