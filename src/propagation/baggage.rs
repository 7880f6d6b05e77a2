//! W3C Baggage: `baggage: key=value;property,key2=value2`, and the baggage rules every format
//! shares.

use std::fmt::Write;

use super::{Extractor, Injector, MAX_BAGGAGE_BYTES, MAX_BAGGAGE_ITEMS, Propagator, list_value};
use crate::context::TraceContext;

const HEADER: &str = "baggage";

/// Appends `key=value` to `cx.baggage` unless the key is already there, or the item would take
/// the baggage over [`MAX_BAGGAGE_ITEMS`] items or [`MAX_BAGGAGE_BYTES`] bytes. Returns `true`
/// when the item was added.
pub(crate) fn push_baggage(cx: &mut TraceContext, key: String, value: String) -> bool {
    if cx.baggage.len() >= MAX_BAGGAGE_ITEMS || cx.baggage.iter().any(|(k, _)| *k == key) {
        return false;
    }
    let used: usize = cx.baggage.iter().map(|(k, v)| k.len() + v.len()).sum();
    if used + key.len() + value.len() > MAX_BAGGAGE_BYTES {
        return false;
    }
    cx.baggage.push((key, value));
    true
}

/// [`push_baggage`] for a W3C `baggage` item, whose key keeps its case: an item that a
/// header-named format added before it under the same key lowercased is replaced (when the
/// replacement fits the byte cap), so the order of the formats does not decide the key's case.
/// A key already there as it is stays first, as in [`push_baggage`] (`K=1,k=2,K=3` keeps `K=1`
/// and `k=2`: replacing `k` would have held `K` twice; found by the `baggage` fuzz target).
pub(crate) fn push_cased_baggage(cx: &mut TraceContext, key: String, value: String) -> bool {
    if cx.baggage.iter().any(|(k, _)| *k == key) {
        return false;
    }
    let lower = key.to_ascii_lowercase();
    if lower != key
        && let Some(i) = cx.baggage.iter().position(|(k, _)| *k == lower)
    {
        let used: usize = cx.baggage.iter().map(|(k, v)| k.len() + v.len()).sum();
        let (old_key, old_value) = &cx.baggage[i];
        let fits =
            used - old_key.len() - old_value.len() + key.len() + value.len() <= MAX_BAGGAGE_BYTES;
        if fits {
            cx.baggage[i] = (key, value);
        }
        return fits;
    }
    push_baggage(cx, key, value)
}

/// [`push_baggage`] for a key taken from a header name (`uberctx-{key}`, `ot-baggage-{key}`):
/// header names have no case, so the key is skipped when the baggage has it in any case.
/// (Otherwise a `userId` item that the composite injects in every format comes back twice,
/// as `userId` from `baggage` and `userid` from the prefixed headers.)
pub(crate) fn push_header_baggage(cx: &mut TraceContext, key: &str, value: String) -> bool {
    // Full baggage first: `push_baggage` would refuse the item anyway, and the scan in any case
    // would cost up to 64 comparisons for each of up to 128 prefixed headers.
    if cx.baggage.len() >= MAX_BAGGAGE_ITEMS
        || cx.baggage.iter().any(|(k, _)| k.eq_ignore_ascii_case(key))
    {
        return false;
    }
    push_baggage(cx, key.to_ascii_lowercase(), value)
}

/// `true` for an RFC 9110 token (a header name, a baggage key).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Decodes `%XX` escapes; `None` for a broken escape or a result that is not UTF-8. Other
/// characters (including `+`) are kept as they are.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_string());
    }
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            if !hex.bytes().all(|h| h.is_ascii_hexdigit()) {
                return None;
            }
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// Percent-encodes every byte other than the URL-unreserved `A-Z a-z 0-9 - . _ ~`: valid in a
/// W3C baggage value and decoded the same way by Jaeger clients (which would read a raw `+` as a
/// space).
pub(crate) fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// W3C Baggage (`baggage` header). Baggage is not a trace context, so
/// [`extract`](Propagator::extract) always returns `None`; use it in a
/// [`CompositePropagator`](super::CompositePropagator), which calls
/// [`extract_baggage`](Propagator::extract_baggage) on the context another format found.
///
/// Extract reads `key=value;property,…` (repeated headers joined with `,`): values are
/// percent-decoded, properties dropped, malformed members (no `=`, a key that is not a token, a
/// broken escape) skipped. Items are appended to [`TraceContext::baggage`], skipping keys already
/// there, up to [`MAX_BAGGAGE_ITEMS`] items and 8192 bytes.
///
/// Inject writes `baggage` when the context has baggage: values percent-encoded, keys that are not
/// tokens skipped, within the same limits.
#[derive(Debug, Default, Clone)]
pub struct BaggagePropagator {
    _private: (),
}

impl BaggagePropagator {
    /// The W3C Baggage propagator.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Propagator for BaggagePropagator {
    fn extract(&self, _headers: &dyn Extractor) -> Option<TraceContext> {
        None
    }

