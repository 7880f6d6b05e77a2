//! PLACEHOLDER: replaced by the carrier work.

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;

use super::{EventCarrier, RequestInfo};
use crate::propagation::Extractor;

impl Extractor for ApiGatewayV2httpRequest {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl EventCarrier for ApiGatewayV2httpRequest {
    fn request_info(&self) -> RequestInfo {
        RequestInfo::default()
    }
}
