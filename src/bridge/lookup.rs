//! From a `tracing` span to its bridged [`Span`]: for code that wants to add data the fields
//! cannot carry (HTTP data, errors) to a span it holds; and the bridge's current span, which
//! [`lambda_trace::current()`](crate::current) consults.

use tracing_subscriber::Registry;
use tracing_subscriber::registry::{LookupSpan, SpanData};

use super::layer::Bridged;
use crate::span::Span;

/// The lambda-trace span that the bridge made of `span`, if it made one (the subscriber must
/// be a [`Registry`] with a [`TracingBridge`](super::TracingBridge), and `span` must have been
/// created inside an invocation).
///
/// ```
/// let span = tracing::info_span!("not bridged");
/// assert!(lambda_trace::bridge::span_of(&span).is_none());
/// ```
pub fn span_of(span: &tracing::Span) -> Option<Span> {
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let data = registry.span_data(id)?;
        let extensions = data.extensions();
        extensions.get::<Bridged>().map(|b| b.0.clone())
    })
    .flatten()
}

/// The bridged span of the current `tracing` span, or of its nearest bridged ancestor: what
/// [`lambda_trace::current()`](crate::current) consults once a [`TracingBridge`](super::TracingBridge)
/// is installed.
pub(super) fn bridged_current() -> Option<Span> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>()?;
            let mut next = registry.span_data(id);
            while let Some(data) = next {
                if let Some(b) = data.extensions().get::<Bridged>() {
                    return Some(b.0.clone());
                }
                next = data.parent().and_then(|p| registry.span_data(p));
            }
            None
        })
        .flatten()
}
