//! Amazon EventBridge: [`EventBridgeEvent`], including scheduled events.
//!
//! EventBridge passes a `PutEvents` request's X-Ray header (its `X-Amzn-Trace-Id`, or the
//! entry's `TraceHeader`) to a Lambda target **with the invocation** — Lambda's own header,
//! `Context::xray_trace_id` — and "the trace header is not available on the event that's
//! delivered to the invocation target" (AWS: "Amazon EventBridge integration with AWS X-Ray",
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-related-service-xray.html>).
//! Scheduled events carry no context at all. So the event's own headers are what the producer
//! put in the event's **`detail._trace`** object ([the payload convention](super::payload)),
//! read when the detail is a JSON object (`EventBridgeEvent<serde_json::Value>`, the default; a
//! typed detail has no `_trace` to read — register a carrier for it, see the module docs of
//! [`carrier`](super)).
//!
//! Request data:
//!
//! | event | trigger | recorded |
//! |---|---|---|
//! | `detail-type` `Scheduled Event` from `aws.events` or `aws.scheduler` | `timer` | `faas.time` (the event's `time`), `aws.eventbridge.rule` (the rule or schedule of its first resource) |
//! | any other | `pubsub` | `messaging.system = aws.eventbridge`, `messaging.batch.message_count = 1`, `messaging.message.id` (the event's `id`), `aws.eventbridge.source`, `aws.eventbridge.detail_type` |
//!
//! (The event names no bus, so there is no `messaging.destination.name`. OpenTelemetry registers
//! no `messaging.system` value for EventBridge: `aws.eventbridge` follows the form of its AWS
//! values, `aws.sns`.)

use std::any::Any;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::payload::{self, TRACE_FIELD};
use super::request::capped;
use super::{EventCarrier, MAX_ATTRIBUTE_CHARS, MessagingInfo, RequestInfo, Trigger, arn};
use crate::propagation::{Extractor, starts_with_ignore_case};

/// `messaging.system` of EventBridge (no registered value; the form of `aws.sns`).
pub(crate) const EVENTBRIDGE_SYSTEM: &str = "aws.eventbridge";
/// How EventBridge writes event times (`2024-03-14T10:00:00Z`: whole seconds), so that a typed
/// event records the text the event holds.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";
/// The `detail-type` of scheduled events.
const SCHEDULED: &str = "Scheduled Event";

/// `detail._trace` when the detail is a JSON object holding one.
fn trace_object<T: 'static>(detail: &T) -> Option<&Map<String, Value>> {
    let detail: &dyn Any = detail;
    detail
        .downcast_ref::<Value>()?
        .get(TRACE_FIELD)?
        .as_object()
}

/// `true` for a scheduled event (EventBridge rules and EventBridge Scheduler).
pub(crate) fn is_scheduled(source: &str, detail_type: &str) -> bool {
    detail_type == SCHEDULED && matches!(source, "aws.events" | "aws.scheduler")
}

/// The name of a schedule's rule (`arn:aws:events:…:rule/nightly`) or schedule
/// (`arn:aws:scheduler:…:schedule/default/nightly`).
pub(crate) fn schedule_name(resource_arn: &str) -> Option<&str> {
    arn::last_named(resource_arn, "rule").or_else(|| arn::last_named(resource_arn, "schedule"))
}

/// The request data of an EventBridge event from its fields (shared with the JSON carrier,
/// which records the time as the event gives it).
pub(crate) fn request_info(
    source: &str,
    detail_type: &str,
    id: Option<&str>,
    time: Option<String>,
    first_resource: Option<&str>,
) -> RequestInfo {
    let text = |v: &str| capped(v, MAX_ATTRIBUTE_CHARS);
    if is_scheduled(source, detail_type) {
        let mut info = RequestInfo::new(Trigger::Timer);
        if let Some(time) = time.and_then(|t| text(&t)) {
            info = info.with_attribute("faas.time", time);
        }
        if let Some(rule) = first_resource.and_then(schedule_name).and_then(text) {
            info = info.with_attribute("aws.eventbridge.rule", rule);
        }
        return info;
    }
    let mut info =
        RequestInfo::new(Trigger::PubSub).with_messaging(MessagingInfo::new(EVENTBRIDGE_SYSTEM, 1));
    if let Some(id) = id.and_then(text) {
        info = info.with_attribute("messaging.message.id", id);
    }
    if let Some(source) = text(source) {
        info = info.with_attribute("aws.eventbridge.source", source);
    }
    if let Some(detail_type) = text(detail_type) {
        info = info.with_attribute("aws.eventbridge.detail_type", detail_type);
    }
    info
}

