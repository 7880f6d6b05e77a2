//! The current span: the task's (a tokio task-local, set by the layer for the handler's future
//! and by [`Span::in_child`]) or, when the `tracing` bridge is installed, the bridged span of the
//! current `tracing` span when that one is deeper — so `#[instrument]`ed code, outgoing calls
//! and AWS SDK calls all see the same span, with nothing for the user to write.
//!
//! A task spawned with `tokio::spawn` does not inherit task-locals. Pass the span along:
//!
//! ```
//! # async fn example() {
//! let span = lambda_trace::current();
//! let handle = tokio::spawn(lambda_trace::scope(span.child("background"), async {
//!     lambda_trace::current().annotate("step", "fetch");
//! }));
//! # let _ = handle.await;
//! # }
//! ```

use std::future::Future;
use std::sync::OnceLock;

use super::Span;

tokio::task_local! {
    static CURRENT: Span;
}

/// Where another instrumentation (the `tracing` bridge) keeps its current span; set once.
static LOOKUP: OnceLock<fn() -> Option<Span>> = OnceLock::new();

/// The span current here: the task's span (the invocation span, or the child span of an
/// enclosing [`Span::in_child`] / [`scope`]); or, with the `tracing` bridge installed, the span
/// the bridge made of the current `tracing` span (an `#[instrument]`ed function's) when it
/// belongs to the same invocation and is nested deeper. A no-op span outside an invocation.
///
/// Outgoing calls ([`OutgoingCall`](crate::outgoing::OutgoingCall), the reqwest middleware, the
/// AWS SDK interceptor) open their spans under this span.
pub fn current() -> Span {
    let own = task_span();
    match LOOKUP.get() {
        Some(lookup) => innermost(lookup(), own),
        None => own,
    }
}

/// The task's own span, whatever the `tracing` bridge knows.
pub(crate) fn task_span() -> Span {
    CURRENT.try_with(Span::clone).unwrap_or_default()
}

/// Of `other` (another instrumentation's current span) and `own` (the task's), the one that is
/// current: `other` when it is still live, of the same invocation as `own` (or `own` is no
/// span) and not shallower than `own`; else `own`. A span that leaked from another invocation
/// (kept in a `static`, a guard held over an `.await`) is never current.
pub(crate) fn innermost(other: Option<Span>, own: Span) -> Span {
    match other {
        Some(other)
            if other.is_live()
                && (own.span_id().is_none()
                    || (other.same_invocation(&own) && other.depth() >= own.depth())) =>
        {
            other
        }
        _ => own,
    }
}

/// Lets `lookup` name the current span of another instrumentation (the `tracing` bridge's);
/// the first call wins.
#[cfg(feature = "tracing")]
pub(crate) fn register_lookup(lookup: fn() -> Option<Span>) {
    let _ = LOOKUP.set(lookup);
}

/// Runs `future` with `span` as the current span.
pub fn scope<F: Future>(span: Span, future: F) -> tokio::task::futures::TaskLocalFuture<Span, F> {
    CURRENT.scope(span, future)
}

/// Runs `f` with `span` as the current span.
pub fn sync_scope<R>(span: Span, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(span, f)
}
