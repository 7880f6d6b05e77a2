//! API Gateway REST API (payload format 1.0): [`ApiGatewayProxyRequest`].
//!
//! API Gateway v1 passes each header twice: `headers` holds the **last** value of a repeated
//! header, `multiValueHeaders` every value in order. The carrier reads `multiValueHeaders` first
//! (so a repeated `traceparent` with two different values is seen as the conflict it is) and falls
//! back to `headers` for events built by hand or by tools that fill only one map.
//!
//! Request data: `http.request.url` is the `path` (the query string, which may hold tokens, only
//! with query capture on, redacted), the route is the `resource` template (`/orders/{id}`, without the method), the user
//! agent and client IP come from `requestContext.identity`, else from the `User-Agent` and
//! `X-Forwarded-For` headers.

use std::borrow::Cow;

use aws_lambda_events::apigw::ApiGatewayProxyRequest;

use super::request::RawHttp;
use super::{EventCarrier, RequestInfo, Trigger};
use crate::propagation::Extractor;

super::request::two_header_maps_extractor!(ApiGatewayProxyRequest);

impl EventCarrier for ApiGatewayProxyRequest {
    fn request_info(&self) -> RequestInfo {
        let identity = &self.request_context.identity;
        let raw = RawHttp {
            method: Some(self.http_method.as_str()),
            path: self.path.as_deref(),
            route: self
                .resource
                .as_deref()
                .or(self.request_context.resource_path.as_deref()),
            user_agent: identity
                .user_agent
                .as_deref()
                .or_else(|| Extractor::get(self, "user-agent")),
            source_ip: identity.source_ip.as_deref(),
            forwarded_for: Extractor::get(self, "x-forwarded-for"),
        };
        RequestInfo {
            trigger: Trigger::Http,
            http: Some(raw.into_info()),
            messaging: None,
            attributes: Vec::new(),
        }
    }

    /// Rebuilt from `multiValueQueryStringParameters` (else `queryStringParameters`), which API
    /// Gateway decodes: sorted by key, re-encoded.
    fn raw_query(&self) -> Option<Cow<'_, str>> {
        super::request::query_of(
            &self.multi_value_query_string_parameters,
            &self.query_string_parameters,
            true,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::from_event;

    fn event(json: &str) -> ApiGatewayProxyRequest {
        serde_json::from_str(json).expect("fixture is an API Gateway v1 event")
    }

    #[test]
    fn reads_trace_headers_of_every_fixture_case_insensitively() {
        let e = event(include_str!("../../events/apigw-v1-xray.json"));
        assert_eq!(
            e.get("x-amzn-trace-id"),
            Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=6f1c2e9a8b3d4705;Sampled=1")
        );
        assert_eq!(e.get("X-AMZN-TRACE-ID"), e.get("x-amzn-trace-id"));

        let e = event(include_str!("../../events/apigw-v1-b3multi.json"));
        assert_eq!(
            e.get("x-b3-traceid"),
            Some("463ac35c9f6413ad48485a3953bb6124")
        );
        assert_eq!(e.get("x-b3-sampled"), Some("0"));

        let e = event(include_str!("../../events/apigw-v1-jaeger.json"));
        let mut baggage: Vec<&str> = e
            .keys()
            .into_iter()
            .filter(|k| k.starts_with("uberctx-"))
            .collect();
        baggage.sort_unstable();
        assert_eq!(baggage, ["uberctx-request-tier", "uberctx-tenant"]);

        let e = event(include_str!("../../events/apigw-v1-none.json"));
        assert_eq!(e.get("x-amzn-trace-id"), None);
        assert!(e.get_all("traceparent").is_empty());
    }

    #[test]
    fn multi_value_headers_win_and_keep_every_value() {
        let e = event(
            r#"{"httpMethod":"GET","path":"/","requestContext":{"httpMethod":"GET"},
                "headers":{"traceparent":"second","b3":"0"},
                "multiValueHeaders":{"TraceParent":["first","second"]}}"#,
        );
        assert_eq!(e.get_all("traceparent"), ["first", "second"]);
        assert_eq!(e.get("traceparent"), Some("first"));
        assert_eq!(e.get("b3"), Some("0"), "falls back to `headers`");
        assert_eq!(e.keys(), ["traceparent", "b3"], "no duplicates");
    }

    #[test]
    fn prefix_check_sees_both_maps_without_collecting_names() {
        let e = event(
            r#"{"httpMethod":"GET","path":"/","requestContext":{"httpMethod":"GET"},
                "headers":{"Uberctx-Tenant":"a"},
                "multiValueHeaders":{"OT-Baggage-Tier":["b"], "uberctx-":["not a key"]}}"#,
        );
        assert!(
            e.has_key_with_prefix("uberctx-"),
            "from `headers`, any case"
        );
        assert!(
            e.has_key_with_prefix("ot-baggage-"),
            "from `multiValueHeaders`"
        );
        assert!(!e.has_key_with_prefix("b3-"));
        let e = event(
            r#"{"httpMethod":"GET","requestContext":{"httpMethod":"GET"},
                "multiValueHeaders":{"uberctx-":["the prefix alone"]}}"#,
        );
        assert!(!e.has_key_with_prefix("uberctx-"));
    }

    #[test]
    fn request_info_of_the_router_and_order_events() {
        let e = event(include_str!("../../events/apigw-v1-xray.json"));
        let carrier = from_event(&e).expect("known event type");
        let info = carrier.request_info();
        assert_eq!(info.trigger, Trigger::Http);
        let http = info.http.unwrap();
        assert_eq!(http.method.as_deref(), Some("GET"));
        assert_eq!(http.url.as_deref(), Some("/ot-gen"), "no query string");
        assert_eq!(http.route.as_deref(), Some("/ot-gen"));
        assert_eq!(http.user_agent.as_deref(), Some("curl/8.5.0"));
        assert_eq!(http.client_ip.as_deref(), Some("198.51.100.23"));
        assert!(!http.x_forwarded_for);

        let e = event(include_str!("../../events/apigw-v1-order.json"));
        let http = e.request_info().http.unwrap();
        assert_eq!(http.method.as_deref(), Some("POST"));
        assert_eq!(http.url.as_deref(), Some("/orders"));
        assert_eq!(http.route.as_deref(), Some("/orders"));
        assert_eq!(http.client_ip.as_deref(), Some("203.0.113.10"));
    }

    #[test]
    fn falls_back_to_headers_and_caps_values() {
        let long_ua = "u".repeat(10_000);
        let json = serde_json::json!({
            "httpMethod": "GET",
            "resource": "/orders/{id}",
            "path": "/orders/42?token=secret",
            "headers": {"User-Agent": long_ua, "X-Forwarded-For": "203.0.113.9, 10.0.0.1"},
            "requestContext": {"httpMethod": "GET", "identity": {"sourceIp": "test-invoke-source-ip"}}
        });
        let e: ApiGatewayProxyRequest = serde_json::from_value(json).unwrap();
        let http = e.request_info().http.unwrap();
        assert_eq!(http.url.as_deref(), Some("/orders/42"));
        assert_eq!(http.route.as_deref(), Some("/orders/{id}"));
        assert_eq!(
            http.user_agent.map(|u| u.len()),
            Some(super::super::request::MAX_USER_AGENT_CHARS)
        );
        assert_eq!(http.client_ip.as_deref(), Some("203.0.113.9"));
        assert!(http.x_forwarded_for);
    }
}
