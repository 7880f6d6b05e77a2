//! From a `tracing` span to its bridged [`Span`]: for code that wants to add data the fields
//! cannot carry (HTTP data, errors) or inject the context into an outgoing call.

use tracing_subscriber::Registry;
use tracing_subscriber::registry::{LookupSpan, SpanData};

use super::layer::{Bridged, choose_parent};
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

/// The span to add data to or to inject from, here: the bridged span of the current `tracing`
/// span (or of its nearest bridged ancestor), else [`lambda_trace::current()`](crate::current).
///
/// Inside an `#[instrument]`ed function, [`lambda_trace::current()`](crate::current) is still
/// the invocation span (the task-local span changes only with [`scope`](crate::scope) or
/// [`Span::in_child`]); this function gives the function's own span, so an outgoing call
/// injected from it hangs under the right parent.
///
/// ```
/// # async fn call_inventory() {
/// let mut headers = http::HeaderMap::new();
/// lambda_trace::bridge::current().inject(&mut headers);
/// # }
/// ```
pub fn current() -> Span {
    let bridged = tracing::Span::current().with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<Registry>()?;
        let mut next = registry.span_data(id);
        while let Some(data) = next {
            if let Some(b) = data.extensions().get::<Bridged>() {
                return Some(b.0.clone());
            }
            next = data.parent().and_then(|p| registry.span_data(p));
        }
        None
    });
    choose_parent(bridged.flatten())
}
