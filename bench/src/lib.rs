//! `make bench`: the end-to-end overhead of `lambda-trace` (issue 6).
//!
//! The same API Gateway handler ([`handler`]) is built twice: `bench-bare` runs it under plain
//! `lambda_runtime::run`, `bench-traced` under `lambda_trace::run` (default features, X-Ray
//! daemon exporter, one invocation span + 3 child spans). The driver `lambda-trace-bench` runs
//! each as a real process behind its own local Lambda Runtime API
//! ([`lambda_trace_local::RuntimeApi`]), the traced one sending to a real UDP socket
//! ([`lambda_trace_local::XrayDaemon`]), in interleaved rounds, and reports latency, CPU, init
//! time, peak RSS and binary size as ratios to the bare handler, with an A/A row (bare vs. bare)
//! for the noise. With `--network true`, two more variants run `bench-traced-otlp` (package
//! `lambda-trace-bench-net`, lambda-trace's `otlp` feature) against an OTLP/HTTP receiver in the
//! driver ([`otlp`]), flushing before and after the response, over plain HTTP and over HTTPS (a
//! certificate made at start, [`tls`]). See `bench/README.md`.
//!
//! `make soak` runs the crate's examples for 100,000 invocations each through the same local
//! Runtime API (driver `lambda-trace-soak`, checks in [`soak`]): every document accounted for,
//! memory flat.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod cli;
pub mod handler;
pub mod otlp;
pub mod procfs;
pub mod report;
pub mod soak;
pub mod stats;
pub mod stdout;
pub mod tls;
