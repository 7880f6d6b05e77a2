//! The redaction rule for query strings, shared by incoming requests (the carriers) and outgoing
//! calls.
//!
//! Query strings are **not recorded** unless switched on (`LAMBDA_TRACE_CAPTURE_QUERY=true`,
//! [`TraceLayerBuilder::capture_query`](crate::layer::TraceLayerBuilder::capture_query)). When
//! they are, each `key=value` pair is kept in order, and the value is replaced by [`REDACTED`]
//! when:
//!
//! - the key, percent-decoded and lowercased, **contains** one of [`SENSITIVE_KEY_PARTS`]:
//!   `token`, `key`, `secret`, `pass` (`password`, `passwd`, `passphrase`), `pwd`, `auth`
//!   (`authorization`, `oauth_*`), `credential`, `sig` (`signature`, Azure's `sig`), `sess` (`session`, `PHPSESSID`),
//!   `code` (OAuth authorization codes), `jwt`;
//! - or the key starts with `x-amz-` (every parameter of an S3 / SigV4 presigned URL:
//!   `X-Amz-Credential`, `X-Amz-Security-Token`, `X-Amz-Signature`, `X-Amz-Date`, …);
//! - or the value looks like a JSON Web Token (`eyJ…` with three dot-separated base64url parts),
//!   whatever its key.
//!
//! A part without `=` (`?debug`) is kept unless it looks like a JWT. The fragment (`#…`) is never
//! recorded, nor is user info (`user:password@`) of a URL.
//!
//! The rule errs on the side of hiding: `postcode`, `design` or `assessment` lose their value too. It cannot
//! know an application's own secret parameters with innocent names (`?t=…`): leave query capture
//! off where such parameters exist.
//!
//! ```
//! use lambda_trace::redact::redact_query;
//!
//! assert_eq!(
//!     redact_query("page=2&access_token=s3cr3t&X-Amz-Signature=abc&q=shoes"),
//!     "page=2&access_token=REDACTED&X-Amz-Signature=REDACTED&q=shoes"
//! );
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

/// What a redacted value is replaced with.
pub const REDACTED: &str = "REDACTED";

/// A query parameter whose lowercased key contains one of these has its value redacted.
pub const SENSITIVE_KEY_PARTS: &[&str] = &[
    "token",
    "key",
    "secret",
    "pass",
    "pwd",
    "auth",
    "credential",
    "sig",
    "sess",
    "code",
    "jwt",
];

/// Keys starting with this (lowercased) are redacted: AWS SigV4 presigned-URL parameters.
pub const SENSITIVE_KEY_PREFIX: &str = "x-amz-";

/// `true` when the value of query parameter `key` must not be recorded (see the
/// [module docs](self)). `key` may be percent-encoded.
pub fn is_sensitive_key(key: &str) -> bool {
    let key = decode_lossy(key).to_lowercase();
    let key = key.as_bytes();
    // A plain byte search: the parts are short, the keys too, and `str::contains`'s searcher
    // would be inlined once per part (issue 6, binary size).
    key.starts_with(SENSITIVE_KEY_PREFIX.as_bytes())
        || SENSITIVE_KEY_PARTS
            .iter()
            .any(|part| key.windows(part.len()).any(|w| w == part.as_bytes()))
}

/// `true` when `value` has the shape of a JSON Web Token: `eyJ` (base64url of `{"`), then three
/// base64url parts separated by dots.
fn looks_like_jwt(value: &str) -> bool {
    value.starts_with("eyJ")
        && value.split('.').count() == 3
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'='))
}

