//! Variants T1 and T10 of `make bench`: the same SQS consumer under `lambda_trace::run` (default
//! features, X-Ray daemon exporter), each record in a `process` span of its own trace
//! (`lambda_trace::messaging::each_record`).

use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_trace::run(service_fn(lambda_trace_bench::handler::sqs_traced)).await
}
