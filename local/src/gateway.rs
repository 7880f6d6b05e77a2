//! An API Gateway (REST API, Lambda proxy integration v1) stand-in with Active tracing.
//!
//! Each HTTP request matching a route becomes an `ApiGatewayProxyRequest`-shaped event and is
//! invoked on that route's function; the function's proxy response (`statusCode`, `headers`,
//! `multiValueHeaders`, `body`, `isBase64Encoded`) becomes the HTTP response. A function error
//! or a malformed response → 502 `{"message": "Internal server error"}`; a timeout → 504.
//!
//! Tracing, the way AWS does it: an incoming `X-Amzn-Trace-Id` with a `Root` continues that trace
//! (its `Parent`, if any, becomes the parent of the gateway segment), otherwise a new trace starts.
//! Every request is sampled. The gateway records its segment (`{api}/{stage}`,
//! `origin: "AWS::ApiGateway::Stage"`) in the [`Collector`], passes
//! `X-Amzn-Trace-Id: Root=…;Parent=<gateway segment id>;Sampled=1` in the event headers, and
//! invokes the function through [`LambdaFunction::invoke_traced`] (emulated `AWS::Lambda` and
//! `AWS::Lambda::Function` segments). Other headers (`traceparent`, `b3`, …) pass unchanged.
//! Header names reach the function lowercased (hyper normalises them).
//!
//! With [`GatewayConfig::tracing`] = [`TracingMode::PassThrough`] the stage has no X-Ray tracing
//! of its own (API Gateway's "passive" mode) and the functions are PassThrough: a request whose
//! `X-Amzn-Trace-Id` says `Sampled=1` is traced as above; any other is not recorded, its
//! `X-Amzn-Trace-Id` (or a new `Root=…`) is passed on as it is, and the function gets a root-only
//! trace header (see [`crate::tracing_mode`]).

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::collector::{Collector, Source};
use crate::encoding::{base64_decode, base64_encode, percent_decode};
use crate::ids;
use crate::lambda::{ACCOUNT_ID, Clock, LambdaFunction, TraceParent};
use crate::runtime_api::Outcome;
use crate::server::{self, HttpResponse, ServerHandle};
use crate::tracing_mode::{TracingMode, caller_trace_ids, xray_sampled};

/// One route: method (or any), path template and function.
#[derive(Debug, Clone)]
pub struct Route {
    /// `None` matches any method (`ANY` in API Gateway).
    pub method: Option<Method>,
    /// Path template: literal segments, `{name}` (one segment) or `{name+}` (the rest).
    pub path: String,
    /// The function invoked.
    pub function: LambdaFunction,
}

impl Route {
    /// A route; `method` is an HTTP method or `ANY`.
    pub fn new(method: &str, path: impl Into<String>, function: LambdaFunction) -> Route {
        let method = if method.eq_ignore_ascii_case("ANY") {
            None
        } else {
            Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok()
        };
        Route {
            method,
            path: path.into(),
            function,
        }
    }

    /// Path parameters if `path` matches this route's template.
    fn matches(&self, path: &str) -> Option<BTreeMap<String, String>> {
        let template: Vec<&str> = self.path.trim_matches('/').split('/').collect();
        let actual: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut params = BTreeMap::new();
        for (i, t) in template.iter().enumerate() {
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix("+}")) {
                let rest = actual.get(i..)?.join("/");
                if rest.is_empty() {
                    return None;
                }
                params.insert(name.to_owned(), percent_decode(&rest, false));
                return Some(params);
            }
            let a = actual.get(i)?;
            if let Some(name) = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
                if a.is_empty() {
                    return None;
                }
                params.insert(name.to_owned(), percent_decode(a, false));
            } else if t != a {
                return None;
            }
        }
        (template.len() == actual.len()).then_some(params)
    }
}

/// Gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// The API name (first part of the segment name).
    pub api_name: String,
    /// The stage (second part of the segment name; `requestContext.stage`).
    pub stage: String,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// `requestContext.apiId`.
    pub api_id: String,
    /// API Gateway's integration timeout (29 s on AWS): past it the client gets a 504.
    pub integration_timeout: Duration,
    /// Active: the stage and its functions trace every request; PassThrough: only requests an
    /// upstream sampled (the stack gives its functions the same mode).
    pub tracing: TracingMode,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            api_name: "demo-api".into(),
            stage: "local".into(),
            port: 0,
            api_id: "local0api1".into(),
            integration_timeout: Duration::from_secs(29),
            tracing: TracingMode::Active,
        }
    }
}

/// Published when the gateway answered a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayEvent {
    /// The trace id of the request.
    pub trace_id: String,
    /// The gateway segment id.
    pub segment_id: String,
    /// The `Parent` from the incoming `X-Amzn-Trace-Id`, if any (`None` = the request started
    /// the trace, or continued one with no parent).
    pub caller_parent: Option<String>,
    /// Whether the incoming request carried a trace (`Root`).
    pub continued: bool,
    /// The HTTP method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The status sent back.
    pub status: u16,
    /// The function invoked, if a route matched.
    pub function: Option<String>,
    /// Whether the gateway and Lambda recorded segments (always under Active; under PassThrough
    /// only when the incoming `X-Amzn-Trace-Id` had `Sampled=1`).
    pub traced: bool,
    /// The trace ids of the caller's `traceparent` / B3 headers (X-Ray form): under PassThrough,
    /// when not traced, the function continues one of these rather than `trace_id`.
    pub caller_trace_ids: Vec<String>,
}

struct Shared {
    config: GatewayConfig,
    routes: Vec<Route>,
    collector: Arc<Collector>,
    events: broadcast::Sender<GatewayEvent>,
    port: u16,
}

/// A running gateway; dropping it stops the server.
pub struct Gateway {
    server: ServerHandle,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Binds `127.0.0.1:{config.port}` and serves `routes`, recording segments in `collector`.
    pub async fn start(
        config: GatewayConfig,
        routes: Vec<Route>,
        collector: Arc<Collector>,
    ) -> io::Result<Gateway> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, config.port)).await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            config,
            routes,
            collector,
            events: broadcast::channel(1024).0,
            port,
        });
        let handler_shared = shared.clone();
        let server = server::spawn(listener, move |req| {
            let shared = handler_shared.clone();
            async move { handle(&shared, req).await }
        })?;
        Ok(Gateway { server, shared })
    }

    /// The address the gateway listens on.
    pub fn address(&self) -> std::net::SocketAddr {
        self.server.address()
    }

    /// Receives a [`GatewayEvent`] for each answered request from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<GatewayEvent> {
        self.shared.events.subscribe()
    }

    /// The collector the gateway records into.
    pub fn collector(&self) -> &Arc<Collector> {
        &self.shared.collector
    }
}

/// Parses `X-Amzn-Trace-Id` into `(Root, Parent)`; `None` without a plausible `Root`.
pub fn parse_xray_header(value: &str) -> Option<(String, Option<String>)> {
    let mut root = None;
    let mut parent = None;
    for pair in value.split(';') {
        let Some((k, v)) = pair.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim(), v.trim());
        if k.eq_ignore_ascii_case("Root") {
            root = Some(v.to_owned());
        } else if k.eq_ignore_ascii_case("Parent") {
            parent = Some(v.to_owned());
        }
    }
    let root = root?;
    let parts: Vec<&str> = root.split('-').collect();
    let valid = parts.len() == 3
        && parts[0] == "1"
        && parts[1].len() == 8
        && parts[2].len() == 24
        && parts[1..]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_hexdigit()));
    let parent = parent.filter(|p| p.len() == 16 && p.chars().all(|c| c.is_ascii_hexdigit()));
    valid.then_some((root, parent))
}

