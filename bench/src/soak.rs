//! The checks of `make soak` (issue 7, "Load"): every invocation's X-Ray document arrives, is
//! well-formed, carries that invocation's ids and nothing of another invocation's; and memory
//! stays flat.
//!
//! The driver (`src/bin/soak.rs`) gives each invocation its own request id and its own trace
//! header `Root=…;Parent=…;Sampled=1` ([`Carrier`]: as Lambda sends it under Active tracing, or
//! in the event, as API Gateway passes a caller's) and [`Ledger::open`]s it; the documents the
//! daemon received go to [`Ledger::datagram`] as they arrive (matched to their invocation by
//! trace id, nothing kept once checked); when the response is in, [`Ledger::close`] checks the
//! response and that the document came — the functions flush before they respond, so it must
//! already be there.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use lambda_trace_local::{Datagram, Outcome, ids};
use serde::Serialize;
use serde_json::{Value, json};

/// How many problem descriptions a [`Tally`] keeps (it counts all of them).
pub const MAX_EXAMPLES: usize = 10;

/// Where an invocation's trace header travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Carrier {
    /// `Lambda-Runtime-Trace-Id`, as Lambda sends it under Active tracing: our invocation span
    /// is a subsegment of Lambda's function segment, the request id in `aws.request_id`.
    Lambda,
    /// `X-Amzn-Trace-Id` in the event's `headers`, no `Lambda-Runtime-Trace-Id`: our invocation
    /// span is a segment (`origin: AWS::Lambda::Function`) under the caller's span.
    Event,
}

/// The traced function a phase runs (a release or debug build of the crate's examples).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    /// `examples/echo.rs` with `{"children": 3, "n": n}`: echoes the event, three child spans
    /// `child-0..2`, annotates `requestId` on the invocation span.
    Echo,
    /// `examples/concurrent.rs` with `{"n": n, "sleep_ms": 1}`: answers `{"n": n}`, annotates `n`
    /// on the invocation span and on its three child spans `step-0..2`, which each sleep 1 ms
    /// (so invocations overlap in one process).
    Concurrent,
}

impl Function {
    /// The example's binary name.
    pub fn binary(self) -> &'static str {
        match self {
            Function::Echo => "echo",
            Function::Concurrent => "concurrent",
        }
    }

    /// The event of `invocation`; with [`Carrier::Event`] it carries the trace header.
    pub fn payload(self, invocation: &Expected, carrier: Carrier) -> Value {
        let n = invocation.n;
        let mut event = match self {
            Function::Echo => json!({ "children": 3, "n": n }),
            Function::Concurrent => json!({ "n": n, "sleep_ms": 1 }),
        };
        if carrier == Carrier::Event {
            event["headers"] = json!({ "X-Amzn-Trace-Id": invocation.trace_header() });
        }
        event
    }

    /// What the function answers to the [`Function::payload`] of `invocation`.
    pub fn answer(self, invocation: &Expected, carrier: Carrier) -> Value {
        match self {
            Function::Echo => self.payload(invocation, carrier),
            Function::Concurrent => json!({ "n": invocation.n }),
        }
    }

    fn child_name(self, i: usize) -> String {
        match self {
            Function::Echo => format!("child-{i}"),
            Function::Concurrent => format!("step-{i}"),
        }
    }
}

/// One invocation the driver sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Its number in the phase (0-based).
    pub n: u64,
    /// `Lambda-Runtime-Aws-Request-Id`: random, UUID-shaped.
    pub request_id: String,
    /// `1-{epoch seconds}-{run:08x}{n:016x}`: unique by construction, and a stray document
    /// names the run and invocation it came from.
    pub trace_id: String,
    /// The `Parent` of the trace header: Lambda's function segment, random.
    pub parent_id: String,
    documents: u32,
}

impl Expected {
    /// Invocation `n` of the run tagged `run`, started at `epoch` (seconds).
    pub fn new(run: u32, epoch: u32, n: u64) -> Self {
        Expected {
            n,
            request_id: ids::request_id(),
            trace_id: format!("1-{epoch:08x}-{run:08x}{n:016x}"),
            parent_id: ids::segment_id(),
            documents: 0,
        }
    }

    /// The trace header: this invocation's trace, sampled.
    pub fn trace_header(&self) -> String {
        format!("Root={};Parent={};Sampled=1", self.trace_id, self.parent_id)
    }
}

