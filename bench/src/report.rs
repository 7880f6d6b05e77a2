//! The results of a run: per-variant figures, their ratios to the bare handler, the targets of
//! issue 6, and the Markdown table.

use serde::Serialize;

use crate::procfs::Machine;
use crate::stats::{median, min_max, percentile, ratio};

/// What one variant measured in one round.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    /// 1-based round number.
    pub round: usize,
    /// 0-based position of the variant in this round's order (0 for all when the variants
    /// take turns invocation by invocation).
    pub position: usize,
    /// Median latency of the round, µs.
    pub p50_us: f64,
    /// 99th percentile latency of the round, µs.
    pub p99_us: f64,
    /// Median cycle (`/next` answered → next `/next` poll) of the round, µs.
    pub cycle_p50_us: f64,
    /// CPU time of the function process per invocation, µs.
    pub cpu_us_per_invocation: f64,
}

/// What a variant is there for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The bare handler, the baseline of every ratio (A).
    Bare,
    /// The bare handler again, the A/A control (A').
    Control,
    /// The handler under lambda-trace (B, C, D).
    LambdaTrace,
    /// The handler under another tracing stack a Rust user would pick (E, F, G).
    Alternative,
    /// The least any tracing to the X-Ray daemon can cost: one hand-written segment, one
    /// datagram (H).
    Floor,
    /// The SQS consumer without tracing, the baseline of its traced twin (S1, S10).
    SqsBare,
    /// The SQS consumer under lambda-trace, `each_record` (T1, T10).
    SqsTraced,
}

/// The first invocation of a fresh process (each init sample's, and the long-lived process's
/// first warm-up invocation): for an OTLP variant, the export that opens the connection (TCP, and
/// the TLS handshake over HTTPS).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FirstInvocation {
    /// `/next` answered → `/response` received, µs.
    pub latency_us: f64,
    /// `/next` answered → the next `/next` poll, µs (includes an after-response export).
    pub cycle_us: f64,
    /// The receiver's clock: connection accepted → TLS handshake done, µs (HTTPS only).
    pub handshake_us: Option<f64>,
    /// The receiver's clock: connection accepted → the first request read, µs (OTLP only).
    pub to_first_request_us: Option<f64>,
}

/// What an OTLP receiver saw of one process over its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ProcessConnections {
    /// Invocations the process served (warm-up included).
    pub invocations: usize,
    /// TCP connections it opened to the receiver.
    pub connections: usize,
    /// Full TLS handshakes on them.
    pub full_handshakes: usize,
    /// Resumed TLS handshakes on them.
    pub resumed_handshakes: usize,
}

/// Everything measured for one variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantResult {
    /// `A`, `A'`, `B`, … `H`.
    pub key: String,
    /// What it is.
    pub label: String,
    /// What it is there for.
    pub role: Role,
    /// What it exports per invocation, and when (empty for bare).
    pub export: String,
    /// The binary that ran.
    pub binary: String,
    /// Its size, bytes.
    pub binary_bytes: u64,
    /// Spawn → first `/next` poll of every process started, ms.
    pub init_ms: Vec<f64>,
    /// Peak RSS (`VmHWM`) of the process that served the rounds, KiB.
    pub peak_rss_kib: u64,
    /// Every round.
    pub rounds: Vec<Round>,
    /// Latencies of every measured invocation, pooled over the rounds (ns; not serialized).
    #[serde(skip)]
    pub latencies_ns: Vec<u64>,
    /// Cycles (`/next` answered → next `/next` poll) of every measured invocation, pooled over
    /// the rounds (ns; not serialized).
    #[serde(skip)]
    pub cycles_ns: Vec<u64>,
    /// Invocations of the long-lived process, warm-up included: what the export counts below
    /// are per.
    pub invocations: usize,
    /// Well-formed datagrams the X-Ray daemon received from this variant (warm-up included), if
    /// it used it.
    pub datagrams: Option<usize>,
    /// Requests the OTLP receiver accepted from this variant (warm-up included), if it used it.
    pub otlp_requests: Option<usize>,
    /// OTLP export lines the variant wrote to stdout (warm-up included), if it exports there.
    pub stdout_exports: Option<usize>,
    /// Spans in all of the above: OTLP spans, or X-Ray segments and subsegments (nested ones
    /// included).
    pub exported_spans: Option<usize>,
    /// How many of those spans belong to the trace of the event's `X-Amzn-Trace-Id`.
    pub spans_in_event_trace: Option<usize>,
    /// Whether it exports over HTTPS.
    pub tls: bool,
    /// The first invocation of every process started (init samples, then the long-lived one).
    pub first_invocations: Vec<FirstInvocation>,
    /// For OTLP variants: the connections of every process started (init samples, each after
    /// one invocation, then the long-lived one).
    pub processes: Vec<ProcessConnections>,
}

/// The summary figures of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Median latency over all rounds pooled, µs.
    pub p50_us: f64,
    /// 99th percentile latency over all rounds pooled, µs.
    pub p99_us: f64,
    /// Median cycle (`/next` answered → next `/next` poll) over all rounds pooled, µs.
    pub cycle_p50_us: f64,
    /// 99th percentile cycle over all rounds pooled, µs.
    pub cycle_p99_us: f64,
    /// Median over rounds of the CPU µs per invocation.
    pub cpu_us_per_invocation: f64,
    /// Median init time, ms.
    pub init_ms: f64,
    /// Peak RSS, KiB.
    pub peak_rss_kib: f64,
    /// Binary size, KiB.
    pub binary_kib: f64,
}

impl VariantResult {
    /// Summarizes the variant (sorts the pooled latencies and cycles).
    pub fn summary(&mut self) -> Summary {
        self.latencies_ns.sort_unstable();
        self.cycles_ns.sort_unstable();
        let pct = |v: &[u64], p| percentile(v, p).map_or(0.0, |ns| ns as f64 / 1000.0);
        let us = |p| pct(&self.latencies_ns, p);
        let cpu: Vec<f64> = self
            .rounds
            .iter()
            .map(|r| r.cpu_us_per_invocation)
            .collect();
        Summary {
            p50_us: us(50.0),
            p99_us: us(99.0),
            cycle_p50_us: pct(&self.cycles_ns, 50.0),
            cycle_p99_us: pct(&self.cycles_ns, 99.0),
            cpu_us_per_invocation: median(&cpu).unwrap_or(0.0),
            init_ms: median(&self.init_ms).unwrap_or(0.0),
            peak_rss_kib: self.peak_rss_kib as f64,
            binary_kib: self.binary_bytes as f64 / 1024.0,
        }
    }
}

