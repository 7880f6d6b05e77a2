//! PLACEHOLDER: replaced by the propagation work.

use super::{Extractor, Injector, Propagator};
use crate::context::TraceContext;

/// Placeholder.
#[derive(Debug, Default, Clone)]
pub struct B3;
/// Placeholder.
#[derive(Debug, Default, Clone, Copy)]
pub enum B3Encoding {
    /// Placeholder.
    #[default]
    Single,
    /// Placeholder.
    Multi,
}
/// Placeholder.
#[derive(Debug, Default, Clone)]
pub struct B3Propagator(B3Encoding);

impl B3Propagator {
    /// Placeholder.
    pub fn single() -> Self {
        Self(B3Encoding::Single)
    }
    /// Placeholder.
    pub fn multi() -> Self {
        Self(B3Encoding::Multi)
    }
}

impl Propagator for B3Propagator {
    fn extract(&self, _headers: &dyn Extractor) -> Option<TraceContext> {
        None
    }
    fn inject(&self, _cx: &TraceContext, _headers: &mut dyn Injector) {}
    fn fields(&self) -> &'static [&'static str] {
        &["b3"]
    }
}
