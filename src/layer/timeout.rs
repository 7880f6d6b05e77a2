//! Timeouts: what the trace shows when the handler is still running near the invocation deadline.
//!
//! Lambda stops a function at its deadline without warning, so a handler that runs too long
//! never reaches the flush at its end, and its spans would be lost just when they matter most.
//! [`Watch`] prevents that: while the handler runs, [`TraceFuture`](super::TraceFuture) also
//! waits on a timer set for `deadline − timeout margin` (`LAMBDA_TRACE_TIMEOUT_MARGIN_MS`,
//! default 100 ms). When it fires first, every span still open — the invocation span and any
//! open child — is closed at that moment as timed out, and the batch is exported right away,
//! bounded by the time left before the flush margin. The handler is never cancelled: it keeps
//! running, its output is returned unchanged if it finishes, and whatever it records afterwards
//! is ignored (the recorder is closed). There is no second export for that invocation.
//!
//! What a timed-out invocation looks like: every span closed by the timer has `fault`, a first
//! exception of type `Timeout` ("Task timed out after N ms: the handler was still running M ms
//! before the invocation deadline") and `unfinished`; the invocation span also has the annotation
//! `TimedOut = true` (searchable in X-Ray: `annotation.TimedOut = true`; an attribute in OTLP,
//! where the status is `ERROR` with that message).
//!
//! Cost: nothing for a handler that completes on its first poll. Otherwise one tokio timer per
//! invocation, created and registered the first time the handler returns `Pending`, stored in
//! the future itself (no allocation). The timer is only armed when the deadline is known, the
//! trace is recorded and the margin is not zero; without a tokio time driver there is no
//! timer, and timeouts go undetected (logged once).
//!
//! The timed-out export is never deferred to the after-response flush mode: the response (and
//! with it the after-response flush) may never come.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Context;
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::Shared;
use super::flush::{self, poll_flush};
use super::invocation::Invocation;
use crate::export::{Export, ExportFuture};
use crate::span::{ExceptionRecord, MAX_EXCEPTIONS, SpanBatch, now_unix_nanos};

/// The annotation set on the invocation span of a timed-out invocation (value `true`).
pub(crate) const TIMED_OUT_ANNOTATION: &str = "TimedOut";

/// The exception type recorded on every span closed by the timeout.
pub(crate) const TIMEOUT_EXCEPTION_TYPE: &str = "Timeout";

/// A timed-out export still in flight: the export, its budget, the layer's state and the
/// instant it must give up.
pub(crate) type LateExport = (ExportFuture, Duration, Arc<Shared>, Instant);

enum Phase {
    /// The handler has not returned `Pending` yet: no timer.
    Idle,
    /// Nothing to watch: deadline unknown, trace not recorded, margin zero, or no time driver.
    Off,
    /// The timer is set for `deadline − margin`.
    Waiting,
    /// Timed out; the export is in flight, bounded by the (reset) timer.
    Exporting {
        export: ExportFuture,
        budget: Duration,
        shared: Arc<Shared>,
    },
    /// Timed out and exported (or nothing to export).
    Done,
}

pin_project! {
    /// Watches one running invocation for its deadline; see the [module docs](self).
    pub(crate) struct Watch {
        #[pin]
        sleep: Option<Sleep>,
        phase: Phase,
    }
}

impl Watch {
    pub(crate) const fn new() -> Self {
        Self {
            sleep: None,
            phase: Phase::Idle,
        }
    }

    /// Called each time the handler returned `Pending`: sets the timer the first time, and when
    /// it fired, closes the spans of `invocation` (taking it) and drives their export.
    pub(crate) fn poll(
        self: Pin<&mut Self>,
        invocation: &mut Option<Invocation>,
        cx: &mut Context<'_>,
    ) {
        let mut this = self.project();
        loop {
            match this.phase {
                Phase::Off | Phase::Done => return,
                Phase::Idle => match invocation.as_ref().and_then(arm) {
                    Some(sleep) => {
                        this.sleep.set(Some(sleep));
                        *this.phase = Phase::Waiting;
                    }
                    None => {
                        *this.phase = Phase::Off;
                        return;
                    }
                },
                Phase::Waiting => {
                    let Some(sleep) = this.sleep.as_mut().as_pin_mut() else {
                        *this.phase = Phase::Off;
                        return;
                    };
                    if sleep.poll(cx).is_pending() {
                        return;
                    }
                    *this.phase = match invocation.take().and_then(time_out) {
                        Some((export, budget, shared)) => {
                            if let Some(sleep) = this.sleep.as_mut().as_pin_mut() {
                                sleep.reset(Instant::now() + budget);
                            }
                            Phase::Exporting {
                                export,
                                budget,
                                shared,
                            }
                        }
                        None => Phase::Done,
                    };
                }
                Phase::Exporting {
                    export,
                    budget,
                    shared,
                } => {
                    let timer = this.sleep.as_mut().as_pin_mut();
                    if poll_flush(shared, *budget, export, timer, cx).is_ready() {
                        *this.phase = Phase::Done;
                    }
                    return;
                }
            }
        }
    }

