//! Field values of `tracing` spans and events, and what each field name means to the bridge.

use std::fmt::{self, Write as _};

use serde_json::Value;
use tracing::field::{Field, Visit};

use super::{ANNOTATION_PREFIX, FIELDS_NAMESPACE};
use crate::span::{AnnotationValue, MAX_FIELD_CHARS, Outcome, Span, SpanKind};

/// One recorded field value, kept as `tracing` gave it (so a `NaN` can still become an
/// annotation string, where JSON would make it `null`).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum FieldValue {
    Str(String),
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
}

impl FieldValue {
    pub(super) fn into_json(self) -> Value {
        match self {
            FieldValue::Str(s) => Value::String(s),
            FieldValue::I64(v) => Value::from(v),
            FieldValue::U64(v) => Value::from(v),
            // Non-finite floats have no JSON form: `null`, as serde_json writes them.
            FieldValue::F64(v) => Value::from(v),
            FieldValue::Bool(v) => Value::Bool(v),
        }
    }

    fn into_annotation(self) -> AnnotationValue {
        match self {
            FieldValue::Str(s) => AnnotationValue::String(s),
            FieldValue::I64(v) => AnnotationValue::Int(v),
            FieldValue::U64(v) => AnnotationValue::from(v),
            FieldValue::F64(v) => AnnotationValue::Float(v),
            FieldValue::Bool(v) => AnnotationValue::Bool(v),
        }
    }

    fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The fields of one `tracing` span, event or `record` call, in the order they were visited.
#[derive(Debug, Default)]
pub(super) struct Fields(pub(super) Vec<(&'static str, FieldValue)>);

impl Fields {
    /// Removes and returns the field `name`.
    pub(super) fn take(&mut self, name: &str) -> Option<FieldValue> {
        let i = self.0.iter().position(|(n, _)| *n == name)?;
        Some(self.0.remove(i).1)
    }

    /// Replaces each string value that [mentions a credential](crate::redact::mentions_credential)
    /// by [`REDACTED`](crate::redact::REDACTED).
    pub(super) fn redact(&mut self) {
        for (_, value) in &mut self.0 {
            if let FieldValue::Str(s) = value
                && crate::redact::mentions_credential(s)
            {
                *s = crate::redact::REDACTED.to_string();
            }
        }
    }

    /// The text of field `name` (a string as is, another value as JSON), if present.
    pub(super) fn text(&self, name: &str) -> Option<String> {
        let (_, value) = self.0.iter().find(|(n, _)| *n == name)?;
        Some(match value {
            FieldValue::Str(s) => s.clone(),
            other => other.clone().into_json().to_string(),
        })
    }

    /// The span name set by `otel.name`, if any (the field is consumed).
    pub(super) fn take_name(&mut self) -> Option<String> {
        match self.take(OTEL_NAME)? {
            FieldValue::Str(s) => Some(s),
            other => Some(other.into_json().to_string()),
        }
    }

    /// The span kind set by `otel.kind`, if any (the field is consumed). `client` (any case)
    /// is [`SpanKind::Client`], `server` is [`SpanKind::Server`], anything else (`internal`,
    /// `producer`, `consumer`) [`SpanKind::Internal`].
    pub(super) fn take_kind(&mut self) -> Option<SpanKind> {
        let kind = self.take(OTEL_KIND)?;
        let kind = kind.as_str().unwrap_or_default();
        Some(if kind.eq_ignore_ascii_case("client") {
            SpanKind::Client
        } else if kind.eq_ignore_ascii_case("server") {
            SpanKind::Server
        } else {
            SpanKind::Internal
        })
    }

    /// Writes the fields onto `span`: `otel.name` renames it, `otel.status_code = "ERROR"`
    /// marks it a fault, `annotation.<key>` annotates it, every other field becomes metadata
    /// `tracing.<field>` (a field recorded again replaces its value).
    pub(super) fn apply(mut self, span: &Span) {
        if let Some(name) = self.take_name() {
            span.set_name(name);
        }
        for (name, value) in self.0 {
            if let Some(key) = name.strip_prefix(ANNOTATION_PREFIX) {
                span.annotate(key, value.into_annotation());
            } else if name == OTEL_STATUS_CODE {
                if value
                    .as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case("error"))
                {
                    span.set_outcome(Outcome {
                        fault: true,
                        ..Outcome::default()
                    });
                }
            } else if name != OTEL_KIND {
                span.set_metadata_in(FIELDS_NAMESPACE, name, value.into_json());
            }
        }
    }

    /// The fields as JSON pairs (for an event).
    pub(super) fn into_json_pairs(self) -> Vec<(String, Value)> {
        self.0
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.into_json()))
            .collect()
    }

