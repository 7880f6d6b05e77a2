//! The asynchronous hop as a test: `order` runs as a real process behind the local API Gateway
//! and Runtime API and sends each order, through the AWS SDK with lambda-trace's interceptor, to
//! an SQS queue in `moto_server`; the test receives the messages with `ReceiveMessage` (asking
//! for `AWSTraceHeader` and the message attributes), turns them into the SQS event Lambda's event
//! source mapping would (`lambda_trace_local::sqs::lambda_event`) and invokes `fulfil`, a real
//! process too, under emulated Active tracing (Lambda's new trace for the batch).
//!
//! Checked: each record's `process orders` span continues its order's trace under the `SQS`
//! subsegment that sent it, the batch's invocation span links to every one of those
//! subsegments, the record span links back to it, and both functions annotate `orderId`.
//!
//! moto_server does not turn the request's `X-Amzn-Trace-Id` into the message's
//! `AWSTraceHeader` as SQS does (it keeps that system attribute only when a sender sets it
//! explicitly), so the messages reach `fulfil` with their `traceparent` message attribute; the
//! `AWSTraceHeader` path is checked with a hand-built event: the received message with the header
//! SQS would write for that request (`Root=<trace>;Parent=<the SQS subsegment>;Sampled=1`, the
//! header the interceptor sends: `tests/aws_sdk.rs` of the crate) in place of the attribute.
//!
//! A third test runs the stand-in's event source mapping itself (what `make demo` uses): two
//! orders in one batch, deleted once processed; an unreadable message reported in
//! `batchItemFailures` and left on the queue.
//!
//! moto comes from the repository's `.venv` (`make venv`); without it the tests fail with the
//! command to run: they never skip.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_sqs::types::Message;
use hyper::Method;
use lambda_trace_local::collector::{Link, Node, Source, Trace};
use lambda_trace_local::esm::{EsmSettings, EventSourceMapping};
use lambda_trace_local::gateway::{GatewayConfig, parse_xray_header};
use lambda_trace_local::lambda::{TraceParent, TracedInvocation};
use lambda_trace_local::moto::Moto;
use lambda_trace_local::sqs::{self, Queue};
use lambda_trace_local::stack::{Stack, is_complete, order_functions};
use lambda_trace_local::{Outcome, Output, client};
use serde_json::{Value, json};

/// Everything of one test: moto with the queue, and `order` and `fulfil` behind the stand-in.
struct Hop {
    // Dropped last: the functions first.
    stack: Stack,
    client: aws_sdk_sqs::Client,
    queue: Queue,
    _moto: Moto,
}

async fn hop() -> Hop {
    let bin = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    let mut moto = Moto::spawn(&bin).unwrap_or_else(|e| panic!("{e}"));
    moto.ready(Duration::from_secs(60)).await.unwrap();
    // The region the functions' SDK reads from the environment the stand-in gives them.
    let region = lambda_trace_local::process::region(&|k| std::env::var(k).ok());
    let client = sqs::client(&moto.endpoint(), &region);
    let queue = sqs::create_queue(&client, "orders", 60).await.unwrap();
    let bin_dir = PathBuf::from(env!("CARGO_BIN_EXE_order"))
        .parent()
        .unwrap()
        .to_path_buf();
    let specs = order_functions(
        &bin_dir,
        &queue.url,
        &moto.endpoint(),
        sqs::LOCAL_CREDENTIALS,
    );
    let stack = Stack::start(GatewayConfig::default(), &specs, Output::Captured)
        .await
        .expect("stack starts");
    stack
        .wait_ready(Duration::from_secs(30))
        .await
        .expect("functions poll /next");
    Hop {
        stack,
        client,
        queue,
        _moto: moto,
    }
}

