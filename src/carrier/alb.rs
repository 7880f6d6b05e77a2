//! Application Load Balancer targets: [`AlbTargetGroupRequest`].
//!
//! Depending on the target group's setting, ALB sends either `headers` (one value per name, the
//! last one) or `multiValueHeaders` (every value); the carrier reads `multiValueHeaders` when it
//! has the header, else `headers`. ALB adds `X-Amzn-Trace-Id: Root=…` (with `Self=…` when the
//! client sent one) but no `Parent`: that continues the trace id with no parent span.
//!
//! Request data: method and `path` (without query string), `User-Agent`, and the client IP from
//! the first `X-Forwarded-For` entry (`x_forwarded_for = true`): ALB gives no source IP field.

use std::borrow::Cow;

use aws_lambda_events::alb::AlbTargetGroupRequest;

use super::request::RawHttp;
use super::{EventCarrier, RequestInfo, Trigger};
use crate::propagation::Extractor;

super::request::two_header_maps_extractor!(AlbTargetGroupRequest);

impl EventCarrier for AlbTargetGroupRequest {
    fn request_info(&self) -> RequestInfo {
        let raw = RawHttp {
            method: Some(self.http_method.as_str()),
            path: self.path.as_deref(),
            route: None,
            user_agent: Extractor::get(self, "user-agent"),
            source_ip: None,
            forwarded_for: Extractor::get(self, "x-forwarded-for"),
        };
        RequestInfo {
            trigger: Trigger::Http,
            http: Some(raw.into_info()),
            messaging: None,
            attributes: Vec::new(),
        }
    }

    /// Rebuilt from `multiValueQueryStringParameters` (else `queryStringParameters`), which the
    /// load balancer passes as the client sent them (not decoded): sorted by key.
    fn raw_query(&self) -> Option<Cow<'_, str>> {
        super::request::query_of(
            &self.multi_value_query_string_parameters,
            &self.query_string_parameters,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carrier::from_event;

    fn event(json: &str) -> AlbTargetGroupRequest {
        serde_json::from_str(json).expect("fixture is an ALB event")
    }

    #[test]
    fn single_value_headers() {
        let e = event(include_str!("../../events/alb-xray.json"));
        assert_eq!(
            e.get("x-amzn-trace-id"),
            Some(
                "Root=1-5c536348-3d683b8b04734faae651f476;Self=1-5c536348-0a1b2c3d4e5f60718293a4b5"
            )
        );
        let info = from_event(&e).expect("known event type").request_info();
        assert_eq!(info.trigger, Trigger::Http);
        let http = info.http.unwrap();
        assert_eq!(http.method.as_deref(), Some("GET"));
        assert_eq!(http.url.as_deref(), Some("/ot-gen"));
        assert_eq!(http.route, None);
        assert!(http.user_agent.unwrap().starts_with("Mozilla/5.0"));
        assert_eq!(http.client_ip.as_deref(), Some("192.0.2.10"));
        assert!(http.x_forwarded_for);
    }

    #[test]
    fn multi_value_headers() {
        let e = event(include_str!("../../events/alb-multivalue-w3c.json"));
        assert_eq!(
            e.get_all("traceparent"),
            ["00-7c2a9e4b1d3f5a6c8e0b2d4f6a8c0e1f-e1d2c3b4a5968778-01"]
        );
        assert_eq!(
            e.get_all("tracestate"),
            ["congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7"]
        );
        assert_eq!(e.get("tracestate"), Some("congo=t61rcWkgMzE"));
        let http = e.request_info().http.unwrap();
        assert_eq!(http.client_ip.as_deref(), Some("192.0.2.11"));
        assert_eq!(http.user_agent.as_deref(), Some("curl/8.5.0"));
    }
}
