//! The demo with the OTLP exporter over TLS: `router` and `downstream` run as real processes
//! behind the local stand-in and send their spans with lambda-trace's `OtlpExporter` to the
//! stand-in's OTLP receiver, which speaks HTTPS with a certificate made at start (trusted through
//! `OTEL_EXPORTER_OTLP_CERTIFICATE`). The spans join the emulated API Gateway and Lambda
//! segments in one trace, as the daemon's do. Needs the package feature `otlp`.

#![cfg(feature = "otlp")]

use std::path::PathBuf;
use std::time::Duration;

use hyper::Method;
use lambda_trace_local::collector::{Node, Source, Trace};
use lambda_trace_local::exporter::FunctionExporter;
use lambda_trace_local::gateway::GatewayConfig;
use lambda_trace_local::otlp::Encoding;
use lambda_trace_local::stack::{Stack, StackOptions, demo_functions, is_complete};
use lambda_trace_local::{Output, client};
use serde_json::Value;

const TOKEN: &str = "local-token-5e1f";

async fn stack() -> Stack {
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_router"))
        .parent()
        .unwrap()
        .to_path_buf();
    let mut specs = demo_functions(&bin_dir);
    for spec in &mut specs {
        spec.env.push((
            "OTEL_EXPORTER_OTLP_HEADERS".into(),
            format!("x-access-token={TOKEN}"),
        ));
        // router: OTLP/JSON, gzip; downstream: the defaults (protobuf, uncompressed).
        if spec.name == "router" {
            spec.env
                .push(("OTEL_EXPORTER_OTLP_PROTOCOL".into(), "http/json".into()));
            spec.env
                .push(("OTEL_EXPORTER_OTLP_COMPRESSION".into(), "gzip".into()));
        }
    }
    let options = StackOptions {
        output: Output::Captured,
        exporter: FunctionExporter::Otlp,
        otlp_tls: true,
        otlp_port: 0,
    };
    let stack = Stack::start_with(GatewayConfig::default(), &specs, options)
        .await
        .expect("stack starts");
    stack
        .wait_ready(Duration::from_secs(30))
        .await
        .expect("functions poll /next");
    stack
}

async fn request(stack: &Stack, path: &str) -> (u16, Value) {
    let response = client::send(stack.gateway.address(), Method::GET, path, &[], Vec::new())
        .await
        .expect("gateway answers");
    let body = serde_json::from_slice(&response.body)
        .unwrap_or_else(|_| panic!("{}\n{}", response.text(), stack.outputs()));
    (response.status.as_u16(), body)
}

async fn collected(stack: &Stack, trace_id: &str) -> Trace {
    let trace = stack
        .wait_trace(
            trace_id,
            Duration::from_millis(200),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|| panic!("no trace {trace_id}\n{}", stack.outputs()));
    assert!(
        is_complete(&trace),
        "incomplete trace {trace:#?}\n{}",
        stack.outputs()
    );
    trace
}

fn invocation_spans<'a>(trace: &'a Trace, function: &str) -> Vec<&'a Node> {
    trace
        .with_origin("AWS::Lambda::Function")
        .filter(|f| f.name == function)
        .flat_map(|f| trace.children(&f.id))
        .collect()
}

