//! W3C Trace Context: `traceparent` and `tracestate`.

use std::fmt;
use std::str::FromStr;

use super::{
    Extractor, Injector, MAX_HEADER_LEN, MAX_TRACESTATE_MEMBERS, Propagator, list_value, ok_or_log,
    single_value,
};
use crate::context::{Sampling, SpanId, TraceContext, TraceId};
use crate::error::ParseError;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// Length of a version-00 `traceparent`: `vv-{32}-{16}-ff`.
const TRACEPARENT_LEN: usize = 55;

/// The `sampled` bit of the trace flags.
const FLAG_SAMPLED: u8 = 0x01;

/// One parsed `traceparent` value: `{version}-{trace id}-{parent id}-{flags}`, all lowercase hex.
///
/// Parsing follows the W3C recommendation: version `ff` is invalid; version `00` is exactly
/// 55 characters; a later version is read by its first four fields and may carry more fields
/// after a `-` (they are dropped). All-zero ids and uppercase hex are invalid.
///
/// ```
/// use lambda_trace::propagation::TraceParent;
///
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap();
/// assert!(tp.is_sampled());
/// assert_eq!(tp.span_id.to_string(), "00f067aa0ba902b7");
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
///
/// // A future version with an extra field parses; it is written back as version 00.
/// let tp: TraceParent = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-the-future-holds"
///     .parse()
///     .unwrap();
/// assert_eq!(tp.version, 1);
/// assert!("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01".parse::<TraceParent>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TraceParent {
    /// The version received (`0` for the current version). [`Display`](fmt::Display) always
    /// writes `00`: the only version whose layout this crate knows.
    pub version: u8,
    /// The trace id.
    pub trace_id: TraceId,
    /// The parent id: the caller's span.
    pub span_id: SpanId,
    /// The trace flags; bit 0 is `sampled`.
    pub flags: u8,
}

impl TraceParent {
    /// A version-00 `traceparent` with the `sampled` flag set to `sampled`.
    pub fn new(trace_id: TraceId, span_id: SpanId, sampled: bool) -> Self {
        Self {
            version: 0,
            trace_id,
            span_id,
            flags: if sampled { FLAG_SAMPLED } else { 0 },
        }
    }

    /// `true` when the `sampled` flag is set.
    pub fn is_sampled(&self) -> bool {
        self.flags & FLAG_SAMPLED != 0
    }
}

impl FromStr for TraceParent {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.len() > MAX_HEADER_LEN {
            return Err(ParseError::TooLong);
        }
        // ASCII only, so every byte offset below is a char boundary.
        if !s.is_ascii() || s.len() < TRACEPARENT_LEN {
            return Err(ParseError::Malformed);
        }
        let b = s.as_bytes();
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(ParseError::Malformed);
        }
        let version = lower_hex_byte(&s[..2]).ok_or(ParseError::UnsupportedVersion)?;
        if version == 0xff {
            return Err(ParseError::UnsupportedVersion);
        }
        match (version, b.get(TRACEPARENT_LEN)) {
            (_, None) => {}
            (0, Some(_)) => return Err(ParseError::Malformed),
            (_, Some(b'-')) => {}
            (_, Some(_)) => return Err(ParseError::Malformed),
        }
        let trace_id: TraceId = s[3..35].parse()?;
        let span_id: SpanId = s[36..52].parse()?;
        let flags = lower_hex_byte(&s[53..55]).ok_or(ParseError::InvalidSampling)?;
        Ok(Self {
            version,
            trace_id,
            span_id,
            flags,
        })
    }
}

/// Two lowercase hex digits.
fn lower_hex_byte(s: &str) -> Option<u8> {
    if s.len() != 2 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u8::from_str_radix(s, 16).ok()
}

/// `00-{trace id}-{span id}-{flags}`.
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id, self.span_id, self.flags
        )
    }
}

