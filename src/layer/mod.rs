//! [`TraceLayer`]: the tower layer that traces every invocation of a handler.
//!
//! It wraps a `Service<LambdaEvent<E>>` (what `lambda_runtime::run` takes). For each invocation
//! the [`TraceService`] chooses the parent (Lambda's Active-tracing header, else the event's trace
//! headers, else a new trace), opens the invocation span, makes it [`current()`](crate::current)
//! for the handler, records the outcome, and flushes every span of the invocation **before its
//! future resolves** — so the spans are out before Lambda freezes the process.
//!
//! ```
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//! use lambda_trace::TraceLayer;
//! use lambda_trace::export::NoopExporter;
//! use serde_json::Value;
//! use tower::{Layer, Service, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Error> {
//! let layer = TraceLayer::builder().service_name("orders").exporter(NoopExporter).build();
//! let mut service = layer.layer(service_fn(|event: LambdaEvent<Value>| async move {
//!     Ok::<_, Error>(event.payload)
//! }));
//! let event = LambdaEvent::new(serde_json::json!({"hello": "world"}), Default::default());
//! let response = service.ready().await?.call(event).await?;
//! assert_eq!(response["hello"], "world");
//! # Ok(())
//! # }
//! ```
//!
//! # Timeouts
//! Lambda stops a function at its deadline without warning, so a handler that runs too long never
//! reaches the flush at its end. While the handler runs, the layer's future also waits on a timer
//! set for the deadline minus the timeout margin (`LAMBDA_TRACE_TIMEOUT_MARGIN_MS`, default
//! 100 ms; [`TraceLayerBuilder::timeout_margin`]). When it fires first, every span still open —
//! the invocation span and its open children — is closed at that moment as timed out: `fault`,
//! a first exception of type `Timeout` (`Task timed out after N ms: the handler was still
//! running M ms before the invocation deadline`), `unfinished`, and on the invocation span the
//! annotation `TimedOut = true` (in OTLP: status `ERROR` with that message, attribute
//! `TimedOut`). The spans are exported at once, bounded by the time left before the flush
//! margin, and never deferred to the after-response mode.
//!
//! The handler is not cancelled: it keeps running, its output is returned unchanged if it
//! finishes, and what it records afterwards is ignored (no second export). A handler that
//! finishes inside the margin is still reported as timed out: the margin is the time the export
//! needs, so it cannot wait to see. The timer costs nothing for a handler that completes on its
//! first poll, and one tokio timer, inside the future (no allocation), for others; it is armed
//! only when the deadline is known and the trace is recorded, and not at all without a tokio
//! time driver.
//!
//! # Response capture
//! Off by default: responses may hold personal data. With
//! [`capture_response(true)`](TraceLayerBuilder::capture_response) or
//! `LAMBDA_TRACE_CAPTURE_RESPONSE=true`, the body of the handler's response is recorded as the
//! metadata `lambda_trace.response.body` of the invocation span: `{"text": "…"}`, cut to
//! [`MAX_CAPTURED_BODY`] bytes with `"truncated": true, "bytes": <full length>` when longer, or
//! `{"binary": true, "bytes": n}` for a binary (or base64-encoded) body, whose bytes are never
//! recorded. Response headers are never recorded. The layer reads the body of:
//!
//! | response type | body |
//! |---|---|
//! | `ApiGatewayProxyResponse`, `ApiGatewayV2httpResponse`, `AlbTargetGroupResponse`, `LambdaFunctionUrlResponse` | `body` |
//! | `serde_json::Value` | `body` when it has a `statusCode` (proxy shape), else the whole value as JSON |
//! | `String`, `&'static str` | the string |
//! | `http::Response<B>`, `B` = `lambda_http::Body`, `String`, `&'static str`, `Vec<u8>` | the body (the `lambda_http` handler's response) |
//!
//! Any other type records nothing; record what you want yourself with
//! [`Span::metadata`](crate::Span::metadata).
//!
//! # Cold start
//! `ColdStart` is `true` for the first invocation a layer serves and `false` afterwards. Build one
//! layer per process (as [`run`](crate::run) does) and that is the process's first invocation.

