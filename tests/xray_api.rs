//! `XrayApiExporter` against `moto_server` standing in for the X-Ray API (`make venv` installs
//! it; a missing server fails these tests).
//!
//! What it proves: a traced invocation's documents reach the API exactly as
//! `xray::encode_batch` writes them (what the daemon exporter sends), read back with
//! `BatchGetTraces`; a document the API refuses comes back as `ExportError::Rejected`, not a
//! panic; an endpoint that refuses connections, answers 500, answers 200 with garbage or does
//! not speak HTTP at all (a local hyper server, no moto) costs an error, within the flush
//! timeout, and never the response.
#![cfg(feature = "xray-api")]

mod support;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::export::{Export, ExportError, Exporter, XrayApiExporter};
use lambda_trace::span::SpanBatch;
use lambda_trace::{Config, TraceLayer};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};

/// Passes batches to `inner`, keeping a copy of each and the result of each export.
#[derive(Debug, Clone)]
struct Tee<E> {
    inner: E,
    batches: Arc<Mutex<Vec<SpanBatch>>>,
    results: Arc<Mutex<Vec<Result<(), String>>>>,
}

impl<E> Tee<E> {
    fn new(inner: E) -> Self {
        Self {
            inner,
            batches: Arc::default(),
            results: Arc::default(),
        }
    }
}

impl<E: Exporter> Exporter for Tee<E> {
    fn export(&self, batch: SpanBatch) -> Export {
        self.batches.lock().unwrap().push(batch.clone());
        let results = Arc::clone(&self.results);
        let record = move |r: &Result<(), ExportError>| {
            results
                .lock()
                .unwrap()
                .push(r.as_ref().map(drop).map_err(ToString::to_string));
        };
        match self.inner.export(batch) {
            Export::Done(r) => {
                record(&r);
                Export::Done(r)
            }
            Export::Pending(future) => Export::Pending(Box::pin(async move {
                let r = future.await;
                record(&r);
                r
            })),
        }
    }
}

fn layer(exporter: impl Exporter + 'static, flush_timeout_ms: &'static str) -> TraceLayer {
    TraceLayer::builder()
        .config(Config::from_lookup(|k| match k {
            "AWS_LAMBDA_FUNCTION_NAME" => Some("orders-fn".into()),
            "AWS_REGION" => Some(support::moto::REGION.into()),
            "LAMBDA_TRACE_FLUSH_TIMEOUT_MS" => Some(flush_timeout_ms.into()),
            _ => None,
        }))
        .exporter(exporter)
        .build()
}

fn context() -> Context {
    let mut cx = Context::default();
    cx.request_id = "req-1".into();
    cx.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn".into();
    cx
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let span = lambda_trace::current();
    span.annotate("orderId", "o-123");
    span.in_child("price", async {
        lambda_trace::current().metadata("items", json!([1, 2, 3]));
    })
    .await;
    Ok(event.payload)
}

async fn invoke<E: Exporter + Clone + 'static>(exporter: &Tee<E>, timeout_ms: &'static str) {
    let mut svc = layer(exporter.clone(), timeout_ms).layer(service_fn(handler));
    let out = svc
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(json!({"n": 1}), context()))
        .await
        .unwrap();
    assert_eq!(out, json!({"n": 1}), "the response is the handler's");
}

/// Every document of a trace, by id, as `BatchGetTraces` returns them.
async fn stored_documents(
    client: &aws_sdk_xray::Client,
    trace_id: &str,
) -> BTreeMap<String, Value> {
    let out = client
        .batch_get_traces()
        .trace_ids(trace_id)
        .send()
        .await
        .expect("BatchGetTraces");
    let traces = out.traces();
    assert_eq!(traces.len(), 1, "one trace {trace_id}: {out:?}");
    traces[0]
        .segments()
        .iter()
        .map(|s| {
            let doc: Value = serde_json::from_str(s.document().expect("document")).unwrap();
            (s.id().expect("segment id").to_string(), doc)
        })
        .collect()
}

#[tokio::test]
async fn a_traced_invocation_reaches_the_api_as_the_daemon_would_send_it() {
    let moto = support::moto::Moto::start();
    let config = support::moto::sdk_config(&moto.endpoint());
    let tee = Tee::new(XrayApiExporter::with_config(&config));
    invoke(&tee, "10000").await;
    assert_eq!(*tee.results.lock().unwrap(), vec![Ok(())]);

    let batch = tee.batches.lock().unwrap().remove(0);
    let mut expected = Vec::new();
    lambda_trace::xray::encode_batch(&batch, &mut expected);
    let expected: BTreeMap<String, Value> = expected
        .iter()
        .map(|d| {
            let v: Value = serde_json::from_slice(d).unwrap();
            support::assert_valid_document(&v);
            (v["id"].as_str().unwrap().to_string(), v)
        })
        .collect();
    assert_eq!(expected.len(), 1, "a small invocation is one document");

    let client = aws_sdk_xray::Client::new(&config);
    let stored = stored_documents(&client, &batch.trace_id.to_xray()).await;
    assert_eq!(stored, expected);
    let root = stored.values().next().unwrap();
    assert_eq!(root["annotations"]["orderId"], "o-123");
    assert_eq!(root["subsegments"][0]["name"], "price");
}

