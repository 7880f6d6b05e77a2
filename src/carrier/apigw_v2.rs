//! API Gateway HTTP API (payload format 2.0): [`ApiGatewayV2httpRequest`].
//!
//! HTTP APIs lowercase header names and join the values of a repeated header with `,` into one
//! value. The carrier returns that joined value as it is: splitting on `,` would cut values that
//! legitimately contain commas (user agents, dates), and list headers (`tracestate`, `baggage`)
//! are meant to be read joined anyway. A repeated `traceparent` therefore arrives as
//! `"a,b"`, which no propagator accepts: the context is invalid and a new trace starts, as
//! ARCHITECTURE.md §4 asks for two different `traceparent` values.
//!
//! Request data comes from `requestContext.http` (method, source IP, user agent); the URL is
//! `rawPath` (never `rawQueryString`); the route is the `routeKey` without its method
//! (`GET /orders/{id}` → `/orders/{id}`), none for `$default`.

use std::borrow::Cow;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;

use super::request::{RawHttp, first_value, header_values, route_from_key};
use super::{EventCarrier, RequestInfo, Trigger};
use crate::propagation::{Extractor, header_map_has_prefix};

impl Extractor for ApiGatewayV2httpRequest {
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

impl EventCarrier for ApiGatewayV2httpRequest {
    fn request_info(&self) -> RequestInfo {
        let http = &self.request_context.http;
        let route_key = self
            .route_key
            .as_deref()
            .or(self.request_context.route_key.as_deref());
        let raw = RawHttp {
            method: Some(http.method.as_str()),
            path: self.raw_path.as_deref().or(http.path.as_deref()),
            route: route_key.and_then(route_from_key),
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

    fn event(json: &str) -> ApiGatewayV2httpRequest {
        serde_json::from_str(json).expect("fixture is an API Gateway v2 event")
    }

    #[test]
    fn reads_trace_headers() {
        let e = event(include_str!("../../events/apigw-v2-w3c.json"));
        assert_eq!(
            e.get("traceparent"),
            Some("00-3d1e8a2c5f7b4e90a1c3e5f7092b4d6f-c5d7e9f1a3b5c7d9-01")
        );
        assert_eq!(e.get_all("tracestate"), ["vendor1=opaque1,vendor2=opaque2"]);
        assert!(e.keys().contains(&"traceparent"));
        assert_eq!(e.get("x-amzn-trace-id"), None);

        let e = event(include_str!("../../events/apigw-v2-xray.json"));
        assert_eq!(
            e.get("X-Amzn-Trace-Id"),
            Some("Root=1-5e9f0c65-1de4d666d4dd26aced652b6c;Parent=3f2e1d0c9b8a7654;Sampled=0")
        );
    }

    #[test]
    fn joined_repeats_stay_one_value() {
        let e = event(
            r#"{"headers":{"traceparent":"a,b"},"requestContext":{"http":{"method":"GET"},"timeEpoch":0}}"#,
        );
        assert_eq!(e.get_all("traceparent"), ["a,b"]);
    }

    #[test]
    fn request_info() {
        let e = event(include_str!("../../events/apigw-v2-w3c.json"));
        let info = from_event(&e).expect("known event type").request_info();
        assert_eq!(info.trigger, Trigger::Http);
        let http = info.http.unwrap();
        assert_eq!(http.method.as_deref(), Some("GET"));
        assert_eq!(http.url.as_deref(), Some("/ot-gen"));
        assert_eq!(http.route.as_deref(), Some("/ot-gen"), "method stripped");
        assert_eq!(http.user_agent.as_deref(), Some("curl/8.5.0"));
        assert_eq!(http.client_ip.as_deref(), Some("203.0.113.40"));
        assert!(!http.x_forwarded_for);

        let e = event(include_str!("../../events/apigw-v2-xray.json"));
        assert_eq!(e.request_info().http.unwrap().route, None, "$default");
    }
}