/// Each figure of a variant divided by the bare handler's (A) of the same run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratios {
    /// p50 latency ratio.
    pub p50: Option<f64>,
    /// p99 latency ratio.
    pub p99: Option<f64>,
    /// p50 cycle ratio.
    pub cycle_p50: Option<f64>,
    /// p99 cycle ratio.
    pub cycle_p99: Option<f64>,
    /// CPU per invocation ratio.
    pub cpu: Option<f64>,
    /// Init time ratio.
    pub init: Option<f64>,
    /// Peak RSS ratio.
    pub rss: Option<f64>,
    /// Binary size ratio.
    pub binary: Option<f64>,
}

impl Ratios {
    /// `s / base`, figure by figure.
    pub fn of(s: &Summary, base: &Summary) -> Ratios {
        Ratios {
            p50: ratio(s.p50_us, base.p50_us),
            p99: ratio(s.p99_us, base.p99_us),
            cycle_p50: ratio(s.cycle_p50_us, base.cycle_p50_us),
            cycle_p99: ratio(s.cycle_p99_us, base.cycle_p99_us),
            cpu: ratio(s.cpu_us_per_invocation, base.cpu_us_per_invocation),
            init: ratio(s.init_ms, base.init_ms),
            rss: ratio(s.peak_rss_kib, base.peak_rss_kib),
            binary: ratio(s.binary_kib, base.binary_kib),
        }
    }
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// `A`, `A'`, `B`, … `H`.
    pub key: String,
    /// What it is.
    pub label: String,
    /// What it is there for.
    pub role: Role,
    /// Its figures.
    pub summary: Summary,
    /// Its figures over A's.
    pub ratio_to_bare: Ratios,
    /// Per round: this variant's p50 over A's p50 of the same round.
    pub round_p50_ratios: Vec<f64>,
    /// Per round: this variant's p50 cycle over A's of the same round.
    pub round_cycle_ratios: Vec<f64>,
    /// Per round: this variant's CPU per invocation over A's of the same round.
    pub round_cpu_ratios: Vec<f64>,
}

/// One target of issue 6, checked for variant B.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// What is checked.
    pub name: String,
    /// The measured value (a ratio, or a difference in ms / KiB).
    pub value: f64,
    /// The limit it must stay at or under.
    pub limit: f64,
    /// `value <= limit`.
    pub pass: bool,
}

/// Issue 6's comparison with the alternatives: B's overhead (cycle p50 ratio to A, minus 1: what
/// Lambda bills) against the lowest overhead of the alternatives (role [`Role::Alternative`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The lambda-trace variant compared (B, or B' for the after-response mode).
    pub key: String,
    /// B's overhead.
    pub b_overhead: f64,
    /// A' over A, the same way: the noise.
    pub control_overhead: f64,
    /// The alternative with the lowest overhead.
    pub best_alternative: String,
    /// Its overhead.
    pub best_overhead: f64,
    /// `best_overhead / b_overhead`, when B's overhead is positive.
    pub factor: Option<f64>,
    /// What the issue asks: B's overhead at least this many times lower.
    pub target_factor: f64,
    /// `best_overhead >= target_factor * b_overhead` (B at or below zero passes).
    pub pass: bool,
    /// The floor (role [`Role::Floor`]) and its overhead, if it ran.
    pub floor: Option<(String, f64)>,
    /// B's figures over the floor's, if it ran: what lambda-trace adds to the least any tracing
    /// to the X-Ray daemon costs (one small document, one datagram).
    pub over_floor: Option<Ratios>,
}

/// Issue 6: B's overhead at least 3 times lower than the best alternative's.
pub const TARGET_FACTOR: f64 = 3.0;

impl Comparison {
    fn of(rows: &[Row], b: &Row) -> Option<Comparison> {
        let overhead = |r: &Row| r.ratio_to_bare.cycle_p50.map(|x| x - 1.0);
        let b_overhead = overhead(b)?;
        let best = rows
            .iter()
            .filter(|r| r.role == Role::Alternative)
            .filter_map(|r| Some((r, overhead(r)?)))
            .min_by(|x, y| x.1.total_cmp(&y.1))?;
        let floor_row = rows.iter().find(|r| r.role == Role::Floor);
        let floor = floor_row.and_then(|r| Some((format!("{} {}", r.key, r.label), overhead(r)?)));
        let over_floor = floor_row.map(|r| Ratios::of(&b.summary, &r.summary));
        let control = rows
            .iter()
            .find(|r| r.role == Role::Control)
            .and_then(overhead)
            .unwrap_or(f64::NAN);
        Some(Comparison {
            key: b.key.clone(),
            b_overhead,
            control_overhead: control,
            best_alternative: format!("{} {}", best.0.key, best.0.label),
            best_overhead: best.1,
            factor: (b_overhead > 0.0).then(|| best.1 / b_overhead),
            target_factor: TARGET_FACTOR,
            pass: b_overhead <= 0.0 || best.1 >= TARGET_FACTOR * b_overhead,
            floor,
            over_floor,
        })
    }

