//! [`XrayInterceptor`]: an `aws` subsegment per AWS SDK call, and the trace header on its
//! request.
//!
//! The hooks, flags and error codes are described on [`XrayInterceptor`].

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut, Error,
    FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata, OrchestratorError};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::Headers;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_types::region::Region;

use crate::propagation::{Injector, Propagator, XrayPropagator};
use crate::span::{
    AttributeValue, ExceptionRecord, Outcome, RemoteNamespace, Span, SpanKind, current,
};

/// Error codes that mark a call as throttled: the list the AWS SDK's retry classifier uses
/// (`aws_runtime::retries::classifiers::THROTTLING_ERRORS`).
#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
pub const THROTTLING_ERROR_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// The subsegment's name until the service is known (a call that fails before serialization).
const UNKNOWN_SERVICE: &str = "AWS";

/// Largest error body searched for an error code, in bytes.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Records AWS SDK calls as X-Ray `aws` subsegments and propagates the trace to the service.
///
/// Install it on each service client's config (see the [module docs](crate::aws) for an
/// example); it is cheap to clone and holds no state of its own.
///
/// What a call records: name = the service (`DynamoDB`, `S3`, …); `namespace: "aws"`;
/// attributes `rpc.system` = `aws-api`, `rpc.service`, `rpc.method` (the operation),
/// `aws.region`, `aws.request_id` (from `x-amzn-requestid` / `x-amz-request-id`) and
/// `aws.retries`, which the X-Ray translation writes into the `aws` block; the HTTP status;
/// on failure the error (its code as the type) with the flags below.
///
/// # Hooks
/// | hook | what it does |
/// |---|---|
/// | `read_before_execution` | opens the subsegment, child of [`current()`](crate::current) |
/// | `read_before_serialization` | names it after the service and operation: an interceptor set on the client config runs its first hook before the operation's metadata is in the config bag |
/// | `modify_before_signing` | writes `X-Amzn-Trace-Id` (X-Ray format, this subsegment as `Parent`) on every attempt, replacing the one the SDK's `RecursionDetectionInterceptor` copies from the process-wide `_X_AMZN_TRACE_ID` in the same hook; for SQS, SNS, EventBridge and DynamoDB, records the queue, topic, bus or table, and adds a `traceparent` message attribute to the messages sent (see below) |
/// | `read_after_attempt` | counts attempts (`retries` = attempts − 1) |
/// | `read_after_execution` | records region, request id, retries, HTTP status, the error with its flags; ends the subsegment |
///
/// Headers are added before signing, as the SDK's own `RecursionDetectionInterceptor` does, so
/// the request is complete when the signer sees it. SigV4 leaves `X-Amzn-Trace-Id` out of the
/// signed headers on purpose (AWS front doors rewrite it), so the header never invalidates a
/// signature.
///
/// The per-call state (the span, the attempt count) lives in the call's config bag, so one
/// interceptor serves concurrent calls of any number of invocations. Every hook returns `Ok`:
/// tracing never fails a call.
///
/// # Flags
/// - `error`: HTTP 4xx;
/// - `throttle` (with `error`): HTTP 429, or an error code of [`THROTTLING_ERROR_CODES`] (the
///   codes the SDK's own retry classifier treats as throttling, e.g. DynamoDB's
///   `ProvisionedThroughputExceededException` with status 400, S3's `SlowDown` with 503);
/// - `fault`: HTTP 5xx, or no response at all (connection failure, timeout).
///
/// # Queues, topics, buses and tables
/// For SQS, SNS, EventBridge and DynamoDB the request is read before it is signed. A call that
/// sends messages (`SendMessage`, `SendMessageBatch`, `Publish`, `PublishBatch`, `PutEvents`)
/// becomes a `PRODUCER` span with OpenTelemetry's messaging attributes (`messaging.system`,
/// `messaging.destination.name`, `messaging.operation.type` = `send`,
/// `messaging.batch.message_count`), and SQS calls record `aws.queue_url`, SNS calls
/// `aws.sns.topic.arn`, DynamoDB calls `aws.table_name` (X-Ray's `aws.queue_url` and
/// `aws.table_name`). When the layer's write set has W3C (`tracecontext`), each SQS message
/// sent and each SNS message published gets a `traceparent` message attribute naming this
/// subsegment, unless it has 10 already (logged once). The X-Ray context needs nothing more:
/// SQS turns the request's `X-Amzn-Trace-Id` into each message's `AWSTraceHeader`, SNS and
/// EventBridge pass it to their subscribers and targets.
///
/// The error code is read where the AWS protocols put it: the `x-amzn-errortype` header, the
/// JSON body's `__type` / `code`, or the XML body's `<Code>`. It becomes the exception's `type`.
#[cfg_attr(docsrs, doc(cfg(feature = "aws-sdk")))]
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct XrayInterceptor;