    fn push(&mut self, field: &Field, value: FieldValue) {
        self.0.push((field.name(), value));
    }
}

/// `otel.name`: renames the span (the convention of `tracing-opentelemetry`).
pub(super) const OTEL_NAME: &str = "otel.name";
/// `otel.kind`: `client`, `server`, `internal`, … (read when the span opens).
pub(super) const OTEL_KIND: &str = "otel.kind";
/// `otel.status_code`: `ERROR` marks the span a fault.
pub(super) const OTEL_STATUS_CODE: &str = "otel.status_code";

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, FieldValue::F64(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, FieldValue::U64(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        match i64::try_from(value) {
            Ok(v) => self.push(field, FieldValue::I64(v)),
            Err(_) => self.push(field, FieldValue::Str(value.to_string())),
        }
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        match u64::try_from(value) {
            Ok(v) => self.push(field, FieldValue::U64(v)),
            Err(_) => self.push(field, FieldValue::Str(value.to_string())),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, FieldValue::Bool(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, FieldValue::Str(capped(|w| w.write_str(value))));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, FieldValue::Str(capped(|w| write!(w, "{value}"))));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, FieldValue::Str(capped(|w| write!(w, "{value:?}"))));
    }
}

/// What `write` writes, cut to [`MAX_FIELD_CHARS`] characters; writing stops there (the
/// formatter gets an error, so a huge value is not formatted to the end).
fn capped(write: impl FnOnce(&mut Capped) -> fmt::Result) -> String {
    let mut out = Capped {
        text: String::new(),
        room: MAX_FIELD_CHARS,
    };
    // An error is the cap (or the value's own `Debug` failing): keep what was written.
    let _ = write(&mut out);
    out.text
}

/// A `String` that accepts at most `room` more characters.
struct Capped {
    text: String,
    room: usize,
}

impl fmt::Write for Capped {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let (fits, chars) = if s.is_ascii() {
            let n = s.len().min(self.room);
            (&s[..n], n)
        } else {
            match s.char_indices().nth(self.room) {
                Some((end, _)) => (&s[..end], self.room),
                None => (s, s.chars().count()),
            }
        };
        self.text.push_str(fits);
        self.room -= chars;
        if fits.len() < s.len() {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: Vec<(&'static str, FieldValue)>) -> Fields {
        Fields(pairs)
    }

    #[test]
    fn otel_conventions_are_consumed() {
        let mut f = fields(vec![
            ("otel.kind", FieldValue::Str("CLIENT".into())),
            ("otel.name", FieldValue::Str("GET /orders".into())),
            ("user", FieldValue::U64(7)),
        ]);
        assert_eq!(f.take_kind(), Some(SpanKind::Client));
        assert_eq!(f.take_name().as_deref(), Some("GET /orders"));
        assert_eq!(f.0, vec![("user", FieldValue::U64(7))]);
        assert_eq!(f.take_kind(), None);
        let mut other = fields(vec![("otel.kind", FieldValue::Str("producer".into()))]);
        assert_eq!(other.take_kind(), Some(SpanKind::Internal));
    }

    #[test]
    fn capped_stops_formatting_at_the_cap() {
        /// Writes one character at a time, forever unless the writer refuses.
        struct Endless;
        impl fmt::Debug for Endless {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for _ in 0..10 * MAX_FIELD_CHARS {
                    f.write_str("ü")?;
                }
                panic!("the writer never refused");
            }
        }
        let text = capped(|w| write!(w, "{:?}", Endless));
        assert_eq!(text, "ü".repeat(MAX_FIELD_CHARS));
        assert_eq!(capped(|w| w.write_str("short")), "short");
        let long = "a".repeat(MAX_FIELD_CHARS + 1);
        assert_eq!(capped(|w| w.write_str(&long)).len(), MAX_FIELD_CHARS);
    }

    #[test]
    fn values_to_json_and_annotations() {
        assert_eq!(FieldValue::F64(f64::NAN).into_json(), Value::Null);
        assert!(matches!(
            FieldValue::F64(f64::NAN).into_annotation(),
            AnnotationValue::Float(f) if f.is_nan()
        ));
        assert_eq!(
            FieldValue::U64(u64::MAX).into_annotation(),
            AnnotationValue::Float(u64::MAX as f64)
        );
        assert_eq!(FieldValue::I64(-3).into_json(), Value::from(-3));
        assert_eq!(
            FieldValue::Str("x".into()).into_annotation(),
            AnnotationValue::String("x".into())
        );
    }
}