mod after_response;
mod builder;
mod flush;
mod future;
mod intern;
mod invocation;
mod outcome;
mod panic_stack;
mod parent;
mod rejected;
mod response;
mod sampler;
mod service;
mod timeout;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tower::Layer;

use crate::config::Config;
use crate::config::FlushMode;
use crate::export::Exporter;
pub(crate) use crate::log_safe::log_safe_message;
pub use crate::log_safe::{MAX_LOGGED, MAX_LOGGED_MESSAGE};
use crate::span::recorder::Settings;
pub use after_response::{AfterResponseFuture, AfterResponseLayer, AfterResponseService};
pub use builder::TraceLayerBuilder;
pub use future::TraceFuture;
#[cfg(feature = "lambda-http")]
pub(crate) use invocation::start as start_invocation;
pub use response::MAX_CAPTURED_BODY;
pub use service::TraceService;

/// Traces every invocation of the wrapped handler; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct TraceLayer {
    pub(crate) shared: Arc<Shared>,
}

/// State shared by every clone of a layer and its services: the configuration it was built
/// with, what the spans need, the exporter, and what the layer learns while it runs.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) settings: Arc<Settings>,
    pub(crate) exporter: Arc<dyn Exporter>,
    pub(crate) cold_start: AtomicBool,
    /// Set when the runtime had no time driver for the timeout watch (logged once).
    pub(crate) no_timer: AtomicBool,
    pub(crate) failures: flush::FailureLog,
    /// Set once an [`AfterResponseLayer`] exists; before that, exports are never deferred.
    pub(crate) after_response_installed: AtomicBool,
    pub(crate) deferred: after_response::Deferred,
    /// Invocations started by the handler's layer (the runtime layer compares it before and
    /// after an invocation to notice an event the handler never got: `rejected.rs`).
    pub(crate) handler_calls: AtomicU64,
    /// Carriers of the user's event types ([`TraceLayerBuilder::carrier`]).
    pub(crate) carriers: crate::carrier::CustomCarriers,
}

impl Shared {
    pub(crate) fn new(config: Config, settings: Settings, exporter: Arc<dyn Exporter>) -> Self {
        Self {
            config,
            settings: Arc::new(settings),
            exporter,
            cold_start: AtomicBool::new(true),
            no_timer: AtomicBool::new(false),
            failures: flush::FailureLog::default(),
            after_response_installed: AtomicBool::new(false),
            deferred: Default::default(),
            handler_calls: AtomicU64::new(0),
            carriers: crate::carrier::CustomCarriers::default(),
        }
    }
}

impl TraceLayer {
    /// A layer configured from the environment ([`Config::from_env`](crate::Config::from_env)).
    pub fn from_env() -> Self {
        Self::builder().build()
    }

    /// A builder, starting from the environment's configuration.
    pub fn builder() -> TraceLayerBuilder {
        TraceLayerBuilder::new()
    }

    /// The configured flush mode.
    pub fn flush_mode(&self) -> FlushMode {
        self.shared.config.flush_mode
    }

    /// The runtime layer (`lambda_runtime::Runtime::layer`) that awaits network exports after
    /// the response is posted, for [`FlushMode::AfterResponse`]. Until it is created, exports are
    /// awaited before the response whatever the mode, so no export is ever left behind.
    pub fn after_response_layer(&self) -> AfterResponseLayer {
        AfterResponseLayer::new(Arc::clone(&self.shared))
    }

    /// `true` when pending exports are handed to an [`AfterResponseLayer`].
    pub(crate) fn defers(shared: &Shared) -> bool {
        shared.config.flush_mode == FlushMode::AfterResponse
            && shared.after_response_installed.load(Ordering::Acquire)
    }
}

impl<S> Layer<S> for TraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService::new(inner, Arc::clone(&self.shared))
    }
}

#[cfg(test)]
mod fault_tests;
