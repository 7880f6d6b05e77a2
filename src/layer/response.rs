//! Response capture (off by default): the handler's response body as metadata of the invocation
//! span, for the response types the layer can read.

use std::any::Any;
use std::borrow::Cow;

use aws_lambda_events::alb::AlbTargetGroupResponse;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlResponse;
use serde_json::{Value, json};

use super::outcome::cast;
use crate::json::value_text;
use crate::span::Span;
use crate::xray::METADATA_NAMESPACE;

/// Most bytes of a response body recorded; a longer body is cut (on a char boundary) and marked
/// `truncated`.
pub const MAX_CAPTURED_BODY: usize = 4096;

/// The metadata key (namespace `lambda_trace`) of a captured body.
pub(crate) const BODY_KEY: &str = "response.body";

/// A response body as the layer sees it.
#[derive(Debug, PartialEq)]
enum Captured<'a> {
    Text(Cow<'a, str>),
    Binary(usize),
}

/// Records the body of `response` on `span` as `lambda_trace.response.body`:
/// `{"text": "…"}`, plus `"truncated": true, "bytes": <full length>` when it was cut, or
/// `{"binary": true, "bytes": n}` for a binary body (whose bytes are never recorded). Response
/// types the layer cannot read record nothing.
///
/// Generic so that the response types are told apart when compiling: only the code for the
/// handler's own response type is in the binary (issue 6, binary size).
#[inline(never)]
pub(crate) fn record_body<R: Any>(span: &Span, response: &R) {
    record_captured(span, body_of(response));
}

fn record_captured(span: &Span, captured: Option<Captured<'_>>) {
    let value = match captured {
        None => return,
        Some(Captured::Binary(bytes)) => json!({ "binary": true, "bytes": bytes }),
        Some(Captured::Text(text)) if text.len() > MAX_CAPTURED_BODY => {
            let cut = (0..=MAX_CAPTURED_BODY)
                .rev()
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            json!({ "text": &text[..cut], "truncated": true, "bytes": text.len() })
        }
        Some(Captured::Text(text)) => json!({ "text": text }),
    };
    span.metadata_in(METADATA_NAMESPACE, BODY_KEY, value);
}

/// The body of the known response types; `None` for others and for empty bodies.
#[inline(always)]
fn body_of<R: Any>(response: &R) -> Option<Captured<'_>> {
    let string = |s: &'_ str, base64: bool| match s {
        "" => None,
        s if base64 => Some(Captured::Binary(s.len() / 4 * 3)),
        s => Some(Captured::Text(Cow::Owned(s.to_string()))),
    };
    let encoded = |body: Option<&Body>, base64: bool| match body? {
        Body::Text(t) => string(t, base64),
        Body::Binary(b) => Some(Captured::Binary(b.len())),
        _ => None,
    };
    let bytes = |b: &[u8]| match std::str::from_utf8(b) {
        Ok(s) => string(s, false),
        Err(_) => Some(Captured::Binary(b.len())),
    };
    if let Some(r) = cast::<R, ApiGatewayProxyResponse>(response) {
        encoded(r.body.as_ref(), r.is_base64_encoded)
    } else if let Some(r) = cast::<R, ApiGatewayV2httpResponse>(response) {
        encoded(r.body.as_ref(), r.is_base64_encoded)
    } else if let Some(r) = cast::<R, AlbTargetGroupResponse>(response) {
        encoded(r.body.as_ref(), r.is_base64_encoded)
    } else if let Some(r) = cast::<R, LambdaFunctionUrlResponse>(response) {
        string(r.body.as_deref()?, r.is_base64_encoded)
    } else if let Some(v) = cast::<R, Value>(response) {
        json_body(v)
    } else if let Some(s) = cast::<R, String>(response) {
        string(s, false)
    } else if let Some(s) = cast::<R, &'static str>(response) {
        string(s, false)
    } else if let Some(r) = cast::<R, http::Response<Body>>(response) {
        encoded(Some(r.body()), false)
    } else if let Some(r) = cast::<R, http::Response<String>>(response) {
        string(r.body(), false)
    } else if let Some(r) = cast::<R, http::Response<&'static str>>(response) {
        string(r.body(), false)
    } else if let Some(r) = cast::<R, http::Response<Vec<u8>>>(response) {
        bytes(r.body())
    } else {
        None
    }
}

/// A JSON response: for a proxy-shaped object (`statusCode` + `body`), the `body` only (never
/// its `headers`, which may set cookies); for anything else, the whole value as JSON text.
fn json_body(v: &Value) -> Option<Captured<'_>> {
    if v.get("statusCode").is_some() {
        let base64 = v.get("isBase64Encoded") == Some(&Value::Bool(true));
        return match v.get("body")? {
            Value::String(s) if s.is_empty() => None,
            Value::String(s) if base64 => Some(Captured::Binary(s.len() / 4 * 3)),
            Value::String(s) => Some(Captured::Text(Cow::Borrowed(s))),
            Value::Null => None,
            other => Some(Captured::Text(Cow::Owned(value_text(other)))),
        };
    }
    Some(Captured::Text(Cow::Owned(value_text(v))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Option<Captured<'static>> {
        Some(Captured::Text(Cow::Owned(s.to_string())))
    }

    #[test]
    fn bodies_of_known_response_types() {
        let mut v1 = ApiGatewayProxyResponse::default();
        v1.body = Some(Body::Text("v1".into()));
        assert_eq!(body_of(&v1), text("v1"));
        v1.is_base64_encoded = true;
        v1.body = Some(Body::Text("AAAA".into()));
        assert_eq!(body_of(&v1), Some(Captured::Binary(3)));
        let mut v2 = ApiGatewayV2httpResponse::default();
        v2.body = Some(Body::Binary(vec![0, 159, 146, 150]));
        assert_eq!(body_of(&v2), Some(Captured::Binary(4)));
        let mut alb = AlbTargetGroupResponse::default();
        alb.body = Some(Body::Text("alb".into()));
        assert_eq!(body_of(&alb), text("alb"));
        let mut url = LambdaFunctionUrlResponse::default();
        url.body = Some("url".into());
        assert_eq!(body_of(&url), text("url"));
        assert_eq!(body_of(&"s".to_string()), text("s"));
        assert_eq!(body_of(&"static"), text("static"));
        assert_eq!(
            body_of(&http::Response::new(Body::from("http"))),
            text("http")
        );
        assert_eq!(body_of(&http::Response::new(String::from("h"))), text("h"));
        assert_eq!(
            body_of(&http::Response::new(vec![0xffu8, 0])),
            Some(Captured::Binary(2))
        );
        assert_eq!(body_of(&json!({"ok": true})), text(r#"{"ok":true}"#));
        assert_eq!(
            body_of(&json!({"statusCode": 200, "headers": {"Set-Cookie": "id=1"}, "body": "b"})),
            text("b")
        );
        assert_eq!(body_of(&json!({"statusCode": 204})), None);
        assert_eq!(body_of(&ApiGatewayProxyResponse::default()), None);
        assert_eq!(body_of(&String::new()), None);
        assert_eq!(body_of(&42u32), None);
    }
}