    fn name(&self) -> &'static str {
        "baggage"
    }

    fn extract_baggage(&self, headers: &dyn Extractor, cx: &mut TraceContext) {
        let Some(value) = list_value(headers, HEADER) else {
            return;
        };
        for member in value.split(',') {
            let pair = member.split(';').next().unwrap_or_default();
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            let key = key.trim();
            if !is_token(key) {
                continue;
            }
            if let Some(value) = percent_decode(value.trim()) {
                push_cased_baggage(cx, key.to_string(), value);
            }
        }
    }

    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        let mut out = String::new();
        for (key, value) in cx.baggage.iter().take(MAX_BAGGAGE_ITEMS) {
            if !is_token(key) {
                continue;
            }
            let mark = out.len();
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(key);
            out.push('=');
            percent_encode(value, &mut out);
            if out.len() > MAX_BAGGAGE_BYTES {
                out.truncate(mark);
                break;
            }
        }
        if !out.is_empty() {
            headers.set(HEADER, out);
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        &[HEADER]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{Sampling, TraceId};
    use crate::propagation::testing::pairs;

    fn new_cx() -> TraceContext {
        TraceContext::new(TraceId::generate(), None, Sampling::Sampled)
    }

    fn extract(values: &[&str]) -> Vec<(String, String)> {
        let h = pairs(&values.iter().map(|v| (HEADER, *v)).collect::<Vec<_>>());
        let mut cx = new_cx();
        assert_eq!(BaggagePropagator::default().extract(&h), None);
        BaggagePropagator::default().extract_baggage(&h, &mut cx);
        cx.baggage
    }

    fn items(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    fn extract_data() -> Vec<(Vec<&'static str>, Vec<(&'static str, &'static str)>, &'static str)> { vec![
        (vec!["userId=alice"], vec![("userId", "alice")], "one item"),
        (vec!["userId=alice,serverNode=DF%2028,isProduction=false"], vec![("userId", "alice"), ("serverNode", "DF 28"), ("isProduction", "false")], "percent-decoded"),
        (vec!["a=1", "b=2"], vec![("a", "1"), ("b", "2")], "repeated header joined"),
        (vec![" a = 1 ;prop1;prop2=x , b=2"], vec![("a", "1"), ("b", "2")], "OWS and properties dropped"),
        (vec!["a=%E2%9C%93"], vec![("a", "\u{2713}")], "UTF-8 escapes"),
        (vec!["a=x+y"], vec![("a", "x+y")], "+ is not a space"),
        (vec!["a="], vec![("a", "")], "empty value"),
        (vec!["a=1,a=2"], vec![("a", "1")], "first value of a key wins"),
        (vec!["K2=a,k2=b,K2=c"], vec![("K2", "a"), ("k2", "b")], "first value wins past another case of the key"),
    ]}

    #[rustfmt::skip]
    fn extract_data_invalid() -> Vec<(&'static str, &'static str)> { vec![
        ("", "empty"),
        ("novalue", "no ="),
        ("=value", "empty key"),
        ("a b=1", "space in key"),
        ("k\u{e9}y=1", "non-ASCII key"),
        ("a=%zz", "broken escape"),
        ("a=%4", "truncated escape"),
        ("a=%ff", "not UTF-8"),
        ("a=%C3%", "escape cut at the end"),
    ]}

    #[test]
    fn extracts_valid_members() {
        for (values, expected, reason) in extract_data() {
            assert_eq!(extract(&values), items(&expected), "{reason}");
        }
    }

    #[test]
    fn skips_malformed_members() {
        for (value, reason) in extract_data_invalid() {
            let with_good = format!("{value},ok=1");
            assert_eq!(extract(&[&with_good]), items(&[("ok", "1")]), "{reason}");
        }
    }

    #[test]
    fn keeps_existing_keys_and_limits() {
        let mut cx = new_cx();
        cx.baggage.push(("a".into(), "first".into()));
        BaggagePropagator::default().extract_baggage(&pairs(&[(HEADER, "a=second,b=2")]), &mut cx);
        assert_eq!(cx.baggage, items(&[("a", "first"), ("b", "2")]));

        let many: Vec<String> = (0..100).map(|i| format!("k{i}=v")).collect();
        assert_eq!(extract(&[&many.join(",")]).len(), MAX_BAGGAGE_ITEMS);

        let mut cx = new_cx();
        let big = "x".repeat(5000);
        assert!(push_baggage(&mut cx, "a".into(), big.clone()));
        assert!(!push_baggage(&mut cx, "b".into(), big));
        assert!(push_baggage(&mut cx, "c".into(), "small".into()));
    }

    #[test]
    fn inject_extract_round_trip() {
        let mut cx = new_cx();
        let mut out = pairs(&[]);
        BaggagePropagator::default().inject(&cx, &mut out);
        assert!(out.0.is_empty(), "no baggage, no header");

        cx.baggage = items(&[
            ("user", "alice smith"),
            ("q", "a=b,c;d%+é"),
            ("bad key", "x"),
        ]);
        BaggagePropagator::default().inject(&cx, &mut out);
        assert_eq!(
            out.value(HEADER),
            Some("user=alice%20smith,q=a%3Db%2Cc%3Bd%25%2B%C3%A9")
        );
        let mut back = TraceContext::new(cx.trace_id, None, Sampling::Sampled);
        BaggagePropagator::default().extract_baggage(&out, &mut back);
        assert_eq!(back.baggage, cx.baggage[..2]);
    }
}