    fn markdown(&self) -> String {
        let pct = |x: f64| format!("{:+.1} %", x * 100.0);
        let factor = self
            .factor
            .map_or("not positive".to_owned(), |f| format!("{f:.2}× lower"));
        let mut out = format!(
            "Overhead (cycle p50 ratio − 1): {key} {}, best alternative {} {} (A/A: {}); {key}'s \
             is {} (issue target: at least {:.0}× lower): {}.",
            pct(self.b_overhead),
            self.best_alternative,
            pct(self.best_overhead),
            pct(self.control_overhead),
            factor,
            self.target_factor,
            if self.pass { "pass" } else { "FAIL" },
            key = self.key,
        );
        if let Some((floor, overhead)) = &self.floor {
            out.push_str(&format!(" {floor}: {}.", pct(*overhead)));
        }
        if let Some(r) = &self.over_floor {
            out.push_str(&format!(
                " {} over the floor: p50 {}, p99 {}, cycle p50 {}, CPU {}.",
                self.key,
                times(r.p50),
                times(r.p99),
                times(r.cycle_p50),
                times(r.cpu)
            ));
        }
        out.push('\n');
        out
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// When the run started (UTC).
    pub date: String,
    /// Where it ran.
    pub machine: Machine,
    /// How it ran.
    pub config: serde_json::Value,
    /// A, A', B (and C, D with `--network true`).
    pub rows: Vec<Row>,
    /// The raw per-variant measurements.
    pub variants: Vec<VariantResult>,
    /// Issue 6's targets for B.
    pub targets: Vec<Target>,
    /// The same targets for B' (the after-response mode), when it ran.
    pub targets_after_response: Vec<Target>,
    /// B against the alternatives, when they ran.
    pub comparison: Option<Comparison>,
    /// B' against the alternatives, when both ran.
    pub comparison_after_response: Option<Comparison>,
    /// Issue 15's targets for lambda-trace's OTLP over HTTPS (I, J; K for the comparison), when
    /// they ran.
    pub targets_tls: Vec<Target>,
    /// Issue 16: the SQS consumer traced over bare, per batch size, when S and T ran.
    pub sqs: Option<SqsBatches>,
    /// How long the whole run took, s.
    pub wall_seconds: f64,
}

impl Report {
    /// Builds rows and targets from the variants; `variants[0]` is the bare baseline A,
    /// `variants[1]` the A/A control, `variants[2]` the traced handler.
    pub fn new(
        date: String,
        machine: Machine,
        config: serde_json::Value,
        mut variants: Vec<VariantResult>,
        wall_seconds: f64,
    ) -> Report {
        let summaries: Vec<Summary> = variants.iter_mut().map(VariantResult::summary).collect();
        let base = summaries[0];
        let rows = variants
            .iter()
            .zip(&summaries)
            .map(|(v, s)| Row {
                key: v.key.clone(),
                label: v.label.clone(),
                role: v.role,
                summary: *s,
                ratio_to_bare: Ratios::of(s, &base),
                round_p50_ratios: per_round(v, &variants[0], |r| r.p50_us),
                round_cycle_ratios: per_round(v, &variants[0], |r| r.cycle_p50_us),
                round_cpu_ratios: per_round(v, &variants[0], |r| r.cpu_us_per_invocation),
            })
            .collect::<Vec<_>>();
        let after_response = rows.iter().find(|r| r.key == "B'");
        let targets_after_response = match after_response {
            Some(b) if rows.len() >= 3 => targets(&base, &rows[1], b),
            _ => Vec::new(),
        };
        let targets = if rows.len() >= 3 {
            targets(&base, &rows[1], &rows[2])
        } else {
            Vec::new()
        };
        let comparison = rows
            .iter()
            .find(|r| r.role == Role::LambdaTrace)
            .and_then(|b| Comparison::of(&rows, b));
        let comparison_after_response = after_response.and_then(|b| Comparison::of(&rows, b));
        let targets_tls = tls_targets(&rows, &variants);
        let sqs = SqsBatches::of(&rows, &variants);
        Report {
            date,
            machine,
            config,
            rows,
            variants,
            targets,
            targets_after_response,
            comparison,
            comparison_after_response,
            targets_tls,
            sqs,
            wall_seconds,
        }
    }

    /// The report as Markdown: machine notes, the table, the per-round spread and the targets.
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = format!(
            "Run {date} on {nproc} × {cpu}, {mem} MiB, Linux {kernel} (load average {load:.2} at start); \
             {inv} invocations × {rounds} rounds per variant, {interleaved}, after {warmup} warm-up invocations; {wall:.0} s.\n\n",
            date = self.date,
            nproc = m.nproc,
            cpu = m.cpu_model,
            mem = m.mem_total_mib,
            kernel = m.kernel,
            load = m.load_average_1m,
            inv = self.config["invocations"],
            rounds = self.config["rounds"],
            warmup = self.config["warmup"],
            interleaved = match self.config["interleave"].as_str() {
                Some("rounds") => "rounds interleaved (each a variant's invocations in a row)",
                _ => "the variants taking turns invocation by invocation, in random order",
            },
            wall = self.wall_seconds,
        );
        out.push_str(
            "| variant | p50 µs | p99 µs | cycle p50 µs | cycle p99 µs | CPU µs/inv | init ms | peak RSS KiB | binary KiB |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for (i, row) in self.rows.iter().enumerate() {
            let s = &row.summary;
            let r = &row.ratio_to_bare;
            let base = &self.rows[0].summary;
            if i == 0 {
                out.push_str(&format!(
                    "| {} {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.0} | {:.0} |\n",
                    row.key,
                    row.label,
                    s.p50_us,
                    s.p99_us,
                    s.cycle_p50_us,
                    s.cycle_p99_us,
                    s.cpu_us_per_invocation,
                    s.init_ms,
                    s.peak_rss_kib,
                    s.binary_kib
                ));
            } else {
                out.push_str(&format!(
                    "| {} {} | {:.1} ({}) | {:.1} ({}) | {:.1} ({}) | {:.1} ({}) | {:.1} ({}) | {:.2} ({:+.2} ms) | {:.0} ({:+.0}) | {:.0} ({}) |\n",
                    row.key,
                    row.label,
                    s.p50_us,
                    times(r.p50),
                    s.p99_us,
                    times(r.p99),
                    s.cycle_p50_us,
                    times(r.cycle_p50),
                    s.cycle_p99_us,
                    times(r.cycle_p99),
                    s.cpu_us_per_invocation,
                    times(r.cpu),
                    s.init_ms,
                    s.init_ms - base.init_ms,
                    s.peak_rss_kib,
                    s.peak_rss_kib - base.peak_rss_kib,
                    s.binary_kib,
                    times(r.binary),
                ));
            }
        }
        out.push_str(
            "\nRatios (×) are to A, measured in the same run; init and RSS show the difference to A.\n",
        );
        for row in self.rows.iter().skip(1) {
            out.push_str(&format!(
                "Per round, {} over A: p50 {}, cycle p50 {}, CPU {}.\n",
                row.key,
                spread(&row.round_p50_ratios),
                spread(&row.round_cycle_ratios),
                spread(&row.round_cpu_ratios)
            ));
        }
        out.push_str(&self.over_floor_markdown());
        out.push_str(&self.exports_markdown());
        out.push_str(&self.first_invocations_markdown());
        if let Some(sqs) = &self.sqs {
            out.push_str(&sqs.markdown());
        }
        for comparison in [&self.comparison, &self.comparison_after_response]
            .into_iter()
            .flatten()
        {
            out.push('\n');
            out.push_str(&comparison.markdown());
        }
        for (title, targets) in [
            ("Issue 6 targets for B", &self.targets),
            (
                "Issue 6 targets for B' (after-response)",
                &self.targets_after_response,
            ),
            (
                "Issue 15 targets for OTLP over HTTPS (I, J; K the alternative)",
                &self.targets_tls,
            ),
            (
                "Issue 16 target for SQS batches (S, T)",
                &self
                    .sqs
                    .as_ref()
                    .map_or_else(Vec::new, |s| s.targets.clone()),
            ),
        ] {
            if targets.is_empty() {
                continue;
            }
            out.push_str(&format!("\n{title}:\n\n"));
            for t in targets {
                out.push_str(&format!(
                    "- {}: {:.3} (limit {:.3}) {}\n",
                    t.name,
                    t.value,
                    t.limit,
                    if t.pass { "pass" } else { "FAIL" }
                ));
            }
        }
        out
    }
}

