//! The `make bench` driver, run for a few invocations on the debug builds of `bench-bare` and
//! `bench-traced` (built next to it for this test): both ways of interleaving the variants
//! measure every invocation, check every document, and leave no binary copies behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const ROUNDS: usize = 2;
const INVOCATIONS: usize = 15;
const WARMUP: usize = 3;

/// Runs the driver with `--interleave interleave`; returns its JSON report and its pid.
fn run_driver(interleave: &str) -> (Value, u32) {
    let driver = PathBuf::from(env!("CARGO_BIN_EXE_lambda-trace-bench"));
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_bench-bare"))
        .parent()
        .expect("the binaries are in target/<profile>")
        .to_path_buf();
    let json = std::env::temp_dir().join(format!(
        "lambda-trace-bench-test-{interleave}-{}.json",
        std::process::id()
    ));
    let child = Command::new(&driver)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .arg("--bin-dir")
        .arg(&bin_dir)
        .args(["--rounds", &ROUNDS.to_string()])
        .args(["--invocations", &INVOCATIONS.to_string()])
        .args(["--warmup", &WARMUP.to_string()])
        .args(["--init-samples", "1", "--network", "false"])
        .args(["--interleave", interleave, "--json"])
        .arg(&json)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start lambda-trace-bench");
    let pid = child.id();
    let output = child.wait_with_output().expect("run lambda-trace-bench");
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&json).expect("the JSON report"))
        .expect("the report is JSON");
    let _ = std::fs::remove_file(&json);
    (report, pid)
}

fn check(interleave: &str) {
    let (report, pid) = run_driver(interleave);
    assert_eq!(report["config"]["interleave"], interleave);
    let variants = report["variants"].as_array().expect("variants");
    let keys: Vec<&str> = variants.iter().filter_map(|v| v["key"].as_str()).collect();
    assert_eq!(keys, ["A", "A'", "B", "B'"]);
    for v in variants {
        let rounds = v["rounds"].as_array().expect("rounds");
        assert_eq!(rounds.len(), ROUNDS, "{}", v["key"]);
        for r in rounds {
            assert!(r["p50_us"].as_f64().unwrap() > 0.0, "{r}");
            assert!(r["cycle_p50_us"].as_f64().unwrap() >= r["p50_us"].as_f64().unwrap());
            assert!(r["cpu_us_per_invocation"].as_f64().unwrap() > 0.0, "{r}");
        }
        // The report names the binary that was asked for, not the private copy that ran.
        let binary = v["binary"].as_str().unwrap();
        assert!(!binary.contains("lambda-trace-bench-"), "{binary}");
    }
    // One document of the event's trace per invocation of B and B', warm-up included (the
    // driver fails otherwise; the counts say it was checked).
    let expected = WARMUP + ROUNDS * INVOCATIONS;
    for traced in &variants[2..] {
        assert_eq!(traced["datagrams"], expected, "{}", traced["key"]);
        assert_eq!(traced["spans_in_event_trace"], 4 * expected);
    }
    let copies = std::env::temp_dir().join(format!("lambda-trace-bench-{pid}"));
    assert!(!copies.exists(), "{} was left behind", copies.display());
}

#[test]
fn turn_by_turn_measures_and_checks_every_invocation() {
    check("invocations");
}

#[test]
fn rounds_in_a_row_measure_and_check_every_invocation() {
    check("rounds");
}
