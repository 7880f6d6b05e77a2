//! [`CompositePropagator`]: several formats, extracted in order, all injected.

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use super::{
    B3Propagator, BaggagePropagator, Extractor, Injector, JaegerPropagator, OtPropagator,
    Propagator, W3cPropagator, XrayPropagator,
};
use crate::context::TraceContext;

/// A format name as `OTEL_PROPAGATORS` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PropagatorKind {
    /// `xray`: AWS `X-Amzn-Trace-Id`.
    Xray,
    /// `tracecontext`: W3C `traceparent` + `tracestate`.
    TraceContext,
    /// `baggage`: W3C `baggage`.
    Baggage,
    /// `b3`: Zipkin B3 single header.
    B3,
    /// `b3multi`: Zipkin B3 multiple headers.
    B3Multi,
    /// `jaeger`: `uber-trace-id` and `uberctx-*`.
    Jaeger,
    /// `ottrace`: OpenTracing / Lightstep `ot-tracer-*` and `ot-baggage-*`.
    OtTrace,
}

impl PropagatorKind {
    /// Every format, in the default extraction order.
    pub const ALL: [PropagatorKind; 7] = [
        Self::Xray,
        Self::TraceContext,
        Self::Baggage,
        Self::B3,
        Self::B3Multi,
        Self::Jaeger,
        Self::OtTrace,
    ];

    /// The `OTEL_PROPAGATORS` name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Xray => "xray",
            Self::TraceContext => "tracecontext",
            Self::Baggage => "baggage",
            Self::B3 => "b3",
            Self::B3Multi => "b3multi",
            Self::Jaeger => "jaeger",
            Self::OtTrace => "ottrace",
        }
    }

    /// The propagator for this format, with default settings.
    pub fn propagator(self) -> Box<dyn Propagator> {
        match self {
            Self::Xray => Box::new(XrayPropagator::default()),
            Self::TraceContext => Box::new(W3cPropagator::default()),
            Self::Baggage => Box::new(BaggagePropagator::default()),
            Self::B3 => Box::new(B3Propagator::single()),
            Self::B3Multi => Box::new(B3Propagator::multi()),
            Self::Jaeger => Box::new(JaegerPropagator::default()),
            Self::OtTrace => Box::new(OtPropagator::default()),
        }
    }
}

impl fmt::Display for PropagatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The unknown name, as given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown propagator {0:?}")]
pub struct UnknownPropagator(pub String);

impl FromStr for PropagatorKind {
    type Err = UnknownPropagator;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        Self::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPropagator(s.to_string()))
    }
}

/// Several formats: [`extract`](Propagator::extract) asks each in order and the **first valid
/// context wins** — a context with a parent span beats one that has a trace id only, whatever
/// their order; then every format adds its baggage. [`inject`](Propagator::inject) writes every
/// format.
///
/// The default holds every format, X-Ray first (the header AWS services pass along), then W3C,
/// B3, Jaeger and OpenTracing.
pub struct CompositePropagator {
    propagators: Vec<Box<dyn Propagator>>,
    fields: &'static [&'static str],
}

impl CompositePropagator {
    /// A composite of `propagators`, tried in the given order.
    pub fn new(propagators: Vec<Box<dyn Propagator>>) -> Self {
        let mut fields: Vec<&'static str> = Vec::new();
        for field in propagators.iter().flat_map(|p| p.fields().iter().copied()) {
            // Both B3 encodings read every B3 header: list each name once.
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        Self {
            propagators,
            fields: interned(fields),
        }
    }

    /// A composite of the named formats, in order (`OTEL_PROPAGATORS`). Duplicates are skipped.
    pub fn from_kinds(kinds: &[PropagatorKind]) -> Self {
        let mut seen = Vec::with_capacity(kinds.len());
        for k in kinds {
            if !seen.contains(k) {
                seen.push(*k);
            }
        }
        Self::new(seen.into_iter().map(PropagatorKind::propagator).collect())
    }

    /// `true` when it holds no format (`OTEL_PROPAGATORS=none`).
    pub fn is_empty(&self) -> bool {
        self.propagators.is_empty()
    }
}

/// `fields` as a `&'static` slice, so `fields()` needs no allocation: each distinct list is
/// leaked once per process and shared after that, so building composites again and again (one
/// per request, say) does not leak memory each time. There are at most a few hundred distinct
/// lists (orders of at most seven formats), in practice one or two.
fn interned(fields: Vec<&'static str>) -> &'static [&'static str] {
    static INTERNED: Mutex<Vec<&'static [&'static str]>> = Mutex::new(Vec::new());
    let mut interned = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = interned.iter().find(|known| **known == fields.as_slice()) {
        return known;
    }
    let leaked: &'static [&'static str] = Box::leak(fields.into_boxed_slice());
    interned.push(leaked);
    leaked
}