impl Report {
    /// The lambda-trace rows of the comparisons (B, B') over the floor, round by round (each
    /// round's figure over the floor's in the same round: the pairs see the same machine state).
    fn over_floor_markdown(&self) -> String {
        let mut out = String::new();
        let variant = |key: &str| self.variants.iter().find(|v| v.key == key);
        let Some(floor) = self.variants.iter().find(|v| v.role == Role::Floor) else {
            return out;
        };
        for c in [&self.comparison, &self.comparison_after_response]
            .into_iter()
            .flatten()
        {
            let Some(b) = variant(&c.key) else { continue };
            out.push_str(&format!(
                "Per round, {} over {}: p50 {}, cycle p50 {}, CPU {}.\n",
                b.key,
                floor.key,
                spread(&per_round(b, floor, |r| r.p50_us)),
                spread(&per_round(b, floor, |r| r.cycle_p50_us)),
                spread(&per_round(b, floor, |r| r.cpu_us_per_invocation)),
            ));
        }
        out
    }

    /// What each exporting variant sent, per invocation (warm-up included).
    fn exports_markdown(&self) -> String {
        let exporting: Vec<&VariantResult> = self
            .variants
            .iter()
            .filter(|v| v.exported_spans.is_some())
            .collect();
        if exporting.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "\n| variant | export | sent per invocation | spans per invocation | in the event's trace |\n\
             |---|---|---:|---:|---:|\n",
        );
        for v in exporting {
            let per = |n: usize| n as f64 / v.invocations.max(1) as f64;
            let sent = [
                (v.datagrams, "datagrams"),
                (v.otlp_requests, "POSTs"),
                (v.stdout_exports, "stdout lines"),
            ]
            .into_iter()
            .filter_map(|(n, what)| Some(format!("{:.2} {what}", per(n?))))
            .collect::<Vec<_>>()
            .join(", ");
            let spans = v.exported_spans.unwrap_or(0);
            let in_trace = v.spans_in_event_trace.unwrap_or(0);
            out.push_str(&format!(
                "| {} {} | {} | {sent} | {:.2} | {:.0} % |\n",
                v.key,
                v.label,
                v.export,
                per(spans),
                if spans == 0 {
                    0.0
                } else {
                    in_trace as f64 * 100.0 / spans as f64
                },
            ));
        }
        out
    }
}

