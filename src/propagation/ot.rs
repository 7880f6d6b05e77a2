//! OpenTracing / Lightstep: `ot-tracer-traceid`, `ot-tracer-spanid`, `ot-tracer-sampled` and
//! `ot-baggage-{key}` baggage.

use super::baggage::{is_token, push_header_baggage};
use super::{
    Extractor, Injector, MAX_BAGGAGE_ITEMS, Propagator, for_each_prefixed, ok_or_log, single_value,
};
use crate::context::{Sampling, SpanId, TraceContext, TraceId};
use crate::error::ParseError;

const TRACE_ID: &str = "ot-tracer-traceid";
const SPAN_ID: &str = "ot-tracer-spanid";
const SAMPLED: &str = "ot-tracer-sampled";
const BAGGAGE_PREFIX: &str = "ot-baggage-";

/// OpenTracing / Lightstep (`ot-tracer-*`, `ot-baggage-*`).
///
/// Extract reads `ot-tracer-traceid` (1 to 32 hex digits) and `ot-tracer-spanid` (1 to 16 hex
/// digits), left-padded with zeros as the reference propagators do: OpenTracing's basictracer
/// writes ids as unpadded hex (`'{0:x}'`), and OpenTelemetry's `OtTracePropagator` pads the trace
/// id to 32 digits (Java `StringUtils.padLeft`, Go) before validating it; zero ids stay invalid.
/// `ot-tracer-sampled` (`true`/`false`/`1`/`0`, absent
/// means [`Sampling::Deferred`], anything else makes the context invalid). `ot-baggage-{key}`
/// headers are baggage (keys lowercased, values as received), added by
/// [`extract_baggage`](Propagator::extract_baggage) with the limits of
/// [`BaggagePropagator`](super::BaggagePropagator).
///
/// Inject writes the trace id as 16 hex digits when its high 64 bits are zero and as 32 hex
/// digits otherwise. OpenTelemetry's `OtTracePropagator` (Java, Go) writes only the low 64 bits
/// (16 hex digits); that loses the high half, and every id this crate generates (or reads from
/// X-Ray) has the epoch seconds there, so the callee would report a different trace. The span id is
/// 16 hex digits; `ot-tracer-sampled` is `true` or `false`, and left out when the decision is
/// [`Sampling::Deferred`] so the callee applies its own default. A context without a span id
/// writes no `ot-tracer-*` header. Baggage is written as `ot-baggage-{key}` with the value as is;
/// items whose key is not a token or whose value is not printable ASCII are skipped.
#[derive(Debug, Default, Clone)]
pub struct OtPropagator {
    _private: (),
}

impl OtPropagator {
    /// The OpenTracing propagator.
    pub fn new() -> Self {
        Self::default()
    }

    fn parse(headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        let Some(trace_id) = single_value(headers, TRACE_ID)? else {
            return Ok(None);
        };
        let trace_id = TraceId::from_hex_lenient(trace_id)?;
        let span_id = single_value(headers, SPAN_ID)?.ok_or(ParseError::Malformed)?;
        let span_id = SpanId::from_hex_lenient(span_id)?;
        let sampling = match single_value(headers, SAMPLED)? {
            None => Sampling::Deferred,
            Some(v) if v == "1" || v.eq_ignore_ascii_case("true") => Sampling::Sampled,
            Some(v) if v == "0" || v.eq_ignore_ascii_case("false") => Sampling::NotSampled,
            Some(_) => return Err(ParseError::InvalidSampling),
        };
        Ok(Some(TraceContext::new(trace_id, Some(span_id), sampling)))
    }
}

impl Propagator for OtPropagator {
    fn extract(&self, headers: &dyn Extractor) -> Option<TraceContext> {
        ok_or_log("ottrace", Self::parse(headers))
    }

    fn try_extract(&self, headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        Self::parse(headers)
    }

