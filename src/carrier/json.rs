//! PLACEHOLDER: replaced by the carrier work.

use serde_json::Value;

use super::{EventCarrier, RequestInfo};
use crate::propagation::Extractor;

impl Extractor for Value {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl EventCarrier for Value {
    fn request_info(&self) -> RequestInfo {
        RequestInfo::default()
    }
}
