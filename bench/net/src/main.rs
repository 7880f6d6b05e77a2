//! Variants C and D of `make bench`: the same handler as `bench-traced` under
//! `lambda_trace::run`, built with lambda-trace's `otlp` feature. The driver selects the OTLP
//! exporter (`OTEL_TRACES_EXPORTER=otlp`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` = its receiver)
//! and, for D, `LAMBDA_TRACE_FLUSH_MODE=after-response`.

use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_trace::run(service_fn(lambda_trace_bench::handler::traced)).await
}
