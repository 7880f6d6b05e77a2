//! Amazon Kinesis Data Streams: [`KinesisEvent`], and each of its records
//! ([`KinesisEventRecord`]).
//!
//! A Kinesis record has no headers or attributes, and Kinesis passes no trace header to Lambda:
//! the context is what the producer put in the record's data, under the `_trace` member of a
//! JSON object ([the payload convention](super::payload): read only from payloads up to
//! 64 KiB, only up to `_trace`, never failing on other data).
//!
//! - Each record's context is offered as a message ([`EventCarrier::messages`]): the invocation
//!   span links to each (up to its link limit; a batch has up to 10,000 records, the rest are
//!   counted), and [`messaging::each_record`](crate::messaging::each_record) runs each record's
//!   work in a span whose parent is that record's context.
//! - The event presents the **first** record's `_trace` as its headers, as SQS does (values
//!   written with JSON escapes are not read there; no valid trace header needs one).
//! - Request data: trigger `pubsub`; `messaging.system = aws.kinesis` (OpenTelemetry registers
//!   none for Kinesis: the form of its AWS values, `aws.sns`), the stream's name (from the first
//!   record's `eventSourceARN`) as the destination, the record count.

use std::borrow::Cow;

use aws_lambda_events::kinesis::{KinesisEvent, KinesisEventRecord};

use super::payload::{self, TraceFields};
use super::request::capped;
use super::{EventCarrier, MAX_ATTRIBUTE_CHARS, MessagingInfo, RequestInfo, Trigger, arn};
use crate::propagation::{Extractor, starts_with_ignore_case};

/// `messaging.system` of Kinesis (no registered value; the form of `aws.sns`).
pub(crate) const KINESIS_SYSTEM: &str = "aws.kinesis";

/// The stream name of an ARN (`arn:aws:kinesis:…:stream/orders` → `orders`).
pub(crate) fn stream_name(arn: &str) -> Option<&str> {
    arn::named(arn, "stream")
}

/// The stream name of `record`.
pub(crate) fn record_stream(record: &KinesisEventRecord) -> Option<&str> {
    record.event_source_arn.as_deref().and_then(stream_name)
}

/// The headers of `record`'s data (`_trace`).
pub(crate) fn record_headers(record: &KinesisEventRecord) -> TraceFields<'_> {
    TraceFields::from_payload(&record.kinesis.data.0)
}

/// The first record's data.
fn first_data(event: &KinesisEvent) -> Option<&[u8]> {
    event.records.first().map(|r| r.kinesis.data.0.as_slice())
}

impl Extractor for KinesisEvent {
    fn get(&self, name: &str) -> Option<&str> {
        payload::get(first_data(self)?, name)
    }

    fn keys(&self) -> Vec<&str> {
        first_data(self).map(payload::keys).unwrap_or_default()
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        let mut found = false;
        if let Some(data) = first_data(self) {
            payload::for_each_field(data, &mut |k, _| {
                found = starts_with_ignore_case(&k, prefix);
                !found
            });
        }
        found
    }
}

/// The request data of a Kinesis batch from its first record's `eventSourceARN` and record
/// count (shared with the JSON carrier).
pub(crate) fn request_info(first_arn: Option<&str>, count: usize) -> RequestInfo {
    RequestInfo::new(Trigger::PubSub).with_messaging(MessagingInfo {
        system: Cow::Borrowed(KINESIS_SYSTEM),
        destination: first_arn
            .and_then(stream_name)
            .and_then(|s| capped(s, MAX_ATTRIBUTE_CHARS)),
        message_count: count,
    })
}

impl EventCarrier for KinesisEvent {
    fn request_info(&self) -> RequestInfo {
        let first_arn = self
            .records
            .first()
            .and_then(|r| r.event_source_arn.as_deref());
        request_info(first_arn, self.records.len())
    }

    fn messages(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
        for record in &self.records {
            visit(&record_headers(record));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn record(data: &str) -> KinesisEventRecord {
        use base64::Engine as _;
        serde_json::from_value(serde_json::json!({
            "eventSourceARN": "arn:aws:kinesis:us-east-2:123456789012:stream/orders",
            "kinesis": {
                "data": base64::engine::general_purpose::STANDARD.encode(data),
                "approximateArrivalTimestamp": 1710410400.0
            }
        }))
        .expect("a Kinesis record")
    }

    #[test]
    fn the_first_records_trace_member_is_the_events_headers() {
        let mut e = KinesisEvent::default();
        e.records = vec![
            record(&format!(
                r#"{{"_trace": {{"traceparent": "{TP}", "uberctx-t": "a"}}}}"#
            )),
            record("not json"),
            record(
                r#"{"_trace": {"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793"}}"#,
            ),
        ];
        assert_eq!(e.get("TRACEPARENT"), Some(TP));
        assert_eq!(e.keys(), ["traceparent", "uberctx-t"]);
        assert!(e.has_key_with_prefix("uberctx-"));
        assert!(!e.has_key_with_prefix("ot-baggage-"));
        let mut seen = Vec::new();
        e.messages(&mut |m| {
            seen.push((
                m.get("traceparent").is_some(),
                m.get("x-amzn-trace-id").is_some(),
            ))
        });
        assert_eq!(seen, [(true, false), (false, false), (false, true)]);
        let info = e.request_info();
        assert_eq!(info.trigger, Trigger::PubSub);
        let m = info.messaging.unwrap();
        assert_eq!(
            (m.system.as_ref(), m.destination.as_deref(), m.message_count),
            ("aws.kinesis", Some("orders"), 3)
        );
        let empty = KinesisEvent::default();
        assert_eq!((empty.get("traceparent"), empty.keys().len()), (None, 0));
        assert!(!empty.has_key_with_prefix("x"));
    }
}