/// `true` when `s` is a valid `tracestate`: at most 32 non-empty list members, each
/// `key=value` with the key and value grammar of W3C Trace Context, no key twice.
fn is_valid_tracestate(s: &str) -> bool {
    let mut keys: Vec<&str> = Vec::new();
    for member in s.split(',') {
        let member = member.trim_matches([' ', '\t']);
        if member.is_empty() {
            continue;
        }
        let Some((key, value)) = member.split_once('=') else {
            return false;
        };
        if !is_tracestate_key(key) || !is_tracestate_value(value) || keys.contains(&key) {
            return false;
        }
        if keys.len() == MAX_TRACESTATE_MEMBERS {
            return false;
        }
        keys.push(key);
    }
    !keys.is_empty()
}

/// `simple-key` (`lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/")`) or
/// `tenant-id "@" system-id` (tenant up to 241 chars starting with lcalpha or digit, system up
/// to 14 starting with lcalpha).
fn is_tracestate_key(key: &str) -> bool {
    fn rest_ok(s: &str) -> bool {
        s.bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'*' | b'/'))
    }
    match key.split_once('@') {
        None => {
            (1..=256).contains(&key.len()) && key.as_bytes()[0].is_ascii_lowercase() && rest_ok(key)
        }
        Some((tenant, system)) => {
            (1..=241).contains(&tenant.len())
                && matches!(tenant.as_bytes()[0], b'a'..=b'z' | b'0'..=b'9')
                && rest_ok(tenant)
                && (1..=14).contains(&system.len())
                && system.as_bytes()[0].is_ascii_lowercase()
                && rest_ok(system)
        }
    }
}

/// `0*255(chr) nblk-chr`: 1 to 256 printable ASCII characters other than `,` and `=`, spaces
/// allowed except at the end.
fn is_tracestate_value(value: &str) -> bool {
    (1..=256).contains(&value.len())
        && value
            .bytes()
            .all(|b| matches!(b, b' '..=b'~') && b != b',' && b != b'=')
        && !value.ends_with(' ')
}

/// W3C Trace Context: `traceparent` (see [`TraceParent`]) and `tracestate`.
///
/// Extract: a missing `traceparent` is no context; an invalid one, or two different ones, is an
/// invalid context. Repeated `tracestate` headers are joined with `,`; a valid `tracestate` is
/// kept as received in [`TraceContext::trace_state`], an invalid one is dropped (the context
/// stays valid). The `sampled` flag maps to [`Sampling::Sampled`] or [`Sampling::NotSampled`]:
/// W3C has no deferred decision.
///
/// Inject writes `traceparent` (version 00, flags `01` when sampled and `00` otherwise, so a
/// [`Sampling::Deferred`] decision is sent as not sampled) and `tracestate` when there is one.
/// A context without a span id writes nothing: `traceparent` requires a parent id.
#[derive(Debug, Default, Clone)]
pub struct W3cPropagator {
    _private: (),
}

impl W3cPropagator {
    /// The W3C Trace Context propagator.
    pub fn new() -> Self {
        Self::default()
    }

    fn parse(headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        let Some(value) = single_value(headers, TRACEPARENT)? else {
            return Ok(None);
        };
        let tp: TraceParent = value.parse()?;
        let sampling = if tp.is_sampled() {
            Sampling::Sampled
        } else {
            Sampling::NotSampled
        };
        let mut cx = TraceContext::new(tp.trace_id, Some(tp.span_id), sampling);
        cx.trace_state = list_value(headers, TRACESTATE).filter(|s| is_valid_tracestate(s));
        Ok(Some(cx))
    }
}

impl Propagator for W3cPropagator {
    fn extract(&self, headers: &dyn Extractor) -> Option<TraceContext> {
        ok_or_log("tracecontext", Self::parse(headers))
    }

    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        let Some(span_id) = cx.span_id else {
            return;
        };
        let tp = TraceParent::new(cx.trace_id, span_id, cx.sampling.is_sampled());
        headers.set(TRACEPARENT, tp.to_string());
        if let Some(state) = cx.trace_state.as_deref().filter(|s| is_valid_tracestate(s)) {
            headers.set(TRACESTATE, state.to_string());
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        &[TRACEPARENT, TRACESTATE]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::testing::pairs;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    fn extract(traceparent: &str) -> Option<TraceContext> {
        W3cPropagator::default().extract(&pairs(&[(TRACEPARENT, traceparent)]))
    }

    #[rustfmt::skip]
    fn extract_data() -> Vec<(&'static str, Sampling, &'static str)> { vec![
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Sampling::Sampled, "sampled"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", Sampling::NotSampled, "not sampled"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", Sampling::Sampled, "sampled + random flag"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02", Sampling::NotSampled, "unknown flag bits ignored"),
        ("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ", Sampling::Sampled, "surrounding whitespace trimmed"),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Sampling::Sampled, "version 01, no extra fields"),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", Sampling::Sampled, "version 01 with extra fields"),
        ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-", Sampling::NotSampled, "version cc, empty extra field"),
    ]}