#[tokio::test]
async fn large_batches_go_in_calls_of_fifty() {
    let moto = support::moto::Moto::start();
    let config = support::moto::sdk_config(&moto.endpoint());
    let exporter = XrayApiExporter::with_config(&config);
    let trace = "1-5759e988-bd862e3fe1be46a994272793";
    let documents: Vec<String> = (1..=120u64)
        .map(|i| {
            json!({
                "name": format!("doc-{i}"), "id": format!("{i:016x}"), "trace_id": trace,
                "start_time": 1.5e9, "end_time": 1.5e9 + 1.0,
            })
            .to_string()
        })
        .collect();
    exporter.send_documents(documents).await.unwrap();
    let client = aws_sdk_xray::Client::new(&config);
    assert_eq!(stored_documents(&client, trace).await.len(), 120);
}

#[tokio::test]
async fn refused_documents_are_rejected_not_a_panic() {
    let moto = support::moto::Moto::start();
    let exporter = XrayApiExporter::with_config(&support::moto::sdk_config(&moto.endpoint()));
    let good = json!({
        "name": "ok", "id": "70de5b6f19ff9a0a", "trace_id": "1-581cf771-a006649127e371903a2de979",
        "start_time": 1478293361.271, "end_time": 1478293361.449,
    });
    // No `name`, `trace_id` nor `start_time`: X-Ray (and moto) refuse it by id.
    let missing_fields = json!({"id": "70de5b6f19ff9a0b", "end_time": 1478293361.449});
    let err = exporter
        .send_documents(vec![good.to_string(), missing_fields.to_string()])
        .await
        .unwrap_err();
    match &err {
        ExportError::Rejected {
            rejected, total, ..
        } => assert_eq!((*rejected, *total), (1, 2), "{err}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert!(err.to_string().contains("MissingParam"), "{err}");
}

#[tokio::test]
async fn invalid_json_is_rejected_without_an_id() {
    // moto (like X-Ray) refuses it with `JSONFormatError` and no id: nothing to send again.
    let moto = support::moto::Moto::start();
    let exporter = XrayApiExporter::with_config(&support::moto::sdk_config(&moto.endpoint()));
    let err = exporter
        .send_documents(vec!["{not json".to_string()])
        .await
        .unwrap_err();
    match &err {
        ExportError::Rejected {
            rejected: 1,
            total: 1,
            message,
        } => assert!(message.contains("JSONFormatError"), "{message}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
}

#[tokio::test]
async fn a_refused_connection_is_an_error_within_the_flush_timeout() {
    let closed = support::moto::free_port();
    let tee = Tee::new(XrayApiExporter::with_config(&support::moto::sdk_config(
        &format!("http://{closed}"),
    )));
    let start = Instant::now();
    invoke(&tee, "2000").await;
    let took = start.elapsed();
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    let results = tee.results.lock().unwrap().clone();
    // Either the SDK gave up (its retries with backoff) or the deadline dropped the export
    // first; both cost at most the flush timeout and never the response.
    match results.as_slice() {
        [Err(e)] => assert!(e.contains("PutTraceSegments"), "{e}"),
        [] => assert!(
            took >= Duration::from_millis(1900),
            "dropped at the deadline"
        ),
        other => panic!("unexpected results {other:?}"),
    }
}

/// How the stand-in API answers every request.
#[derive(Debug, Clone, Copy)]
enum Nonsense {
    /// 500 with a text body.
    Status500,
    /// 200 with a body that is not JSON.
    Garbage200,
    /// Bytes that are not HTTP, on a connection kept open.
    NotHttp,
}

/// A local server answering every request with `answer`: its endpoint and the number of
/// connections it accepted.
async fn nonsense_api(answer: Nonsense) -> (String, Arc<AtomicUsize>) {
    use http_body_util::Full;
    use hyper::server::conn::http1;
    use hyper_util::rt::TokioIo;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&connections);
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            if let Nonsense::NotHttp = answer {
                let garbage = b"\x16\x03\x01 not HTTP at all \xff\xfe\r\n\r\n";
                let _ = tokio::io::AsyncWriteExt::write_all(&mut stream, garbage).await;
                held.push(stream);
                continue;
            }
            let service = hyper::service::service_fn(move |_request| async move {
                let (status, body): (u16, &'static [u8]) = match answer {
                    Nonsense::Status500 => (500, b"<html>internal error</html>"),
                    _ => (200, b"\xff\xfe<html>not json"),
                };
                Ok::<_, Infallible>(
                    hyper::Response::builder()
                        .status(status)
                        .header("content-type", "application/json")
                        .body(Full::new(bytes::Bytes::from_static(body)))
                        .unwrap(),
                )
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (endpoint, connections)
}

#[tokio::test]
async fn an_endpoint_answering_nonsense_is_an_error_within_the_flush_timeout() {
    for answer in [Nonsense::Status500, Nonsense::Garbage200, Nonsense::NotHttp] {
        let (endpoint, connections) = nonsense_api(answer).await;
        let tee = Tee::new(XrayApiExporter::with_config(&support::moto::sdk_config(
            &endpoint,
        )));
        let start = Instant::now();
        invoke(&tee, "1000").await;
        let took = start.elapsed();
        assert!(
            took < Duration::from_millis(1500),
            "{answer:?} took {took:?}"
        );
        assert!(connections.load(Ordering::SeqCst) >= 1, "{answer:?}");
        // The SDK's error (after its retries), or the deadline dropped the export first.
        match tee.results.lock().unwrap().as_slice() {
            [Err(e)] => assert!(e.contains("PutTraceSegments"), "{answer:?}: {e}"),
            [] => assert!(took >= Duration::from_millis(900), "{answer:?}: {took:?}"),
            other => panic!("{answer:?}: unexpected results {other:?}"),
        }
    }
}