impl XrayInterceptor {
    /// The interceptor.
    pub const fn new() -> Self {
        Self
    }
}

/// One call's state, in its config bag.
#[derive(Debug, Clone)]
struct Call {
    span: Span,
    /// Attempts finished so far.
    attempts: u32,
    /// Name and operation are set.
    described: bool,
}

impl Storable for Call {
    type Storer = StoreReplace<Self>;
}

impl Intercept for XrayInterceptor {
    fn name(&self) -> &'static str {
        "lambda_trace::XrayInterceptor"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let parent = current();
        if !parent.is_recording() {
            return Ok(());
        }
        let metadata = cfg.load::<Metadata>().cloned();
        let name = metadata.as_ref().map_or(UNKNOWN_SERVICE, Metadata::service);
        let span = parent.child_of_kind(name.to_owned(), SpanKind::Client);
        span.set_namespace(RemoteNamespace::Aws);
        if let Some(m) = &metadata {
            describe(&span, m);
        }
        cfg.interceptor_state().store_put(Call {
            span,
            attempts: 0,
            described: metadata.is_some(),
        });
        Ok(())
    }

    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<Call>().filter(|c| !c.described).cloned() else {
            return Ok(());
        };
        if let Some(m) = cfg.load::<Metadata>().cloned() {
            call.span.set_name(m.service().to_owned());
            describe(&call.span, &m);
            cfg.interceptor_state().store_put(Call {
                described: true,
                ..call
            });
        }
        Ok(())
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<Call>() else {
            return Ok(());
        };
        if let Some(cx) = call.span.context() {
            let headers = context.request_mut().headers_mut();
            XrayPropagator::new().inject(&cx, &mut SmithyHeaders(headers));
        }
        if call.span.is_recording()
            && let Some(m) = cfg.load::<Metadata>()
        {
            super::requests::apply(m.service(), m.name(), context.request_mut(), &call.span);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(call) = cfg.load::<Call>().cloned() {
            cfg.interceptor_state().store_put(Call {
                attempts: call.attempts.saturating_add(1),
                ..call
            });
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<Call>() else {
            return Ok(());
        };
        let span = &call.span;
        if let Some(region) = cfg.load::<Region>() {
            set_string(span, "aws.region", region.as_ref());
        }
        let retries = call.attempts.saturating_sub(1);
        span.set_attribute(("aws.retries".into(), AttributeValue::Int(retries.into())));
        let response = context.response();
        if let Some(response) = response {
            span.set_http_status(response.status().as_u16());
            if let Some(id) = request_id(response.headers()) {
                set_string(span, "aws.request_id", id);
            }
        }
        if let Some(Err(error)) = context.output_or_error() {
            record_failure(span, error, response);
        }
        span.end();
        Ok(())
    }
}

/// Names the span after the service and records the operation.
fn describe(span: &Span, metadata: &Metadata) {
    set_string(span, "rpc.system", "aws-api");
    set_string(span, "rpc.service", metadata.service());
    set_string(span, "rpc.method", metadata.name());
}

fn set_string(span: &Span, key: &'static str, value: &str) {
    span.set_attribute((key.into(), AttributeValue::String(value.to_owned().into())));
}

/// The request id AWS services return (`x-amz-request-id` is S3's).
fn request_id(headers: &Headers) -> Option<&str> {
    ["x-amzn-requestid", "x-amz-request-id", "x-amzn-request-id"]
        .into_iter()
        .find_map(|name| headers.get(name))
        .filter(|id| !id.is_empty())
}

/// Records a failed call: the error and its flags (see the module docs).
fn record_failure(span: &Span, error: &OrchestratorError<Error>, response: Option<&HttpResponse>) {
    let status = response.map(|r| r.status().as_u16());
    let code = response.and_then(error_code);
    let mut outcome = status.map_or(Outcome::default(), Outcome::from_http_status);
    if status.is_none() && !error.is_operation_error() {
        // Nothing came back (connection refused, timeout) or the SDK failed on its side.
        outcome.fault = true;
    }
    if status == Some(429) || code.as_deref().is_some_and(is_throttling) {
        outcome.error = true;
        outcome.throttle = true;
    }
    if !outcome.error && !outcome.fault {
        // An error with a 2xx/3xx response (an unreadable body): the service answered, the
        // SDK could not use it.
        outcome.fault = true;
    }
    let type_name = code.or_else(|| Some(error_kind(error).to_owned()));
    span.record_exceptions(
        vec![ExceptionRecord {
            message: DisplayErrorContext(error).to_string(),
            type_name,
            remote: error.is_operation_error(),
            stack: Vec::new(),
        }],
        outcome,
    );
}

