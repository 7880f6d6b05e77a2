//! PLACEHOLDER: replaced by the carrier work.

use aws_lambda_events::alb::AlbTargetGroupRequest;

use super::{EventCarrier, RequestInfo};
use crate::propagation::Extractor;

impl Extractor for AlbTargetGroupRequest {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl EventCarrier for AlbTargetGroupRequest {
    fn request_info(&self) -> RequestInfo {
        RequestInfo::default()
    }
}