    /// The timed-out export, when it is still in flight as the handler finishes: the response
    /// then waits for it, up to the same bound.
    pub(crate) fn take_export(self: Pin<&mut Self>) -> Option<LateExport> {
        let this = self.project();
        let until = this.sleep.as_ref().as_pin_ref().map(|s| s.deadline())?;
        match std::mem::replace(this.phase, Phase::Done) {
            Phase::Exporting {
                export,
                budget,
                shared,
            } => Some((export, budget, shared, until)),
            other => {
                *this.phase = other;
                None
            }
        }
    }
}

/// The timer for `deadline − margin`, or `None` when there is nothing to watch.
fn arm(inv: &Invocation) -> Option<Sleep> {
    let shared = &inv.shared;
    if inv.deadline_ms == 0
        || shared.config.timeout_margin.is_zero()
        || !inv.recorder.recording
        || shared.no_timer.load(Ordering::Relaxed)
    {
        return None;
    }
    let left = flush::time_left(inv.deadline_ms, shared.config.timeout_margin);
    let sleep = tokio::runtime::Handle::try_current()
        .ok()
        .and_then(|_| catch_unwind(AssertUnwindSafe(|| tokio::time::sleep(left))).ok());
    if sleep.is_none() && !shared.no_timer.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            target: "lambda_trace",
            "no tokio time driver: invocations still running at their deadline are not detected"
        );
    }
    sleep
}

/// Closes every open span of `inv` as timed out and starts the export. Returns the export when
/// it needs awaiting, with its budget.
fn time_out(inv: Invocation) -> Option<(ExportFuture, Duration, Arc<Shared>)> {
    let Invocation {
        root,
        recorder,
        placement,
        deadline_ms,
        shared,
        ..
    } = inv;
    root.annotate(TIMED_OUT_ANNOTATION, true);
    let now = now_unix_nanos();
    let mut batch = recorder.finish(placement, now);
    let left_ms = deadline_ms.saturating_sub(now / 1_000_000);
    mark_timed_out(&mut batch, now, left_ms);
    tracing::warn!(
        target: "lambda_trace",
        "invocation still running {left_ms} ms before its deadline: its spans were closed as timed out and exported"
    );
    if batch.spans.is_empty() {
        return None;
    }
    let budget = flush::budget(
        shared.config.flush_timeout,
        deadline_ms,
        shared.config.flush_margin,
    );
    match flush::start_export(&shared, batch, budget) {
        Export::Done(result) => {
            if let Err(e) = result {
                shared.failures.report(&e);
            }
            None
        }
        Export::Pending(export) => Some((export, budget, shared)),
    }
}

/// Marks every span the flush closed (`unfinished`) as a fault whose first exception is the
/// timeout.
fn mark_timed_out(batch: &mut SpanBatch, now: u64, left_ms: u64) {
    let elapsed_ms = batch
        .root()
        .map_or(0, |r| now.saturating_sub(r.start_unix_nanos) / 1_000_000);
    let exception = ExceptionRecord {
        message: format!(
            "Task timed out after {elapsed_ms} ms: the handler was still running {left_ms} ms \
             before the invocation deadline"
        ),
        type_name: Some(TIMEOUT_EXCEPTION_TYPE.to_string()),
        remote: false,
        stack: Vec::new(),
    };
    for span in batch.spans.iter_mut().filter(|s| s.unfinished) {
        span.outcome.fault = true;
        span.exceptions.insert(0, exception.clone());
        span.exceptions.truncate(MAX_EXCEPTIONS);
    }
}
