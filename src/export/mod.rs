//! Exporters: where an invocation's finished spans go.
//!
//! | exporter | backend | feature |
//! |---|---|---|
//! | [`DaemonExporter`] | X-Ray daemon over UDP (what Lambda runs under Active tracing) | default |
//! | `OtlpExporter` | any OpenTelemetry backend over OTLP/HTTP(S), protobuf or JSON (Honeycomb, Grafana Cloud, a collector); X-Ray's OTLP endpoint, SigV4-signed | `otlp`, `xray-otlp` |
//! | [`StdoutExporter`] | one OTLP/JSON line per invocation on standard output (CloudWatch Logs) | default |
//! | `XrayApiExporter` | the X-Ray `PutTraceSegments` API over HTTPS | `xray-api` |
//! | [`NoopExporter`] | nowhere (tracing off, propagation only) | default |
//! | `InMemoryExporter` | a `Vec`, for tests | `testing` |
//!
//! The OTLP exporters share one mapping from span records to OpenTelemetry spans (kind, status,
//! attributes, events, links, resource); the `otlp` module's docs list it.
//!
//! The layer calls [`Exporter::export`] once per invocation, after the handler's future finished
//! (or, for a handler still running near its deadline, when the layer closes its spans as timed
//! out) and before the wrapped future resolves. An exporter that can send at once (UDP) returns
//! [`Export::Done`]; one that needs I/O returns [`Export::Pending`], which the layer awaits up to
//! the flush deadline. There is no background thread and no timer: Lambda freezes the process
//! between invocations, so anything not sent before the response is lost.

#[cfg(feature = "xray-api")]
mod api;
mod daemon;
mod factory;
#[cfg(any(feature = "testing", test))]
mod memory;
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub mod otlp;
mod stdout;

use std::fmt;
use std::future::Future;
use std::pin::Pin;

pub use crate::error::ExportError;
use crate::span::SpanBatch;
#[cfg(feature = "xray-api")]
#[cfg_attr(docsrs, doc(cfg(feature = "xray-api")))]
pub use api::{MAX_DOCUMENTS_PER_CALL, XrayApiExporter};
pub use daemon::DaemonExporter;
pub(crate) use factory::exporter_for;
#[cfg(any(feature = "testing", test))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub use memory::InMemoryExporter;
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use otlp::OtlpExporter;
pub use stdout::StdoutExporter;

/// A boxed export in flight.
pub type ExportFuture = Pin<Box<dyn Future<Output = Result<(), ExportError>> + Send + 'static>>;

/// The result of starting an export.
#[must_use = "a pending export does nothing unless awaited"]
pub enum Export {
    /// Finished already (the UDP send happened inside `export`).
    Done(Result<(), ExportError>),
    /// Needs to be awaited; the layer bounds it with the flush deadline.
    Pending(ExportFuture),
}

impl fmt::Debug for Export {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Export::Done(r) => f.debug_tuple("Done").field(r).finish(),
            Export::Pending(_) => f.write_str("Pending(..)"),
        }
    }
}

/// A backend for finished spans, modelled on OpenTelemetry's `SpanExporter`.
///
/// Contract: `export` is called once per invocation with every span of that invocation; it must
/// not block (a UDP `send_to` is fine; a network round trip goes in [`Export::Pending`]); it must
/// never panic; failures are returned, and the layer logs them in one line.
pub trait Exporter: Send + Sync + fmt::Debug {
    /// Starts exporting one invocation's spans.
    fn export(&self, batch: SpanBatch) -> Export;
}

impl<E: Exporter + ?Sized> Exporter for std::sync::Arc<E> {
    fn export(&self, batch: SpanBatch) -> Export {
        (**self).export(batch)
    }
}

impl<E: Exporter + ?Sized> Exporter for Box<E> {
    fn export(&self, batch: SpanBatch) -> Export {
        (**self).export(batch)
    }
}

/// Drops every span (`LAMBDA_TRACE_EXPORTER=none`): context is still extracted and injected.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopExporter;

impl Exporter for NoopExporter {
    fn export(&self, _batch: SpanBatch) -> Export {
        Export::Done(Ok(()))
    }
}
