//! SQS (AWS JSON 1.0): the queue of every call; `SendMessage` / `SendMessageBatch` are sends,
//! and each message gets a `traceparent` message attribute where there is room.

use std::sync::atomic::AtomicBool;

use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use serde_json::{Map, Value, json};

use super::{
    MAX_MESSAGE_ATTRIBUTES, TRACEPARENT, json_body, replace_body, sending, set, w3c_context,
};
use crate::span::Span;

static FULL_LOGGED: AtomicBool = AtomicBool::new(false);

pub(super) fn apply(operation: &str, request: &mut HttpRequest, span: &Span) {
    let Some(mut body) = json_body(request) else {
        return;
    };
    if let Some(url) = body.get("QueueUrl").and_then(Value::as_str) {
        set(span, "aws.queue_url", url);
        set(span, "messaging.system", "aws_sqs");
        if let Some(name) = url.rsplit('/').next().filter(|n| !n.is_empty()) {
            set(span, "messaging.destination.name", name);
        }
    }
    if !matches!(operation, "SendMessage" | "SendMessageBatch") {
        return;
    }
    let entries = body.get("Entries").and_then(Value::as_array);
    sending(span, entries.map_or(1, Vec::len));
    let Some(traceparent) = w3c_context(span) else {
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
    if changed && let Ok(new) = serde_json::to_vec(&body) {
        replace_body(request, new);
    }
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
        super::log_full_once(&FULL_LOGGED, "SQS", "its AWSTraceHeader");
        return false;
    }
    attributes.insert(
        TRACEPARENT.to_owned(),
        json!({"DataType": "String", "StringValue": traceparent}),
    );
    true
}

#[cfg(test)]
mod tests {
    use super::super::tests::object as body;
    use super::*;

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
