//! Variants S1 and S10 of `make bench`: the SQS consumer under plain `lambda_runtime::run`, no
//! tracing (every record parsed and priced in a loop).

use lambda_runtime::{Error, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(lambda_trace_bench::handler::sqs_bare)).await
}
