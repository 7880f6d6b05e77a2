//! Trace context that a producer put **in the message itself**: the `_trace` convention.
//!
//! Kinesis records, DynamoDB stream records and EventBridge events have no headers: the AWS
//! service passes its X-Ray header, if at all, to the Lambda invocation (Lambda's own header),
//! never into the event. A producer that wants its consumer to continue (or link to) its trace
//! writes its context into the payload, and this crate reads it there:
//!
//! | source | where | shape |
//! |---|---|---|
//! | Kinesis | the record's `data`, when it is a JSON object | a top-level member `"_trace"`: an object of header name → string value |
//! | EventBridge | the event's `detail` (a JSON object) | `detail._trace`, the same object |
//! | DynamoDB Streams | the record's `NewImage` | an item attribute `_trace` of type map (`M`) whose members are strings (`S`) |
//!
//! ```json
//! {"orderId": "o-1001", "_trace": {"traceparent": "00-…-…-01", "tracestate": "shop=order"}}
//! ```
//!
//! The members are headers under their names (in any case): `traceparent` and `tracestate`
//! (W3C), `x-amzn-trace-id` (X-Ray), `b3`, `baggage`, … — whatever the layer's propagators read,
//! in their order, exactly as for HTTP headers. Write them with
//! [`Span::inject_into`](crate::Span::inject_into) into a map on the producer side.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use lambda_trace::carrier::payload::TRACE_FIELD;
//!
//! // The producer: the current span's context, in the layer's formats, into the record.
//! let mut headers: HashMap<String, String> = HashMap::new();
//! lambda_trace::current().inject_into(&mut headers); // (nothing outside an invocation)
//! let mut record = serde_json::json!({"orderId": "o-1001"});
//! record[TRACE_FIELD] = serde_json::json!(headers);
//! // `record.to_string()` is the Kinesis record's data, the EventBridge entry's `Detail`, …
//! assert!(record[TRACE_FIELD].is_object());
//! ```
//!
//! Reading is cheap and never fails anything:
//!
//! - a payload over [`MAX_PAYLOAD_BYTES`] is not read (one debug log line per process), nor one
//!   that does not start with `{` (binary, text, arrays);
//! - the payload is scanned only **up to** `_trace` (other members are skipped, not built), so
//!   a producer that writes `_trace` first costs the least; a payload that is not valid JSON
//!   after it still gives its context, one that is invalid before it gives none;
//! - at most [`MAX_TRACE_FIELDS`] string members of `_trace` are read; other member types are
//!   skipped; values are raw, and the propagators apply their length caps as for any header.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::propagation::{Extractor, starts_with_ignore_case};

/// The member (or DynamoDB attribute) that holds the producer's headers.
pub const TRACE_FIELD: &str = "_trace";
/// Largest payload read for a `_trace` member, in bytes; larger ones carry no context.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Most members of a `_trace` object read.
pub const MAX_TRACE_FIELDS: usize = 16;

static OVERSIZE_LOGGED: AtomicBool = AtomicBool::new(false);

/// `true` when `payload` may be read: small enough (else logged once per process) and a JSON
/// object by its first byte.
fn readable(payload: &[u8]) -> bool {
    if payload.len() > MAX_PAYLOAD_BYTES {
        if !OVERSIZE_LOGGED.swap(true, Ordering::Relaxed) {
            tracing::debug!(
                target: "lambda_trace",
                size = payload.len(),
                "a message payload over {MAX_PAYLOAD_BYTES} bytes is not read for trace context \
                 (logged once)"
            );
        }
        return false;
    }
    payload
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{')
}

/// Calls `field` with each string member of `payload`'s top-level `_trace` object, in order, at
/// most [`MAX_TRACE_FIELDS`], until it returns `false`. Names and values are borrowed from
/// `payload` when they hold no JSON escapes. Nothing for payloads that are not readable.
pub(crate) fn for_each_field<'a>(
    payload: &'a [u8],
    field: &mut dyn FnMut(Cow<'a, str>, Cow<'a, str>) -> bool,
) {
    if !readable(payload) {
        return;
    }
    let mut de = serde_json::Deserializer::from_slice(payload);
    // The scan stops right after `_trace` on purpose, which the deserializer reports as an error
    // (the object is not closed): what was found is already handed to `field`.
    let _ = Top { field }.deserialize(&mut de);
}

/// The value of header `name` in `payload`'s `_trace` (first match in any case), when it is
/// borrowed (holds no JSON escape: no valid trace header needs one).
pub(crate) fn get<'a>(payload: &'a [u8], name: &str) -> Option<&'a str> {
    let mut found = None;
    for_each_field(payload, &mut |k, v| {
        if !k.eq_ignore_ascii_case(name) {
            return true;
        }
        if let Cow::Borrowed(v) = v {
            found = Some(v);
        }
        false
    });
    found
}

