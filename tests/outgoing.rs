//! Outgoing calls from a traced invocation to a local HTTP server: by hand with
//! [`OutgoingCall`] around a hyper-util client, and with [`OutgoingLayer`] as a tower layer.

mod support;

use std::time::Duration;

use http::Request;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_runtime::Error;
use lambda_trace::outgoing::{OutgoingCall, OutgoingLayer};
use serde_json::{Value, json};
use support::outgoing::{
    Server, check_call, check_refused, client_span, refused_url, root, traced,
};
use tower::{Layer, Service, ServiceExt};

const STATUSES: [u16; 4] = [200, 404, 429, 503];

fn hyper_client() -> Client<HttpConnector, String> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One call, by hand: the status, or the error's message.
async fn call_by_hand(client: &Client<HttpConnector, String>, url: &str) -> Value {
    let mut request = Request::get(url).body(String::new()).unwrap();
    let call = OutgoingCall::start(&mut request);
    match client.request(request).await {
        Ok(response) => {
            call.finish(&response);
            json!(response.status().as_u16())
        }
        Err(e) => {
            call.fail(&e);
            json!("failed")
        }
    }
}

#[tokio::test]
async fn outgoing_call_around_a_hyper_client() {
    let server = Server::start().await;
    let refused = refused_url().await;
    let client = hyper_client();
    let (response, batch) = traced(|_| async {
        let mut out = Vec::new();
        for status in STATUSES {
            out.push(call_by_hand(&client, &server.url(status)).await);
        }
        out.push(call_by_hand(&client, &refused).await);
        Ok::<_, Error>(Value::Array(out))
    })
    .await;

    assert_eq!(
        response,
        json!([200, 404, 429, 503, "failed"]),
        "response unchanged"
    );
    let host = "127.0.0.1";
    for status in STATUSES {
        check_call(&batch, &server, status, root(&batch), host);
    }
    check_refused(&batch, &refused);
}

#[tokio::test]
async fn outgoing_layer_around_a_hyper_util_client() {
    let server = Server::start().await;
    let refused = refused_url().await;
    let client = OutgoingLayer::new().layer(hyper_client());
    let (response, batch) = traced(|_| {
        let mut client = client.clone();
        let urls: Vec<String> = STATUSES
            .iter()
            .map(|s| server.url(*s))
            .chain([refused.clone()])
            .collect();
        async move {
            let mut out = Vec::new();
            for url in urls {
                let request = Request::get(url).body(String::new()).unwrap();
                let result = client.ready().await?.call(request).await;
                out.push(match result {
                    Ok(response) => json!(response.status().as_u16()),
                    Err(e) => json!(e.is_connect()),
                });
            }
            Ok::<_, Error>(Value::Array(out))
        }
    })
    .await;

    assert_eq!(
        response,
        json!([200, 404, 429, 503, true]),
        "results unchanged"
    );
    for status in STATUSES {
        check_call(&batch, &server, status, root(&batch), "127.0.0.1");
    }
    check_refused(&batch, &refused);
}

#[tokio::test]
async fn names_replace_the_host_and_parents_can_be_explicit() {
    let server = Server::start().await;
    let client = hyper_client();
    let named = OutgoingLayer::new()
        .with_name("inventory")
        .layer(hyper_client());
    let (_, batch) = traced(|_| {
        let client = client.clone();
        let mut named = named.clone();
        let (url_200, url_404) = (server.url(200), server.url(404));
        async move {
            // A spawned task has no current span: give the parent explicitly.
            let parent = lambda_trace::current().child("fan-out");
            let task = tokio::spawn({
                let parent = parent.clone();
                async move {
                    let mut request = Request::get(url_200).body(String::new()).unwrap();
                    let call = OutgoingCall::named_in(&parent, "stock", &mut request);
                    let response = client.request(request).await.unwrap();
                    call.finish(&response);
                }
            });
            task.await.unwrap();
            let request = Request::get(url_404).body(String::new()).unwrap();
            // The layer picks the parent in `call`, so `call` runs inside the scope.
            lambda_trace::scope(parent.clone(), async {
                named.ready().await?.call(request).await
            })
            .await?;
            parent.end();
            Ok::<_, Error>(Value::Null)
        }
    })
    .await;

    let fan_out = batch.spans.iter().find(|s| s.name == "fan-out").unwrap();
    check_call(&batch, &server, 200, fan_out, "stock");
    check_call(&batch, &server, 404, fan_out, "inventory");
}