impl Report {
    /// The first invocation of fresh processes (the cold connection of the OTLP variants: TCP,
    /// and the TLS handshake over HTTPS) and the connections every process opened, for A and the
    /// OTLP variants; then init and binary size with TLS. Empty when no OTLP variant ran.
    fn first_invocations_markdown(&self) -> String {
        let otlp: Vec<&VariantResult> = self
            .variants
            .iter()
            .filter(|v| !v.processes.is_empty())
            .collect();
        let Some(bare) = self.variants.first() else {
            return String::new();
        };
        if otlp.is_empty() {
            return String::new();
        }
        let first = |v: &VariantResult, f: fn(&FirstInvocation) -> Option<f64>| {
            let values: Vec<f64> = v.first_invocations.iter().filter_map(f).collect();
            median(&values)
        };
        let us = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{x:.0}"));
        let bare_cycle = first(bare, |f| Some(f.cycle_us));
        let mut out = format!(
            "\nFirst invocation of a fresh process (medians over {} processes per variant: the init \
             samples, each invoked once, and the long-lived process), and the connections each \
             process opened to its receiver (TLS handshake and accepted → request: the \
             receiver's clock):\n\n\
             | variant | first latency µs | first cycle µs | cycle over A's first | TLS handshake µs | accepted → request µs | connections per process | full / resumed TLS handshakes per process | long-lived process |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---|\n",
            bare.first_invocations.len()
        );
        for v in std::iter::once(bare).chain(otlp.iter().copied()) {
            let cycle = first(v, |f| Some(f.cycle_us));
            let over = match (cycle, bare_cycle) {
                (Some(c), Some(b)) if v.key != bare.key => format!("{:+.2} ms", (c - b) / 1000.0),
                _ => "–".to_owned(),
            };
            let range = |f: fn(&ProcessConnections) -> usize| {
                let values: Vec<usize> = v.processes.iter().map(f).collect();
                match (values.iter().min(), values.iter().max()) {
                    (Some(lo), Some(hi)) if lo == hi => lo.to_string(),
                    (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
                    _ => "–".to_owned(),
                }
            };
            let handshakes = if v.tls {
                format!(
                    "{} / {}",
                    range(|p| p.full_handshakes),
                    range(|p| p.resumed_handshakes)
                )
            } else {
                "–".to_owned()
            };
            let long_lived = v.processes.last().map_or("–".to_owned(), |p| {
                let mut text = format!(
                    "{} invocations, {} connection{}",
                    p.invocations,
                    p.connections,
                    if p.connections == 1 { "" } else { "s" }
                );
                if v.tls {
                    text.push_str(&format!(
                        ", {} full / {} resumed handshakes",
                        p.full_handshakes, p.resumed_handshakes
                    ));
                }
                text
            });
            out.push_str(&format!(
                "| {} {} | {} | {} | {over} | {} | {} | {} | {handshakes} | {long_lived} |\n",
                v.key,
                v.label,
                us(first(v, |f| Some(f.latency_us))),
                us(cycle),
                us(first(v, |f| f.handshake_us)),
                us(first(v, |f| f.to_first_request_us)),
                range(|p| p.connections),
            ));
        }
        out.push_str(&self.tls_footprint_markdown());
        out
    }

    /// Init and binary size of the HTTPS variants against A's, and lambda-trace's binary against
    /// the alternative's (K).
    fn tls_footprint_markdown(&self) -> String {
        let row = |key: &str| self.rows.iter().find(|r| r.key == key);
        let tls: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| self.variants.iter().any(|v| v.key == r.key && v.tls))
            .collect();
        let Some(bare) = self.rows.first() else {
            return String::new();
        };
        if tls.is_empty() {
            return String::new();
        }
        let init = tls
            .iter()
            .map(|r| {
                format!(
                    "{} {:.2} ms ({:+.2} ms)",
                    r.key,
                    r.summary.init_ms,
                    r.summary.init_ms - bare.summary.init_ms
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let mut out = format!(
            "\nInit with TLS set up (CA file read, client configuration built), over A's {:.2} ms: {init}.\n",
            bare.summary.init_ms
        );
        let binary = |r: &Row| {
            format!(
                "{} {:.0} KiB ({})",
                r.key,
                r.summary.binary_kib,
                times(r.ratio_to_bare.binary)
            )
        };
        let sizes = ["C", "I", "J", "E", "K"]
            .into_iter()
            .filter_map(row)
            .map(binary)
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "Binary over A's {:.0} KiB: {sizes}",
            bare.summary.binary_kib
        ));
        if let (Some(j), Some(k)) = (row("J").or_else(|| row("I")), row("K")) {
            out.push_str(&format!(
                "; lambda-trace's with OTLP + TLS is {:.2}× the size of K's",
                j.summary.binary_kib / k.summary.binary_kib
            ));
        }
        out.push_str(".\n");
        out
    }
}

/// Issue 15's targets for OTLP over HTTPS: J (after-response) within 5 % of bare at p50 and p99;
/// the billed overhead (cycle p50 ratio − 1) of I and J at most a third of K's, the alternative
/// over HTTPS (when it ran); exactly one connection and one full TLS handshake per process of I
/// and J (no handshake on a warm invocation); init at most 5 ms over bare. Empty unless I and J
/// ran.
fn tls_targets(rows: &[Row], variants: &[VariantResult]) -> Vec<Target> {
    let row = |key: &str| rows.iter().find(|r| r.key == key);
    let (Some(base), Some(i), Some(j)) = (rows.first(), row("I"), row("J")) else {
        return Vec::new();
    };
    let t = |name: String, value: Option<f64>, limit: f64| Target {
        name,
        value: value.unwrap_or(f64::NAN),
        limit,
        pass: value.is_some_and(|v| v <= limit),
    };
    let mut out = vec![
        t(
            "J p50 latency ratio (HTTPS, after-response)".into(),
            j.ratio_to_bare.p50,
            1.05,
        ),
        t(
            "J p99 latency ratio (HTTPS, after-response)".into(),
            j.ratio_to_bare.p99,
            1.05,
        ),
    ];
    if let Some(k) = row("K") {
        let overhead = |r: &Row| r.ratio_to_bare.cycle_p50.map(|x| x - 1.0);
        for x in [i, j] {
            let value = match (overhead(x), overhead(k)) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
            out.push(t(
                format!(
                    "{} billed overhead (cycle p50 ratio − 1) over K's ({:+.1} % / {:+.1} %)",
                    x.key,
                    overhead(x).unwrap_or(f64::NAN) * 100.0,
                    overhead(k).unwrap_or(f64::NAN) * 100.0
                ),
                value,
                1.0 / 3.0,
            ));
        }
    }
    for x in [i, j] {
        let processes = variants
            .iter()
            .find(|v| v.key == x.key)
            .map_or(&[][..], |v| &v.processes[..]);
        for (what, f) in [
            (
                "TCP connections",
                (|p: &ProcessConnections| p.connections) as fn(&ProcessConnections) -> usize,
            ),
            // One connection, one handshake: the warm invocations had none (a resumed one
            // would need a connection of its own).
            ("full TLS handshakes", |p| p.full_handshakes),
        ] {
            let max = processes.iter().map(f).max();
            let all_one = !processes.is_empty() && processes.iter().all(|p| f(p) == 1);
            out.push(Target {
                name: format!(
                    "{} {what} per process, most of {} processes (exactly 1)",
                    x.key,
                    processes.len()
                ),
                value: max.map_or(f64::NAN, |m| m as f64),
                limit: 1.0,
                pass: all_one,
            });
        }
    }
    for x in [i, j] {
        out.push(t(
            format!("{} init time over bare, ms", x.key),
            Some(x.summary.init_ms - base.summary.init_ms),
            5.0,
        ));
    }
    out
}

/// The SQS consumer of one batch size: its traced variant over its bare one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SqsRow {
    /// Records in the event.
    pub records: usize,
    /// The bare variant (`S1`, `S10`).
    pub bare: String,
    /// The traced variant (`T1`, `T10`).
    pub traced: String,
    /// The bare variant's figures.
    pub bare_summary: Summary,
    /// The traced variant's figures.
    pub traced_summary: Summary,
    /// Traced over bare, figure by figure.
    pub over_bare: Ratios,
    /// Per round: the traced cycle p50 over the bare one of the same round.
    pub round_cycle_ratios: Vec<f64>,
}

/// Issue 16: "an `SqsEvent` with 10 records adds at most 20 % over today's SQS invocation".
/// Each batch size's traced consumer is divided by its bare twin (same event, same work, no
/// tracing), and the 10-record ratio by the 1-record one: what tracing a batch of 10 costs on
/// top of what tracing a batch of 1 costs, the bare handler's own growth with the batch taken
/// out. On the cycle p50 (what Lambda bills):
/// `growth = (T10 / S10) / (T1 / S1)`, at most 1.20.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SqsBatches {
    /// One per batch size, smallest first.
    pub rows: Vec<SqsRow>,
    /// `(T10 / S10) / (T1 / S1)` of the pooled cycle p50s.
    pub growth: Option<f64>,
    /// The same per round (each round's four p50s).
    pub round_growth: Vec<f64>,
    /// The check (`growth` at most [`SQS_GROWTH_LIMIT`]).
    pub targets: Vec<Target>,
}

/// Issue 16: the traced-over-bare ratio of a 10-record batch at most 20 % over a 1-record one's.
pub const SQS_GROWTH_LIMIT: f64 = 1.20;

