//! Gateway + Runtime API + daemon + collector end to end, with the test acting as the function:
//! it polls `/next`, sends its span to the daemon over UDP and posts `/response`.

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use lambda_trace_local::client;
use lambda_trace_local::collector::Collector;
use lambda_trace_local::gateway::{Gateway, GatewayConfig, Route};
use lambda_trace_local::lambda::LambdaFunction;
use lambda_trace_local::{RuntimeApi, XrayDaemon};
use serde_json::{Value, json};

fn field<'a>(header: &'a str, key: &str) -> &'a str {
    header
        .split(';')
        .find_map(|p| p.strip_prefix(&format!("{key}=")))
        .unwrap()
}

/// Serves one invocation like a traced function would.
async fn fake_function(api: std::net::SocketAddr, daemon: std::net::SocketAddr) -> Value {
    let next = client::send(
        api,
        Method::GET,
        "/2018-06-01/runtime/invocation/next",
        &[],
        "",
    )
    .await
    .unwrap();
    let request_id = next.headers["lambda-runtime-aws-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let trace = next.headers["lambda-runtime-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let event: Value = serde_json::from_slice(&next.body).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let doc = json!({
        "trace_id": field(&trace, "Root"), "id": "aaaaaaaaaaaaaaa1", "parent_id": field(&trace, "Parent"),
        "type": "subsegment", "name": "router", "start_time": now, "end_time": now + 0.002,
        "annotations": {"ColdStart": true, "Service": "router"},
        "subsegments": [{"id": "aaaaaaaaaaaaaaa2", "name": "service-egress", "namespace": "remote",
                         "start_time": now + 0.0005, "end_time": now + 0.001}]
    });
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .send_to(
            format!("{{\"format\": \"json\", \"version\": 1}}\n{doc}").as_bytes(),
            daemon,
        )
        .unwrap();
    let body =
        json!({"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "hello"});
    client::send(
        api,
        Method::POST,
        &format!("/2018-06-01/runtime/invocation/{request_id}/response"),
        &[],
        body.to_string(),
    )
    .await
    .unwrap();
    event
}

#[tokio::test]
async fn gateway_lambda_function_subsegment_chain() {
    let daemon = XrayDaemon::bind().unwrap();
    let collector = Arc::new(Collector::new());
    let api = RuntimeApi::start().await.unwrap();
    let gateway = Gateway::start(
        GatewayConfig::default(),
        vec![Route::new(
            "GET",
            "/ot-gen",
            LambdaFunction::new("router", api.clone()),
        )],
        collector.clone(),
    )
    .await
    .unwrap();
    let function = tokio::spawn(fake_function(api.address(), daemon.address()));

    let caller_trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let response = client::send(
        gateway.address(),
        Method::GET,
        "/ot-gen?count=3",
        &[
            ("X-Amzn-Trace-Id", caller_trace),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        ],
        "",
    )
    .await
    .unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "hello");
    assert_eq!(response.headers["content-type"], "text/plain");
    assert_eq!(
        response.headers["x-amzn-trace-id"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    );

    let event = function.await.unwrap();
    assert_eq!(event["httpMethod"], "GET");
    assert_eq!(event["resource"], "/ot-gen");
    assert_eq!(event["path"], "/ot-gen");
    assert_eq!(event["queryStringParameters"]["count"], "3");
    assert_eq!(
        event["multiValueQueryStringParameters"]["count"],
        json!(["3"])
    );
    assert_eq!(event["requestContext"]["stage"], "local");
    assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    assert_eq!(
        event["headers"]["traceparent"],
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    );
    assert_eq!(event["isBase64Encoded"], false);
    assert!(event["body"].is_null());
    let event_trace = event["headers"]["X-Amzn-Trace-Id"].as_str().unwrap();
    assert_eq!(
        field(event_trace, "Root"),
        "1-5759e988-bd862e3fe1be46a994272793"
    );

    let datagrams = daemon
        .recv_until(|d| !d.is_empty(), Duration::from_secs(5))
        .await;
    collector.add_datagrams(&datagrams);
    let trace = collector
        .trace("1-5759e988-bd862e3fe1be46a994272793")
        .unwrap();
    let names: Vec<(usize, String)> = trace
        .nodes
        .iter()
        .map(|n| (n.depth, lambda_trace_local::waterfall::label(n)))
        .collect();
    assert_eq!(
        names,
        vec![
            (0, "demo-api/local (API Gateway)".to_owned()),
            (1, "router (AWS::Lambda)".to_owned()),
            (2, "router (AWS::Lambda::Function)".to_owned()),
            (3, "router".to_owned()),
            (4, "service-egress".to_owned()),
        ],
        "{}",
        lambda_trace_local::waterfall::render(&trace, &Default::default())
    );
    let gw = &trace.nodes[0];
    assert_eq!(gw.id, field(event_trace, "Parent"));
    assert_eq!(gw.parent_id.as_deref(), Some("53995c3f42cd8ad8"));
    assert!(
        gw.note.is_some(),
        "the caller's segment is outside the trace"
    );
    assert_eq!(gw.http_status, Some(200));
    assert_eq!(trace.nodes[3].function.as_deref(), Some("router"));
    assert!(trace.is_finished());
}

#[tokio::test]
async fn errors_and_unknown_routes() {
    let collector = Arc::new(Collector::new());
    let api = RuntimeApi::start().await.unwrap();
    let gateway = Gateway::start(
        GatewayConfig::default(),
        vec![Route::new(
            "POST",
            "/downstream",
            LambdaFunction::new("downstream", api.clone()),
        )],
        collector.clone(),
    )
    .await
    .unwrap();
    let mut events = gateway.subscribe();
    let r = client::send(gateway.address(), Method::GET, "/downstream", &[], "")
        .await
        .unwrap();
    assert_eq!(r.status, 404);

    let addr = api.address();
    let function = tokio::spawn(async move {
        let next = client::send(
            addr,
            Method::GET,
            "/2018-06-01/runtime/invocation/next",
            &[],
            "",
        )
        .await
        .unwrap();
        let id = next.headers["lambda-runtime-aws-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let event: Value = serde_json::from_slice(&next.body).unwrap();
        client::send(
            addr,
            Method::POST,
            &format!("/2018-06-01/runtime/invocation/{id}/error"),
            &[],
            r#"{"errorType":"Boom","errorMessage":"no"}"#,
        )
        .await
        .unwrap();
        event
    });
    let r = client::send(
        gateway.address(),
        Method::POST,
        "/downstream",
        &[],
        r#"{"example":"request"}"#,
    )
    .await
    .unwrap();
    assert_eq!(r.status, 502);
    assert_eq!(r.text(), r#"{"message":"Internal server error"}"#);
    let event = function.await.unwrap();
    assert_eq!(event["body"], r#"{"example":"request"}"#);
    let first = events.recv().await.unwrap();
    assert_eq!(first.status, 404);
    assert!(!first.continued);
    let second = events.recv().await.unwrap();
    assert_eq!(second.status, 502);
    let trace = collector.trace(&second.trace_id).unwrap();
    assert!(trace.nodes[0].fault);
    assert!(
        trace
            .with_origin("AWS::Lambda::Function")
            .next()
            .unwrap()
            .fault
    );
}
