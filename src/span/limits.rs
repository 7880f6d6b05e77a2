//! X-Ray's limits on annotation keys and values, applied when data is recorded.

use std::borrow::Cow;

/// Longest annotation key X-Ray accepts.
pub(crate) const MAX_ANNOTATION_KEY: usize = 500;

/// Sanitizes an annotation key to `[A-Za-z0-9_]{1,500}`: other characters become `_`. `None`
/// for an empty key.
pub(crate) fn sanitize_annotation_key(key: &str) -> Option<Cow<'_, str>> {
    if key.is_empty() {
        return None;
    }
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if key.len() <= MAX_ANNOTATION_KEY && key.chars().all(valid) {
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
    fn truncation_respects_char_boundaries() {
        let mut s = "é".repeat(1001);
        assert!(truncate_chars(&mut s, 1000));
        assert_eq!(s.chars().count(), 1000);
        let mut short = "abc".to_string();
        assert!(!truncate_chars(&mut short, 1000));
    }
}