/// What a phase saw, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Invocations closed (their response arrived).
    pub invocations: u64,
    /// Datagrams the daemon received.
    pub documents: u64,
    /// Spans in the well-formed documents of their own invocation (the root and its children).
    pub spans: u64,
    /// Invocations whose response came without their document having arrived (and no document
    /// came later).
    pub missing: u64,
    /// Invocations whose document came after their response: flushed too late.
    pub late: u64,
    /// A second document for an invocation, or one after its response that was not its first.
    pub duplicate: u64,
    /// A document of no invocation of this run, or one carrying another invocation's request
    /// id, parent or annotations.
    pub foreign: u64,
    /// Not a well-formed segment document: unparsable datagram, schema violation, an
    /// unfinished span, or not the spans the function opens.
    pub malformed: u64,
    /// Invocations that did not answer what the function answers for their event.
    pub bad_responses: u64,
    /// The first [`MAX_EXAMPLES`] problems, described.
    pub examples: Vec<String>,
}

impl Tally {
    /// Every problem counted: `missing + late + duplicate + foreign + malformed + bad_responses`.
    pub fn mismatches(&self) -> u64 {
        self.missing
            + self.late
            + self.duplicate
            + self.foreign
            + self.malformed
            + self.bad_responses
    }

    fn problem(&mut self, kind: Problem, what: String) {
        *match kind {
            Problem::Missing => &mut self.missing,
            Problem::Late => &mut self.late,
            Problem::Duplicate => &mut self.duplicate,
            Problem::Foreign => &mut self.foreign,
            Problem::Malformed => &mut self.malformed,
            Problem::BadResponse => &mut self.bad_responses,
        } += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(format!("{kind:?}: {what}"));
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Problem {
    Missing,
    Late,
    Duplicate,
    Foreign,
    Malformed,
    BadResponse,
}

/// The invocations in flight, and the [`Tally`] of everything checked so far.
#[derive(Debug)]
pub struct Ledger {
    function: Function,
    carrier: Carrier,
    function_name: String,
    run: u32,
    open: HashMap<String, Expected>,
    /// Closed without a document (a problem already, so few): a document that comes later is
    /// late, not a duplicate.
    missing: HashSet<String>,
    /// What was counted.
    pub tally: Tally,
}

impl Ledger {
    /// A ledger for `function` running as `function_name`, its invocations' trace headers sent
    /// by `carrier`, in the run tagged `run`.
    pub fn new(function: Function, carrier: Carrier, function_name: &str, run: u32) -> Self {
        Ledger {
            function,
            carrier,
            function_name: function_name.to_owned(),
            run,
            open: HashMap::new(),
            missing: HashSet::new(),
            tally: Tally::default(),
        }
    }

    /// Records an invocation about to be sent.
    pub fn open(&mut self, expected: Expected) {
        self.open.insert(expected.trace_id.clone(), expected);
    }

    /// Invocations opened and not closed yet.
    pub fn in_flight(&self) -> usize {
        self.open.len()
    }

    /// Checks one datagram the daemon received, against the invocation whose trace it names.
    pub fn datagram(&mut self, datagram: &Datagram) {
        self.tally.documents += 1;
        if let Some(error) = &datagram.error {
            let what = format!("{error}: {}", clip(&datagram.raw));
            return self.tally.problem(Problem::Malformed, what);
        }
        let trace_id = datagram.trace_id().unwrap_or_default();
        let Some(expected) = self.open.get_mut(trace_id) else {
            let ours = trace_id.get(11..19) == Some(format!("{:08x}", self.run).as_str());
            let n = trace_id
                .get(19..)
                .and_then(|h| u64::from_str_radix(h, 16).ok());
            let (kind, what) = if self.missing.remove(trace_id) {
                // Counted missing at its response; it is late instead.
                self.tally.missing -= 1;
                let what = format!("the document of invocation {n:?} came after its response");
                (Problem::Late, what)
            } else if ours {
                let what = format!("a document of invocation {n:?} after its response");
                (Problem::Duplicate, what)
            } else {
                let what = format!(
                    "trace {trace_id:?} is no invocation's: {}",
                    clip(&datagram.raw)
                );
                (Problem::Foreign, what)
            };
            return self.tally.problem(kind, what);
        };
        expected.documents += 1;
        if expected.documents > 1 {
            let what = format!(
                "document {} of invocation {}",
                expected.documents, expected.n
            );
            return self.tally.problem(Problem::Duplicate, what);
        }
        let expected = expected.clone();
        match check_document(
            self.function,
            self.carrier,
            &self.function_name,
            &expected,
            &datagram.document,
        ) {
            Ok(spans) => self.tally.spans += spans,
            Err((kind, why)) => {
                let what = format!("invocation {}: {why}", expected.n);
                self.tally.problem(kind, what);
            }
        }
    }

    /// Closes the invocation of `trace_id` when its result arrived: checks the response, and
    /// that its document arrived before it.
    pub fn close(&mut self, trace_id: &str, outcome: &Outcome) {
        let Some(expected) = self.open.remove(trace_id) else {
            return;
        };
        self.tally.invocations += 1;
        let answer = outcome
            .response()
            .and_then(|body| serde_json::from_slice::<Value>(body).ok());
        if answer != Some(self.function.answer(&expected, self.carrier)) {
            let what = format!("invocation {} answered {outcome:?}", expected.n);
            self.tally.problem(Problem::BadResponse, what);
        }
        if expected.documents == 0 {
            let what = format!("invocation {} ({trace_id}): no document", expected.n);
            self.tally.problem(Problem::Missing, what);
            self.missing.insert(expected.trace_id);
        }
    }
}

/// Checks the document of `expected`'s trace; the number of spans in it, or the problem.
fn check_document(
    function: Function,
    carrier: Carrier,
    function_name: &str,
    expected: &Expected,
    doc: &Value,
) -> Result<u64, (Problem, String)> {
    let malformed = |why: String| (Problem::Malformed, why);
    let foreign = |why: String| (Problem::Foreign, why);
    well_formed(doc).map_err(malformed)?;
    // Under Active tracing our root is a subsegment of Lambda's function segment, the request
    // id in `aws`; under the event's header, a segment of its own. The request id is in the
    // attributes (`metadata.lambda_trace`) either way.
    let request_id = expected.request_id.as_str();
    let (kind, origin, aws_request_id) = match carrier {
        Carrier::Lambda => (Some("subsegment"), None, Some(request_id)),
        Carrier::Event => (None, Some("AWS::Lambda::Function"), None),
    };
    let ids = (
        doc["type"].as_str(),
        doc["origin"].as_str(),
        doc["parent_id"].as_str(),
        doc["aws"]["request_id"].as_str(),
        doc["metadata"]["lambda_trace"]["faas.invocation_id"].as_str(),
    );
    let parent = Some(expected.parent_id.as_str());
    let wanted = (kind, origin, parent, aws_request_id, Some(request_id));
    if ids != wanted {
        return Err(foreign(format!(
            "(type, origin, parent_id, aws.request_id, faas.invocation_id) = {ids:?}, \
             expected {wanted:?}"
        )));
    }
    if doc["name"] != function_name {
        return Err(malformed(format!("named {}", doc["name"])));
    }
    let own = match function {
        Function::Echo => json!(expected.request_id),
        Function::Concurrent => json!(expected.n),
    };
    let key = match function {
        Function::Echo => "requestId",
        Function::Concurrent => "n",
    };
    if doc["annotations"][key] != own {
        let found = &doc["annotations"][key];
        return Err(foreign(format!(
            "annotation {key} = {found}, expected {own}"
        )));
    }
    let children = doc["subsegments"].as_array().map_or(&[][..], Vec::as_slice);
    let names: Vec<&str> = children.iter().filter_map(|c| c["name"].as_str()).collect();
    let wanted: Vec<String> = (0..3).map(|i| function.child_name(i)).collect();
    if names != wanted {
        return Err(malformed(format!(
            "child spans {names:?}, expected {wanted:?}"
        )));
    }
    if function == Function::Concurrent {
        for child in children {
            if child["annotations"]["n"] != own {
                let found = &child["annotations"]["n"];
                return Err(foreign(format!("a child span annotated n = {found}")));
            }
        }
    }
    Ok(count_spans(doc))
}

/// A complete segment document: valid against the X-Ray segment-document schema (the copy in
/// `tests/data/`), and every span in it ended (`end_time` ≥ `start_time`, not `in_progress`).
pub fn well_formed(doc: &Value) -> Result<(), String> {
    if let Some(e) = schema().iter_errors(doc).next() {
        return Err(format!("schema: {e} at {}", e.instance_path));
    }
    finished(doc)
}

fn finished(doc: &Value) -> Result<(), String> {
    let (start, end) = (doc["start_time"].as_f64(), doc["end_time"].as_f64());
    match (start, end) {
        (Some(s), Some(e)) if e >= s && doc.get("in_progress").is_none() => {}
        _ => {
            return Err(format!(
                "span {} not finished: {start:?}..{end:?}",
                doc["name"]
            ));
        }
    }
    doc["subsegments"]
        .as_array()
        .into_iter()
        .flatten()
        .try_for_each(finished)
}

fn count_spans(doc: &Value) -> u64 {
    1 + doc["subsegments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(count_spans)
        .sum::<u64>()
}

fn schema() -> &'static jsonschema::Validator {
    static SCHEMA: OnceLock<jsonschema::Validator> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let text = include_str!("../../tests/data/segment-document.schema.json");
        let schema: Value = serde_json::from_str(text).expect("the schema is JSON");
        jsonschema::draft4::new(&schema).expect("the schema compiles")
    })
}

