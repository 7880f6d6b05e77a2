//! The demo as a test: `router` and `downstream` run as real processes behind the local stand-in
//! for API Gateway, the Lambda Runtime API (Active tracing) and the X-Ray daemon.

use std::path::PathBuf;
use std::time::Duration;

use hyper::Method;
use lambda_trace_local::Output;
use lambda_trace_local::client;
use lambda_trace_local::collector::Trace;
use lambda_trace_local::gateway::GatewayConfig;
use lambda_trace_local::stack::{Stack, demo_functions};
use serde_json::Value;

async fn stack() -> Stack {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_router"))
        .parent()
        .unwrap()
        .to_path_buf();
    assert!(
        bin_dir.join("downstream").exists(),
        "downstream binary next to router"
    );
    let stack = Stack::start(
        GatewayConfig::default(),
        &demo_functions(&bin_dir),
        Output::Captured,
    )
    .await
    .expect("stack starts");
    stack
        .wait_ready(Duration::from_secs(30))
        .await
        .expect("functions poll /next");
    stack
}

async fn get(stack: &Stack, path: &str) -> (u16, String) {
    let response = client::send(stack.gateway.address(), Method::GET, path, &[], Vec::new())
        .await
        .expect("gateway answers");
    (response.status.as_u16(), response.text())
}

async fn collected(stack: &Stack, trace_id: &str) -> Trace {
    let trace = stack
        .wait_trace(
            trace_id,
            Duration::from_millis(200),
            Duration::from_secs(10),
        )
        .await;
    let trace = trace.unwrap_or_else(|| panic!("no trace {trace_id}\n{}", stack.outputs()));
    assert!(
        lambda_trace_local::stack::is_complete(&trace),
        "incomplete trace {trace:#?}\n{}",
        stack.outputs()
    );
    trace
}

/// The invocation span our layer opened inside the named function (the child of its
/// `AWS::Lambda::Function` segment).
fn invocation_spans<'a>(
    trace: &'a Trace,
    function: &str,
) -> Vec<&'a lambda_trace_local::collector::Node> {
    trace
        .with_origin("AWS::Lambda::Function")
        .filter(|f| f.name == function)
        .flat_map(|f| trace.children(&f.id))
        .collect()
}

#[tokio::test]
async fn one_trace_across_router_and_downstream() {
    let stack = stack().await;
    let mut events = stack.gateway.subscribe();

    let (status, body) = get(&stack, "/ot-gen?count=3").await;
    assert_eq!(status, 200, "{body}\n{}", stack.outputs());
    let summary: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (summary["count"].as_u64(), summary["succeeded"].as_u64()),
        (Some(3), Some(3))
    );
    let trace_id = summary["trace_id"]
        .as_str()
        .expect("router reports its trace id")
        .to_string();
    let trace = collected(&stack, &trace_id).await;

    // router's invocation span → `router` → three `service-egress`.
    let [router_invocation] = invocation_spans(&trace, "router")[..] else {
        panic!("{trace:#?}")
    };
    assert_eq!(router_invocation.annotations["ColdStart"], true);
    assert_eq!(router_invocation.annotations["Service"], "router");
    let router_span = trace
        .children(&router_invocation.id)
        .find(|n| n.name == "router")
        .expect("router span");
    let egress: Vec<_> = trace
        .children(&router_span.id)
        .filter(|n| n.name == "service-egress")
        .collect();
    assert_eq!(egress.len(), 3);

    // Each call reached downstream through the gateway carrying the injected context: the
    // downstream's API Gateway segment hangs under one service-egress span, and below it the
    // downstream invocation span with its `lambda-execution` child — all in the same trace.
    let downstream = invocation_spans(&trace, "downstream");
    assert_eq!(downstream.len(), 3, "{trace:#?}");
    for call in &egress {
        let gateway_segment = trace
            .with_origin("AWS::ApiGateway::Stage")
            .find(|n| n.parent_id.as_deref() == Some(call.id.as_str()))
            .unwrap_or_else(|| panic!("no downstream call under {}: {trace:#?}", call.id));
        assert_eq!(gateway_segment.http_status, Some(200));
        assert!(!call.error && !call.fault);
    }
    for invocation in &downstream {
        assert!(
            trace
                .children(&invocation.id)
                .any(|n| n.name == "lambda-execution")
        );
    }
    let mut seen_parents = 0;
    while let Ok(event) = events.try_recv() {
        if event.path == "/downstream" {
            assert_eq!(
                event.trace_id, trace_id,
                "the downstream request continued the trace"
            );
            assert!(
                egress
                    .iter()
                    .any(|e| Some(&e.id) == event.caller_parent.as_ref())
            );
            seen_parents += 1;
        }
    }
    assert_eq!(
        seen_parents, 3,
        "downstream saw the injected X-Amzn-Trace-Id three times"
    );

    // A second request: same process, warm.
    let (status, body) = get(&stack, "/ot-gen?count=1").await;
    assert_eq!(status, 200);
    let trace_id: String = serde_json::from_str::<Value>(&body).unwrap()["trace_id"]
        .as_str()
        .unwrap()
        .into();
    let trace = collected(&stack, &trace_id).await;
    let [router_invocation] = invocation_spans(&trace, "router")[..] else {
        panic!("{trace:#?}")
    };
    assert_eq!(router_invocation.annotations["ColdStart"], false);
}

#[tokio::test]
async fn a_missing_count_is_a_400_recorded_as_an_error() {
    let stack = stack().await;
    let (status, body) = get(&stack, "/ot-gen").await;
    assert_eq!((status, body.as_str()), (400, "Count not provided"));
    let trace_id = stack
        .collector
        .trace_ids()
        .into_iter()
        .next()
        .expect("the gateway opened a trace");
    let trace = collected(&stack, &trace_id).await;
    let [router_invocation] = invocation_spans(&trace, "router")[..] else {
        panic!("{trace:#?}")
    };
    assert!(
        router_invocation.error && !router_invocation.fault,
        "{router_invocation:#?}"
    );
    assert_eq!(router_invocation.http_status, Some(400));
}
