//! [`OutgoingService`]: opens an [`OutgoingCall`] per request.

use std::borrow::Cow;
use std::error::Error;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower::Service;

use super::{OutgoingCall, ResponseFuture};

/// An HTTP client service whose requests are traced; built by
/// [`OutgoingLayer`](super::OutgoingLayer).
///
/// Each call opens an [`OutgoingCall`] as a child of [`current()`](crate::current) *at the time
/// of `call`* (like tower-http's `Trace`, the span is made in `call`, not when the future is first
/// polled), injects the trace headers into the request, and the [`ResponseFuture`] finishes it with the response or
/// fails it with the error. The error type stays the client's own: it must implement
/// [`std::error::Error`] so it can be recorded as the cause. (Behind a layer that boxes errors,
/// such as tower's `Timeout`, put this layer on the inside, next to the client; a timeout then
/// shows as a cancelled call.)
#[derive(Debug, Clone)]
pub struct OutgoingService<S> {
    inner: S,
    name: Option<Cow<'static, str>>,
}

impl<S> OutgoingService<S> {
    pub(super) fn new(inner: S, name: Option<Cow<'static, str>>) -> Self {
        Self { inner, name }
    }

    crate::inner_service::inner_service_accessors!();
}

impl<S, B, R> Service<Request<B>> for OutgoingService<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Error + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let parent = crate::current();
        let call = match &self.name {
            Some(name) => OutgoingCall::named_in(&parent, name, &mut request),
            None => OutgoingCall::start_in(&parent, &mut request),
        };
        ResponseFuture::new(self.inner.call(request), call)
    }
}
