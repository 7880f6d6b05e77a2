//! Log lines about untrusted input: escaped and capped, never raw.
//!
//! Every log line of this crate that quotes something it did not write itself — a header value,
//! a configuration value, an exporter's or a backend's error message — passes it through
//! [`log_safe`] (values) or [`log_safe_message`] (whole error messages). Both escape everything
//! outside printable ASCII (`\n` → `\\n`, ESC → `\\u{1b}`, `é` → `\\u{e9}`, so neither line
//! breaks, terminal escape sequences nor bidirectional overrides reach a log) and cut the
//! escaped text to a fixed length, marked with `…`.

use std::borrow::Cow;

/// Longest untrusted value quoted in a log line, in characters after escaping (plus a `…`).
pub const MAX_LOGGED: usize = 128;

/// Longest error message (from an exporter or a backend) in a log line, in characters after
/// escaping (plus a `…`).
pub const MAX_LOGGED_MESSAGE: usize = 512;

/// `value` made safe to log: every character outside printable ASCII (and `\`, `'`, `"`)
/// escaped as by [`char::escape_default`], the result cut to [`MAX_LOGGED`] characters (never
/// inside an escape) and marked `…` when cut.
pub(crate) fn log_safe(value: &str) -> Cow<'_, str> {
    escape_capped(value, MAX_LOGGED)
}

/// Like [`log_safe`] with the longer cap [`MAX_LOGGED_MESSAGE`], for whole error messages.
pub(crate) fn log_safe_message(value: &str) -> Cow<'_, str> {
    escape_capped(value, MAX_LOGGED_MESSAGE)
}

fn escape_capped(value: &str, max: usize) -> Cow<'_, str> {
    let plain = |b: u8| matches!(b, b' '..=b'~') && !matches!(b, b'\\' | b'\'' | b'"');
    if value.len() <= max && value.bytes().all(plain) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len().min(max) + 3);
    for c in value.chars() {
        let escaped = c.escape_default();
        if out.len() + escaped.len() > max {
            out.push('…');
            break;
        }
        out.extend(escaped);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_capped() {
        assert_eq!(log_safe("Root=1-abc"), "Root=1-abc");
        assert_eq!(log_safe("a\nb\x1b[31m"), "a\\nb\\u{1b}[31m");
        assert!(log_safe(&"x".repeat(100_000)).chars().count() <= 129);
    }

    #[test]
    fn escapes_and_caps() {
        assert_eq!(log_safe("Root=1-abc"), "Root=1-abc");
        assert_eq!(log_safe("a\nb\x1b"), "a\\nb\\u{1b}");
        assert_eq!(log_safe("\u{202e}é\r\t"), "\\u{202e}\\u{e9}\\r\\t");
        assert_eq!(log_safe("say \"hi\""), "say \\\"hi\\\"");
        assert_eq!(log_safe(&"x".repeat(500)).chars().count(), MAX_LOGGED + 1);
        assert_eq!(log_safe(&"x".repeat(MAX_LOGGED)), "x".repeat(MAX_LOGGED));
        // The cap counts escaped characters, and never splits an escape.
        let escapes = "\x1b".repeat(100_000);
        let cut = log_safe(&escapes);
        assert_eq!(cut.chars().count(), MAX_LOGGED / 6 * 6 + 1, "{cut}");
        assert!(cut.ends_with("\\u{1b}…"));
        assert!(log_safe_message(&"\n".repeat(100_000)).len() <= MAX_LOGGED_MESSAGE + 3);
    }
}