impl Hop {
    /// POSTs order `id` through the gateway; its trace id.
    async fn order(&self, id: &str) -> String {
        let body = json!({"orderId": id, "customerId": "c-1",
                          "items": [{"sku": "s-1", "qty": 2, "price": 9.5}]});
        let response = client::send(
            self.stack.gateway.address(),
            Method::POST,
            "/orders",
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await
        .expect("gateway answers");
        assert_eq!(
            response.status.as_u16(),
            201,
            "{}\n{}",
            response.text(),
            self.stack.outputs()
        );
        let header = response.headers["x-amzn-trace-id"].to_str().unwrap();
        parse_xray_header(header).unwrap().0
    }

    /// Receives `n` messages as the event source mapping does.
    async fn receive(&self, n: usize) -> Vec<Message> {
        let mut messages = Vec::new();
        for _ in 0..10 {
            messages.extend(
                sqs::receive(&self.client, &self.queue, n - messages.len(), 1)
                    .await
                    .unwrap(),
            );
            if messages.len() == n {
                return messages;
            }
        }
        panic!("{} of {n} messages arrived", messages.len())
    }

    /// Invokes `fulfil` with `event` as Lambda does for an event source mapping under Active
    /// tracing: in a new trace.
    async fn fulfil(&self, event: &Value) -> TracedInvocation {
        let function = self.stack.function("fulfil").unwrap();
        let traced = function
            .invoke_traced(
                serde_json::to_vec(event).unwrap(),
                &TraceParent::new_trace(),
                &self.stack.collector,
            )
            .await;
        let Outcome::Response(body) = &traced.result.outcome else {
            panic!("{:?}\n{}", traced.result.outcome, self.stack.outputs())
        };
        let response: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(response["batchItemFailures"], json!([]), "{response}");
        traced
    }

    async fn trace(&self, trace_id: &str) -> Trace {
        let trace = self
            .stack
            .wait_trace(
                trace_id,
                Duration::from_millis(200),
                Duration::from_secs(10),
            )
            .await
            .unwrap_or_else(|| panic!("no trace {trace_id}\n{}", self.stack.outputs()));
        assert!(
            is_complete(&trace),
            "incomplete trace {trace:#?}\n{}",
            self.stack.outputs()
        );
        trace
    }
}

/// The `SQS` `SendMessage` subsegment of an order trace, under the `Handler` span annotated
/// with `order_id`.
fn send_message<'a>(trace: &'a Trace, order_id: &str) -> &'a Node {
    let handler = trace
        .named("Handler")
        .find(|n| n.annotation("orderId").as_deref() == Some(order_id))
        .unwrap_or_else(|| panic!("no Handler annotated orderId={order_id}: {trace:#?}"));
    assert_eq!(
        handler.annotation("successfulOrder").as_deref(),
        Some("true")
    );
    let sqs = trace
        .children(&handler.id)
        .find(|n| n.name == "SQS")
        .unwrap_or_else(|| panic!("no SQS call under Handler: {trace:#?}"));
    assert_eq!(sqs.namespace.as_deref(), Some("aws"));
    assert_eq!(sqs.aws["operation"], "SendMessage", "{:#?}", sqs.aws);
    assert_eq!(sqs.source, Source::Daemon);
    sqs
}

/// `fulfil`'s span for the record of order `order_id`: in the order's trace, a child of the
/// `SQS` subsegment that sent it, annotated with the order id.
fn record_span<'a>(trace: &'a Trace, sqs: &'a Node, order_id: &str) -> &'a Node {
    let records: Vec<&Node> = trace.children(&sqs.id).collect();
    let [record] = records[..] else {
        panic!("one record span under the SQS subsegment: {trace:#?}")
    };
    assert_eq!(record.function.as_deref(), Some("fulfil"));
    assert_eq!(record.origin.as_deref(), Some("AWS::Lambda::Function"));
    assert_eq!(
        record.metadata["lambda_trace"]["span_name"], "process orders",
        "{:#?}",
        record.metadata
    );
    assert_eq!(record.annotation("orderId").as_deref(), Some(order_id));
    assert!(!record.fault && !record.error, "{record:#?}");
    record
}

