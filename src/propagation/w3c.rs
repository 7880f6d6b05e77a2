//! PLACEHOLDER: replaced by the propagation work.

use super::{Extractor, Injector, Propagator};
use crate::context::TraceContext;

/// Placeholder.
#[derive(Debug, Default, Clone)]
pub struct W3cPropagator;
/// Placeholder.
#[derive(Debug, Default, Clone)]
pub struct TraceParent;

impl Propagator for W3cPropagator {
    fn extract(&self, _headers: &dyn Extractor) -> Option<TraceContext> {
        None
    }
    fn inject(&self, _cx: &TraceContext, _headers: &mut dyn Injector) {}
    fn fields(&self) -> &'static [&'static str] {
        &["traceparent", "tracestate"]
    }
}
