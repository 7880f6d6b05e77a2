//! The echo example as a real process against the local Runtime API, under faults (issue #7):
//! a handler still running at its deadline, documents over 64 kB, 10,000 spans in one
//! invocation, a daemon address that is garbage or unreachable.
//!
//! The daemon socket is read while the invocation runs (so each datagram has its arrival time,
//! which the deadline test compares with the deadline) and once more when `/response` arrives:
//! every document must be there by then. In every case the function's response is unchanged and
//! every document validates against the schema.

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_trace_local::{
    Datagram, FunctionProcess, Invocation, InvocationResult, Outcome, RuntimeApi, XrayDaemon,
};
use serde_json::{Value, json};

const LAMBDA_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

struct Function {
    api: RuntimeApi,
    daemon: Arc<XrayDaemon>,
    /// Datagrams read so far: while an invocation runs, and when its `/response` arrives.
    received: Arc<Mutex<Vec<Datagram>>>,
    _process: FunctionProcess,
}

impl Function {
    /// The echo example sending to the local daemon, with `env` on top.
    async fn start(env: &[(&str, &str)]) -> Self {
        let daemon = Arc::new(XrayDaemon::bind().expect("bind UDP daemon"));
        let api = RuntimeApi::start().await.expect("start Runtime API");
        let received = Arc::new(Mutex::new(Vec::new()));
        let (at_response, socket) = (Arc::clone(&received), Arc::clone(&daemon));
        api.on_response(move |_| at_response.lock().unwrap().extend(socket.drain()));
        let process = support::spawn_echo(&api, &daemon, env).await;
        Self {
            api,
            daemon,
            received,
            _process: process,
        }
    }

    /// Invokes `payload` under Active tracing with `deadline`, reading the daemon socket while
    /// the invocation runs. Returns the result and every datagram that had arrived when the
    /// function posted its response; asserts that none arrived later.
    async fn invoke(
        &self,
        payload: &Value,
        deadline: Duration,
    ) -> (InvocationResult, Vec<Datagram>) {
        let invocation = Invocation::new(serde_json::to_vec(payload).unwrap())
            .with_trace_header(LAMBDA_HEADER)
            .with_deadline(deadline);
        let api = self.api.clone();
        let mut call = tokio::spawn(async move { api.invoke(invocation).await });
        let result = loop {
            tokio::select! {
                result = &mut call => break result.unwrap(),
                () = tokio::time::sleep(Duration::from_millis(2)) => {
                    let new = self.daemon.drain();
                    self.received.lock().unwrap().extend(new);
                }
            }
        };
        let datagrams = std::mem::take(&mut *self.received.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(20)).await;
        let late = self.daemon.drain();
        assert!(late.is_empty(), "sent after /response: {late:?}");
        (result, datagrams)
    }
}

fn response_json(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Response(body) => serde_json::from_slice(body).unwrap(),
        other => panic!("expected a response, got {other:?}"),
    }
}

fn documents(datagrams: &[Datagram]) -> Vec<&Value> {
    datagrams
        .iter()
        .map(|d| {
            assert!(d.is_ok(), "{:?}: {}", d.error, d.raw);
            support::assert_valid_document(&d.document);
            &d.document
        })
        .collect()
}

fn epoch_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn ids(doc: &Value, out: &mut BTreeSet<String>) {
    assert!(
        out.insert(doc["id"].as_str().unwrap().to_string()),
        "a span in two documents"
    );
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        ids(sub, out);
    }
}

