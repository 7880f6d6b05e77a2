//! `lambda-trace-soak`: the driver of `make soak` (issue 7, "Load").
//!
//! ```text
//! lambda-trace-soak [--bin-dir target/release/examples] [--invocations 100000]
//!                   [--active-invocations 100000] [--concurrent-invocations 100000]
//!                   [--in-flight 8] [--sample-every 10000] [--max-growth-kib 256]
//!                   [--max-minutes 15] [--json out/soak.json]
//! ```
//!
//! Three phases, each a fresh function process behind its own local Runtime API and X-Ray
//! daemon; every invocation has its own request id and its own trace header
//! `Root=…;Parent=…;Sampled=1`:
//!
//! 1. `sequential`: the `echo` example, `--invocations` one after the other, the trace header in
//!    the event (`headers.X-Amzn-Trace-Id`, as API Gateway passes a caller's);
//! 2. `active`: the same, `--active-invocations`, the header sent as `Lambda-Runtime-Trace-Id`
//!    (Lambda under Active tracing). Its memory is shown, not judged: `lambda_runtime`'s
//!    sequential loop sets `_X_AMZN_TRACE_ID` for every invocation, and glibc's `setenv` keeps
//!    every value it was ever given (116 bytes of heap per distinct header, ~150 of RSS; the
//!    only allocations that outlive an invocation, per heaptrack), with or without tracing;
//! 3. `concurrent`: the `concurrent` example with `AWS_LAMBDA_MAX_CONCURRENCY=--in-flight` and
//!    `Lambda-Runtime-Trace-Id` headers, the driver keeping twice that many invocations queued
//!    so the process always has `--in-flight` in hand (checked: the most seen at once).
//!    Concurrent mode sets no environment variable.
//!
//! Datagrams are drained from the daemon's socket when each response arrives (the functions
//! flush before they respond) and checked as they come ([`soak::Ledger`]), never kept. `VmRSS`
//! of the process is sampled every `--sample-every` invocations, `VmHWM` at the end. It fails
//! (exit code 1) on any mismatch, on growth from the first sample to the last above
//! `--max-growth-kib` (`sequential` and `concurrent`), when fewer than `--in-flight`
//! invocations ever ran at once, when a function writes to stderr, exits or stops answering,
//! and when the whole run takes longer than `--max-minutes`. A phase given 0 invocations is
//! skipped. It builds nothing: build the driver and
//! `cargo build --release --features concurrency-tokio --example echo --example concurrent`
//! first (`make soak` does).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_trace_bench::cli;
use lambda_trace_bench::procfs::{self, Machine};
use lambda_trace_bench::soak::{self, Carrier, Expected, Function, Ledger, MemorySample, Tally};
use lambda_trace_local::{Datagram, FunctionProcess, Invocation, Outcome, RuntimeApi, XrayDaemon};
use serde::Serialize;
use tokio::task::JoinSet;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long a function may take to reach its first `/next` poll.
const INIT_TIMEOUT: Duration = Duration::from_secs(20);

/// Each invocation's deadline: one that takes longer (plus the emulator's 5 s grace) means the
/// function hung or died, and the run stops.
const DEADLINE: Duration = Duration::from_secs(10);

/// The default `--max-growth-kib`. Release runs grow 44–92 KiB from 10k to 100k invocations,
/// less and less (glibc's arenas settling: heaptrack finds the same live heap, 208 KiB at peak,
/// after 5,000 and after 20,000 invocations), so about 3× that. Over 90,000 invocations it is
/// 2.9 bytes each, where a heap block that outlives its invocation is at least 32 (2.8 MiB).
const MAX_GROWTH_KIB: u64 = 256;

/// Time for datagrams still in flight after the last response (there should be none).
const STRAGGLERS: Duration = Duration::from_millis(100);

const USAGE: &str = "usage: lambda-trace-soak [--bin-dir target/release/examples] \
     [--invocations 100000] [--active-invocations 100000] [--concurrent-invocations 100000] \
     [--in-flight 8] [--sample-every 10000] [--max-growth-kib 256] [--max-minutes 15] \
     [--json out/soak.json]";

#[derive(Debug, Clone, PartialEq)]
struct Args {
    bin_dir: PathBuf,
    invocations: u64,
    active_invocations: u64,
    concurrent_invocations: u64,
    in_flight: usize,
    sample_every: u64,
    max_growth_kib: i64,
    max_duration: Duration,
    json: Option<PathBuf>,
}

