//! Outgoing calls: each HTTP request the function makes becomes a `remote` client subsegment of
//! the current span, and carries the trace context so the callee continues the same trace.
//!
//! What is recorded for a call, in X-Ray's terms ([segment documents]):
//!
//! | field | value |
//! |---|---|
//! | name | the URL's host (as the X-Ray SDKs name remote nodes), or a name you choose |
//! | `namespace` | `remote` |
//! | `http.request` | method, URL **without user info** and **without query string** (it may hold tokens); with `LAMBDA_TRACE_CAPTURE_QUERY=true` the query string, sensitive values replaced by `REDACTED` ([`crate::redact`]) |
//! | `http.response` | status and `Content-Length` |
//! | flags | 4xx → `error`; 429 → `error` + `throttle`; 5xx → `fault`; no response → `fault` with the error chain as a `remote` cause |
//! | cancelled | a call dropped before it finished ends with metadata `lambda_trace.cancelled: true` |
//!
//! The trace headers are injected in every format configured for the function
//! (`OTEL_PROPAGATORS`; all of them by default), with the call's span as the parent.
//!
//! # Any HTTP client, by hand: [`OutgoingCall`]
//!
//! ```
//! use lambda_trace::outgoing::OutgoingCall;
//!
//! # async fn send(request: http::Request<()>) -> Result<http::Response<()>, std::io::Error> { Ok(http::Response::new(())) }
//! # async fn example() -> Result<(), std::io::Error> {
//! let mut request = http::Request::get("https://api.example.com/stock/42").body(()).unwrap();
//! let call = OutgoingCall::start(&mut request);
//! let response = match send(request).await {
//!     Ok(response) => {
//!         call.finish(&response);
//!         response
//!     }
//!     Err(e) => {
//!         call.fail(&e);
//!         return Err(e);
//!     }
//! };
//! # let _ = response;
//! # Ok(())
//! # }
//! ```
//!
//! # A tower HTTP client: [`OutgoingLayer`]
//!
//! Any `Service<http::Request<B>, Response = http::Response<R>>` whose error implements
//! [`std::error::Error`] — hyper-util's `Client`, for one:
//!
//! ```no_run
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use lambda_trace::outgoing::OutgoingLayer;
//! use tower::{Layer, Service, ServiceExt};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder(TokioExecutor::new()).build_http::<String>();
//! let mut client = OutgoingLayer::new().layer(client);
//! let request = http::Request::get("http://inventory.internal/stock/42").body(String::new())?;
//! let response = client.ready().await?.call(request).await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```
//!
//! # reqwest: `TracingMiddleware` (feature `reqwest`)
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use lambda_trace::outgoing::TracingMiddleware;
//! use reqwest_middleware::ClientBuilder;
//!
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(TracingMiddleware::default())
//!     .build();
//! let response = client.get("https://api.example.com/stock/42").send().await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```
//!
//! The library enables no TLS feature of `reqwest`: choose yours (`rustls-tls`, `native-tls`) in
//! your own `reqwest` dependency.
//!
//! # Spawned tasks
//! The current span is a tokio task-local, which `tokio::spawn` does not inherit. Run the task
//! in [`scope`](crate::scope) (or use [`OutgoingCall::start_in`]) so its calls hang under the
//! right parent; without one, the call is not traced and no headers are injected.
//!
//! [segment documents]: https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html

mod call;
mod future;
mod layer;
#[cfg(feature = "reqwest")]
mod middleware;
mod service;

pub use call::OutgoingCall;
pub use future::ResponseFuture;
pub use layer::OutgoingLayer;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use middleware::TracingMiddleware;
pub use service::OutgoingService;
