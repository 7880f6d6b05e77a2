//! `router`: `GET /ot-gen?count=N` calls the `downstream` function N times, each call traced.
//!
//! The Rust version of the Express route in the Lightstep/OpenTracing Lambda example. Input: an
//! API Gateway REST (v1) proxy event whose query string has `count`, a whole number 1–50. Output:
//! `200 {"count": N, "succeeded": k, "failed": m, "trace_id": "1-…"}`, or `400 Count not provided`.
//!
//! Environment: `DOWNSTREAM_URL`, the URL the calls POST to. Unset, the router calls the
//! `/downstream` route of the API it was called through (from the event's `requestContext`):
//! that is how the SAM template wires it, since a function that references its own API is a
//! circular dependency in CloudFormation.
//!
//! Run locally: `make invoke FN=router EVENT=events/apigw-v1-ot-gen.json`.
//! Deploy: `make deploy` (SAM, see `template.yaml`), or
//! `cargo lambda build --release --arm64 --bin router && cargo lambda deploy router`.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::{
    ApiGatewayProxyRequest, ApiGatewayProxyRequestContext, ApiGatewayProxyResponse,
};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_trace::outgoing::TracingMiddleware;
use lambda_trace_functions::{json_response, text_response, trace_id};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::json;
use tokio::task::JoinSet;

/// Most calls one request may ask for: the limit keeps one request from fanning out without end.
const MAX_COUNT: u32 = 50;

/// Where the calls go, built once per process and shared by every invocation.
#[derive(Debug)]
struct Downstream {
    /// One client for the process: it keeps connections (and TLS sessions) alive across calls
    /// and invocations. Its middleware traces every call as a `service-egress` client span
    /// (namespace `remote`, method, URL, status) and injects the trace context into the request.
    client: ClientWithMiddleware,
    /// `DOWNSTREAM_URL`; `None` means "the `/downstream` route of the calling API".
    url: Option<Arc<str>>,
}

