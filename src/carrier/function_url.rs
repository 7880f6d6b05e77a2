//! Lambda Function URLs: [`LambdaFunctionUrlRequest`].
//!
//! Like HTTP APIs, Function URLs lowercase header names and join repeated values with `,`; the
//! joined value is returned as one (see the API Gateway v2 carrier for why). Request data comes
//! from `requestContext.http`; the URL is `rawPath`. Function URLs have no routes.

use std::borrow::Cow;

use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;

use super::request::{RawHttp, first_value, header_values};
use super::{EventCarrier, RequestInfo, Trigger};
use crate::propagation::{Extractor, header_map_has_prefix};

impl Extractor for LambdaFunctionUrlRequest {
    fn get(&self, name: &str) -> Option<&str> {
        first_value(&self.headers, name)
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        header_values(&self.headers, name)
    }

    fn keys(&self) -> Vec<&str> {
        self.headers.keys().map(|k| k.as_str()).collect()
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        header_map_has_prefix(&[&self.headers], prefix)
    }
}

impl EventCarrier for LambdaFunctionUrlRequest {
    fn request_info(&self) -> RequestInfo {
        let http = &self.request_context.http;
        let raw = RawHttp {
            method: http.method.as_deref(),
            path: self.raw_path.as_deref().or(http.path.as_deref()),
            route: None,
            user_agent: http
                .user_agent
                .as_deref()
                .or_else(|| Extractor::get(self, "user-agent")),
            source_ip: http.source_ip.as_deref(),
            forwarded_for: Extractor::get(self, "x-forwarded-for"),
        };
        RequestInfo {
            trigger: Trigger::Http,
            http: Some(raw.into_info()),
            messaging: None,
            attributes: Vec::new(),
        }
    }

    /// `rawQueryString`, as the client sent it.
    fn raw_query(&self) -> Option<Cow<'_, str>> {
        self.raw_query_string
            .as_deref()
            .filter(|q| !q.is_empty())
            .map(Cow::Borrowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::from_event;

    #[test]
    fn downstream_event() {
        let e: LambdaFunctionUrlRequest =
            serde_json::from_str(include_str!("../../events/function-url-b3.json"))
                .expect("fixture is a Function URL event");
        assert_eq!(
            e.get("b3"),
            Some("2d4f6a8c0e1b3d5f7a9c1e3b5d7f9a0c-8b7a69584736251f-1")
        );
        assert_eq!(e.get("B3"), e.get("b3"));
        assert_eq!(e.get("traceparent"), None);
        assert!(e.keys().contains(&"b3"));

        let info = from_event(&e).expect("known event type").request_info();
        assert_eq!(info.trigger, Trigger::Http);
        let http = info.http.unwrap();
        assert_eq!(http.method.as_deref(), Some("POST"));
        assert_eq!(http.url.as_deref(), Some("/downstream"));
        assert_eq!(http.route, None);
        assert_eq!(http.user_agent.as_deref(), Some("reqwest/0.12"));
        assert_eq!(http.client_ip.as_deref(), Some("3.145.20.7"));
        assert!(!http.x_forwarded_for);
    }
}
