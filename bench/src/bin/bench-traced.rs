//! Variant B of `make bench`: the same handler under `lambda_trace::run` (default features,
//! X-Ray daemon exporter): one invocation span + 3 child spans with an annotation each.

use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_trace::run(service_fn(lambda_trace_bench::handler::traced)).await
}
