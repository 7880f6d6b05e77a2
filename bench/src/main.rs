//! `lambda-trace-bench`: the driver of `make bench` (issue 6).
//!
//! ```text
//! lambda-trace-bench [--bin-dir target/release] [--invocations 2000] [--rounds 20]
//!                    [--warmup 200] [--init-samples 10] [--event events/apigw-v1-xray.json]
//!                    [--json out/bench.json] [--network false] [--otlp-delay-ms 0]
//!                    [--alternatives false] [--tls true] [--interleave invocations|rounds]
//!                    [--sqs true] [--sqs-event events/sqs-batch-10.json]
//! ```
//!
//! Variants: A = `bench-bare`, A' = `bench-bare` again (a second process: the A/A row that shows
//! the noise), B = `bench-traced` sending to a real UDP socket (default before-response flush),
//! B' = the same with `LAMBDA_TRACE_FLUSH_MODE=after-response`; with `--network true` also
//! C = `bench-traced-otlp` exporting over OTLP/HTTP to a receiver inside the driver (default
//! before-response flush) and D = the same with `LAMBDA_TRACE_FLUSH_MODE=after-response`; the
//! receiver answers after `--otlp-delay-ms`; and I and J, the same as C and D over HTTPS (`--tls
//! true`, the default): their receiver serves TLS with a certificate the driver made at start, whose
//! CA the function trusts through `OTEL_EXPORTER_OTLP_CERTIFICATE`, and counts the TCP
//! connections and TLS handshakes of every process. With `--alternatives true`, the other tracing stacks
//! of `bench/alternatives` join the rotation: E = lambda_runtime's `OpenTelemetryLayer` +
//! opentelemetry-otlp (to its own OTLP receiver), F = lambda-otel-lite (OTLP lines on stdout),
//! G = `OpenTelemetryLayer` + opentelemetry-aws's X-Ray exporter (to its own daemon socket),
//! H = the floor: the bare handler + one hand-written segment in one datagram, and (`--tls true`)
//! K = E over HTTPS (reqwest with rustls, the driver's CA added). With `--sqs true` (the default),
//! an SQS consumer (issue 16) joins them, invoked with the first record of `--sqs-event` and with
//! its first ten: S1 and S10 = `bench-sqs-bare` (the records in a loop), T1 and T10 =
//! `bench-sqs-traced` (`each_record`: a `process` span per record, in the record's trace; X-Ray
//! daemon, before the response). Each runs as a real process behind its own local Runtime API. It builds nothing: build first with
//! `cargo build --release -p lambda-trace-bench --bins` and, for C and D, separately
//! `cargo build --release -p lambda-trace-bench-net --bins` (`make bench` does); for E–H
//! `cargo build --release --manifest-path bench/alternatives/Cargo.toml --target-dir target`
//! and for K `cargo build --release --manifest-path bench/alternatives/tls/Cargo.toml
//! --target-dir target` (`make bench-alternatives` does).
//!
//! 1. Init: `--init-samples` times, in rotating variant order, a fresh process is spawned and
//!    the time from spawn to its first `/next` poll is taken; it is invoked once (the first
//!    invocation: for an OTLP variant, the export that opens the connection) and killed.
//! 2. One long-lived process per variant, each warmed up with `--warmup` invocations.
//! 3. `--rounds` rounds of `--invocations` invocations per variant. With `--interleave
//!    invocations` (the default) the variants take turns invocation by invocation, in a fresh
//!    random order every turn (seeded by the round): every variant meets the same machine state
//!    within a few milliseconds, and the per-round ratios stay within a few percent (A/A within
//!    ±3 % here, where whole rounds in a row drift by ±30 %). Each process then waits while the
//!    others run — as a Lambda sandbox waits between invocations — so it starts each invocation
//!    with colder caches than back to back. With `--interleave rounds` a variant runs its
//!    invocations in a row (warm caches), the order rotating each round (A A' B, then B A A',
//!    …). Every variant runs a private copy of its binary, so that A and A' (B and B') do not
//!    share code pages and warm the caches for each other. Latency = `/next` answered →
//!    `/response` received; cycle = `/next` answered → the function's next `/next` poll (what
//!    Lambda bills; includes an after-response export); CPU = the process's on-CPU time
//!    (schedstat) over the round.
//! 4. Peak RSS (`VmHWM`) of each long-lived process; binary sizes; the report.
//!
//! It fails (exit code 1) when a response differs from the first one, when bare and traced
//! answer differently (S1 and T1, S10 and T10 likewise), or when the X-Ray daemon did not receive
//! exactly one well-formed document of the event's trace per traced invocation of B and H (for
//! T1 and T10: one for the invocation and one per record, each of the event's traces), or the
//! OTLP receiver exactly one
//! well-formed request with the event's trace id per invocation of C and D. The alternatives
//! E, F and G export the way their libraries do (requests, datagrams or lines per invocation,
//! their own trace or the event's are recorded, not checked), but they fail when they export
//! fewer spans than invocations, or anything malformed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use lambda_trace_bench::cli;
use lambda_trace_bench::otlp::{OtlpReceiver, xray_trace_id_bytes};
use lambda_trace_bench::procfs::{self, CpuSnapshot, Machine};
use lambda_trace_bench::report::{
    FirstInvocation, ProcessConnections, Report, Role, Round, VariantResult,
};
use lambda_trace_bench::stats::percentile;
use lambda_trace_bench::stdout::StdoutExports;
use lambda_trace_bench::tls::BenchCa;
use lambda_trace_local::{FunctionProcess, Invocation, Outcome, RuntimeApi, XrayDaemon};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// How long a function may take to reach its first `/next` poll.
const INIT_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
struct Args {
    bin_dir: PathBuf,
    invocations: usize,
    rounds: usize,
    warmup: usize,
    init_samples: usize,
    event: PathBuf,
    json: Option<PathBuf>,
    network: bool,
    otlp_delay: Duration,
    alternatives: bool,
    tls: bool,
    interleave: Interleave,
    sqs: bool,
    sqs_event: PathBuf,
}

