//! [`TraceService`] around a `lambda_http` handler: the invocation span of each request.

use std::any::Any;
use std::fmt;
use std::task::{Context, Poll};

use lambda_http::{Body, Request, RequestExt, Response, Service};

use super::carrier::HttpCarrier;
use crate::layer::{TraceFuture, TraceService, start_invocation};

/// A [`TraceService`] also serves `lambda_http` requests: what an
/// [`HttpTraceLayer`](super::HttpTraceLayer) produces.
impl<S, R> Service<Request> for TraceService<S>
where
    S: Service<Request, Response = R>,
    S::Error: fmt::Debug + 'static,
    R: 'static,
{
    type Response = R;
    type Error = S::Error;
    type Future = TraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if self.shared.config.disabled {
            return TraceFuture::passthrough(self.inner.call(request));
        }
        let invocation = {
            let fallback;
            let context = match request.lambda_context_ref() {
                Some(context) => context,
                None => {
                    fallback = lambda_runtime::Context::default();
                    &fallback
                }
            };
            start_invocation(
                &self.shared,
                Some(&HttpCarrier::new(
                    &request,
                    context.xray_trace_id.as_deref(),
                )),
                context,
                response_status,
            )
        };
        invocation.run(|| self.inner.call(request))
    }
}

/// The status of what a `lambda_http` handler returns: an `http::Response` carries its own;
/// every other `IntoResponse` type (strings, JSON values, bytes) becomes a 200.
fn response_status(response: &dyn Any) -> Option<u16> {
    macro_rules! status_of {
        ($($body:ty),*) => {$(
            if let Some(r) = response.downcast_ref::<Response<$body>>() {
                return Some(r.status().as_u16());
            }
        )*};
    }
    status_of!(Body, String, &'static str, Vec<u8>, ());
    Some(200)
}
