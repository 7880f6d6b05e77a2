//! What a call's request says about its destination, and the producer side of queues: for
//! the AWS JSON protocol (`application/x-amz-json-1.0`, what the SDK for Rust speaks to SQS and
//! DynamoDB), the interceptor reads the serialized request before it is signed:
//!
//! | service | recorded | added |
//! |---|---|---|
//! | SQS | `aws.queue_url`, `messaging.system` = `aws_sqs`, `messaging.destination.name` (the queue's name), `messaging.operation.type` = `send` and `messaging.batch.message_count` for `SendMessage` / `SendMessageBatch` | a `traceparent` message attribute on each message sent, when the layer's write set has W3C (`tracecontext`): the consumer's carrier reads it; X-Ray's header needs nothing more, SQS turns the request's `X-Amzn-Trace-Id` into each message's `AWSTraceHeader` |
//! | DynamoDB | `aws.table_name` (`TableName`, or the one table of `RequestItems` / `TransactItems`) | — |
//!
//! A message that already has 10 message attributes (SQS's limit) or its own `traceparent` is
//! left as it is; the first one that is full is logged once per process. Bodies over
//! [`MAX_BODY`] and other protocols are not read. Nothing here fails a call: a body that does
//! not parse is sent as it was.

use std::sync::atomic::{AtomicBool, Ordering};

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use serde_json::{Map, Value, json};

use crate::span::{AttributeValue, Span};

/// Largest request body read, in bytes (SQS's largest batch is 1 MiB).
pub(super) const MAX_BODY: usize = 1024 * 1024;
/// SQS's limit of message attributes per message.
pub(super) const MAX_MESSAGE_ATTRIBUTES: usize = 10;
/// The message attribute that carries the W3C context.
const TRACEPARENT: &str = "traceparent";

static FULL_LOGGED: AtomicBool = AtomicBool::new(false);

/// Reads `request` of `service`'s `operation` for the call's span, and adds the trace context
/// to the messages it sends.
pub(super) fn apply(service: &str, operation: &str, request: &mut HttpRequest, span: &Span) {
    let sqs = service.eq_ignore_ascii_case("sqs");
    let dynamodb = service.eq_ignore_ascii_case("dynamodb");
    if !(sqs || dynamodb) || !is_aws_json(request) {
        return;
    }
    let Some(bytes) = request.body().bytes().filter(|b| b.len() <= MAX_BODY) else {
        return;
    };
    let Ok(Value::Object(mut body)) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    if dynamodb {
        if let Some(table) = table_name(&body) {
            set(span, "aws.table_name", table);
        }
        return;
    }
    let sending = matches!(operation, "SendMessage" | "SendMessageBatch");
    if let Some(url) = body.get("QueueUrl").and_then(Value::as_str) {
        set(span, "aws.queue_url", url);
        set(span, "messaging.system", "aws_sqs");
        if let Some(name) = url.rsplit('/').next().filter(|n| !n.is_empty()) {
            set(span, "messaging.destination.name", name);
        }
    }
    if !sending {
        return;
    }
    set(span, "messaging.operation.type", "send");
    let Some(traceparent) = w3c_context(span) else {
        count_messages(span, &body);
        return;
    };
    let mut changed = false;
    match body.get_mut("Entries").and_then(Value::as_array_mut) {
        Some(entries) => {
            for entry in entries.iter_mut().filter_map(Value::as_object_mut) {
                changed |= add_traceparent(entry, &traceparent);
            }
        }
        None => changed = add_traceparent(&mut body, &traceparent),
    }
    count_messages(span, &body);
    if changed && let Ok(new) = serde_json::to_vec(&body) {
        let len = new.len();
        *request.body_mut() = SdkBody::from(new);
        request
            .headers_mut()
            .insert("content-length", len.to_string());
    }
}

fn is_aws_json(request: &HttpRequest) -> bool {
    request
        .headers()
        .get("content-type")
        .is_some_and(|t| t.starts_with("application/x-amz-json-1."))
}

