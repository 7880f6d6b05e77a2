//! Reading the handler's result: HTTP status of known response types, error descriptions.

use std::any::{Any, TypeId};
use std::fmt;

use aws_lambda_events::alb::AlbTargetGroupResponse;
use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayV2httpResponse};
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlResponse;
use lambda_runtime::Diagnostic;

use crate::span::ExceptionRecord;

/// [`http_status`] of a response of type `R` (the layer's status function for handlers that
/// return `R`).
pub(crate) fn status_fn<R: Any>(response: &dyn Any) -> Option<u16> {
    http_status(response.downcast_ref::<R>()?)
}

/// `response` as a `T` when `R` is `T`. The test is resolved when compiling, so the code for
/// every other type drops out of the binary (issue 6, binary size).
#[inline(always)]
pub(super) fn cast<R: Any, T: Any>(response: &R) -> Option<&T> {
    if TypeId::of::<R>() == TypeId::of::<T>() {
        (response as &dyn Any).downcast_ref::<T>()
    } else {
        None
    }
}

/// The HTTP status of a response, for the response types of API Gateway (v1, v2), ALB, Function
/// URLs, `http::Response` with common bodies, and JSON objects with a `statusCode`.
pub(crate) fn http_status<R: Any>(response: &R) -> Option<u16> {
    let code = if let Some(r) = cast::<R, ApiGatewayProxyResponse>(response) {
        r.status_code
    } else if let Some(r) = cast::<R, ApiGatewayV2httpResponse>(response) {
        r.status_code
    } else if let Some(r) = cast::<R, AlbTargetGroupResponse>(response) {
        r.status_code
    } else if let Some(r) = cast::<R, LambdaFunctionUrlResponse>(response) {
        r.status_code
    } else if let Some(v) = cast::<R, serde_json::Value>(response) {
        v.get("statusCode")?.as_i64()?
    } else if let Some(r) = cast::<R, http::Response<String>>(response) {
        i64::from(r.status().as_u16())
    } else if let Some(r) = cast::<R, http::Response<Vec<u8>>>(response) {
        i64::from(r.status().as_u16())
    } else if let Some(r) = cast::<R, http::Response<()>>(response) {
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
        stack: if backtraces_asked() {
            super::panic_stack::frames_in_debug(&format!("{error:?}"))
        } else {
            Vec::new()
        },
    }
}

/// Whether `RUST_LIB_BACKTRACE` (else `RUST_BACKTRACE`) asks for backtraces, as
/// `std::backtrace::Backtrace::capture` reads them: then an error's `Debug` text may carry one
/// (`anyhow`'s does).
fn backtraces_asked() -> bool {
    let asked = |v: std::ffi::OsString| v != "0";
    std::env::var_os("RUST_LIB_BACKTRACE")
        .or_else(|| std::env::var_os("RUST_BACKTRACE"))
        .is_some_and(asked)
}

/// Describes a panic payload, with the stack the panic hook kept (see `panic_stack`).
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
        stack: super::panic_stack::take(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_of_known_responses() {
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
