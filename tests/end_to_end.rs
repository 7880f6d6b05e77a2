//! The echo example as a real process against a local Lambda Runtime API, with a real UDP socket
//! as the X-Ray daemon.
//!
//! What it proves: the trace continues Lambda's header (Active tracing) or the event's headers;
//! `ColdStart` is true once; every document of an invocation is in the daemon's socket **before**
//! the Runtime API receives that invocation's `/response` (or `/error`); the response is
//! byte-identical to the untraced function's; `Err` and panics are faults; every document
//! validates against the X-Ray segment-document schema and has an `end_time`.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lambda_trace_local::{Datagram, FunctionProcess, Invocation, Outcome, RuntimeApi, XrayDaemon};
use serde_json::{Value, json};

const LAMBDA_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// One function process with its Runtime API and daemon, and the documents each invocation had
/// delivered by the time its result reached the Runtime API.
struct Harness {
    api: RuntimeApi,
    daemon: Arc<XrayDaemon>,
    at_response: Arc<Mutex<HashMap<String, Vec<Datagram>>>>,
    _process: FunctionProcess,
}

impl Harness {
    async fn start(env: &[(&str, &str)]) -> Self {
        let daemon = Arc::new(XrayDaemon::bind().expect("bind UDP daemon"));
        let api = RuntimeApi::start().await.expect("start Runtime API");
        let at_response = Arc::new(Mutex::new(HashMap::new()));
        let (snapshot, socket) = (Arc::clone(&at_response), Arc::clone(&daemon));
        api.on_response(move |request_id| {
            // Runs when /response or /error arrives, before it is acknowledged: whatever the
            // function sent to the daemon before posting its result is in the socket now.
            snapshot
                .lock()
                .unwrap()
                .insert(request_id.to_string(), socket.drain());
        });
        let mut vars = vec![("OTEL_SERVICE_NAME", "echo-service")];
        vars.extend_from_slice(env);
        let process = support::spawn_echo(&api, &daemon, &vars).await;
        Self {
            api,
            daemon,
            at_response,
            _process: process,
        }
    }

    /// Invokes and returns the outcome and the documents that had arrived at `/response` time.
    async fn invoke(&self, invocation: Invocation) -> (Outcome, Vec<Value>) {
        let result = self.api.invoke(invocation).await;
        let datagrams = self
            .at_response
            .lock()
            .unwrap()
            .remove(&result.request_id)
            .unwrap_or_default();
        let documents = datagrams.into_iter().map(|d| d.document).collect();
        (result.outcome, documents)
    }
}

fn event(payload: Value) -> Invocation {
    Invocation::new(serde_json::to_vec(&payload).unwrap())
}

fn response_json(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Response(body) => serde_json::from_slice(body).unwrap(),
        other => panic!("expected a response, got {other:?}"),
    }
}

#[tokio::test]
async fn active_tracing_invocations_flush_before_the_response() {
    let h = Harness::start(&[]).await;
    for (n, cold) in [(0, true), (1, false)] {
        let payload = json!({"children": 3, "n": n});
        let (outcome, docs) = h
            .invoke(event(payload.clone()).with_trace_header(LAMBDA_HEADER))
            .await;
        assert_eq!(response_json(&outcome), payload);
        assert_eq!(
            docs.len(),
            1,
            "one document for 4 small spans, there before /response: {docs:?}"
        );
        let doc = &docs[0];
        support::assert_valid_document(doc);
        assert_eq!(doc["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(
            doc["type"], "subsegment",
            "under Active tracing we are inside Lambda's segment"
        );
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["annotations"]["ColdStart"], cold);
        assert_eq!(doc["annotations"]["Service"], "echo-service");
        let children = doc["subsegments"].as_array().expect("child spans nested");
        let names: Vec<&str> = children.iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, ["child-0", "child-1", "child-2"]);
    }
}

