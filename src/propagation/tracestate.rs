//! W3C `tracestate` as Trace Context Level 2 §3.3 defines it: the list grammar, the key and
//! value grammar, at most 32 list-members, duplicates, and truncation to a size limit.

use super::{MAX_TRACESTATE_LEN, MAX_TRACESTATE_MEMBERS};
use crate::error::ParseError;

/// Longest list-member that survives truncation before any other (Level 2 §3.3.3.1: "entries
/// larger than 128 characters long SHOULD be removed first").
const LONG_ENTRY: usize = 128;

/// The `tracestate` to keep and send for the (comma-joined) header value `s`:
///
/// - list-members are separated by `,`; spaces and tabs around them are ignored and empty
///   members are allowed and dropped (§3.3.2, §3.3.2.1);
/// - a key is 1 to 256 of `a-z 0-9 _ - * / @`, starting with `a-z` or a digit (§3.3.2.2.1: a
///   multi-tenant key `tenant@system` is one of these);
/// - a value is 1 to 256 printable ASCII characters other than `,` and `=`, not ending in a
///   space; leading spaces are part of it (§3.3.2.2.2);
/// - more than [`MAX_TRACESTATE_MEMBERS`] list-members, or any invalid one, makes the whole
///   header invalid (`Err`); it never affects `traceparent` (§3.3);
/// - a key seen again is a duplicate: its later entries are discarded, the left-most (the most
///   recent position, §3.3.3) is kept (§3.5: vendors MAY discard duplicate keys);
/// - the result is at most [`MAX_TRACESTATE_LEN`] characters: whole entries are removed, those
///   over 128 characters first, then from the right (§3.3.3.1).
///
/// `Ok(None)` for a list with no member (an empty header is valid, §3.3.2).
pub(crate) fn normalize(s: &str) -> Result<Option<String>, ParseError> {
    let mut entries: Vec<(&str, &str)> = Vec::new();
    let mut members = 0usize;
    for member in s.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        members += 1;
        if members > MAX_TRACESTATE_MEMBERS {
            return Err(ParseError::TooLong);
        }
        let (key, value) = member.split_once('=').ok_or(ParseError::Malformed)?;
        if !is_key(key) || !is_value(value) {
            return Err(ParseError::Malformed);
        }
        if !entries.iter().any(|(k, _)| *k == key) {
            entries.push((key, value));
        }
    }
    truncate(&mut entries);
    if entries.is_empty() {
        return Ok(None);
    }
    let mut out = String::with_capacity(joined_len(&entries));
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    Ok(Some(out))
}

/// Length of the entries joined as `k=v,k=v`.
fn joined_len(entries: &[(&str, &str)]) -> usize {
    entries
        .iter()
        .map(|(k, v)| k.len() + 1 + v.len())
        .sum::<usize>()
        + entries.len().saturating_sub(1)
}

/// Removes whole entries until the list fits [`MAX_TRACESTATE_LEN`]: the right-most entry over
/// 128 characters while there is one, then the right-most entry.
fn truncate(entries: &mut Vec<(&str, &str)>) {
    while joined_len(entries) > MAX_TRACESTATE_LEN {
        let long = entries
            .iter()
            .rposition(|(k, v)| k.len() + 1 + v.len() > LONG_ENTRY);
        match long {
            Some(i) => {
                entries.remove(i);
            }
            None => {
                entries.pop();
            }
        }
    }
}

/// `key = ( lcalpha / DIGIT ) 0*255( keychar )`, `keychar = lcalpha / DIGIT / "_" / "-" / "*" /
/// "/" / "@"` (Level 2 §3.3.2.2.1).
pub(crate) fn is_key(key: &str) -> bool {
    let b = key.as_bytes();
    (1..=256).contains(&b.len())
        && matches!(b[0], b'a'..=b'z' | b'0'..=b'9')
        && b.iter()
            .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/' | b'@'))
}

/// `value = 0*255(chr) nblk-chr`, `nblk-chr = %x21-2B / %x2D-3C / %x3E-7E`, `chr = %x20 /
/// nblk-chr` (Level 2 §3.3.2.2.2).
pub(crate) fn is_value(value: &str) -> bool {
    let b = value.as_bytes();
    (1..=256).contains(&b.len())
        && b.iter()
            .all(|&c| matches!(c, b' '..=b'~') && c != b',' && c != b'=')
        && b[b.len() - 1] != b' '
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_removes_long_entries_first_then_from_the_right() {
        let long = format!("long={}", "x".repeat(200));
        let shorts: Vec<String> = (0..30)
            .map(|i| format!("k{i:02}={}", "v".repeat(10)))
            .collect();
        let input = format!(
            "{},{long},{}",
            shorts[..10].join(","),
            shorts[10..].join(",")
        );
        let out = normalize(&input).unwrap().unwrap();
        assert!(out.len() <= MAX_TRACESTATE_LEN, "{}", out.len());
        assert!(!out.contains("long="), "the long entry went first");
        assert!(out.starts_with("k00="), "the left-most entries stay");
        // 30 entries of 14 characters and 29 commas is 449: everything else fits.
        assert_eq!(out.split(',').count(), 30);

        let many: Vec<String> = (0..32)
            .map(|i| format!("k{i:02}={}", "v".repeat(20)))
            .collect();
        let out = normalize(&many.join(",")).unwrap().unwrap();
        assert!(out.len() <= MAX_TRACESTATE_LEN);
        assert!(
            out.starts_with("k00=") && !out.contains("k31="),
            "cut from the right"
        );
    }
}