impl Default for CompositePropagator {
    fn default() -> Self {
        Self::from_kinds(&PropagatorKind::ALL)
    }
}

impl fmt::Debug for CompositePropagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.propagators).finish()
    }
}

impl Propagator for CompositePropagator {
    fn extract(&self, headers: &dyn Extractor) -> Option<TraceContext> {
        // First valid context that names a parent span wins; a trace id alone (the `Root=…`
        // that API Gateway and ALB add to every request) is only the fallback.
        let mut fallback = None;
        let mut found = None;
        for p in &self.propagators {
            match p.extract(headers) {
                Some(cx) if cx.span_id.is_some() => {
                    found = Some(cx);
                    break;
                }
                Some(cx) if fallback.is_none() => fallback = Some(cx),
                _ => {}
            }
        }
        let mut cx = found.or(fallback)?;
        self.extract_baggage(headers, &mut cx);
        Some(cx)
    }

    fn extract_baggage(&self, headers: &dyn Extractor, cx: &mut TraceContext) {
        for p in &self.propagators {
            p.extract_baggage(headers, cx);
        }
    }

    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        for p in &self.propagators {
            p.inject(cx, headers);
        }
    }

    fn fields(&self) -> &'static [&'static str] {
        self.fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Sampling;
    use crate::propagation::testing::{Pairs, pairs};

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const XRAY_TRACE: &str = "5759e988bd862e3fe1be46a994272793";
    const W3C: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const W3C_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const B3: &str = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-0";
    const B3_TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";

    fn trace_of(p: &CompositePropagator, h: &Pairs) -> Option<String> {
        p.extract(h).map(|cx| cx.trace_id.to_string())
    }

    #[test]
    fn first_valid_context_wins_in_configured_order() {
        let h = pairs(&[("traceparent", W3C), ("x-amzn-trace-id", XRAY), ("b3", B3)]);
        let default = CompositePropagator::default();
        assert_eq!(trace_of(&default, &h).as_deref(), Some(XRAY_TRACE));

        let w3c_first =
            CompositePropagator::from_kinds(&[PropagatorKind::TraceContext, PropagatorKind::Xray]);
        assert_eq!(trace_of(&w3c_first, &h).as_deref(), Some(W3C_TRACE));

        let b3_first = CompositePropagator::from_kinds(&[PropagatorKind::B3, PropagatorKind::Xray]);
        assert_eq!(trace_of(&b3_first, &h).as_deref(), Some(B3_TRACE));
    }

    #[test]
    fn a_parent_span_beats_a_root_only_header() {
        // What API Gateway and ALB forward: their own Root-only X-Ray header plus the caller's
        // traceparent. The caller's span must become our parent.
        let alb =
            "Root=1-67891233-abcdef012345678912345678;Self=1-67891233-12456789abcdef012345678";
        let h = pairs(&[("x-amzn-trace-id", alb), ("traceparent", W3C)]);
        let cx = CompositePropagator::default().extract(&h).unwrap();
        assert_eq!(cx.trace_id.to_string(), W3C_TRACE);
        assert_eq!(cx.span_id.unwrap().to_string(), "00f067aa0ba902b7");

        // Alone, the Root-only header still continues its trace.
        let h = pairs(&[("x-amzn-trace-id", alb)]);
        let cx = CompositePropagator::default().extract(&h).unwrap();
        assert_eq!(cx.trace_id.to_xray(), "1-67891233-abcdef012345678912345678");
        assert_eq!(cx.span_id, None);
    }

    #[test]
    fn invalid_first_format_falls_through() {
        let h = pairs(&[
            (
                "x-amzn-trace-id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=garbage",
            ),
            (
                "traceparent",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            ),
            ("b3", B3),
        ]);
        let cx = CompositePropagator::default().extract(&h).unwrap();
        assert_eq!(cx.trace_id.to_string(), B3_TRACE);
        assert_eq!(cx.sampling, Sampling::NotSampled);

        let none = pairs(&[("traceparent", "garbage")]);
        assert_eq!(CompositePropagator::default().extract(&none), None);
        assert_eq!(CompositePropagator::from_kinds(&[]).extract(&h), None);
    }

    #[test]
    fn baggage_is_attached_to_the_winning_context() {
        let h = pairs(&[
            ("x-amzn-trace-id", XRAY),
            ("baggage", "user=alice,tier=gold"),
            ("uberctx-tier", "silver"),
            ("ot-baggage-region", "eu"),
        ]);
        let cx = CompositePropagator::default().extract(&h).unwrap();
        assert_eq!(cx.trace_id.to_string(), XRAY_TRACE);
        let baggage: Vec<(&str, &str)> = cx
            .baggage
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // W3C baggage comes first in the default order, so its `tier` wins.
        assert_eq!(
            baggage,
            [("user", "alice"), ("tier", "gold"), ("region", "eu")]
        );

        let only_baggage = pairs(&[("baggage", "user=alice")]);
        assert_eq!(CompositePropagator::default().extract(&only_baggage), None);
    }

    #[test]
    fn mixed_case_baggage_survives_a_round_trip_once() {
        let h = pairs(&[("x-amzn-trace-id", XRAY), ("baggage", "userId=alice")]);
        let p = CompositePropagator::default();
        let cx = p.extract(&h).unwrap();
        let mut out = Pairs::default();
        p.inject(&cx, &mut out);
        assert_eq!(out.value("uberctx-userid"), Some("alice"));
        let back = p.extract(&out).unwrap();
        assert_eq!(back.baggage, [("userId".to_string(), "alice".to_string())]);
    }

    /// Found by the fuzzer (`composite`, reversed order): with the header-named formats read
    /// first, `uberctx-`/`ot-baggage-` gave `userid` before `baggage` gave `userId`, and both
    /// came back. The case-keeping W3C key replaces the lowercased one, whatever the order.
    #[test]
    fn mixed_case_baggage_survives_a_round_trip_in_any_order() {
        let h = pairs(&[("x-amzn-trace-id", XRAY), ("baggage", "userId=alice")]);
        let mut reversed = PropagatorKind::ALL;
        reversed.reverse();
        for p in [
            CompositePropagator::default(),
            CompositePropagator::from_kinds(&reversed),
        ] {
            let cx = p.extract(&h).unwrap();
            let mut out = Pairs::default();
            p.inject(&cx, &mut out);
            let mut back = p.extract(&out).unwrap();
            p.extract_baggage(&out, &mut back);
            assert_eq!(back.baggage, [("userId".to_string(), "alice".to_string())]);
        }
    }

    #[test]
    fn inject_writes_every_format() {
        let h = pairs(&[("x-amzn-trace-id", XRAY), ("baggage", "user=alice")]);
        let p = CompositePropagator::default();
        let cx = p.extract(&h).unwrap();
        let mut out = Pairs::default();
        p.inject(&cx, &mut out);
        for name in [
            "x-amzn-trace-id",
            "traceparent",
            "baggage",
            "b3",
            "x-b3-traceid",
            "x-b3-spanid",
            "x-b3-sampled",
            "uber-trace-id",
            "uberctx-user",
            "ot-tracer-traceid",
            "ot-tracer-spanid",
            "ot-tracer-sampled",
            "ot-baggage-user",
        ] {
            assert!(out.value(name).is_some(), "{name} missing");
        }
        for kind in PropagatorKind::ALL
            .into_iter()
            .filter(|k| *k != PropagatorKind::Baggage)
        {
            let back = kind
                .propagator()
                .extract(&out)
                .unwrap_or_else(|| panic!("{kind}"));
            assert_eq!(back.trace_id, cx.trace_id, "{kind}");
            assert_eq!(back.span_id, cx.span_id, "{kind}");
            assert_eq!(back.sampling, Sampling::Sampled, "{kind}");
        }
        assert_eq!(p.extract(&out), Some(cx));
    }

    #[test]
    fn field_lists_are_shared_not_leaked_per_composite() {
        let a = CompositePropagator::default();
        let b = CompositePropagator::default();
        assert!(
            std::ptr::eq(a.fields(), b.fields()),
            "one list for equal composites"
        );
        let c = CompositePropagator::from_kinds(&[PropagatorKind::B3, PropagatorKind::Xray]);
        assert_eq!(c.fields()[0], "b3");
        assert!(!std::ptr::eq(a.fields(), c.fields()));
    }

    #[test]
    fn kinds_parse_and_fields_cover_every_format() {
        assert_eq!(
            "B3Multi".parse::<PropagatorKind>(),
            Ok(PropagatorKind::B3Multi)
        );
        assert!("zipkin".parse::<PropagatorKind>().is_err());
        let fields = CompositePropagator::default().fields();
        let mut unique = fields.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), fields.len(), "no duplicates");
        for name in [
            "x-amzn-trace-id",
            "traceparent",
            "tracestate",
            "baggage",
            "b3",
            "uber-trace-id",
            "ot-tracer-traceid",
        ] {
            assert!(fields.contains(&name), "{name}");
        }
    }
}