impl SqsBatches {
    fn of(rows: &[Row], variants: &[VariantResult]) -> Option<SqsBatches> {
        let row = |key: &str| rows.iter().find(|r| r.key == key);
        let variant = |key: &str| variants.iter().find(|v| v.key == key);
        let sizes: Vec<SqsRow> = [(1, "S1", "T1"), (10, "S10", "T10")]
            .into_iter()
            .filter_map(|(records, bare, traced)| {
                let (b, t) = (row(bare)?, row(traced)?);
                Some(SqsRow {
                    records,
                    bare: bare.into(),
                    traced: traced.into(),
                    bare_summary: b.summary,
                    traced_summary: t.summary,
                    over_bare: Ratios::of(&t.summary, &b.summary),
                    round_cycle_ratios: per_round(variant(traced)?, variant(bare)?, |r| {
                        r.cycle_p50_us
                    }),
                })
            })
            .collect();
        if sizes.is_empty() {
            return None;
        }
        let (one, ten) = (sizes.first()?, sizes.last()?);
        let growth = (one.records == 1 && ten.records == 10)
            .then(|| Some(ten.over_bare.cycle_p50? / one.over_bare.cycle_p50?))
            .flatten();
        let round_growth: Vec<f64> = ten
            .round_cycle_ratios
            .iter()
            .zip(&one.round_cycle_ratios)
            .filter_map(|(t, o)| ratio(*t, *o))
            .collect();
        let targets = growth.map_or_else(Vec::new, |g| {
            vec![Target {
                name: "SQS 10 records over 1 record, traced over bare: (T10 / S10) / (T1 / S1) \
                       of the cycle p50"
                    .into(),
                value: g,
                limit: SQS_GROWTH_LIMIT,
                pass: g <= SQS_GROWTH_LIMIT,
            }]
        });
        Some(SqsBatches {
            rows: sizes,
            growth,
            round_growth,
            targets,
        })
    }

    fn markdown(&self) -> String {
        let mut out = String::from(
            "\nSQS consumer (issue 16): each batch size traced (T, `each_record`) over bare (S), the same event and work:\n\n\
             | event | bare cycle p50 µs | traced cycle p50 µs | traced over bare: p50 | cycle p50 | CPU | per round, cycle p50 |\n\
             |---|---:|---:|---:|---:|---:|---|\n",
        );
        for r in &self.rows {
            out.push_str(&format!(
                "| SQS {} record{} ({}, {}) | {:.1} | {:.1} | {} | {} | {} | {} |\n",
                r.records,
                if r.records == 1 { "" } else { "s" },
                r.bare,
                r.traced,
                r.bare_summary.cycle_p50_us,
                r.traced_summary.cycle_p50_us,
                times(r.over_bare.p50),
                times(r.over_bare.cycle_p50),
                times(r.over_bare.cpu),
                spread(&r.round_cycle_ratios),
            ));
        }
        if let (Some(one), Some(ten), Some(growth)) =
            (self.rows.first(), self.rows.last(), self.growth)
        {
            let cycle = |s: &Summary| s.cycle_p50_us;
            out.push_str(&format!(
                "\nSQS 10 records over 1 record, cycle p50: traced {}, bare {}; traced over bare \
                 {} over {}: **{growth:.3}×** (per round {}; issue 16: at most {SQS_GROWTH_LIMIT:.2}×).\n",
                times(ratio(cycle(&ten.traced_summary), cycle(&one.traced_summary))),
                times(ratio(cycle(&ten.bare_summary), cycle(&one.bare_summary))),
                times(ten.over_bare.cycle_p50),
                times(one.over_bare.cycle_p50),
                spread(&self.round_growth),
            ));
        }
        out
    }
}

fn times(r: Option<f64>) -> String {
    r.map_or("n/a".to_owned(), |r| format!("{r:.3}×"))
}

/// Per round, `f(v) / f(base)` of the same round.
/// Per-round ratios as `lo–hi (median m)`.
fn spread(ratios: &[f64]) -> String {
    match (min_max(ratios), median(ratios)) {
        (Some((lo, hi)), Some(m)) => format!("{lo:.3}–{hi:.3} (median {m:.3})"),
        _ => "n/a".to_owned(),
    }
}

fn per_round(v: &VariantResult, base: &VariantResult, f: impl Fn(&Round) -> f64) -> Vec<f64> {
    v.rounds
        .iter()
        .filter_map(|r| {
            let b = base.rounds.iter().find(|b| b.round == r.round)?;
            ratio(f(r), f(b))
        })
        .collect()
}

