//! Variant F of `make bench-alternatives`: the bench handler under lambda-otel-lite, as its Quick
//! Start sets it up: `init_telemetry(TelemetryConfig::default())` and `create_traced_handler`.
//!
//! Defaults: the `sync` processor mode (`force_flush` at the end of the handler, before the
//! response) and the `OtlpStdoutSpanExporter`: each flush writes one JSON line to stdout with
//! the spans as gzip-compressed, base64-encoded OTLP protobuf (for a log-forwarding pipeline).
//! The handler span continues the trace of the event's `X-Amzn-Trace-Id` header.
//!
//! Its `tracing` filter reads `AWS_LAMBDA_LOG_LEVEL`: the driver sets `info`; unset, the filter
//! is at `error` and no span is created, so nothing is exported at all.

use lambda_otel_lite::{TelemetryConfig, create_traced_handler, init_telemetry};
use lambda_runtime::{Error, Runtime, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (_tracer, completion) = init_telemetry(TelemetryConfig::default()).await?;
    let handler = create_traced_handler(
        "alt-otel-lite",
        completion,
        lambda_trace_bench_alternatives::traced,
    );
    Runtime::new(service_fn(handler)).run().await
}
