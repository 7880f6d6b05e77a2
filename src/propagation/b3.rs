//! Zipkin B3: the single `b3` header and the multi-header `X-B3-*` form.

use std::fmt;
use std::str::FromStr;

use super::{Extractor, Injector, MAX_HEADER_LEN, Propagator, ok_or_log, single_value};
use crate::context::{Sampling, SpanId, TraceContext, TraceId};
use crate::error::ParseError;

const B3_SINGLE: &str = "b3";
const TRACE_ID: &str = "x-b3-traceid";
const SPAN_ID: &str = "x-b3-spanid";
const PARENT_SPAN_ID: &str = "x-b3-parentspanid";
const SAMPLED: &str = "x-b3-sampled";
const FLAGS: &str = "x-b3-flags";

/// Every header either encoding reads.
const ALL_FIELDS: &[&str] = &[B3_SINGLE, TRACE_ID, SPAN_ID, PARENT_SPAN_ID, SAMPLED, FLAGS];

/// One parsed single-header `b3` value: `{trace id}-{span id}[-{sampling}[-{parent span id}]]`.
///
/// The trace id is 16 or 32 lowercase hex digits (a 64-bit id is left-padded to 128 bits), span
/// ids are 16 lowercase hex digits, and the sampling state is `1`, `0` or `d` (debug, which implies
/// sampled). No sampling state means [`Sampling::Deferred`].
///
/// The sampling-only forms (`b3: 0`, `b3: 1`, `b3: d`) carry no trace id, so they are not a `B3`
/// and fail with [`ParseError::Malformed`]; [`B3Propagator`] reads them as a decision.
///
/// ```
/// use lambda_trace::propagation::B3;
/// use lambda_trace::Sampling;
///
/// let b3: B3 = "463ac35c9f6413ad-a2fb4a1d1a96d312-d".parse().unwrap();
/// assert_eq!(b3.trace_id.to_string(), "0000000000000000463ac35c9f6413ad"); // padded
/// assert_eq!(b3.sampling, Sampling::Sampled);
/// assert!(b3.debug);
/// assert_eq!(b3.to_string(), "0000000000000000463ac35c9f6413ad-a2fb4a1d1a96d312-d");
///
/// assert!("0".parse::<B3>().is_err()); // "deny", but no context
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct B3 {
    /// The trace id.
    pub trace_id: TraceId,
    /// The caller's span id.
    pub span_id: SpanId,
    /// `1`, `0`, or no field ([`Sampling::Deferred`]); `d` reads as [`Sampling::Sampled`].
    pub sampling: Sampling,
    /// The `d` (debug) sampling state.
    pub debug: bool,
    /// The caller's parent span id, when sent. Propagators ignore it.
    pub parent_span_id: Option<SpanId>,
}

impl B3 {
    /// A `b3` value with no debug flag and no parent span id.
    pub fn new(trace_id: TraceId, span_id: SpanId, sampling: Sampling) -> Self {
        Self {
            trace_id,
            span_id,
            sampling,
            debug: false,
            parent_span_id: None,
        }
    }
}

impl FromStr for B3 {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, ParseError> {
        if s.len() > MAX_HEADER_LEN {
            return Err(ParseError::TooLong);
        }
        let mut fields = s.split('-');
        let (Some(trace_id), Some(span_id)) = (fields.next(), fields.next()) else {
            return Err(ParseError::Malformed);
        };
        let (trace_id, span_id) = (parse_trace_id(trace_id)?, span_id.parse::<SpanId>()?);
        let (sampling, debug) = match fields.next() {
            None => (Sampling::Deferred, false),
            Some("1") => (Sampling::Sampled, false),
            Some("0") => (Sampling::NotSampled, false),
            Some("d") => (Sampling::Sampled, true),
            Some(_) => return Err(ParseError::InvalidSampling),
        };
        let parent_span_id = fields.next().map(str::parse::<SpanId>).transpose()?;
        if fields.next().is_some() {
            return Err(ParseError::Malformed);
        }
        Ok(Self {
            trace_id,
            span_id,
            sampling,
            debug,
            parent_span_id,
        })
    }
}