/// How the variants take turns within a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interleave {
    /// Each variant runs its `--invocations` in a row, then the next variant.
    Rounds,
    /// The variants take turns invocation by invocation (A, A', B, …, then again), so every
    /// variant meets the same machine state within a few milliseconds; each process waits
    /// while the others run, as a Lambda sandbox waits between invocations.
    Invocations,
}

impl std::str::FromStr for Interleave {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rounds" => Ok(Self::Rounds),
            "invocations" => Ok(Self::Invocations),
            other => Err(format!("expected rounds or invocations, got {other:?}")),
        }
    }
}

impl Interleave {
    fn name(self) -> &'static str {
        match self {
            Self::Rounds => "rounds",
            Self::Invocations => "invocations",
        }
    }
}

impl Args {
    fn parse(it: impl Iterator<Item = String>) -> Result<Args, Error> {
        let mut args = Args {
            bin_dir: "target/release".into(),
            invocations: 2000,
            rounds: 20,
            warmup: 200,
            init_samples: 10,
            event: "events/apigw-v1-xray.json".into(),
            json: None,
            network: false,
            otlp_delay: Duration::ZERO,
            alternatives: false,
            tls: true,
            interleave: Interleave::Invocations,
            sqs: true,
            sqs_event: "events/sqs-batch-10.json".into(),
        };
        cli::options(it, USAGE, |name, value| {
            match name {
                "--bin-dir" => args.bin_dir = value.into(),
                "--invocations" => args.invocations = cli::parse(name, value)?,
                "--rounds" => args.rounds = cli::parse(name, value)?,
                "--warmup" => args.warmup = cli::parse(name, value)?,
                "--init-samples" => args.init_samples = cli::parse(name, value)?,
                "--event" => args.event = value.into(),
                "--json" => args.json = Some(value.into()),
                "--network" => args.network = cli::parse(name, value)?,
                "--alternatives" => args.alternatives = cli::parse(name, value)?,
                "--tls" => args.tls = cli::parse(name, value)?,
                "--interleave" => args.interleave = cli::parse(name, value)?,
                "--sqs" => args.sqs = cli::parse(name, value)?,
                "--sqs-event" => args.sqs_event = value.into(),
                "--otlp-delay-ms" => {
                    args.otlp_delay = Duration::from_millis(cli::parse(name, value)?);
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if args.invocations == 0 || args.rounds == 0 {
            return Err("--invocations and --rounds must be at least 1".into());
        }
        Ok(args)
    }
}

const USAGE: &str = "usage: lambda-trace-bench [--bin-dir target/release] [--invocations 2000] \
     [--rounds 20] [--warmup 200] [--init-samples 10] [--event events/apigw-v1-xray.json] \
     [--json out/bench.json] [--network false] [--otlp-delay-ms 0] [--alternatives false] \
     [--tls true] [--interleave invocations|rounds] [--sqs true] \
     [--sqs-event events/sqs-batch-10.json]";

/// Where a variant's spans go, and what the driver checks about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Export {
    /// Bare: no tracing.
    None,
    /// UDP to the driver's X-Ray daemon. `documents: Some(n)`: exactly `n` well-formed
    /// documents of the event's traces per invocation (B, H: 1; T1, T10: the invocation's and one
    /// per record); `None`: at least one well-formed document per invocation, of any trace (G).
    Daemon { documents: Option<usize> },
    /// OTLP/HTTP to the driver's receiver. `one_request`: exactly one request with spans of the
    /// event's trace per invocation (C, D, I, J); otherwise at least one span per invocation, of
    /// any trace (E, K). `tls`: over HTTPS (I, J, K).
    Otlp { one_request: bool, tls: bool },
    /// OTLP JSON lines on stdout (F): at least one span per invocation.
    Stdout,
}

/// One of A, A', B, … H.
#[derive(Debug, Clone)]
struct Variant {
    key: &'static str,
    label: &'static str,
    role: Role,
    binary: PathBuf,
    /// How to build it, for the "not found" error.
    build: &'static str,
    export: Export,
    /// What it exports per invocation, and when (for the report).
    mode: &'static str,
    /// Environment of its process, on top of the Lambda variables and the exporter's address.
    env: &'static [(&'static str, &'static str)],
    /// The event it is invoked with.
    event: EventKind,
}

/// The event a variant is invoked with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum EventKind {
    /// `--event` (API Gateway) with a body: the handler of A–K.
    Api,
    /// The first `n` records of `--sqs-event`: the SQS consumer of S and T.
    Sqs(usize),
}

/// Records of the SQS batch of S10 and T10 (S1 and T1 get its first).
const SQS_RECORDS: usize = 10;

const BUILD_BENCH: &str = "cargo build --release -p lambda-trace-bench --bins";
const BUILD_NET: &str = "cargo build --release -p lambda-trace-bench-net --bins";
const BUILD_ALTERNATIVES: &str = "make bench-alternatives, or cargo build --release \
     --manifest-path bench/alternatives/Cargo.toml --target-dir target";
const BUILD_ALTERNATIVES_TLS: &str = "make bench-alternatives, or cargo build --release \
     --manifest-path bench/alternatives/tls/Cargo.toml --target-dir target";

/// The variants of a run, in the order of their rows.
fn variants(args: &Args) -> Vec<Variant> {
    let v = |key, label, role, bin: &str, build, export, mode, env| Variant {
        key,
        label,
        role,
        binary: args.bin_dir.join(bin),
        build,
        export,
        mode,
        env,
        event: EventKind::Api,
    };
    let mut list = vec![
        v(
            "A",
            "bare",
            Role::Bare,
            "bench-bare",
            BUILD_BENCH,
            Export::None,
            "",
            &[],
        ),
        v(
            "A'",
            "bare again (A/A)",
            Role::Control,
            "bench-bare",
            BUILD_BENCH,
            Export::None,
            "",
            &[],
        ),
        v(
            "B",
            "traced",
            Role::LambdaTrace,
            "bench-traced",
            BUILD_BENCH,
            Export::Daemon { documents: Some(1) },
            "one document, UDP, before the response",
            &[],
        ),
        v(
            "B'",
            "traced, after-response",
            Role::LambdaTrace,
            "bench-traced",
            BUILD_BENCH,
            Export::Daemon { documents: Some(1) },
            "one document, UDP, after the response",
            &[("LAMBDA_TRACE_FLUSH_MODE", "after-response")],
        ),
    ];
    if args.sqs {
        for (records, bare, traced, bare_label, traced_label) in [
            (1, "S1", "T1", "SQS 1 record, bare", "SQS 1 record, traced"),
            (
                SQS_RECORDS,
                "S10",
                "T10",
                "SQS 10 records, bare",
                "SQS 10 records, traced",
            ),
        ] {
            list.push(Variant {
                event: EventKind::Sqs(records),
                ..v(
                    bare,
                    bare_label,
                    Role::SqsBare,
                    "bench-sqs-bare",
                    BUILD_BENCH,
                    Export::None,
                    "",
                    &[],
                )
            });
            list.push(Variant {
                event: EventKind::Sqs(records),
                ..v(
                    traced,
                    traced_label,
                    Role::SqsTraced,
                    "bench-sqs-traced",
                    BUILD_BENCH,
                    Export::Daemon {
                        documents: Some(1 + records),
                    },
                    "a document per record and one for the invocation, UDP, before the response",
                    &[],
                )
            });
        }
    }
    if args.network {
        list.push(v(
            "C",
            "OTLP, before-response",
            Role::LambdaTrace,
            "bench-traced-otlp",
            BUILD_NET,
            Export::Otlp {
                one_request: true,
                tls: false,
            },
            "OTLP/HTTP POST before the response",
            &[],
        ));
        list.push(v(
            "D",
            "OTLP, after-response",
            Role::LambdaTrace,
            "bench-traced-otlp",
            BUILD_NET,
            Export::Otlp {
                one_request: true,
                tls: false,
            },
            "OTLP/HTTP POST after the response",
            &[("LAMBDA_TRACE_FLUSH_MODE", "after-response")],
        ));
    }
    if args.network && args.tls {
        list.push(v(
            "I",
            "OTLP HTTPS, before-response",
            Role::LambdaTrace,
            "bench-traced-otlp",
            BUILD_NET,
            Export::Otlp {
                one_request: true,
                tls: true,
            },
            "OTLP/HTTPS POST before the response",
            &[],
        ));
        list.push(v(
            "J",
            "OTLP HTTPS, after-response",
            Role::LambdaTrace,
            "bench-traced-otlp",
            BUILD_NET,
            Export::Otlp {
                one_request: true,
                tls: true,
            },
            "OTLP/HTTPS POST after the response",
            &[("LAMBDA_TRACE_FLUSH_MODE", "after-response")],
        ));
    }
    if args.alternatives {
        list.push(v(
            "E",
            "OTel layer + OTLP",
            Role::Alternative,
            "alt-otel-otlp",
            BUILD_ALTERNATIVES,
            Export::Otlp {
                one_request: false,
                tls: false,
            },
            "batch processor, force_flush after the response: OTLP/HTTP POST (reqwest blocking)",
            &[],
        ));
        list.push(v(
            "F",
            "lambda-otel-lite, stdout",
            Role::Alternative,
            "alt-otel-lite",
            BUILD_ALTERNATIVES,
            Export::Stdout,
            "sync mode, force_flush before the response: gzip + base64 OTLP line on stdout",
            // Without a level its filter is at `error`: no span, no export.
            &[("AWS_LAMBDA_LOG_LEVEL", "info")],
        ));
        list.push(v(
            "G",
            "OTel layer + X-Ray UDP",
            Role::Alternative,
            "alt-otel-xray",
            BUILD_ALTERNATIVES,
            Export::Daemon { documents: None },
            "batch processor, force_flush after the response: a datagram per span",
            &[],
        ));
        list.push(v(
            "H",
            "floor (1 segment, 1 datagram)",
            Role::Floor,
            "alt-floor",
            BUILD_ALTERNATIVES,
            Export::Daemon { documents: Some(1) },
            "one hand-written document, UDP, before the response",
            &[],
        ));
    }
    if args.alternatives && args.tls {
        list.push(v(
            "K",
            "OTel layer + OTLP HTTPS",
            Role::Alternative,
            "alt-otel-otlp-tls",
            BUILD_ALTERNATIVES_TLS,
            Export::Otlp {
                one_request: false,
                tls: true,
            },
            "batch processor, force_flush after the response: OTLP/HTTPS POST (reqwest blocking, rustls)",
            &[],
        ));
    }
    list
}

/// A function process with its Runtime API (and X-Ray daemon or OTLP receiver, when traced).
struct Running {
    api: RuntimeApi,
    process: FunctionProcess,
    pid: u32,
    daemon: Option<XrayDaemon>,
    receiver: Option<OtlpReceiver>,
    init: Duration,
}

impl Running {
    async fn start(variant: &Variant, otlp: &OtlpSettings) -> Result<Running, Error> {
        let api = RuntimeApi::start().await?;
        let daemon = if let Export::Daemon { .. } = variant.export {
            Some(XrayDaemon::bind().map_err(|e| format!("cannot bind the X-Ray daemon: {e}"))?)
        } else {
            None
        };
        let (receiver, ca_file) = if let Export::Otlp { one_request, tls } = variant.export {
            let ca = if tls {
                Some(otlp.ca.as_ref().ok_or("no CA for an HTTPS variant")?)
            } else {
                None
            };
            let receiver = OtlpReceiver::start(
                otlp.delay,
                otlp.trace_id,
                one_request,
                ca.map(BenchCa::server_config),
            )
            .await
            .map_err(|e| format!("cannot bind the OTLP receiver: {e}"))?;
            let ca_file = ca.map(|ca| ca.ca_file().display().to_string());
            (Some(receiver), ca_file)
        } else {
            (None, None)
        };
        let address = daemon.as_ref().map(|d| d.address().to_string());
        let endpoint = receiver.as_ref().map(OtlpReceiver::endpoint);
        let name = variant.binary.file_name().and_then(|n| n.to_str());
        let mut env = vec![("AWS_LAMBDA_FUNCTION_NAME", name.unwrap_or("bench"))];
        if let Some(address) = &address {
            env.push(("AWS_XRAY_DAEMON_ADDRESS", address));
        }
        if let Some(endpoint) = &endpoint {
            env.push(("OTEL_TRACES_EXPORTER", "otlp"));
            env.push(("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint));
        }
        if let Some(ca_file) = &ca_file {
            env.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file));
        }
        env.extend_from_slice(variant.env);
        let started = Instant::now();
        let mut process = FunctionProcess::spawn(&variant.binary, api.address(), &env)?;
        let ready = api.wait_for_next_poll(INIT_TIMEOUT).await;
        let init = started.elapsed();
        if !ready {
            let exited = process.try_wait().ok().flatten();
            let _ = process.kill().await;
            return Err(format!(
                "{} did not poll /next within {INIT_TIMEOUT:?} (exit status {exited:?})\n{}",
                variant.binary.display(),
                process.output()
            )
            .into());
        }
        let pid = process
            .id()
            .ok_or_else(|| format!("{} exited at start", variant.binary.display()))?;
        Ok(Running {
            api,
            process,
            pid,
            daemon,
            receiver,
            init,
        })
    }

    /// What its OTLP receiver saw of it, after `invocations`.
    fn connections(&self, invocations: usize) -> Option<ProcessConnections> {
        let r = self.receiver.as_ref()?;
        Some(ProcessConnections {
            invocations,
            connections: r.connections(),
            full_handshakes: r.full_handshakes(),
            resumed_handshakes: r.resumed_handshakes(),
        })
    }

    /// Its first invocation's figures, `timing`, with what its receiver saw of the first
    /// connection.
    fn first_invocation(&self, timing: &Timing) -> FirstInvocation {
        let first = self
            .receiver
            .as_ref()
            .and_then(|r| r.connection_timings().first().copied());
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        FirstInvocation {
            latency_us: timing.latency as f64 / 1000.0,
            cycle_us: timing.cycle as f64 / 1000.0,
            handshake_us: first.and_then(|c| c.handshake()).map(us),
            to_first_request_us: first.and_then(|c| c.to_first_request()).map(us),
        }
    }

    async fn stop(mut self) -> Result<FunctionProcess, Error> {
        self.process
            .kill()
            .await
            .map_err(|e| format!("cannot kill pid {}: {e}", self.pid))?;
        Ok(self.process)
    }
}

/// A private copy of each variant's binary, in a directory of its own (the file name, which
/// the function takes as its name, is kept).
struct PrivateCopies(PathBuf);

impl PrivateCopies {
    fn make(variants: &mut [Variant]) -> Result<PrivateCopies, Error> {
        let root = std::env::temp_dir().join(format!("lambda-trace-bench-{}", std::process::id()));
        for (i, v) in variants.iter_mut().enumerate() {
            let dir = root.join(i.to_string());
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let name = v.binary.file_name().unwrap_or_default();
            let copy = dir.join(name);
            std::fs::copy(&v.binary, &copy)
                .map_err(|e| format!("cannot copy {}: {e}", v.binary.display()))?;
            v.binary = copy;
        }
        Ok(PrivateCopies(root))
    }
}

impl Drop for PrivateCopies {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How the OTLP receivers answer and what they check.
struct OtlpSettings {
    delay: Duration,
    trace_id: Option<[u8; 16]>,
    /// The CA of the HTTPS variants' receivers (made when one of them runs).
    ca: Option<BenchCa>,
}

/// One invocation's figures, ns.
struct Timing {
    latency: u64,
    cycle: u64,
}

/// An event of the run, as its variants are invoked with it.
#[derive(Debug, Clone)]
struct Event {
    payload: Bytes,
    /// The X-Ray trace ids (`1-…-…`) it carries: a traced function's documents belong to them
    /// (empty: any trace).
    trace_ids: Vec<String>,
    /// What the first response must contain.
    expect: &'static str,
}

/// What the driver checks about every invocation and every datagram.
struct Checker {
    event: Event,
    expected_body: Option<Vec<u8>>,
}

impl Checker {
    fn new(event: &Event) -> Checker {
        Checker {
            event: event.clone(),
            expected_body: None,
        }
    }

    async fn invoke(
        &mut self,
        running: &Running,
        datagrams: &mut Datagrams,
    ) -> Result<Timing, Error> {
        let result = running
            .api
            .invoke(Invocation::new(self.event.payload.clone()))
            .await;
        let latency = result
            .completed_at
            .saturating_duration_since(result.next_answered_at);
        // The cycle ends when the function polls `/next` again (after an after-response export).
        if !running.api.wait_for_next_poll(INIT_TIMEOUT).await {
            return Err(format!(
                "invocation {}: no /next poll within {INIT_TIMEOUT:?} after the response",
                result.request_id
            )
            .into());
        }
        let cycle = result.next_answered_at.elapsed();
        let body = match &result.outcome {
            Outcome::Response(body) => body,
            other => return Err(format!("invocation {} ended {other:?}", result.request_id).into()),
        };
        match &self.expected_body {
            Some(expected) if expected.as_slice() != body.as_ref() => {
                return Err(format!(
                    "response differs: {:?} vs. the first {:?}",
                    String::from_utf8_lossy(body),
                    String::from_utf8_lossy(expected)
                )
                .into());
            }
            Some(_) => {}
            None => {
                let text = String::from_utf8_lossy(body);
                if !text.contains(self.event.expect) {
                    return Err(format!("unexpected response {text}").into());
                }
                self.expected_body = Some(body.to_vec());
            }
        }
        if let Some(daemon) = &running.daemon {
            datagrams.take(daemon, &self.event.trace_ids);
        }
        let ns = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Ok(Timing {
            latency: ns(latency),
            cycle: ns(cycle),
        })
    }
}

/// Counts what the X-Ray daemon received.
#[derive(Debug, Default)]
struct Datagrams {
    /// Well-formed documents of the event's trace.
    in_trace: usize,
    /// Well-formed documents of another trace.
    other_trace: usize,
    /// Segments and subsegments in all well-formed documents (nested ones included).
    spans: usize,
    /// Those of the event's trace.
    spans_in_trace: usize,
    bad: Vec<String>,
}

impl Datagrams {
    fn take(&mut self, daemon: &XrayDaemon, trace_ids: &[String]) {
        // `take`, not `drain`: counted here, not kept (drain's history would hold every
        // document of the run, 40,000 and more).
        for d in daemon.take() {
            if let Some(error) = &d.error {
                self.bad.push(format!("{error}: {}", d.raw));
                continue;
            }
            let spans = nodes(&d.document);
            self.spans += spans;
            let in_trace = d
                .trace_id()
                .is_some_and(|t| trace_ids.iter().any(|id| id == t));
            if trace_ids.is_empty() || in_trace {
                self.in_trace += 1;
                self.spans_in_trace += spans;
            } else {
                self.other_trace += 1;
            }
        }
    }
}

/// A segment document and its nested subsegments.
fn nodes(document: &serde_json::Value) -> usize {
    1 + document["subsegments"]
        .as_array()
        .map_or(0, |children| children.iter().map(nodes).sum())
}

/// The event with a body for the handler (the sample events have none), and the X-Ray trace id
/// of its `X-Amzn-Trace-Id` header (the traced function continues that trace).
fn load_event(path: &Path) -> Result<(Vec<u8>, Option<String>), Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read event {} (run from the repository root): {e}",
            path.display()
        )
    })?;
    let mut event: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if event.get("body").is_none_or(serde_json::Value::is_null) {
        event["body"] = lambda_trace_bench::handler::SAMPLE_BODY.into();
    }
    let trace_id = event["headers"]
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amzn-trace-id"))
        })
        .and_then(|(_, v)| v.as_str())
        .and_then(|v| {
            v.split(';')
                .find_map(|kv| kv.trim().strip_prefix("Root="))
                .map(str::to_owned)
        });
    Ok((serde_json::to_vec(&event)?, trace_id))
}