#[tokio::test]
async fn a_function_still_running_at_its_deadline_sends_a_timed_out_trace_before_it() {
    let f = Function::start(&[]).await;
    let deadline = Duration::from_millis(500);
    let payload = json!({"children": 2, "sleep_ms": 1500});
    let queued = Instant::now();
    let queued_epoch = epoch_seconds();
    let (result, datagrams) = f.invoke(&payload, deadline).await;

    assert_eq!(
        response_json(&result.outcome),
        payload,
        "the response, posted later, is unchanged"
    );
    assert!(result.completed_at >= queued + Duration::from_millis(1500));
    assert_eq!(datagrams.len(), 1, "one document, no second export");
    let arrived = datagrams[0].received_at;
    assert!(
        arrived < queued + deadline,
        "the document arrived {:?} after the invocation was queued, past its {deadline:?} deadline",
        arrived - queued
    );
    let doc = &documents(&datagrams)[0];
    assert!(doc["end_time"].as_f64().unwrap() < queued_epoch + deadline.as_secs_f64());
    assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["annotations"]["TimedOut"], true);
    let exception = &doc["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "Timeout");
    let message = exception["message"].as_str().unwrap();
    assert!(message.starts_with("Task timed out after"), "{message}");
    assert_eq!(doc["metadata"]["lambda_trace"]["unfinished"], true);
    let children = doc["subsegments"].as_array().unwrap();
    let names: Vec<&str> = children
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["child-0", "child-1", "sleep"]);
    for done in &children[..2] {
        assert!(done.get("fault").is_none(), "{done}");
    }
    let sleep = &children[2];
    assert_eq!(sleep["fault"], true);
    assert_eq!(sleep["metadata"]["lambda_trace"]["unfinished"], true);
    assert_eq!(sleep["cause"]["exceptions"][0]["type"], "Timeout");

    // The process is fine: the next invocation, in time, is traced as usual.
    let payload = json!({"children": 1, "sleep_ms": 10});
    let (result, datagrams) = f.invoke(&payload, Duration::from_secs(5)).await;
    assert_eq!(response_json(&result.outcome), payload);
    let docs = documents(&datagrams);
    assert_eq!(docs.len(), 1);
    assert!(docs[0].get("fault").is_none());
    assert!(docs[0]["annotations"].get("TimedOut").is_none());
    assert_eq!(docs[0]["annotations"]["ColdStart"], false);
}

#[tokio::test]
async fn documents_over_64_kb_arrive_split_and_truncated_with_every_span() {
    let f = Function::start(&[]).await;
    for payload in [
        // 20 children × 5 kB: more than one document can hold.
        json!({"children": 20, "metadata_bytes": 5000}),
        // One child whose metadata is just within the per-span cap (`MAX_METADATA_BYTES`,
        // 64,000 serialized bytes; more is dropped when recorded), so that its own document,
        // with names, ids and times, is over the 64 kB document limit and must be truncated.
        json!({"children": 1, "metadata_bytes": 63_950}),
    ] {
        let (result, datagrams) = f.invoke(&payload, Duration::from_secs(10)).await;
        assert_eq!(response_json(&result.outcome), payload);
        let docs = documents(&datagrams);
        let children = payload["children"].as_u64().unwrap() as usize;
        let mut seen = BTreeSet::new();
        for doc in &docs {
            assert!(datagrams.iter().all(|d| d.raw_len <= 65_536));
            ids(doc, &mut seen);
        }
        assert_eq!(
            seen.len(),
            children + 1,
            "every span accounted for: {payload}"
        );
        if children == 1 {
            let child = docs
                .iter()
                .flat_map(|d| {
                    std::iter::once(*d).chain(d["subsegments"].as_array().into_iter().flatten())
                })
                .find(|d| d["name"] == "child-0")
                .unwrap();
            assert_eq!(child["metadata"]["lambda_trace"]["truncated"], true);
        } else {
            assert!(docs.len() > 1, "split");
        }
    }
}

#[tokio::test]
async fn ten_thousand_spans_are_capped_and_the_overflow_is_in_the_trace() {
    // A limit below the default keeps the burst of datagrams within the test daemon's socket
    // buffer; the default (1,000) is the layer tests' business.
    let f = Function::start(&[("LAMBDA_TRACE_MAX_SPANS", "250")]).await;
    let payload = json!({"children": 10_000});
    let (result, datagrams) = f.invoke(&payload, Duration::from_secs(20)).await;
    assert_eq!(response_json(&result.outcome), payload);
    let docs = documents(&datagrams);
    let mut seen = BTreeSet::new();
    for doc in &docs {
        ids(doc, &mut seen);
    }
    assert_eq!(seen.len(), 250, "the limit, the invocation span included");
    let root = docs
        .iter()
        .find(|d| d["name"] == "echo")
        .expect("the invocation span");
    assert_eq!(root["metadata"]["lambda_trace"]["dropped_spans"], 9_751);
}

#[tokio::test]
async fn a_garbage_or_unreachable_daemon_address_changes_nothing() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    for address in [
        "garbage",
        "udp:nowhere tcp:",
        "127.0.0.1:0",
        closed.as_str(),
    ] {
        let f = Function::start(&[("AWS_XRAY_DAEMON_ADDRESS", address)]).await;
        for n in 0..3 {
            let payload = json!({"n": n, "children": 2, "unicode": "žluťoučký 🦀"});
            let (result, datagrams) = f.invoke(&payload, Duration::from_secs(10)).await;
            assert_eq!(response_json(&result.outcome), payload, "{address:?}");
            assert!(datagrams.is_empty(), "{address:?}");
        }
    }
}