/// 16 or 32 lowercase hex digits, padded to 128 bits.
fn parse_trace_id(s: &str) -> Result<TraceId, ParseError> {
    if !matches!(s.len(), 16 | 32) || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(ParseError::InvalidTraceId);
    }
    TraceId::from_hex_lenient(s)
}

/// `{32 hex trace id}-{span id}[-{1|0|d}[-{parent}]]`; the parent is only written together with
/// a sampling state, as the B3 grammar requires.
impl fmt::Display for B3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.trace_id, self.span_id)?;
        let state = match (self.debug, self.sampling) {
            (true, _) => "d",
            (false, Sampling::Sampled) => "1",
            (false, Sampling::NotSampled) => "0",
            (false, _) => return Ok(()),
        };
        write!(f, "-{state}")?;
        if let Some(parent) = self.parent_span_id {
            write!(f, "-{parent}")?;
        }
        Ok(())
    }
}

/// Which B3 headers [`B3Propagator`] writes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum B3Encoding {
    /// The single `b3` header (the default).
    #[default]
    Single,
    /// The `X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled` and `X-B3-Flags` headers.
    Multi,
}

/// Zipkin B3.
///
/// **Extract** reads both encodings, whatever [`B3Encoding`] says, as the OpenTelemetry B3
/// specification requires: the single `b3` header first, then the `X-B3-*` headers. The
/// multi-header form takes `X-B3-TraceId` (16 or 32 lowercase hex), `X-B3-SpanId`,
/// `X-B3-Sampled` (`1`/`0`, also `true`/`false`; absent means [`Sampling::Deferred`]) and
/// `X-B3-Flags: 1` (debug, which implies sampled); `X-B3-ParentSpanId` is ignored. An unknown
/// sampled value makes the context invalid.
///
/// **Sampling only.** B3 lets a caller send a decision without ids: `b3: 0` (deny), `b3: 1`
/// (accept), `b3: d` (debug), or `X-B3-Sampled` / `X-B3-Flags: 1` without `X-B3-TraceId` (B3
/// README, "Single Header": "Sampling State can also be sent on its own (with no identifiers)";
/// "Why send trace IDs with a reject sampling decision?": "valid to propagate only a reject
/// sampling decision"). Extract returns it as a context marked
/// [`sampling_only`](TraceContext::sampling_only): a generated trace id (random flag set), no span
/// id, the caller's decision — so a deny is honoured: the invocation starts a new trace that stays
/// unsampled. A sampling-only `b3` next to `X-B3-*` ids keeps those ids with the `b3` decision
/// (the single header takes precedence, README "Http Encodings").
///
/// **Inject** writes the configured encoding: `b3: {32 hex trace id}-{span id}[-{1|0|d}]` (no
/// sampling field when [`Sampling::Deferred`]), or `X-B3-TraceId`, `X-B3-SpanId` and either
/// `X-B3-Flags: 1` (debug) or `X-B3-Sampled: 1|0` (none when deferred). A context without a span
/// id writes only a sampling-only context's decision (`b3: 0`, `X-B3-Sampled: 0`, …), else
/// nothing: B3 requires one.
///
/// ```
/// use lambda_trace::propagation::testing::{pairs, Pairs};
/// use lambda_trace::propagation::{B3Propagator, Propagator};
/// use lambda_trace::Sampling;
///
/// let deny = B3Propagator::single().extract(&pairs(&[("b3", "0")])).unwrap();
/// assert!(deny.sampling_only && deny.span_id.is_none());
/// assert_eq!(deny.sampling, Sampling::NotSampled);
/// let mut out = Pairs::default();
/// B3Propagator::single().inject(&deny, &mut out);
/// assert_eq!(out.value("b3"), Some("0"));
/// ```
#[derive(Debug, Default, Clone)]
pub struct B3Propagator(B3Encoding);

