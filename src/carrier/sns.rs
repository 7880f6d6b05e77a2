//! Amazon SNS: [`SnsEvent`], and each of its records ([`SnsRecord`]).
//!
//! SNS passes an X-Ray header to a Lambda subscription **with the invocation**, not in the
//! event: it is Lambda's own header (`Context::xray_trace_id`, the layer's parent policy), so
//! the event itself carries context only when the publisher put it in the message's **message
//! attributes** (what OpenTelemetry's AWS SDK instrumentations do): `traceparent`,
//! `tracestate`, `X-Amzn-Trace-Id`, `b3`, … as `String` attributes. (AWS: "Amazon SNS and AWS
//! X-Ray", <https://docs.aws.amazon.com/xray/latest/devguide/xray-services-sns.html>: SNS passes
//! the trace context from publisher to subscribers.)
//!
//! - A record ([`SnsRecord`]) is an [`Extractor`]: every `String` message attribute under its
//!   own name (any case); `Binary` attributes are no headers.
//! - The event presents the **first** record's headers (SNS delivers one record per
//!   invocation); every record is offered as a message ([`EventCarrier::messages`]: links, and
//!   [`messaging::each_record`](crate::messaging::each_record)).
//! - Request data: trigger `pubsub`; `messaging.system = aws.sns` (OpenTelemetry's registered
//!   value), the topic's name (from `TopicArn`) as the destination, the record count;
//!   `messaging.message.id` (the `MessageId` of a single record) and `aws.sns.topic.arn`.

use std::borrow::Cow;

use aws_lambda_events::sns::{SnsEvent, SnsMessage, SnsRecord};

use super::request::capped;
use super::{EventCarrier, MAX_ATTRIBUTE_CHARS, MessagingInfo, RequestInfo, Trigger, arn};
use crate::propagation::{Extractor, starts_with_ignore_case};

/// `messaging.system` of SNS (OpenTelemetry's messaging conventions).
pub(crate) const SNS_SYSTEM: &str = "aws.sns";

/// `true` for an attribute that can be a header (`String`, not `Binary`).
fn is_text(data_type: &str) -> bool {
    data_type.eq_ignore_ascii_case("String")
}

/// The value of `String` message attribute `name` (exact name first, then any case).
fn attribute<'a>(message: &'a SnsMessage, name: &str) -> Option<&'a str> {
    let attributes = &message.message_attributes;
    let found = match attributes.get(name) {
        Some(a) if is_text(&a.data_type) => Some(a),
        _ => attributes
            .iter()
            .find(|(k, a)| k.eq_ignore_ascii_case(name) && is_text(&a.data_type))
            .map(|(_, a)| a),
    };
    found.map(|a| a.value.as_str())
}

/// The names of `message`'s `String` attributes, each once in any case.
fn attribute_names(message: &SnsMessage) -> Vec<&str> {
    let mut keys: Vec<&str> = Vec::new();
    for (k, a) in &message.message_attributes {
        if is_text(&a.data_type) && !keys.iter().any(|seen| seen.eq_ignore_ascii_case(k)) {
            keys.push(k);
        }
    }
    keys
}

/// The topic name of a record's `TopicArn` (`arn:aws:sns:…:orders` → `orders`).
pub(crate) fn topic_name(record: &SnsRecord) -> Option<&str> {
    arn::resource(&record.sns.topic_arn)
}

impl Extractor for SnsRecord {
    fn get(&self, name: &str) -> Option<&str> {
        attribute(&self.sns, name)
    }

    fn keys(&self) -> Vec<&str> {
        attribute_names(&self.sns)
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        self.sns
            .message_attributes
            .iter()
            .any(|(k, a)| is_text(&a.data_type) && starts_with_ignore_case(k, prefix))
    }
}

impl Extractor for SnsEvent {
    fn get(&self, name: &str) -> Option<&str> {
        self.records.first()?.get(name)
    }

    fn keys(&self) -> Vec<&str> {
        self.records
            .first()
            .map(Extractor::keys)
            .unwrap_or_default()
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        self.records
            .first()
            .is_some_and(|r| r.has_key_with_prefix(prefix))
    }
}