/// The names of `payload`'s `_trace` members, each once in any case (borrowed ones only).
pub(crate) fn keys(payload: &[u8]) -> Vec<&str> {
    let mut keys: Vec<&str> = Vec::new();
    for_each_field(payload, &mut |k, _| {
        if let Cow::Borrowed(k) = k
            && !keys.iter().any(|seen| seen.eq_ignore_ascii_case(k))
        {
            keys.push(k);
        }
        true
    });
    keys
}

/// The headers of one message read from its payload: owned or borrowed pairs, at most
/// [`MAX_TRACE_FIELDS`]; names match in any case.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TraceFields<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> TraceFields<'a> {
    /// The `_trace` members of a JSON payload (Kinesis record data).
    pub(crate) fn from_payload(payload: &'a [u8]) -> Self {
        let mut fields = Vec::new();
        for_each_field(payload, &mut |k, v| {
            fields.push((k, v));
            true
        });
        Self(fields)
    }

    /// The members of a DynamoDB map attribute in its JSON form (`{"M": {"name": {"S": "v"}}}`).
    pub(crate) fn from_dynamodb_map(attribute: &'a Value) -> Self {
        let members = attribute.get("M").and_then(Value::as_object);
        TraceFields(
            members
                .into_iter()
                .flatten()
                .filter_map(|(k, v)| {
                    let s = v.get("S")?.as_str()?;
                    Some((Cow::Borrowed(k.as_str()), Cow::Borrowed(s)))
                })
                .take(MAX_TRACE_FIELDS)
                .collect(),
        )
    }

    /// The same fields, owned.
    pub(crate) fn into_owned(self) -> TraceFields<'static> {
        TraceFields(
            self.0
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
        )
    }

    /// `true` when no member was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Extractor for TraceFields<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = Vec::with_capacity(self.0.len());
        for (k, _) in &self.0 {
            if !keys.iter().any(|seen| seen.eq_ignore_ascii_case(k)) {
                keys.push(k);
            }
        }
        keys
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        self.0
            .iter()
            .any(|(k, _)| starts_with_ignore_case(k, prefix))
    }
}

/// The string value of member `name` of a JSON object (exact name first, then any case).
pub(crate) fn object_get<'a>(object: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    object
        .get(name)
        .or_else(|| {
            object
                .iter()
                .take(MAX_TRACE_FIELDS)
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })?
        .as_str()
}

/// The names of a JSON object's string members, each once in any case, at most
/// [`MAX_TRACE_FIELDS`] members considered.
pub(crate) fn object_keys(object: &Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = Vec::new();
    for (k, v) in object.iter().take(MAX_TRACE_FIELDS) {
        if v.is_string() && !keys.iter().any(|seen| seen.eq_ignore_ascii_case(k)) {
            keys.push(k);
        }
    }
    keys
}

/// The top-level object: skips members until `_trace`, reads it, and stops.
struct Top<'f, 'a> {
    field: &'f mut dyn FnMut(Cow<'a, str>, Cow<'a, str>) -> bool,
}

impl<'de, 'f> DeserializeSeed<'de> for Top<'f, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, 'f> Visitor<'de> for Top<'f, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if key == TRACE_FIELD {
                return map.next_value_seed(Fields { field: self.field });
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }
}

/// The `_trace` object: hands its string members to `field`.
struct Fields<'f, 'a> {
    field: &'f mut dyn FnMut(Cow<'a, str>, Cow<'a, str>) -> bool,
}

impl<'de, 'f> DeserializeSeed<'de> for Fields<'f, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // Anything but an object: no fields (skipped, not an error).
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'f> Visitor<'de> for Fields<'f, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of trace headers")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let mut read = 0;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if let MaybeText(Some(value)) = map.next_value::<MaybeText<'de>>()? {
                read += 1;
                if !(self.field)(key, value) || read == MAX_TRACE_FIELDS {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A JSON string, borrowed from the input when it holds no escape.
struct Text<'a>(Cow<'a, str>);

/// Any JSON value: a string's text (as [`Text`]), else `None` (the value is skipped).
struct MaybeText<'a>(Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for MaybeText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnyVisitor;

        impl<'de> Visitor<'de> for AnyVisitor {
            type Value = MaybeText<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(Some(Cow::Borrowed(v))))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(Some(Cow::Owned(v.to_owned()))))
            }

            fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }

            fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }

            fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }

            fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }

            fn visit_unit<E: de::Error>(self) -> Result<MaybeText<'de>, E> {
                Ok(MaybeText(None))
            }

            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<MaybeText<'de>, S::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeText(None))
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<MaybeText<'de>, M::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(MaybeText(None))
            }
        }

        deserializer.deserialize_any(AnyVisitor)
    }
}

