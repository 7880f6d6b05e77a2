//! Local stand-in for API Gateway, the Lambda Runtime API and the X-Ray daemon.
//!
//! Run traced Lambda functions as real processes on `127.0.0.1` and look at their trace:
//!
//! - [`RuntimeApi`]: an emulator of the Lambda Runtime API that a function binary polls;
//! - [`FunctionProcess`]: spawns the function binary with the Lambda environment;
//! - [`XrayDaemon`]: a UDP socket that receives X-Ray segment documents.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod client;
pub mod collector;
pub mod daemon;
pub mod encoding;
pub mod gateway;
pub mod html;
pub mod ids;
pub mod lambda;
pub mod process;
pub mod runtime_api;
pub mod server;
pub mod waterfall;

pub use daemon::{Datagram, XrayDaemon};
pub use process::{FunctionProcess, Output};
pub use runtime_api::{InitError, Invocation, InvocationResult, Outcome, RuntimeApi};
