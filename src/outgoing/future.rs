//! [`ResponseFuture`]: the future of an [`OutgoingService`](super::OutgoingService) call.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::Response;
use pin_project_lite::pin_project;

use super::OutgoingCall;

pin_project! {
    /// Resolves to the client's result, unchanged, after recording it on the call's span.
    /// Dropped before it resolves, it ends the span as cancelled.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        call: Option<OutgoingCall>,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(inner: F, call: OutgoingCall) -> Self {
        Self {
            inner,
            call: Some(call),
        }
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    E: Error + 'static,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let Some(call) = this.call.take() {
            match &result {
                Ok(response) => call.finish(response),
                Err(error) => call.fail(error),
            }
        }
        Poll::Ready(result)
    }
}
