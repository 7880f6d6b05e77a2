//! Layer tests without a runtime: a `service_fn` wrapped in the layer, driven directly, through
//! the public API only.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_runtime::{Context, Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceExt};

use lambda_trace::context::Sampling;
use lambda_trace::export::{Export, Exporter, InMemoryExporter};
use lambda_trace::span::{AnnotationValue, AttributeValue, RootPlacement, SpanBatch};
use lambda_trace::testing::TestContext;
use lambda_trace::{Config, TraceLayer};

const LAMBDA_HEADER: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn layer(exporter: impl Exporter + 'static) -> TraceLayer {
    TraceLayer::builder()
        .config(Config::from_lookup(|k| match k {
            "AWS_LAMBDA_FUNCTION_NAME" => Some("orders-fn".into()),
            "OTEL_SERVICE_NAME" => Some("orders".into()),
            "AWS_REGION" => Some("eu-west-1".into()),
            _ => None,
        }))
        .exporter(exporter)
        .build()
}

fn context(trace_header: Option<&str>) -> Context {
    let cx = TestContext::new("req-1")
        .function_arn("arn:aws:lambda:eu-west-1:123456789012:function:orders-fn");
    match trace_header {
        Some(header) => cx.trace_header(header).build(),
        None => cx.build(),
    }
}

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

fn only_batch(exporter: &InMemoryExporter) -> SpanBatch {
    let mut batches = exporter.take();
    assert_eq!(batches.len(), 1, "one batch per invocation");
    batches.remove(0)
}

#[tokio::test]
async fn response_unchanged_and_cold_start_only_first() {
    let exporter = InMemoryExporter::default();
    let mut svc = layer(exporter.clone()).layer(service_fn(echo));
    for (i, cold) in [(0, true), (1, false), (2, false)] {
        let payload = json!({"n": i, "nested": {"a": [1, 2, 3]}});
        let out = svc
            .ready()
            .await
            .unwrap()
            .call(LambdaEvent::new(payload.clone(), context(None)))
            .await
            .unwrap();
        assert_eq!(out, payload);
        let batch = only_batch(&exporter);
        let root = batch.root().unwrap();
        assert_eq!(
            root.annotation("ColdStart"),
            Some(&AnnotationValue::Bool(cold))
        );
        assert_eq!(
            root.annotation("Service"),
            Some(&AnnotationValue::String("orders".into()))
        );
        assert_eq!(root.name, "orders-fn");
        assert_eq!(
            root.attribute("faas.invocation_id"),
            Some(&AttributeValue::String("req-1".into()))
        );
        assert_eq!(
            root.attribute("cloud.account.id"),
            Some(&AttributeValue::String("123456789012".into()))
        );
        assert_eq!(
            root.attribute("cloud.region"),
            Some(&AttributeValue::String("eu-west-1".into()))
        );
        assert!(root.end_unix_nanos >= root.start_unix_nanos);
    }
}

#[tokio::test]
async fn lambda_active_tracing_makes_a_subsegment_of_lambdas_segment() {
    let exporter = InMemoryExporter::default();
    let mut svc = layer(exporter.clone()).layer(service_fn(echo));
    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(json!({}), context(Some(LAMBDA_HEADER))))
        .await
        .unwrap();
    let batch = only_batch(&exporter);
    assert_eq!(
        batch.trace_id.to_xray(),
        "1-5759e988-bd862e3fe1be46a994272793"
    );
    assert_eq!(batch.placement, RootPlacement::LambdaSubsegment);
    assert_eq!(
        batch.root().unwrap().parent_id.unwrap().to_string(),
        "53995c3f42cd8ad8"
    );
}

