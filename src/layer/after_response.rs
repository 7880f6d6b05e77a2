//! The *after-response* flush mode: exports that need the network are awaited after the response
//! was posted to the Runtime API and before the runtime asks for the next invocation.
//!
//! [`TraceLayer`](super::TraceLayer) wraps the handler, so by default its future flushes before
//! the response leaves (the response waits for the export, bounded by the flush deadline). For a
//! slow network exporter (X-Ray API, OTLP to a far collector) that delay is on the caller's path.
//! [`AfterResponseLayer`] sits around the whole runtime service instead (`Runtime::layer`), where
//! the response has already been posted when its inner future completes: the caller gets the
//! response at once, and the export still finishes before the next `/next` poll — so Lambda does
//! not freeze the process with spans in flight.
//!
//! The whole export moves after the response: taking the invocation's spans out of its recorder,
//! encoding the documents and sending them, so even the UDP daemon export (which never waits)
//! leaves the caller's latency. When the handler returns, the invocation is only *closed*: its
//! spans keep what they hold at that moment (a span a detached task changes later records
//! nothing more, and one still open is marked unfinished at the handler's end, as in the default
//! mode).
//!
//! The trade-off: the function's *billed duration* still includes the export (Lambda bills
//! until `/next`). The OTLP exporter keeps that short: after the response it ends its export
//! once the request is written out, and reads the backend's answer at the next export (see
//! `export::otlp`). An invocation that runs into its deadline is not affected: the timeout watch
//! exports its spans at once, before the deadline, whatever the mode.
//!
//! ```no_run
//! use lambda_runtime::{service_fn, Error, LambdaEvent, Runtime};
//! use lambda_trace::TraceLayer;
//! use lambda_trace::config::FlushMode;
//! use serde_json::Value;
//! use tower::Layer;
//!
//! # async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> { Ok(event.payload) }
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let tracing = TraceLayer::builder().flush_mode(FlushMode::AfterResponse).build();
//!     let flush = tracing.after_response_layer();
//!     Runtime::new(tracing.layer(service_fn(handler))).layer(flush).run().await
//! }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use lambda_runtime::{Error, LambdaInvocation};
use pin_project_lite::pin_project;
use serde::Deserialize;
use tokio::time::Sleep;
use tower::{Layer, Service};

use super::rejected::{self, EventCheck, check_for};
use super::{FlushMode, Shared, flush};
use crate::error::ExportError;
use crate::export::{Export, ExportFuture};
use crate::span::recorder::Recorder;
use crate::span::{RootPlacement, SpanBatch};

/// An invocation whose handler finished and whose recorder is closed: its batch is taken
/// ([`Recorder::finish`]) after the response, with the end time of the handler.
pub(crate) struct Closed {
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) placement: RootPlacement,
    pub(crate) end_unix_nanos: u64,
}

impl Closed {
    fn into_batch(self) -> SpanBatch {
        self.recorder.finish(self.placement, self.end_unix_nanos)
    }
}

/// Invocations handed over by the handler layer, waiting for the end of the invocation.
#[derive(Default)]
pub(crate) struct Deferred(Mutex<Vec<Closed>>);

impl Deferred {
    pub(crate) fn push(&self, closed: Closed) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(closed);
    }

    fn take(&self) -> Vec<Closed> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl fmt::Debug for Deferred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.lock().map_or(0, |v| v.len());
        f.debug_struct("Deferred").field("pending", &n).finish()
    }
}

/// Runtime layer that awaits deferred exports after each response (the after-response flush mode).
/// In any other flush mode nothing is deferred, and it passes each invocation through untouched
/// (which lets [`run`](crate::run) install it whatever the mode). Get it from [`TraceLayer::after_response_layer`](super::TraceLayer::after_response_layer).
#[derive(Clone)]
pub struct AfterResponseLayer {
    shared: Arc<Shared>,
    check: Option<EventCheck>,
}

impl fmt::Debug for AfterResponseLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterResponseLayer")
            .field("checks_events", &self.check.is_some())
            .finish_non_exhaustive()
    }
}

impl AfterResponseLayer {
    pub(super) fn new(shared: Arc<Shared>) -> Self {
        shared
            .after_response_installed
            .store(true, Ordering::Release);
        Self {
            shared,
            check: None,
        }
    }

    /// Also records the invocations whose event the handler never got because it does not
    /// deserialize into `A`, the handler's event type (`lambda_runtime` answers those with an
    /// error before any service layer runs): a fault invocation span with the deserializer's
    /// message, in the trace the raw event's headers name, exported after the error response.
    /// [`run`](crate::run) sets this up; with `lambda_runtime`'s concurrent mode it cannot tell
    /// which invocation the handler got, so `run_concurrent` (feature
    /// `concurrency-tokio`) does not.
    ///
    /// ```no_run
    /// use aws_lambda_events::apigw::ApiGatewayProxyRequest;
    /// use lambda_runtime::{service_fn, Error, LambdaEvent, Runtime};
    /// use lambda_trace::TraceLayer;
    /// use tower::Layer;
    ///
    /// # async fn handler(event: LambdaEvent<ApiGatewayProxyRequest>) -> Result<(), Error> { Ok(()) }
    /// # async fn example() -> Result<(), Error> {
    /// let tracing = TraceLayer::from_env();
    /// let runtime_layer = tracing
    ///     .after_response_layer()
    ///     .recording_rejected_events::<ApiGatewayProxyRequest>();
    /// Runtime::new(tracing.layer(service_fn(handler)))
    ///     .layer(runtime_layer)
    ///     .run()
    ///     .await
    /// # }
    /// ```
    pub fn recording_rejected_events<A: for<'de> Deserialize<'de>>(mut self) -> Self {
        self.check = Some(check_for::<A>());
        self
    }
}