impl B3Propagator {
    /// Injects the single `b3` header.
    pub fn single() -> Self {
        Self(B3Encoding::Single)
    }

    /// Injects the `X-B3-*` headers.
    pub fn multi() -> Self {
        Self(B3Encoding::Multi)
    }

    /// Injects `encoding`.
    pub fn with_encoding(encoding: B3Encoding) -> Self {
        Self(encoding)
    }

    /// The encoding this propagator injects.
    pub fn encoding(&self) -> B3Encoding {
        self.0
    }

    fn parse(headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        let single = match single_value(headers, B3_SINGLE) {
            Ok(Some(value)) => match sampling_state(value) {
                Some((sampling, debug)) => {
                    // The decision of `b3`, the ids of the multi headers when they have some.
                    return Ok(Some(match Self::parse_multi(headers) {
                        Ok(Some(mut cx)) if !cx.sampling_only => {
                            cx.sampling = sampling;
                            cx.debug = debug;
                            cx.flags = cx.flags.with_sampled(sampling.is_sampled());
                            cx
                        }
                        _ => decision_only(sampling, debug),
                    }));
                }
                None => Some(value.parse::<B3>()),
            },
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        };
        match single {
            Some(Ok(b3)) => {
                let mut cx = TraceContext::new(b3.trace_id, Some(b3.span_id), b3.sampling);
                cx.debug = b3.debug;
                Ok(Some(cx))
            }
            // The single header is unusable: the multi headers may still carry a context.
            Some(Err(e)) => Self::parse_multi(headers).and_then(|cx| cx.ok_or(e).map(Some)),
            None => Self::parse_multi(headers),
        }
    }

    fn parse_multi(headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        let debug = single_value(headers, FLAGS)? == Some("1");
        let sampling = match single_value(headers, SAMPLED)? {
            _ if debug => Sampling::Sampled,
            None => Sampling::Deferred,
            Some(v) if v == "1" || v.eq_ignore_ascii_case("true") => Sampling::Sampled,
            Some(v) if v == "0" || v.eq_ignore_ascii_case("false") => Sampling::NotSampled,
            Some(_) => return Err(ParseError::InvalidSampling),
        };
        let Some(trace_id) = single_value(headers, TRACE_ID)? else {
            // `X-B3-Sampled` or `X-B3-Flags: 1` without ids: a decision only.
            return Ok((sampling != Sampling::Deferred).then(|| decision_only(sampling, debug)));
        };
        let trace_id = parse_trace_id(trace_id)?;
        let span_id = single_value(headers, SPAN_ID)?
            .ok_or(ParseError::Malformed)?
            .parse::<SpanId>()?;
        let mut cx = TraceContext::new(trace_id, Some(span_id), sampling);
        cx.debug = debug;
        Ok(Some(cx))
    }
}

/// `b3`'s sampling state alone: `0`, `1` or `d` (debug, which implies accept).
fn sampling_state(value: &str) -> Option<(Sampling, bool)> {
    match value {
        "0" => Some((Sampling::NotSampled, false)),
        "1" => Some((Sampling::Sampled, false)),
        "d" => Some((Sampling::Sampled, true)),
        _ => None,
    }
}

/// A caller's decision without ids: a new trace id (ours, so random), no parent.
fn decision_only(sampling: Sampling, debug: bool) -> TraceContext {
    let mut cx = TraceContext::new_root(sampling);
    cx.debug = debug;
    cx.sampling_only = true;
    cx
}