#[tokio::test]
async fn event_headers_decide_without_active_tracing_and_are_linked_with_it() {
    let mut request = ApiGatewayProxyRequest::default();
    request.http_method = http::Method::GET;
    request.headers.insert(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .unwrap(),
    );
    let exporter = InMemoryExporter::default();
    let handler = service_fn(|_: LambdaEvent<ApiGatewayProxyRequest>| async {
        Ok::<_, Error>(response(200))
    });
    let mut svc = layer(exporter.clone()).layer(handler);

    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(request.clone(), context(None)))
        .await
        .unwrap();
    let batch = only_batch(&exporter);
    assert_eq!(
        batch.trace_id.to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(batch.placement, RootPlacement::Segment);
    assert_eq!(
        batch.root().unwrap().parent_id.unwrap().to_string(),
        "b7ad6b7169203331"
    );

    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(request, context(Some(LAMBDA_HEADER))))
        .await
        .unwrap();
    let batch = only_batch(&exporter);
    assert_eq!(batch.placement, RootPlacement::LambdaSubsegment);
    let root = batch.root().unwrap();
    assert_eq!(
        root.links.len(),
        1,
        "the caller's other trace is kept as a link"
    );
    assert_eq!(
        root.links[0].0.to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
}

#[tokio::test]
async fn http_status_sets_error_throttle_fault() {
    for (status, error, throttle, fault) in [
        (200, false, false, false),
        (404, true, false, false),
        (429, true, true, false),
        (503, false, false, true),
    ] {
        let exporter = InMemoryExporter::default();
        let handler =
            service_fn(
                move |_: LambdaEvent<Value>| async move { Ok::<_, Error>(response(status)) },
            );
        let mut svc = layer(exporter.clone()).layer(handler);
        let out = svc
            .ready()
            .await
            .unwrap()
            .call(LambdaEvent::new(json!({}), context(None)))
            .await
            .unwrap();
        assert_eq!(out.status_code, status);
        let root = only_batch(&exporter).spans.remove(0);
        assert_eq!(
            (
                root.outcome.error,
                root.outcome.throttle,
                root.outcome.fault
            ),
            (error, throttle, fault),
            "{status}"
        );
        assert_eq!(root.http_response.unwrap().status, Some(status as u16));
    }
}

#[tokio::test]
async fn err_is_a_fault_with_cause_and_is_returned_unchanged() {
    let exporter = InMemoryExporter::default();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        Err::<Value, _>(Diagnostic {
            error_type: "OrderError".into(),
            error_message: "out of stock".into(),
        })
    });
    let mut svc = layer(exporter.clone()).layer(handler);
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(json!({}), context(None)))
        .await
        .unwrap_err();
    assert_eq!(err.error_message, "out of stock");
    let root = only_batch(&exporter).spans.remove(0);
    assert!(root.outcome.fault);
    assert_eq!(root.exceptions[0].message, "out of stock");
    assert_eq!(root.exceptions[0].type_name.as_deref(), Some("OrderError"));
}

#[tokio::test]
async fn panic_is_a_fault_and_still_reaches_the_runtime() {
    let exporter = InMemoryExporter::default();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        if true {
            panic!("handler blew up");
        }
        Ok::<Value, Error>(Value::Null)
    });
    let svc = layer(exporter.clone()).layer(handler);
    let joined = tokio::spawn(async move {
        let mut svc = svc;
        svc.ready()
            .await
            .unwrap()
            .call(LambdaEvent::new(json!({}), context(None)))
            .await
    })
    .await;
    let panic = joined.unwrap_err().into_panic();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"handler blew up"));
    let root = only_batch(&exporter).spans.remove(0);
    assert!(root.outcome.fault);
    assert_eq!(root.exceptions[0].message, "handler blew up");
}

#[tokio::test]
async fn a_panic_in_call_itself_is_recorded_too() {
    #[derive(Clone)]
    struct PanicsInCall;
    impl Service<LambdaEvent<Value>> for PanicsInCall {
        type Response = Value;
        type Error = Error;
        type Future = std::future::Ready<Result<Value, Error>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Error>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: LambdaEvent<Value>) -> Self::Future {
            panic!("sync panic")
        }
    }
    let exporter = InMemoryExporter::default();
    let svc = layer(exporter.clone()).layer(PanicsInCall);
    let joined = tokio::spawn(async move {
        let mut svc = svc;
        svc.call(LambdaEvent::new(json!({}), context(None))).await
    })
    .await;
    assert!(joined.unwrap_err().is_panic());
    assert!(only_batch(&exporter).spans[0].outcome.fault);
}