#[tokio::test]
async fn a_dropped_call_is_cancelled() {
    let server = Server::start().await;
    let (_, batch) = traced(|_| async {
        let mut request = Request::get(server.url(200)).body(String::new()).unwrap();
        let call = OutgoingCall::start(&mut request);
        drop(call);

        // A timeout drops the layer's future before the response: the same.
        let mut slow = OutgoingLayer::new().layer(tower::service_fn(|_: Request<String>| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok::<_, std::io::Error>(http::Response::new(()))
        }));
        let request = Request::get("http://slow.example/x?k=v")
            .body(String::new())
            .unwrap();
        let timed_out =
            tokio::time::timeout(Duration::from_millis(10), slow.ready().await?.call(request))
                .await;
        assert!(timed_out.is_err());
        Ok::<_, Error>(Value::Null)
    })
    .await;

    for url in [
        server.recorded_url(200),
        "http://slow.example/x".to_string(),
    ] {
        let span = client_span(&batch, &url);
        assert!(!span.unfinished, "ended at the drop, not at the flush");
        assert!(
            span.metadata
                .iter()
                .any(|m| m.namespace == "lambda_trace" && m.key == "cancelled" && m.value == true),
            "{span:#?}"
        );
        assert!(span.http_response.is_none());
    }
    assert_eq!(
        client_span(&batch, "http://slow.example/x").name,
        "slow.example"
    );
}

/// Under Active tracing Lambda's trace wins over the caller's `traceparent`, but the caller's
/// baggage still reaches the next service, with Lambda's trace and our span as its parent.
#[tokio::test]
async fn under_active_tracing_the_callers_baggage_reaches_the_next_service() {
    use lambda_trace::export::InMemoryExporter;
    use lambda_trace::propagation::{HeaderExtractor, Propagator, XrayPropagator};

    const LAMBDA: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let server = Server::start().await;
    let client = hyper_client();
    let exporter = InMemoryExporter::default();
    let mut service = lambda_trace::TraceLayer::builder()
        .config(lambda_trace::testing::config(&[]))
        .service_name("caller")
        .exporter(exporter.clone())
        .build()
        .layer(tower::service_fn(|_| async {
            Ok::<_, Error>(call_by_hand(&client, &server.url(200)).await)
        }));
    let event = json!({
        "httpMethod": "GET",
        "path": "/orders",
        "headers": {
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "baggage": "tenant=t-1,plan=gold"
        }
    });
    let mut context = lambda_runtime::Context::default();
    context.xray_trace_id = Some(LAMBDA.to_owned());
    let response = service
        .ready()
        .await
        .unwrap()
        .call(lambda_runtime::LambdaEvent::new(event, context))
        .await
        .unwrap();
    assert_eq!(response, json!(200));

    let headers = server.received(200).headers;
    assert_eq!(
        headers.get("baggage").and_then(|v| v.to_str().ok()),
        Some("tenant=t-1,plan=gold"),
        "{headers:?}"
    );
    let sent = XrayPropagator::default()
        .extract(&HeaderExtractor(&headers))
        .expect("an X-Ray header");
    let batch = exporter.take().remove(0);
    assert_eq!(
        sent.trace_id.to_xray(),
        "1-5759e988-bd862e3fe1be46a994272793"
    );
    let call = client_span(&batch, &server.recorded_url(200));
    assert_eq!(
        sent.span_id,
        Some(call.span_id),
        "the call's span is the parent"
    );
}
