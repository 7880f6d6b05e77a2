//! Carriers: how trace headers and request data are read from each kind of Lambda event.
//!
//! | event | headers read | trigger |
//! |---|---|---|
//! | [`ApiGatewayProxyRequest`] (REST API, v1) | `multiValueHeaders`, else `headers` | `http` |
//! | [`ApiGatewayV2httpRequest`] (HTTP API, v2) | `headers` (repeats joined with `,`) | `http` |
//! | [`AlbTargetGroupRequest`] | `multiValueHeaders`, else `headers` | `http` |
//! | [`LambdaFunctionUrlRequest`] | `headers` | `http` |
//! | [`SqsEvent`] | the first record's `AWSTraceHeader` attribute | `pubsub` |
//! | [`serde_json::Value`] | `multiValueHeaders`, else `headers` (any case); SQS shape: `Records[0].attributes.AWSTraceHeader` | `http` if it has `httpMethod` or `requestContext.http.method`, else from its shape (`pubsub`, `datasource`, `timer`, `other`) |
//! | anything else | none: a new trace (or Lambda's), still traced | `other` |
//!
//! The layer finds the carrier by the event's type ([`from_event`]); user-defined event types get
//! no caller context unless they are a `serde_json::Value`.
//!
//! # What carriers return
//!
//! - [`Extractor::get`] is the first of [`Extractor::get_all`]; names match in any case.
//! - Header values are **raw**: not trimmed, not length-checked. The propagation helpers apply
//!   [`MAX_HEADER_LEN`](crate::propagation::MAX_HEADER_LEN) (and report an oversize value as a
//!   parse error), the same rule as for [`HeaderExtractor`](crate::propagation::HeaderExtractor),
//!   so no carrier can bypass or double-apply it.
//! - API Gateway v2 and Function URLs join repeated headers with `,`; that joined value is one
//!   value (a repeated `traceparent` so fails to parse, which ARCHITECTURE.md §4 asks for).
//! - [`RequestInfo::http`] never holds a query string (it may hold tokens). With query capture
//!   on (`LAMBDA_TRACE_CAPTURE_QUERY`), the layer appends [`EventCarrier::raw_query`] to the URL
//!   after redacting it ([`crate::redact`]). The URL is capped at 2,048 characters, the route at
//!   1,024, the user agent at 512, on char boundaries. The client IP is recorded only when it
//!   parses as an IP address; `x_forwarded_for` says it came from the first `X-Forwarded-For`
//!   entry.
//!
//! Sample events with every trace-header format are in the repository's `events/` directory
//! (see its README); `tests/events.rs` checks all of them.
//!
//! [`ApiGatewayProxyRequest`]: aws_lambda_events::apigw::ApiGatewayProxyRequest
//! [`ApiGatewayV2httpRequest`]: aws_lambda_events::apigw::ApiGatewayV2httpRequest
//! [`AlbTargetGroupRequest`]: aws_lambda_events::alb::AlbTargetGroupRequest
//! [`LambdaFunctionUrlRequest`]: aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest
//! [`SqsEvent`]: aws_lambda_events::sqs::SqsEvent

mod alb;
mod apigw_v1;
mod apigw_v2;
mod function_url;
mod json;
mod request;
mod sqs;

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::fmt;

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_lambda_events::sqs::SqsEvent;

use crate::propagation::Extractor;
use crate::span::HttpRequestInfo;

/// What kind of source invoked the function (`faas.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Trigger {
    /// API Gateway, ALB, Function URL.
    Http,
    /// SQS, SNS, EventBridge.
    PubSub,
    /// S3, DynamoDB streams.
    Datasource,
    /// Scheduled events.
    Timer,
    /// Anything else.
    #[default]
    Other,
}

impl Trigger {
    /// The `faas.trigger` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Trigger::Http => "http",
            Trigger::PubSub => "pubsub",
            Trigger::Datasource => "datasource",
            Trigger::Timer => "timer",
            Trigger::Other => "other",
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the invocation span records about the event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestInfo {
    /// The trigger kind.
    pub trigger: Trigger,
    /// HTTP request data, for HTTP triggers.
    pub http: Option<HttpRequestInfo>,
}

/// An event that carries trace headers: an [`Extractor`] over its headers, plus request data.
pub trait EventCarrier: Extractor {
    /// Trigger and HTTP data of this event.
    fn request_info(&self) -> RequestInfo;

    /// The request's query string as the event gives it, without the `?`: **raw, not
    /// redacted**. The layer reads it only when query capture is on, and records it through
    /// [`redact_query`](crate::redact::redact_query). `None` (the default) when there is none.
    fn raw_query(&self) -> Option<Cow<'_, str>> {
        None
    }
}

/// `carrier`'s request data; with `capture_query`, the URL gets the event's query string,
/// redacted ([`crate::redact`]) and capped with the path at 2,048 characters.
pub(crate) fn request_info(carrier: &dyn EventCarrier, capture_query: bool) -> RequestInfo {
    let mut info = carrier.request_info();
    if capture_query
        && let Some(url) = info.http.as_mut().and_then(|h| h.url.as_mut())
        && let Some(query) = carrier.raw_query()
    {
        *url = crate::redact::url_with_query(url, &query, request::MAX_URL_CHARS);
    }
    info
}

/// Calls the macro `$apply` with the list of event types that have a carrier.
macro_rules! carrier_types {
    ($apply:ident) => {
        $apply!(
            ApiGatewayProxyRequest,
            ApiGatewayV2httpRequest,
            AlbTargetGroupRequest,
            LambdaFunctionUrlRequest,
            SqsEvent,
            serde_json::Value
        )
    };
}

/// The carrier view of `event` when its type is one this crate knows.
pub fn from_event(event: &dyn Any) -> Option<&dyn EventCarrier> {
    macro_rules! try_types {
        ($($t:ty),*) => {$(
            if let Some(e) = event.downcast_ref::<$t>() {
                return Some(e);
            }
        )*};
    }
    carrier_types!(try_types);
    None
}

/// [`from_event`] for an event whose type is known when compiling: the type tests are resolved
/// by the compiler, so only that type's carrier is in the binary, not every carrier (issue 6,
/// binary size). What the layer uses.
#[inline]
pub(crate) fn for_event<E: Any>(event: &E) -> Option<&dyn EventCarrier> {
    macro_rules! try_types {
        ($($t:ty),*) => {$(
            if TypeId::of::<E>() == TypeId::of::<$t>() {
                return (event as &dyn Any).downcast_ref::<$t>().map(|e| e as &dyn EventCarrier);
            }
        )*};
    }
    carrier_types!(try_types);
    None
}
