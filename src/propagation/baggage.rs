//! PLACEHOLDER: replaced by the propagation work.

use super::{Extractor, Injector, Propagator};
use crate::context::TraceContext;

/// Placeholder.
#[derive(Debug, Default, Clone)]
pub struct BaggagePropagator;

impl Propagator for BaggagePropagator {
    fn extract(&self, _headers: &dyn Extractor) -> Option<TraceContext> {
        None
    }
    fn inject(&self, _cx: &TraceContext, _headers: &mut dyn Injector) {}
    fn fields(&self) -> &'static [&'static str] {
        &["baggage"]
    }
}
