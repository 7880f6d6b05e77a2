//! W3C Trace Context: `traceparent` and `tracestate`.

use std::fmt;
use std::str::FromStr;

use super::tracestate;
use super::{Extractor, Injector, MAX_HEADER_LEN, Propagator, list_value, ok_or_log, single_value};
use crate::context::{Sampling, SpanId, TraceContext, TraceFlags, TraceId};
use crate::error::ParseError;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// Length of a version-00 `traceparent`: `vv-{32}-{16}-ff`.
const TRACEPARENT_LEN: usize = 55;

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
/// // A future version with an extra field parses; it is written back as version 00. Flags keep
/// // all 8 bits; only the known ones (sampled, random) are written (W3C Level 2 §3.2.2.5.3).
/// let tp: TraceParent = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-what-the-future-holds"
///     .parse()
///     .unwrap();
/// assert_eq!(tp.version, 1);
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-86".parse().unwrap();
/// assert_eq!(tp.flags, 0x86);
/// assert!(tp.to_string().ends_with("-02"));
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
    /// The trace flags as received, all 8 bits; bit 0 is `sampled`, bit 1 `random`.
    pub flags: u8,
}

impl TraceParent {
    /// A version-00 `traceparent` with the `sampled` flag set to `sampled`.
    pub fn new(trace_id: TraceId, span_id: SpanId, sampled: bool) -> Self {
        Self {
            version: 0,
            trace_id,
            span_id,
            flags: TraceFlags::default().with_sampled(sampled).to_u8(),
        }
    }

    /// `true` when the `sampled` flag is set.
    pub fn is_sampled(&self) -> bool {
        TraceFlags::from_u8(self.flags).is_sampled()
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

/// `00-{trace id}-{span id}-{flags}`, flags other than sampled and random set to zero (W3C
/// Level 2 §3.2.2.5.3 "Vendors MUST set those to zero").
impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            TraceFlags::from_u8(self.flags).to_wire()
        )
    }
}

/// W3C Trace Context (Level 2): `traceparent` (see [`TraceParent`]) and `tracestate`.
///
/// Extract: a missing `traceparent` is no context; an invalid one, or two different ones, is an
/// invalid context. The trace flags are kept, all 8 bits, in [`TraceContext::flags`]; the
/// `sampled` bit maps to [`Sampling::Sampled`] or [`Sampling::NotSampled`] (W3C has no deferred
/// decision). Repeated `tracestate` headers are joined with `,` (§3.3.2) and normalised as Level 2
/// §3.3 says: empty members and optional whitespace dropped, a duplicate key's later entries
/// discarded, longer than [`MAX_TRACESTATE_LEN`](super::MAX_TRACESTATE_LEN) truncated by whole
/// entries; an invalid `tracestate` (bad key or value, more than 32 members) is dropped and the
/// context stays valid.
///
/// Inject writes `traceparent` version 00 with the flags of [`TraceContext::trace_flags`]:
/// the `sampled` bit from the decision ([`Sampling::Deferred`] is sent as not sampled), the
/// `random` bit as received for this trace id (§3.2.2.5.2: it MUST be propagated unchanged for the
/// same trace id) or set on a trace id this crate generated, every other bit zero (§3.2.2.5.3).
/// `tracestate` is written when there is one. A context without a span id writes nothing:
/// `traceparent` requires a parent id.
///
/// ```
/// use lambda_trace::propagation::testing::{pairs, Pairs};
/// use lambda_trace::propagation::{Propagator, W3cPropagator};
///
/// let p = W3cPropagator::default();
/// let cx = p
///     .extract(&pairs(&[
///         ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"),
///         ("tracestate", "tenant@vendor=a , ,rojo=1,tenant@vendor=b"),
///     ]))
///     .unwrap();
/// assert!(cx.flags.is_random());
/// assert_eq!(cx.trace_state.as_deref(), Some("tenant@vendor=a,rojo=1"));
/// let mut out = Pairs::default();
/// p.inject(&cx, &mut out);
/// assert_eq!(out.value("traceparent"), Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"));
/// ```
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
        cx.flags = TraceFlags::from_u8(tp.flags);
        // An invalid tracestate never makes traceparent invalid (§3.3).
        cx.trace_state =
            list_value(headers, TRACESTATE).and_then(|s| tracestate::normalize(&s).ok().flatten());
        Ok(Some(cx))
    }
}

impl Propagator for W3cPropagator {
    fn extract(&self, headers: &dyn Extractor) -> Option<TraceContext> {
        ok_or_log("tracecontext", Self::parse(headers))
    }

    fn try_extract(&self, headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        Self::parse(headers)
    }

    fn name(&self) -> &'static str {
        "tracecontext"
    }

    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        let Some(span_id) = cx.span_id else {
            return;
        };
        let mut tp = TraceParent::new(cx.trace_id, span_id, false);
        tp.flags = cx.trace_flags().to_wire();
        headers.set(TRACEPARENT, tp.to_string());
        if let Some(Ok(Some(state))) = cx.trace_state.as_deref().map(tracestate::normalize) {
            headers.set(TRACESTATE, state);
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
