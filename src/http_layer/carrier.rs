//! The `http::Request` built by `lambda_http` as a carrier: headers, plus the route and source IP
//! of the API Gateway or ALB request context in its extensions.

use std::borrow::Cow;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::carrier::{EventCarrier, RequestInfo, Trigger};
use crate::propagation::Extractor;
use crate::span::HttpRequestInfo;

/// Longest URL path recorded.
const MAX_URL: usize = 2048;

#[derive(Debug)]
pub(super) struct HttpCarrier<'a>(pub(super) &'a Request);

impl Extractor for HttpCarrier<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.headers().get(name).and_then(|v| v.to_str().ok())
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        self.0
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    fn keys(&self) -> Vec<&str> {
        self.0.headers().keys().map(|k| k.as_str()).collect()
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        crate::propagation::header_map_has_prefix(&[self.0.headers()], prefix)
    }
}

impl EventCarrier for HttpCarrier<'_> {
    fn request_info(&self) -> RequestInfo {
        let request = self.0;
        let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
        let mut path = request.uri().path().to_string();
        if path.len() > MAX_URL {
            let cut = (0..=MAX_URL)
                .rev()
                .find(|i| path.is_char_boundary(*i))
                .unwrap_or(0);
            path.truncate(cut);
        }
        let mut http = HttpRequestInfo::new(request.method().as_str(), path);
        if let Some(ua) = header("user-agent") {
            http = http.with_user_agent(ua.chars().take(512).collect::<String>());
        }
        let (route, source_ip) = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(cx)) => {
                (cx.resource_path.clone(), cx.identity.source_ip.clone())
            }
            Some(RequestContext::ApiGatewayV2(cx)) => (
                cx.route_key
                    .as_deref()
                    .and_then(|k| k.split_once(' ').map(|(_, r)| r.to_string())),
                cx.http.source_ip.clone(),
            ),
            _ => (None, None),
        };
        if let Some(route) = route {
            http = http.with_route(route);
        }
        let forwarded = header("x-forwarded-for")
            .and_then(|v| v.split(',').next())
            .map(str::trim);
        match (
            source_ip.filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()),
            forwarded,
        ) {
            (Some(ip), _) => http = http.with_client_ip(ip, false),
            (None, Some(ip)) if ip.parse::<std::net::IpAddr>().is_ok() => {
                http = http.with_client_ip(ip, true)
            }
            _ => {}
        }
        RequestInfo {
            trigger: Trigger::Http,
            http: Some(http),
        }
    }

    /// The request URI's query, which `lambda_http` builds from the event's query parameters.
    fn raw_query(&self) -> Option<Cow<'_, str>> {
        self.0
            .uri()
            .query()
            .filter(|q| !q.is_empty())
            .map(Cow::Borrowed)
    }
}