impl<S> Layer<S> for AfterResponseLayer {
    type Service = AfterResponseService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AfterResponseService {
            inner,
            shared: Arc::clone(&self.shared),
            check: self.check,
        }
    }
}

/// The service of an [`AfterResponseLayer`].
#[derive(Clone)]
pub struct AfterResponseService<S> {
    inner: S,
    shared: Arc<Shared>,
    check: Option<EventCheck>,
}

impl<S: fmt::Debug> fmt::Debug for AfterResponseService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterResponseService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S> Service<LambdaInvocation> for AfterResponseService<S>
where
    S: Service<LambdaInvocation, Response = (), Error = Error>,
{
    type Response = ();
    type Error = Error;
    type Future = AfterResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, invocation: LambdaInvocation) -> Self::Future {
        let deadline_ms = invocation.context.deadline;
        let watch = match self.check {
            Some(check) if !self.shared.config.disabled => Some(Box::new(Watch {
                check,
                calls: rejected::calls(&self.shared),
                body: invocation.body.clone(),
                context: invocation.context.clone(),
            })),
            _ => None,
        };
        AfterResponseFuture {
            passthrough: self.shared.config.flush_mode != FlushMode::AfterResponse
                && watch.is_none(),
            inner: self.inner.call(invocation),
            shared: Arc::clone(&self.shared),
            deadline_ms,
            watch,
            flushing: None,
        }
    }
}

pin_project! {
    /// Runs the runtime service (handler + posting the response), then the deferred exports.
    pub struct AfterResponseFuture<F> {
        #[pin]
        inner: F,
        // Not the after-response mode: nothing is ever deferred, the inner future is all.
        passthrough: bool,
        shared: Arc<Shared>,
        deadline_ms: u64,
        // Set when rejected events are recorded: what is needed to record this one.
        watch: Option<Box<Watch>>,
        flushing: Option<Flushing>,
    }
}

/// An invocation's raw event, kept until the runtime is done with it, in case the handler never
/// got it.
struct Watch {
    check: EventCheck,
    /// Handler calls before this invocation.
    calls: u64,
    body: Bytes,
    context: lambda_runtime::Context,
}

struct Flushing {
    result: Option<Result<(), Error>>,
    exports: Vec<ExportFuture>,
    timer: Option<Pin<Box<Sleep>>>,
    budget: Duration,
}

impl<F> fmt::Debug for AfterResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterResponseFuture")
            .field("flushing", &self.flushing.is_some())
            .finish()
    }
}

impl<F: Future<Output = Result<(), Error>>> Future for AfterResponseFuture<F> {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.passthrough {
            return this.inner.poll(cx);
        }
        if this.flushing.is_none() {
            let result = std::task::ready!(this.inner.poll(cx));
            let budget = flush::budget(
                this.shared.config.flush_timeout,
                *this.deadline_ms,
                this.shared.config.flush_margin,
            );
            let mut exports = Vec::new();
            if let Some(watch) = this.watch.take()
                && rejected::calls(this.shared) == watch.calls
                && let Some(message) = (watch.check)(&watch.body)
                && let Some((export, _)) =
                    rejected::record(this.shared, &watch.body, &watch.context, message)
            {
                exports.push(export);
            }
            exports.extend(start_exports(
                this.shared,
                this.shared.deferred.take(),
                budget,
            ));
            let timer = if exports.is_empty() {
                None
            } else {
                flush::start_timer(budget)
            };
            *this.flushing = Some(Flushing {
                result: Some(result),
                exports,
                timer,
                budget,
            });
        }
        let Some(flushing) = this.flushing.as_mut() else {
            return Poll::Pending;
        };
        let shared = &this.shared;
        poll_exports(shared, &mut flushing.exports, cx);
        if !flushing.exports.is_empty() {
            let expired = match flushing.timer.as_mut() {
                Some(timer) => timer.as_mut().poll(cx).is_ready(),
                None => true,
            };
            if !expired {
                return Poll::Pending;
            }
            for _ in flushing.exports.drain(..) {
                shared
                    .failures
                    .report(&ExportError::Timeout(flushing.budget));
            }
        }
        Poll::Ready(flushing.result.take().unwrap_or(Ok(())))
    }
}

/// Takes the batches of the deferred invocations and hands them to the exporter; returns the
/// exports that need awaiting.
#[inline(never)]
fn start_exports(shared: &Shared, deferred: Vec<Closed>, budget: Duration) -> Vec<ExportFuture> {
    let mut pending = Vec::new();
    for closed in deferred {
        let mut batch = closed.into_batch();
        if batch.spans.is_empty() {
            continue;
        }
        batch.after_response = true;
        match flush::start_export(shared, batch, budget) {
            Export::Done(Ok(())) => {}
            Export::Done(Err(e)) => shared.failures.report(&e),
            Export::Pending(export) => pending.push(export),
        }
    }
    pending
}

/// Polls the pending exports once, dropping those that finished. Not generic (and not inlined
/// into the generic future): `catch_unwind` there would copy the runtime's whole future into the
/// binary again.
#[inline(never)]
fn poll_exports(shared: &Shared, exports: &mut Vec<ExportFuture>, cx: &mut Context<'_>) {
    exports.retain_mut(|export| flush::poll_export(shared, export, cx).is_pending());
}
