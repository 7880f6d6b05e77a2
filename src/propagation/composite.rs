//! [`CompositePropagator`]: several formats, extracted in order, all injected.

use std::fmt;
use std::str::FromStr;

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
/// context wins**; then every format adds its baggage. [`inject`](Propagator::inject) writes every
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
        let fields: Vec<&'static str> = propagators
            .iter()
            .flat_map(|p| p.fields().iter().copied())
            .collect();
        // Built once per process; leaking a few bytes keeps `fields()` allocation-free.
        let fields = Box::leak(fields.into_boxed_slice());
        Self {
            propagators,
            fields,
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
        let mut cx = self.propagators.iter().find_map(|p| p.extract(headers))?;
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
