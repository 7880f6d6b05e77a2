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

/// The request's headers as the caller sent them, as far as they can be told apart.
///
/// `lambda_http` replaces the event's `x-amzn-trace-id` header with Lambda's own trace header
/// (`Context::xray_trace_id`) before the handler's service sees the request. That value is the
/// platform's context, which the parent policy already reads from the `Context`; read as the
/// caller's, it would shadow the caller's W3C/B3 context (the X-Ray format is tried first) and,
/// with `Sampled=0`, silence the trace. So an `x-amzn-trace-id` equal to Lambda's header is not
/// part of this carrier.
#[derive(Debug)]
pub(super) struct HttpCarrier<'a> {
    request: &'a Request,
    /// Lambda's trace header of this invocation, if any.
    lambda_header: Option<&'a str>,
}

/// The header `lambda_http` overwrites.
const XRAY_HEADER: &str = "x-amzn-trace-id";

impl<'a> HttpCarrier<'a> {
    pub(super) fn new(request: &'a Request, lambda_header: Option<&'a str>) -> Self {
        Self {
            request,
            lambda_header,
        }
    }

    /// Whether `value` of header `name` is Lambda's trace header, put there by `lambda_http`.
    fn is_lambdas(&self, name: &str, value: &str) -> bool {
        self.lambda_header == Some(value) && name.eq_ignore_ascii_case(XRAY_HEADER)
    }
}

impl Extractor for HttpCarrier<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        let value = self.request.headers().get(name)?.to_str().ok()?;
        (!self.is_lambdas(name, value)).then_some(value)
    }

    fn get_all(&self, name: &str) -> Vec<&str> {
        self.request
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter(|v| !self.is_lambdas(name, v))
            .collect()
    }

    fn keys(&self) -> Vec<&str> {
        self.request
            .headers()
            .keys()
            .map(|k| k.as_str())
            .filter(|k| *k != XRAY_HEADER || self.get(k).is_some())
            .collect()
    }

    fn has_key_with_prefix(&self, prefix: &str) -> bool {
        crate::propagation::header_map_has_prefix(&[self.request.headers()], prefix)
    }
}

impl EventCarrier for HttpCarrier<'_> {
    fn request_info(&self) -> RequestInfo {
        let request = self.request;
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
            messaging: None,
            attributes: Vec::new(),
        }
    }

    /// The request URI's query, which `lambda_http` builds from the event's query parameters.
    fn raw_query(&self) -> Option<Cow<'_, str>> {
        self.request
            .uri()
            .query()
            .filter(|q| !q.is_empty())
            .map(Cow::Borrowed)
    }
}