#[tokio::test]
async fn one_trace_over_otlp_with_tls_and_an_access_token() {
    let stack = stack().await;
    assert!(stack.otlp.endpoint().starts_with("https://127.0.0.1:"));

    let (status, summary) = request(&stack, "/ot-gen?count=3").await;
    assert_eq!(status, 200, "{summary}\n{}", stack.outputs());
    assert_eq!(
        (summary["count"].as_u64(), summary["succeeded"].as_u64()),
        (Some(3), Some(3))
    );
    let trace_id = summary["trace_id"].as_str().expect("trace id").to_owned();
    let trace = collected(&stack, &trace_id).await;

    // One trace: every document the collector holds belongs to it.
    assert_eq!(
        stack.collector.trace_ids(),
        vec![trace_id.clone()],
        "{trace:#?}"
    );
    assert!(trace.nodes.iter().all(|n| n.note.is_none()), "{trace:#?}");

    // Emulated gateway → Lambda → function segment → router's invocation span (OTLP) →
    // `router` → three `service-egress`, each the parent of a downstream gateway segment whose
    // function segment holds a downstream invocation span (OTLP) with `lambda-execution`.
    let [router_invocation] = invocation_spans(&trace, "router")[..] else {
        panic!("{trace:#?}")
    };
    assert_eq!(router_invocation.source, Source::Otlp);
    assert_eq!(router_invocation.annotations["ColdStart"], true);
    assert_eq!(router_invocation.annotations["Service"], "router");
    let router_span = trace
        .children(&router_invocation.id)
        .find(|n| n.name == "router")
        .expect("router span");
    let egress: Vec<&Node> = trace
        .children(&router_span.id)
        .filter(|n| n.name == "service-egress")
        .collect();
    assert_eq!(egress.len(), 3, "{trace:#?}");
    for call in &egress {
        assert_eq!(call.source, Source::Otlp);
        assert_eq!(call.namespace.as_deref(), Some("remote"));
        assert!(!call.error && !call.fault, "{call:#?}");
        let gateway = trace
            .with_origin("AWS::ApiGateway::Stage")
            .find(|n| n.parent_id.as_deref() == Some(call.id.as_str()))
            .unwrap_or_else(|| panic!("no downstream call under {}: {trace:#?}", call.id));
        assert_eq!(gateway.http_status, Some(200));
    }
    let downstream = invocation_spans(&trace, "downstream");
    assert_eq!(downstream.len(), 3, "{trace:#?}");
    for invocation in &downstream {
        assert_eq!(invocation.source, Source::Otlp);
        assert_eq!(invocation.annotations["Service"], "downstream");
        let execution = trace
            .children(&invocation.id)
            .find(|n| n.name == "lambda-execution")
            .expect("lambda-execution");
        assert_eq!(execution.function.as_deref(), Some("downstream"));
        // The chain up to one of the egress spans.
        let function_segment = trace.parent_of(invocation).unwrap();
        let lambda = trace.parent_of(function_segment).unwrap();
        let gateway = trace.parent_of(lambda).unwrap();
        assert!(
            egress
                .iter()
                .any(|e| gateway.parent_id.as_deref() == Some(e.id.as_str()))
        );
    }

    // Nothing went to the daemon; every span came over OTLP with the access token, from both
    // functions, in both encodings.
    assert!(stack.daemon.received().is_empty());
    let function_spans = trace
        .nodes
        .iter()
        .filter(|n| !matches!(n.source, Source::Emulated(_)));
    assert!(function_spans.clone().all(|n| n.source == Source::Otlp));
    let requests = stack.otlp.requests();
    assert!(requests.len() >= 4, "{requests:#?}");
    for r in &requests {
        assert_eq!(r.status, 200, "{r:#?}");
        assert_eq!(r.headers["x-access-token"], TOKEN);
    }
    assert!(
        requests
            .iter()
            .any(|r| r.encoding == Some(Encoding::Json) && r.gzip)
    );
    assert!(
        requests
            .iter()
            .any(|r| r.encoding == Some(Encoding::Protobuf) && !r.gzip)
    );
    let received: usize = requests.iter().map(|r| r.spans).sum();
    assert_eq!(received, function_spans.count());
    assert!(stack.collector.rejected().is_empty());

    // Warm: ColdStart=false, over the kept connection.
    let (status, summary) = request(&stack, "/ot-gen?count=1").await;
    assert_eq!(status, 200);
    let trace = collected(&stack, summary["trace_id"].as_str().unwrap()).await;
    let [router_invocation] = invocation_spans(&trace, "router")[..] else {
        panic!("{trace:#?}")
    };
    assert_eq!(router_invocation.annotations["ColdStart"], false);
}