#[tokio::test]
async fn handler_spans_annotations_and_unfinished_children() {
    let exporter = InMemoryExporter::default();
    let handler = service_fn(|_: LambdaEvent<Value>| async {
        let span = lambda_trace::current();
        span.annotate("order.id", "o-1");
        span.metadata("order", json!({"items": 2}));
        let total = span
            .in_child("price", async {
                lambda_trace::current().annotate("items", 2);
                lambda_trace::current().in_child("tax", async { 21 }).await
            })
            .await;
        let _forgotten = span.child("never-ended");
        Ok::<_, Error>(json!({"total": total}))
    });
    let mut svc = layer(exporter.clone()).layer(handler);
    let out = svc
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(json!({}), context(None)))
        .await
        .unwrap();
    assert_eq!(out, json!({"total": 21}));

    let batch = only_batch(&exporter);
    let names: Vec<&str> = batch.spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["orders-fn", "price", "tax", "never-ended"]);
    let [root, price, tax, forgotten] = &batch.spans[..] else {
        unreachable!()
    };
    assert_eq!(price.parent_id, Some(root.span_id));
    assert_eq!(tax.parent_id, Some(price.span_id));
    assert_eq!(forgotten.parent_id, Some(root.span_id));
    assert!(forgotten.unfinished && !price.unfinished);
    assert_eq!(
        root.annotation("order_id"),
        Some(&AnnotationValue::String("o-1".into()))
    );
    assert_eq!(price.annotation("items"), Some(&AnnotationValue::Int(2)));
    assert_eq!(root.metadata[0].namespace, "orders");
    assert!(
        tax.start_unix_nanos >= price.start_unix_nanos
            && tax.end_unix_nanos <= price.end_unix_nanos
    );
}

#[tokio::test]
async fn unsampled_traces_export_nothing_but_still_propagate() {
    let exporter = InMemoryExporter::default();
    let seen = Arc::new(Mutex::new(None));
    let seen2 = Arc::clone(&seen);
    let handler = service_fn(move |_: LambdaEvent<Value>| {
        let seen = Arc::clone(&seen2);
        async move {
            let span = lambda_trace::current();
            span.annotate("ignored", true);
            *seen.lock().unwrap() = span.context();
            Ok::<_, Error>(Value::Null)
        }
    });
    let mut svc = TraceLayer::builder()
        .config(lambda_trace::testing::config(&[]))
        .sample_rate(0.0)
        .exporter(exporter.clone())
        .build()
        .layer(handler);
    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(json!({}), context(None)))
        .await
        .unwrap();
    assert!(exporter.take().is_empty());
    let cx = seen.lock().unwrap().clone().expect("context to propagate");
    assert_eq!(cx.sampling, Sampling::NotSampled);
}

#[tokio::test]
async fn disabled_runs_the_handler_bare() {
    let exporter = InMemoryExporter::default();
    let mut svc = TraceLayer::builder()
        .config(lambda_trace::testing::config(&[]))
        .disabled(true)
        .exporter(exporter.clone())
        .build()
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            assert!(
                lambda_trace::current().span_id().is_none(),
                "no span when disabled"
            );
            Ok::<_, Error>(json!(1))
        }));
    assert_eq!(
        svc.ready()
            .await
            .unwrap()
            .call(LambdaEvent::new(json!({}), context(None)))
            .await
            .unwrap(),
        json!(1)
    );
    assert!(exporter.take().is_empty());
}

/// An exporter that never finishes: the flush must give up at its deadline.
#[derive(Debug, Default)]
struct Hangs(AtomicUsize);

impl Exporter for Hangs {
    fn export(&self, _batch: SpanBatch) -> Export {
        self.0.fetch_add(1, Ordering::SeqCst);
        Export::Pending(Box::pin(std::future::pending()))
    }
}