/// A name for errors without a service error code.
fn error_kind(error: &OrchestratorError<Error>) -> &'static str {
    if error.is_connector_error() {
        "DispatchFailure"
    } else if error.is_timeout_error() {
        "TimeoutError"
    } else if error.is_response_error() {
        "ResponseError"
    } else if error.is_interceptor_error() {
        "InterceptorError"
    } else if error.is_operation_error() {
        "ServiceError"
    } else {
        "SdkError"
    }
}

/// `true` for the error codes the SDK retries as throttling.
fn is_throttling(code: &str) -> bool {
    THROTTLING_ERROR_CODES.contains(&code)
}

/// The AWS error code of an error response: `x-amzn-errortype` (REST-JSON), the JSON body's
/// `__type` or `code` (AWS JSON), or the XML body's first `<Code>` (REST-XML, query).
fn error_code(response: &HttpResponse) -> Option<String> {
    if let Some(t) = response.headers().get("x-amzn-errortype") {
        return clean_code(t);
    }
    let body = response.body().bytes()?;
    if body.len() > MAX_ERROR_BODY {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?.trim_start();
    if text.starts_with('{') {
        #[derive(serde::Deserialize)]
        struct JsonError {
            #[serde(rename = "__type")]
            type_: Option<String>,
            code: Option<String>,
            #[serde(rename = "Code")]
            code_upper: Option<String>,
        }
        let e: JsonError = serde_json::from_str(text).ok()?;
        return clean_code(&e.type_.or(e.code).or(e.code_upper)?);
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    clean_code(&text[start..start + len])
}

/// `aws.protocoltests#ThrottlingException:http://…` → `ThrottlingException`.
fn clean_code(raw: &str) -> Option<String> {
    let code = raw.split(':').next()?;
    let code = code.rsplit('#').next()?.trim();
    (!code.is_empty()).then(|| code.to_owned())
}

/// [`Injector`] over the SDK's request headers.
struct SmithyHeaders<'a>(&'a mut Headers);

impl Injector for SmithyHeaders<'_> {
    fn set(&mut self, name: &str, value: String) {
        // Our header values are ASCII; an invalid one is skipped, never a panic.
        let _ = self.0.try_insert(name.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> HttpResponse {
        let mut r = HttpResponse::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(body.to_owned()),
        );
        for (k, v) in headers {
            r.headers_mut().insert(k.to_string(), v.to_string());
        }
        r
    }

    #[rustfmt::skip]
    #[test]
    fn error_codes_where_each_protocol_puts_them() {
        for (headers, body, code) in [
            (&[("x-amzn-errortype", "ThrottlingException:http://internal.amazon.com/coral/")][..], "", Some("ThrottlingException")),
            (&[][..], r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"m"}"#, Some("ProvisionedThroughputExceededException")),
            (&[][..], r#"{"code":"InvalidRequestException"}"#, Some("InvalidRequestException")),
            (&[][..], "<Error><Code>SlowDown</Code><Message>m</Message></Error>", Some("SlowDown")),
            (&[][..], "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code></Error></ErrorResponse>", Some("Throttling")),
            (&[][..], "", None),
            (&[][..], "{not json", None),
            (&[][..], r#"{"message":"no code"}"#, None),
            (&[][..], "<Code></Code>", None),
        ] {
            let r = response(400, headers, body);
            assert_eq!(error_code(&r).as_deref(), code, "{headers:?} {body}");
        }
    }

    #[test]
    fn request_id_headers() {
        let h = |name: &str| response(200, &[(name, "R-1")], "");
        for name in ["x-amzn-RequestId", "x-amz-request-id", "x-amzn-request-id"] {
            assert_eq!(request_id(h(name).headers()), Some("R-1"), "{name}");
        }
        assert_eq!(request_id(h("x-other").headers()), None);
    }

    #[test]
    fn throttling_codes() {
        assert!(is_throttling("ThrottlingException"));
        assert!(is_throttling("SlowDown"));
        assert!(!is_throttling("AccessDeniedException"));
    }

    #[test]
    fn hooks_outside_an_invocation_do_nothing() {
        // No current span: nothing is stored, later hooks find no call.
        let mut cfg = ConfigBag::base();
        let ctx = aws_smithy_runtime_api::client::interceptors::context::InterceptorContext::new(
            aws_smithy_runtime_api::client::interceptors::context::Input::erase(()),
        );
        XrayInterceptor::new()
            .read_before_execution(&(&ctx).into(), &mut cfg)
            .unwrap();
        assert!(cfg.load::<Call>().is_none());
    }
}