    #[rustfmt::skip]
    fn extract_data_invalid() -> Vec<(&'static str, &'static str)> { vec![
        ("", "empty"),
        ("00", "version only"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "no flags"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0", "short flags"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011", "long flags"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra", "version 00 with extra data"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", "version 00 with trailing -"),
        ("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what", "version 01, extra not after -"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff"),
        ("0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version not hex"),
        ("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version uppercase"),
        ("00-AB000000000000000000000000000000-cd00000000000000-01", "upper case trace id"),
        ("00-ab000000000000000000000000000000-CD00000000000000-01", "upper case span id"),
        ("00-ab000000000000000000000000000000-cd00000000000000-0A", "upper case flags"),
        ("00-00000000000000000000000000000000-cd00000000000000-01", "all-zero trace id"),
        ("00-ab000000000000000000000000000000-0000000000000000-01", "all-zero span id"),
        ("00-ab00000000000000000000000000000-cd00000000000000-01", "31-digit trace id"),
        ("00-ab0000000000000000000000000000000-cd0000000000000-01", "33-digit trace id"),
        ("00-ab000000000000000000000000000000-cd0000000000000-01-", "15-digit span id"),
        ("00-qw000000000000000000000000000000-cd00000000000000-01", "trace id not hex"),
        ("00-ab000000000000000000000000000000-qw00000000000000-01", "span id not hex"),
        ("00-ab000000000000000000000000000000-cd00000000000000-qw", "flags not hex"),
        ("00_ab000000000000000000000000000000-cd00000000000000-01", "wrong separator"),
        ("00-ab000000000000000000000000000000-cd00000000000000-0é", "non-ASCII flags"),
        ("00-ab00000000000000000000000000000é-cd00000000000000-01", "non-ASCII in trace id"),
        ("00-+b000000000000000000000000000000-cd00000000000000-01", "sign in trace id"),
    ]}

    #[test]
    fn extracts_valid_traceparents() {
        for (value, sampling, reason) in extract_data() {
            let cx = extract(value).unwrap_or_else(|| panic!("{reason}: rejected"));
            assert_eq!(cx.trace_id.to_string(), TRACE, "{reason}");
            assert_eq!(
                cx.span_id.map(|s| s.to_string()).as_deref(),
                Some(SPAN),
                "{reason}"
            );
            assert_eq!(cx.sampling, sampling, "{reason}");
        }
    }

    #[test]
    fn rejects_invalid_traceparents() {
        for (value, reason) in extract_data_invalid() {
            assert_eq!(extract(value), None, "{reason}");
        }
    }

    #[rustfmt::skip]
    fn tracestate_data() -> Vec<(Vec<&'static str>, Option<&'static str>, &'static str)> { vec![
        (vec!["foo=bar"], Some("foo=bar"), "one member"),
        (vec!["foo=bar,baz=qux"], Some("foo=bar,baz=qux"), "two members"),
        (vec!["foo=bar", "baz=qux"], Some("foo=bar,baz=qux"), "repeated header joined"),
        (vec!["foo=bar , ,baz=qux"], Some("foo=bar , ,baz=qux"), "empty member and spaces kept as is"),
        (vec!["tenant@system=a b"], Some("tenant@system=a b"), "multi-tenant key, space in value"),
        (vec!["1tenant@sys_1=x"], Some("1tenant@sys_1=x"), "tenant may start with a digit"),
        (vec!["a-b*c/d_e=!\"#"], Some("a-b*c/d_e=!\"#"), "key and value charset"),
        (vec![""], None, "empty"),
        (vec!["foo"], None, "member without ="),
        (vec!["Foo=bar"], None, "uppercase key"),
        (vec!["1foo=bar"], None, "simple key starting with a digit"),
        (vec!["foo="], None, "empty value"),
        (vec!["foo=b=r"], None, "= in value"),
        (vec!["foo=bar,foo=baz"], None, "duplicate key"),
        (vec!["foo=bär"], None, "non-ASCII value"),
        (vec!["t@1sys=x"], None, "system id starting with a digit"),
        (vec!["t@systemtoolong15=x"], None, "system id too long"),
    ]}

