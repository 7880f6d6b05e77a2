//! Amazon SQS: [`SqsEvent`], and each of its records ([`SqsMessage`]).
//!
//! SQS propagates X-Ray context in the message's **system attribute** `AWSTraceHeader` (not in
//! message attributes), in the `X-Amzn-Trace-Id` format; producers that send W3C context put
//! `traceparent` / `tracestate` in the message's **message attributes** (`stringValue` of a
//! `String` attribute). (AWS: "Amazon SQS and AWS X-Ray",
//! <https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sqs.html>.)
//!
//! - A record ([`SqsMessage`]) is an [`Extractor`]: `AWSTraceHeader` as the header
//!   `x-amzn-trace-id`, and every string message attribute under its own name (any case). Its
//!   context is extracted with the layer's propagators, in their order (first valid wins), as
//!   for headers.
//! - The event ([`SqsEvent`]) presents the **first** record's headers: under PassThrough
//!   tracing the invocation span continues the first record's trace (one parent). Every
//!   record's context is offered as a message ([`EventCarrier::messages`]): the invocation span
//!   links to each (up to its link limit; X-Ray documents carry at most 20 and count the rest),
//!   and [`messaging::each_record`](crate::messaging::each_record) runs each record's work in a
//!   span whose parent is that record's own context.
//! - Request data: trigger `pubsub`, and the messaging data of the batch ([`MessagingInfo`]):
//!   `aws_sqs`, the queue's name (from the first record's `eventSourceARN`), the record count.

use std::borrow::Cow;
use std::collections::HashMap;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};

use super::request::capped;
use super::{EventCarrier, MessagingInfo, RequestInfo, Trigger};
use crate::propagation::Extractor;

/// The header name under which the `AWSTraceHeader` attribute is presented.
const XRAY_HEADER: &str = "x-amzn-trace-id";
/// The SQS system attribute that carries the X-Ray header.
const TRACE_ATTRIBUTE: &str = "AWSTraceHeader";
/// `messaging.system` of SQS (OpenTelemetry's messaging conventions).
pub(crate) const SQS_SYSTEM: &str = "aws_sqs";
/// Longest queue name recorded, in characters (SQS allows 80; an event is untrusted input).
pub(crate) const MAX_QUEUE_NAME_CHARS: usize = 256;

/// The value of `name` in `map`: the entry of that exact name, else the first (in the map's
/// order) whose name is `name` in another case. One pass without hashing: a record's maps hold
/// a few entries (SQS sends at most 10 message attributes and a dozen system attributes), and
/// a name that is not there exactly had them all scanned for another case anyway.
fn lookup<'a, V>(map: &'a HashMap<String, V>, name: &str) -> Option<&'a V> {
    let mut any_case = None;
    for (key, value) in map {
        if key.len() != name.len() {
            continue;
        }
        if key == name {
            return Some(value);
        }
        if any_case.is_none() && key.eq_ignore_ascii_case(name) {
            any_case = Some(value);
        }
    }
    any_case
}

/// A record's `AWSTraceHeader` (exact name first, then any case).
fn trace_header(record: &SqsMessage) -> Option<&str> {
    lookup(&record.attributes, TRACE_ATTRIBUTE).map(String::as_str)
}

/// The string value of message attribute `name` (any case; exact name first).
fn message_attribute<'a>(record: &'a SqsMessage, name: &str) -> Option<&'a str> {
    lookup(&record.message_attributes, name)?
        .string_value
        .as_deref()
}

/// The queue name of an SQS ARN (`arn:aws:sqs:us-east-2:123456789012:orders` → `orders`).
pub(crate) fn queue_name(arn: &str) -> Option<&str> {
    // What follows the fifth colon (`arn:partition:service:region:account:`), found in one
    // pass over the bytes (the name is read for every record `each_record` runs).
    let rest = arn.strip_prefix("arn:")?;
    let (at, _) = rest
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b == b':')
        .nth(3)?;
    rest.get(at + 1..).filter(|name| !name.is_empty())
}

/// The queue name of `record`, capped, when its `eventSourceARN` names one.
pub(crate) fn record_queue(record: &SqsMessage) -> Option<String> {
    record
        .event_source_arn
        .as_deref()
        .and_then(queue_name)
        .and_then(|name| capped(name, MAX_QUEUE_NAME_CHARS))
}