#[tokio::test]
async fn a_hanging_exporter_costs_at_most_the_flush_timeout() {
    let exporter = Arc::new(Hangs::default());
    let mut svc = TraceLayer::builder()
        .config(lambda_trace::testing::config(&[]))
        .flush_timeout(Duration::from_millis(100))
        .exporter(Arc::clone(&exporter))
        .build()
        .layer(service_fn(echo));
    let started = Instant::now();
    let out = svc
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(json!("x"), context(None)))
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(out, json!("x"));
    assert_eq!(exporter.0.load(Ordering::SeqCst), 1);
    assert!(
        took >= Duration::from_millis(100),
        "waited for the export: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "bounded: {took:?}");
}

#[tokio::test]
async fn the_invocation_deadline_bounds_the_flush() {
    let exporter = Arc::new(Hangs::default());
    let mut svc = TraceLayer::builder()
        .config(lambda_trace::testing::config(&[]))
        .flush_timeout(Duration::from_secs(30))
        .exporter(Arc::clone(&exporter))
        .build()
        .layer(service_fn(echo));
    let mut cx = context(None);
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    cx.deadline = now_ms + 300;
    let started = Instant::now();
    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(json!("x"), cx))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "deadline minus margin bounds the flush"
    );
}

#[tokio::test]
async fn concurrent_invocations_keep_their_own_spans() {
    let exporter = InMemoryExporter::default();
    let handler = service_fn(|event: LambdaEvent<Value>| async move {
        let n = event.payload["n"].as_i64().unwrap();
        let span = lambda_trace::current();
        span.annotate("n", n);
        for i in 0..3 {
            span.in_child(format!("step-{i}"), async {
                tokio::task::yield_now().await;
                lambda_trace::current().annotate("n", n);
            })
            .await;
        }
        Ok::<_, Error>(json!(n))
    });
    let svc = layer(exporter.clone()).layer(handler);
    let calls = (0..100).map(|n| {
        let mut svc = svc.clone();
        tokio::spawn(async move {
            svc.call(LambdaEvent::new(json!({"n": n}), context(None)))
                .await
                .unwrap()
        })
    });
    for (n, call) in calls.enumerate() {
        assert_eq!(call.await.unwrap(), json!(n));
    }
    let batches = exporter.take();
    assert_eq!(batches.len(), 100);
    for batch in batches {
        assert_eq!(batch.spans.len(), 4);
        let n = batch.spans[0].annotation("n").cloned().unwrap();
        for span in &batch.spans {
            assert_eq!(
                span.annotation("n"),
                Some(&n),
                "span of another invocation leaked in"
            );
        }
    }
}

fn response(status_code: i64) -> ApiGatewayProxyResponse {
    let mut r = ApiGatewayProxyResponse::default();
    r.status_code = status_code;
    r
}

/// Completes each export after 300 ms, noting when; `sync`: at once, inside `export` (as the
/// daemon exporter does).
#[derive(Debug, Default)]
struct Slow {
    done: Arc<Mutex<Vec<Instant>>>,
    sync: bool,
}

impl Exporter for Slow {
    fn export(&self, _batch: SpanBatch) -> Export {
        let done = Arc::clone(&self.done);
        if self.sync {
            done.lock().unwrap().push(Instant::now());
            return Export::Done(Ok(()));
        }
        Export::Pending(Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            done.lock().unwrap().push(Instant::now());
            Ok(())
        }))
    }
}

/// A stand-in for the runtime's own service: runs the traced handler and "posts" its response,
/// noting when.
async fn runtime_like(
    mode: lambda_trace::config::FlushMode,
    install: bool,
) -> (Instant, Instant, Instant) {
    runtime_like_with(mode, install, Slow::default()).await
}

