//! Jaeger: `uber-trace-id: {trace}:{span}:{parent}:{flags}` and `uberctx-{key}` baggage.

use super::baggage::{is_token, percent_decode, percent_encode, push_header_baggage};
use super::{
    Extractor, Injector, MAX_BAGGAGE_ITEMS, Propagator, for_each_prefixed, ok_or_log, single_value,
};
use crate::context::{Sampling, SpanId, TraceContext, TraceId};
use crate::error::ParseError;

const HEADER: &str = "uber-trace-id";
const BAGGAGE_PREFIX: &str = "uberctx-";

const FLAG_SAMPLED: u8 = 0x01;
const FLAG_DEBUG: u8 = 0x02;

/// Jaeger (`uber-trace-id`, `uberctx-*`).
///
/// Extract reads `{trace}:{span}:{parent}:{flags}`, also URL-encoded (`%3A` for `:`): the trace id
/// is 1 to 32 hex digits and the span id 1 to 16 (shorter ids are left-padded, zero ids invalid),
/// the parent span id is 1 to 16 hex digits and ignored (`0` is the usual value), the flags are
/// 1 or 2 hex digits: bit `0x01` sampled, bit `0x02` debug. The sampled bit alone decides: Jaeger's
/// propagation format says the debug flag "should only be set when the sampled flag is set", so
/// flags `2` (debug without sampled) read as not sampled and not debug, as OpenTelemetry's Jaeger
/// propagators (Go, Java) read them; other bits (`0x08` firehose) are ignored. Jaeger always
/// carries a decision, so there is no [`Sampling::Deferred`] here.
///
/// ```
/// use lambda_trace::propagation::testing::pairs;
/// use lambda_trace::propagation::{JaegerPropagator, Propagator};
/// use lambda_trace::Sampling;
///
/// let read = |flags: &str| {
///     let value = format!("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:{flags}");
///     let cx = JaegerPropagator::default().extract(&pairs(&[("uber-trace-id", &value)])).unwrap();
///     (cx.sampling, cx.debug)
/// };
/// assert_eq!(read("3"), (Sampling::Sampled, true));
/// assert_eq!(read("2"), (Sampling::NotSampled, false));
/// ```
///
/// `uberctx-{key}: {value}` headers are baggage: keys lowercased (they are header names), values
/// percent-decoded, malformed ones skipped, added by
/// [`extract_baggage`](Propagator::extract_baggage) with the limits of
/// [`BaggagePropagator`](super::BaggagePropagator).
///
/// Inject writes `uber-trace-id` with a 32-digit trace id, 16-digit span id, parent `0` and flags
/// `1` (sampled), `3` (debug) or `0`. A [`Sampling::Deferred`] decision is written as `0`: Jaeger
/// cannot say "undecided", and not sampled is the choice that never makes the callee record
/// traces nobody asked for. A context without a span id writes no `uber-trace-id`. Baggage is
/// written as `uberctx-{key}` (keys lowercased, those that are not tokens skipped, values
/// percent-encoded).
#[derive(Debug, Default, Clone)]
pub struct JaegerPropagator {
    _private: (),
}

impl JaegerPropagator {
    /// The Jaeger propagator.
    pub fn new() -> Self {
        Self::default()
    }

    fn parse(headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        let Some(value) = single_value(headers, HEADER)? else {
            return Ok(None);
        };
        let value = percent_decode(value).ok_or(ParseError::Malformed)?;
        let mut fields = value.split(':');
        let (Some(trace_id), Some(span_id), Some(parent), Some(flags), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(ParseError::Malformed);
        };
        let trace_id = TraceId::from_hex_lenient(trace_id)?;
        let span_id = SpanId::from_hex_lenient(span_id)?;
        if parent.is_empty() || parent.len() > 16 || !parent.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(ParseError::InvalidSpanId);
        }
        let flags = parse_flags(flags).ok_or(ParseError::InvalidSampling)?;
        let sampled = flags & FLAG_SAMPLED != 0;
        // "Debug flag should only be set when the sampled flag is set" (Jaeger propagation format).
        let debug = sampled && flags & FLAG_DEBUG != 0;
        let sampling = if sampled {
            Sampling::Sampled
        } else {
            Sampling::NotSampled
        };
        let mut cx = TraceContext::new(trace_id, Some(span_id), sampling);
        cx.debug = debug;
        Ok(Some(cx))
    }
}

