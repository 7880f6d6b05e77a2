//! Variant A of `make bench`: the handler under plain `lambda_runtime::run`, no tracing.

use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(lambda_trace_bench::handler::bare)).await
}
