//! What a call's request says about its destination, and the producer side of queues, topics
//! and buses. The interceptor hands every request to [`apply`] before it is signed; the
//! services below are read, the others left alone:
//!
//! | service | protocol | recorded | added |
//! |---|---|---|---|
//! | SQS | AWS JSON 1.0 | `aws.queue_url`, `messaging.system` = `aws_sqs`, `messaging.destination.name` (the queue's name) | a `traceparent` message attribute on each message sent |
//! | SNS | AWS query (form) | `aws.sns.topic.arn`, `messaging.system` = `aws.sns`, `messaging.destination.name` (the topic's name) | a `traceparent` message attribute on each message published |
//! | EventBridge | AWS JSON 1.1 | `messaging.system` = `aws.eventbridge`, `messaging.destination.name` (the bus's name, when every entry names the same) | nothing: EventBridge passes the request's `X-Amzn-Trace-Id` to its targets itself |
//! | DynamoDB | AWS JSON 1.0 | `aws.table_name` (`TableName`, or the one table of `RequestItems` / `TransactItems`) | — |
//!
//! A call that sends (`SendMessage`, `SendMessageBatch`, `Publish`, `PublishBatch`,
//! `PutEvents`) is OpenTelemetry's `send` operation: its span becomes a `PRODUCER`, with
//! `messaging.operation.type` = `send` and `messaging.batch.message_count`.
//!
//! The `traceparent` attribute is added when the layer's write set has W3C (`tracecontext`), so
//! that a consumer reading W3C continues the call's span; X-Ray's header needs nothing more: SQS
//! turns the request's `X-Amzn-Trace-Id` into each message's `AWSTraceHeader`, SNS and
//! EventBridge pass it to their subscribers and targets. A message that already has
//! [`MAX_MESSAGE_ATTRIBUTES`] message attributes or its own `traceparent` is left as it is
//! (SQS refuses an eleventh; SNS **drops** a message with more than ten on its way to an SQS
//! subscription with raw delivery); the first one that is full is logged once per process per
//! service. Bodies over [`MAX_BODY`] are not read. Nothing here fails a call: a body that does
//! not parse is sent as it was.

mod dynamodb;
mod eventbridge;
mod sns;
mod sqs;

use std::sync::atomic::{AtomicBool, Ordering};

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde_json::{Map, Value};

use crate::span::{AttributeValue, Span, SpanKind};

/// Largest request body read, in bytes (SQS's largest batch is 1 MiB).
pub(super) const MAX_BODY: usize = 1024 * 1024;
/// SQS's and SNS's limit of message attributes per message.
pub(super) const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// The message attribute that carries the W3C context.
const TRACEPARENT: &str = "traceparent";

/// Reads `request` of `service`'s `operation` for the call's span, and adds the trace context
/// to the messages it sends.
pub(super) fn apply(service: &str, operation: &str, request: &mut HttpRequest, span: &Span) {
    if service.eq_ignore_ascii_case("sqs") {
        sqs::apply(operation, request, span);
    } else if service.eq_ignore_ascii_case("sns") {
        sns::apply(operation, request, span);
    } else if service.eq_ignore_ascii_case("eventbridge") {
        eventbridge::apply(operation, request, span);
    } else if service.eq_ignore_ascii_case("dynamodb") {
        dynamodb::apply(request, span);
    }
}

/// The request's body when its content type starts with `content_type` and it is at most
/// [`MAX_BODY`] bytes.
fn body<'a>(request: &'a HttpRequest, content_type: &str) -> Option<&'a [u8]> {
    let typed = request
        .headers()
        .get("content-type")
        .is_some_and(|t| t.starts_with(content_type));
    typed
        .then(|| request.body().bytes())
        .flatten()
        .filter(|b| b.len() <= MAX_BODY)
}

/// The body of an AWS JSON request (1.0 or 1.1) as a JSON object.
fn json_body(request: &HttpRequest) -> Option<Map<String, Value>> {
    match serde_json::from_slice(body(request, "application/x-amz-json-1.")?) {
        Ok(Value::Object(body)) => Some(body),
        _ => None,
    }
}

/// Replaces the request's body with `new` (and its `Content-Length`).
fn replace_body(request: &mut HttpRequest, new: Vec<u8>) {
    let len = new.len();
    *request.body_mut() = SdkBody::from(new);
    request
        .headers_mut()
        .insert("content-length", len.to_string());
}

/// The `traceparent` the layer's write set gives for `span`, if it writes W3C.
fn w3c_context(span: &Span) -> Option<String> {
    let mut headers = http::HeaderMap::new();
    span.inject(&mut headers);
    headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Marks `span` as the `send` of `count` messages: kind `PRODUCER`.
fn sending(span: &Span, count: usize) {
    span.set_kind(SpanKind::Producer);
    set(span, "messaging.operation.type", "send");
    span.set_attribute((
        "messaging.batch.message_count".into(),
        AttributeValue::Int(i64::try_from(count).unwrap_or(i64::MAX)),
    ));
}

/// Logs, once per process per `flag`, that a message of `service` went without `traceparent`.
fn log_full_once(flag: &AtomicBool, service: &str, carries: &str) {
    if !flag.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            target: "lambda_trace",
            "an {service} message already has {MAX_MESSAGE_ATTRIBUTES} message attributes: sent \
             without a traceparent attribute ({carries} still carries the X-Ray context); \
             logged once"
        );
    }
}

fn set(span: &Span, key: &'static str, value: &str) {
    span.set_attribute((key.into(), AttributeValue::String(value.to_owned().into())));
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    /// `v`, a JSON object.
    pub(super) fn object(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object: {v}"),
        }
    }
}