/// The table a DynamoDB request names: `TableName`, else the one table of a batch or
/// transaction.
fn table_name(body: &Map<String, Value>) -> Option<&str> {
    if let Some(name) = body.get("TableName").and_then(Value::as_str) {
        return Some(name);
    }
    if let Some(items) = body.get("RequestItems").and_then(Value::as_object) {
        let mut names = items.keys();
        return match (names.next(), names.next()) {
            (Some(one), None) => Some(one.as_str()),
            _ => None,
        };
    }
    let items = body.get("TransactItems")?.as_array()?;
    let mut tables = items.iter().filter_map(|item| {
        item.as_object()?
            .values()
            .find_map(|op| op.get("TableName")?.as_str())
    });
    let first = tables.next()?;
    tables.all(|t| t == first).then_some(first)
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

/// Adds `traceparent` to one message's `MessageAttributes`; `false` when the message has it
/// already or has no room (then logged once).
fn add_traceparent(message: &mut Map<String, Value>, traceparent: &str) -> bool {
    let attributes = message
        .entry("MessageAttributes")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(attributes) = attributes.as_object_mut() else {
        return false;
    };
    if attributes
        .keys()
        .any(|k| k.eq_ignore_ascii_case(TRACEPARENT))
    {
        return false;
    }
    if attributes.len() >= MAX_MESSAGE_ATTRIBUTES {
        if !FULL_LOGGED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "lambda_trace",
                "an SQS message already has {MAX_MESSAGE_ATTRIBUTES} message attributes: sent \
                 without a traceparent attribute (its AWSTraceHeader still carries the X-Ray \
                 context); logged once"
            );
        }
        return false;
    }
    attributes.insert(
        TRACEPARENT.to_owned(),
        json!({"DataType": "String", "StringValue": traceparent}),
    );
    true
}

fn count_messages(span: &Span, body: &Map<String, Value>) {
    let count = body
        .get("Entries")
        .and_then(Value::as_array)
        .map_or(1, Vec::len);
    span.set_attribute((
        "messaging.batch.message_count".into(),
        AttributeValue::Int(i64::try_from(count).unwrap_or(i64::MAX)),
    ));
}

fn set(span: &Span, key: &'static str, value: &str) {
    span.set_attribute((key.into(), AttributeValue::String(value.to_owned().into())));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn dynamodb_table_names() {
        assert_eq!(
            table_name(&body(json!({"TableName": "orders"}))),
            Some("orders")
        );
        assert_eq!(
            table_name(&body(json!({"RequestItems": {"orders": []}}))),
            Some("orders")
        );
        assert_eq!(
            table_name(&body(json!({"RequestItems": {"orders": [], "users": []}}))),
            None
        );
        assert_eq!(
            table_name(&body(json!({"TransactItems": [
                {"Put": {"TableName": "orders"}}, {"Update": {"TableName": "orders"}}
            ]}))),
            Some("orders")
        );
        assert_eq!(
            table_name(&body(json!({"TransactItems": [
                {"Put": {"TableName": "orders"}}, {"Update": {"TableName": "users"}}
            ]}))),
            None
        );
        assert_eq!(table_name(&body(json!({"TableName": 5}))), None);
    }

    #[test]
    fn traceparent_goes_where_there_is_room() {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let mut message = body(json!({"MessageBody": "x"}));
        assert!(add_traceparent(&mut message, tp));
        assert_eq!(
            message["MessageAttributes"]["traceparent"],
            json!({"DataType": "String", "StringValue": tp})
        );
        // Already there: untouched.
        assert!(!add_traceparent(&mut message, "other"));
        assert_eq!(
            message["MessageAttributes"]["traceparent"]["StringValue"],
            tp
        );
        // Full: untouched.
        let full: Map<String, Value> = (0..MAX_MESSAGE_ATTRIBUTES)
            .map(|i| {
                (
                    format!("a{i}"),
                    json!({"DataType": "String", "StringValue": "v"}),
                )
            })
            .collect();
        let mut message = body(json!({"MessageBody": "x", "MessageAttributes": full}));
        assert!(!add_traceparent(&mut message, tp));
        assert_eq!(
            message["MessageAttributes"].as_object().unwrap().len(),
            MAX_MESSAGE_ATTRIBUTES
        );
        // Not an object: untouched, no panic.
        let mut message = body(json!({"MessageAttributes": [1, 2]}));
        assert!(!add_traceparent(&mut message, tp));
    }
}