/// `true` when the record comes from a FIFO queue (its name ends in `.fifo`).
pub(crate) fn is_fifo(record: &SqsMessage) -> bool {
    record
        .event_source_arn
        .as_deref()
        .and_then(queue_name)
        .is_some_and(|name| name.ends_with(".fifo"))
}

impl Extractor for SqsMessage {
    fn get(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case(XRAY_HEADER)
            && let Some(header) = trace_header(self)
        {
            return Some(header);
        }
        message_attribute(self, name)
    }

    /// Without collecting the names: only message attribute names can carry a prefix the
    /// formats ask for (`uberctx-`, `ot-baggage-`), the X-Ray header's name is fixed.
    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        (crate::propagation::starts_with_ignore_case(XRAY_HEADER, prefix)
            && trace_header(self).is_some())
            || self.message_attributes.iter().any(|(k, v)| {
                v.string_value.is_some() && crate::propagation::starts_with_ignore_case(k, prefix)
            })
    }

    fn keys(&self) -> Vec<&str> {
        let has_xray = trace_header(self).is_some();
        let mut keys: Vec<&str> = has_xray.then_some(XRAY_HEADER).into_iter().collect();
        keys.extend(
            self.message_attributes
                .iter()
                .filter(|(k, v)| {
                    v.string_value.is_some() && !(has_xray && k.eq_ignore_ascii_case(XRAY_HEADER))
                })
                .map(|(k, _)| k.as_str()),
        );
        keys
    }
}

impl Extractor for SqsEvent {
    fn get(&self, name: &str) -> Option<&str> {
        self.records.first()?.get(name)
    }

    fn keys(&self) -> Vec<&str> {
        self.records
            .first()
            .map(Extractor::keys)
            .unwrap_or_default()
    }
}

impl EventCarrier for SqsEvent {
    fn request_info(&self) -> RequestInfo {
        RequestInfo {
            trigger: Trigger::PubSub,
            http: None,
            messaging: Some(MessagingInfo {
                system: Cow::Borrowed(SQS_SYSTEM),
                destination: self.records.first().and_then(record_queue),
                message_count: self.records.len(),
            }),
            attributes: Vec::new(),
        }
    }

