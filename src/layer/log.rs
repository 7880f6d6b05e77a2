//! Log lines about untrusted input: escaped and capped, never raw.

use std::borrow::Cow;

/// Longest untrusted value quoted in a log line.
const MAX_LOGGED: usize = 128;

/// `value` made safe to log: control characters escaped, cut to 128 characters.
pub fn log_safe(value: &str) -> Cow<'_, str> {
    let clean = value.len() <= MAX_LOGGED && !value.chars().any(char::is_control);
    if clean {
        return Cow::Borrowed(value);
    }
    let mut out: String = value
        .chars()
        .take(MAX_LOGGED)
        .flat_map(char::escape_default)
        .collect();
    if value.chars().count() > MAX_LOGGED {
        out.push('…');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_caps() {
        assert_eq!(log_safe("Root=1-abc"), "Root=1-abc");
        assert_eq!(log_safe("a\nb\x1b"), "a\\nb\\u{1b}");
        assert_eq!(log_safe(&"x".repeat(500)).chars().count(), 129);
    }
}