/// `query` (with or without its leading `?`; anything from a `#` on is dropped) with the values
/// of sensitive parameters replaced by [`REDACTED`]. Empty parts (`a=1&&b=2`) are dropped.
pub fn redact_query(query: &str) -> Cow<'_, str> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let query = query.split('#').next().unwrap_or_default();
    let mut out = String::with_capacity(query.len());
    let mut changed = false;
    for part in query.split('&') {
        if part.is_empty() {
            changed = true;
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        match part.split_once('=') {
            Some((key, value)) if is_sensitive_key(key) || looks_like_jwt(value) => {
                out.push_str(key);
                out.push('=');
                out.push_str(REDACTED);
                changed = true;
            }
            None if looks_like_jwt(part) => {
                out.push_str(REDACTED);
                changed = true;
            }
            _ => out.push_str(part),
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(query)
    }
}

/// Words whose presence in a library's log field hides the field whole
/// ([`mentions_credential`]).
pub const CREDENTIAL_MARKERS: &[&str] = &[
    "authorization",
    "security-token",
    "security_token",
    "securitytoken",
    "signature",
    "secret",
    "credential",
    "cookie",
    "password",
    "api-key",
    "api_key",
    "session_token",
    "session-token",
];

/// `true` when `text` (a field of a dependency's `tracing` span or event: a dump of a signed
/// request, a canonical request, a header map) mentions a credential, by one of
/// [`CREDENTIAL_MARKERS`] in any case. The `tracing` bridge then records [`REDACTED`] instead
/// of the field: such dumps come in many formats (header lines, `Debug` of a header map,
/// query strings), and hiding the whole field is the one rule that cannot miss a format.
///
/// ```
/// use lambda_trace::redact::mentions_credential;
///
/// assert!(mentions_credential("POST\n/\nx-amz-security-token:FwoG…\n"));
/// assert!(mentions_credential(r#"{"Authorization": HeaderValue { .. }}"#));
/// assert!(!mentions_credential("retrying in 50ms (attempt 2)"));
/// ```
pub fn mentions_credential(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    CREDENTIAL_MARKERS.iter().any(|m| lower.contains(m))
}

/// `url` (a path or a URL without query) followed by `?` and the redacted `query`, cut to at most
/// `max_chars` characters. Redaction happens before the cut, so a cut never exposes part of a
/// secret. An empty query (after redaction) adds nothing.
pub(crate) fn url_with_query(url: &str, query: &str, max_chars: usize) -> String {
    let query = redact_query(query);
    let mut out = String::with_capacity(url.len() + 1 + query.len());
    out.push_str(url);
    if !query.is_empty() {
        out.push('?');
        out.push_str(&query);
    }
    if let Some((cut, _)) = out.char_indices().nth(max_chars) {
        out.truncate(cut);
    }
    out
}

/// A query string rebuilt from decoded `(key, value)` pairs (API Gateway REST's
/// `queryStringParameters`), sorted by key so the recorded URL does not depend on map order.
/// With `encode`, `%`, `&`, `=`, `#`, `+`, spaces and control characters are percent-encoded (the
/// pairs were decoded); without it the pairs are joined as they are (ALB passes them encoded).
pub(crate) fn query_from_pairs<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    encode: bool,
) -> Option<String> {
    let pairs: Vec<_> = pairs.collect();
    if pairs.is_empty() {
        return None;
    }
    let pairs = sorted_by_key(pairs);
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        push_component(&mut out, key, encode);
        out.push('=');
        push_component(&mut out, value, encode);
    }
    Some(out)
}

/// `pairs` sorted by key, pairs with the same key in their order: what `sort_by` on the key
/// gives, by a bottom-up merge sort of a dozen lines instead of the standard library's sort
/// (several kilobytes of code for this one instance; issue 6, binary size). O(n log n).
fn sorted_by_key<'a>(pairs: Vec<(&'a str, &'a str)>) -> Vec<(&'a str, &'a str)> {
    let n = pairs.len();
    let mut src = pairs;
    let mut dst = Vec::with_capacity(n);
    let mut width = 1;
    while width < n {
        dst.clear();
        let mut start = 0;
        while start < n {
            let mid = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut a, mut b) = (start, mid);
            while a < mid && b < end {
                // The left run wins ties: stable.
                if src[b].0 < src[a].0 {
                    dst.push(src[b]);
                    b += 1;
                } else {
                    dst.push(src[a]);
                    a += 1;
                }
            }
            dst.extend_from_slice(&src[a..mid]);
            dst.extend_from_slice(&src[b..end]);
            start = end;
        }
        std::mem::swap(&mut src, &mut dst);
        width *= 2;
    }
    src
}