#[tokio::test]
async fn after_response_mode_sends_after_the_response_and_before_the_next_poll() {
    let h = Harness::start(&[("LAMBDA_TRACE_FLUSH_MODE", "after-response")]).await;
    for n in 0..3 {
        let payload = json!({"children": 3, "n": n});
        let (outcome, at_response) = h
            .invoke(event(payload.clone()).with_trace_header(LAMBDA_HEADER))
            .await;
        assert_eq!(
            response_json(&outcome),
            payload,
            "the response is unchanged"
        );
        assert!(
            at_response.is_empty(),
            "the document waited for the response: {at_response:?}"
        );
        assert!(
            h.api.wait_for_next_poll(Duration::from_secs(10)).await,
            "the function asks for the next invocation"
        );
        // The export ran before that poll: its datagram is in the socket now.
        let docs: Vec<Value> = h.daemon.drain().into_iter().map(|d| d.document).collect();
        assert_eq!(docs.len(), 1, "one document, sent before /next: {docs:?}");
        support::assert_valid_document(&docs[0]);
        assert_eq!(docs[0]["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(docs[0]["annotations"]["ColdStart"], n == 0);
        assert_eq!(docs[0]["subsegments"].as_array().map(Vec::len), Some(3));
    }
}

#[tokio::test]
async fn the_event_headers_continue_the_callers_trace_in_every_format() {
    let h = Harness::start(&[]).await;
    #[rustfmt::skip]
    let cases = [
        ("X-Amzn-Trace-Id", "Root=1-6a2c0f1e-1b2c3d4e5f6a7b8c9d0e1f2a;Parent=1111111111111111;Sampled=1", "1-6a2c0f1e-1b2c3d4e5f6a7b8c9d0e1f2a", "1111111111111111"),
        ("traceparent", "00-6a2c0f1e1b2c3d4e5f6a7b8c9d0e1f2b-2222222222222222-01", "1-6a2c0f1e-1b2c3d4e5f6a7b8c9d0e1f2b", "2222222222222222"),
        ("b3", "6a2c0f1e1b2c3d4e5f6a7b8c9d0e1f2c-3333333333333333-1", "1-6a2c0f1e-1b2c3d4e5f6a7b8c9d0e1f2c", "3333333333333333"),
        ("uber-trace-id", "6a2c0f1e1b2c3d4e5f6a7b8c9d0e1f2d:4444444444444444:0:1", "1-6a2c0f1e-1b2c3d4e5f6a7b8c9d0e1f2d", "4444444444444444"),
        ("ot-tracer-traceid", "6a2c0f1e1b2c3d4e5f6a7b8c9d0e1f2e", "1-6a2c0f1e-1b2c3d4e5f6a7b8c9d0e1f2e", "5555555555555555"),
    ];
    for (header, value, trace_id, parent) in cases {
        let mut headers = json!({ header: value, "User-Agent": "curl/8" });
        if header == "ot-tracer-traceid" {
            headers["ot-tracer-spanid"] = json!("5555555555555555");
            headers["ot-tracer-sampled"] = json!("true");
        }
        let payload = json!({ "httpMethod": "GET", "path": "/ot-gen", "headers": headers });
        let (outcome, docs) = h.invoke(event(payload.clone())).await;
        assert_eq!(response_json(&outcome), payload);
        assert_eq!(docs.len(), 1, "{header}");
        let doc = &docs[0];
        support::assert_valid_document(doc);
        assert_eq!(doc["trace_id"], trace_id, "{header}");
        assert_eq!(doc["parent_id"], parent, "{header}");
        assert!(doc.get("type").is_none(), "a segment of its own: {header}");
        assert_eq!(doc["origin"], "AWS::Lambda::Function");
    }
}

#[tokio::test]
async fn errors_and_panics_are_faults_and_reach_the_runtime_api() {
    let h = Harness::start(&[]).await;

    let (outcome, docs) = h
        .invoke(event(json!({"fail": "no stock"})).with_trace_header(LAMBDA_HEADER))
        .await;
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    support::assert_valid_document(&docs[0]);
    assert_eq!(docs[0]["fault"], true);
    assert_eq!(docs[0]["cause"]["exceptions"][0]["message"], "no stock");

    let (outcome, docs) = h
        .invoke(event(json!({"panic": "boom"})).with_trace_header(LAMBDA_HEADER))
        .await;
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    support::assert_valid_document(&docs[0]);
    assert_eq!(docs[0]["fault"], true);
    assert_eq!(docs[0]["cause"]["exceptions"][0]["message"], "boom");

    // The process survived both and still serves.
    let (outcome, docs) = h.invoke(event(json!({"status": 429}))).await;
    assert_eq!(response_json(&outcome)["statusCode"], 429);
    assert_eq!(
        (docs[0]["error"].clone(), docs[0]["throttle"].clone()),
        (json!(true), json!(true))
    );
}

#[tokio::test]
async fn the_response_is_byte_identical_to_the_untraced_function() {
    let traced = Harness::start(&[]).await;
    let bare = Harness::start(&[("LAMBDA_TRACE_DISABLED", "true")]).await;
    let payload = json!({"unicode": "žluťoučký 🦀", "float": 1.5e300, "nested": [{"a": null}], "children": 2});
    let body = |outcome: Outcome| match outcome {
        Outcome::Response(body) => body,
        other => panic!("{other:?}"),
    };
    let (a, docs) = traced
        .invoke(event(payload.clone()).with_trace_header(LAMBDA_HEADER))
        .await;
    let (b, none) = bare
        .invoke(event(payload).with_trace_header(LAMBDA_HEADER))
        .await;
    assert_eq!(body(a), body(b));
    assert_eq!(docs.len(), 1);
    assert!(none.is_empty(), "disabled tracing sends nothing");
}

/// An event the handler's type cannot take (here not JSON at all, for a `Value` handler):
/// `lambda_runtime` answers an error before any service layer runs; the runtime layer that
/// `lambda_trace::run` installs still records it, as a fault in Lambda's trace (issue 18 item 8).
#[tokio::test]
async fn an_event_the_handler_cannot_take_is_a_fault_in_the_trace() {
    let h = Harness::start(&[]).await;
    let (outcome, before) = h
        .invoke(Invocation::new("this is not JSON").with_trace_header(LAMBDA_HEADER))
        .await;
    assert!(matches!(outcome, Outcome::Error { .. }), "{outcome:?}");
    assert!(
        before.is_empty(),
        "recorded after the error response: {before:#?}"
    );
    // Sent after the error response, before the next poll.
    assert!(h.api.wait_for_next_poll(Duration::from_secs(5)).await);
    let docs: Vec<Value> = h.daemon.drain().into_iter().map(|d| d.document).collect();
    assert_eq!(docs.len(), 1, "{docs:#?}");
    support::assert_valid_document(&docs[0]);
    assert_eq!(docs[0]["fault"], true);
    assert_eq!(docs[0]["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
    let exception = &docs[0]["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "EventDeserializationError");
    let message = exception["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "failed to deserialize the incoming data into the function's payload type: expected"
        ),
        "{message}"
    );
    // And the next, good event is traced as usual, once.
    let (outcome, docs) = h
        .invoke(event(json!({"ok": 1})).with_trace_header(LAMBDA_HEADER))
        .await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    assert_eq!(docs.len(), 1);
    assert!(docs[0].get("fault").is_none(), "{:#}", docs[0]);
}
