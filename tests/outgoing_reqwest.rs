//! The reqwest middleware, from a traced invocation to a local HTTP server.
#![cfg(feature = "reqwest")]

mod support;

use lambda_runtime::Error;
use lambda_trace::outgoing::TracingMiddleware;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{Value, json};
use support::outgoing::{Server, check_call, check_refused, refused_url, root, traced};

fn client(middleware: TracingMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build()
}

async fn get(client: &ClientWithMiddleware, url: &str) -> Value {
    match client.get(url).send().await {
        Ok(response) => json!(response.status().as_u16()),
        Err(e) => json!(e.is_connect()),
    }
}

#[tokio::test]
async fn middleware_records_status_flags_and_failures() {
    let server = Server::start().await;
    let refused = refused_url().await;
    let client = client(TracingMiddleware::default());
    let (response, batch) = traced(|_| async {
        let mut out = Vec::new();
        for status in [200, 404, 429, 503] {
            out.push(get(&client, &server.url(status)).await);
        }
        out.push(get(&client, &refused).await);
        Ok::<_, Error>(Value::Array(out))
    })
    .await;

    assert_eq!(
        response,
        json!([200, 404, 429, 503, true]),
        "results unchanged"
    );
    for status in [200, 404, 429, 503] {
        check_call(&batch, &server, status, root(&batch), "127.0.0.1");
    }
    check_refused(&batch, &refused);
}

#[tokio::test]
async fn middleware_with_a_name_and_a_scoped_parent() {
    let server = Server::start().await;
    let client = client(TracingMiddleware::new().with_name("service-egress"));
    let (_, batch) = traced(|_| {
        let client = client.clone();
        let url = server.url(200);
        async move {
            let parent = lambda_trace::current().child("router");
            let task = tokio::spawn(lambda_trace::scope(parent.clone(), async move {
                get(&client, &url).await
            }));
            assert_eq!(task.await.unwrap(), json!(200));
            parent.end();
            Ok::<_, Error>(Value::Null)
        }
    })
    .await;
    let router = batch.spans.iter().find(|s| s.name == "router").unwrap();
    check_call(&batch, &server, 200, router, "service-egress");
}

#[tokio::test]
async fn outside_an_invocation_the_middleware_is_transparent() {
    let server = Server::start().await;
    let client = client(TracingMiddleware::default());
    assert_eq!(get(&client, &server.url(429)).await, json!(429));
    let headers = server.received(429).headers;
    assert!(headers.get("traceparent").is_none() && headers.get("x-amzn-trace-id").is_none());
}
