//! [`CompositePropagator`]: several formats, extracted in order, all injected.

use std::fmt;
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

use super::{
    B3Propagator, BaggagePropagator, ExtractReport, Extractor, FormatOutcome, FormatReport,
    Injector, JaegerPropagator, OtPropagator, Propagator, W3cPropagator, XrayPropagator,
};
use crate::context::{Sampling, TraceContext};
use crate::error::ParseError;

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
/// their order; then every format adds its baggage. A sampling decision sent without ids (B3
/// `b3: 0`, see [`B3Propagator`]) decides the winning context's sampling when that context left it
/// [`Deferred`](Sampling::Deferred), and is the context (a new trace id,
/// [`sampling_only`](TraceContext::sampling_only)) when no other format found one.
/// [`inject`](Propagator::inject) writes every format of the **write set**: the same formats
/// unless [`with_inject_kinds`](Self::with_inject_kinds) chose others
/// (`LAMBDA_TRACE_PROPAGATORS_INJECT`).
///
/// The default holds every format, X-Ray first (the header AWS services pass along), then W3C,
/// B3, Jaeger and OpenTracing.
///
/// ```
/// use lambda_trace::propagation::testing::{pairs, Pairs};
/// use lambda_trace::propagation::{CompositePropagator, Propagator, PropagatorKind};
///
/// // Read every format, send only traceparent and X-Ray.
/// let p = CompositePropagator::default()
///     .with_inject_kinds(&[PropagatorKind::TraceContext, PropagatorKind::Xray]);
/// let cx = p
///     .extract(&pairs(&[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")]))
///     .unwrap();
/// let mut out = Pairs::default();
/// p.inject(&cx, &mut out);
/// assert!(out.value("traceparent").is_some() && out.value("x-amzn-trace-id").is_some());
/// assert_eq!(out.value("b3"), None);
/// ```
pub struct CompositePropagator {
    propagators: Vec<Box<dyn Propagator>>,
    /// The write set, when it is not `propagators`.
    injectors: Option<Vec<Box<dyn Propagator>>>,
    fields: &'static [&'static str],
}

impl CompositePropagator {
    /// A composite of `propagators`, tried in the given order and all injected.
    ///
    /// ```
    /// use lambda_trace::propagation::{CompositePropagator, W3cPropagator};
    ///
    /// let p = CompositePropagator::new(vec![Box::new(W3cPropagator::default())]);
    /// assert!(!p.is_empty());
    /// ```
    pub fn new(propagators: Vec<Box<dyn Propagator>>) -> Self {
        let mut this = Self {
            propagators,
            injectors: None,
            fields: &[],
        };
        this.fields = this.collect_fields();
        this
    }