    fn name(&self) -> &'static str {
        "ottrace"
    }

    fn extract_baggage(&self, headers: &dyn Extractor, cx: &mut TraceContext) {
        for_each_prefixed(headers, BAGGAGE_PREFIX, |key, value| {
            push_header_baggage(cx, key, value.to_string());
        });
    }

    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        if let Some(span_id) = cx.span_id {
            let id = cx.trace_id.to_u128();
            let trace_id = if id >> 64 == 0 {
                format!("{:016x}", id as u64)
            } else {
                cx.trace_id.to_string()
            };
            headers.set(TRACE_ID, trace_id);
            headers.set(SPAN_ID, span_id.to_string());
            match cx.sampling {
                Sampling::Sampled => headers.set(SAMPLED, "true".into()),
                Sampling::NotSampled => headers.set(SAMPLED, "false".into()),
                _ => {}
            }
        }
        for (key, value) in cx.baggage.iter().take(MAX_BAGGAGE_ITEMS) {
            if is_token(key) && value.bytes().all(|b| matches!(b, b' '..=b'~')) {
                headers.set(
                    &format!("{BAGGAGE_PREFIX}{}", key.to_ascii_lowercase()),
                    value.clone(),
                );
            }
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        &[TRACE_ID, SPAN_ID, SAMPLED]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::testing::{Pairs, pairs};

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const SPAN: &str = "00f067aa0ba902b7";

    fn headers(trace: &str, span: Option<&str>, sampled: Option<&str>) -> Pairs {
        let mut h = pairs(&[(TRACE_ID, trace)]);
        h.0.extend(span.map(|s| (SPAN_ID.into(), s.into())));
        h.0.extend(sampled.map(|s| (SAMPLED.into(), s.into())));
        h
    }

    /// (trace id, sampled, expected trace id, sampling, reason)
    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    fn extract_data() -> Vec<(&'static str, Option<&'static str>, &'static str, Sampling, &'static str)> { vec![
        (TRACE, Some("true"), TRACE, Sampling::Sampled, "sampled true"),
        (TRACE, Some("false"), TRACE, Sampling::NotSampled, "sampled false"),
        (TRACE, Some("1"), TRACE, Sampling::Sampled, "sampled 1"),
        (TRACE, Some("0"), TRACE, Sampling::NotSampled, "sampled 0"),
        (TRACE, Some("TRUE"), TRACE, Sampling::Sampled, "case-insensitive"),
        (TRACE, None, TRACE, Sampling::Deferred, "no sampled header"),
        ("463ac35c9f6413ad", Some("true"), "0000000000000000463ac35c9f6413ad", Sampling::Sampled, "64-bit trace id"),
        ("4BF92F3577B34DA6A3CE929D0E0E4736", Some("true"), TRACE, Sampling::Sampled, "uppercase hex"),
    ]}

    #[rustfmt::skip]
    fn extract_data_invalid() -> Vec<(Pairs, &'static str)> { vec![
        (headers(TRACE, None, Some("true")), "no span id"),
        (headers("4bf92f3577b34da6a3ce929d0e0e47361", Some(SPAN), None), "33-digit trace id"),
        (headers("", Some(SPAN), None), "empty trace id"),
        (headers("0000000000000000", Some(SPAN), None), "zero trace id"),
        (headers("4bf92f3577b34da6a3ce929d0e0e473g", Some(SPAN), None), "trace id not hex"),
        (headers(TRACE, Some("100f067aa0ba902b7"), None), "17-digit span id"),
        (headers(TRACE, Some("0000000000000000"), None), "zero span id"),
        (headers(TRACE, Some("+0f067aa0ba902b7"), None), "sign in span id"),
        (headers(TRACE, Some(SPAN), Some("yes")), "unknown sampled value"),
        (headers("4bf92f3577b34da6a3ce929d0e0e473é", Some(SPAN), None), "non-ASCII trace id"),
        (pairs(&[(SPAN_ID, SPAN), (SAMPLED, "true")]), "no trace id"),
    ]}

    #[test]
    fn extracts_valid_headers() {
        for (trace, sampled, expected, sampling, reason) in extract_data() {
            let cx = OtPropagator::default()
                .extract(&headers(trace, Some(SPAN), sampled))
                .unwrap_or_else(|| panic!("{reason}"));
            assert_eq!(cx.trace_id.to_string(), expected, "{reason}");
            assert_eq!(
                cx.span_id.map(|s| s.to_string()).as_deref(),
                Some(SPAN),
                "{reason}"
            );
            assert_eq!(cx.sampling, sampling, "{reason}");
        }
    }

    #[test]
    fn rejects_invalid_headers() {
        for (h, reason) in extract_data_invalid() {
            assert_eq!(OtPropagator::default().extract(&h), None, "{reason}");
        }
    }

    #[test]
    fn inject_extract_round_trip() {
        let p = OtPropagator::default();
        let mut h = headers(TRACE, Some(SPAN), Some("true"));
        h.0.push(("ot-baggage-User".into(), "alice smith".into()));
        h.0.push(("OT-Baggage-tier".into(), "gold".into()));
        let mut cx = p.extract(&h).unwrap();
        p.extract_baggage(&h, &mut cx);
        assert_eq!(cx.baggage.len(), 2);

        let mut out = Pairs::default();
        p.inject(&cx, &mut out);
        assert_eq!(out.value(TRACE_ID), Some(TRACE));
        assert_eq!(out.value(SPAN_ID), Some(SPAN));
        assert_eq!(out.value(SAMPLED), Some("true"));
        assert_eq!(out.value("ot-baggage-user"), Some("alice smith"));
        let mut back = p.extract(&out).unwrap();
        p.extract_baggage(&out, &mut back);
        assert_eq!(back, cx);
    }

    #[test]
    fn inject_trace_id_width_and_sampling() {
        let span_id = SpanId::from_u64(7);
        let short = TraceId::from_u128(0x463ac35c9f6413ad).unwrap();
        let mut cx = TraceContext::new(short, span_id, Sampling::Deferred);
        cx.baggage.push(("bad key".into(), "x".into()));
        cx.baggage.push(("k".into(), "caf\u{e9}".into()));
        let mut out = Pairs::default();
        OtPropagator::default().inject(&cx, &mut out);
        assert_eq!(out.value(TRACE_ID), Some("463ac35c9f6413ad"));
        assert_eq!(out.value(SAMPLED), None, "deferred: no sampled header");
        assert_eq!(out.0.len(), 2, "unrepresentable baggage skipped");
        assert_eq!(
            OtPropagator::default().extract(&out),
            Some(cx.clone()).map(|mut c| {
                c.baggage.clear();
                c
            })
        );
    }
}
