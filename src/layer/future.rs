//! [`TraceFuture`]: runs the handler, then ends the invocation span and flushes, and only then
//! resolves with the handler's own output (or resumes its panic).
//!
//! The order follows `lambda_runtime`'s OpenTelemetry layer: the inner future is dropped first
//! (which closes its spans), then the flush runs, then the output is returned.
//!
//! While the handler runs, a [`Watch`] waits for the invocation deadline: a handler still
//! running shortly before it has its spans closed as timed out and exported then, while it
//! keeps running (see the `timeout` module).

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::Sleep;

use super::after_response::Closed;
use super::flush::{self, poll_flush, start_export, start_timer};
use super::invocation::Invocation;
use super::timeout::{LateExport, Watch};
use super::{Shared, outcome};
use crate::export::{Export, ExportFuture};
use crate::span::{Outcome, Span, now_unix_nanos};

/// The step from an [`Invocation`] to its future lives here, beside the future it makes (the
/// invocation itself is plain data, in `invocation.rs`).
impl Invocation {
    /// Calls the handler (`call`) with the invocation span current, catching a panic in `call`
    /// itself, and returns the future that records the outcome and flushes.
    pub(crate) fn run<F, R, E>(self, call: impl FnOnce() -> F) -> TraceFuture<F>
    where
        F: Future<Output = Result<R, E>>,
        R: 'static,
        E: fmt::Debug + 'static,
    {
        let root = self.root.clone();
        match crate::span::sync_scope(root.clone(), || catch_unwind(AssertUnwindSafe(call))) {
            Ok(future) => TraceFuture::new(crate::span::scope(root, future), self),
            Err(panic) => TraceFuture::panicked(panic, self),
        }
    }
}

type Output<F> = thread::Result<<F as Future>::Output>;

pin_project! {
    /// The future of a [`TraceService`](super::TraceService) call.
    pub struct TraceFuture<F: Future> {
        #[pin]
        state: State<F>,
        invocation: Option<Invocation>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F: Future> {
        Running {
            #[pin] inner: TaskLocalFuture<Span, F>,
            #[pin] watch: Watch,
        },
        Flushing {
            output: Option<Output<F>>,
            export: ExportFuture,
            sleep: Option<Pin<Box<Sleep>>>,
            budget: Duration,
            shared: Arc<Shared>,
        },
        Ready { output: Option<Output<F>> },
        Passthrough { #[pin] inner: F },
        Done,
    }
}

impl<F: Future> TraceFuture<F> {
    pub(crate) fn new(inner: TaskLocalFuture<Span, F>, invocation: Invocation) -> Self {
        Self {
            state: State::Running {
                inner,
                watch: Watch::new(),
            },
            invocation: Some(invocation),
        }
    }

    pub(crate) fn passthrough(inner: F) -> Self {
        Self {
            state: State::Passthrough { inner },
            invocation: None,
        }
    }
}

impl<F, R, E> TraceFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: 'static,
    E: fmt::Debug + 'static,
{
    pub(crate) fn panicked(payload: Box<dyn Any + Send>, invocation: Invocation) -> Self {
        Self {
            state: finish_result(Some(invocation), Err(payload)),
            invocation: None,
        }
    }
}

impl<F, R, E> Future for TraceFuture<F>
where
    F: Future<Output = Result<R, E>>,
    R: 'static,
    E: fmt::Debug + 'static,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let this = self.as_mut().project();
            let next = match this.state.project() {
                StateProj::Passthrough { inner } => return inner.poll(cx),
                StateProj::Running { inner, watch } => {
                    let polled = catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
                    let output = match polled {
                        Ok(Poll::Pending) => {
                            watch.poll(this.invocation, cx);
                            return Poll::Pending;
                        }
                        Ok(Poll::Ready(output)) => Ok(output),
                        Err(panic) => Err(panic),
                    };
                    let late = watch.take_export();
                    // Drop the handler's future (closing what it holds) before flushing.
                    self.as_mut().project().state.set(State::Done);
                    match self.as_mut().project().invocation.take() {
                        Some(inv) => finish_result(Some(inv), output),
                        // Timed out: the spans are gone already; no second export.
                        None => finish_late(late, output),
                    }
                }
                StateProj::Flushing {
                    output,
                    export,
                    sleep,
                    budget,
                    shared,
                } => match poll_flush(shared, *budget, export, sleep.as_mut().map(Pin::as_mut), cx)
                {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) => State::Ready {
                        output: output.take(),
                    },
                },
                StateProj::Ready { output } => {
                    let output = output.take();
                    self.as_mut().project().state.set(State::Done);
                    match output {
                        Some(Ok(output)) => return Poll::Ready(output),
                        Some(Err(panic)) => resume_unwind(panic),
                        None => unreachable_done(),
                    }
                }
                StateProj::Done => unreachable_done(),
            };
            self.as_mut().project().state.set(next);
        }
    }
}

