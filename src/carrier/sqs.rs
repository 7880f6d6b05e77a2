//! Amazon SQS: [`SqsEvent`].
//!
//! SQS propagates X-Ray context in the message's **system attribute** `AWSTraceHeader` (not in
//! message attributes), in the `X-Amzn-Trace-Id` format. The carrier presents the first record's
//! `AWSTraceHeader` as the header `x-amzn-trace-id` and has no other headers.
//!
//! **Batches:** the invocation span has one parent, so only the **first record's** context is
//! used; the other records' contexts are not linked. Functions that need one trace per message
//! should process records one by one and start a span per record from its own `AWSTraceHeader`.

use aws_lambda_events::sqs::SqsEvent;

use super::{EventCarrier, RequestInfo, Trigger};
use crate::propagation::Extractor;

/// The header name under which the `AWSTraceHeader` attribute is presented.
const XRAY_HEADER: &str = "x-amzn-trace-id";
/// The SQS system attribute that carries the X-Ray header.
const TRACE_ATTRIBUTE: &str = "AWSTraceHeader";

/// The first record's `AWSTraceHeader` (exact name first, then any case).
fn trace_header(event: &SqsEvent) -> Option<&str> {
    let attributes = &event.records.first()?.attributes;
    attributes
        .get(TRACE_ATTRIBUTE)
        .or_else(|| {
            attributes
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(TRACE_ATTRIBUTE))
                .map(|(_, v)| v)
        })
        .map(String::as_str)
}

impl Extractor for SqsEvent {
    fn get(&self, name: &str) -> Option<&str> {
        if name.eq_ignore_ascii_case(XRAY_HEADER) {
            trace_header(self)
        } else {
            None
        }
    }

    fn keys(&self) -> Vec<&str> {
        trace_header(self)
            .map(|_| XRAY_HEADER)
            .into_iter()
            .collect()
    }
}

impl EventCarrier for SqsEvent {
    fn request_info(&self) -> RequestInfo {
        RequestInfo {
            trigger: Trigger::PubSub,
            http: None,
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
    }

    #[test]
    fn no_records_or_no_attribute_means_no_header() {
        let e: SqsEvent = serde_json::from_str(r#"{"Records":[]}"#).unwrap();
        assert_eq!(e.get("x-amzn-trace-id"), None);
        assert!(e.keys().is_empty());
        let e: SqsEvent =
            serde_json::from_str(r#"{"Records":[{"attributes":{"awstraceheader":"Root=x"}}]}"#)
                .unwrap();
        assert_eq!(e.get("x-amzn-trace-id"), Some("Root=x"));
    }
}