fn clip(text: &str) -> String {
    text.chars().take(300).collect()
}

/// The process's resident set size after a number of invocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MemorySample {
    /// Invocations completed when the sample was taken.
    pub invocations: u64,
    /// `VmRSS`, KiB.
    pub rss_kib: u64,
}

/// RSS of the last sample minus the first, KiB (0 with fewer than two samples).
pub fn growth_kib(samples: &[MemorySample]) -> i64 {
    match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => b.rss_kib as i64 - a.rss_kib as i64,
        _ => 0,
    }
}

/// The least-squares slope of RSS over invocations, bytes per invocation (0 with fewer than two
/// samples): a leak of a few bytes per invocation shows here even when page-sized steps make the
/// first-to-last difference noisy.
pub fn slope_bytes_per_invocation(samples: &[MemorySample]) -> f64 {
    let n = samples.len() as f64;
    if samples.len() < 2 {
        return 0.0;
    }
    let mean_x = samples.iter().map(|s| s.invocations as f64).sum::<f64>() / n;
    let mean_y = samples.iter().map(|s| s.rss_kib as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for s in samples {
        let dx = s.invocations as f64 - mean_x;
        sxy += dx * (s.rss_kib as f64 - mean_y);
        sxx += dx * dx;
    }
    if sxx == 0.0 { 0.0 } else { sxy / sxx * 1024.0 }
}

/// The most intervals (`/next` answered, result received) that overlap at one instant: how many
/// invocations the function had in hand at once.
pub fn max_overlap<T: Ord + Copy>(intervals: &[(T, T)]) -> usize {
    // An end sorts before a start at the same instant: touching intervals do not overlap.
    let mut events: Vec<(T, bool)> = intervals
        .iter()
        .flat_map(|&(start, end)| [(start, true), (end, false)])
        .collect();
    events.sort_unstable();
    let (mut now, mut max) = (0usize, 0usize);
    for (_, is_start) in events {
        if is_start {
            now += 1;
            max = max.max(now);
        } else {
            now = now.saturating_sub(1);
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

    fn document(function: Function, carrier: Carrier, e: &Expected, n_of_child: u64) -> Value {
        let children: Vec<Value> = (0..3)
            .map(|i| {
                let mut child = json!({
                    "name": function.child_name(i), "id": format!("{:016x}", i + 1),
                    "start_time": 1.5, "end_time": 1.6,
                });
                if function == Function::Concurrent {
                    child["annotations"] = json!({ "n": n_of_child });
                }
                child
            })
            .collect();
        let annotation = match function {
            Function::Echo => json!({ "requestId": e.request_id }),
            Function::Concurrent => json!({ "n": e.n }),
        };
        let mut doc = json!({
            "name": "soak", "id": "00000000000000aa", "trace_id": e.trace_id,
            "parent_id": e.parent_id, "start_time": 1.0, "end_time": 2.0,
            "annotations": annotation, "subsegments": children,
            "metadata": { "lambda_trace": { "faas.invocation_id": e.request_id } },
        });
        match carrier {
            Carrier::Lambda => {
                doc["type"] = json!("subsegment");
                doc["aws"] = json!({ "request_id": e.request_id });
            }
            Carrier::Event => doc["origin"] = json!("AWS::Lambda::Function"),
        }
        doc
    }

    const L: Carrier = Carrier::Lambda;

    fn datagram(doc: &Value) -> Datagram {
        Datagram::parse(format!("{HEADER}{doc}").as_bytes(), Instant::now())
    }

    fn answer(function: Function, carrier: Carrier, e: &Expected) -> Outcome {
        let body = function.answer(e, carrier);
        Outcome::Response(serde_json::to_vec(&body).unwrap().into())
    }

    #[test]
    fn a_good_invocation_counts_no_problem() {
        for function in [Function::Echo, Function::Concurrent] {
            for carrier in [Carrier::Lambda, Carrier::Event] {
                let mut ledger = Ledger::new(function, carrier, "soak", 1);
                let e = Expected::new(1, 0x6500_0000, 7);
                assert_eq!(e.trace_id, "1-65000000-000000010000000000000007");
                ledger.open(e.clone());
                ledger.datagram(&datagram(&document(function, carrier, &e, 7)));
                ledger.close(&e.trace_id, &answer(function, carrier, &e));
                assert_eq!(ledger.tally.mismatches(), 0, "{:?}", ledger.tally);
                assert_eq!((ledger.tally.spans, ledger.in_flight()), (4, 0));
            }
        }
        // The placement must match the carrier.
        let mut ledger = Ledger::new(Function::Echo, Carrier::Event, "soak", 1);
        let e = Expected::new(1, 0x6500_0000, 7);
        ledger.open(e.clone());
        ledger.datagram(&datagram(&document(Function::Echo, L, &e, 7)));
        assert_eq!(ledger.tally.foreign, 1);
        let event = Function::Echo.payload(&e, Carrier::Event);
        assert_eq!(event["headers"]["X-Amzn-Trace-Id"], e.trace_header());
    }

    #[test]
    fn every_kind_of_problem_is_counted() {
        let f = Function::Concurrent;
        let mut ledger = Ledger::new(f, L, "soak", 1);
        let [a, b, c] = [1, 2, 3].map(|n| Expected::new(1, 0x6500_0000, n));
        for e in [&a, &b, &c] {
            ledger.open(e.clone());
        }
        // a: a span of invocation 2 inside, then its document again.
        ledger.datagram(&datagram(&document(f, L, &a, 2)));
        ledger.datagram(&datagram(&document(f, L, &a, 1)));
        // b: b's trace id with c's request id.
        let mut swapped = document(f, L, &b, 2);
        swapped["aws"]["request_id"] = json!(c.request_id);
        ledger.datagram(&datagram(&swapped));
        // c: no end time; then nothing of c arrives in time (it is malformed, not missing).
        let mut open = document(f, L, &c, 3);
        open.as_object_mut().unwrap().remove("end_time");
        ledger.datagram(&datagram(&open));
        // A trace of no invocation, and garbage.
        let mut stranger = document(f, L, &a, 1);
        stranger["trace_id"] = json!("1-65000000-0000000f0000000000000001");
        ledger.datagram(&datagram(&stranger));
        ledger.datagram(&Datagram::parse(b"nope", Instant::now()));
        for e in [&a, &b] {
            ledger.close(&e.trace_id, &answer(f, L, e));
        }
        // c's response is wrong; and a document of a comes after a's response.
        ledger.close(&c.trace_id, &Outcome::TimedOut);
        ledger.datagram(&datagram(&document(f, L, &a, 1)));
        let t = &ledger.tally;
        assert_eq!(t.documents, 7);
        assert_eq!((t.foreign, t.duplicate, t.malformed), (3, 2, 2), "{t:#?}");
        assert_eq!((t.missing, t.bad_responses), (0, 1), "{t:#?}");
        assert_eq!(t.mismatches(), 8);
        assert!(
            t.examples[0].contains("child span annotated n = 2"),
            "{t:#?}"
        );

        let mut missing = Ledger::new(f, L, "soak", 1);
        missing.open(a.clone());
        missing.close(&a.trace_id, &answer(f, L, &a));
        assert_eq!((missing.tally.missing, missing.tally.late), (1, 0));
        missing.datagram(&datagram(&document(f, L, &a, 1)));
        assert_eq!((missing.tally.missing, missing.tally.late), (0, 1));
        missing.datagram(&datagram(&document(f, L, &a, 1)));
        assert_eq!((missing.tally.late, missing.tally.duplicate), (1, 1));
    }

    #[test]
    fn memory_figures() {
        let s = |invocations, rss_kib| MemorySample {
            invocations,
            rss_kib,
        };
        let flat = [s(10_000, 4000), s(20_000, 4004), s(30_000, 4000)];
        assert_eq!(growth_kib(&flat), 0);
        assert!(slope_bytes_per_invocation(&flat).abs() < 1e-9);
        // 100 bytes per invocation.
        let leak: Vec<_> = (1..=10)
            .map(|k| s(k * 10_000, 4000 + k * 10_000 * 100 / 1024))
            .collect();
        assert!((slope_bytes_per_invocation(&leak) - 100.0).abs() < 1.0);
        assert_eq!(growth_kib(&leak), 8789);
        assert_eq!(growth_kib(&[]), 0);
    }

    #[test]
    fn overlap() {
        assert_eq!(max_overlap::<u32>(&[]), 0);
        assert_eq!(max_overlap(&[(0, 1), (1, 2), (2, 3)]), 1);
        assert_eq!(max_overlap(&[(0, 10), (1, 3), (2, 4), (3, 5)]), 3);
    }
}
