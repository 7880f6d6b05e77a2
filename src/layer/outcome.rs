//! Reading the handler's result: HTTP status of known response types, error descriptions.

use std::any::Any;
use std::fmt;

use aws_lambda_events::alb::AlbTargetGroupResponse;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlResponse;
use lambda_runtime::Diagnostic;

use crate::span::ExceptionRecord;

/// The HTTP status of a response, for the response types of API Gateway (v1, v2), ALB, Function
/// URLs, `http::Response` with common bodies, and JSON objects with a `statusCode`.
pub(crate) fn http_status(response: &dyn Any) -> Option<u16> {
    let code = if let Some(r) = response.downcast_ref::<ApiGatewayProxyResponse>() {
        r.status_code
    } else if let Some(r) = response.downcast_ref::<ApiGatewayV2httpResponse>() {
        r.status_code
    } else if let Some(r) = response.downcast_ref::<AlbTargetGroupResponse>() {
        r.status_code
    } else if let Some(r) = response.downcast_ref::<LambdaFunctionUrlResponse>() {
        r.status_code
    } else if let Some(v) = response.downcast_ref::<serde_json::Value>() {
        v.get("statusCode")?.as_i64()?
    } else if let Some(r) = response.downcast_ref::<http::Response<String>>() {
        i64::from(r.status().as_u16())
    } else if let Some(r) = response.downcast_ref::<http::Response<Vec<u8>>>() {
        i64::from(r.status().as_u16())
    } else if let Some(r) = response.downcast_ref::<http::Response<()>>() {
        i64::from(r.status().as_u16())
    } else {
        return None;
    };
    u16::try_from(code).ok().filter(|c| (100..=599).contains(c))
}

/// Describes the handler's error: message and type name.
pub(crate) fn exception<E: fmt::Debug + 'static>(
    error: &E,
    capture_message: bool,
) -> ExceptionRecord {
    let any: &dyn Any = error;
    let (message, type_name) = if let Some(e) = any.downcast_ref::<lambda_runtime::Error>() {
        (e.to_string(), None)
    } else if let Some(d) = any.downcast_ref::<Diagnostic>() {
        (d.error_message.clone(), Some(d.error_type.clone()))
    } else if let Some(s) = any.downcast_ref::<String>() {
        (s.clone(), None)
    } else if let Some(s) = any.downcast_ref::<&'static str>() {
        ((*s).to_string(), None)
    } else {
        (format!("{error:?}"), None)
    };
    ExceptionRecord {
        message: if capture_message {
            message
        } else {
            String::from("error message not captured")
        },
        type_name: Some(type_name.unwrap_or_else(|| std::any::type_name::<E>().to_string())),
        remote: false,
    }
}

/// Describes a panic payload.
pub(crate) fn panic_exception(payload: &(dyn Any + Send)) -> ExceptionRecord {
    let message = payload
        .downcast_ref::<&'static str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_string());
    ExceptionRecord {
        message,
        type_name: Some("panic".to_string()),
        remote: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_known_responses() {
        // `ApiGatewayProxyResponse` is `#[non_exhaustive]`: no struct expression outside its crate.
        let mut r = ApiGatewayProxyResponse::default();
        r.status_code = 429;
        assert_eq!(http_status(&r), Some(429));
        assert_eq!(
            http_status(&serde_json::json!({"statusCode": 502})),
            Some(502)
        );
        assert_eq!(http_status(&serde_json::json!({"statusCode": 9999})), None);
        assert_eq!(http_status(&serde_json::json!("hello")), None);
        assert_eq!(http_status(&42u32), None);
    }

    #[test]
    fn describes_errors() {
        let e: lambda_runtime::Error = "boom".into();
        let x = exception(&e, true);
        assert_eq!(x.message, "boom");
        let d = Diagnostic {
            error_type: "OrderError".into(),
            error_message: "no stock".into(),
        };
        assert_eq!(exception(&d, true).type_name.as_deref(), Some("OrderError"));
        assert_eq!(exception(&d, false).message, "error message not captured");
        assert_eq!(panic_exception(&"oops").message, "oops");
    }
}
