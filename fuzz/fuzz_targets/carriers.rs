//! Every carrier on arbitrary JSON: the bytes as a raw `serde_json::Value` event and as each
//! typed event that accepts them (API Gateway v1/v2, ALB, Function URL, SQS, and with feature
//! `event-sources` SNS, EventBridge, Kinesis, DynamoDB Streams, S3). No panic, request data
//! within its caps, extracted contexts (the event's and every message's, which the layer links)
//! within theirs, keys listed once. Each typed event is then handed to a traced handler, as
//! Lambda would: a batch runs `messaging::each_record` (a span per record in the record's own
//! trace), and the invocation's spans must be within the span limits and in X-Ray documents of
//! their own trace.

#![no_main]

use std::any::Any;
use std::convert::Infallible;

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::kinesis::KinesisEvent;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_lambda_events::s3::S3Event;
use aws_lambda_events::sns::SnsEvent;
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Context, LambdaEvent, service_fn};
use lambda_trace::carrier::from_event;
use lambda_trace::export::InMemoryExporter;
use lambda_trace::messaging::{Batch, Record, each_record};
use lambda_trace::propagation::{CompositePropagator, Extractor};
use lambda_trace::{Config, TraceLayer};
use lambda_trace_fuzz::span_script::{check_batch, check_documents};
use lambda_trace_fuzz::{check_caps, check_round_trip, extract};
use serde::de::DeserializeOwned;
use tower::{Layer, Service, ServiceExt};

/// The caps of `RequestInfo::http` (`lambda_trace::carrier` docs).
const MAX_URL_CHARS: usize = 2048;
const MAX_ROUTE_CHARS: usize = 1024;
const MAX_USER_AGENT_CHARS: usize = 512;
const MAX_METHOD_CHARS: usize = 32;

fn exercise(event: &dyn Any) {
    let carrier = from_event(event).expect("a known event type");
    let info = carrier.request_info();
    if let Some(http) = &info.http {
        let within =
            |s: &Option<String>, max: usize| s.as_ref().is_none_or(|s| s.chars().count() <= max);
        assert!(within(&http.url, MAX_URL_CHARS), "url");
        assert!(within(&http.route, MAX_ROUTE_CHARS), "route");
        assert!(within(&http.user_agent, MAX_USER_AGENT_CHARS), "user agent");
        assert!(within(&http.method, MAX_METHOD_CHARS), "method");
        assert!(
            http.url.as_deref().is_none_or(|u| !u.contains('?')),
            "query string kept"
        );
        if let Some(ip) = &http.client_ip {
            assert!(ip.parse::<std::net::IpAddr>().is_ok(), "client ip {ip:?}");
        }
    }
    let keys = carrier.keys();
    for (i, k) in keys.iter().enumerate() {
        assert!(
            keys[..i].iter().all(|seen| !seen.eq_ignore_ascii_case(k)),
            "key {k:?} listed twice"
        );
    }
    for name in ["traceparent", "x-amzn-trace-id"] {
        assert_eq!(carrier.get(name), carrier.get_all(name).first().copied());
    }
    let p = CompositePropagator::default();
    if let Some(cx) = extract(&p, carrier) {
        check_caps(&cx);
        check_round_trip(&p, &cx);
    }
    // Every message's context (the batch's links): within the caps too.
    carrier.messages(&mut |message: &dyn Extractor| {
        let _ = extract(&p, message);
    });
}

fn typed<T: DeserializeOwned + 'static>(data: &[u8]) -> Option<T> {
    let event = serde_json::from_slice::<T>(data).ok()?;
    exercise(&event);
    Some(event)
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
}

/// One traced invocation of `handler` with `event`, which answers how many spans it opened;
/// checks the exported batch.
fn invoke<E, F, Fut>(event: E, handler: F)
where
    E: 'static,
    F: FnMut(LambdaEvent<E>) -> Fut,
    Fut: Future<Output = Result<usize, Infallible>> + 'static,
{
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(Config::from_lookup(|k| {
            (k == "AWS_LAMBDA_FUNCTION_NAME").then(|| "fuzz-fn".into())
        }))
        .exporter(exporter.clone())
        .sample_rate(1.0)
        .build();
    let mut svc = layer.layer(service_fn(handler));
    let opened = RUNTIME.with(|rt| {
        rt.block_on(async {
            let svc = svc.ready().await.expect("always ready");
            svc.call(LambdaEvent::new(event, Context::default())).await
        })
    });
    let Ok(opened) = opened;
    let batches = exporter.take();
    // None when the caller's context says "not sampled".
    assert!(
        batches.len() <= 1,
        "{} batches of one invocation",
        batches.len()
    );
    let Some(batch) = batches.first() else {
        return;
    };
    // A record in a trace that is not sampled records no span.
    assert!(
        batch.spans.len() + batch.dropped_spans <= 1 + opened,
        "{} spans and {} dropped of {} opened",
        batch.spans.len(),
        batch.dropped_spans,
        1 + opened
    );
    check_batch(batch);
    check_documents(batch);
}

/// A traced invocation of `event` with no work of its own.
fn invoke_plain<E: 'static>(event: E) {
    invoke(event, |_| async { Ok(0) });
}

/// A traced invocation that runs `each_record` over `event`'s records; a record whose message
/// id has an odd length fails (a fault on its span; in an ordered batch, the rest is skipped).
fn invoke_batch<B: Batch + 'static>(event: B) {
    invoke(event, |e: LambdaEvent<B>| async move {
        let processed = each_record(&e.payload, |record| {
            let fail = record.message_id().is_some_and(|id| id.len() % 2 == 1);
            async move { if fail { Err("odd message id") } else { Ok(()) } }
        })
        .await;
        Ok(processed.results().len())
    });
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        exercise(&value);
        invoke_plain(value);
    }
    typed::<ApiGatewayProxyRequest>(data).map(invoke_plain);
    typed::<ApiGatewayV2httpRequest>(data).map(invoke_plain);
    typed::<AlbTargetGroupRequest>(data).map(invoke_plain);
    typed::<LambdaFunctionUrlRequest>(data).map(invoke_plain);
    typed::<SqsEvent>(data).map(invoke_batch);
    typed::<SnsEvent>(data).map(invoke_batch);
    typed::<EventBridgeEvent<serde_json::Value>>(data).map(invoke_plain);
    typed::<KinesisEvent>(data).map(invoke_batch);
    typed::<DynamoDbEvent>(data).map(invoke_batch);
    typed::<S3Event>(data).map(invoke_plain);
});
