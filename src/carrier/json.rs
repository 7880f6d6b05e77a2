//! Raw events: [`serde_json::Value`].
//!
//! Functions that take `LambdaEvent<Value>` still get their caller's context. The carrier reads:
//!
//! - `multiValueHeaders` (an object of arrays of strings; API Gateway v1, ALB) and, for names it
//!   lacks, `headers` (an object of strings; every HTTP shape). Names match in any case, and all
//!   keys that match are read (so `Traceparent` and `traceparent` both count). Values of any
//!   other JSON type are ignored.
//! - For SQS-shaped events (`Records` an array, as the typed carriers take it) with no such
//!   header, the first record's `attributes.AWSTraceHeader` as `x-amzn-trace-id` and
//!   (`eventSource` `aws:sqs`) the `stringValue` of its `messageAttributes` under their names,
//!   as the typed SQS carrier does (the first record is the parent); every record is offered as
//!   a message ([`EventCarrier::messages`]: links), and the request data has the batch's
//!   messaging data.
//! - With feature `event-sources`, the other shapes the typed carriers know, read as they read
//!   them (`json_sources.rs`): SNS (`eventSource`
//!   `aws:sns`: the first record's `String` message attributes; every record a message),
//!   EventBridge (`source`, `detail-type`, `detail`: `detail._trace`), DynamoDB Streams
//!   (every record's `NewImage._trace` a message), S3 (no headers). Kinesis events get their
//!   request data but no headers and no links: a record's data is base64 here (use the typed
//!   `KinesisEvent`). The request data is the typed carrier's, from the same fields, with
//!   times recorded as the event writes them.
//!
//! Request data is taken the same way as by the typed carriers, so a typed event and the same
//! JSON as a `Value` record the same thing: events with `httpMethod` are read as API Gateway
//! v1 / ALB, events with `requestContext.http.method` as API Gateway v2 / Function URL. Other
//! events get no HTTP data and a trigger from their shape: `Records[0].eventSource` `aws:sqs`,
//! `aws:sns`, `aws:kinesis` → pubsub, `aws:s3`, `aws:dynamodb` → datasource; EventBridge
//! `Scheduled Event` → timer, other EventBridge events → pubsub; anything else → other.
//!
//! No JSON shape makes it panic: every step is a checked lookup.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::request::{RawHttp, route_from_key};
use super::{EventCarrier, MessagingInfo, RequestInfo, Trigger};
use crate::propagation::{Caseless, Extractor, starts_with_ignore_case};
use crate::redact::query_from_pairs;

/// The header name under which an SQS record's `AWSTraceHeader` attribute is presented.
const XRAY_HEADER: &str = "x-amzn-trace-id";
/// The SQS system attribute that carries the X-Ray header.
const TRACE_ATTRIBUTE: &str = "AWSTraceHeader";

/// The object under `field` of `event`, if both are objects.
fn object<'a>(event: &'a Value, field: &str) -> Option<&'a Map<String, Value>> {
    event.as_object()?.get(field)?.as_object()
}

/// The values of every key of `map` equal to `name` in any case.
fn matching<'a>(
    map: Option<&'a Map<String, Value>>,
    name: &str,
) -> impl Iterator<Item = &'a Value> {
    map.into_iter()
        .flatten()
        .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The string values of `multiValueHeaders[name]`.
fn multi_values<'a>(event: &'a Value, name: &str) -> Vec<&'a str> {
    matching(object(event, "multiValueHeaders"), name)
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The string values of `headers[name]`.
fn single_values<'a>(event: &'a Value, name: &str) -> Vec<&'a str> {
    matching(object(event, "headers"), name)
        .filter_map(Value::as_str)
        .collect()
}

/// `Records[0].attributes.AWSTraceHeader` (exact name first, then any case).
fn sqs_trace_header(event: &Value) -> Option<&str> {
    first_record(event)?.get(XRAY_HEADER)
}

