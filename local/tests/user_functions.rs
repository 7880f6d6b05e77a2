//! A user's own function binary behind the local API Gateway (`--route`), as real processes:
//! Active and PassThrough tracing with a caller's `traceparent`. The repo's `order` function
//! (lambda-trace, API Gateway v1 events) plays the user's binary.

mod common;

use std::time::Duration;

use hyper::Method;
use lambda_trace_local::client;
use lambda_trace_local::collector::Source;
use lambda_trace_local::gateway::{GatewayConfig, parse_xray_header};
use lambda_trace_local::routes::{self, RouteArg};
use lambda_trace_local::stack::{Stack, StackOptions};
use lambda_trace_local::tracing_mode::TracingMode;

const ORDER: &str =
    r#"{"orderId": "o-7", "customerId": "c-1", "items": [{"sku": "s-1", "qty": 2, "price": 9.5}]}"#;
const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(200);

async fn stack(tracing: TracingMode) -> Stack {
    let order = common::user_function("order");
    let route: RouteArg = format!("POST /shop/{{tenant}}/orders={}", order.display())
        .parse()
        .unwrap();
    let specs = routes::functions(&[route]);
    assert_eq!(specs[0].name, "order");
    let config = GatewayConfig {
        tracing,
        ..GatewayConfig::default()
    };
    let stack = Stack::start_with(config, &specs, StackOptions::default())
        .await
        .expect("stack starts");
    stack.wait_ready(Duration::from_secs(30)).await.unwrap();
    stack
}

/// POSTs the order with a `traceparent`; returns the status and the gateway's trace id.
async fn post(stack: &Stack, traceparent: &str) -> (u16, String) {
    let response = client::send(
        stack.gateway.address(),
        Method::POST,
        "/shop/acme/orders",
        &[("traceparent", traceparent)],
        ORDER,
    )
    .await
    .unwrap();
    let gateway_trace = response.headers["x-amzn-trace-id"]
        .to_str()
        .ok()
        .and_then(parse_xray_header)
        .unwrap()
        .0;
    assert_eq!(
        response.status,
        201,
        "{}\n{}",
        response.text(),
        stack.outputs()
    );
    assert!(
        response.text().contains("\"total\":19"),
        "{}",
        response.text()
    );
    (response.status.as_u16(), gateway_trace)
}

#[tokio::test]
async fn passthrough_continues_the_callers_traceparent() {
    let stack = stack(TracingMode::PassThrough).await;
    let (hex, span) = common::random_w3c();
    let (_, gateway_trace) = post(&stack, &format!("00-{hex}-{span}-01")).await;
    let caller_trace = common::xray_id(&hex);
    assert_ne!(gateway_trace, caller_trace);

    let trace = stack
        .wait_trace(&caller_trace, QUIET, WAIT)
        .await
        .unwrap_or_else(|| panic!("no span in the caller's trace\n{}", stack.outputs()));
    let waterfall = lambda_trace_local::waterfall::render(&trace, &Default::default());
    // The function's invocation span is the root, and its parent is the caller's span.
    let root = &trace.nodes[0];
    assert_eq!(root.function.as_deref(), Some("order"), "{waterfall}");
    assert_eq!(
        root.parent_id.as_deref(),
        Some(span.as_str()),
        "{waterfall}"
    );
    assert!(trace.named("Handler").next().is_some(), "{waterfall}");
    // PassThrough, not sampled upstream: neither API Gateway nor Lambda recorded a segment;
    // all of the trace came from the function.
    assert!(
        trace
            .nodes
            .iter()
            .all(|n| !matches!(n.source, Source::Emulated(_))),
        "{waterfall}"
    );
    assert!(stack.collector.trace(&gateway_trace).is_none());
    // The CLI's lookup finds the same trace from the gateway's event.
    let any = stack
        .wait_any_trace(&[gateway_trace, caller_trace.clone()], QUIET, WAIT)
        .await
        .unwrap();
    assert_eq!(any.trace_id, caller_trace);
}

#[tokio::test]
async fn active_keeps_lambdas_trace_and_the_caller_is_not_the_parent() {
    let stack = stack(TracingMode::Active).await;
    let (hex, span) = common::random_w3c();
    let (_, gateway_trace) = post(&stack, &format!("00-{hex}-{span}-01")).await;
    let trace = stack
        .wait_trace(&gateway_trace, QUIET, WAIT)
        .await
        .unwrap_or_else(|| panic!("no trace\n{}", stack.outputs()));
    let waterfall = lambda_trace_local::waterfall::render(&trace, &Default::default());
    let origins: Vec<&str> = trace
        .nodes
        .iter()
        .filter_map(|n| n.origin.as_deref())
        .collect();
    assert_eq!(
        origins,
        [
            "AWS::ApiGateway::Stage",
            "AWS::Lambda",
            "AWS::Lambda::Function"
        ],
        "{waterfall}"
    );
    let function_segment = trace.with_origin("AWS::Lambda::Function").next().unwrap();
    let invocation = trace
        .children(&function_segment.id)
        .next()
        .expect(&waterfall);
    assert_eq!(invocation.function.as_deref(), Some("order"), "{waterfall}");
    assert!(
        trace
            .nodes
            .iter()
            .all(|n| n.parent_id.as_deref() != Some(span.as_str()))
    );
    assert!(stack.collector.trace(&common::xray_id(&hex)).is_none());
}

#[tokio::test]
async fn passthrough_traces_a_sampled_upstream() {
    let stack = stack(TracingMode::PassThrough).await;
    let upstream = "1-5759e988-bd862e3fe1be46a994272793";
    let response = client::send(
        stack.gateway.address(),
        Method::POST,
        "/shop/acme/orders",
        &[(
            "x-amzn-trace-id",
            &format!("Root={upstream};Parent=53995c3f42cd8ad8;Sampled=1"),
        )],
        ORDER,
    )
    .await
    .unwrap();
    assert_eq!(response.status, 201);
    let trace = stack.wait_trace(upstream, QUIET, WAIT).await.unwrap();
    let waterfall = lambda_trace_local::waterfall::render(&trace, &Default::default());
    assert_eq!(
        trace.nodes[0].origin.as_deref(),
        Some("AWS::ApiGateway::Stage")
    );
    assert_eq!(
        trace.nodes[0].parent_id.as_deref(),
        Some("53995c3f42cd8ad8")
    );
    assert!(
        trace.named("Handler").next().is_some(),
        "the function joined: {waterfall}"
    );
}