impl<T: Serialize + DeserializeOwned + 'static> Extractor for EventBridgeEvent<T> {
    fn get(&self, name: &str) -> Option<&str> {
        payload::object_get(trace_object(&self.detail)?, name)
    }

    fn keys(&self) -> Vec<&str> {
        trace_object(&self.detail)
            .map(payload::object_keys)
            .unwrap_or_default()
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        self.keys()
            .iter()
            .any(|k| starts_with_ignore_case(k, prefix))
    }
}

/// An EventBridge event with any detail type. The built-in lookup knows
/// `EventBridgeEvent<serde_json::Value>` (the default); register yours with
/// [`TraceLayerBuilder::carrier`](crate::layer::TraceLayerBuilder::carrier) to get its trigger
/// and attributes (a typed detail carries no `_trace` headers).
impl<T: Serialize + DeserializeOwned + 'static> EventCarrier for EventBridgeEvent<T> {
    fn request_info(&self) -> RequestInfo {
        request_info(
            &self.source,
            &self.detail_type,
            self.id.as_deref(),
            self.time.map(|t| t.format(TIME_FORMAT).to_string()),
            self.resources
                .as_ref()
                .and_then(|r| r.first())
                .map(String::as_str),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn detail_trace_object_is_the_headers() {
        let e: EventBridgeEvent = serde_json::from_str(&format!(
            r#"{{"id": "e-1", "detail-type": "OrderPlaced", "source": "shop.orders",
                "time": "2024-03-14T10:00:00Z",
                "detail": {{"orderId": "o-1", "_trace": {{"Traceparent": "{TP}", "n": 1}}}}}}"#
        ))
        .unwrap();
        assert_eq!(e.get("traceparent"), Some(TP));
        assert_eq!(e.keys(), ["Traceparent"]);
        let info = e.request_info();
        assert_eq!(info.trigger, Trigger::PubSub);
        let m = info.messaging.as_ref().unwrap();
        assert_eq!(
            (m.system.as_ref(), m.destination.as_deref(), m.message_count),
            ("aws.eventbridge", None, 1)
        );
        let attrs: Vec<(&str, &str)> = info
            .attributes
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_str()))
            .collect();
        assert_eq!(
            attrs,
            [
                ("messaging.message.id", "e-1"),
                ("aws.eventbridge.source", "shop.orders"),
                ("aws.eventbridge.detail_type", "OrderPlaced")
            ]
        );
    }

    #[test]
    fn scheduled_events_are_timers() {
        let e: EventBridgeEvent = serde_json::from_str(
            r#"{"id": "s-1", "detail-type": "Scheduled Event", "source": "aws.events",
                "time": "2024-03-14T10:00:00Z", "detail": {},
                "resources": ["arn:aws:events:us-east-2:123456789012:rule/nightly"]}"#,
        )
        .unwrap();
        assert_eq!((e.get("traceparent"), e.keys().len()), (None, 0));
        let info = e.request_info();
        assert_eq!((info.trigger, info.messaging), (Trigger::Timer, None));
        assert_eq!(
            info.attributes,
            [
                ("faas.time".into(), "2024-03-14T10:00:00Z".to_string()),
                ("aws.eventbridge.rule".into(), "nightly".to_string())
            ]
        );
        assert!(is_scheduled("aws.scheduler", "Scheduled Event"));
        assert!(
            !is_scheduled("shop", "Scheduled Event"),
            "anyone can name a detail type"
        );
        assert_eq!(
            schedule_name("arn:aws:scheduler:r:1:schedule/default/hourly"),
            Some("hourly")
        );
    }

    #[test]
    fn typed_details_and_odd_details_have_no_headers() {
        #[derive(serde::Deserialize, serde::Serialize)]
        struct Order {
            #[serde(rename = "_trace")]
            trace: std::collections::HashMap<String, String>,
        }
        let json = format!(
            r#"{{"detail-type": "x", "source": "y", "detail": {{"_trace": {{"traceparent": "{TP}"}}}}}}"#
        );
        let typed: EventBridgeEvent<Order> = serde_json::from_str(&json).unwrap();
        assert_eq!(typed.get("traceparent"), None);
        for detail in [
            "null",
            "[1]",
            r#""_trace""#,
            r#"{"_trace": [1]}"#,
            r#"{"_trace": {"traceparent": 1}}"#,
        ] {
            let e: EventBridgeEvent = serde_json::from_str(&format!(
                r#"{{"detail-type": "x", "source": "y", "detail": {detail}}}"#
            ))
            .unwrap();
            assert_eq!(
                (e.get("traceparent"), e.keys().len()),
                (None, 0),
                "{detail}"
            );
        }
    }
}