impl Args {
    fn parse(it: impl Iterator<Item = String>) -> Result<Args, Error> {
        let mut args = Args {
            bin_dir: "target/release/examples".into(),
            invocations: 100_000,
            active_invocations: 100_000,
            concurrent_invocations: 100_000,
            in_flight: 8,
            sample_every: 10_000,
            max_growth_kib: MAX_GROWTH_KIB as i64,
            max_duration: Duration::from_secs(15 * 60),
            json: None,
        };
        cli::options(it, USAGE, |name, value| {
            match name {
                "--bin-dir" => args.bin_dir = value.into(),
                "--invocations" => args.invocations = cli::parse(name, value)?,
                "--active-invocations" => args.active_invocations = cli::parse(name, value)?,
                "--concurrent-invocations" => {
                    args.concurrent_invocations = cli::parse(name, value)?;
                }
                "--in-flight" => args.in_flight = cli::parse(name, value)?,
                "--sample-every" => args.sample_every = cli::parse(name, value)?,
                "--max-growth-kib" => args.max_growth_kib = cli::parse::<u64>(name, value)? as i64,
                "--max-minutes" => {
                    args.max_duration = Duration::from_secs(cli::parse::<u64>(name, value)? * 60);
                }
                "--json" => args.json = Some(value.into()),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if args.sample_every == 0 || args.in_flight < 2 {
            return Err("--sample-every must be at least 1 and --in-flight at least 2".into());
        }
        for n in [
            args.invocations,
            args.active_invocations,
            args.concurrent_invocations,
        ] {
            if n != 0 && n < 2 * args.sample_every {
                return Err(format!(
                    "{n} invocations give fewer than two memory samples every {}",
                    args.sample_every
                )
                .into());
            }
        }
        Ok(args)
    }
}

/// What a phase runs.
#[derive(Debug, Clone, Copy)]
struct Phase {
    name: &'static str,
    function: Function,
    carrier: Carrier,
    invocations: u64,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`; 1 runs sequentially.
    in_flight: usize,
    /// Whether its memory growth is held to `--max-growth-kib`.
    judged: bool,
}

/// What a phase measured.
#[derive(Debug, Clone, Serialize)]
struct PhaseResult {
    name: &'static str,
    function: Function,
    carrier: Carrier,
    binary: String,
    invocations: u64,
    /// `AWS_LAMBDA_MAX_CONCURRENCY` (1: sequential).
    in_flight: usize,
    /// The most invocations the function had in hand at once.
    max_in_flight: usize,
    /// Time-weighted mean of the invocations in hand (sum of `/next` → result / wall time).
    mean_in_flight: f64,
    seconds: f64,
    per_second: f64,
    rss: Vec<MemorySample>,
    rss_growth_kib: i64,
    rss_slope_bytes_per_invocation: f64,
    /// Whether the growth is held to the bound.
    rss_judged: bool,
    vm_hwm_kib: u64,
    tally: Tally,
    stderr: String,
}

/// Everything a run produced, as written to `--json`.
#[derive(Debug, Serialize)]
struct Report {
    date: String,
    machine: Machine,
    config: serde_json::Value,
    phases: Vec<PhaseResult>,
    violations: Vec<String>,
    /// Peak RSS of this driver, KiB (it keeps no document).
    driver_vm_hwm_kib: u64,
    seconds: f64,
}

async fn run_phase(phase: Phase, args: &Args, run: u32) -> Result<PhaseResult, Error> {
    let binary = args.bin_dir.join(phase.function.binary());
    if !binary.is_file() {
        return Err(format!(
            "{} not found: build it first (cargo build --release --features concurrency-tokio \
             --example echo --example concurrent)",
            binary.display()
        )
        .into());
    }
    let daemon = Arc::new(XrayDaemon::bind()?);
    let api = RuntimeApi::start().await?;
    // Runs when a result arrives, before it is acknowledged: the function flushed before it
    // posted, so its documents are in the socket. They are checked, then dropped. The lock is
    // held while reading the socket: a concurrent hook that took this invocation's document
    // has put it in `arrived` before this one returns.
    let arrived: Arc<Mutex<Vec<Datagram>>> = Arc::default();
    let (sink, socket) = (Arc::clone(&arrived), Arc::clone(&daemon));
    api.on_response(move |_| {
        let mut sink = sink.lock().unwrap_or_else(PoisonError::into_inner);
        sink.extend(socket.take());
    });
    let take = || std::mem::take(&mut *arrived.lock().unwrap_or_else(PoisonError::into_inner));

    let name = format!("soak-{}", phase.function.binary());
    let address = daemon.address().to_string();
    let concurrency = phase.in_flight.to_string();
    let mut env = vec![
        ("AWS_LAMBDA_FUNCTION_NAME", name.as_str()),
        ("AWS_XRAY_DAEMON_ADDRESS", address.as_str()),
    ];
    if phase.in_flight > 1 {
        env.push(("AWS_LAMBDA_MAX_CONCURRENCY", concurrency.as_str()));
    }
    let mut process = FunctionProcess::spawn(&binary, api.address(), &env)?;
    if !api.wait_for_next_poll(INIT_TIMEOUT).await {
        let _ = process.kill().await;
        return Err(format!(
            "{} did not poll /next within {INIT_TIMEOUT:?}\n{}",
            binary.display(),
            process.output()
        )
        .into());
    }
    let pid = process
        .id()
        .ok_or_else(|| format!("{} exited at start", binary.display()))?;

    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as u32);
    let mut ledger = Ledger::new(phase.function, phase.carrier, &name, run);
    // Twice the concurrency queued: the function's pollers never wait for the driver.
    let window = if phase.in_flight > 1 {
        2 * phase.in_flight
    } else {
        1
    };
    let mut calls = JoinSet::new();
    let (mut sent, mut done) = (0u64, 0u64);
    let mut busy = Duration::ZERO;
    let mut block: Vec<(Instant, Instant)> = Vec::new();
    let mut max_in_flight = 0;
    let mut rss = Vec::new();
    let started = Instant::now();
    while done < phase.invocations {
        while sent < phase.invocations && calls.len() < window {
            let expected = Expected::new(run, epoch, sent);
            let event = phase.function.payload(&expected, phase.carrier);
            let mut invocation = Invocation::new(serde_json::to_vec(&event)?)
                .with_request_id(&expected.request_id)
                .with_deadline(DEADLINE);
            if phase.carrier == Carrier::Lambda {
                invocation = invocation.with_trace_header(expected.trace_header());
            }
            let trace_id = expected.trace_id.clone();
            ledger.open(expected);
            let api = api.clone();
            calls.spawn(async move { (trace_id, api.invoke(invocation).await) });
            sent += 1;
        }
        let Some(joined) = calls.join_next().await else {
            break;
        };
        let (trace_id, result) = joined?;
        if result.outcome == Outcome::TimedOut {
            let exited = process.try_wait().ok().flatten();
            return Err(format!(
                "{}: invocation {} got no result within {DEADLINE:?} + grace after {done} \
                 (exit status {exited:?})\n{}",
                phase.name,
                result.request_id,
                process.output()
            )
            .into());
        }
        for datagram in take() {
            ledger.datagram(&datagram);
        }
        ledger.close(&trace_id, &result.outcome);
        busy += result
            .completed_at
            .saturating_duration_since(result.next_answered_at);
        block.push((result.next_answered_at, result.completed_at));
        done += 1;
        if done.is_multiple_of(args.sample_every) {
            let rss_kib = procfs::status_kib(pid, "VmRSS")?;
            rss.push(MemorySample {
                invocations: done,
                rss_kib,
            });
            max_in_flight = max_in_flight.max(soak::max_overlap(&block));
            block.clear();
            eprintln!(
                "{}: {done}/{} invocations, {:.1} s, VmRSS {rss_kib} KiB, {} mismatches",
                phase.name,
                phase.invocations,
                started.elapsed().as_secs_f64(),
                ledger.tally.mismatches()
            );
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    max_in_flight = max_in_flight.max(soak::max_overlap(&block));
    // Anything that arrives now is a duplicate or a stranger.
    tokio::time::sleep(STRAGGLERS).await;
    for datagram in take().into_iter().chain(daemon.take()) {
        ledger.datagram(&datagram);
    }
    let vm_hwm_kib = procfs::peak_rss_kib(pid)?;
    if let Ok(Some(status)) = process.try_wait() {
        return Err(format!("{}: the function exited ({status})", phase.name).into());
    }
    process.kill().await?;
    Ok(PhaseResult {
        name: phase.name,
        function: phase.function,
        carrier: phase.carrier,
        binary: binary.display().to_string(),
        invocations: done,
        in_flight: phase.in_flight,
        max_in_flight,
        mean_in_flight: busy.as_secs_f64() / seconds.max(f64::EPSILON),
        seconds,
        per_second: done as f64 / seconds.max(f64::EPSILON),
        rss_growth_kib: soak::growth_kib(&rss),
        rss_slope_bytes_per_invocation: soak::slope_bytes_per_invocation(&rss),
        rss,
        rss_judged: phase.judged,
        vm_hwm_kib,
        tally: ledger.tally,
        stderr: process.stderr().chars().take(2000).collect(),
    })
}

/// The phases to run, in order.
fn phases(args: &Args) -> Vec<Phase> {
    let phase = |name, function, carrier, invocations, in_flight, judged| Phase {
        name,
        function,
        carrier,
        invocations,
        in_flight,
        judged,
    };
    let (echo, event, lambda) = (Function::Echo, Carrier::Event, Carrier::Lambda);
    [
        phase("sequential", echo, event, args.invocations, 1, true),
        phase("active", echo, lambda, args.active_invocations, 1, false),
        phase(
            "concurrent",
            Function::Concurrent,
            lambda,
            args.concurrent_invocations,
            args.in_flight,
            true,
        ),
    ]
    .into_iter()
    .filter(|p| p.invocations > 0)
    .collect()
}

/// Every rule the run broke.
fn violations(results: &[PhaseResult], args: &Args) -> Vec<String> {
    let mut out = Vec::new();
    for r in results {
        let t = &r.tally;
        if t.mismatches() > 0 {
            out.push(format!(
                "{}: {} mismatches (missing {}, late {}, duplicate {}, foreign {}, malformed {}, \
                 bad responses {}); first: {:#?}",
                r.name,
                t.mismatches(),
                t.missing,
                t.late,
                t.duplicate,
                t.foreign,
                t.malformed,
                t.bad_responses,
                t.examples
            ));
        }
        if t.documents < r.invocations {
            out.push(format!(
                "{}: {} documents for {} invocations",
                r.name, t.documents, r.invocations
            ));
        }
        if !r.stderr.trim().is_empty() {
            out.push(format!("{} wrote to stderr: {}", r.name, r.stderr));
        }
        if r.in_flight > 1 && r.max_in_flight < r.in_flight {
            out.push(format!(
                "{}: at most {} invocations ran at once, not {}",
                r.name, r.max_in_flight, r.in_flight
            ));
        }
        if r.rss_judged && r.rss_growth_kib > args.max_growth_kib {
            out.push(format!(
                "{}: VmRSS grew {} KiB from {} to {} invocations (bound {} KiB)",
                r.name,
                r.rss_growth_kib,
                r.rss.first().map_or(0, |s| s.invocations),
                r.invocations,
                args.max_growth_kib
            ));
        }
    }
    out
}

fn thousands(n: u64) -> String {
    if n.is_multiple_of(1000) {
        format!("{}k", n / 1000)
    } else {
        n.to_string()
    }
}

/// The short report: a table, then the verdict.
fn render(report: &Report, args: &Args) -> String {
    let mut out = format!(
        "lambda-trace-soak {} on {} CPUs (load {:.2}), {:.0} s\n\n",
        report.date, report.machine.nproc, report.machine.load_average_1m, report.seconds
    );
    out += "| phase | in flight (max / mean) | invocations | time | per s | VmRSS KiB | growth | slope | VmHWM | documents | spans | mismatches |\n";
    out += "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n";
    for r in &report.phases {
        let points: Vec<String> = [
            r.rss.first(),
            r.rss.get(r.rss.len().saturating_sub(1) / 2),
            r.rss.last(),
        ]
        .into_iter()
        .flatten()
        .map(|s| format!("{} @{}", s.rss_kib, thousands(s.invocations)))
        .collect();
        out += &format!(
            "| {}{} | {} ({} / {:.1}) | {} | {:.1} s | {:.0} | {} | {:+} KiB | {:.1} B/inv | {} KiB | {} | {} | {} |\n",
            r.name,
            if r.rss_judged { "" } else { "*" },
            r.in_flight,
            r.max_in_flight,
            r.mean_in_flight,
            r.invocations,
            r.seconds,
            r.per_second,
            points.join(" → "),
            r.rss_growth_kib,
            r.rss_slope_bytes_per_invocation,
            r.vm_hwm_kib,
            r.tally.documents,
            r.tally.spans,
            r.tally.mismatches(),
        );
    }
    out += &format!(
        "\ntrace header in the event (sequential) or Lambda-Runtime-Trace-Id (active, concurrent); \
         growth bound {} KiB.\n",
        args.max_growth_kib
    );
    if report.phases.iter().any(|r| !r.rss_judged) {
        out += "* growth not judged: lambda_runtime's sequential loop sets _X_AMZN_TRACE_ID per \
                invocation and glibc's setenv keeps every value (~150 B each), traced or not.\n";
    }
    if report.violations.is_empty() {
        out += "\nPASS\n";
    } else {
        out += "\nFAIL\n";
        for v in &report.violations {
            out += &format!("- {v}\n");
        }
    }
    out
}

async fn run(args: &Args) -> Result<Report, Error> {
    let started = Instant::now();
    let date = procfs::utc_now();
    let machine = Machine::detect();
    let run_tag = fastrand::u32(..);
    let mut results = Vec::new();
    for phase in phases(args) {
        eprintln!(
            "{}: {} × {} ({} in flight, trace header by {:?})",
            phase.name,
            phase.invocations,
            phase.function.binary(),
            phase.in_flight,
            phase.carrier
        );
        results.push(run_phase(phase, args, run_tag).await?);
    }
    let violations = violations(&results, args);
    let config = serde_json::json!({
        "bin_dir": args.bin_dir.display().to_string(),
        "invocations": args.invocations,
        "active_invocations": args.active_invocations,
        "concurrent_invocations": args.concurrent_invocations,
        "in_flight": args.in_flight,
        "sample_every": args.sample_every,
        "max_growth_kib": args.max_growth_kib,
        "max_minutes": args.max_duration.as_secs() / 60,
        "rss": "VmRSS of the function process after every sample_every invocations; growth = last - first",
        "trace_header": "Root=<own trace>;Parent=<random>;Sampled=1 per invocation: in the event's headers.X-Amzn-Trace-Id (sequential) or as Lambda-Runtime-Trace-Id (active, concurrent)",
    });
    Ok(Report {
        date,
        machine,
        config,
        phases: results,
        violations,
        driver_vm_hwm_kib: procfs::peak_rss_kib(std::process::id()).unwrap_or(0),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn write_json(path: &std::path::Path, report: &Report) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let text = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(path, text + "\n")
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let report = match tokio::time::timeout(args.max_duration, run(&args)).await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => {
            eprintln!("lambda-trace-soak: {e}");
            return ExitCode::FAILURE;
        }
        Err(_) => {
            eprintln!(
                "lambda-trace-soak: FAIL: the run took longer than {} minutes (--max-minutes)",
                args.max_duration.as_secs() / 60
            );
            return ExitCode::FAILURE;
        }
    };
    println!("{}", render(&report, &args));
    if let Some(path) = &args.json {
        if let Err(e) = write_json(path, &report) {
            eprintln!("lambda-trace-soak: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    if report.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, Error> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn args() {
        let a = parse(&["--invocations", "20000", "--sample-every", "2000"]).unwrap();
        assert_eq!((a.invocations, a.sample_every), (20_000, 2_000));
        assert_eq!((a.concurrent_invocations, a.in_flight), (100_000, 8));
        assert_eq!(a.max_duration, Duration::from_secs(900));
        assert!(
            parse(&["--invocations", "15000"]).is_err(),
            "one sample only"
        );
        assert!(parse(&["--in-flight", "1"]).is_err());
        assert!(parse(&["--nope", "1"]).is_err());
        assert!(parse(&["--json"]).is_err());
        let all: Vec<_> = phases(&a).iter().map(|p| p.name).collect();
        assert_eq!(all, ["sequential", "active", "concurrent"]);
        let some = parse(&["--active-invocations", "0"]).unwrap();
        let names: Vec<_> = phases(&some).iter().map(|p| p.name).collect();
        assert_eq!(names, ["sequential", "concurrent"]);
    }
}