/// `Records[0]` of an event, when `Records` is an array and its first element an object.
///
/// A direct lookup: `Value::pointer("/Records/0")` parses its path (two `String`s per step) on
/// every call, and this is asked on every header lookup of a raw event (27 % of a fuzz
/// target's time). Unlike the pointer, it takes no object with a key `"0"` for `Records`: no
/// event has that shape, the typed carriers reject it, and `messages` never read it.
pub(super) fn first_record_object(event: &Value) -> Option<&Map<String, Value>> {
    event
        .as_object()?
        .get("Records")?
        .as_array()?
        .first()?
        .as_object()
}

/// `Records[0].{field}` as a string, when `Records[0]` is an object ([`first_record_object`]).
pub(super) fn record_str<'a>(event: &'a Value, field: &str) -> Option<&'a str> {
    first_record_object(event)?.get(field)?.as_str()
}

/// `Records[0]` of an SQS-shaped event, as a record carrier.
fn first_record(event: &Value) -> Option<SqsRecord<'_>> {
    first_record_object(event).map(SqsRecord)
}

/// One SQS-shaped record of a JSON event (`Records[i]`), read as the typed
/// [`SqsMessage`](aws_lambda_events::sqs::SqsMessage) carrier reads one: `attributes.AWSTraceHeader`
/// as `x-amzn-trace-id`, and the `stringValue` of each `messageAttributes` entry under its name.
#[derive(Debug, Clone, Copy)]
struct SqsRecord<'a>(&'a Map<String, Value>);

impl<'a> SqsRecord<'a> {
    fn trace_header(self) -> Option<&'a str> {
        let attributes = self.0.get("attributes")?.as_object()?;
        attributes
            .get(TRACE_ATTRIBUTE)
            .or_else(|| matching(Some(attributes), TRACE_ATTRIBUTE).next())?
            .as_str()
    }

    fn message_attributes(self) -> Option<&'a Map<String, Value>> {
        self.0.get("messageAttributes")?.as_object()
    }

    fn get(self, name: &str) -> Option<&'a str> {
        if name.eq_ignore_ascii_case(XRAY_HEADER)
            && let Some(header) = self.trace_header()
        {
            return Some(header);
        }
        let attributes = self.message_attributes()?;
        attributes
            .get(name)
            .or_else(|| matching(Some(attributes), name).next())?
            .get("stringValue")?
            .as_str()
    }

    fn keys(self) -> Vec<&'a str> {
        let mut keys: Vec<&'a str> = self
            .trace_header()
            .map(|_| XRAY_HEADER)
            .into_iter()
            .collect();
        let has_xray = !keys.is_empty();
        keys.extend(
            self.message_attributes()
                .into_iter()
                .flatten()
                .filter(|(k, v)| {
                    v.get("stringValue").is_some_and(Value::is_string)
                        && !(has_xray && k.eq_ignore_ascii_case(XRAY_HEADER))
                })
                .map(|(k, _)| k.as_str()),
        );
        keys
    }
}

impl Extractor for SqsRecord<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        SqsRecord::get(*self, name)
    }

    fn keys(&self) -> Vec<&str> {
        SqsRecord::keys(*self)
    }
}

/// The names of `multiValueHeaders` with a string value, then of `headers` with a string value
/// (repeats and case variants included).
fn header_names(event: &Value) -> impl Iterator<Item = &str> {
    let multi = object(event, "multiValueHeaders")
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.as_array().is_some_and(|a| a.iter().any(Value::is_string)));
    let single = object(event, "headers")
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.is_string());
    multi.chain(single).map(|(k, _)| k.as_str())
}

/// `true` for an SQS-shaped event (`Records[0].eventSource` is `aws:sqs`).
fn is_sqs(event: &Value) -> bool {
    record_str(event, "eventSource") == Some("aws:sqs")
}

/// The header names of the other shapes' headers (SNS, EventBridge), with feature
/// `event-sources`.
fn other_keys(event: &Value) -> Option<Vec<&str>> {
    #[cfg(feature = "event-sources")]
    return super::json_sources::headers(event).map(super::json_sources::Headers::keys);
    #[cfg(not(feature = "event-sources"))]
    {
        let _ = event;
        None
    }
}

