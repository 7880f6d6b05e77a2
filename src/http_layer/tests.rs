//! `HttpTraceLayer` driven directly with `lambda_http::Request`s.

use aws_lambda_events::apigw::ApiGatewayProxyRequestContext;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, Response, service_fn};
use lambda_runtime::Context;
use tower::{Layer, Service, ServiceExt};

use super::HttpTraceLayer;
use crate::span::{AnnotationValue, RootPlacement};
use crate::{Config, TraceLayer, export::InMemoryExporter};

fn layer(exporter: &InMemoryExporter) -> HttpTraceLayer {
    TraceLayer::builder()
        .config(Config::from_lookup(|k| {
            (k == "AWS_LAMBDA_FUNCTION_NAME").then(|| "api".to_string())
        }))
        .exporter(exporter.clone())
        .build()
        .into()
}

fn request(trace_header: Option<&str>) -> Request {
    let mut request = http::Request::builder()
        .method("POST")
        .uri("https://api.example.com/orders/42?token=secret")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )
        .header("user-agent", "curl/8")
        .body(Body::from("{}"))
        .unwrap();
    let mut rc = ApiGatewayProxyRequestContext::default();
    rc.resource_path = Some("/orders/{id}".into());
    rc.identity.source_ip = Some("203.0.113.9".into());
    let mut cx = Context::default();
    cx.request_id = "req-http".into();
    cx.xray_trace_id = trace_header.map(str::to_string);
    request
        .extensions_mut()
        .insert(RequestContext::ApiGatewayV1(rc));
    request.with_lambda_context(cx)
}

#[tokio::test]
async fn traces_an_http_handler_from_headers_context_and_status() {
    let exporter = InMemoryExporter::default();
    let mut svc = layer(&exporter).layer(service_fn(|req: Request| async move {
        crate::current().annotate("path", req.uri().path());
        Ok::<_, Error>(
            Response::builder()
                .status(404)
                .body(Body::from("missing"))
                .unwrap(),
        )
    }));
    let response = svc
        .ready()
        .await
        .unwrap()
        .call(request(None))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.body(), &Body::from("missing"));

    let batch = exporter.take().remove(0);
    assert_eq!(batch.placement, RootPlacement::Segment);
    assert_eq!(
        batch.trace_id.to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    let root = &batch.spans[0];
    assert_eq!(root.parent_id.unwrap().to_string(), "b7ad6b7169203331");
    assert!(root.outcome.error && !root.outcome.fault);
    let http = root.http_request.as_ref().unwrap();
    assert_eq!(http.method.as_deref(), Some("POST"));
    assert_eq!(http.url.as_deref(), Some("/orders/42"), "no query string");
    assert_eq!(http.route.as_deref(), Some("/orders/{id}"));
    assert_eq!(http.client_ip.as_deref(), Some("203.0.113.9"));
    assert_eq!(http.user_agent.as_deref(), Some("curl/8"));
    assert!(
        root.annotations
            .iter()
            .any(|(k, v)| k == "path" && *v == AnnotationValue::String("/orders/42".into()))
    );
}

#[tokio::test]
async fn lambda_active_tracing_wins_and_plain_responses_are_200() {
    let exporter = InMemoryExporter::default();
    let mut svc = layer(&exporter).layer(service_fn(|_: Request| async {
        Ok::<_, Error>("ok".to_string())
    }));
    let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let body = svc
        .ready()
        .await
        .unwrap()
        .call(request(Some(header)))
        .await
        .unwrap();
    assert_eq!(body, "ok");
    let batch = exporter.take().remove(0);
    assert_eq!(batch.placement, RootPlacement::LambdaSubsegment);
    assert_eq!(
        batch.spans[0].links.len(),
        1,
        "the caller's traceparent is kept as a link"
    );
    assert_eq!(batch.spans[0].http_response.unwrap().status, Some(200));
}

#[tokio::test(start_paused = true)]
async fn a_slow_http_handler_is_flushed_as_timed_out_before_its_deadline() {
    let exporter = InMemoryExporter::default();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(0));
    let (probe, count) = (exporter.clone(), std::sync::Arc::clone(&seen));
    let svc = layer(&exporter).layer(service_fn(move |_: Request| {
        let (probe, count) = (probe.clone(), std::sync::Arc::clone(&count));
        async move {
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            *count.lock().unwrap() = probe.batches().len();
            Ok::<_, Error>(Response::builder().status(201).body(Body::from("late"))?)
        }
    }));
    let mut request = request(None);
    let mut cx = request.lambda_context();
    cx.deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 1000;
    request = request.with_lambda_context(cx);
    let response = svc.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 201, "the handler's own response");
    assert_eq!(response.body(), &Body::from("late"));
    assert_eq!(*seen.lock().unwrap(), 1, "exported while the handler ran");
    let batches = exporter.take();
    assert_eq!(batches.len(), 1, "no second export");
    let root = &batches[0].spans[0];
    assert!(root.outcome.fault && root.unfinished);
    assert!(
        root.http_response.is_none(),
        "the late status is not recorded"
    );
    assert!(
        root.annotations
            .iter()
            .any(|(k, v)| k == "TimedOut" && *v == AnnotationValue::Bool(true))
    );
}
