//! The flush: its budget, starting an export, waiting for it within the budget, and how export
//! failures are reported: one log line per failure kind, then
//! one per 1,000 failures of that kind, so a down backend cannot flood the function's logs. The
//! error's message (which may quote a backend's answer) is escaped and capped
//! ([`log_safe_message`](super::log_safe_message)).

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Sleep;

use super::Shared;
use crate::error::ExportError;
use crate::export::{Export, ExportFuture};
use crate::span::SpanBatch;

/// How long a flush may wait: the configured timeout, but never past the invocation deadline
/// (`deadline_ms`, epoch milliseconds; `0` = unknown) minus `margin`.
pub(crate) fn budget(timeout: Duration, deadline_ms: u64, margin: Duration) -> Duration {
    if deadline_ms == 0 {
        return timeout;
    }
    timeout.min(time_left(deadline_ms, margin))
}

/// Time from now until `margin` before the deadline (`deadline_ms`, epoch milliseconds, known);
/// zero when that moment has passed.
pub(crate) fn time_left(deadline_ms: u64, margin: Duration) -> Duration {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Duration::from_millis(deadline_ms.saturating_sub(now_ms)).saturating_sub(margin)
}

/// Counts export failures per kind.
#[derive(Debug, Default)]
pub(crate) struct FailureLog {
    counts: [AtomicU64; 4],
}

impl FailureLog {
    /// Reports `error` (logged on the 1st, 1001st, … occurrence of its kind).
    pub(crate) fn report(&self, error: &ExportError) {
        let kind = match error {
            ExportError::Timeout(_) => 0,
            ExportError::Io(_) => 1,
            ExportError::Rejected { .. } => 2,
            _ => 3,
        };
        let n = self.counts[kind].fetch_add(1, Ordering::Relaxed);
        if n.is_multiple_of(1000) {
            tracing::warn!(
                target: "lambda_trace",
                failures = n + 1,
                "trace export failed: {}",
                super::log_safe_message(&error.to_string())
            );
        }
    }

    /// Failures seen so far, all kinds.
    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// Polls a pending export against its timer. Ready when the export finished or time ran out.
pub(crate) fn poll_flush(
    shared: &Shared,
    budget: Duration,
    export: &mut ExportFuture,
    sleep: Option<Pin<&mut Sleep>>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let report = |e: ExportError| shared.failures.report(&e);
    if poll_export(shared, export, cx).is_ready() {
        return Poll::Ready(());
    }
    match sleep {
        Some(timer) => match timer.poll(cx) {
            Poll::Ready(()) => {
                report(ExportError::Timeout(budget));
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        },
        None => {
            report(ExportError::Other(
                "no tokio timer to bound the flush; export abandoned".into(),
            ));
            Poll::Ready(())
        }
    }
}

/// Polls one export; ready when it finished, its failure (or panic) reported.
pub(crate) fn poll_export(
    shared: &Shared,
    export: &mut ExportFuture,
    cx: &mut Context<'_>,
) -> Poll<()> {
    match catch_unwind(AssertUnwindSafe(|| export.as_mut().poll(cx))) {
        Ok(Poll::Ready(Ok(()))) => Poll::Ready(()),
        Ok(Poll::Ready(Err(e))) => {
            shared.failures.report(&e);
            Poll::Ready(())
        }
        Err(_) => {
            shared.failures.report(&exporter_panicked());
            Poll::Ready(())
        }
        Ok(Poll::Pending) => Poll::Pending,
    }
}

/// Hands `batch` to the exporter; an exporter that panics is a failed export, not the
/// function's panic.
pub(crate) fn start_export(shared: &Shared, mut batch: SpanBatch, budget: Duration) -> Export {
    batch.deadline = std::time::Instant::now().checked_add(budget);
    catch_unwind(AssertUnwindSafe(|| shared.exporter.export(batch)))
        .unwrap_or_else(|_| Export::Done(Err(exporter_panicked())))
}

/// What an exporter that panicked is reported as.
fn exporter_panicked() -> ExportError {
    ExportError::Other("exporter panicked".into())
}

/// A timer for the flush; `None` when the runtime has no time driver (the export is then
/// abandoned rather than awaited without a bound).
pub(crate) fn start_timer(budget: Duration) -> Option<Pin<Box<Sleep>>> {
    catch_unwind(|| Box::pin(tokio::time::sleep(budget))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_respects_deadline() {
        let t = Duration::from_millis(1000);
        assert_eq!(budget(t, 0, Duration::from_millis(50)), t);
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let b = budget(t, now_ms + 300, Duration::from_millis(50));
        assert!(
            b <= Duration::from_millis(250) && b >= Duration::from_millis(150),
            "{b:?}"
        );
        assert_eq!(
            budget(t, now_ms.saturating_sub(10), Duration::from_millis(50)),
            Duration::ZERO
        );
    }

    #[test]
    fn counts_failures() {
        let log = FailureLog::default();
        log.report(&ExportError::Timeout(Duration::ZERO));
        log.report(&ExportError::Other("x".into()));
        assert_eq!(log.total(), 2);
    }
}
