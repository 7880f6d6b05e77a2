//! Shared by the outgoing-call tests: a tiny HTTP server that records the headers it received
//! and answers with the status named by the path, and a traced invocation to call it from.

#![allow(dead_code, unreachable_pub)] // each test crate uses a different part

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_runtime::{Context, Error, LambdaEvent};
use lambda_trace::export::InMemoryExporter;
use lambda_trace::propagation::{HeaderExtractor, Propagator, W3cPropagator, XrayPropagator};
use lambda_trace::span::{RemoteNamespace, SpanBatch, SpanKind, SpanRecord};
use lambda_trace::{Config, TraceLayer};
use serde_json::Value;
use tokio::net::TcpListener;
use tower::{Layer, Service, ServiceExt};

/// What the server saw of one request.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
}

/// An HTTP/1 server on 127.0.0.1: `/status/{code}` answers `{code}` with the body `ok`.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Server {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let log = Arc::clone(&log);
                        async move {
                            log.lock().unwrap().push(Received {
                                path: request.uri().path().to_string(),
                                headers: request.headers().clone(),
                            });
                            let status = request
                                .uri()
                                .path()
                                .strip_prefix("/status/")
                                .and_then(|s| s.parse().ok())
                                .and_then(|s| StatusCode::from_u16(s).ok())
                                .unwrap_or(StatusCode::OK);
                            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
                            *response.status_mut() = status;
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, received }
    }

    /// `http://127.0.0.1:{port}/status/{status}?token=secret`.
    pub fn url(&self, status: u16) -> String {
        format!("http://{}/status/{status}?token=secret", self.addr)
    }

    /// The URL as it should be recorded: no query string.
    pub fn recorded_url(&self, status: u16) -> String {
        format!("http://{}/status/{status}", self.addr)
    }

    /// The request that reached `/status/{status}`.
    pub fn received(&self, status: u16) -> Received {
        let path = format!("/status/{status}");
        let received = self.received.lock().unwrap();
        let found: Vec<_> = received.iter().filter(|r| r.path == path).collect();
        assert_eq!(found.len(), 1, "one request to {path}: {received:?}");
        found[0].clone()
    }
}

/// A URL where nothing listens: bind a port, then drop the listener.
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/refused")
}

/// Runs `handler` as one traced invocation (a fresh layer with an in-memory exporter); returns
/// its response and the exported batch.
pub async fn traced<F, Fut>(handler: F) -> (Value, SpanBatch)
where
    F: FnMut(LambdaEvent<Value>) -> Fut,
    Fut: Future<Output = Result<Value, Error>>,
{
    let exporter = InMemoryExporter::default();
    let mut service = TraceLayer::builder()
        .config(Config::from_lookup(|_| None))
        .service_name("caller")
        .exporter(exporter.clone())
        .build()
        .layer(tower::service_fn(handler));
    let response = service
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(Value::Null, Context::default()))
        .await
        .unwrap();
    let mut batches = exporter.take();
    assert_eq!(batches.len(), 1, "one batch per invocation");
    (response, batches.remove(0))
}

/// The client span whose recorded URL is `url`.
pub fn client_span<'a>(batch: &'a SpanBatch, url: &str) -> &'a SpanRecord {
    batch
        .spans
        .iter()
        .find(|s| {
            s.kind == SpanKind::Client
                && s.http_request.as_ref().and_then(|r| r.url.as_deref()) == Some(url)
        })
        .unwrap_or_else(|| panic!("no client span for {url}: {:#?}", batch.spans))
}

/// Checks the call to `/status/{status}`: a remote client span, child of `parent`, with method,
/// URL (no query), status, content length and flags; and the server got its context as parent.
pub fn check_call(
    batch: &SpanBatch,
    server: &Server,
    status: u16,
    parent: &SpanRecord,
    name: &str,
) {
    let span = client_span(batch, &server.recorded_url(status));
    assert_eq!(span.name, name);
    assert_eq!(span.parent_id, Some(parent.span_id));
    assert_eq!(span.namespace, Some(RemoteNamespace::Remote));
    assert!(!span.unfinished, "{span:#?}");
    let request = span.http_request.as_ref().unwrap();
    assert_eq!(request.method.as_deref(), Some("GET"));
    let response = span.http_response.unwrap();
    assert_eq!(response.status, Some(status));
    assert_eq!(response.content_length, Some(2));
    let flags = (
        span.outcome.error,
        span.outcome.throttle,
        span.outcome.fault,
    );
    let expected = match status {
        404 => (true, false, false),
        429 => (true, true, false),
        503 => (false, false, true),
        _ => (false, false, false),
    };
    assert_eq!(flags, expected, "flags for {status}");
    assert!(span.exceptions.is_empty(), "a status is not an exception");

    let headers = server.received(status).headers;
    let extractor = HeaderExtractor(&headers);
    for (format, cx) in [
        ("traceparent", W3cPropagator::new().extract(&extractor)),
        ("x-amzn-trace-id", XrayPropagator::new().extract(&extractor)),
    ] {
        let cx = cx.unwrap_or_else(|| panic!("no {format} in {headers:?}"));
        assert_eq!(cx.trace_id, batch.trace_id, "{format}");
        assert_eq!(
            cx.span_id,
            Some(span.span_id),
            "{format} names the call as parent"
        );
    }
}

/// Checks the refused call: a fault with the connection error as a remote cause.
pub fn check_refused(batch: &SpanBatch, url: &str) {
    let span = client_span(batch, url);
    assert_eq!(span.namespace, Some(RemoteNamespace::Remote));
    assert!(span.outcome.fault && !span.outcome.error, "{span:#?}");
    assert!(span.http_response.is_none());
    assert!(!span.exceptions.is_empty());
    assert!(span.exceptions.iter().all(|e| e.remote), "{span:#?}");
    assert!(!span.unfinished);
}

/// The span a handler's calls hang under: the invocation span.
pub fn root(batch: &SpanBatch) -> &SpanRecord {
    batch.root().unwrap()
}