fn parse_query(query: Option<&str>) -> (Value, Value) {
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k, true), percent_decode(v, true));
        single.insert(k.clone(), json!(v));
        if let Some(Value::Array(list)) = multi.get_mut(&k) {
            list.push(json!(v));
        } else {
            multi.insert(k, json!([v]));
        }
    }
    if single.is_empty() {
        (Value::Null, Value::Null)
    } else {
        (Value::Object(single), Value::Object(multi))
    }
}

fn message(status: u16, text: &str) -> HttpResponse {
    server::json(status, &json!({ "message": text }))
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> HttpResponse {
    let clock = Clock::now();
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let method = parts.method.clone();

    let incoming_header = parts
        .headers
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok());
    let incoming = incoming_header.and_then(parse_xray_header);
    let continued = incoming.is_some();
    let traced = shared.config.tracing == TracingMode::Active
        || (continued && incoming_header.is_some_and(xray_sampled));
    let caller_ids = caller_trace_ids(
        parts
            .headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
    );
    let (trace_id, caller_parent) = incoming.unwrap_or_else(|| (ids::trace_id(), None));
    let segment_id = ids::segment_id();
    let request_id = ids::request_id();

    let route = shared.routes.iter().find_map(|r| {
        let method_ok = r.method.as_ref().is_none_or(|m| *m == method);
        if !method_ok {
            return None;
        }
        r.matches(&path).map(|params| (r, params))
    });

    let (response, function_name) = match route {
        None => (message(404, "Not Found"), None),
        Some((route, params)) => {
            // Traced: our segment is the parent. Not traced (passive stage): the incoming header
            // passes through as it is, or a new root alone.
            let trace_header = match (traced, incoming_header) {
                (true, _) => format!("Root={trace_id};Parent={segment_id};Sampled=1"),
                (false, Some(h)) if continued => h.to_owned(),
                (false, _) => format!("Root={trace_id}"),
            };
            let event = build_event(
                shared,
                &parts,
                &body,
                route,
                &params,
                &request_id,
                &trace_header,
            );
            let parent = TraceParent {
                trace_id: trace_id.clone(),
                parent_id: if traced {
                    Some(segment_id.clone())
                } else {
                    caller_parent.clone()
                },
                sampled: traced,
            };
            let invoke =
                route
                    .function
                    .invoke_traced(event.to_string(), &parent, &shared.collector);
            let response =
                match tokio::time::timeout(shared.config.integration_timeout, invoke).await {
                    Err(_) => message(504, "Endpoint request timed out"),
                    Ok(traced) => match traced.result.outcome {
                        Outcome::Response(bytes) => proxy_response(&bytes),
                        Outcome::Error { .. } => message(502, "Internal server error"),
                        Outcome::TimedOut => message(504, "Endpoint request timed out"),
                    },
                };
            (response, Some(route.function.name.clone()))
        }
    };
    let mut response = response;
    let status = response.status().as_u16();
    let h = response.headers_mut();
    for (k, v) in [
        (
            "x-amzn-trace-id",
            if traced {
                format!("Root={trace_id};Sampled=1")
            } else {
                format!("Root={trace_id}")
            },
        ),
        ("x-amzn-requestid", request_id.clone()),
        (
            "x-amz-apigw-id",
            format!("{:012x}", fastrand::u64(..)).to_uppercase(),
        ),
    ] {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    }
    let content_length = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());

    // The gateway's own segment.
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let host = header("host").unwrap_or_else(|| format!("127.0.0.1:{}", shared.port));
    let url = match parts.uri.query() {
        Some(q) => format!("http://{host}{path}?{q}"),
        None => format!("http://{host}{path}"),
    };
    let mut request = json!({"method": method.as_str(), "url": url, "client_ip": "127.0.0.1", "x_forwarded_for": false});
    if let Some(ua) = header("user-agent") {
        request["user_agent"] = json!(ua);
    }
    let mut response_json = json!({ "status": status });
    if let Some(len) = content_length {
        response_json["content_length"] = json!(len);
    }
    let mut doc = json!({
        "name": format!("{}/{}", shared.config.api_name, shared.config.stage),
        "id": segment_id,
        "trace_id": trace_id,
        "start_time": clock.epoch(started),
        "end_time": clock.epoch(Instant::now()),
        "origin": "AWS::ApiGateway::Stage",
        "resource_arn": format!("arn:aws:apigateway:{}::/restapis/{}/stages/{}", crate::lambda::REGION, shared.config.api_id, shared.config.stage),
        "http": {"request": request, "response": response_json},
        "aws": {"api_gateway": {"account_id": ACCOUNT_ID, "rest_api_id": shared.config.api_id, "stage": shared.config.stage, "request_id": request_id}},
    });
    if let Some(p) = &caller_parent {
        doc["parent_id"] = json!(p);
    }
    if status >= 500 {
        doc["fault"] = json!(true);
    } else if status >= 400 {
        doc["error"] = json!(true);
        if status == 429 {
            doc["throttle"] = json!(true);
        }
    }
    if traced {
        shared
            .collector
            .add(doc, Source::Emulated("API Gateway".into()));
    }
    let _ = shared.events.send(GatewayEvent {
        trace_id,
        segment_id,
        caller_parent,
        continued,
        method: method.to_string(),
        path,
        status,
        function: function_name,
        traced,
        caller_trace_ids: caller_ids,
    });
    response
}

