//! `lambda_http` support: [`HttpTraceLayer`] traces a `Service<lambda_http::Request>`, the handler
//! shape most Rust API functions are written in.
//!
//! It does what [`TraceLayer`] does, reading what it needs from the
//! `http::Request` that `lambda_http` builds: the trace headers, the Lambda `Context` and the API
//! Gateway / ALB request context from its extensions; and the status from the `http::Response`.
//!
//! ```no_run
//! use lambda_http::{service_fn, Body, Error, Request, Response};
//!
//! async fn handler(request: Request) -> Result<Response<Body>, Error> {
//!     lambda_trace::current().annotate("path", request.uri().path());
//!     Ok(Response::builder().status(200).body("hello".into())?)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_trace::http_layer::run(service_fn(handler)).await
//! }
//! ```
//!
//! Or as a layer, composed with tower-http middleware and others:
//!
//! ```no_run
//! # use lambda_http::{service_fn, Body, Error, Request, Response};
//! # async fn handler(request: Request) -> Result<Response<Body>, Error> { Ok(Response::new(Body::Empty)) }
//! use lambda_trace::http_layer::HttpTraceLayer;
//! use tower::Layer;
//!
//! # async fn run() -> Result<(), Error> {
//! lambda_http::run(HttpTraceLayer::from_env().layer(service_fn(handler))).await
//! # }
//! ```

mod carrier;
mod service;

use std::fmt;

use lambda_http::{IntoResponse, Request, Service};
use lambda_runtime::{Diagnostic, Error};
use tower::Layer;

use crate::layer::Shared;
use crate::layer::{TraceLayer, TraceService};

/// Traces every invocation of a `lambda_http` handler; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct HttpTraceLayer {
    shared: std::sync::Arc<Shared>,
}

impl HttpTraceLayer {
    /// A layer configured from the environment.
    pub fn from_env() -> Self {
        TraceLayer::from_env().into()
    }
}

/// The same settings as a [`TraceLayer`] (build it with [`TraceLayer::builder`]).
impl From<TraceLayer> for HttpTraceLayer {
    fn from(layer: TraceLayer) -> Self {
        Self {
            shared: layer.shared,
        }
    }
}

impl<S> Layer<S> for HttpTraceLayer {
    type Service = TraceService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceService::new(inner, std::sync::Arc::clone(&self.shared))
    }
}

/// `lambda_http::run` with every invocation traced ([`HttpTraceLayer::from_env`]), plus the
/// runtime layer: the after-response flush mode, and events `lambda_http` cannot turn into a
/// request recorded as faults ([`AfterResponseLayer::recording_rejected_events`](crate::layer::AfterResponseLayer::recording_rejected_events)).
pub async fn run<R, S, E>(handler: S) -> Result<(), Error>
where
    S: Service<Request, Response = R, Error = E>,
    S::Future: Send + 'static,
    R: IntoResponse + Send + 'static,
    E: fmt::Debug + Into<Diagnostic> + Send + 'static,
{
    let tracing = crate::TraceLayer::from_env();
    let runtime_layer = tracing
        .after_response_layer()
        .recording_rejected_events::<lambda_http::request::LambdaRequest>();
    let traced = HttpTraceLayer::from(tracing).layer(handler);
    lambda_runtime::Runtime::new(lambda_http::Adapter::from(traced))
        .layer(lambda_runtime::layers::TracingLayer::new())
        .layer(runtime_layer)
        .run()
        .await
}

#[cfg(test)]
mod conversion_tests;
#[cfg(test)]
mod tests;
