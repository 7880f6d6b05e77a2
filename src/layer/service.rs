//! [`TraceService`]: opens the invocation span and hands the handler's future to [`TraceFuture`].

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use lambda_runtime::LambdaEvent;
use tower::Service;

use super::future::TraceFuture;
use super::invocation::start;
use super::{Shared, outcome};
use crate::carrier;

/// The service a [`TraceLayer`](super::TraceLayer) (or an `HttpTraceLayer`) produces.
#[derive(Clone)]
pub struct TraceService<S> {
    pub(crate) inner: S,
    pub(crate) shared: Arc<Shared>,
}

impl<S> TraceService<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    crate::inner_service::inner_service_accessors!();
}

impl<S: fmt::Debug> fmt::Debug for TraceService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S, E, R> Service<LambdaEvent<E>> for TraceService<S>
where
    S: Service<LambdaEvent<E>, Response = R>,
    S::Error: fmt::Debug + 'static,
    E: 'static,
    R: 'static,
{
    type Response = R;
    type Error = S::Error;
    type Future = TraceFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, event: LambdaEvent<E>) -> Self::Future {
        if self.shared.config.disabled {
            return TraceFuture::passthrough(self.inner.call(event));
        }
        // A carrier registered for `E` first (a lookup only when some were registered), then
        // the built-in ones, resolved for `E` and `R` when compiling: only their carrier and
        // status code are in the binary.
        let carrier = self
            .shared
            .carriers
            .find(&event.payload)
            .or_else(|| carrier::for_event(&event.payload));
        let invocation = start(
            &self.shared,
            carrier,
            &event.context,
            outcome::status_fn::<R>,
        );
        invocation.run(|| self.inner.call(event))
    }
}