impl Downstream {
    fn new(url: Option<&str>) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            // Below the function's timeout, so a hung downstream fails one call, not the invocation.
            .timeout(Duration::from_secs(5))
            .build()?;
        let client = ClientBuilder::new(client)
            .with(TracingMiddleware::new().with_name("service-egress"))
            .build();
        Ok(Self {
            client,
            url: url.map(Arc::from),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let url = std::env::var("DOWNSTREAM_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let downstream = Downstream::new(url.as_deref())?;
    // Borrowed by every invocation: `main` outlives the runtime loop.
    let downstream = &downstream;
    lambda_trace::run(service_fn(move |event| handler(downstream, event))).await
}

async fn handler(
    downstream: &Downstream,
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let Some(count) = parse_count(event.payload.query_string_parameters.first("count")) else {
        // The layer reads the 400 from the response and flags the invocation span `error`.
        return Ok(text_response(400, "Count not provided"));
    };

    let Some(url) = downstream
        .url
        .clone()
        .or_else(|| same_api_url(&event.payload.request_context))
    else {
        return Ok(text_response(500, "DOWNSTREAM_URL not configured"));
    };

    let router = lambda_trace::current().child("router");
    router.annotate("count", count);

    // The calls run concurrently, each in its own task. A spawned task does not inherit the
    // current span (a tokio task-local), so each task runs in the scope of `router`: the
    // middleware opens its `service-egress` span as a child of the current span.
    let mut calls = JoinSet::new();
    for _ in 0..count {
        calls.spawn(lambda_trace::scope(
            router.clone(),
            call_downstream(downstream.client.clone(), url.clone()),
        ));
    }
    let mut succeeded = 0;
    while let Some(joined) = calls.join_next().await {
        // A call task that panicked (`Err`) counts as failed.
        if joined.unwrap_or(false) {
            succeeded += 1;
        }
    }
    router.end();

    Ok(json_response(
        200,
        &json!({
            "count": count,
            "succeeded": succeeded,
            "failed": count - succeeded,
            "trace_id": trace_id(&router),
        }),
    ))
}

/// `Some(n)` for a whole number in `1..=MAX_COUNT`.
fn parse_count(raw: Option<&str>) -> Option<u32> {
    raw?.trim()
        .parse()
        .ok()
        .filter(|n| (1..=MAX_COUNT).contains(n))
}

/// `https://{domain}/{stage}/downstream` of the API Gateway REST API that sent `context`.
/// (Behind a custom domain the stage is not in the path: set `DOWNSTREAM_URL` there.)
fn same_api_url(context: &ApiGatewayProxyRequestContext) -> Option<Arc<str>> {
    let domain = context.domain_name.as_deref()?;
    let stage = context.stage.as_deref()?;
    Some(format!("https://{domain}/{stage}/downstream").into())
}

/// One traced POST to the downstream function; `true` when it answered 2xx.
///
/// The middleware records the call: `error` for a 4xx, `throttle` too for a 429, `fault` for a
/// 5xx, and for a connection error or a timeout a `fault` with the error as its cause.
async fn call_downstream(client: ClientWithMiddleware, url: Arc<str>) -> bool {
    let response = client
        .post(&*url)
        .json(&json!({"example": "request"}))
        .send()
        .await;
    response.is_ok_and(|r| r.status().is_success())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use lambda_runtime::Context;
    use lambda_trace::TraceLayer;
    use lambda_trace::export::InMemoryExporter;
    use lambda_trace::span::{RemoteNamespace, SpanKind};
    use lambda_trace_functions::body_text;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tower::{Layer, Service, ServiceExt};

    use super::*;

    /// A downstream on loopback that answers every request with `status`; returns its URL.
    /// It serves `max` connections and then stops.
    async fn fake_downstream(status: u16, max: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/downstream", listener.local_addr().unwrap());
        tokio::spawn(async move {
            for _ in 0..max {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    // Enough for the small request the router sends; the body is not checked.
                    let mut buf = vec![0; 4096];
                    let _ = socket.read(&mut buf).await;
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        url
    }

    fn event(query: &[(&str, &str)]) -> LambdaEvent<ApiGatewayProxyRequest> {
        let mut request = ApiGatewayProxyRequest::default();
        let query: HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        request.query_string_parameters = query.into();
        LambdaEvent::new(request, Context::default())
    }

    fn body(response: &ApiGatewayProxyResponse) -> serde_json::Value {
        serde_json::from_str(body_text(response)).unwrap()
    }

    #[test]
    fn the_sample_event_asks_for_three_calls_to_its_own_api() {
        let request: ApiGatewayProxyRequest =
            serde_json::from_str(include_str!("../../../events/apigw-v1-ot-gen.json")).unwrap();
        assert_eq!(
            parse_count(request.query_string_parameters.first("count")),
            Some(3)
        );
        assert_eq!(
            same_api_url(&request.request_context).as_deref(),
            Some("https://abc123defg.execute-api.us-east-1.amazonaws.com/Prod/downstream")
        );
        assert_eq!(
            same_api_url(&ApiGatewayProxyRequestContext::default()),
            None
        );
    }

    #[tokio::test]
    async fn no_downstream_anywhere_is_a_500() {
        let unconfigured = Downstream::new(None).unwrap();
        let response = handler(&unconfigured, event(&[("count", "1")]))
            .await
            .unwrap();
        assert_eq!(response.status_code, 500);
    }

    #[test]
    fn count_must_be_a_whole_number_from_1_to_50() {
        assert_eq!(parse_count(Some("3")), Some(3));
        assert_eq!(parse_count(Some(" 50 ")), Some(50));
        for bad in [
            None,
            Some(""),
            Some("0"),
            Some("51"),
            Some("-1"),
            Some("2.5"),
            Some("x"),
        ] {
            assert_eq!(parse_count(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn missing_count_is_a_400() {
        let downstream = Downstream::new(Some("http://127.0.0.1:9/unused")).unwrap();
        let response = handler(&downstream, event(&[])).await.unwrap();
        assert_eq!(response.status_code, 400);
        assert_eq!(body_text(&response), "Count not provided");
    }

    #[tokio::test]
    async fn counts_successful_and_failed_calls() {
        let ok = Downstream::new(Some(&fake_downstream(200, 3).await)).unwrap();
        let response = handler(&ok, event(&[("count", "3")])).await.unwrap();
        assert_eq!(response.status_code, 200);
        assert_eq!(
            body(&response),
            json!({"count": 3, "succeeded": 3, "failed": 0, "trace_id": null})
        );

        let failing = Downstream::new(Some(&fake_downstream(500, 2).await)).unwrap();
        let response = handler(&failing, event(&[("count", "2")])).await.unwrap();
        assert_eq!(body(&response)["failed"], 2);
    }

    #[tokio::test]
    async fn a_connection_error_counts_as_failed() {
        // Bind, then drop the listener: nothing listens on that port any more.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let closed = Downstream::new(Some(&format!("http://127.0.0.1:{port}/"))).unwrap();
        let response = handler(&closed, event(&[("count", "1")])).await.unwrap();
        assert_eq!(body(&response)["failed"], 1);
    }

    #[tokio::test]
    async fn each_call_is_a_traced_child_of_router() {
        let ok = Downstream::new(Some(&fake_downstream(200, 1).await)).unwrap();
        let failing = Downstream::new(Some(&fake_downstream(503, 1).await)).unwrap();
        let exporter = InMemoryExporter::default();
        let layer = TraceLayer::builder()
            .service_name("router")
            .exporter(exporter.clone())
            .build();

        for downstream in [&ok, &failing] {
            let mut service = layer.layer(service_fn(move |event| handler(downstream, event)));
            let response = service
                .ready()
                .await
                .unwrap()
                .call(event(&[("count", "1")]))
                .await
                .unwrap();
            let trace = body(&response)["trace_id"].as_str().unwrap().to_string();
            assert!(trace.starts_with("1-"), "{trace}");
        }

        let batches = exporter.take();
        assert_eq!(batches.len(), 2);
        for ((batch, fault), downstream) in batches.iter().zip([false, true]).zip([&ok, &failing]) {
            // `spans[0]` is the invocation span (named after the service, here also "router").
            let router = &batch.spans[1];
            assert_eq!(router.name, "router");
            assert_eq!(router.parent_id, batch.root().map(|r| r.span_id));
            let call = batch
                .spans
                .iter()
                .find(|s| s.name == "service-egress")
                .unwrap();
            assert_eq!(call.parent_id, Some(router.span_id));
            assert_eq!(call.kind, SpanKind::Client);
            assert_eq!(call.namespace, Some(RemoteNamespace::Remote));
            assert_eq!(
                call.http_request.as_ref().unwrap().method.as_deref(),
                Some("POST")
            );
            // The destination: the URL, as called (it has no query string to drop).
            assert_eq!(
                call.http_request.as_ref().unwrap().url.as_deref(),
                downstream.url.as_deref()
            );
            assert_eq!(call.outcome.fault, fault);
            let status = call.http_response.and_then(|r| r.status);
            assert_eq!(status, Some(if fault { 503 } else { 200 }));
        }
    }
}