    #[test]
    fn tracestate_kept_when_valid_dropped_when_not() {
        let tp = format!("00-{TRACE}-{SPAN}-01");
        for (states, expected, reason) in tracestate_data() {
            let mut h = pairs(&[(TRACEPARENT, &tp)]);
            for s in states {
                h.0.push((TRACESTATE.to_string(), s.to_string()));
            }
            let cx = W3cPropagator::default()
                .extract(&h)
                .unwrap_or_else(|| panic!("{reason}"));
            assert_eq!(cx.trace_state.as_deref(), expected, "{reason}");
        }
    }

    #[test]
    fn tracestate_member_limit() {
        let members = |n: usize| {
            (0..n)
                .map(|i| format!("k{i}=v"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert!(is_valid_tracestate(&members(32)));
        assert!(!is_valid_tracestate(&members(33)));
        assert!(is_tracestate_key(&format!("a{}", "b".repeat(255))));
        assert!(!is_tracestate_key(&format!("a{}", "b".repeat(256))));
    }

    #[test]
    fn conflicting_traceparents_are_invalid() {
        let a = format!("00-{TRACE}-{SPAN}-01");
        let b = format!("00-{TRACE}-{SPAN}-00");
        let p = W3cPropagator::default();
        assert!(
            p.extract(&pairs(&[(TRACEPARENT, &a), (TRACEPARENT, &a)]))
                .is_some()
        );
        assert_eq!(
            p.extract(&pairs(&[(TRACEPARENT, &a), (TRACEPARENT, &b)])),
            None
        );
    }

    #[test]
    fn inject_extract_round_trip() {
        let tp = format!("00-{TRACE}-{SPAN}-01");
        let p = W3cPropagator::default();
        let cx = p
            .extract(&pairs(&[
                (TRACEPARENT, &tp),
                (TRACESTATE, "congo=t61rcWkgMzE"),
            ]))
            .unwrap();
        let mut out = pairs(&[]);
        p.inject(&cx, &mut out);
        assert_eq!(out.value(TRACEPARENT), Some(tp.as_str()));
        assert_eq!(out.value(TRACESTATE), Some("congo=t61rcWkgMzE"));
        assert_eq!(p.extract(&out), Some(cx));
    }

    #[test]
    fn inject_deferred_as_not_sampled_and_skips_without_span() {
        let trace_id: TraceId = TRACE.parse().unwrap();
        let span_id: SpanId = SPAN.parse().unwrap();
        let mut out = pairs(&[]);
        W3cPropagator::default().inject(
            &TraceContext::new(trace_id, Some(span_id), Sampling::Deferred),
            &mut out,
        );
        assert_eq!(
            out.value(TRACEPARENT),
            Some(format!("00-{TRACE}-{SPAN}-00").as_str())
        );
        assert_eq!(out.value(TRACESTATE), None);

        let mut out = pairs(&[]);
        W3cPropagator::default().inject(
            &TraceContext::new(trace_id, None, Sampling::Sampled),
            &mut out,
        );
        assert!(out.0.is_empty());
    }

    #[test]
    fn future_version_is_written_as_00() {
        let tp: TraceParent = format!("cc-{TRACE}-{SPAN}-01-extra").parse().unwrap();
        assert_eq!(tp.version, 0xcc);
        assert_eq!(tp.to_string(), format!("00-{TRACE}-{SPAN}-01"));
    }
}
