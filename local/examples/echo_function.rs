//! A tiny Lambda function on the real `lambda_runtime` crate, used by the crate's tests to check
//! that the Runtime API emulator speaks the protocol the runtime expects.
//!
//! It answers `{"echo": <event>, "request_id", "trace_id", "deadline_ms", "arn"}` (plus `"env":
//! {name: value or null}` for the names an `"env"` list in the event asks for), fails when the
//! event has a `"fail"` key, and first sends one X-Ray datagram to `AWS_XRAY_DAEMON_ADDRESS` when
//! that is set.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, ctx) = event.into_parts();
    if let Ok(addr) = std::env::var("AWS_XRAY_DAEMON_ADDRESS") {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let doc = json!({ "name": "echo", "request_id": ctx.request_id });
        socket.send_to(
            format!("{{\"format\": \"json\", \"version\": 1}}\n{doc}").as_bytes(),
            addr,
        )?;
    }
    if payload.get("fail").is_some() {
        return Err("asked to fail".into());
    }
    let env: serde_json::Map<String, Value> = payload
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|k| (k.to_owned(), json!(std::env::var(k).ok())))
        .collect();
    Ok(json!({
        "env": env,
        "echo": payload,
        "request_id": ctx.request_id,
        "trace_id": ctx.xray_trace_id,
        "deadline_ms": ctx.deadline,
        "arn": ctx.invoked_function_arn,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
