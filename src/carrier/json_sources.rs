//! The raw-event carrier ([`serde_json::Value`], `json.rs`) for the shapes of feature
//! `event-sources`: SNS, EventBridge, Kinesis, DynamoDB Streams and S3 events read as their
//! typed carriers read them (headers, messages, request data), so that a typed event and the
//! same JSON as a `Value` record the same thing.
//!
//! Kinesis is the exception: a record's data is base64 in the JSON, and decoding and scanning
//! it here would put that code in every binary (this carrier also reads rejected events), so a
//! Kinesis-shaped `Value` gets its request data but no headers and no links.

use serde_json::{Map, Value};

use super::payload::{self, TRACE_FIELD, TraceFields};
use super::{RequestInfo, dynamodb, eventbridge, kinesis, s3, sns};
use crate::propagation::Extractor;

/// `Records[0].eventSource` (SNS spells it `EventSource`), asked on every header lookup: a
/// direct lookup, not a `Value::pointer` (which parses its path each time).
fn record_source(event: &Value) -> Option<&str> {
    super::json::record_str(event, "eventSource")
        .or_else(|| super::json::record_str(event, "EventSource"))
}

/// The headers of an SNS- or EventBridge-shaped event.
#[derive(Debug, Clone, Copy)]
pub(super) enum Headers<'a> {
    /// The first record's message attributes.
    Sns(SnsAttributes<'a>),
    /// `detail._trace`.
    EventBridge(&'a Map<String, Value>),
}

impl<'a> Headers<'a> {
    /// The value of header `name` (any case).
    pub(super) fn get(self, name: &str) -> Option<&'a str> {
        match self {
            Headers::Sns(attributes) => attributes.get(name),
            Headers::EventBridge(trace) => payload::object_get(trace, name),
        }
    }

    /// The header names, each once in any case.
    pub(super) fn keys(self) -> Vec<&'a str> {
        match self {
            Headers::Sns(attributes) => attributes.keys(),
            Headers::EventBridge(trace) => payload::object_keys(trace),
        }
    }
}

/// The headers of `event` when it is SNS- or EventBridge-shaped.
pub(super) fn headers(event: &Value) -> Option<Headers<'_>> {
    if record_source(event) == Some("aws:sns") {
        let sns = super::json::first_record_object(event)?.get("Sns")?;
        return sns
            .get("MessageAttributes")?
            .as_object()
            .map(|a| Headers::Sns(SnsAttributes(a)));
    }
    if is_eventbridge(event) {
        let trace = event.get("detail")?.get(TRACE_FIELD)?;
        return trace.as_object().map(Headers::EventBridge);
    }
    None
}

/// One SNS-shaped record's message attributes (`Records[i].Sns.MessageAttributes`), read as
/// the typed `SnsRecord` carrier reads them: the `Value` of each `String` attribute under its
/// name.
#[derive(Debug, Clone, Copy)]
pub(super) struct SnsAttributes<'a>(&'a Map<String, Value>);

impl<'a> SnsAttributes<'a> {
    /// The text value of an attribute (`{"Type": "String", "Value": …}`).
    fn text(attribute: &'a Value) -> Option<&'a str> {
        let string = attribute
            .get("Type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("String"));
        attribute
            .get("Value")
            .and_then(Value::as_str)
            .filter(|_| string)
    }

    fn get(self, name: &str) -> Option<&'a str> {
        match self.0.get(name).and_then(Self::text) {
            Some(v) => Some(v),
            None => self
                .0
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .find_map(|(_, v)| Self::text(v)),
        }
    }

    fn keys(self) -> Vec<&'a str> {
        let mut keys: Vec<&'a str> = Vec::new();
        for (k, v) in self.0 {
            if Self::text(v).is_some() && !keys.iter().any(|seen| seen.eq_ignore_ascii_case(k)) {
                keys.push(k);
            }
        }
        keys
    }
}

impl Extractor for SnsAttributes<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        SnsAttributes::get(*self, name)
    }

    fn keys(&self) -> Vec<&str> {
        SnsAttributes::keys(*self)
    }
}

/// `true` for an EventBridge-shaped event (`source`, `detail-type` and `detail`).
fn is_eventbridge(event: &Value) -> bool {
    event.get("source").is_some_and(Value::is_string)
        && event.get("detail-type").is_some_and(Value::is_string)
        && event.get("detail").is_some()
}

/// The records of an SNS or DynamoDB Streams-shaped event, each read as the typed carrier
/// reads one (not Kinesis records: see the module docs).
pub(super) fn messages(event: &Value, visit: &mut dyn FnMut(&dyn Extractor)) {
    let records = event.get("Records").and_then(Value::as_array);
    let records = records.into_iter().flatten().filter_map(Value::as_object);
    match record_source(event) {
        Some("aws:sns") => {
            let empty = Map::new();
            for record in records {
                let attributes = record.get("Sns").and_then(|s| s.get("MessageAttributes"));
                visit(&SnsAttributes(
                    attributes.and_then(Value::as_object).unwrap_or(&empty),
                ));
            }
        }
        Some("aws:dynamodb") => {
            for record in records {
                let trace = record
                    .get("dynamodb")
                    .and_then(|d| d.get("NewImage"))
                    .and_then(|i| i.get(TRACE_FIELD));
                visit(
                    &trace
                        .map(TraceFields::from_dynamodb_map)
                        .unwrap_or_default(),
                );
            }
        }
        _ => {}
    }
}

/// The request data of an SNS, Kinesis, DynamoDB Streams, S3 or EventBridge-shaped event, from
/// the fields its typed carrier reads (times as the event writes them); `None` for others.
pub(super) fn request_info(event: &Value) -> Option<RequestInfo> {
    let s = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    let records = event.get("Records").and_then(Value::as_array);
    let count = records.map_or(0, Vec::len);
    let info = match record_source(event) {
        Some("aws:sns") => sns::request_info(
            s("/Records/0/Sns/TopicArn"),
            s("/Records/0/Sns/MessageId"),
            count,
        ),
        Some("aws:kinesis") => kinesis::request_info(s("/Records/0/eventSourceARN"), count),
        Some("aws:dynamodb") => {
            let table = s("/Records/0/eventSourceARN")
                .and_then(dynamodb::table_name)
                .or_else(|| s("/Records/0/tableName"));
            let names = records.into_iter().flatten().map(|r| {
                r.get("eventName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            });
            dynamodb::request_info(count, table, names)
        }
        Some("aws:s3") => s3::request_info(
            s("/Records/0/s3/bucket/name"),
            s("/Records/0/s3/object/key"),
            s("/Records/0/eventName"),
            s("/Records/0/eventTime").map(str::to_owned),
        ),
        None if is_eventbridge(event) => eventbridge::request_info(
            s("/source").unwrap_or_default(),
            s("/detail-type").unwrap_or_default(),
            s("/id"),
            s("/time").map(str::to_owned),
            s("/resources/0"),
        ),
        _ => return None,
    };
    Some(info)
}
