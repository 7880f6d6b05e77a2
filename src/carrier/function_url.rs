//! PLACEHOLDER: replaced by the carrier work.

use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;

use super::{EventCarrier, RequestInfo};
use crate::propagation::Extractor;

impl Extractor for LambdaFunctionUrlRequest {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl EventCarrier for LambdaFunctionUrlRequest {
    fn request_info(&self) -> RequestInfo {
        RequestInfo::default()
    }
}