/// The names [`Extractor::keys`] lists for `event` that `keep` accepts, in the same order.
/// `keep` must accept every case of a name it accepts (as a prefix in any case does): the names
/// it leaves out are never gathered, and a name is listed once in any case.
fn keys_where(event: &Value, keep: impl Fn(&str) -> bool) -> Vec<&str> {
    // Each name once in any case, through a hash set (not a scan of the names gathered so
    // far: thousands of headers must not cost a quadratic number of comparisons).
    let mut seen = HashSet::new();
    let mut keys: Vec<&str> = Vec::new();
    for k in header_names(event).filter(|k| keep(k)) {
        if seen.insert(Caseless(k)) {
            keys.push(k);
        }
    }
    if keep(XRAY_HEADER)
        && !seen.contains(&Caseless(XRAY_HEADER))
        && sqs_trace_header(event).is_some()
    {
        seen.insert(Caseless(XRAY_HEADER));
        keys.push(XRAY_HEADER);
    }
    let shaped = if is_sqs(event) {
        first_record(event).map(SqsRecord::keys)
    } else {
        other_keys(event)
    };
    for k in shaped.into_iter().flatten().filter(|k| keep(k)) {
        if seen.insert(Caseless(k)) {
            keys.push(k);
        }
    }
    keys
}

impl Extractor for Value {
    fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).into_iter().next()
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        let values = multi_values(self, name);
        if !values.is_empty() {
            return values;
        }
        let values = single_values(self, name);
        if !values.is_empty() {
            return values;
        }
        if name.eq_ignore_ascii_case(XRAY_HEADER)
            && let Some(header) = sqs_trace_header(self)
        {
            return vec![header];
        }
        #[cfg(feature = "event-sources")]
        if let Some(headers) = super::json_sources::headers(self) {
            return headers.get(name).into_iter().collect();
        }
        match first_record(self) {
            Some(record) if is_sqs(self) => record.get(name).into_iter().collect(),
            _ => Vec::new(),
        }
    }

    fn keys(&self) -> Vec<&str> {
        keys_where(self, |_| true)
    }

    /// A scan of the same names as [`keys`](Extractor::keys), without gathering them: the
    /// baggage formats ask it for every event (`uberctx-`, `ot-baggage-`), and a set of every
    /// name per question was the most of a JSON event's extraction.
    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        let starts = |k: &str| crate::propagation::starts_with_ignore_case(k, prefix);
        if header_names(self).any(starts) {
            return true;
        }
        if starts(XRAY_HEADER) && sqs_trace_header(self).is_some() {
            return true;
        }
        if let Some(keys) = other_keys(self) {
            return keys.into_iter().any(starts);
        }
        is_sqs(self)
            && first_record(self).is_some_and(|record| record.keys().into_iter().any(starts))
    }

    /// One pass over each header map: the prefixed names of `multiValueHeaders` and `headers`
    /// grouped in any case, then the names as [`keys`](Extractor::keys) lists them, each with
    /// [`get_all`](Extractor::get_all)'s answer taken from the groups. (A lookup per name was
    /// a scan of both maps: 45–60 % of the `jaeger` fuzz target's time.) A name that neither
    /// map holds as a string (an SQS message attribute, an SNS one) is looked up as before.
    fn for_each_with_prefix(&self, prefix: &str, max: usize, visit: &mut dyn FnMut(&str, &[&str])) {
        if !self.has_key_with_prefix(prefix) {
            return;
        }
        let group = |field: &str, strings: fn(&Value) -> Vec<&str>| {
            let mut groups: HashMap<Caseless<'_>, Vec<&str>> = HashMap::new();
            for (k, v) in object(self, field).into_iter().flatten() {
                if starts_with_ignore_case(k, prefix) {
                    groups.entry(Caseless(k)).or_default().extend(strings(v));
                }
            }
            groups
        };
        let multi = group("multiValueHeaders", |v| {
            v.as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        });
        let single = group("headers", |v| v.as_str().into_iter().collect());
        let keys = keys_where(self, |k| starts_with_ignore_case(k, prefix));
        for name in keys.into_iter().take(max) {
            let key = Caseless(name);
            let found = [&multi, &single]
                .into_iter()
                .find_map(|groups| groups.get(&key).filter(|v| !v.is_empty()));
            match found {
                Some(values) => visit(name, values),
                None => visit(name, &self.get_all(name)),
            }
        }
    }
}