/// Issue 6's targets: latency within the A/A noise (at least ±5 %), CPU ≤ 1.10×, init ≤ +0.5 ms,
/// RSS ≤ +512 KiB, binary ≤ 1.15×.
fn targets(base: &Summary, aa: &Row, b: &Row) -> Vec<Target> {
    let noise = |r: Option<f64>| 1.0 + r.map_or(0.0, |r| (r - 1.0).abs()).max(0.05);
    let t = |name: &str, value: Option<f64>, limit: f64| Target {
        name: name.to_owned(),
        value: value.unwrap_or(f64::NAN),
        limit,
        pass: value.is_some_and(|v| v <= limit),
    };
    vec![
        t(
            "p50 latency ratio (within A/A noise, at least 1.05)",
            b.ratio_to_bare.p50,
            noise(aa.ratio_to_bare.p50),
        ),
        t(
            "p99 latency ratio (within A/A noise, at least 1.05)",
            b.ratio_to_bare.p99,
            noise(aa.ratio_to_bare.p99),
        ),
        t("CPU per invocation ratio", b.ratio_to_bare.cpu, 1.10),
        t(
            "init time over bare, ms",
            Some(b.summary.init_ms - base.init_ms),
            0.5,
        ),
        t(
            "peak RSS over bare, KiB",
            Some(b.summary.peak_rss_kib - base.peak_rss_kib),
            512.0,
        ),
        t("binary size ratio", b.ratio_to_bare.binary, 1.15),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(key: &str, lat_us: u64, cpu: f64, init: f64, rss: u64, bin: u64) -> VariantResult {
        VariantResult {
            key: key.into(),
            label: key.into(),
            role: match key {
                "A" => Role::Bare,
                "A'" => Role::Control,
                "B" | "B'" => Role::LambdaTrace,
                "H" => Role::Floor,
                "S1" | "S10" => Role::SqsBare,
                "T1" | "T10" => Role::SqsTraced,
                _ => Role::Alternative,
            },
            export: String::new(),
            binary: String::new(),
            binary_bytes: bin,
            init_ms: vec![init],
            peak_rss_kib: rss,
            rounds: vec![Round {
                round: 1,
                position: 0,
                p50_us: lat_us as f64,
                p99_us: lat_us as f64,
                cycle_p50_us: lat_us as f64 + 20.0,
                cpu_us_per_invocation: cpu,
            }],
            latencies_ns: vec![lat_us * 1000; 10],
            cycles_ns: vec![(lat_us + 20) * 1000; 10],
            invocations: 10,
            datagrams: None,
            otlp_requests: None,
            stdout_exports: None,
            exported_spans: None,
            spans_in_event_trace: None,
            tls: false,
            first_invocations: Vec::new(),
            processes: Vec::new(),
        }
    }

    /// A report of one round of 10 invocations per variant.
    fn report_of(variants: Vec<VariantResult>) -> Report {
        Report::new(
            "2024-01-01T00:00:00Z".into(),
            Machine::detect(),
            serde_json::json!({"invocations": 10, "rounds": 1, "warmup": 0}),
            variants,
            1.0,
        )
    }

    #[test]
    fn ratios_and_targets() {
        let report = report_of(vec![
            variant("A", 100, 50.0, 2.0, 4000, 1024 * 1000),
            variant("A'", 102, 50.0, 2.0, 4000, 1024 * 1000),
            variant("B", 104, 60.0, 2.6, 4600, 1024 * 1100),
        ]);
        let b = &report.rows[2];
        assert!((b.ratio_to_bare.p50.unwrap() - 1.04).abs() < 1e-9);
        assert!((b.ratio_to_bare.cpu.unwrap() - 1.2).abs() < 1e-9);
        assert_eq!(b.round_p50_ratios.len(), 1);
        let pass: Vec<bool> = report.targets.iter().map(|t| t.pass).collect();
        // p50, p99 pass (1.04 ≤ 1.05); CPU 1.2 fails; init +0.6 fails; RSS +600 fails; binary 1.1 passes.
        assert_eq!(pass, [true, true, false, false, false, true]);
        let md = report.markdown();
        assert!(
            md.contains("| B B | 104.0 (1.040×) | 104.0 (1.040×) | 124.0 (1.033×)"),
            "{md}"
        );
        assert!(md.contains("FAIL"));
        assert!(report.comparison.is_none(), "no alternatives ran");
        assert!(!md.contains("spans per invocation"), "{md}");
        assert!(report.targets_after_response.is_empty(), "no B' row");
    }

    #[test]
    fn after_response_row_gets_its_own_targets_and_comparison() {
        let report = report_of(vec![
            variant("A", 100, 50.0, 2.0, 4000, 1024 * 1000),
            variant("A'", 102, 50.0, 2.0, 4000, 1024 * 1000),
            variant("B", 110, 60.0, 2.6, 4600, 1024 * 1100),
            variant("B'", 101, 52.0, 2.1, 4100, 1024 * 1100),
            variant("G", 115, 60.0, 2.0, 4000, 1024 * 1000),
        ]);
        let pass = |t: &[Target]| t.iter().map(|t| t.pass).collect::<Vec<_>>();
        assert_eq!(
            pass(&report.targets),
            [false, false, false, false, false, true]
        );
        assert_eq!(
            pass(&report.targets_after_response),
            [true, true, true, true, true, true]
        );
        // Cycles: A 120, B 130 (+8.3 %), B' 121 (+0.8 %), G 135 (+12.5 %).
        let b = report.comparison.as_ref().unwrap();
        let b2 = report.comparison_after_response.as_ref().unwrap();
        assert_eq!((b.key.as_str(), b2.key.as_str()), ("B", "B'"));
        assert!((b2.factor.unwrap() - 15.0).abs() < 1e-9);
        let md = report.markdown();
        assert!(
            md.contains("Issue 6 targets for B' (after-response):"),
            "{md}"
        );
        assert!(
            md.contains("B' +0.8 %, best alternative G G +12.5 %"),
            "{md}"
        );
    }

    #[test]
    fn b_against_the_best_alternative() {
        let mut b = variant("B", 104, 60.0, 2.6, 4600, 1024 * 1100);
        (b.datagrams, b.exported_spans, b.spans_in_event_trace) = (Some(10), Some(40), Some(40));
        let mut g = variant("G", 115, 60.0, 2.0, 4000, 1024 * 1000);
        (g.datagrams, g.exported_spans, g.spans_in_event_trace) = (Some(40), Some(40), Some(0));
        g.export = "4 datagrams".into();
        let report = report_of(vec![
            variant("A", 100, 50.0, 2.0, 4000, 1024 * 1000),
            variant("A'", 102, 50.0, 2.0, 4000, 1024 * 1000),
            b,
            variant("E", 130, 50.0, 2.0, 4000, 1024 * 1000),
            g,
            variant("H", 103, 50.0, 2.0, 4000, 1024 * 1000),
        ]);
        // Cycles: A 120, B 124 (+3.3 %), E 150 (+25 %), G 135 (+12.5 %), H 123 (+2.5 %).
        let c = report.comparison.as_ref().unwrap();
        assert_eq!(c.best_alternative, "G G");
        assert!((c.best_overhead - 0.125).abs() < 1e-9);
        assert!((c.factor.unwrap() - 3.75).abs() < 1e-9);
        assert!(c.pass);
        assert_eq!(c.floor.as_ref().map(|f| f.0.as_str()), Some("H H"));
        // B over H: latency 104/103, cycle 124/123.
        let over = c.over_floor.expect("the floor ran");
        assert!((over.p50.unwrap() - 104.0 / 103.0).abs() < 1e-9);
        assert!((over.cycle_p50.unwrap() - 124.0 / 123.0).abs() < 1e-9);
        let md = report.markdown();
        assert!(md.contains("B over the floor: p50 1.010×"), "{md}");
        // One round: B's 104 / 124 / 60 over H's 103 / 123 / 50.
        assert!(
            md.contains(
                "Per round, B over H: p50 1.010–1.010 (median 1.010), cycle p50 1.008–1.008 \
                 (median 1.008), CPU 1.200–1.200 (median 1.200)."
            ),
            "{md}"
        );
        assert!(
            md.contains("B +3.3 %, best alternative G G +12.5 %"),
            "{md}"
        );
        assert!(
            md.contains("3.75× lower (issue target: at least 3× lower): pass"),
            "{md}"
        );
        assert!(
            md.contains("| B B |  | 1.00 datagrams | 4.00 | 100 % |"),
            "{md}"
        );
        assert!(
            md.contains("| G G | 4 datagrams | 4.00 datagrams | 4.00 | 0 % |"),
            "{md}"
        );
    }

    #[test]
    fn https_rows_get_connections_first_invocations_and_issue_15_targets() {
        let process = |connections, full_handshakes| ProcessConnections {
            invocations: 10,
            connections,
            full_handshakes,
            resumed_handshakes: 0,
        };
        let first = |cycle_us, handshake_us: Option<f64>| FirstInvocation {
            latency_us: cycle_us - 20.0,
            cycle_us,
            handshake_us,
            to_first_request_us: handshake_us.map(|h| h + 50.0),
        };
        let https = |key: &str, lat_us, init, processes: Vec<ProcessConnections>| {
            let mut v = variant(key, lat_us, 60.0, init, 4600, 1024 * 1400);
            v.tls = true;
            v.processes = processes;
            v.first_invocations = vec![first(2000.0, Some(900.0)), first(2200.0, Some(1100.0))];
            v
        };
        let mut bare = variant("A", 100, 50.0, 2.0, 4000, 1024 * 1000);
        bare.first_invocations = vec![first(400.0, None), first(600.0, None)];
        let mut k = https("K", 160, 3.0, vec![process(1, 1)]);
        k.binary_bytes = 1024 * 2800;
        let report = report_of(vec![
            bare,
            variant("A'", 100, 50.0, 2.0, 4000, 1024 * 1000),
            variant("B", 110, 60.0, 2.6, 4600, 1024 * 1100),
            // I: 2 connections in its second process; J: the targets' figures.
            https("I", 120, 8.0, vec![process(1, 1), process(2, 2)]),
            https("J", 104, 2.5, vec![process(1, 1), process(1, 1)]),
            k,
        ]);
        let verdicts: Vec<(&str, bool)> = report
            .targets_tls
            .iter()
            .map(|t| (t.name.as_str(), t.pass))
            .collect();
        // Cycles: A 120, I 140 (+16.7 %), J 124 (+3.3 %), K 180 (+50 %).
        assert_eq!(
            verdicts,
            [
                ("J p50 latency ratio (HTTPS, after-response)", true),
                ("J p99 latency ratio (HTTPS, after-response)", true),
                (
                    "I billed overhead (cycle p50 ratio − 1) over K's (+16.7 % / +50.0 %)",
                    false
                ),
                (
                    "J billed overhead (cycle p50 ratio − 1) over K's (+3.3 % / +50.0 %)",
                    true
                ),
                (
                    "I TCP connections per process, most of 2 processes (exactly 1)",
                    false
                ),
                (
                    "I full TLS handshakes per process, most of 2 processes (exactly 1)",
                    false
                ),
                (
                    "J TCP connections per process, most of 2 processes (exactly 1)",
                    true
                ),
                (
                    "J full TLS handshakes per process, most of 2 processes (exactly 1)",
                    true
                ),
                ("I init time over bare, ms", false),
                ("J init time over bare, ms", true),
            ]
        );
        let md = report.markdown();
        assert!(
            md.contains("Issue 15 targets for OTLP over HTTPS (I, J; K the alternative):"),
            "{md}"
        );
        assert!(
            md.contains("| A A | 480 | 500 | – | – | – | – | – | – |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| I I | 2080 | 2100 | +1.60 ms | 1000 | 1050 | 1–2 | 1–2 / 0 | 10 invocations, 2 connections, 2 full / 0 resumed handshakes |"
            ),
            "{md}"
        );
        assert!(
            md.contains("over A's 2.00 ms: I 8.00 ms (+6.00 ms)"),
            "{md}"
        );
        assert!(
            md.contains("Binary over A's 1000 KiB: I 1400 KiB (1.400×), J 1400 KiB (1.400×), K 2800 KiB (2.800×); lambda-trace's with OTLP + TLS is 0.50× the size of K's."),
            "{md}"
        );
    }

    #[test]
    fn sqs_batches_compare_traced_over_bare_of_10_records_with_1_record() {
        let report = report_of(vec![
            variant("A", 100, 50.0, 2.0, 4000, 1024 * 1000),
            variant("A'", 100, 50.0, 2.0, 4000, 1024 * 1000),
            variant("B", 110, 60.0, 2.0, 4000, 1024 * 1000),
            // Cycles (latency + 20): S1 100, T1 120 (1.2×), S10 180, T10 252 (1.4×).
            variant("S1", 80, 50.0, 2.0, 4000, 1024 * 1000),
            variant("T1", 100, 60.0, 2.0, 4000, 1024 * 1000),
            variant("S10", 160, 90.0, 2.0, 4000, 1024 * 1000),
            variant("T10", 232, 120.0, 2.0, 4000, 1024 * 1000),
        ]);
        let sqs = report.sqs.as_ref().expect("S and T ran");
        assert_eq!(sqs.rows.len(), 2);
        assert!((sqs.rows[0].over_bare.cycle_p50.unwrap() - 1.2).abs() < 1e-9);
        assert!((sqs.rows[1].over_bare.cycle_p50.unwrap() - 1.4).abs() < 1e-9);
        // 1.4 / 1.2 = 1.167: within 1.20.
        assert!((sqs.growth.unwrap() - 1.4 / 1.2).abs() < 1e-9);
        assert_eq!(sqs.round_growth.len(), 1);
        assert_eq!(sqs.targets.len(), 1);
        assert!(sqs.targets[0].pass);
        assert_eq!(report.comparison, None, "S and T are no alternatives");
        let md = report.markdown();
        assert!(
            md.contains("| SQS 10 records (S10, T10) | 180.0 | 252.0 | 1.450× | 1.400× | 1.333× |"),
            "{md}"
        );
        assert!(md.contains("over 1.200×: **1.167×**"), "{md}");
        assert!(
            md.contains("Issue 16 target for SQS batches (S, T):"),
            "{md}"
        );
        // T10 at 1.5× S10: past the limit (1.5 / 1.2 = 1.25).
        let report = report_of(vec![
            variant("A", 100, 50.0, 2.0, 4000, 1024 * 1000),
            variant("A'", 100, 50.0, 2.0, 4000, 1024 * 1000),
            variant("B", 110, 60.0, 2.0, 4000, 1024 * 1000),
            variant("S1", 80, 50.0, 2.0, 4000, 1024 * 1000),
            variant("T1", 100, 60.0, 2.0, 4000, 1024 * 1000),
            variant("S10", 160, 90.0, 2.0, 4000, 1024 * 1000),
            variant("T10", 250, 120.0, 2.0, 4000, 1024 * 1000),
        ]);
        assert!(!report.sqs.unwrap().targets[0].pass);
    }

    #[test]
    fn no_https_rows_no_issue_15_section() {
        let report = report_of(vec![
            variant("A", 100, 50.0, 2.0, 4000, 1024 * 1000),
            variant("A'", 102, 50.0, 2.0, 4000, 1024 * 1000),
            variant("B", 104, 60.0, 2.6, 4600, 1024 * 1100),
        ]);
        assert!(report.targets_tls.is_empty());
        let md = report.markdown();
        assert!(!md.contains("First invocation"), "{md}");
        assert!(!md.contains("Issue 15"), "{md}");
        assert!(report.sqs.is_none());
        assert!(!md.contains("Issue 16"), "{md}");
    }
}
