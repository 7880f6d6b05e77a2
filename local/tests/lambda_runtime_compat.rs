//! The emulator against the real `lambda_runtime` crate, run as a child process
//! (`examples/echo_function.rs`): keep-alive, headers, responses, errors, the hook's timing.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_trace_local::{FunctionProcess, Invocation, Outcome, RuntimeApi, XrayDaemon};

fn example_binary(name: &str) -> PathBuf {
    // target/debug/deps/<test> → target/debug/examples/<name>
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        // `cargo test --test <this>` doesn't build examples; `cargo test` does.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "lambda-trace-local", "--example", name])
            .status()
            .unwrap();
        assert!(status.success(), "building example {name} failed");
    }
    path
}

#[tokio::test]
async fn real_lambda_runtime_round_trips() {
    let api = RuntimeApi::start().await.unwrap();
    let daemon = Arc::new(XrayDaemon::bind().unwrap());
    let daemon_addr = daemon.address().to_string();
    let seen_at_hook = Arc::new(Mutex::new(Vec::new()));
    {
        let daemon = daemon.clone();
        let seen = seen_at_hook.clone();
        api.on_response(move |id| {
            let docs = daemon.drain();
            seen.lock().unwrap().push((id.to_owned(), docs.len()));
        });
    }
    let function = FunctionProcess::spawn(
        &example_binary("echo_function"),
        api.address(),
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", "echo"),
            ("AWS_XRAY_DAEMON_ADDRESS", &daemon_addr),
        ],
    )
    .unwrap();
    assert!(
        api.wait_for_next_poll(Duration::from_secs(20)).await,
        "the function never polled /next\n{}",
        function.output()
    );

    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    for i in 0..3 {
        let result = api
            .invoke(
                Invocation::new(format!(r#"{{"n":{i}}}"#))
                    .with_trace_header(trace)
                    .with_deadline(Duration::from_secs(10)),
            )
            .await;
        let Outcome::Response(body) = &result.outcome else {
            panic!("{:?}\n{}", result.outcome, function.output());
        };
        let v: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(v["echo"]["n"], i);
        assert_eq!(v["request_id"], result.request_id.as_str());
        assert_eq!(v["trace_id"], trace);
        assert_eq!(
            v["arn"],
            "arn:aws:lambda:us-east-1:123456789012:function:local"
        );
        assert!(v["deadline_ms"].as_u64().unwrap() > 0);
        assert!(result.next_answered_at <= result.completed_at);
    }

    let result = api.invoke(Invocation::new(r#"{"fail":true}"#)).await;
    match &result.outcome {
        Outcome::Error { body, .. } => {
            assert!(String::from_utf8_lossy(body).contains("asked to fail"))
        }
        other => panic!("{other:?}\n{}", function.output()),
    }

    // The function sent its datagram before posting: the hook saw it before the 202.
    let seen = seen_at_hook.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|(_, n)| *n == 1), "{seen:?}");
}
