//! Amazon DynamoDB Streams: [`Event`] (`aws_lambda_events::dynamodb::Event`), and each of its
//! records ([`EventRecord`]).
//!
//! A stream record is a change to an item, written by whoever wrote the item: DynamoDB passes
//! no trace header. The context is what the writer stored in the item itself, an attribute
//! `_trace` of type map (`M`) whose members are strings (`S`), e.g.
//! `"_trace": {"M": {"traceparent": {"S": "00-…-01"}}}` ([the payload
//! convention](super::payload)), read from the record's **`NewImage`** (the stream's view type
//! must include new images). A `REMOVE` has no new image and so no context: the old image's
//! `_trace` is the trace of the write before, not of the delete.
//!
//! - Each record's context is offered as a message ([`EventCarrier::messages`]): the invocation
//!   span links to each, and [`messaging::each_record`](crate::messaging::each_record) runs each
//!   record's work in a span whose parent is that record's context.
//! - Unlike SQS and Kinesis, the event presents **no** headers of its own: the invocation span
//!   links to the records' contexts but does not continue the first one's (its item attributes
//!   are read into owned values, which an [`Extractor`] of the event cannot lend).
//! - Request data: trigger `datasource` (OpenTelemetry's FaaS conventions: a change to a
//!   table); `faas.document.collection` (the table), `faas.document.operation` (`insert`,
//!   `edit` or `delete`, when every record of the batch has the same), and the batch's
//!   messaging data: `messaging.system = aws.dynamodb_streams` (no registered value), the
//!   table as the destination, the record count.

use std::borrow::Cow;
use std::io;

use aws_lambda_events::dynamodb::{Event, EventRecord};

use super::payload::{MAX_PAYLOAD_BYTES, TRACE_FIELD, TraceFields};
use super::request::capped;
use super::{EventCarrier, MAX_ATTRIBUTE_CHARS, MessagingInfo, RequestInfo, Trigger, arn};
use crate::propagation::Extractor;

/// `messaging.system` of DynamoDB Streams (no registered value).
pub(crate) const DYNAMODB_SYSTEM: &str = "aws.dynamodb_streams";
/// Largest `_trace` attribute read, in bytes of its JSON form.
const MAX_ATTRIBUTE_BYTES: usize = 16 * 1024;
const _: () = assert!(MAX_ATTRIBUTE_BYTES <= MAX_PAYLOAD_BYTES);

/// The table name of a stream ARN (`arn:aws:dynamodb:…:table/Orders/stream/…` → `Orders`).
pub(crate) fn table_name(arn: &str) -> Option<&str> {
    arn::named(arn, "table")
}

/// The table of `record`: its `eventSourceARN`'s, else its `tableName`.
pub(crate) fn record_table(record: &EventRecord) -> Option<&str> {
    record
        .event_source_arn
        .as_deref()
        .and_then(table_name)
        .or(record.table_name.as_deref())
}

/// `faas.document.operation` of a stream `eventName`.
pub(crate) fn operation(event_name: &str) -> Option<&'static str> {
    match event_name {
        "INSERT" => Some("insert"),
        "MODIFY" => Some("edit"),
        "REMOVE" => Some("delete"),
        _ => None,
    }
}

/// A writer that refuses more than `MAX_ATTRIBUTE_BYTES`.
struct Bounded(Vec<u8>);

impl io::Write for Bounded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.0.len() + buf.len() > MAX_ATTRIBUTE_BYTES {
            return Err(io::ErrorKind::OutOfMemory.into());
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The headers of `record`'s `NewImage._trace` (owned; empty when it has none, or one over
/// the bound).
pub(crate) fn record_headers(record: &EventRecord) -> TraceFields<'static> {
    let Some(attribute) = record.change.new_image.inner().get(TRACE_FIELD) else {
        return TraceFields::default();
    };
    let mut json = Bounded(Vec::new());
    if serde_json::to_writer(&mut json, attribute).is_err() {
        return TraceFields::default();
    }
    serde_json::from_slice::<serde_json::Value>(&json.0)
        .map(|value| TraceFields::from_dynamodb_map(&value).into_owned())
        .unwrap_or_default()
}