impl EventCarrier for Value {
    fn request_info(&self) -> RequestInfo {
        let s = |pointer: &str| self.pointer(pointer).and_then(Value::as_str);
        let header = |name: &str| Extractor::get(self, name);
        let raw = if let Some(method) = s("/httpMethod") {
            // API Gateway v1 (REST) or ALB.
            RawHttp {
                method: Some(method),
                path: s("/path"),
                route: s("/resource").or_else(|| s("/requestContext/resourcePath")),
                user_agent: s("/requestContext/identity/userAgent")
                    .or_else(|| header("user-agent")),
                source_ip: s("/requestContext/identity/sourceIp"),
                forwarded_for: header("x-forwarded-for"),
            }
        } else if let Some(method) = s("/requestContext/http/method") {
            // API Gateway v2 (HTTP API) or Function URL.
            RawHttp {
                method: Some(method),
                path: s("/rawPath").or_else(|| s("/requestContext/http/path")),
                route: s("/routeKey")
                    .or_else(|| s("/requestContext/routeKey"))
                    .and_then(route_from_key),
                user_agent: s("/requestContext/http/userAgent").or_else(|| header("user-agent")),
                source_ip: s("/requestContext/http/sourceIp"),
                forwarded_for: header("x-forwarded-for"),
            }
        } else {
            return shaped_request_info(self);
        };
        RequestInfo {
            trigger: Trigger::Http,
            http: Some(raw.into_info()),
            messaging: None,
            attributes: Vec::new(),
        }
    }

    /// The records of an SQS-shaped event (`Records[*]`, `eventSource` `aws:sqs`), each read
    /// as the typed carrier reads an `SqsMessage`; with feature `event-sources`, those of SNS
    /// and DynamoDB Streams-shaped events too.
    fn messages(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
        if !is_sqs(self) {
            #[cfg(feature = "event-sources")]
            super::json_sources::messages(self, visit);
            return;
        }
        let records = self.get("Records").and_then(Value::as_array);
        for record in records.into_iter().flatten().filter_map(Value::as_object) {
            visit(&SqsRecord(record));
        }
    }

    /// `rawQueryString` (API Gateway v2, Function URL shapes), else rebuilt from
    /// `multiValueQueryStringParameters` / `queryStringParameters` as the typed v1 and ALB
    /// carriers do (re-encoded unless the event is ALB-shaped, `requestContext.elb`).
    fn raw_query(&self) -> Option<Cow<'_, str>> {
        if let Some(raw) = self
            .get("rawQueryString")
            .and_then(Value::as_str)
            .filter(|q| !q.is_empty())
        {
            return Some(Cow::Borrowed(raw));
        }
        let encode = self.pointer("/requestContext/elb").is_none();
        let pairs: Vec<(&str, &str)> = match (
            object(self, "multiValueQueryStringParameters"),
            object(self, "queryStringParameters"),
        ) {
            (Some(multi), _) if !multi.is_empty() => multi
                .iter()
                .flat_map(|(k, v)| {
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(move |v| (k.as_str(), v))
                })
                .collect(),
            (_, Some(single)) => single
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_str()?)))
                .collect(),
            _ => return None,
        };
        query_from_pairs(pairs.into_iter(), encode).map(Cow::Owned)
    }
}

/// The request data of a non-HTTP event from its shape, as the typed carrier of that shape
/// gives it.
fn shaped_request_info(event: &Value) -> RequestInfo {
    if is_sqs(event) {
        return RequestInfo {
            trigger: Trigger::PubSub,
            http: None,
            messaging: sqs_messaging(event),
            attributes: Vec::new(),
        };
    }
    #[cfg(feature = "event-sources")]
    if let Some(info) = super::json_sources::request_info(event) {
        return info;
    }
    RequestInfo::new(trigger_of(event))
}

