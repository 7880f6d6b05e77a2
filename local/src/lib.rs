//! Local stand-in for API Gateway, the Lambda Runtime API and the X-Ray daemon.
//!
//! Run traced Lambda functions as real processes on `127.0.0.1` and look at their trace:
//!
//! - [`RuntimeApi`]: an emulator of the Lambda Runtime API that a function binary polls;
//! - [`FunctionProcess`]: spawns the function binary with the Lambda environment;
//! - [`XrayDaemon`]: a UDP socket that receives X-Ray segment documents;
//! - [`otlp::OtlpReceiver`]: an OTLP/HTTP receiver (protobuf or JSON, gzip, plain HTTP or TLS
//!   with a certificate from [`tls`]) whose spans join the same traces;
//!   [`exporter::FunctionExporter`] picks which of the two the functions send to;
//! - [`gateway::Gateway`]: an API Gateway (REST, v1 proxy) stand-in with emulated Active tracing
//!   ([`lambda`] adds the `AWS::Lambda` / `AWS::Lambda::Function` segments);
//! - [`collector::Collector`]: assembles documents into [`collector::Trace`] trees, rendered by
//!   [`waterfall`] (terminal) and [`html`] (a self-contained page);
//! - [`stack::Stack`]: all of it wired together, as the `lambda-trace-local` binary uses it;
//!   its functions come from [`stack::demo_functions`], [`routes`] (`--route`) or [`template`]
//!   (`--template`, a SAM template), traced as [`tracing_mode::TracingMode`] says;
//! - queues (feature `sqs`): [`moto`] runs `moto_server` as the SQS the functions send to,
//!   `sqs` receives from it and writes Lambda's SQS event, and `esm` plays Lambda's event source
//!   mapping (polls the queue, invokes a function with batches, deletes what it processed).
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use lambda_trace_local::{FunctionProcess, Invocation, RuntimeApi};
//! let api = RuntimeApi::start().await?;
//! let _function = FunctionProcess::spawn("target/debug/router".as_ref(), api.address(), &[])?;
//! assert!(api.wait_for_next_poll(std::time::Duration::from_secs(10)).await);
//! let result = api.invoke(Invocation::new(r#"{"hello":"world"}"#)).await;
//! println!("{:?}", result.outcome);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod client;
pub mod collector;
pub mod daemon;
pub mod encoding;
#[cfg(feature = "sqs")]
pub mod esm;
pub mod exporter;
pub mod gateway;
pub mod html;
pub mod ids;
pub mod lambda;
pub mod moto;
pub mod otlp;
pub mod process;
pub mod routes;
pub mod runtime_api;
pub mod server;
#[cfg(feature = "sqs")]
pub mod sqs;
pub mod stack;
pub mod template;
pub mod tls;
pub mod tracing_mode;
pub mod waterfall;

pub use daemon::{Datagram, XrayDaemon};
pub use process::{FunctionProcess, Output};
pub use runtime_api::{InitError, Invocation, InvocationResult, Outcome, RuntimeApi};