/// The request data of a stream batch from its records' tables and event names (shared with
/// the JSON carrier).
pub(crate) fn request_info<'a>(
    count: usize,
    table: Option<&str>,
    mut event_names: impl Iterator<Item = &'a str>,
) -> RequestInfo {
    let table = table.and_then(|t| capped(t, MAX_ATTRIBUTE_CHARS));
    let mut info = RequestInfo::new(Trigger::Datasource).with_messaging(MessagingInfo {
        system: Cow::Borrowed(DYNAMODB_SYSTEM),
        destination: table.clone(),
        message_count: count,
    });
    if let Some(table) = table {
        info = info.with_attribute("faas.document.collection", table);
    }
    let first = event_names.next().and_then(operation);
    if let Some(op) = first
        && event_names.all(|name| operation(name) == Some(op))
    {
        info = info.with_attribute("faas.document.operation", op);
    }
    info
}

impl Extractor for Event {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }

    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl EventCarrier for Event {
    fn request_info(&self) -> RequestInfo {
        request_info(
            self.records.len(),
            self.records.first().and_then(record_table),
            self.records.iter().map(|r| r.event_name.as_str()),
        )
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

    fn record(name: &str, new_image: &str) -> String {
        format!(
            r#"{{"awsRegion": "us-east-2", "eventID": "1", "eventName": "{name}", "eventSource": "aws:dynamodb",
              "eventSourceARN": "arn:aws:dynamodb:us-east-2:123456789012:table/Orders/stream/2024-03-14T10:00:00.000",
              "dynamodb": {{"SizeBytes": 10, "SequenceNumber": "100", "NewImage": {new_image}}}}}"#
        )
    }

    fn event(records: &[String]) -> Event {
        serde_json::from_str(&format!(r#"{{"Records": [{}]}}"#, records.join(",")))
            .expect("a stream event")
    }

    #[test]
    fn new_images_trace_attribute_is_each_records_headers() {
        let e = event(&[
            record(
                "INSERT",
                &format!(
                    r#"{{"id": {{"S": "o-1"}}, "_trace": {{"M": {{"traceparent": {{"S": "{TP}"}}, "n": {{"N": "1"}}}}}}}}"#
                ),
            ),
            record(
                "INSERT",
                r#"{"id": {"S": "o-2"}, "_trace": {"S": "not a map"}}"#,
            ),
            record("INSERT", r#"{"id": {"S": "o-3"}}"#),
        ]);
        let mut seen = Vec::new();
        e.messages(&mut |m| seen.push(m.get("traceparent").map(str::to_owned)));
        assert_eq!(seen, [Some(TP.to_owned()), None, None]);
        assert_eq!(
            (e.get("traceparent"), e.keys().len()),
            (None, 0),
            "no headers of its own"
        );
        let info = e.request_info();
        assert_eq!(info.trigger, Trigger::Datasource);
        let m = info.messaging.as_ref().unwrap();
        assert_eq!(
            (m.system.as_ref(), m.destination.as_deref(), m.message_count),
            ("aws.dynamodb_streams", Some("Orders"), 3)
        );
        assert_eq!(
            info.attributes,
            [
                ("faas.document.collection".into(), "Orders".to_string()),
                ("faas.document.operation".into(), "insert".to_string())
            ]
        );
    }

    #[test]
    fn mixed_operations_record_none_and_big_attributes_are_skipped() {
        let big = "x".repeat(MAX_ATTRIBUTE_BYTES);
        let e = event(&[
            record(
                "MODIFY",
                &format!(
                    r#"{{"_trace": {{"M": {{"traceparent": {{"S": "{TP}"}}, "pad": {{"S": "{big}"}}}}}}}}"#
                ),
            ),
            record("REMOVE", "null"),
        ]);
        let mut seen = Vec::new();
        e.messages(&mut |m| seen.push(m.keys().len()));
        assert_eq!(seen, [0, 0]);
        let info = e.request_info();
        assert!(
            info.attributes
                .iter()
                .all(|(k, _)| k != "faas.document.operation")
        );
        assert_eq!(operation("MODIFY"), Some("edit"));
        assert_eq!(operation("modify"), None);
    }
}