/// `fulfil`'s invocation span of the batch: the child of the emulated function segment.
fn batch_span(trace: &Trace) -> &Node {
    let function = trace
        .with_origin("AWS::Lambda::Function")
        .find(|n| matches!(n.source, Source::Emulated(_)))
        .unwrap_or_else(|| panic!("no emulated function segment: {trace:#?}"));
    let spans: Vec<&Node> = trace.children(&function.id).collect();
    let [span] = spans[..] else {
        panic!("{trace:#?}")
    };
    assert_eq!(span.annotation("Service").as_deref(), Some("fulfil"));
    span
}

fn link(trace_id: &str, span_id: &str) -> Link {
    Link {
        trace_id: trace_id.to_owned(),
        span_id: Some(span_id.to_owned()),
    }
}

#[tokio::test]
async fn each_record_continues_its_orders_trace_and_the_batch_links_to_them() {
    let hop = hop().await;
    let orders = [
        ("o-1", hop.order("o-1").await),
        ("o-2", hop.order("o-2").await),
    ];
    let messages = hop.receive(2).await;

    let event = sqs::lambda_event(&messages, &hop.queue);
    let traced = hop.fulfil(&event).await;
    let fulfilment = hop.trace(&traced.trace_id).await;
    let batch = batch_span(&fulfilment);

    let mut links = Vec::new();
    for (order_id, trace_id) in &orders {
        let trace = hop.trace(trace_id).await;
        let sqs = send_message(&trace, order_id);
        // The message carries the subsegment's context: a `traceparent` attribute, and an
        // `AWSTraceHeader` only where the queue writes one (moto does not).
        let message = messages
            .iter()
            .find(|m| m.body().is_some_and(|b| b.contains(order_id)))
            .unwrap();
        let (header, traceparent) = sqs::record_context(message);
        let hex = trace_id.strip_prefix("1-").unwrap().replace('-', "");
        assert_eq!(traceparent, Some(format!("00-{hex}-{}-01", sqs.id)));
        if let Some(header) = header {
            assert!(header.contains(&format!("Parent={}", sqs.id)), "{header}");
        }

        let record = record_span(&trace, sqs, order_id);
        assert_eq!(
            record.links(),
            [link(&traced.trace_id, &batch.id)],
            "the record links to the batch"
        );
        links.push(link(trace_id, &sqs.id));
    }
    let mut batch_links = batch.links();
    batch_links.sort_by(|a, b| a.trace_id.cmp(&b.trace_id));
    links.sort_by(|a, b| a.trace_id.cmp(&b.trace_id));
    assert_eq!(
        batch_links, links,
        "the batch links to every record's producer"
    );
}

#[tokio::test]
async fn a_record_with_the_aws_trace_header_continues_the_same_way() {
    let hop = hop().await;
    let trace_id = hop.order("o-7").await;
    let messages = hop.receive(1).await;
    let trace = hop.trace(&trace_id).await;
    let sqs = send_message(&trace, "o-7");

    // What SQS delivers for this request: the header it got as the system attribute (moto
    // drops it), no traceparent, so the header is the only context.
    let mut event = sqs::lambda_event(&messages, &hop.queue);
    let record = &mut event["Records"][0];
    record["attributes"]["AWSTraceHeader"] =
        json!(format!("Root={trace_id};Parent={};Sampled=1", sqs.id));
    record["messageAttributes"]
        .as_object_mut()
        .unwrap()
        .remove("traceparent")
        .expect("the interceptor's traceparent attribute");

    let traced = hop.fulfil(&event).await;
    let trace = hop.trace(&trace_id).await;
    let record = record_span(&trace, send_message(&trace, "o-7"), "o-7");
    let fulfilment = hop.trace(&traced.trace_id).await;
    let batch = batch_span(&fulfilment);
    assert_eq!(record.links(), [link(&traced.trace_id, &batch.id)]);
    assert_eq!(batch.links(), [link(&trace_id, &sqs.id)]);
}

