//! The `tracing` bridge and the rest of the crate agree on one current span (issue 19 items 2
//! and 3): outgoing calls made inside an `#[instrument]`ed function hang under its span,
//! `#[instrument(err)]` makes a fault, and by default the bridge records neither `DEBUG` spans
//! nor the spans of libraries such as the AWS SDK.

#![cfg(feature = "tracing")]

use lambda_trace::bridge::TracingBridge;
use lambda_trace::outgoing::OutgoingCall;
use lambda_trace::span::{SpanBatch, SpanRecord};
use serde_json::json;
use tracing::level_filters::LevelFilter;

mod support;

use support::bridge::invoke_with as invoke;

fn named<'a>(batch: &'a SpanBatch, name: &str) -> &'a SpanRecord {
    batch
        .spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span {name} in {:?}", names(batch)))
}

fn names(batch: &SpanBatch) -> Vec<&str> {
    batch.spans.iter().map(|s| s.name.as_ref()).collect()
}

/// What the reqwest middleware and the AWS SDK interceptor do: open the call's span under
/// `lambda_trace::current()`.
fn call(url: &str) {
    let mut request = http::Request::get(url).body(()).unwrap();
    let call = OutgoingCall::start(&mut request);
    call.finish_status(http::StatusCode::OK);
}

#[tracing::instrument]
async fn load_order(id: u32) -> u32 {
    call("https://dynamodb.eu-west-1.amazonaws.com/");
    call("https://inventory.example.com/items");
    id
}

#[tokio::test]
async fn calls_inside_an_instrumented_function_hang_under_its_span() {
    let batch = invoke(TracingBridge::new(), |_| async {
        load_order(7).await;
        call("https://after.example.com/");
        Ok(json!({}))
    })
    .await;
    let root = &batch.spans[0];
    let load = named(&batch, "load_order");
    assert_eq!(load.parent_id, Some(root.span_id));
    for host in ["dynamodb.eu-west-1.amazonaws.com", "inventory.example.com"] {
        assert_eq!(named(&batch, host).parent_id, Some(load.span_id), "{host}");
    }
    // Outside the instrumented function: the invocation span again.
    assert_eq!(
        named(&batch, "after.example.com").parent_id,
        Some(root.span_id)
    );
}

#[tokio::test]
async fn a_deeper_task_span_wins_over_the_tracing_span_around_it() {
    #[tracing::instrument]
    async fn checkout() {
        lambda_trace::current()
            .in_child("reserve", async {
                call("https://inventory.example.com/");
                let _inner = tracing::info_span!("inner").entered();
                call("https://payments.example.com/");
            })
            .await;
    }
    let batch = invoke(TracingBridge::new(), |_| async {
        checkout().await;
        Ok(json!({}))
    })
    .await;
    let checkout = named(&batch, "checkout");
    let reserve = named(&batch, "reserve");
    let inner = named(&batch, "inner");
    assert_eq!(reserve.parent_id, Some(checkout.span_id));
    assert_eq!(
        named(&batch, "inventory.example.com").parent_id,
        Some(reserve.span_id)
    );
    assert_eq!(inner.parent_id, Some(reserve.span_id));
    assert_eq!(
        named(&batch, "payments.example.com").parent_id,
        Some(inner.span_id)
    );
}

#[derive(Debug, thiserror::Error)]
#[error("order {0} not found")]
struct NotFound(u32);

#[tracing::instrument(err)]
async fn find_order(id: u32) -> Result<u32, NotFound> {
    Err(NotFound(id))
}

#[tokio::test]
async fn instrument_err_makes_the_span_a_fault() {
    let batch = invoke(TracingBridge::new(), |_| async {
        let _ = find_order(9).await;
        Ok(json!({}))
    })
    .await;
    let span = named(&batch, "find_order");
    assert!(span.outcome.fault, "{span:?}");
    assert_eq!(span.exceptions[0].message, "order 9 not found");
    // The handler succeeded: the invocation span is not a fault.
    assert!(!batch.spans[0].outcome.fault);
}

#[tokio::test]
async fn by_default_debug_spans_and_library_spans_are_not_recorded() {
    async fn work() {
        let _debug = tracing::debug_span!("detail").entered();
        let _sdk =
            tracing::info_span!(target: "aws_smithy_runtime::client::orchestrator", "try_op")
                .entered();
        tracing::info!(target: "aws_sigv4::http_request", canonical_request = "GET\n/\n", "signed");
        let _mine = tracing::info_span!("mine").entered();
    }
    let batch = invoke(TracingBridge::new(), |_| async {
        work().await;
        Ok(json!({}))
    })
    .await;
    assert_eq!(names(&batch)[1..], ["mine"]);
    let dump = format!("{batch:?}");
    assert!(!dump.contains("canonical_request"), "{dump}");

    let all = TracingBridge::new()
        .with_max_level(LevelFilter::DEBUG)
        .with_libraries(true);
    let batch = invoke(all, |_| async {
        work().await;
        Ok(json!({}))
    })
    .await;
    assert_eq!(names(&batch)[1..], ["detail", "try_op", "mine"]);
}
