//! [`TracingMiddleware`]: the `reqwest-middleware` adapter (feature `reqwest`).

use std::borrow::Cow;

use http::Extensions;
use reqwest_middleware::{Middleware, Next};

use super::OutgoingCall;
use super::call::Target;

/// Traces every request of a [`reqwest_middleware::ClientWithMiddleware`] as a `remote` client
/// subsegment of [`current()`](crate::current): method + URL (query string removed), the trace
/// headers injected, then the status (4xx → `error`, 429 → `throttle`, 5xx → `fault`) or the
/// failure (`fault` with the error as the remote cause).
///
/// ```
/// use lambda_trace::outgoing::TracingMiddleware;
/// use reqwest_middleware::ClientBuilder;
///
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(TracingMiddleware::default())
///     .build();
/// # let _ = client;
/// ```
///
/// Put it after retry middleware to get one span per attempt, before it for one span per
/// logical call. A spawned task has no [`current()`](crate::current) span: run it in
/// [`lambda_trace::scope`](crate::scope) so its calls hang under the right parent.
#[derive(Debug, Clone, Default)]
pub struct TracingMiddleware {
    name: Option<Cow<'static, str>>,
}

impl TracingMiddleware {
    /// A middleware whose spans are named after each request's host.
    pub fn new() -> Self {
        Self::default()
    }

    /// Names every span `name` instead of the host (the host stays in the recorded URL).
    ///
    /// ```
    /// use lambda_trace::outgoing::TracingMiddleware;
    ///
    /// let middleware = TracingMiddleware::new().with_name("service-egress");
    /// # let _ = middleware;
    /// ```
    pub fn with_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }
}

#[async_trait::async_trait]
impl Middleware for TracingMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let call = {
            let url = request.url();
            let target = Target {
                scheme: Some(url.scheme()),
                host: url.host_str(),
                port: url.port(),
                path: url.path(),
                query: url.query(),
            };
            OutgoingCall::open(
                &crate::current(),
                self.name.as_deref(),
                request.method().as_str(),
                &target,
            )
        };
        call.inject(request.headers_mut());
        let result = next.run(request, extensions).await;
        match &result {
            Ok(response) => call.finish_parts(response.status(), response.headers()),
            Err(error) => call.fail(error),
        }
        result
    }
}