/// The first `records` records of the SQS event at `path`, and the trace ids of their
/// `AWSTraceHeader`s. Every record must carry a sampled one: the traced consumer's documents
/// are counted on it (one per record, in the record's trace).
fn load_sqs_event(path: &Path, records: usize) -> Result<(Vec<u8>, Vec<String>), Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read event {} (run from the repository root): {e}",
            path.display()
        )
    })?;
    let mut event: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let all = event["Records"]
        .as_array_mut()
        .ok_or_else(|| format!("{}: not an SQS event (no Records)", path.display()))?;
    if all.len() < records {
        return Err(format!(
            "{}: {} records, the SQS variants need {records}",
            path.display(),
            all.len()
        )
        .into());
    }
    all.truncate(records);
    let mut trace_ids = Vec::with_capacity(records);
    for (i, record) in all.iter().enumerate() {
        let header = record["attributes"]["AWSTraceHeader"]
            .as_str()
            .unwrap_or_default();
        let root = header
            .split(';')
            .find_map(|kv| kv.trim().strip_prefix("Root="))
            .filter(|_| header.split(';').any(|kv| kv.trim() == "Sampled=1"));
        let Some(root) = root else {
            return Err(format!(
                "{}: record {i} has no sampled AWSTraceHeader (the SQS variants count a document \
                 per record)",
                path.display()
            )
            .into());
        };
        trace_ids.push(root.to_owned());
    }
    Ok((serde_json::to_vec(&event)?, trace_ids))
}

