//! PLACEHOLDER: replaced by the propagation work.

use super::{Extractor, Injector, Propagator};
use crate::context::TraceContext;

/// Placeholder.
#[derive(Debug, Default, Clone)]
pub struct XrayPropagator;
/// Placeholder.
#[derive(Debug, Default, Clone)]
pub struct XrayHeader;
/// Placeholder.
#[derive(Debug, Default, Clone)]
pub enum MissingSampledBehavior {
    /// Placeholder.
    #[default]
    Deferred,
}

impl Propagator for XrayPropagator {
    fn extract(&self, _headers: &dyn Extractor) -> Option<TraceContext> {
        None
    }
    fn inject(&self, _cx: &TraceContext, _headers: &mut dyn Injector) {}
    fn fields(&self) -> &'static [&'static str] {
        &["x-amzn-trace-id"]
    }
}