/// One or two hex digits.
fn parse_flags(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u8::from_str_radix(s, 16).ok()
}

impl Propagator for JaegerPropagator {
    fn extract(&self, headers: &dyn Extractor) -> Option<TraceContext> {
        ok_or_log("jaeger", Self::parse(headers))
    }

    fn try_extract(&self, headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        Self::parse(headers)
    }

    fn name(&self) -> &'static str {
        "jaeger"
    }

    fn extract_baggage(&self, headers: &dyn Extractor, cx: &mut TraceContext) {
        for_each_prefixed(headers, BAGGAGE_PREFIX, |key, value| {
            if let Some(value) = percent_decode(value) {
                push_header_baggage(cx, key, value);
            }
        });
    }

    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        if let Some(span_id) = cx.span_id {
            let flags = match (cx.debug, cx.sampling) {
                (true, _) => FLAG_SAMPLED | FLAG_DEBUG,
                (false, Sampling::Sampled) => FLAG_SAMPLED,
                (false, _) => 0,
            };
            headers.set(HEADER, format!("{}:{span_id}:0:{flags:x}", cx.trace_id));
        }
        for (key, value) in cx.baggage.iter().take(MAX_BAGGAGE_ITEMS) {
            if is_token(key) {
                let mut encoded = String::with_capacity(value.len());
                percent_encode(value, &mut encoded);
                headers.set(
                    &format!("{BAGGAGE_PREFIX}{}", key.to_ascii_lowercase()),
                    encoded,
                );
            }
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        &[HEADER]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::testing::{Pairs, pairs};

    fn extract(value: &str) -> Option<TraceContext> {
        JaegerPropagator::default().extract(&pairs(&[(HEADER, value)]))
    }

    /// (header, trace id, span id, sampling, debug, reason)
    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    fn extract_data() -> Vec<(&'static str, &'static str, &'static str, Sampling, bool, &'static str)> { vec![
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", Sampling::Sampled, false, "full width, sampled"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:0", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", Sampling::NotSampled, false, "not sampled"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:3", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", Sampling::Sampled, true, "sampled + debug"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:2", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", Sampling::NotSampled, false, "debug without sampled: the sampled bit decides (spec: debug only with sampled)"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:08", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", Sampling::NotSampled, false, "firehose bit only"),
        ("463ac35c9f6413ad:a2fb4a1d1a96d312:53995c3f42cd8ad8:1", "0000000000000000463ac35c9f6413ad", "a2fb4a1d1a96d312", Sampling::Sampled, false, "64-bit trace id, parent ignored"),
        ("abc:1:0:1", "00000000000000000000000000000abc", "0000000000000001", Sampling::Sampled, false, "short ids padded"),
        ("ABC:DEF:0:1", "00000000000000000000000000000abc", "0000000000000def", Sampling::Sampled, false, "uppercase hex"),
        ("4bf92f3577b34da6a3ce929d0e0e4736%3A00f067aa0ba902b7%3A0%3A1", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", Sampling::Sampled, false, "URL-encoded"),
        ("4bf92f3577b34da6a3ce929d0e0e4736%3a00f067aa0ba902b7%3a0%3a1", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", Sampling::Sampled, false, "URL-encoded, lowercase escape"),
    ]}

    #[rustfmt::skip]
    fn extract_data_invalid() -> Vec<(&'static str, &'static str)> { vec![
        ("", "empty"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0", "three fields"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1:1", "five fields"),
        (":00f067aa0ba902b7:0:1", "empty trace id"),
        ("0:00f067aa0ba902b7:0:1", "zero trace id"),
        ("04bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1", "33-digit trace id"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:0:0:1", "zero span id"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:100f067aa0ba902b7:0:1", "17-digit span id"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7::1", "empty parent"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:xyz:1", "parent not hex"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:", "empty flags"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:100", "flags over a byte"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:z", "flags not hex"),
        ("4bf92f3577b34da6a3ce929d0e0e4736:+0f067aa0ba902b7:0:1", "sign in span id"),
        ("4bf92f3577b34da6a3ce929d0e0e4736%3Z00f067aa0ba902b7:0:1", "broken escape"),
        ("4bf92f3577b34da6a3ce929d0e0e473é:00f067aa0ba902b7:0:1", "non-ASCII"),
    ]}

    #[test]
    fn extracts_valid_headers() {
        for (value, trace, span, sampling, debug, reason) in extract_data() {
            let cx = extract(value).unwrap_or_else(|| panic!("{reason}"));
            assert_eq!(cx.trace_id.to_string(), trace, "{reason}");
            assert_eq!(
                cx.span_id.map(|s| s.to_string()).as_deref(),
                Some(span),
                "{reason}"
            );
            assert_eq!((cx.sampling, cx.debug), (sampling, debug), "{reason}");
        }
    }

    #[test]
    fn rejects_invalid_headers() {
        for (value, reason) in extract_data_invalid() {
            assert_eq!(extract(value), None, "{reason}");
        }
    }

    #[test]
    fn extracts_baggage() {
        let h = pairs(&[
            ("uberctx-user", "alice%20smith"),
            ("UberCtx-Tier", "gold"),
            ("uberctx-", "no key"),
            ("uberctx-bad", "%zz"),
            ("other", "x"),
        ]);
        let mut cx = TraceContext::new(TraceId::generate(), None, Sampling::Sampled);
        JaegerPropagator::default().extract_baggage(&h, &mut cx);
        assert_eq!(
            cx.baggage,
            vec![
                ("user".to_string(), "alice smith".to_string()),
                ("tier".into(), "gold".into())
            ]
        );
    }

    #[test]
    fn reads_at_most_the_first_prefixed_headers() {
        use crate::propagation::MAX_PREFIXED_BAGGAGE_HEADERS;
        // Each prefixed header costs a lookup: past the cap, headers are not read at all, so
        // valid ones behind thousands of invalid ones are not found.
        let mut h = Pairs::default();
        for i in 0..MAX_PREFIXED_BAGGAGE_HEADERS {
            h.0.push((format!("uberctx-bad{i}"), "%zz".into()));
        }
        h.0.push(("uberctx-late".into(), "v".into()));
        let mut cx = TraceContext::new(TraceId::generate(), None, Sampling::Sampled);
        JaegerPropagator::default().extract_baggage(&h, &mut cx);
        assert!(cx.baggage.is_empty());

        h.0.remove(0);
        JaegerPropagator::default().extract_baggage(&h, &mut cx);
        assert_eq!(cx.baggage, vec![("late".to_string(), "v".to_string())]);
    }

    #[test]
    fn inject_extract_round_trip() {
        let p = JaegerPropagator::default();
        let value = "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1";
        let mut h = pairs(&[(HEADER, value), ("uberctx-k", "v%2Cw")]);
        let mut cx = p.extract(&h).unwrap();
        p.extract_baggage(&h, &mut cx);
        h = Pairs::default();
        p.inject(&cx, &mut h);
        assert_eq!(h.value(HEADER), Some(value));
        assert_eq!(h.value("uberctx-k"), Some("v%2Cw"));
        let mut back = p.extract(&h).unwrap();
        p.extract_baggage(&h, &mut back);
        assert_eq!(back, cx);
    }

    #[test]
    fn inject_flags() {
        let trace_id = TraceId::from_u128(0xabc).unwrap();
        let span_id = SpanId::from_u64(1);
        for (sampling, debug, flags) in [
            (Sampling::Sampled, false, "1"),
            (Sampling::NotSampled, false, "0"),
            (Sampling::Deferred, false, "0"),
            (Sampling::Sampled, true, "3"),
        ] {
            let mut cx = TraceContext::new(trace_id, span_id, sampling);
            cx.debug = debug;
            let mut h = Pairs::default();
            JaegerPropagator::default().inject(&cx, &mut h);
            let expected = format!("00000000000000000000000000000abc:0000000000000001:0:{flags}");
            assert_eq!(h.value(HEADER), Some(expected.as_str()));
        }
        let mut h = Pairs::default();
        JaegerPropagator::default().inject(
            &TraceContext::new(trace_id, None, Sampling::Sampled),
            &mut h,
        );
        assert!(h.0.is_empty());
    }
}