/// `items` rotated right by `by`: round 0 A A' B, round 1 B A A', round 2 A' B A, …
fn rotated<T: Clone>(items: &[T], by: usize) -> Vec<T> {
    let mut v = items.to_vec();
    if !v.is_empty() {
        let n = v.len();
        v.rotate_right(by % n);
    }
    v
}

fn round_result(
    round: usize,
    position: usize,
    latencies: &mut [u64],
    cycles: &mut [u64],
    cpu_ns: u64,
) -> Round {
    latencies.sort_unstable();
    cycles.sort_unstable();
    let us = |v: &[u64], p| percentile(v, p).map_or(0.0, |ns| ns as f64 / 1000.0);
    Round {
        round,
        position,
        p50_us: us(latencies, 50.0),
        p99_us: us(latencies, 99.0),
        cycle_p50_us: us(cycles, 50.0),
        cpu_us_per_invocation: cpu_ns as f64 / 1000.0 / latencies.len().max(1) as f64,
    }
}

/// The figures of a variant's invocations in one round, ns.
#[derive(Debug, Clone, Default)]
struct Timings {
    latencies: Vec<u64>,
    cycles: Vec<u64>,
}

impl Timings {
    fn push(&mut self, t: Timing) {
        self.latencies.push(t.latency);
        self.cycles.push(t.cycle);
    }
}

