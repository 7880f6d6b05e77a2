//! lambda_runtime's concurrent mode as a real process: 100 invocations, up to 8 at a time in one
//! process, each flushing exactly its own spans.

#![cfg(feature = "concurrency-tokio")]

mod support;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_trace_local::{FunctionProcess, Invocation, Outcome, RuntimeApi, XrayDaemon};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_flush_only_their_own_spans() {
    let daemon = Arc::new(XrayDaemon::bind().unwrap());
    let api = RuntimeApi::start().await.unwrap();
    // Drained when each result arrives, before it is acknowledged: the socket buffer never
    // overflows, and each invocation's document must already be there.
    let at_response = Arc::new(Mutex::new(Vec::new()));
    let (sink, socket) = (Arc::clone(&at_response), Arc::clone(&daemon));
    api.on_response(move |_| sink.lock().unwrap().extend(socket.drain()));
    let daemon_address = daemon.address().to_string();
    let process = FunctionProcess::spawn(
        &support::example_binary("concurrent"),
        api.address(),
        &[
            ("AWS_XRAY_DAEMON_ADDRESS", daemon_address.as_str()),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
        ],
    )
    .unwrap();
    assert!(
        api.wait_for_next_poll(Duration::from_secs(30)).await,
        "{}",
        process.output()
    );

    let calls: Vec<_> = (0..100)
        .map(|n| {
            let api = api.clone();
            tokio::spawn(async move {
                api.invoke(Invocation::new(
                    serde_json::to_vec(&json!({"n": n})).unwrap(),
                ))
                .await
            })
        })
        .collect();
    for (n, call) in calls.into_iter().enumerate() {
        match call.await.unwrap().outcome {
            Outcome::Response(body) => assert_eq!(
                serde_json::from_slice::<Value>(&body).unwrap(),
                json!({"n": n})
            ),
            other => panic!("invocation {n}: {other:?}\n{}", process.output()),
        }
    }

    let datagrams = std::mem::take(&mut *at_response.lock().unwrap());
    assert_eq!(
        datagrams.len(),
        100,
        "one document per invocation, each there before its response"
    );
    let mut seen = BTreeSet::new();
    let mut intervals = Vec::new();
    for doc in datagrams.iter().map(|d| &d.document) {
        support::assert_valid_document(doc);
        let n = doc["annotations"]["n"].as_i64().expect("n annotated");
        let steps = doc["subsegments"].as_array().expect("three steps");
        assert_eq!(steps.len(), 3);
        for step in steps {
            assert_eq!(
                step["annotations"]["n"].as_i64(),
                Some(n),
                "a span of another invocation leaked in"
            );
        }
        assert!(seen.insert(n), "invocation {n} flushed twice");
        intervals.push((
            doc["start_time"].as_f64().unwrap(),
            doc["end_time"].as_f64().unwrap(),
        ));
    }
    assert_eq!(seen.len(), 100);
    intervals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let overlapped = intervals.windows(2).any(|w| w[1].0 < w[0].1);
    assert!(overlapped, "invocations did run concurrently");
}
