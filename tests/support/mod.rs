//! Helpers shared by the integration tests.

#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "tracing")]
pub mod bridge;
pub mod logs;
#[cfg(feature = "xray-api")]
pub mod moto;
#[cfg(feature = "otlp")]
pub mod otlp_receiver;
pub mod outgoing;
#[cfg(feature = "otlp")]
pub mod tls;

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::Value;

/// A configuration from `base` pairs, with `extra` pairs winning over them (no process
/// environment).
pub fn config_over(
    base: &[(&str, &str)],
    extra: &[(&'static str, String)],
) -> lambda_trace::Config {
    let mut pairs: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend(
        base.iter()
            .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)),
    );
    lambda_trace::testing::config(&pairs)
}

/// Path of an example binary of this package (`cargo test` builds examples before tests).
pub fn example_binary(name: &str) -> PathBuf {
    let mut dir = std::env::current_exe().expect("test executable path");
    dir.pop(); // the test binary
    if dir.ends_with("deps") {
        dir.pop();
    }
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --examples`",
        path.display()
    );
    path
}

/// Spawns the `echo` example against `api` (function name `echo`), sending its documents to
/// `daemon`, with `env` on top, and waits for its first `/next` poll.
pub async fn spawn_echo(
    api: &lambda_trace_local::RuntimeApi,
    daemon: &lambda_trace_local::XrayDaemon,
    env: &[(&str, &str)],
) -> lambda_trace_local::FunctionProcess {
    let address = daemon.address().to_string();
    let mut vars = vec![
        ("AWS_XRAY_DAEMON_ADDRESS", address.as_str()),
        ("AWS_LAMBDA_FUNCTION_NAME", "echo"),
    ];
    vars.extend_from_slice(env);
    let process =
        lambda_trace_local::FunctionProcess::spawn(&example_binary("echo"), api.address(), &vars)
            .expect("spawn the echo example");
    assert!(
        api.wait_for_next_poll(std::time::Duration::from_secs(30))
            .await,
        "the function never polled /next"
    );
    process
}

/// The AWS X-Ray segment-document schema (draft 4), copied from `shared/xray/`.
fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = include_str!("../data/segment-document.schema.json");
        let schema: Value = serde_json::from_str(text).expect("schema is JSON");
        jsonschema::draft4::new(&schema).expect("schema compiles")
    })
}

/// Asserts that `document` validates against the X-Ray schema and is complete (`end_time` or
/// `in_progress`, which X-Ray requires but the schema does not), recursively for subsegments.
pub fn assert_valid_document(document: &Value) {
    let errors: Vec<String> = schema()
        .iter_errors(document)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "invalid segment document: {errors:#?}\n{document:#}"
    );
    assert_complete(document);
}

fn assert_complete(document: &Value) {
    assert!(
        document.get("end_time").is_some()
            || document.get("in_progress") == Some(&Value::Bool(true)),
        "document without end_time: {document:#}"
    );
    for sub in document["subsegments"].as_array().into_iter().flatten() {
        assert_complete(sub);
    }
}