/// Records the outcome of a finished handler, ends the spans and starts the export.
fn finish_result<F, R, E>(inv: Option<Invocation>, output: Output<F>) -> State<F>
where
    F: Future<Output = Result<R, E>>,
    R: 'static,
    E: fmt::Debug + 'static,
{
    let Some(inv) = inv else {
        return State::Ready {
            output: Some(output),
        };
    };
    record_outcome(&inv, &output);
    match end_and_export(inv) {
        Some(flush) => State::Flushing {
            output: Some(output),
            export: flush.export,
            sleep: flush.sleep,
            budget: flush.budget,
            shared: flush.shared,
        },
        None => State::Ready {
            output: Some(output),
        },
    }
}

/// The handler's outcome on the invocation span: a panic or an `Err` is a fault with its
/// exception; a response gives its HTTP status (and its body, when captured).
fn record_outcome<R, E>(inv: &Invocation, output: &thread::Result<Result<R, E>>)
where
    R: 'static,
    E: fmt::Debug + 'static,
{
    let root = &inv.root;
    if !root.is_recording() {
        return;
    }
    let fault = Outcome {
        fault: true,
        ..Outcome::default()
    };
    match output {
        Err(panic) => root.record_exceptions(vec![outcome::panic_exception(panic.as_ref())], fault),
        Ok(Ok(response)) => {
            if let Some(status) = (inv.status_of)(response) {
                root.set_http_status(status);
            }
            if inv.shared.config.capture_response {
                super::response::record_body(root, response);
            }
        }
        Ok(Err(error)) => root.record_exceptions(
            vec![outcome::exception(error, inv.shared.config.capture_error)],
            fault,
        ),
    }
}

/// An export the handler's output waits for.
pub(super) struct PendingFlush {
    pub(super) export: ExportFuture,
    sleep: Option<Pin<Box<Sleep>>>,
    pub(super) budget: Duration,
    shared: Arc<Shared>,
}

/// Ends the invocation span and hands its spans to the exporter, or to the after-response
/// layer; the export to wait for, if any. Not generic: one copy whatever the handler's types.
pub(super) fn end_and_export(inv: Invocation) -> Option<PendingFlush> {
    inv.root.end();
    let end_unix_nanos = now_unix_nanos();
    if !inv.recorder.recording {
        inv.recorder.close();
        return None;
    }
    if super::TraceLayer::defers(&inv.shared) {
        // Taking the batch, encoding and sending all wait for the after-response layer; the
        // closed recorder keeps the spans as they are now.
        inv.recorder.close();
        inv.shared.deferred.push(Closed {
            recorder: inv.recorder,
            placement: inv.placement,
            end_unix_nanos,
        });
        return None;
    }
    let batch = inv.recorder.finish(inv.placement, end_unix_nanos);
    if batch.spans.is_empty() {
        return None;
    }
    let shared = &inv.shared;
    let budget = flush::budget(
        shared.config.flush_timeout,
        inv.deadline_ms,
        shared.config.flush_margin,
    );
    match start_export(shared, batch, budget) {
        Export::Done(result) => {
            if let Err(e) = result {
                shared.failures.report(&e);
            }
            None
        }
        Export::Pending(export) => Some(PendingFlush {
            export,
            sleep: start_timer(budget),
            budget,
            shared: Arc::clone(shared),
        }),
    }
}

/// The state after a handler that timed out finished: its output waits for the timed-out export
/// if that is still in flight (up to the same bound), else it is returned at once.
fn finish_late<F: Future>(late: Option<LateExport>, output: Output<F>) -> State<F> {
    match late {
        Some((export, budget, shared, until)) => State::Flushing {
            output: Some(output),
            export,
            sleep: Some(Box::pin(tokio::time::sleep_until(until))),
            budget,
            shared,
        },
        None => State::Ready {
            output: Some(output),
        },
    }
}

fn unreachable_done() -> ! {
    panic!("TraceFuture polled after completion")
}

impl<F: Future> fmt::Debug for TraceFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Running { .. } => "running",
            State::Flushing { .. } => "flushing",
            State::Ready { .. } => "ready",
            State::Passthrough { .. } => "passthrough",
            State::Done => "done",
        };
        f.debug_struct("TraceFuture")
            .field("state", &state)
            .finish()
    }
}