#[tokio::test]
async fn the_event_source_mapping_delivers_batches_and_deletes_what_was_processed() {
    let hop = hop().await;
    let esm = EventSourceMapping::start(
        hop.client.clone(),
        hop.queue.clone(),
        hop.stack.function("fulfil").unwrap(),
        hop.stack.collector.clone(),
        EsmSettings {
            batch_size: 10,
            batching_window: Duration::from_secs(2),
            report_batch_item_failures: true,
        },
    );
    let mut deliveries = esm.subscribe();
    let next = async |deliveries: &mut tokio::sync::broadcast::Receiver<_>| {
        tokio::time::timeout(Duration::from_secs(20), deliveries.recv())
            .await
            .unwrap_or_else(|_| panic!("no delivery: {:?}", esm.last_error()))
            .unwrap()
    };

    let orders = [hop.order("o-1").await, hop.order("o-2").await];
    let delivery: lambda_trace_local::esm::Delivery = next(&mut deliveries).await;
    assert_eq!(delivery.records.len(), 2, "one batch: {delivery:#?}");
    assert_eq!((delivery.deleted, delivery.failed.len()), (2, 0));
    assert_eq!(delivery.error, None);
    let fulfilment = hop.trace(&delivery.trace_id).await;
    let linked: Vec<String> = batch_span(&fulfilment)
        .links()
        .into_iter()
        .map(|l| l.trace_id)
        .collect();
    for trace_id in &orders {
        assert!(linked.contains(trace_id), "{linked:?}");
    }

    // A message fulfil cannot read: reported as failed, so it stays on the queue.
    let sent = hop
        .client
        .send_message()
        .queue_url(&hop.queue.url)
        .message_body("not an order")
        .send()
        .await
        .unwrap();
    let delivery = next(&mut deliveries).await;
    assert_eq!(delivery.failed, [sent.message_id.unwrap()]);
    assert_eq!(delivery.deleted, 0);
    let attributes = hop
        .client
        .get_queue_attributes()
        .queue_url(&hop.queue.url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let count = |name: aws_sdk_sqs::types::QueueAttributeName| {
        attributes.attributes().unwrap()[&name]
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(
        count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        1,
        "the failed message waits out its visibility timeout"
    );
    assert_eq!(
        count(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages),
        0
    );
}

#[tokio::test]
async fn an_order_that_cannot_be_queued_is_a_503_and_a_fault() {
    let hop = hop().await;
    hop.client
        .delete_queue()
        .queue_url(&hop.queue.url)
        .send()
        .await
        .unwrap();
    let response = client::send(
        hop.stack.gateway.address(),
        Method::POST,
        "/orders",
        &[("content-type", "application/json")],
        json!({"orderId": "o-9", "customerId": "c-1",
               "items": [{"sku": "s-1", "qty": 1, "price": 1.0}]})
        .to_string(),
    )
    .await
    .unwrap();
    assert_eq!(response.status.as_u16(), 503, "{}", response.text());
    let trace_id = parse_xray_header(response.headers["x-amzn-trace-id"].to_str().unwrap())
        .unwrap()
        .0;
    let trace = hop.trace(&trace_id).await;
    let handler = trace.named("Handler").next().unwrap();
    assert_eq!(handler.annotation("orderId").as_deref(), Some("o-9"));
    assert_eq!(
        handler.annotation("successfulOrder").as_deref(),
        Some("false")
    );
    assert!(handler.fault || handler.error, "{handler:#?}");
    let sqs = trace
        .children(&handler.id)
        .find(|n| n.name == "SQS")
        .unwrap();
    assert!(sqs.error || sqs.fault, "the failed call: {sqs:#?}");
}