async fn runtime_like_with(
    mode: lambda_trace::config::FlushMode,
    install: bool,
    slow: Slow,
) -> (Instant, Instant, Instant) {
    use lambda_runtime::LambdaInvocation;
    let done = Arc::clone(&slow.done);
    let tracing = TraceLayer::builder()
        .config(lambda_trace::testing::config(&[]))
        .flush_mode(mode)
        .exporter(slow)
        .build();
    let handler = tracing.layer(service_fn(echo));
    let posted = Arc::new(Mutex::new(None));
    let posted2 = Arc::clone(&posted);
    let runtime_service = service_fn(move |invocation: LambdaInvocation| {
        let mut handler = handler.clone();
        let posted = Arc::clone(&posted2);
        async move {
            let event = LambdaEvent::new(json!({}), invocation.context);
            handler.ready().await?.call(event).await?;
            *posted.lock().unwrap() = Some(Instant::now());
            Ok::<(), Error>(())
        }
    });
    let (parts, _) = http::Response::new(()).into_parts();
    let invocation = LambdaInvocation {
        parts,
        body: Default::default(),
        context: context(None),
    };
    if install {
        let mut svc = tracing.after_response_layer().layer(runtime_service);
        svc.ready().await.unwrap().call(invocation).await.unwrap();
    } else {
        let mut svc = runtime_service;
        svc.ready().await.unwrap().call(invocation).await.unwrap();
    }
    let finished = Instant::now();
    let posted = posted.lock().unwrap().unwrap();
    let exported = *done
        .lock()
        .unwrap()
        .first()
        .expect("the export ran to completion");
    (posted, exported, finished)
}

#[tokio::test]
async fn before_response_mode_exports_before_the_response_is_posted() {
    let (posted, exported, _) =
        runtime_like(lambda_trace::config::FlushMode::BeforeResponse, true).await;
    assert!(exported <= posted);
}

#[tokio::test]
async fn after_response_mode_posts_first_and_exports_before_the_next_invocation() {
    let (posted, exported, finished) =
        runtime_like(lambda_trace::config::FlushMode::AfterResponse, true).await;
    assert!(
        posted < exported,
        "the response did not wait for the export"
    );
    assert!(
        exported <= finished,
        "the invocation (and so the next /next) waited for the export"
    );
}

#[tokio::test]
async fn after_response_mode_defers_a_synchronous_export_too() {
    let sync = Slow {
        sync: true,
        ..Slow::default()
    };
    let (posted, exported, finished) =
        runtime_like_with(lambda_trace::config::FlushMode::AfterResponse, true, sync).await;
    assert!(
        posted < exported,
        "the document was encoded and sent before the response"
    );
    assert!(exported <= finished);
}

#[tokio::test]
async fn after_response_mode_without_its_runtime_layer_falls_back_to_before() {
    let (posted, exported, _) =
        runtime_like(lambda_trace::config::FlushMode::AfterResponse, false).await;
    assert!(
        exported <= posted,
        "no export is left behind when the runtime layer is missing"
    );
}