impl<'de> de::Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;

        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn fields(payload: &str) -> Vec<(String, String)> {
        TraceFields::from_payload(payload.as_bytes())
            .0
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    #[test]
    fn reads_the_trace_member_wherever_it_is() {
        let first = format!(r#"{{"_trace": {{"traceparent": "{TP}", "n": 5}}, "orderId": "o-1"}}"#);
        let last = format!(
            r#"{{"orderId": "o-1", "items": [{{"sku": "a", "q": [1, 2, {{"x": null}}]}}], "_trace": {{"TraceParent": "{TP}"}}}}"#
        );
        assert_eq!(fields(&first), [("traceparent".into(), TP.into())]);
        assert_eq!(fields(&last), [("TraceParent".into(), TP.into())]);
        assert_eq!(get(last.as_bytes(), "traceparent"), Some(TP));
        assert_eq!(keys(last.as_bytes()), ["TraceParent"]);
        // Invalid after `_trace`: the context is read all the same.
        let broken = format!(r#" {{"_trace": {{"traceparent": "{TP}"}}, "rest": [1, 2"#);
        assert_eq!(get(broken.as_bytes(), "TRACEPARENT"), Some(TP));
    }

    #[test]
    fn anything_else_is_no_context() {
        let cases = [
            "",
            "   ",
            "not json",
            "[1, 2]",
            "\"_trace\"",
            "{}",
            r#"{"_trace": null}"#,
            r#"{"_trace": "traceparent"}"#,
            r#"{"_trace": [{"traceparent": "x"}]}"#,
            r#"{"_trace": {"traceparent": 7, "b3": {"x": "y"}, "c": [1]}}"#,
            r#"{"orderId": "o-1", "_trace"#,
            r#"{"orderId": , "_trace": {"traceparent": "x"}}"#,
            "\u{1f}\u{8b}\u{8}binary",
        ];
        for payload in cases {
            assert!(fields(payload).is_empty(), "{payload:?}");
            assert_eq!(get(payload.as_bytes(), "traceparent"), None, "{payload:?}");
            assert!(keys(payload.as_bytes()).is_empty(), "{payload:?}");
        }
    }

    #[test]
    fn escaped_values_are_read_owned_and_not_borrowed() {
        let payload = r#"{"_trace": {"baggage": "k=a\/b", "tracestate": "x=1"}}"#;
        assert_eq!(
            fields(payload),
            [
                ("baggage".into(), "k=a/b".into()),
                ("tracestate".into(), "x=1".into())
            ]
        );
        assert_eq!(get(payload.as_bytes(), "baggage"), None);
        assert_eq!(get(payload.as_bytes(), "tracestate"), Some("x=1"));
    }

    #[test]
    fn big_payloads_and_many_members_are_bounded() {
        let padding = "x".repeat(MAX_PAYLOAD_BYTES);
        let big = format!(r#"{{"_trace": {{"traceparent": "{TP}"}}, "pad": "{padding}"}}"#);
        assert!(fields(&big).is_empty(), "over the bound: not read");
        let members: Vec<String> = (0..100).map(|i| format!(r#""h{i}": "v""#)).collect();
        let many = format!(r#"{{"_trace": {{{}}}}}"#, members.join(","));
        assert_eq!(fields(&many).len(), MAX_TRACE_FIELDS);
        let deep = format!(
            "{{\"a\": {}{}, \"_trace\": {{}}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(
            fields(&deep).is_empty(),
            "too deep for the parser: no context, no panic"
        );
    }

    #[test]
    fn extractor_over_fields_and_objects() {
        let f = TraceFields(vec![
            (Cow::Borrowed("TraceParent"), Cow::Borrowed(TP)),
            (Cow::Borrowed("traceparent"), Cow::Borrowed("other")),
            (Cow::Borrowed("uberctx-tenant"), Cow::Borrowed("acme")),
        ]);
        assert_eq!(f.get("traceparent"), Some(TP));
        assert_eq!(f.keys(), ["TraceParent", "uberctx-tenant"]);
        assert!(f.has_key_with_prefix("uberctx-"));
        assert!(!f.has_key_with_prefix("ot-baggage-"));
        let object = serde_json::json!({"Traceparent": TP, "n": 1, "traceparent": "x"});
        let object = object.as_object().unwrap();
        assert_eq!(
            object_get(object, "traceparent"),
            Some("x"),
            "exact name first"
        );
        assert_eq!(object_get(object, "TRACEPARENT"), Some(TP));
        assert_eq!(object_keys(object), ["Traceparent"]);
        let dynamo = serde_json::json!({"M": {"traceparent": {"S": TP}, "n": {"N": "1"}}});
        let f = TraceFields::from_dynamodb_map(&dynamo);
        assert_eq!(
            (f.get("traceparent"), f.keys()),
            (Some(TP), vec!["traceparent"])
        );
        assert!(TraceFields::from_dynamodb_map(&serde_json::json!({"S": "x"})).is_empty());
    }
}