fn push_component(out: &mut String, s: &str, encode: bool) {
    if !encode {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '%' | '&' | '=' | '#' | '+' | ' ' | '?' => {
                let _ = write!(out, "%{:02X}", c as u32);
            }
            c if c.is_ascii_control() => {
                let _ = write!(out, "%{:02X}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Percent-decodes `s` (`+` becomes a space); bad escapes stay as they are, bytes that are not
/// UTF-8 become U+FFFD. Used to read keys, never to record them.
fn decode_lossy(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_pair) {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Two hex digits as a byte.
fn hex_pair(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| (b as char).to_digit(16);
    Some((digit(pair[0])? * 16 + digit(pair[1])?) as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    #[test]
    fn redaction_rule() {
        for (query, expected, reason) in [
            ("a=1&b=2", "a=1&b=2", "nothing sensitive"),
            ("?token=s3cr3t", "token=REDACTED", "leading ? dropped"),
            ("access_token=x&id_token=y&refresh_token=z", "access_token=REDACTED&id_token=REDACTED&refresh_token=REDACTED", "token"),
            ("API_KEY=x&apikey=y&api-key=z", "API_KEY=REDACTED&apikey=REDACTED&api-key=REDACTED", "key, any case"),
            ("client_secret=x", "client_secret=REDACTED", "secret"),
            ("password=x&passwd=y&pwd=z&passphrase=w", "password=REDACTED&passwd=REDACTED&pwd=REDACTED&passphrase=REDACTED", "pass, pwd"),
            ("Authorization=x&oauth_verifier=y", "Authorization=REDACTED&oauth_verifier=REDACTED", "auth"),
            ("credentials=x", "credentials=REDACTED", "credential"),
            ("Signature=x&sig=y&sv=2022", "Signature=REDACTED&sig=REDACTED&sv=2022", "sig (S3 v2, Azure SAS)"),
            ("sessionId=x&PHPSESSID=y", "sessionId=REDACTED&PHPSESSID=REDACTED", "session"),
            ("code=x&state=abc", "code=REDACTED&state=abc", "OAuth code"),
            ("jwt=x", "jwt=REDACTED", "jwt"),
            ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20240101&X-Amz-Date=20240101T000000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=FwoG&X-Amz-Signature=abc",
             "X-Amz-Algorithm=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Date=REDACTED&X-Amz-Expires=REDACTED&X-Amz-SignedHeaders=REDACTED&X-Amz-Security-Token=REDACTED&X-Amz-Signature=REDACTED",
             "presigned URL"),
            ("%74oken=x&acc%65ss+token=y", "%74oken=REDACTED&acc%65ss+token=REDACTED", "keys are decoded before the check"),
            ("t=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_-nature", "t=REDACTED", "JWT value under any key"),
            ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc&debug", "REDACTED&debug", "bare JWT; a bare flag stays"),
            ("a=1&&b=2#token=x", "a=1&b=2", "empty parts and fragment dropped"),
            ("token", "token", "a key without value has nothing to hide"),
            ("token=", "token=REDACTED", "empty values too"),
            ("", "", "empty"),
        ] {
            assert_eq!(redact_query(query), expected, "{reason}");
        }
    }

    #[test]
    fn unchanged_queries_are_borrowed() {
        assert!(matches!(redact_query("a=1&b=2"), Cow::Borrowed(_)));
    }

    #[test]
    fn urls_are_cut_after_redaction() {
        assert_eq!(
            url_with_query("/orders", "token=s3cr3t&page=2", 100),
            "/orders?token=REDACTED&page=2"
        );
        assert_eq!(
            url_with_query("/orders", "token=s3cr3t", 12),
            "/orders?toke"
        );
        assert_eq!(url_with_query("/a", "", 100), "/a");
        assert_eq!(url_with_query("/é", "q=é", 4), "/é?q");
    }

    #[test]
    fn pairs_are_sorted_and_encoded() {
        let pairs = [("b", "x y"), ("a", "1&token=2")];
        assert_eq!(
            query_from_pairs(pairs.into_iter(), true).as_deref(),
            Some("a=1%26token%3D2&b=x%20y")
        );
        assert_eq!(
            query_from_pairs([("a", "%20")].into_iter(), false).as_deref(),
            Some("a=%20")
        );
        assert_eq!(query_from_pairs(std::iter::empty(), true), None);
        // A decoded value with `&` cannot smuggle an unredacted pair past the rule.
        let q = query_from_pairs([("q", "x&token=s3cr3t")].into_iter(), true).unwrap();
        assert!(!redact_query(&q).contains("token=s3cr3t"));
    }

    proptest::proptest! {
        #[test]
        fn pairs_sort_as_sort_by_sorts_them(
            pairs in proptest::collection::vec(("[a-c]{0,2}", "[0-9]{0,2}"), 0..70)
        ) {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let mut want = pairs.clone();
            want.sort_by(|a, b| a.0.cmp(b.0));
            proptest::prop_assert_eq!(sorted_by_key(pairs), want);
        }
    }
}