    /// Every header name read or written, each once, interned.
    fn collect_fields(&self) -> &'static [&'static str] {
        let mut fields: Vec<&'static str> = Vec::new();
        let written = self.injectors.iter().flatten();
        for field in self
            .propagators
            .iter()
            .chain(written)
            .flat_map(|p| p.fields().iter().copied())
        {
            // Both B3 encodings read every B3 header: list each name once.
            if !fields.contains(&field) {
                fields.push(field);
            }
        }
        interned(fields)
    }

    /// A composite of the named formats, in order (`OTEL_PROPAGATORS`). Duplicates are skipped.
    ///
    /// ```
    /// use lambda_trace::propagation::{CompositePropagator, PropagatorKind};
    ///
    /// let p = CompositePropagator::from_kinds(&[PropagatorKind::Xray, PropagatorKind::Xray]);
    /// assert_eq!(p.fields(), ["x-amzn-trace-id"]);
    /// # use lambda_trace::propagation::Propagator;
    /// ```
    pub fn from_kinds(kinds: &[PropagatorKind]) -> Self {
        Self::new(boxed(kinds))
    }

    /// The same read set, injecting the named formats instead (the write set,
    /// `LAMBDA_TRACE_PROPAGATORS_INJECT`): e.g. accept every format but send only `traceparent`
    /// and X-Ray. An empty list injects nothing. Duplicates are skipped.
    ///
    /// ```
    /// use lambda_trace::propagation::testing::Pairs;
    /// use lambda_trace::propagation::{CompositePropagator, Propagator, PropagatorKind};
    /// use lambda_trace::{Sampling, SpanId, TraceContext, TraceId};
    ///
    /// let p = CompositePropagator::default().with_inject_kinds(&[PropagatorKind::Xray]);
    /// let cx = TraceContext::new(TraceId::generate(), SpanId::from_u64(7), Sampling::Sampled);
    /// let mut out = Pairs::default();
    /// p.inject(&cx, &mut out);
    /// assert_eq!(out.0.len(), 1);
    /// assert_eq!(out.0[0].0, "x-amzn-trace-id");
    /// ```
    #[must_use]
    pub fn with_inject_kinds(mut self, kinds: &[PropagatorKind]) -> Self {
        self.injectors = Some(boxed(kinds));
        self.fields = self.collect_fields();
        self
    }

    /// Reads `read` (in order) and injects `write`: [`from_kinds`](Self::from_kinds) then
    /// [`with_inject_kinds`](Self::with_inject_kinds), or just the first when both are the same.
    ///
    /// ```
    /// use lambda_trace::propagation::{CompositePropagator, Propagator, PropagatorKind};
    ///
    /// let p = CompositePropagator::from_read_write(&PropagatorKind::ALL, &[PropagatorKind::Xray]);
    /// assert!(p.fields().contains(&"traceparent")); // read
    /// ```
    pub fn from_read_write(read: &[PropagatorKind], write: &[PropagatorKind]) -> Self {
        let p = Self::from_kinds(read);
        if read == write {
            p
        } else {
            p.with_inject_kinds(write)
        }
    }

    /// Every format's outcome for `headers`, and the context [`extract`](Propagator::extract)
    /// returns for them (see [`ExtractReport`]). Slower than `extract` (every format is parsed,
    /// none stops the search) and silent: for debugging a caller, not for every request.
    ///
    /// ```
    /// use lambda_trace::propagation::testing::pairs;
    /// use lambda_trace::propagation::{CompositePropagator, FormatOutcome};
    ///
    /// let report = CompositePropagator::default().extract_report(&pairs(&[(
    ///     "x-amzn-trace-id",
    ///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    /// )]));
    /// assert_eq!(report.formats[0].format, "xray");
    /// assert_eq!(report.formats[0].outcome, FormatOutcome::Found { has_parent: true });
    /// assert_eq!(report.formats[1].outcome, FormatOutcome::Absent);
    /// assert!(report.context.is_some());
    /// ```
    pub fn extract_report(&self, headers: &dyn Extractor) -> ExtractReport {
        let results: Vec<Result<Option<TraceContext>, ParseError>> = self
            .propagators
            .iter()
            .map(|p| p.try_extract(headers))
            .collect();
        let formats = self
            .propagators
            .iter()
            .zip(&results)
            .map(|(p, r)| FormatReport {
                format: p.name(),
                outcome: FormatOutcome::of(r),
            })
            .collect();
        let mut context = select(results.into_iter().map(|r| r.ok().flatten()));
        if let Some(cx) = &mut context {
            self.extract_baggage(headers, cx);
        }
        ExtractReport { formats, context }
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

/// The extract rule over each format's answer, in order: the first context that names a parent
/// span wins, else the first with a trace id only (the `Root=…` that API Gateway and ALB add to
/// every request is only the fallback). A sampling-only decision (the first one) decides a
/// deferred winner's sampling, or is the context when nothing else was found. The search stops
/// at a winner with a decision of its own; `results` is lazy, so later formats are not parsed.
fn select(results: impl Iterator<Item = Option<TraceContext>>) -> Option<TraceContext> {
    let mut fallback: Option<TraceContext> = None;
    let mut decision: Option<TraceContext> = None;
    let mut found: Option<TraceContext> = None;
    for cx in results.flatten() {
        if cx.sampling_only {
            decision = decision.or(Some(cx));
        } else if cx.span_id.is_some() {
            if found.is_none() {
                found = Some(cx);
            }
        } else if fallback.is_none() {
            fallback = Some(cx);
        }
        let decided = found
            .as_ref()
            .is_some_and(|f| f.sampling != Sampling::Deferred);
        if decided || (found.is_some() && decision.is_some()) {
            break;
        }
    }
    let Some(mut cx) = found.or(fallback) else {
        return decision;
    };
    if let Some(d) = decision
        && cx.sampling == Sampling::Deferred
    {
        cx.sampling = d.sampling;
        cx.debug = d.debug;
        cx.flags = cx.flags.with_sampled(d.sampling.is_sampled());
    }
    Some(cx)
}

/// Each named format's propagator, duplicates skipped.
fn boxed(kinds: &[PropagatorKind]) -> Vec<Box<dyn Propagator>> {
    let mut seen = Vec::with_capacity(kinds.len());
    for k in kinds {
        if !seen.contains(k) {
            seen.push(*k);
        }
    }
    seen.into_iter().map(PropagatorKind::propagator).collect()
}

impl Propagator for CompositePropagator {
    fn extract(&self, headers: &dyn Extractor) -> Option<TraceContext> {
        let mut cx = select(self.propagators.iter().map(|p| p.extract(headers)))?;
        self.extract_baggage(headers, &mut cx);
        Some(cx)
    }

    fn try_extract(&self, headers: &dyn Extractor) -> Result<Option<TraceContext>, ParseError> {
        let report = self.extract_report(headers);
        let first_error = report.rejected().next().map(|(_, e)| e.clone());
        match (report.context, first_error) {
            (Some(cx), _) => Ok(Some(cx)),
            (None, Some(e)) => Err(e),
            (None, None) => Ok(None),
        }
    }

    fn name(&self) -> &'static str {
        "composite"
    }

    fn extract_baggage(&self, headers: &dyn Extractor, cx: &mut TraceContext) {
        for p in &self.propagators {
            p.extract_baggage(headers, cx);
        }
    }

    fn inject(&self, cx: &TraceContext, headers: &mut dyn Injector) {
        for p in self.injectors.as_ref().unwrap_or(&self.propagators) {
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
