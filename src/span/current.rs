//! The current span: a tokio task-local, set by the layer for the handler's future.
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

use super::Span;

tokio::task_local! {
    static CURRENT: Span;
}

/// The span current in this task: the invocation span, or the child span of an enclosing
/// [`Span::in_child`]. A no-op span outside an invocation.
pub fn current() -> Span {
    CURRENT.try_with(Span::clone).unwrap_or_default()
}

/// Runs `future` with `span` as the current span.
pub fn scope<F: Future>(span: Span, future: F) -> tokio::task::futures::TaskLocalFuture<Span, F> {
    CURRENT.scope(span, future)
}

/// Runs `f` with `span` as the current span.
pub fn sync_scope<R>(span: Span, f: impl FnOnce() -> R) -> R {
    CURRENT.sync_scope(span, f)
}
