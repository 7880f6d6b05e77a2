//! `make test`'s soak: the `lambda-trace-soak` driver of `make soak`, shorter, on the debug builds
//! of the examples that `cargo test --workspace --all-features` builds next to it.
//!
//! 12,000 invocations sequentially and 8,000 with 8 in flight, `VmRSS` sampled every 1,000; the
//! `active` phase (whose growth is lambda_runtime's, not judged) is left to `make soak`. The
//! 256 KiB bound over 11,000 invocations fails a leak of 24 bytes per invocation or more — any
//! heap block that outlives its invocation (the smallest malloc chunk is 32 bytes); `make soak`
//! (90,000 invocations between its samples, release) sees 3 bytes. The trade-off: about 40 s of
//! `make test` on 2 cores (debug builds of the driver and the examples, which `cargo test`
//! builds anyway), for a per-invocation memory or document regression caught in CI rather than
//! in a manual run.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn a_short_soak_passes() {
    let driver = PathBuf::from(env!("CARGO_BIN_EXE_lambda-trace-soak"));
    let examples = driver
        .parent()
        .expect("the driver is in target/<profile>")
        .join("examples");
    for name in ["echo", "concurrent"] {
        assert!(
            examples.join(name).is_file(),
            "{} is missing: run `cargo test --workspace --all-features` (it builds the examples, \
             `concurrent` with the concurrency-tokio feature)",
            examples.join(name).display()
        );
    }
    let json = std::env::temp_dir().join(format!("lambda-trace-soak-{}.json", std::process::id()));
    let output = Command::new(&driver)
        .arg("--bin-dir")
        .arg(&examples)
        .args(["--invocations", "12000", "--active-invocations", "0"])
        .args(["--concurrent-invocations", "8000"])
        .args(["--sample-every", "1000", "--max-minutes", "5", "--json"])
        .arg(&json)
        .output()
        .expect("run lambda-trace-soak");
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // The driver did run what it says: every phase, every invocation, every document.
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("the JSON report")).unwrap();
    let _ = std::fs::remove_file(&json);
    let phases = report["phases"].as_array().expect("phases");
    let summary: Vec<(&str, u64, u64, u64)> = phases
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default(),
                p["invocations"].as_u64().unwrap_or(0),
                p["tally"]["documents"].as_u64().unwrap_or(0),
                p["max_in_flight"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("sequential", 12_000, 12_000, 1),
            ("concurrent", 8_000, 8_000, 8),
        ]
    );
    assert_eq!(report["violations"], serde_json::json!([]));
}
