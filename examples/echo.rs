//! The smallest traced function: it echoes its event, with one child span per `"children"`.
//!
//! Input: any JSON event. These keys change what it does, so tests can drive every path:
//! `{"children": 3}` opens three child spans, `{"metadata_bytes": 5000}` gives each child that
//! much metadata, `{"sleep_ms": 1500}` then sleeps that long inside a child span `sleep`,
//! `{"fail": "why"}` returns an error, `{"panic": "why"}` panics, `{"status": 503}` answers an
//! API Gateway response with that status.
//!
//! Run it against a Runtime API (Lambda, or `lambda-trace-local`):
//! `AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 cargo run --example echo`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    let span = lambda_trace::current();
    span.annotate("requestId", event.context.request_id.as_str());

    let children = payload["children"].as_u64().unwrap_or(0);
    let metadata_bytes = payload["metadata_bytes"].as_u64().unwrap_or(0) as usize;
    for i in 0..children {
        span.in_child(format!("child-{i}"), async {
            let child = lambda_trace::current();
            child.metadata("index", i);
            if metadata_bytes > 0 {
                child.metadata("data", "d".repeat(metadata_bytes));
            }
        })
        .await;
    }
    if let Some(ms) = payload["sleep_ms"].as_u64() {
        let sleep = tokio::time::sleep(std::time::Duration::from_millis(ms));
        span.in_child("sleep", sleep).await;
    }
    if let Some(why) = payload["fail"].as_str() {
        return Err(why.into());
    }
    if let Some(why) = payload["panic"].as_str() {
        panic!("{why}");
    }
    if let Some(status) = payload["status"].as_u64() {
        return Ok(json!({ "statusCode": status, "body": "" }));
    }
    Ok(payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_trace::run(service_fn(handler)).await
}
