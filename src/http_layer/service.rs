//! [`HttpTraceService`]: the invocation span around a `lambda_http` handler.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use lambda_http::{Body, Request, RequestExt, Response, Service};

use super::carrier::HttpCarrier;
use crate::layer::{Shared, TraceFuture, start_invocation};

/// The service an [`HttpTraceLayer`](super::HttpTraceLayer) produces.
#[derive(Clone)]
pub struct HttpTraceService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> HttpTraceService<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    crate::inner_service::inner_service_accessors!();
}

impl<S: fmt::Debug> fmt::Debug for HttpTraceService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTraceService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, R> Service<Request> for HttpTraceService<S>
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
