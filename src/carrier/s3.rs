//! Amazon S3 event notifications: [`S3Event`].
//!
//! S3 passes the X-Ray header of the request that changed the bucket to a Lambda subscriber
//! **with the invocation** (Lambda's own header; AWS: "Amazon S3 and AWS X-Ray",
//! <https://docs.aws.amazon.com/xray/latest/devguide/xray-services-s3.html>), not in the event:
//! the event has no headers.
//!
//! Request data (OpenTelemetry's FaaS conventions for a `datasource` trigger), from the first
//! record (S3 sends one per event): `faas.document.collection` (the bucket),
//! `faas.document.name` (the object key, as S3 gives it: URL-encoded), `faas.document.operation`
//! (`insert` for `ObjectCreated:*`, `delete` for `ObjectRemoved:*`, else the event name) and
//! `faas.document.time` (the event time).

use aws_lambda_events::s3::S3Event;

use super::request::capped;
use super::{EventCarrier, MAX_ATTRIBUTE_CHARS, RequestInfo, Trigger};
use crate::propagation::Extractor;

/// `faas.document.operation` of an S3 event name.
pub(crate) fn operation(event_name: &str) -> &str {
    if event_name.starts_with("ObjectCreated:") {
        "insert"
    } else if event_name.starts_with("ObjectRemoved:") {
        "delete"
    } else {
        event_name
    }
}

/// The request data of an S3 notification from its first record's fields (shared with the
/// JSON carrier, which records the time as the event gives it).
pub(crate) fn request_info(
    bucket: Option<&str>,
    key: Option<&str>,
    event_name: Option<&str>,
    time: Option<String>,
) -> RequestInfo {
    let text = |v: &str| capped(v, MAX_ATTRIBUTE_CHARS);
    let time = time.and_then(|t| text(&t));
    let mut info = RequestInfo::new(Trigger::Datasource);
    let fields = [
        ("faas.document.collection", bucket.and_then(text)),
        ("faas.document.name", key.and_then(text)),
        (
            "faas.document.operation",
            event_name.map(operation).and_then(text),
        ),
        ("faas.document.time", time),
    ];
    for (key, value) in fields {
        if let Some(value) = value {
            info = info.with_attribute(key, value);
        }
    }
    info
}

impl Extractor for S3Event {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }

    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

/// How S3 writes event times (`2024-03-14T10:00:00.120Z`: always milliseconds), so that a
/// typed event records the text the event holds.
const S3_TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.3fZ";

impl EventCarrier for S3Event {
    fn request_info(&self) -> RequestInfo {
        let Some(first) = self.records.first() else {
            return RequestInfo::new(Trigger::Datasource);
        };
        request_info(
            first.s3.bucket.name.as_deref(),
            first.s3.object.key.as_deref(),
            first.event_name.as_deref(),
            Some(first.event_time.format(S3_TIME_FORMAT).to_string()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_records_object_is_the_document() {
        let e: S3Event = serde_json::from_str(
            r#"{"Records": [{"eventSource": "aws:s3", "eventTime": "2024-03-14T10:00:00.120Z",
                "eventName": "ObjectCreated:Put", "userIdentity": {}, "requestParameters": {},
                "s3": {"bucket": {"name": "invoices"}, "object": {"key": "2024/o-1.pdf", "size": 10}}}]}"#,
        )
        .unwrap();
        assert_eq!((e.get("traceparent"), e.keys().len()), (None, 0));
        let info = e.request_info();
        assert_eq!(
            (info.trigger, info.messaging.is_none()),
            (Trigger::Datasource, true)
        );
        let attrs: Vec<(&str, &str)> = info
            .attributes
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_str()))
            .collect();
        assert_eq!(
            attrs,
            [
                ("faas.document.collection", "invoices"),
                ("faas.document.name", "2024/o-1.pdf"),
                ("faas.document.operation", "insert"),
                ("faas.document.time", "2024-03-14T10:00:00.120Z")
            ]
        );
        assert_eq!(operation("ObjectRemoved:Delete"), "delete");
        assert_eq!(
            operation("ObjectRestore:Completed"),
            "ObjectRestore:Completed"
        );
        let empty: S3Event = serde_json::from_str(r#"{"Records": []}"#).unwrap();
        assert_eq!(empty.request_info(), RequestInfo::new(Trigger::Datasource));
    }
}