/// `n` invocations of one variant in a row.
async fn invoke_n(
    checker: &mut Checker,
    running: &Running,
    datagrams: &mut Datagrams,
    n: usize,
) -> Result<Timings, Error> {
    let mut timings = Timings::default();
    for _ in 0..n {
        timings.push(checker.invoke(running, datagrams).await?);
    }
    Ok(timings)
}

fn cpu_snapshots(running: &[Running]) -> Result<Vec<CpuSnapshot>, Error> {
    running
        .iter()
        .map(|r| Ok(CpuSnapshot::read(r.pid)?))
        .collect()
}

async fn run(args: Args) -> Result<Report, Error> {
    let date = procfs::utc_now();
    let machine = Machine::detect();
    let wall = Instant::now();
    let (payload, trace_id) = load_event(&args.event)?;
    let mut variants = variants(&args);
    let mut events = std::collections::HashMap::new();
    events.insert(
        EventKind::Api,
        Event {
            payload: Bytes::from(payload),
            trace_ids: trace_id.iter().cloned().collect(),
            expect: "\"statusCode\":200",
        },
    );
    for v in &variants {
        if let EventKind::Sqs(records) = v.event
            && !events.contains_key(&v.event)
        {
            let (payload, trace_ids) = load_sqs_event(&args.sqs_event, records)?;
            let event = Event {
                payload: Bytes::from(payload),
                trace_ids,
                // Every record was processed.
                expect: "\"batchItemFailures\":[]",
            };
            events.insert(v.event, event);
        }
    }
    let tls = variants
        .iter()
        .any(|v| matches!(v.export, Export::Otlp { tls: true, .. }));
    let otlp = OtlpSettings {
        delay: args.otlp_delay,
        trace_id: trace_id.as_deref().and_then(xray_trace_id_bytes),
        ca: if tls {
            Some(BenchCa::make().map_err(|e| format!("cannot make the TLS certificates: {e}"))?)
        } else {
            None
        },
    };
    for v in &variants {
        if !v.binary.is_file() {
            return Err(format!(
                "{} not found: build first ({})",
                v.binary.display(),
                v.build
            )
            .into());
        }
    }
    let expected = args.warmup.max(1) + args.invocations * args.rounds;
    let mut results: Vec<VariantResult> = Vec::new();
    for v in &variants {
        let size = std::fs::metadata(&v.binary)
            .map_err(|e| format!("{}: {e}", v.binary.display()))?
            .len();
        results.push(VariantResult {
            key: v.key.into(),
            label: v.label.into(),
            role: v.role,
            export: v.mode.into(),
            binary: v.binary.display().to_string(),
            binary_bytes: size,
            init_ms: Vec::new(),
            peak_rss_kib: 0,
            rounds: Vec::new(),
            latencies_ns: Vec::with_capacity(args.invocations * args.rounds),
            cycles_ns: Vec::with_capacity(args.invocations * args.rounds),
            invocations: expected,
            datagrams: None,
            otlp_requests: None,
            stdout_exports: None,
            exported_spans: None,
            spans_in_event_trace: None,
            tls: matches!(v.export, Export::Otlp { tls: true, .. }),
            first_invocations: Vec::new(),
            processes: Vec::new(),
        });
    }

    // Every variant runs its own copy of its binary: A and A' (B and B') would otherwise share
    // their code's pages, and each find the other's traces in the caches.
    let _copies = PrivateCopies::make(&mut variants)?;

    // 1. Init time, fresh processes, rotating order; each invoked once: the first invocation
    // (an OTLP variant's connection is opened there).
    eprintln!(
        "init: {} samples per variant, each invoked once",
        args.init_samples
    );
    let indices: Vec<usize> = (0..variants.len()).collect();
    for sample in 0..args.init_samples {
        for i in rotated(&indices, sample) {
            let running = Running::start(&variants[i], &otlp).await?;
            results[i].init_ms.push(running.init.as_secs_f64() * 1000.0);
            let mut checker = Checker::new(&events[&variants[i].event]);
            let timing = checker
                .invoke(&running, &mut Datagrams::default())
                .await
                .map_err(|e| format!("{} (init sample {}): {e}", variants[i].key, sample + 1))?;
            if let Some(receiver) = &running.receiver {
                // An after-response export ends once written: let the receiver read it before
                // its timings are taken.
                receiver.wait_for_good(1, Duration::from_secs(2)).await;
            }
            results[i]
                .first_invocations
                .push(running.first_invocation(&timing));
            if let Some(receiver) = &running.receiver {
                let exported = match variants[i].export {
                    Export::Otlp {
                        one_request: true, ..
                    } => receiver.good() == 1,
                    _ => receiver.spans() >= 1,
                };
                if !exported || !receiver.bad().is_empty() {
                    return Err(format!(
                        "{} (init sample {}): the OTLP receiver got {} good requests with {} \
                         spans for one invocation, and these bad ones: {:?}",
                        variants[i].key,
                        sample + 1,
                        receiver.good(),
                        receiver.spans(),
                        receiver.bad()
                    )
                    .into());
                }
            }
            if let Some(c) = running.connections(1) {
                results[i].processes.push(c);
            }
            running.stop().await?;
        }
    }

    // 2. Long-lived processes, warmed up.
    let mut checkers = Vec::new();
    let mut running = Vec::new();
    let mut datagrams: Vec<Datagrams> = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let r = Running::start(v, &otlp).await?;
        results[i].init_ms.push(r.init.as_secs_f64() * 1000.0);
        running.push(r);
        datagrams.push(Datagrams::default());
        checkers.push(Checker::new(&events[&v.event]));
    }
    eprintln!("warm-up: {} invocations per variant", args.warmup);
    for i in 0..variants.len() {
        for n in 0..args.warmup.max(1) {
            let timing = checkers[i].invoke(&running[i], &mut datagrams[i]).await?;
            if n == 0 {
                if let Some(receiver) = &running[i].receiver {
                    // As for the init samples: an after-response export ends once written.
                    receiver.wait_for_good(1, Duration::from_secs(2)).await;
                }
                results[i]
                    .first_invocations
                    .push(running[i].first_invocation(&timing));
            }
        }
    }
    for (i, c) in checkers.iter().enumerate().skip(1) {
        // The first variant invoked with the same event: A, or S1 / S10.
        let first = variants
            .iter()
            .position(|v| v.event == variants[i].event)
            .unwrap_or(0);
        if checkers[first].expected_body != c.expected_body {
            return Err(format!(
                "{} and {} answer differently: {:?} vs. {:?}",
                variants[first].key,
                variants[i].key,
                checkers[first]
                    .expected_body
                    .as_deref()
                    .map(String::from_utf8_lossy),
                c.expected_body.as_deref().map(String::from_utf8_lossy)
            )
            .into());
        }
    }

    // 3. Interleaved rounds.
    for round in 0..args.rounds {
        let order = rotated(&indices, round);
        let measured = match args.interleave {
            Interleave::Rounds => {
                let keys: Vec<&str> = order.iter().map(|&i| variants[i].key).collect();
                eprintln!("round {}/{}: {}", round + 1, args.rounds, keys.join(" "));
                let mut measured = Vec::new();
                for (position, &i) in order.iter().enumerate() {
                    let before = CpuSnapshot::read(running[i].pid)?;
                    let timings = invoke_n(
                        &mut checkers[i],
                        &running[i],
                        &mut datagrams[i],
                        args.invocations,
                    )
                    .await?;
                    let after = CpuSnapshot::read(running[i].pid)?;
                    measured.push((i, position, timings, after.since(&before)));
                }
                measured
            }
            Interleave::Invocations => {
                eprintln!("round {}/{}: turn by turn", round + 1, args.rounds);
                let before = cpu_snapshots(&running)?;
                let mut timings = vec![Timings::default(); variants.len()];
                // A fresh order every turn: a variant that always followed the same one would
                // find that one's traces in the caches every time (A' after A runs warm).
                let mut rng = fastrand::Rng::with_seed(round as u64);
                let mut turn_order = order.clone();
                for _ in 0..args.invocations {
                    rng.shuffle(&mut turn_order);
                    for &i in &turn_order {
                        let t = checkers[i].invoke(&running[i], &mut datagrams[i]).await?;
                        timings[i].push(t);
                    }
                }
                let after = cpu_snapshots(&running)?;
                order
                    .iter()
                    .map(|&i| {
                        (
                            i,
                            0,
                            std::mem::take(&mut timings[i]),
                            after[i].since(&before[i]),
                        )
                    })
                    .collect()
            }
        };
        for (i, position, mut timings, cpu_ns) in measured {
            results[i]
                .latencies_ns
                .extend_from_slice(&timings.latencies);
            results[i].cycles_ns.extend_from_slice(&timings.cycles);
            results[i].rounds.push(round_result(
                round + 1,
                position,
                &mut timings.latencies,
                &mut timings.cycles,
                cpu_ns,
            ));
        }
    }

    // 4. Peak RSS, sanity checks, stop.
    let mut problems = Vec::new();
    for (i, r) in running.into_iter().enumerate() {
        let (v, result) = (&variants[i], &mut results[i]);
        result.peak_rss_kib = procfs::peak_rss_kib(r.pid)?;
        if let Some(c) = r.connections(expected) {
            result.processes.push(c);
        }
        if let Some(daemon) = &r.daemon {
            // Datagrams still in flight after the last response.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let d = &mut datagrams[i];
            d.take(daemon, &checkers[i].event.trace_ids);
            result.datagrams = Some(d.in_trace + d.other_trace);
            result.exported_spans = Some(d.spans);
            result.spans_in_event_trace = Some(d.spans_in_trace);
            let ok = match v.export {
                Export::Daemon { documents: Some(n) } => {
                    d.in_trace == n * expected && d.other_trace == 0
                }
                _ => d.in_trace + d.other_trace >= expected,
            };
            if !ok || !d.bad.is_empty() {
                problems.push(format!(
                    "{}: the X-Ray daemon got {} well-formed documents of the event's trace and \
                     {} of others for {expected} invocations, and {} bad datagrams (first: {:?})",
                    v.key,
                    d.in_trace,
                    d.other_trace,
                    d.bad.len(),
                    d.bad.first()
                ));
            }
        }
        if let Some(receiver) = &r.receiver {
            // Every export finished before the function polled `/next` again; an after-response
            // one only once its request was written out, so the receiver may still be reading
            // the last one.
            receiver
                .wait_for_good(expected, Duration::from_secs(2))
                .await;
            let bad = receiver.bad();
            result.otlp_requests = Some(receiver.good());
            result.exported_spans = Some(receiver.spans());
            result.spans_in_event_trace = Some(receiver.spans_in_trace());
            let ok = match v.export {
                Export::Otlp {
                    one_request: true, ..
                } => receiver.good() == expected,
                _ => receiver.spans() >= expected,
            };
            if !ok || !bad.is_empty() {
                problems.push(format!(
                    "{}: the OTLP receiver got {} good requests with {} spans for {expected} \
                     invocations, and {} bad ones (first: {:?})",
                    v.key,
                    receiver.good(),
                    receiver.spans(),
                    bad.len(),
                    bad.first()
                ));
            }
        }
        let process = r.stop().await?;
        if v.export == Export::Stdout {
            let exports = StdoutExports::parse(&process.stdout(), otlp.trace_id.as_ref());
            result.stdout_exports = Some(exports.exports);
            result.exported_spans = Some(exports.spans.spans);
            result.spans_in_event_trace = Some(exports.spans.in_trace);
            if exports.spans.spans < expected || !exports.bad.is_empty() {
                problems.push(format!(
                    "{}: {} OTLP lines on stdout with {} spans for {expected} invocations, and \
                     {} bad ones (first: {:?})",
                    v.key,
                    exports.exports,
                    exports.spans.spans,
                    exports.bad.len(),
                    exports.bad.first()
                ));
            }
        }
        let stderr = process.stderr();
        if !stderr.trim().is_empty() {
            problems.push(format!(
                "{} wrote to stderr: {}",
                v.key,
                stderr.chars().take(2000).collect::<String>()
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems.join("\n").into());
    }

    let config = serde_json::json!({
        "invocations": args.invocations,
        "rounds": args.rounds,
        "warmup": args.warmup,
        "init_samples": args.init_samples,
        "event": args.event.display().to_string(),
        "bin_dir": args.bin_dir.display().to_string(),
        "network": args.network,
        "alternatives": args.alternatives,
        "tls": args.tls,
        "interleave": args.interleave.name(),
        "sqs": args.sqs,
        "sqs_event": args.sqs_event.display().to_string(),
        "otlp_delay_ms": args.otlp_delay.as_secs_f64() * 1000.0,
        "latency": "Runtime API /next answered -> /response received, pooled over rounds",
        "cycle": "Runtime API /next answered -> the function's next /next poll seen by the driver, pooled over rounds",
        "cpu": "on-CPU ns of all the function's threads (schedstat) per round / invocations, median over rounds",
        "init": "spawn -> first /next poll, median over init samples and the long-lived process",
        "first_invocation": "the first invocation of each init sample and of the long-lived process; handshake and accepted -> request in the receiver's clock",
        "connections": "TCP connections and TLS handshakes each process opened to its OTLP receiver",
        "rss": "VmHWM of the long-lived process at the end",
        "binary": "file size; release profile, strip = true",
    });
    Ok(Report::new(
        date,
        machine,
        config,
        results,
        wall.elapsed().as_secs_f64(),
    ))
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
    let json = args.json.clone();
    let report = match run(args).await {
        Ok(report) => report,
        Err(e) => {
            eprintln!("lambda-trace-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", report.markdown());
    if let Some(path) = json {
        let written = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let text = serde_json::to_string_pretty(&report).map_err(std::io::Error::other)?;
                std::fs::write(&path, text + "\n")
            });
        if let Err(e) = written {
            eprintln!("lambda-trace-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {}", path.display());
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_and_args() {
        assert_eq!(rotated(&[0, 1, 2], 0), [0, 1, 2]);
        assert_eq!(rotated(&[0, 1, 2], 1), [2, 0, 1]);
        assert_eq!(rotated(&[0, 1, 2], 4), [2, 0, 1]);
        let a = Args::parse(
            ["--rounds", "3", "--json", "x.json"]
                .into_iter()
                .map(String::from),
        )
        .unwrap();
        assert_eq!((a.rounds, a.invocations), (3, 2000));
        assert_eq!(a.json, Some(PathBuf::from("x.json")));
        assert!(!a.network);
        let n = Args::parse(
            ["--network", "true", "--otlp-delay-ms", "5"]
                .into_iter()
                .map(String::from),
        )
        .unwrap();
        assert!(n.network);
        assert_eq!(n.otlp_delay, Duration::from_millis(5));
        assert!(!n.alternatives);
        let alt = Args::parse(["--alternatives", "true"].into_iter().map(String::from)).unwrap();
        assert!(alt.alternatives);
        assert_eq!(alt.interleave, Interleave::Invocations);
        let rounds = Args::parse(["--interleave", "rounds"].into_iter().map(String::from)).unwrap();
        assert_eq!(rounds.interleave, Interleave::Rounds);
        assert!(Args::parse(["--interleave", "turns"].into_iter().map(String::from)).is_err());
        let keys = |a: &Args| {
            variants(a)
                .iter()
                .map(|v| v.key)
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(keys(&a), "A A' B B' S1 T1 S10 T10");
        assert_eq!(keys(&alt), "A A' B B' S1 T1 S10 T10 E F G H K");
        assert_eq!(
            keys(&Args {
                network: true,
                ..alt.clone()
            }),
            "A A' B B' S1 T1 S10 T10 C D I J E F G H K"
        );
        assert_eq!(
            keys(&Args {
                network: true,
                tls: false,
                sqs: false,
                ..alt
            }),
            "A A' B B' C D E F G H"
        );
        let no_sqs = Args::parse(["--sqs", "false"].into_iter().map(String::from)).unwrap();
        assert_eq!(keys(&no_sqs), "A A' B B'");
        let t10 = variants(&a).into_iter().find(|v| v.key == "T10").unwrap();
        assert_eq!(t10.event, EventKind::Sqs(10));
        assert_eq!(
            t10.export,
            Export::Daemon {
                documents: Some(11)
            }
        );
        assert!(
            !Args::parse(["--tls", "false"].into_iter().map(String::from))
                .unwrap()
                .tls
        );
        assert!(Args::parse(["--network", "yes"].into_iter().map(String::from)).is_err());
        assert!(Args::parse(["--nope", "1"].into_iter().map(String::from)).is_err());
        assert!(Args::parse(["--rounds"].into_iter().map(String::from)).is_err());
    }

    #[test]
    fn segments_count_with_their_nested_subsegments() {
        let document = serde_json::json!({
            "id": "a",
            "subsegments": [{"id": "b", "subsegments": [{"id": "c"}]}, {"id": "d"}],
        });
        assert_eq!(nodes(&document), 4);
        assert_eq!(nodes(&serde_json::json!({"id": "a"})), 1);
    }

    #[test]
    fn the_sqs_events_are_the_first_records_with_their_trace_ids() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/sqs-batch-10.json");
        let (payload, trace_ids) = load_sqs_event(&path, 10).unwrap();
        let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(event["Records"].as_array().unwrap().len(), 10);
        assert_eq!(trace_ids.len(), 10);
        assert_eq!(trace_ids[0], "1-66f1d2b1-a6d4fee67c46bc4c82d981ff");
        let distinct: std::collections::HashSet<_> = trace_ids.iter().collect();
        assert_eq!(distinct.len(), 10, "a trace per record");
        let (payload, trace_ids) = load_sqs_event(&path, 1).unwrap();
        let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(event["Records"].as_array().unwrap().len(), 1);
        assert_eq!(trace_ids, ["1-66f1d2b1-a6d4fee67c46bc4c82d981ff"]);
        assert!(load_sqs_event(&path, 11).is_err(), "too few records");
        // A record without a sampled AWSTraceHeader is refused: its documents could not be
        // counted.
        let unsampled = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/sqs-xray.json");
        assert!(load_sqs_event(&unsampled, 1).is_ok());
        assert!(
            load_sqs_event(&unsampled, 2).is_err(),
            "its second record says Sampled=0"
        );
    }

    #[test]
    fn the_sample_event_gets_a_body_and_a_trace_id() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/apigw-v1-xray.json");
        let (payload, trace_id) = load_event(&path).unwrap();
        let event: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(event["body"], lambda_trace_bench::handler::SAMPLE_BODY);
        assert_eq!(
            trace_id.as_deref(),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
    }
}