fn build_event(
    shared: &Shared,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    route: &Route,
    params: &BTreeMap<String, String>,
    request_id: &str,
    trace_header: &str,
) -> Value {
    let mut headers = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in &parts.headers {
        if name.as_str() == "x-amzn-trace-id" {
            continue;
        }
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        headers.insert(name.as_str().to_owned(), json!(v));
        if let Some(Value::Array(list)) = multi.get_mut(name.as_str()) {
            list.push(json!(v));
        } else {
            multi.insert(name.as_str().to_owned(), json!([v]));
        }
    }
    let forwarded = [
        ("X-Forwarded-For", "127.0.0.1".to_owned()),
        ("X-Forwarded-Port", shared.port.to_string()),
        ("X-Forwarded-Proto", "http".to_owned()),
        ("X-Amzn-Trace-Id", trace_header.to_owned()),
    ];
    for (k, v) in forwarded {
        headers.insert(k.to_owned(), json!(v));
        multi.insert(k.to_owned(), json!([v]));
    }
    let (query, multi_query) = parse_query(parts.uri.query());
    let path_params = if params.is_empty() {
        Value::Null
    } else {
        json!(params)
    };
    let (body_value, is_base64) = if body.is_empty() {
        (Value::Null, false)
    } else {
        match std::str::from_utf8(body) {
            Ok(text) => (json!(text), false),
            Err(_) => (json!(base64_encode(body)), true),
        }
    };
    let user_agent = parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    json!({
        "resource": route.path,
        "path": parts.uri.path(),
        "httpMethod": parts.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_params,
        "stageVariables": null,
        "requestContext": {
            "resourcePath": route.path,
            "httpMethod": parts.method.as_str(),
            "path": format!("/{}{}", shared.config.stage, parts.uri.path()),
            "stage": shared.config.stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTimeEpoch": now_ms,
            "protocol": "HTTP/1.1",
            "identity": { "sourceIp": "127.0.0.1", "userAgent": user_agent },
            "accountId": ACCOUNT_ID,
            "apiId": shared.config.api_id,
            "resourceId": "local",
            "domainName": format!("127.0.0.1:{}", shared.port),
        },
        "body": body_value,
        "isBase64Encoded": is_base64,
    })
}

