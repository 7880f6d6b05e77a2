//! No event, however odd, panics a carrier or the propagators, and none changes what the
//! wrapped handler returns.

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use http::{HeaderName, HeaderValue};
use lambda_trace::carrier::from_event;
use lambda_trace::propagation::{CompositePropagator, Propagator};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Header names any propagator reads, and a few others.
const NAMES: &[&str] = &[
    "x-amzn-trace-id",
    "traceparent",
    "tracestate",
    "baggage",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "uber-trace-id",
    "uberctx-user",
    "ot-tracer-traceid",
    "ot-tracer-spanid",
    "ot-tracer-sampled",
    "ot-baggage-k",
    "user-agent",
    "x-forwarded-for",
];

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>().prop_map(|f| json!(f)),
        any::<i64>().prop_map(|i| json!(i)),
        ".{0,64}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::hash_map(
                prop::sample::select(NAMES).prop_map(str::to_string),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        "[0-9a-f-]{0,80}",
        "Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-fA-F]{0,17};Sampled=[01?x]",
        "00-[0-9a-fA-F]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.{0,10})?",
        // Long values, past every cap.
        (8_000usize..20_000, any::<char>())
            .prop_map(|(n, c)| format!("Root=1-{}", c.to_string().repeat(n))),
    ]
}

fn exercise(event: &dyn std::any::Any) {
    let propagator = CompositePropagator::default();
    if let Some(carrier) = from_event(event) {
        let _ = carrier.request_info();
        let _ = propagator.extract(carrier);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn json_events_of_any_shape(body in json_value(), headers in json_value(), multi in json_value()) {
        let event = json!({
            "httpMethod": "GET", "path": "/x", "headers": headers, "multiValueHeaders": multi,
            "requestContext": { "http": body.clone(), "identity": body.clone() }, "body": body,
        });
        exercise(&event);
        exercise(&headers);
    }

    #[test]
    fn header_maps_of_any_content(pairs in prop::collection::vec((prop::sample::select(NAMES), header_value()), 0..40)) {
        let mut v1 = ApiGatewayProxyRequest::default();
        let mut v2 = ApiGatewayV2httpRequest::default();
        let mut raw = serde_json::Map::new();
        for (name, value) in &pairs {
            let name = HeaderName::from_static(name);
            if let Ok(value) = HeaderValue::from_str(value) {
                v1.headers.append(name.clone(), value.clone());
                v1.multi_value_headers.append(name.clone(), value.clone());
                v2.headers.append(name.clone(), value);
            }
            // Non-ASCII bytes reach carriers too: API Gateway passes them through.
            if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                v1.headers.append(name.clone(), value);
            }
            raw.insert(name.to_string(), json!(value));
        }
        exercise(&v1);
        exercise(&v2);
        exercise(&json!({ "headers": raw }));
    }
}

#[test]
fn thousands_of_headers_are_fine() {
    let mut event = ApiGatewayProxyRequest::default();
    for i in 0..5_000 {
        let name = HeaderName::from_bytes(format!("x-custom-{i}").as_bytes()).unwrap();
        event.headers.insert(name, HeaderValue::from_static("v"));
    }
    event.headers.insert(
        "traceparent",
        HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
    );
    let carrier = from_event(&event).expect("known event type");
    let cx = CompositePropagator::default()
        .extract(carrier)
        .expect("valid W3C context among noise");
    assert_eq!(cx.trace_id.to_string(), "0af7651916cd43dd8448eb211c80319c");
}
