//! PLACEHOLDER: replaced by the carrier work.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;

use super::{EventCarrier, RequestInfo};
use crate::propagation::Extractor;

impl Extractor for ApiGatewayProxyRequest {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
    fn keys(&self) -> Vec<&str> {
        Vec::new()
    }
}

impl EventCarrier for ApiGatewayProxyRequest {
    fn request_info(&self) -> RequestInfo {
        RequestInfo::default()
    }
}