/// The request data of an SNS event from its first record's `TopicArn` and `MessageId` and its
/// record count (shared with the JSON carrier).
pub(crate) fn request_info(
    topic_arn: Option<&str>,
    message_id: Option<&str>,
    count: usize,
) -> RequestInfo {
    let text = |v: &str| capped(v, MAX_ATTRIBUTE_CHARS);
    let mut info = RequestInfo::new(Trigger::PubSub).with_messaging(MessagingInfo {
        system: Cow::Borrowed(SNS_SYSTEM),
        destination: topic_arn.and_then(arn::resource).and_then(text),
        message_count: count,
    });
    if count == 1
        && let Some(id) = message_id.and_then(text)
    {
        info = info.with_attribute("messaging.message.id", id);
    }
    if let Some(arn) = topic_arn.and_then(text) {
        info = info.with_attribute("aws.sns.topic.arn", arn);
    }
    info
}

impl EventCarrier for SnsEvent {
    fn request_info(&self) -> RequestInfo {
        let first = self.records.first().map(|r| &r.sns);
        request_info(
            first.map(|m| m.topic_arn.as_str()),
            first.map(|m| m.message_id.as_str()),
            self.records.len(),
        )
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

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn event(attributes: &str) -> SnsEvent {
        serde_json::from_str(&format!(
            r#"{{"Records": [{{"EventSource": "aws:sns", "EventVersion": "1.0",
              "EventSubscriptionArn": "arn:aws:sns:us-east-2:123456789012:orders:1",
              "Sns": {{"Type": "Notification", "MessageId": "m-1",
                "TopicArn": "arn:aws:sns:us-east-2:123456789012:orders",
                "Timestamp": "2024-03-14T10:00:00.000Z", "SignatureVersion": "1",
                "Signature": "x", "SigningCertUrl": "x", "UnsubscribeUrl": "x",
                "Message": "{{}}", "MessageAttributes": {attributes}}}}}]}}"#
        ))
        .expect("an SNS event")
    }

    #[test]
    fn string_attributes_are_headers_in_any_case() {
        let e = event(&format!(
            r#"{{"TraceParent": {{"Type": "String", "Value": "{TP}"}},
                "traceparent": {{"Type": "String", "Value": "other"}},
                "tracestate": {{"Type": "Binary", "Value": "AAEC"}},
                "uberctx-tenant": {{"Type": "String", "Value": "acme"}}}}"#
        ));
        assert_eq!(e.get("TraceParent"), Some(TP), "exact name first");
        assert_eq!(e.get("traceparent"), Some("other"));
        assert_eq!(
            e.get("tracestate"),
            None,
            "binary attributes are no headers"
        );
        let mut keys = e.keys();
        keys.sort_unstable();
        assert_eq!(keys.len(), 2, "each name once in any case: {keys:?}");
        assert!(e.has_key_with_prefix("uberctx-"));
        assert!(
            !e.has_key_with_prefix("uberctx-tenant"),
            "a prefix needs more after it"
        );
        assert!(
            !e.has_key_with_prefix("tracestate"),
            "a binary one is no name"
        );
        let info = e.request_info();
        assert_eq!(info.trigger, Trigger::PubSub);
        let m = info.messaging.unwrap();
        assert_eq!(
            (m.system.as_ref(), m.destination.as_deref(), m.message_count),
            ("aws.sns", Some("orders"), 1)
        );
        assert_eq!(
            info.attributes,
            [
                ("messaging.message.id".into(), "m-1".to_string()),
                (
                    "aws.sns.topic.arn".into(),
                    "arn:aws:sns:us-east-2:123456789012:orders".to_string()
                )
            ]
        );
    }

    #[test]
    fn no_records_or_attributes_mean_no_headers() {
        let e: SnsEvent = serde_json::from_str(r#"{"Records": []}"#).unwrap();
        assert_eq!((e.get("traceparent"), e.keys().len()), (None, 0));
        assert!(e.request_info().attributes.is_empty());
        let e = event("null");
        assert_eq!((e.get("traceparent"), e.keys().len()), (None, 0));
    }
}
