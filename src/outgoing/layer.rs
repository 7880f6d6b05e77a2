//! [`OutgoingLayer`]: wraps an HTTP client service in [`OutgoingService`].

use std::borrow::Cow;

use tower::Layer;

use super::OutgoingService;

/// Traces every request of the wrapped HTTP client as a `remote` client subsegment of
/// [`current()`](crate::current); see the [module docs](super).
///
/// ```
/// use lambda_trace::outgoing::OutgoingLayer;
/// use tower::Layer;
///
/// # let client = tower::service_fn(|_: http::Request<()>| async {
/// #     Ok::<_, std::io::Error>(http::Response::new(()))
/// # });
/// let traced = OutgoingLayer::new().with_name("payments").layer(client);
/// # let _ = traced;
/// ```
#[derive(Debug, Clone, Default)]
pub struct OutgoingLayer {
    name: Option<Cow<'static, str>>,
}

impl OutgoingLayer {
    /// A layer whose spans are named after each request's host.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names every span `name` instead of the host (the host stays in the recorded URL).
    pub fn with_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl<S> Layer<S> for OutgoingLayer {
    type Service = OutgoingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        OutgoingService::new(inner, self.name.clone())
    }
}
