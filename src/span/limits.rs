//! The limits of [`super`]'s table, applied when data is recorded.

use std::borrow::Cow;

/// The per-span limits OpenTelemetry lets users lower (`OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`,
/// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`, `OTEL_SPAN_EVENT_COUNT_LIMIT`,
/// `OTEL_SPAN_LINK_COUNT_LIMIT`; [`Config::span_limits`](crate::Config::span_limits)).
///
/// The defaults are the crate's caps ([`MAX_SPAN_ATTRIBUTES`](super::MAX_SPAN_ATTRIBUTES),
/// [`MAX_ATTRIBUTE_CHARS`](super::MAX_ATTRIBUTE_CHARS), [`MAX_SPAN_EVENTS`](super::MAX_SPAN_EVENTS),
/// [`MAX_SPAN_LINKS`](super::MAX_SPAN_LINKS)), which are also the most a span ever holds: a
/// larger value is used as the cap ([`SpanLimits::capped`]). What is past a limit is handled as
/// past the cap: new attribute keys and links dropped, events counted in
/// [`SpanRecord::dropped_events`](super::SpanRecord::dropped_events), string values cut.
///
/// ```
/// use lambda_trace::Config;
/// use lambda_trace::span::SpanLimits;
///
/// let config = Config::from_lookup(|k| (k == "OTEL_SPAN_EVENT_COUNT_LIMIT").then(|| "16".into()));
/// assert_eq!(config.span_limits.event_count, 16);
/// assert_eq!(config.span_limits.attribute_count, SpanLimits::default().attribute_count);
/// // Never above the crate's caps.
/// assert_eq!(SpanLimits { link_count: 1 << 20, ..SpanLimits::default() }.capped(), SpanLimits::default());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLimits {
    /// Most attributes on one span.
    pub attribute_count: usize,
    /// Longest string attribute value (and HTTP request text) kept, in characters.
    pub attribute_value_length: usize,
    /// Most events recorded on one span.
    pub event_count: usize,
    /// Most links on one span.
    pub link_count: usize,
}

impl Default for SpanLimits {
    fn default() -> Self {
        Self {
            attribute_count: super::MAX_SPAN_ATTRIBUTES,
            attribute_value_length: super::MAX_ATTRIBUTE_CHARS,
            event_count: super::MAX_SPAN_EVENTS,
            link_count: super::MAX_SPAN_LINKS,
        }
    }
}

impl SpanLimits {
    /// These limits, each at most the crate's cap (the [`Default`]).
    pub fn capped(self) -> Self {
        let max = Self::default();
        Self {
            attribute_count: self.attribute_count.min(max.attribute_count),
            attribute_value_length: self.attribute_value_length.min(max.attribute_value_length),
            event_count: self.event_count.min(max.event_count),
            link_count: self.link_count.min(max.link_count),
        }
    }
}

/// Longest annotation key X-Ray accepts.
pub(crate) const MAX_ANNOTATION_KEY: usize = 500;

/// Sanitizes an annotation key to `[A-Za-z0-9_]{1,500}`: other characters become `_`. `None`
/// for an empty key.
pub(crate) fn sanitize_annotation_key(key: &str) -> Option<Cow<'_, str>> {
    if key.is_empty() {
        return None;
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    // Valid keys are ASCII, so a byte check decides (no char decoding on the hot path).
    if key.len() <= MAX_ANNOTATION_KEY
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Some(Cow::Borrowed(key));
    }
    Some(Cow::Owned(
        key.chars()
            .take(MAX_ANNOTATION_KEY)
            .map(|c| if valid(c) { c } else { '_' })
            .collect(),
    ))
}

/// Cuts `s` to at most `max` characters (on a char boundary). Returns `true` if it cut.
pub(crate) fn truncate_chars(s: &mut String, max: usize) -> bool {
    if s.len() <= max {
        return false;
    }
    match s.char_indices().nth(max) {
        Some((byte, _)) => {
            s.truncate(byte);
            true
        }
        None => false,
    }
}

/// Cuts `s` to at most `max` characters and gives the memory it no longer needs back, so a
/// huge value passed in does not stay allocated until the flush.
pub(crate) fn cap_chars(s: &mut String, max: usize) {
    if truncate_chars(s, max) {
        s.shrink_to_fit();
    }
}

/// `true` when `value` nests more than `max` levels of arrays and objects (found without
/// recursion, so any depth is safe to check).
pub(crate) fn nests_deeper_than(value: &serde_json::Value, max: usize) -> bool {
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &serde_json::Value>> = match v {
            serde_json::Value::Array(a) => Box::new(a.iter()),
            serde_json::Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        if depth == max {
            return true;
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    false
}

/// The length of `value` serialized as JSON, or `None` when that is over `max` bytes (counted
/// without writing anything, and without serializing more than `max + 1` bytes). Through the
/// documents' JSON writer, whose serializer is in the binary anyway (issue 6, binary size).
pub(crate) fn json_len_within(value: &serde_json::Value, max: usize) -> Option<usize> {
    crate::json::json_len_within(value, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_sanitized() {
        assert_eq!(sanitize_annotation_key("orderId").unwrap(), "orderId");
        assert_eq!(sanitize_annotation_key("order.id-é").unwrap(), "order_id__");
        assert_eq!(
            sanitize_annotation_key(&"k".repeat(600)).unwrap().len(),
            500
        );
        assert!(sanitize_annotation_key("").is_none());
    }

    #[test]
    fn capped_strings_give_memory_back() {
        let mut s = "x".repeat(100_000);
        cap_chars(&mut s, 10);
        assert_eq!(s, "x".repeat(10));
        assert!(s.capacity() < 100, "capacity {}", s.capacity());
    }

    #[test]
    fn nesting_depth() {
        let mut v = serde_json::json!("leaf");
        assert!(!nests_deeper_than(&v, 0));
        for _ in 0..3 {
            v = serde_json::json!({"k": [1, v]});
        }
        // Three objects around three arrays: six levels.
        assert!(!nests_deeper_than(&v, 6));
        assert!(nests_deeper_than(&v, 5));
        assert!(nests_deeper_than(&serde_json::json!([]), 0));
    }

    #[test]
    fn json_length_is_counted_up_to_the_limit() {
        let v = serde_json::json!({"k": "é", "n": [1, 2]});
        let len = serde_json::to_vec(&v).unwrap().len();
        assert_eq!(json_len_within(&v, len), Some(len));
        assert_eq!(json_len_within(&v, len - 1), None);
        assert_eq!(json_len_within(&serde_json::json!(null), 0), None);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        let mut s = "é".repeat(1001);
        assert!(truncate_chars(&mut s, 1000));
        assert_eq!(s.chars().count(), 1000);
        let mut short = "abc".to_string();
        assert!(!truncate_chars(&mut short, 1000));
    }
}
