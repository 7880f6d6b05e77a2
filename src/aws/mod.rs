//! Tracing calls to AWS services made with the AWS SDK for Rust (feature `aws-sdk`).
//!
//! [`XrayInterceptor`] is an SDK [interceptor](aws_smithy_runtime_api::client::interceptors::Intercept):
//! install it on a service client and every call becomes an `aws` subsegment of the
//! [`current()`](crate::current) span, named after the service (`DynamoDB`, `S3`, `XRay`, … as
//! X-Ray's own SDKs name them), with the operation, region, request id and retry count in its
//! `aws` block, the HTTP status, and the error / throttle / fault flags. The request carries an
//! `X-Amzn-Trace-Id` header naming that subsegment, so a traced AWS service (Lambda, SQS, API
//! Gateway, …) continues the trace.
//!
//! ```no_run
//! # #[cfg(feature = "xray-api")] // the example's client comes from aws-sdk-xray
//! # async fn example() {
//! use lambda_trace::aws::XrayInterceptor;
//!
//! let sdk_config = aws_config::load_from_env().await;
//! // For any service crate: aws_sdk_s3::config::Builder::from(&sdk_config)…
//! let config = aws_sdk_xray::config::Builder::from(&sdk_config)
//!     .interceptor(XrayInterceptor::new())
//!     .build();
//! let client = aws_sdk_xray::Client::from_conf(config);
//! # let _ = client;
//! # }
//! ```
//!
//! Build clients once, outside the handler, as usual: the interceptor holds no state, and each
//! call finds the invocation's span itself. Calls made outside a traced invocation (at start-up,
//! or when the trace is not sampled) are not recorded and get no header from this crate.
//!
//! The interceptor depends only on the SDK's runtime API crates (`aws-smithy-runtime-api`,
//! `aws-smithy-types`, `aws-types`), which every service crate already pulls in.

mod interceptor;
mod requests;

#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
pub use interceptor::{THROTTLING_ERROR_CODES, XrayInterceptor};
