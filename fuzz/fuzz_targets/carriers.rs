//! Every carrier on arbitrary JSON: the bytes as a raw `serde_json::Value` event and as each
//! typed event that accepts them (API Gateway v1/v2, ALB, Function URL, SQS). No panic, request
//! data within its caps, extracted contexts within theirs, keys listed once.

#![no_main]

use std::any::Any;

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_lambda_events::sqs::SqsEvent;
use lambda_trace::carrier::from_event;
use lambda_trace::propagation::{CompositePropagator, Propagator};
use lambda_trace_fuzz::{check_caps, check_round_trip};
use serde::de::DeserializeOwned;

/// The caps of `RequestInfo::http` (`lambda_trace::carrier` docs).
const MAX_URL_CHARS: usize = 2048;
const MAX_ROUTE_CHARS: usize = 1024;
const MAX_USER_AGENT_CHARS: usize = 512;
const MAX_METHOD_CHARS: usize = 32;

fn exercise(event: &dyn Any) {
    let carrier = from_event(event).expect("a known event type");
    let info = carrier.request_info();
    if let Some(http) = &info.http {
        let within =
            |s: &Option<String>, max: usize| s.as_ref().is_none_or(|s| s.chars().count() <= max);
        assert!(within(&http.url, MAX_URL_CHARS), "url");
        assert!(within(&http.route, MAX_ROUTE_CHARS), "route");
        assert!(within(&http.user_agent, MAX_USER_AGENT_CHARS), "user agent");
        assert!(within(&http.method, MAX_METHOD_CHARS), "method");
        assert!(
            http.url.as_deref().is_none_or(|u| !u.contains('?')),
            "query string kept"
        );
        if let Some(ip) = &http.client_ip {
            assert!(ip.parse::<std::net::IpAddr>().is_ok(), "client ip {ip:?}");
        }
    }
    let keys = carrier.keys();
    for (i, k) in keys.iter().enumerate() {
        assert!(
            keys[..i].iter().all(|seen| !seen.eq_ignore_ascii_case(k)),
            "key {k:?} listed twice"
        );
    }
    for name in ["traceparent", "x-amzn-trace-id"] {
        assert_eq!(carrier.get(name), carrier.get_all(name).first().copied());
    }
    let p = CompositePropagator::default();
    if let Some(cx) = p.extract(carrier) {
        check_caps(&cx);
        check_round_trip(&p, &cx);
    }
}

fn typed<T: DeserializeOwned + 'static>(data: &[u8]) {
    if let Ok(event) = serde_json::from_slice::<T>(data) {
        exercise(&event);
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        exercise(&value);
    }
    typed::<ApiGatewayProxyRequest>(data);
    typed::<ApiGatewayV2httpRequest>(data);
    typed::<AlbTargetGroupRequest>(data);
    typed::<LambdaFunctionUrlRequest>(data);
    typed::<SqsEvent>(data);
});
