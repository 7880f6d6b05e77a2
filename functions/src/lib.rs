//! Shared helpers of the example functions (`router`, `downstream`, `order`): building API
//! Gateway (REST, v1) responses and reading the current trace id.

use aws_lambda_events::apigw::ApiGatewayProxyResponse;
use aws_lambda_events::encodings::Body;
use http::HeaderValue;
use http::header::CONTENT_TYPE;
use lambda_trace::Span;

/// An API Gateway response with a JSON body.
#[must_use]
pub fn json_response(status: u16, body: &serde_json::Value) -> ApiGatewayProxyResponse {
    response(status, "application/json", body.to_string())
}

/// An API Gateway response with a plain-text body.
#[must_use]
pub fn text_response(status: u16, body: &str) -> ApiGatewayProxyResponse {
    response(status, "text/plain; charset=utf-8", body.to_string())
}

fn response(status: u16, content_type: &'static str, body: String) -> ApiGatewayProxyResponse {
    // The type is `#[non_exhaustive]`: start from `default()` and set the fields.
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = i64::from(status);
    response
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response.body = Some(Body::Text(body));
    response
}

/// The trace id of `span` in X-Ray form (`1-5759e988-bd862e3fe1be46a994272793`), to hand back to
/// the caller so it can look the trace up. `None` outside a traced invocation (e.g. in a unit
/// test that calls the handler directly).
#[must_use]
pub fn trace_id(span: &Span) -> Option<String> {
    span.context().map(|cx| cx.trace_id.to_xray())
}

/// The body of a response as text (for tests and logs).
#[must_use]
pub fn body_text(response: &ApiGatewayProxyResponse) -> &str {
    match &response.body {
        Some(Body::Text(text)) => text,
        Some(Body::Binary(bytes)) => std::str::from_utf8(bytes).unwrap_or(""),
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_response_sets_status_type_and_body() {
        let response = json_response(201, &serde_json::json!({"ok": true}));
        assert_eq!(response.status_code, 201);
        assert_eq!(response.headers[CONTENT_TYPE], "application/json");
        assert_eq!(body_text(&response), r#"{"ok":true}"#);
    }

    #[test]
    fn no_trace_id_outside_an_invocation() {
        assert_eq!(trace_id(&lambda_trace::current()), None);
    }
}