/// The messaging data of an SQS-shaped event, as the typed SQS carrier gives it.
fn sqs_messaging(event: &Value) -> Option<MessagingInfo> {
    if !is_sqs(event) {
        return None;
    }
    let records = event.get("Records")?.as_array()?;
    let destination = event
        .pointer("/Records/0/eventSourceARN")
        .and_then(Value::as_str)
        .and_then(super::sqs::queue_name)
        .and_then(|name| super::request::capped(name, super::sqs::MAX_QUEUE_NAME_CHARS));
    Some(MessagingInfo {
        system: Cow::Borrowed(super::sqs::SQS_SYSTEM),
        destination,
        message_count: records.len(),
    })
}

/// The trigger of a non-HTTP event, from its shape.
fn trigger_of(event: &Value) -> Trigger {
    let s = |pointer: &str| event.pointer(pointer).and_then(Value::as_str);
    let source = record_str(event, "eventSource").or_else(|| record_str(event, "EventSource"));
    if let Some(source) = source {
        return match source {
            "aws:sqs" | "aws:sns" | "aws:kinesis" => Trigger::PubSub,
            "aws:s3" | "aws:dynamodb" => Trigger::Datasource,
            _ => Trigger::Other,
        };
    }
    match (s("/source"), s("/detail-type")) {
        (Some("aws.events" | "aws.scheduler"), Some("Scheduled Event")) => Trigger::Timer,
        (Some(_), Some(_)) => Trigger::PubSub,
        _ => Trigger::Other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::carrier::from_event;

    fn event(json: &str) -> Value {
        serde_json::from_str(json).expect("fixture is JSON")
    }

    #[test]
    fn reads_both_header_maps_in_any_case() {
        let e = json!({
            "headers": {"Traceparent": "single", "B3": "0", "x-count": 3},
            "multiValueHeaders": {"TRACEPARENT": ["first", 7, "second"], "x-odd": "not an array"}
        });
        assert_eq!(e.get_all("traceparent"), ["first", "second"]);
        assert_eq!(Extractor::get(&e, "traceparent"), Some("first"));
        assert_eq!(Extractor::get(&e, "b3"), Some("0"));
        assert_eq!(Extractor::get(&e, "x-count"), None, "non-string ignored");
        assert_eq!(Extractor::get(&e, "x-odd"), None);
        assert_eq!(e.keys(), ["TRACEPARENT", "B3"]);
    }

    #[test]
    fn fixtures_read_like_the_typed_carriers() {
        let e = event(include_str!("../../events/apigw-v1-order.json"));
        let carrier = from_event(&e).expect("Value is a carrier");
        assert_eq!(
            carrier.get("x-amzn-trace-id"),
            Some("Root=1-66f1d2a0-4c0e3b1f9a8d7e6c5b4a3f21;Parent=53995c3f42cd8ad8;Sampled=1")
        );
        let info = carrier.request_info();
        assert_eq!(info.trigger, Trigger::Http);
        let http = info.http.unwrap();
        assert_eq!(http.method.as_deref(), Some("POST"));
        assert_eq!(http.url.as_deref(), Some("/orders"));
        assert_eq!(http.route.as_deref(), Some("/orders"));
        assert_eq!(http.client_ip.as_deref(), Some("203.0.113.10"));

        let e = event(include_str!("../../events/apigw-v2-w3c.json"));
        let http = e.request_info().http.unwrap();
        assert_eq!(http.route.as_deref(), Some("/ot-gen"));
        assert_eq!(http.client_ip.as_deref(), Some("203.0.113.40"));

        let e = event(include_str!("../../events/sqs-xray.json"));
        assert_eq!(
            Extractor::get(&e, "X-Amzn-Trace-Id"),
            Some("Root=1-63441c4a-abcdef012345678912345678;Parent=4a6b8c0d2e4f6a8c;Sampled=1")
        );
        assert_eq!(e.keys(), ["x-amzn-trace-id"]);
        assert_eq!(e.request_info().trigger, Trigger::PubSub);
    }

    #[test]
    fn triggers_of_other_shapes() {
        let cases = [
            (
                json!({"Records": [{"EventSource": "aws:sns"}]}),
                Trigger::PubSub,
            ),
            (
                json!({"Records": [{"eventSource": "aws:s3"}]}),
                Trigger::Datasource,
            ),
            (
                json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
                Trigger::Timer,
            ),
            (
                json!({"source": "shop", "detail-type": "OrderPlaced"}),
                Trigger::PubSub,
            ),
            (json!({"example": "request"}), Trigger::Other),
        ];
        for (e, trigger) in cases {
            let info = e.request_info();
            assert_eq!((info.trigger, info.http), (trigger, None), "{e}");
        }
    }

    #[test]
    fn never_panics_on_odd_shapes() {
        let shapes = [
            json!(null),
            json!(42),
            json!("headers"),
            json!([{"headers": {"traceparent": "x"}}]),
            json!({"headers": null, "multiValueHeaders": []}),
            json!({"headers": ["traceparent"], "multiValueHeaders": {"traceparent": [[1], {}]}}),
            json!({"httpMethod": 1, "requestContext": {"http": {"method": ["GET"]}}}),
            json!({"httpMethod": "GET", "path": {}, "requestContext": 3}),
            json!({"requestContext": {"http": {"method": "GET"}}, "routeKey": 5}),
            json!({"Records": {"0": {"attributes": {"AWSTraceHeader": 1}}}}),
            json!({"Records": [{"attributes": {"AWSTraceHeader": 1}}]}),
            json!({"Records": [null]}),
        ];
        for e in shapes {
            let _ = (
                Extractor::get(&e, "traceparent"),
                e.get_all("x-amzn-trace-id"),
            );
            let _ = (e.keys(), e.request_info());
        }
        let e = json!({"httpMethod": "GET"});
        let http = e.request_info().http.unwrap();
        assert_eq!(http.method.as_deref(), Some("GET"));
        assert_eq!((http.url, http.route, http.client_ip), (None, None, None));
    }

    #[test]
    fn records_are_read_from_an_array_only() {
        let record = json!({"eventSource": "aws:sqs", "attributes": {"AWSTraceHeader": "Root=1"}});
        let array = json!({ "Records": [record] });
        assert_eq!(Extractor::get(&array, "x-amzn-trace-id"), Some("Root=1"));
        assert_eq!(array.request_info().trigger, Trigger::PubSub);
        // What `Value::pointer("/Records/0")` also took; the typed `SqsEvent` rejects it.
        let object = json!({ "Records": {"0": record} });
        assert!(
            serde_json::from_value::<aws_lambda_events::sqs::SqsEvent>(object.clone()).is_err()
        );
        assert_eq!(Extractor::get(&object, "x-amzn-trace-id"), None);
        assert_eq!(object.keys(), Vec::<&str>::new());
        assert_eq!(object.request_info().trigger, Trigger::Other);
    }

    #[test]
    fn prefix_questions_agree_with_the_names() {
        let events = [
            json!({"headers": {"UberCtx-user": "a", "x": "y"}}),
            json!({"headers": {"uberctx-": "a"}}),
            json!({"headers": {"uberctx-user": 5}}),
            json!({"multiValueHeaders": {"OT-Baggage-k": ["v"]}, "headers": {"a": "b"}}),
            json!({"multiValueHeaders": {"ot-baggage-k": [1]}}),
            json!({"Records": [{"eventSource": "aws:sqs", "attributes": {"AWSTraceHeader": "Root=1"},
                "messageAttributes": {"uberctx-tenant": {"stringValue": "t", "dataType": "String"}}}]}),
            json!({"Records": [{"eventSource": "aws:sns"}]}),
            json!([1, 2]),
            json!(null),
        ];
        for event in &events {
            for prefix in ["uberctx-", "ot-baggage-", "x-amzn-", "x", "zz"] {
                let by_names = event
                    .keys()
                    .iter()
                    .any(|k| crate::propagation::starts_with_ignore_case(k, prefix));
                assert_eq!(
                    event.has_key_with_prefix(prefix),
                    by_names,
                    "{prefix} in {event}"
                );
            }
        }
    }
}