impl B3Propagator {
    /// The decision of a sampling-only context without a span id, in the configured encoding.
    fn inject_decision(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        let state = match (cx.debug, cx.sampling) {
            (true, _) => "d",
            (false, Sampling::Sampled) => "1",
            (false, Sampling::NotSampled) => "0",
            (false, _) => return,
        };
        match (self.0, state) {
            (B3Encoding::Single, _) => headers.set(B3_SINGLE, state.into()),
            (B3Encoding::Multi, "d") => headers.set(FLAGS, "1".into()),
            (B3Encoding::Multi, _) => headers.set(SAMPLED, state.into()),
        }
    }
}

impl Propagator for B3Propagator {
    fn extract(&self, headers: &dyn Extractor) -> Option<TraceContext> {
        ok_or_log("b3", Self::parse(headers))
    }

    fn try_extract(&self, headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        Self::parse(headers)
    }

    fn name(&self) -> &'static str {
        match self.0 {
            B3Encoding::Single => "b3",
            B3Encoding::Multi => "b3multi",
        }
    }

    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        let Some(span_id) = cx.span_id else {
            if cx.sampling_only {
                self.inject_decision(cx, headers);
            }
            return;
        };
        match self.0 {
            B3Encoding::Single => {
                let mut b3 = B3::new(cx.trace_id, span_id, cx.sampling);
                b3.debug = cx.debug;
                headers.set(B3_SINGLE, b3.to_string());
            }
            B3Encoding::Multi => {
                headers.set(TRACE_ID, cx.trace_id.to_string());
                headers.set(SPAN_ID, span_id.to_string());
                // Debug implies an accept decision: the B3 spec says not to send both.
                if cx.debug {
                    headers.set(FLAGS, "1".into());
                } else if let Some(sampled) = match cx.sampling {
                    Sampling::Sampled => Some("1"),
                    Sampling::NotSampled => Some("0"),
                    _ => None,
                } {
                    headers.set(SAMPLED, sampled.into());
                }
            }
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        ALL_FIELDS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::testing::{Pairs, pairs};

    const TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
    const SPAN: &str = "e457b5a2e4d86bd1";
    const TRACE64_PADDED: &str = "0000000000000000463ac35c9f6413ad";

    fn extract(h: &Pairs) -> Option<TraceContext> {
        B3Propagator::default().extract(h)
    }

    /// (b3 value, trace id, sampling, debug, reason)
    #[rustfmt::skip]
    fn extract_single_data() -> Vec<(&'static str, &'static str, Sampling, bool, &'static str)> { vec![
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90", TRACE, Sampling::Sampled, false, "all fields"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1", TRACE, Sampling::Sampled, false, "sampled"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0", TRACE, Sampling::NotSampled, false, "not sampled"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-d", TRACE, Sampling::Sampled, true, "debug"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1", TRACE, Sampling::Deferred, false, "no sampling state"),
        ("463ac35c9f6413ad-e457b5a2e4d86bd1-1", TRACE64_PADDED, Sampling::Sampled, false, "64-bit trace id padded"),
        (" 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1 ", TRACE, Sampling::Sampled, false, "whitespace trimmed"),
    ]}

    #[rustfmt::skip]
    fn extract_single_data_invalid() -> Vec<(&'static str, &'static str)> { vec![
        ("", "empty"),
        ("80f198ee56343ba864fe8b2a57d3eff7", "trace id only"),
        ("80f198ee56343ba864fe8b2a57d3eff7-", "empty span id"),
        ("80F198EE56343BA864FE8B2A57D3EFF7-e457b5a2e4d86bd1-1", "uppercase trace id"),
        ("80f198ee56343ba864fe8b2a57d3eff7-E457B5A2E4D86BD1-1", "uppercase span id"),
        ("463ac35c9f6413a-e457b5a2e4d86bd1-1", "15-digit trace id"),
        ("0463ac35c9f6413ad-e457b5a2e4d86bd1-1", "17-digit trace id"),
        ("80f198ee56343ba864fe8b2a57d3eff-e457b5a2e4d86bd1-1", "31-digit trace id"),
        ("00000000000000000000000000000000-e457b5a2e4d86bd1-1", "all-zero trace id"),
        ("0000000000000000-e457b5a2e4d86bd1-1", "all-zero 64-bit trace id"),
        ("80f198ee56343ba864fe8b2a57d3eff7-0000000000000000-1", "zero span id"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd-1", "15-digit span id"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-2", "unknown sampling state"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-true", "true is multi-header only"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-", "empty sampling state"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-xyz", "garbage parent"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90-1", "five fields"),
        ("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bdé-1", "non-ASCII span id"),
    ]}

    /// (trace id, span id, sampled, flags, expected sampling, debug, reason)
    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    fn extract_multi_data() -> Vec<(&'static str, Option<&'static str>, Option<&'static str>, Sampling, bool, &'static str)> { vec![
        (TRACE, Some("1"), None, Sampling::Sampled, false, "sampled 1"),
        (TRACE, Some("0"), None, Sampling::NotSampled, false, "sampled 0"),
        (TRACE, Some("true"), None, Sampling::Sampled, false, "sampled true"),
        (TRACE, Some("False"), None, Sampling::NotSampled, false, "sampled False"),
        (TRACE, None, None, Sampling::Deferred, false, "no sampled header"),
        (TRACE, None, Some("1"), Sampling::Sampled, true, "debug flag"),
        (TRACE, Some("0"), Some("1"), Sampling::Sampled, true, "debug wins over 0"),
        (TRACE, Some("1"), Some("0"), Sampling::Sampled, false, "flags other than 1 ignored"),
        ("463ac35c9f6413ad", Some("1"), None, Sampling::Sampled, false, "64-bit trace id"),
    ]}

    fn multi(trace: &str, sampled: Option<&str>, flags: Option<&str>) -> Pairs {
        let mut h = pairs(&[
            (TRACE_ID, trace),
            (SPAN_ID, SPAN),
            (PARENT_SPAN_ID, "garbage"),
        ]);
        if let Some(s) = sampled {
            h.0.push((SAMPLED.into(), s.into()));
        }
        if let Some(f) = flags {
            h.0.push((FLAGS.into(), f.into()));
        }
        h
    }

    #[test]
    fn extracts_single_header() {
        for (value, trace, sampling, debug, reason) in extract_single_data() {
            let cx = extract(&pairs(&[(B3_SINGLE, value)])).unwrap_or_else(|| panic!("{reason}"));
            assert_eq!(cx.trace_id.to_string(), trace, "{reason}");
            assert_eq!(
                cx.span_id.map(|s| s.to_string()).as_deref(),
                Some(SPAN),
                "{reason}"
            );
            assert_eq!((cx.sampling, cx.debug), (sampling, debug), "{reason}");
        }
    }

    #[test]
    fn rejects_invalid_single_header() {
        for (value, reason) in extract_single_data_invalid() {
            assert_eq!(extract(&pairs(&[(B3_SINGLE, value)])), None, "{reason}");
            assert!(value.parse::<B3>().is_err(), "{reason}");
        }
    }

    #[test]
    fn extracts_multi_headers() {
        for (trace, sampled, flags, sampling, debug, reason) in extract_multi_data() {
            let cx = extract(&multi(trace, sampled, flags)).unwrap_or_else(|| panic!("{reason}"));
            assert_eq!(cx.trace_id, parse_trace_id(trace).unwrap(), "{reason}");
            assert_eq!((cx.sampling, cx.debug), (sampling, debug), "{reason}");
        }
    }

    #[rustfmt::skip]
    fn extract_multi_data_invalid() -> Vec<(Pairs, &'static str)> { vec![
        (pairs(&[(TRACE_ID, TRACE)]), "no span id"),
        (pairs(&[(TRACE_ID, TRACE), (SPAN_ID, "xyz")]), "bad span id"),
        (pairs(&[(TRACE_ID, "463ac35c9f6413a"), (SPAN_ID, SPAN)]), "15-digit trace id"),
        (pairs(&[(TRACE_ID, TRACE), (SPAN_ID, SPAN), (SAMPLED, "yes")]), "unknown sampled value"),
        (pairs(&[(TRACE_ID, TRACE), (TRACE_ID, "463ac35c9f6413ad"), (SPAN_ID, SPAN)]), "conflicting trace ids"),
    ]}

    #[test]
    fn rejects_invalid_multi_headers() {
        for (h, reason) in extract_multi_data_invalid() {
            assert_eq!(extract(&h), None, "{reason}");
        }
    }

    #[test]
    fn single_header_wins_and_invalid_single_falls_back_to_multi() {
        let mut h = multi("463ac35c9f6413ad", Some("0"), None);
        h.0.push((B3_SINGLE.into(), format!("{TRACE}-{SPAN}-1")));
        let cx = extract(&h).unwrap();
        assert_eq!(cx.trace_id.to_string(), TRACE);
        assert_eq!(cx.sampling, Sampling::Sampled);

        let mut h = multi(TRACE, Some("0"), None);
        h.0.push((B3_SINGLE.into(), "0".into()));
        let cx = B3Propagator::multi().extract(&h).unwrap();
        assert_eq!(cx.sampling, Sampling::NotSampled);
    }

    #[test]
    fn inject_extract_round_trip() {
        let trace_id = parse_trace_id(TRACE).unwrap();
        let span_id: SpanId = SPAN.parse().unwrap();
        for (sampling, debug, single, sampled_header, flags_header) in [
            (Sampling::Sampled, false, "-1", Some("1"), None),
            (Sampling::NotSampled, false, "-0", Some("0"), None),
            (Sampling::Deferred, false, "", None, None),
            (Sampling::Sampled, true, "-d", None, Some("1")),
        ] {
            let mut cx = TraceContext::new(trace_id, Some(span_id), sampling);
            cx.debug = debug;

            let mut out = pairs(&[]);
            B3Propagator::single().inject(&cx, &mut out);
            assert_eq!(out.0.len(), 1);
            assert_eq!(
                out.value(B3_SINGLE),
                Some(format!("{TRACE}-{SPAN}{single}").as_str())
            );
            assert_eq!(extract(&out), Some(cx.clone()), "single {sampling:?}");

            let mut out = pairs(&[]);
            B3Propagator::multi().inject(&cx, &mut out);
            assert_eq!(out.value(TRACE_ID), Some(TRACE));
            assert_eq!(out.value(SPAN_ID), Some(SPAN));
            assert_eq!(out.value(SAMPLED), sampled_header);
            assert_eq!(out.value(FLAGS), flags_header);
            assert_eq!(extract(&out), Some(cx), "multi {sampling:?}");
        }
    }

    #[test]
    fn inject_without_span_writes_nothing() {
        let cx = TraceContext::new(parse_trace_id(TRACE).unwrap(), None, Sampling::Sampled);
        for p in [B3Propagator::single(), B3Propagator::multi()] {
            let mut out = pairs(&[]);
            p.inject(&cx, &mut out);
            assert!(out.0.is_empty());
        }
    }

    #[test]
    fn display_parse_round_trip() {
        for value in [
            format!("{TRACE}-{SPAN}"),
            format!("{TRACE}-{SPAN}-0"),
            format!("{TRACE}-{SPAN}-1-05e3ac9a4f6e3b90"),
            format!("{TRACE}-{SPAN}-d"),
        ] {
            let b3: B3 = value.parse().unwrap();
            assert_eq!(b3.to_string(), value);
        }
        assert_eq!(B3Propagator::default().encoding(), B3Encoding::Single);
        assert_eq!(
            B3Propagator::with_encoding(B3Encoding::Multi).encoding(),
            B3Encoding::Multi
        );
    }
}