    fn messages(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
        for record in &self.records {
            visit(record);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::from_event;

    #[test]
    fn first_record_trace_header_is_the_xray_header() {
        let e: SqsEvent = serde_json::from_str(include_str!("../../events/sqs-xray.json"))
            .expect("fixture is an SQS event");
        assert_eq!(e.records.len(), 2);
        let carrier = from_event(&e).expect("known event type");
        assert_eq!(
            carrier.get("x-amzn-trace-id"),
            Some("Root=1-63441c4a-abcdef012345678912345678;Parent=4a6b8c0d2e4f6a8c;Sampled=1")
        );
        assert_eq!(carrier.get_all("X-Amzn-Trace-Id").len(), 1);
        assert_eq!(carrier.get("traceparent"), None);
        assert_eq!(carrier.keys(), ["x-amzn-trace-id"]);
        let info = carrier.request_info();
        assert_eq!(info.trigger, Trigger::PubSub);
        assert_eq!(info.http, None);
        let messaging = info.messaging.expect("SQS has messaging data");
        assert_eq!(messaging.system, "aws_sqs");
        assert_eq!(messaging.destination.as_deref(), Some("orders"));
        assert_eq!(messaging.message_count, 2);
        let mut seen = Vec::new();
        carrier.messages(&mut |m| seen.push(m.get("x-amzn-trace-id").map(str::to_owned)));
        assert_eq!(seen.len(), 2);
        assert!(seen[1].as_deref().unwrap().contains("63441c4b"));
    }

    #[test]
    fn no_records_or_no_attribute_means_no_header() {
        let e: SqsEvent = serde_json::from_str(r#"{"Records":[]}"#).unwrap();
        assert_eq!(e.get("x-amzn-trace-id"), None);
        assert!(e.keys().is_empty());
        assert_eq!(e.request_info().messaging.unwrap().message_count, 0);
        let e: SqsEvent =
            serde_json::from_str(r#"{"Records":[{"attributes":{"awstraceheader":"Root=x"}}]}"#)
                .unwrap();
        assert_eq!(e.get("x-amzn-trace-id"), Some("Root=x"));
    }

    #[test]
    fn message_attributes_carry_w3c_context() {
        let e: SqsEvent = serde_json::from_str(
            r#"{"Records":[{"messageAttributes":{
                "TraceParent":{"stringValue":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","dataType":"String"},
                "tracestate":{"stringValue":"rojo=1","dataType":"String"},
                "blob":{"binaryValue":"AAEC","dataType":"Binary"}}}]}"#,
        )
        .unwrap();
        let record = &e.records[0];
        assert_eq!(
            record.get("traceparent"),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(record.get("TRACESTATE"), Some("rojo=1"));
        assert_eq!(record.get("blob"), None, "binary attributes are no headers");
        assert_eq!(record.get("x-amzn-trace-id"), None);
        let mut keys = record.keys();
        keys.sort_unstable();
        assert_eq!(keys, ["TraceParent", "tracestate"]);
    }

    #[test]
    fn prefix_scan_agrees_with_the_key_list() {
        let e: SqsEvent = serde_json::from_str(
            r#"{"Records":[{"attributes":{"AWSTraceHeader":"Root=x"},"messageAttributes":{
                "uberctx-Tenant":{"stringValue":"a","dataType":"String"},
                "X-Amzn-Trace-Id":{"stringValue":"Root=y","dataType":"String"},
                "ot-baggage-blob":{"binaryValue":"AAEC","dataType":"Binary"}}},
              {"messageAttributes":{"OT-Baggage-k":{"stringValue":"v","dataType":"String"}}},
              {}]}"#,
        )
        .unwrap();
        for record in &e.records {
            for prefix in [
                "uberctx-",
                "ot-baggage-",
                "x-amzn-",
                "x-amzn-trace-id",
                "b3",
            ] {
                let listed = record
                    .keys()
                    .iter()
                    .any(|k| crate::propagation::starts_with_ignore_case(k, prefix));
                assert_eq!(record.has_key_with_prefix(prefix), listed, "{prefix}");
            }
        }
    }

    #[test]
    fn the_exact_attribute_name_wins_over_other_cases() {
        // Several spellings in one map, whose order changes from map to map: the exact name is
        // found whatever the order, another case only when there is no exact one.
        for _ in 0..20 {
            let e: SqsEvent = serde_json::from_str(
                r#"{"Records":[{"attributes":{"awstraceheader":"Root=a","AWSTRACEHEADER":"Root=b",
                    "AWSTraceHeader":"Root=c","awsTraceHeader":"Root=d"},
                  "messageAttributes":{
                    "TRACEPARENT":{"stringValue":"upper","dataType":"String"},
                    "traceparent":{"stringValue":"exact","dataType":"String"},
                    "TraceParent":{"stringValue":"camel","dataType":"String"},
                    "Baggage":{"stringValue":"only","dataType":"String"}}}]}"#,
            )
            .unwrap();
            let record = &e.records[0];
            assert_eq!(record.get("x-amzn-trace-id"), Some("Root=c"));
            assert_eq!(record.get("traceparent"), Some("exact"));
            assert_eq!(record.get("baggage"), Some("only"));
            assert_eq!(record.get("tracestate"), None);
        }
    }

    #[test]
    fn queue_names_from_arns() {
        assert_eq!(
            queue_name("arn:aws:sqs:us-east-2:123456789012:orders"),
            Some("orders")
        );
        assert_eq!(queue_name("arn:aws:sqs:us-east-2:1:o.fifo"), Some("o.fifo"));
        assert_eq!(queue_name("arn:aws:sqs:us-east-2:1:"), None);
        assert_eq!(queue_name("orders"), None);
        assert_eq!(queue_name("arn:aws"), None);
        assert_eq!(queue_name(""), None);
        // As `splitn(6, ':').nth(5)` reads them: the rest after the fifth colon, empty parts
        // included.
        for arn in [
            "arn:aws:sqs:r:1:a:b",
            "arn:::::x",
            "arn::::",
            "arn:a:b:c:d",
            "ARN:a:b:c:d:e",
        ] {
            let split = arn
                .starts_with("arn:")
                .then(|| arn.splitn(6, ':').nth(5))
                .flatten()
                .filter(|n| !n.is_empty());
            assert_eq!(queue_name(arn), split, "{arn}");
        }
        assert_eq!(queue_name("arn:aws:sqs:r:1:a:b"), Some("a:b"));
    }
}
