//! The `lambda-trace-local` binary itself with a user's function: `serve --route … --tracing
//! passthrough` behind the local API Gateway with a caller's `traceparent` (the acceptance run of
//! issue 19), and `invoke --bin` keeping the caller's environment (`AWS_REGION`).

mod common;

use std::process::Stdio;
use std::time::Duration;

use hyper::Method;
use lambda_trace_local::client;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const CLI: &str = env!("CARGO_BIN_EXE_lambda-trace-local");

/// Reads `lines` until one satisfies `want`; everything read so far on failure.
async fn read_until(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    seen: &mut String,
    want: impl Fn(&str) -> bool,
) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
    loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .ok()?
            .ok()??;
        seen.push_str(&line);
        seen.push('\n');
        if want(&line) {
            return Some(line);
        }
    }
}

#[tokio::test]
async fn serve_route_passthrough_continues_the_callers_trace() {
    let order = common::user_function("order");
    let mut child = Command::new(CLI)
        .args([
            "serve",
            "--port",
            "0",
            "--otlp-port",
            "0",
            "--tracing",
            "passthrough",
        ])
        .arg("--route")
        .arg(format!("POST /orders={}", order.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let serving = read_until(&mut lines, &mut seen, |l| {
        l.starts_with("serving on http://")
    })
    .await
    .unwrap_or_else(|| panic!("serve did not start:\n{seen}"));
    assert!(serving.contains("PassThrough tracing"), "{serving}");
    assert!(serving.contains("POST /orders → order"), "{serving}");
    let addr: std::net::SocketAddr = serving["serving on http://".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();

    let (hex, span) = common::random_w3c();
    let response = client::send(
        addr,
        Method::POST,
        "/orders",
        &[("traceparent", &format!("00-{hex}-{span}-01"))],
        r#"{"orderId": "o-9", "customerId": "c-1", "items": [{"sku": "s", "qty": 1, "price": 2.0}]}"#,
    )
    .await
    .unwrap();
    assert_eq!(response.status, 201, "{}", response.text());
    let caller_trace = common::xray_id(&hex);
    let header = read_until(&mut lines, &mut seen, |l| l.starts_with("trace "))
        .await
        .unwrap_or_else(|| panic!("no waterfall printed:\n{seen}"));
    assert!(
        header.starts_with(&format!("trace {caller_trace} ")),
        "the trace is the caller's {caller_trace}:\n{seen}"
    );
    read_until(&mut lines, &mut seen, |l| l.contains("Handler"))
        .await
        .unwrap_or_else(|| panic!("the function's spans are not in the waterfall:\n{seen}"));
    child.kill().await.unwrap();
}

/// `invoke --bin` with the echo function, the event asking for these variables.
async fn invoke_env(env: &[(&str, &str)], remove: &[&str]) -> serde_json::Value {
    let echo = common::example("echo_function");
    let dir = std::env::temp_dir().join(format!("lt-local-env-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let event = dir.join("event.json");
    std::fs::write(
        &event,
        r#"{"env": ["AWS_REGION", "AWS_DEFAULT_REGION", "LT_LOCAL_USER_VAR", "AWS_LAMBDA_FUNCTION_NAME"]}"#,
    )
    .unwrap();
    let mut cmd = Command::new(CLI);
    cmd.args(["invoke", "--otlp-port", "0", "--name", "echo", "--bin"])
        .arg(&echo)
        .arg("--event")
        .arg(&event);
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in remove {
        cmd.env_remove(k);
    }
    let out = cmd.output().await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    let body = stdout
        .split_once("response:\n")
        .and_then(|(_, rest)| rest.lines().next())
        .unwrap_or_else(|| {
            panic!(
                "no response printed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    serde_json::from_str::<serde_json::Value>(body).unwrap()["env"].clone()
}

#[tokio::test]
async fn invoke_keeps_the_callers_environment() {
    let env = invoke_env(
        &[("AWS_REGION", "eu-west-3"), ("LT_LOCAL_USER_VAR", "kept")],
        &["AWS_DEFAULT_REGION"],
    )
    .await;
    assert_eq!(env["AWS_REGION"], "eu-west-3", "{env}");
    assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-3", "{env}");
    assert_eq!(env["LT_LOCAL_USER_VAR"], "kept", "{env}");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "echo", "{env}");

    let env = invoke_env(
        &[],
        &["AWS_REGION", "AWS_DEFAULT_REGION", "LT_LOCAL_USER_VAR"],
    )
    .await;
    assert_eq!(env["AWS_REGION"], "us-east-1", "{env}");
    assert_eq!(env["AWS_DEFAULT_REGION"], "us-east-1", "{env}");
    assert!(env["LT_LOCAL_USER_VAR"].is_null(), "{env}");
}
