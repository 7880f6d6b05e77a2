//! [`SpanGuard`]: a child span that ends when the guard is dropped.

use std::ops::Deref;

use super::Span;

/// A child span that ends when dropped — for a block with early returns or `?`:
///
/// ```
/// # fn load() -> Result<u32, std::io::Error> { Ok(3) }
/// # fn example() -> Result<u32, std::io::Error> {
/// let span = lambda_trace::current();
/// let parse = span.child_guard("parse");
/// parse.annotate("format", "json");
/// let n = load()?; // `parse` ends here too if this fails
/// # Ok(n)
/// # }
/// ```
///
/// The guard does not make the span current (a tokio task-local can only be set around a
/// future); use [`Span::in_child`] for that, or pass the guard's span explicitly.
#[derive(Debug)]
#[must_use = "the span ends as soon as the guard is dropped"]
pub struct SpanGuard(Span);

impl SpanGuard {
    pub(super) fn new(span: Span) -> Self {
        Self(span)
    }

    /// The span, to pass along (clones refer to the same span).
    pub fn span(&self) -> &Span {
        &self.0
    }
}

impl Deref for SpanGuard {
    type Target = Span;

    fn deref(&self) -> &Span {
        &self.0
    }
}

impl Drop for SpanGuard {
    fn drop(&mut self) {
        self.0.end();
    }
}