/// Maps a Lambda proxy response to HTTP; malformed → 502 like API Gateway.
fn proxy_response(bytes: &[u8]) -> HttpResponse {
    let bad = || message(502, "Internal server error");
    let Ok(Value::Object(v)) = serde_json::from_slice::<Value>(bytes) else {
        return bad();
    };
    let status = match v.get("statusCode") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    };
    let Some(status) = status.and_then(|s| u16::try_from(s).ok()) else {
        return bad();
    };
    let is_base64 = v
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = match v.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(s)) if is_base64 => match base64_decode(s) {
            Some(b) => Bytes::from(b),
            None => return bad(),
        },
        Some(Value::String(s)) => Bytes::from(s.clone()),
        Some(_) => return bad(),
    };
    let mut builder = Response::builder().status(status);
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut has_content_type = false;
    if let Some(Value::Object(h)) = v.get("multiValueHeaders") {
        for (k, vals) in h {
            has_content_type |= k.eq_ignore_ascii_case("content-type");
            for val in vals.as_array().into_iter().flatten() {
                builder = builder.header(k.as_str(), text(val));
            }
        }
    }
    if let Some(Value::Object(h)) = v.get("headers") {
        for (k, val) in h {
            has_content_type |= k.eq_ignore_ascii_case("content-type");
            builder = builder.header(k.as_str(), text(val));
        }
    }
    if !has_content_type {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    builder = builder.header(hyper::header::CONTENT_LENGTH, body.len());
    builder.body(Full::new(body)).unwrap_or_else(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime_api::RuntimeApi;

    #[tokio::test]
    async fn route_matching() {
        let f = LambdaFunction::new("f", RuntimeApi::start().await.unwrap());
        let r = Route::new("GET", "/items/{id}", f.clone());
        assert_eq!(r.matches("/items/42").unwrap()["id"], "42");
        assert!(r.matches("/items").is_none());
        assert!(r.matches("/items/42/x").is_none());
        let r = Route::new("ANY", "/files/{path+}", f.clone());
        assert_eq!(r.matches("/files/a/b%20c").unwrap()["path"], "a/b c");
        assert!(r.method.is_none());
        let r = Route::new("post", "/downstream", f);
        assert!(r.matches("/downstream").unwrap().is_empty());
        assert_eq!(r.method, Some(Method::POST));
    }

    #[test]
    fn xray_header_parsing() {
        assert_eq!(
            parse_xray_header(
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
            ),
            Some((
                "1-5759e988-bd862e3fe1be46a994272793".into(),
                Some("53995c3f42cd8ad8".into())
            ))
        );
        assert_eq!(
            parse_xray_header(" root = 1-5759e988-bd862e3fe1be46a994272793 ; Self=1-x-y;"),
            Some(("1-5759e988-bd862e3fe1be46a994272793".into(), None))
        );
        assert_eq!(parse_xray_header("Parent=53995c3f42cd8ad8"), None);
        assert_eq!(parse_xray_header("Root=garbage"), None);
    }

    #[test]
    fn query_parsing() {
        let (s, m) = parse_query(Some("count=3&a=1&a=2&q=x%20y"));
        assert_eq!(s["count"], "3");
        assert_eq!(s["a"], "2");
        assert_eq!(m["a"], json!(["1", "2"]));
        assert_eq!(s["q"], "x y");
        assert_eq!(parse_query(None), (Value::Null, Value::Null));
    }

    #[tokio::test]
    async fn proxy_response_mapping() {
        let r = proxy_response(br#"{"statusCode": 201, "headers": {"x-a": "1"}, "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]}, "body": "hi"}"#);
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["x-a"], "1");
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
        assert_eq!(r.headers()["content-type"], "application/json");
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "hi");
        let r = proxy_response(br#"{"statusCode": 200, "body": "aGk=", "isBase64Encoded": true}"#);
        assert_eq!(r.into_body().collect().await.unwrap().to_bytes(), "hi");
        assert_eq!(proxy_response(b"\"just a string\"").status(), 502);
        assert_eq!(proxy_response(br#"{"body": "x"}"#).status(), 502);
    }
}
