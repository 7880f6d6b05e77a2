//! End-to-end distributed tracing for Rust AWS Lambda functions.
//!
//! One layer continues the caller's trace, opens an invocation span, and flushes every span to
//! X-Ray **before the function returns**:
//!
//! ```no_run
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//! use serde_json::{json, Value};
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     let span = lambda_trace::current();
//!     span.annotate("orderId", "o-123");
//!     Ok(json!({ "ok": true, "request": event.context.request_id }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_trace::run(service_fn(handler)).await
//! }
//! ```
//!
//! Or as a tower layer, composed with others:
//!
//! ```no_run
//! # use lambda_runtime::{service_fn, Error, LambdaEvent};
//! # use serde_json::Value;
//! # async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> { Ok(event.payload) }
//! use lambda_trace::TraceLayer;
//! use tower::Layer;
//!
//! # async fn run() -> Result<(), Error> {
//! let service = TraceLayer::from_env().layer(service_fn(handler));
//! lambda_runtime::run(service).await
//! # }
//! ```
//!
//! # What happens per invocation
//! 1. The parent is chosen: Lambda's own trace header (`Context::xray_trace_id`) when Active
//!    tracing sampled it, else the event's headers (X-Ray, W3C, B3, Jaeger, OpenTracing; see
//!    [`propagation`]), else a new trace.
//! 2. The invocation span opens with `ColdStart` and `Service` annotations and the FaaS and HTTP
//!    attributes; it is the [`current()`] span while the handler runs.
//! 3. The outcome is recorded (HTTP 4xx error, 429 throttle, 5xx / `Err` / panic fault).
//! 4. Every span of the invocation is exported, bounded by a deadline, and only then does the
//!    response go back to the runtime. No background thread, no timer.
//!
//! Tracing never changes the handler's response and never fails an invocation.
//!
//! # Queues and batches
//! An SQS batch's invocation span links to every record's context; [`messaging::each_record`]
//! runs each record's work in a span that continues **that record's** trace, and collects the
//! results into the partial batch response. Events of your own types carry context through
//! [`carrier::EventCarrier`] ([`TraceLayerBuilder::carrier`](layer::TraceLayerBuilder::carrier)).
//!
//! # Features
//! All off by default: the default build has the X-Ray daemon and stdout exporters, every
//! propagator and the HTTP and SQS carriers, and no TLS, no AWS SDK and no OTLP stack. Each
//! feature only adds.
//!
//! | feature | adds |
//! |---|---|
//! | `lambda-http` | `http_layer::HttpTraceLayer` and `http_layer::run` for `lambda_http` handlers |
//! | `tracing` | `bridge::TracingBridge`: code instrumented with the `tracing` crate (`#[instrument]`, `info!`) is traced without a second set of calls |
//! | `reqwest` | `outgoing::TracingMiddleware` for `reqwest-middleware` clients |
//! | `aws-sdk` | `aws::XrayInterceptor`: an `aws` subsegment and the trace header for every AWS SDK call |
//! | `event-sources` | SNS, EventBridge (and scheduled), Kinesis, DynamoDB Streams and S3 events as carriers (`carrier::payload`: the `_trace` convention for payloads); `messaging::each_record` for SNS, Kinesis and DynamoDB Streams batches |
//! | `otlp` | `export::OtlpExporter`: OTLP/HTTP (protobuf or JSON, gzip) over HTTPS (rustls + `ring`, bundled roots) or HTTP, straight to any OpenTelemetry backend |
//! | `xray-otlp` | `otlp` plus X-Ray's OTLP endpoint, SigV4-signed (`LAMBDA_TRACE_EXPORTER=xray-otlp`) |
//! | `xray-api` | `export::XrayApiExporter`: the X-Ray `PutTraceSegments` API through `aws-sdk-xray` |
//! | `concurrency-tokio` | `run_concurrent`: `lambda_runtime`'s concurrent mode (Lambda Managed Instances) |
//! | `testing` | `export::InMemoryExporter` and the header carrier `propagation::testing::Pairs` for your own tests |

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "aws-sdk")]
#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
pub mod aws;
#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub mod bridge;
pub mod carrier;
pub mod config;
pub mod context;
mod error;
pub mod export;
#[cfg(feature = "lambda-http")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda-http")))]
pub mod http_layer;
mod inner_service;
mod json;
pub mod layer;
mod log_safe;
pub mod messaging;
mod otlp;
pub mod outgoing;
pub mod propagation;
pub mod redact;
mod run;
pub mod span;
#[cfg(any(feature = "testing", test))]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod xray;

pub use config::Config;
pub use context::{Sampling, SpanId, TraceContext, TraceFlags, TraceId};
pub use error::ParseError;
pub use layer::{TraceLayer, TraceService};
pub use run::run;
#[cfg(feature = "concurrency-tokio")]
pub use run::run_concurrent;
pub use span::{Span, current, scope};

/// The README's examples, compiled as doctests (some use the optional features).
#[doc = include_str!("../README.md")]
#[cfg(all(
    doctest,
    feature = "lambda-http",
    feature = "tracing",
    feature = "reqwest"
))]
pub struct ReadmeDoctests;
