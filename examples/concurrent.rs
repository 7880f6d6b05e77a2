//! A traced function for lambda_runtime's concurrent mode (`AWS_LAMBDA_MAX_CONCURRENCY` > 1).
//!
//! Input: `{"n": <number>}`. It annotates `n` on the invocation span, then runs three child spans
//! that each wait a little (so invocations overlap; `"sleep_ms"`, default 5) and annotate the same
//! `n`: in the trace, every span of an invocation carries that invocation's `n`, and no other.
//!
//! Run: `cargo run --example concurrent --features concurrency-tokio` against a Runtime API.

use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let n = event.payload["n"].as_i64().unwrap_or(-1);
    let wait = Duration::from_millis(event.payload["sleep_ms"].as_u64().unwrap_or(5));
    let span = lambda_trace::current();
    span.annotate("n", n);
    for step in 0..3 {
        span.in_child(format!("step-{step}"), async {
            tokio::time::sleep(wait).await;
            lambda_trace::current().annotate("n", n);
        })
        .await;
    }
    Ok(json!({ "n": n }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_trace::run_concurrent(service_fn(handler)).await
}