#[tokio::test]
async fn after_response_mode_records_the_spans_as_they_were_when_the_handler_returned() {
    use lambda_runtime::LambdaInvocation;
    let exporter = InMemoryExporter::default();
    let tracing = TraceLayer::builder()
        .config(lambda_trace::testing::config(&[]))
        .flush_mode(lambda_trace::config::FlushMode::AfterResponse)
        .exporter(exporter.clone())
        .build();
    // The handler leaves a child open, as a task it spawned and did not await would.
    let left_open = Arc::new(Mutex::new(None));
    let keep = Arc::clone(&left_open);
    let handler = tracing.layer(service_fn(move |_: LambdaEvent<Value>| {
        let keep = Arc::clone(&keep);
        async move {
            *keep.lock().unwrap() = Some(lambda_trace::current().child("detached"));
            Ok::<_, Error>(json!({}))
        }
    }));
    let late = Arc::clone(&left_open);
    let returned = Arc::new(AtomicU64::new(0));
    let returned_at = Arc::clone(&returned);
    let runtime_service = service_fn(move |invocation: LambdaInvocation| {
        let mut handler = handler.clone();
        let late = Arc::clone(&late);
        let returned_at = Arc::clone(&returned_at);
        async move {
            handler
                .ready()
                .await?
                .call(LambdaEvent::new(json!({}), invocation.context))
                .await?;
            returned_at.store(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64,
                Ordering::SeqCst,
            );
            // After the handler, before the deferred flush: these changes come too late.
            let child = late.lock().unwrap().take().unwrap();
            assert!(!child.is_recording(), "the invocation is closed");
            child.annotate("late", true);
            tokio::time::sleep(Duration::from_millis(20)).await;
            child.end();
            assert!(child.child("later").span_id().is_some());
            Ok::<(), Error>(())
        }
    });
    let (parts, _) = http::Response::new(()).into_parts();
    let invocation = LambdaInvocation {
        parts,
        body: Default::default(),
        context: context(Some(LAMBDA_HEADER)),
    };
    let mut svc = tracing.after_response_layer().layer(runtime_service);
    svc.ready().await.unwrap().call(invocation).await.unwrap();

    let batch = only_batch(&exporter);
    let names: Vec<&str> = batch.spans.iter().map(|s| s.name.as_ref()).collect();
    assert_eq!(names, ["service_undefined", "detached"]);
    let [root, detached] = &batch.spans[..] else {
        unreachable!()
    };
    assert!(detached.unfinished, "ended after the handler returned");
    assert!(detached.annotation("late").is_none());
    assert!(
        detached.end_unix_nanos <= returned.load(Ordering::SeqCst),
        "closed when the handler returned, not when the flush ran"
    );
    assert!(root.end_unix_nanos <= detached.end_unix_nanos);
}

#[tokio::test]
async fn the_handlers_own_attributes_and_http_data_win_over_the_layers() {
    use lambda_trace::span::{HttpRequestInfo, MAX_SPAN_ATTRIBUTES};
    let exporter = InMemoryExporter::default();
    let handler = service_fn(|_: LambdaEvent<ApiGatewayProxyRequest>| async {
        let span = lambda_trace::current();
        span.set_attribute((
            "faas.trigger".into(),
            AttributeValue::String("custom".into()),
        ));
        for i in 0..MAX_SPAN_ATTRIBUTES {
            span.set_attribute((format!("app.{i}").into(), AttributeValue::Int(i as i64)));
        }
        span.set_http_request(HttpRequestInfo::new("PATCH", "/orders/7"));
        Ok::<_, Error>(response(200))
    });
    let mut request = ApiGatewayProxyRequest::default();
    request.http_method = http::Method::GET;
    request.path = Some("/orders/7".into());
    request.resource = Some("/orders/{id}".into());
    let mut svc = layer(exporter.clone()).layer(handler);
    svc.ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(request, context(Some(LAMBDA_HEADER))))
        .await
        .unwrap();

    let root = &only_batch(&exporter).spans[0];
    let keys: Vec<&str> = root.attributes.iter().map(|(k, _)| k.as_ref()).collect();
    let layers = keys.iter().filter(|k| !k.starts_with("app.")).count();
    assert_eq!(keys.len(), MAX_SPAN_ATTRIBUTES, "{keys:?}");
    assert_eq!(
        keys[0], "faas.invocation_id",
        "the layer's attributes come first"
    );
    assert!(keys.contains(&"http.route") && keys.contains(&"cloud.account.id"));
    let triggers: Vec<_> = root
        .attributes
        .iter()
        .filter(|(k, _)| k == "faas.trigger")
        .collect();
    assert_eq!(
        triggers,
        [&(
            "faas.trigger".into(),
            AttributeValue::String("custom".into())
        )],
        "the handler's value replaces the layer's"
    );
    // The handler's own attributes fill what the layer's leave free, in the order it set them.
    assert_eq!(keys[layers], "app.0");
    assert_eq!(
        root.http_request.as_ref().and_then(|h| h.method.as_deref()),
        Some("PATCH"),
        "the handler's HTTP data is kept"
    );
}
