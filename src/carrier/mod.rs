//! Carriers: how trace headers and request data are read from each kind of Lambda event.
//!
//! | event | headers read | trigger |
//! |---|---|---|
//! | [`ApiGatewayProxyRequest`] (REST API, v1) | `multiValueHeaders`, else `headers` | `http` |
//! | [`ApiGatewayV2httpRequest`] (HTTP API, v2) | `headers` (repeats joined with `,`) | `http` |
//! | [`AlbTargetGroupRequest`] | `multiValueHeaders`, else `headers` | `http` |
//! | [`LambdaFunctionUrlRequest`] | `headers` | `http` |
//! | [`SqsEvent`] | the first record's `AWSTraceHeader` attribute and string message attributes (`traceparent`, …); every record's as a message ([`EventCarrier::messages`]) | `pubsub` + messaging data |
//! | `SnsEvent` (feature `event-sources`) | the first record's `String` message attributes (`traceparent`, …); every record's as a message | `pubsub` + messaging data (`aws.sns`, the topic) |
//! | `EventBridgeEvent` (feature `event-sources`) | `detail._trace` (the `payload` convention) | `pubsub` + messaging data (`aws.eventbridge`), source, detail type; `timer` for scheduled events (`faas.time`) |
//! | `KinesisEvent` (feature `event-sources`) | the first record's data's `_trace` (`payload`); every record's as a message | `pubsub` + messaging data (`aws.kinesis`, the stream) |
//! | `dynamodb::Event` (feature `event-sources`) | none of its own; every record's `NewImage._trace` as a message (`payload`) | `datasource` (`faas.document.*`, the table) + messaging data (`aws.dynamodb_streams`) |
//! | `S3Event` (feature `event-sources`) | none (S3 passes its header with the invocation) | `datasource` (`faas.document.*`: bucket, key, operation, time) |
//! | [`serde_json::Value`] | `multiValueHeaders`, else `headers` (any case); SQS shape: as [`SqsEvent`]; with feature `event-sources`, the shapes of the rows above as their typed carriers read them (Kinesis: request data only) | `http` if it has `httpMethod` or `requestContext.http.method`, else from its shape (`pubsub`, `datasource`, `timer`, `other`) |
//! | `HashMap<String, String>` | its entries (any case) | `other` |
//! | your own type | what your [`EventCarrier`] implementation says, once registered on the layer ([`TraceLayerBuilder::carrier`](crate::layer::TraceLayerBuilder::carrier)) | yours |
//! | anything else | none: a new trace (or Lambda's), still traced | `other` |
//!
//! The layer finds the carrier by the event's type: a type registered on the layer first (a
//! [`TypeId`] lookup in a short list, skipped when it is empty), then the built-in types
//! ([`from_event`]; resolved when compiling, so only the event's own carrier is in the binary).
//!
//! # Your own event types
//!
//! Implement [`Extractor`] (headers) and [`EventCarrier`] (request data) for your event, or for
//! a part of it, and register it with
//! [`TraceLayerBuilder::carrier`](crate::layer::TraceLayerBuilder::carrier) (the type is the
//! carrier) or [`carrier_with`](crate::layer::TraceLayerBuilder::carrier_with) (a part of it is,
//! e.g. a `headers` map). What it returns gets the caps of the built-in carriers: header values
//! are length-checked by the propagators, and [`RequestInfo`] is capped (lengths below, query
//! strings and fragments cut from the URL, a client IP kept only when it is an IP address)
//! whoever made it.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//! use lambda_trace::carrier::{EventCarrier, RequestInfo, Trigger};
//! use lambda_trace::propagation::Extractor;
//! use lambda_trace::TraceLayer;
//! use serde::Deserialize;
//! use tower::Layer;
//!
//! /// A Step Functions task's input: the state machine passes the caller's headers along.
//! #[derive(Deserialize)]
//! struct Task {
//!     order_id: String,
//!     #[serde(default)]
//!     headers: HashMap<String, String>,
//! }
//!
//! impl Extractor for Task {
//!     fn get(&self, name: &str) -> Option<&str> {
//!         // The map's own carrier: names in any case.
//!         Extractor::get(&self.headers, name)
//!     }
//!
//!     fn keys(&self) -> Vec<&str> {
//!         self.headers.keys().map(String::as_str).collect()
//!     }
//! }
//!
//! impl EventCarrier for Task {
//!     fn request_info(&self) -> RequestInfo {
//!         RequestInfo::new(Trigger::Other)
//!     }
//! }
//!
//! async fn handler(event: LambdaEvent<Task>) -> Result<String, Error> {
//!     lambda_trace::current().annotate("orderId", event.payload.order_id.clone());
//!     Ok(event.payload.order_id)
//! }
//!
//! let service = TraceLayer::builder()
//!     .carrier::<Task>()
//!     .build()
//!     .layer(service_fn(handler));
//! // `lambda_runtime::run(service).await` in `main`.
//! # let _ = service;
//! ```
//!
//! (A `HashMap<String, String>` is a carrier already, with names in any case: `.carrier_with::<Task>(|t| &t.headers)`
//! registers the same without the two `impl`s.)
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
#[cfg(feature = "event-sources")]
mod arn;
mod custom;
#[cfg(feature = "event-sources")]
pub(crate) mod dynamodb;
#[cfg(feature = "event-sources")]
pub(crate) mod eventbridge;
mod function_url;
mod json;
#[cfg(feature = "event-sources")]
mod json_sources;
#[cfg(feature = "event-sources")]
pub(crate) mod kinesis;
#[cfg(feature = "event-sources")]
#[cfg_attr(docsrs, doc(cfg(feature = "event-sources")))]
pub mod payload;
mod request;
#[cfg(feature = "event-sources")]
mod s3;
#[cfg(feature = "event-sources")]
pub(crate) mod sns;
pub(crate) mod sqs;

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use aws_lambda_events::alb::AlbTargetGroupRequest;
use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use aws_lambda_events::sqs::SqsEvent;
#[cfg(feature = "event-sources")]
use aws_lambda_events::{
    dynamodb::Event as DynamoDbEvent, eventbridge::EventBridgeEvent, kinesis::KinesisEvent,
    s3::S3Event, sns::SnsEvent,
};

pub(crate) use custom::{CustomCarriers, itself};

use crate::propagation::Extractor;
use crate::span::HttpRequestInfo;

/// What kind of source invoked the function (`faas.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Trigger {
    /// API Gateway, ALB, Function URL.
    Http,
    /// SQS, SNS, EventBridge, Kinesis.
    PubSub,
    /// S3, DynamoDB streams.
    Datasource,
    /// Scheduled events (EventBridge rules and Scheduler).
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
///
/// Built-in carriers fill it from the event; your own carrier builds it with [`RequestInfo::new`]
/// and the `with_` methods:
///
/// ```
/// use lambda_trace::carrier::{MessagingInfo, RequestInfo, Trigger};
/// use lambda_trace::span::HttpRequestInfo;
///
/// let http = RequestInfo::new(Trigger::Http).with_http(HttpRequestInfo::new("GET", "/orders"));
/// assert_eq!(http.http.unwrap().method.as_deref(), Some("GET"));
/// let batch = RequestInfo::new(Trigger::PubSub)
///     .with_messaging(MessagingInfo::new("kafka", 12).with_destination("orders"));
/// assert_eq!(batch.messaging.unwrap().message_count, 12);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestInfo {
    /// The trigger kind.
    pub trigger: Trigger,
    /// HTTP request data, for HTTP triggers.
    pub http: Option<HttpRequestInfo>,
    /// Messaging data, for events that deliver messages (an SQS batch).
    pub messaging: Option<MessagingInfo>,
    /// Further string attributes of the invocation span, by the trigger's conventions:
    /// `faas.document.*` for a data source (S3, DynamoDB Streams), `faas.time` for a timer,
    /// `messaging.message.id` for a single message, `aws.eventbridge.*`. Recorded in order, at
    /// most 16, each value cut to 1,024 characters (empty ones dropped); a key the layer
    /// records itself (`faas.trigger`, …) is replaced by the layer's.
    pub attributes: Vec<(Cow<'static, str>, String)>,
}

impl RequestInfo {
    /// Request data with `trigger` and nothing else.
    pub fn new(trigger: Trigger) -> Self {
        Self {
            trigger,
            ..Self::default()
        }
    }

    /// Sets the HTTP request data.
    pub fn with_http(mut self, http: HttpRequestInfo) -> Self {
        self.http = Some(http);
        self
    }

    /// Sets the messaging data.
    pub fn with_messaging(mut self, messaging: MessagingInfo) -> Self {
        self.messaging = Some(messaging);
        self
    }

    /// Adds a string attribute of the invocation span ([`RequestInfo::attributes`]).
    ///
    /// ```
    /// use lambda_trace::carrier::{RequestInfo, Trigger};
    ///
    /// let info = RequestInfo::new(Trigger::Datasource)
    ///     .with_attribute("faas.document.collection", "invoices");
    /// assert_eq!(info.attributes[0].1, "invoices");
    /// ```
    pub fn with_attribute(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> Self {
        self.attributes.push((key.into(), value.into()));
        self
    }
}

/// What the invocation span records about a batch of messages (OpenTelemetry's messaging
/// conventions): `messaging.system`, `messaging.destination.name`,
/// `messaging.batch.message_count`, and `messaging.operation.type = process`.
///
/// ```
/// use lambda_trace::carrier::MessagingInfo;
///
/// let info = MessagingInfo::new("aws_sqs", 3).with_destination("orders");
/// assert_eq!((info.system.as_ref(), info.destination.as_deref()), ("aws_sqs", Some("orders")));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessagingInfo {
    /// `messaging.system`: `aws_sqs`, `aws_sns`, `kafka`, … (at most 64 characters recorded).
    pub system: Cow<'static, str>,
    /// `messaging.destination.name`: the queue or topic (at most 256 characters recorded).
    pub destination: Option<String>,
    /// `messaging.batch.message_count`: how many messages the event delivers.
    pub message_count: usize,
}

impl MessagingInfo {
    /// `message_count` messages of `system`, destination unknown.
    pub fn new(system: impl Into<Cow<'static, str>>, message_count: usize) -> Self {
        Self {
            system: system.into(),
            destination: None,
            message_count,
        }
    }

    /// Sets the destination (queue, topic) name.
    pub fn with_destination(mut self, name: impl Into<String>) -> Self {
        self.destination = Some(name.into());
        self
    }
}

/// An event that carries trace headers: an [`Extractor`] over its headers, plus request data.
///
/// The built-in event types implement it, and so can yours (see [the module docs](self) for an
/// example and how the layer picks it up). Implementations read only what the event holds and
/// never panic; the layer caps what they return (header lengths through the propagators,
/// [`RequestInfo`] text lengths), so they need not.
pub trait EventCarrier: Extractor {
    /// Trigger, HTTP and messaging data of this event.
    fn request_info(&self) -> RequestInfo;

    /// The request's query string as the event gives it, without the `?`: **raw, not
    /// redacted**. The layer reads it only when query capture is on, and records it through
    /// [`redact_query`](crate::redact::redact_query). `None` (the default) when there is none.
    fn raw_query(&self) -> Option<Cow<'_, str>> {
        None
    }

    /// Calls `visit` with the headers of each message this event delivers (the records of a
    /// batch), in order. The layer extracts each one's context with its propagators and links
    /// the invocation span to every distinct one, up to the span's link limit (the rest are
    /// counted). The default: no messages.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use lambda_trace::carrier::{EventCarrier, RequestInfo, Trigger};
    /// use lambda_trace::propagation::Extractor;
    ///
    /// /// A batch of jobs, each with the headers of the request that queued it.
    /// struct Jobs(Vec<HashMap<String, String>>);
    ///
    /// impl Extractor for Jobs {
    ///     fn get(&self, _name: &str) -> Option<&str> { None }
    ///     fn keys(&self) -> Vec<&str> { Vec::new() }
    /// }
    ///
    /// impl EventCarrier for Jobs {
    ///     fn request_info(&self) -> RequestInfo { RequestInfo::new(Trigger::PubSub) }
    ///     fn messages(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
    ///         for job in &self.0 {
    ///             visit(job);
    ///         }
    ///     }
    /// }
    ///
    /// let jobs = Jobs(vec![HashMap::new(), HashMap::new()]);
    /// let mut n = 0;
    /// jobs.messages(&mut |_| n += 1);
    /// assert_eq!(n, 2);
    /// ```
    fn messages(&self, visit: &mut dyn FnMut(&dyn Extractor)) {
        let _ = visit;
    }
}

/// A map of headers (names in any case) is a carrier of its own: trigger `other`, no request
/// data. Register a part of your event that is one with
/// [`TraceLayerBuilder::carrier_with`](crate::layer::TraceLayerBuilder::carrier_with).
impl<S: std::hash::BuildHasher> EventCarrier for HashMap<String, String, S> {
    fn request_info(&self) -> RequestInfo {
        RequestInfo::default()
    }
}

/// Longest `messaging.system` recorded, in characters.
const MAX_SYSTEM_CHARS: usize = 64;
/// Longest `messaging.destination.name` recorded, in characters.
const MAX_DESTINATION_CHARS: usize = 256;
/// Longest value of a [`RequestInfo::attributes`] entry recorded, in characters.
pub(crate) const MAX_ATTRIBUTE_CHARS: usize = 1024;
/// Longest key of a [`RequestInfo::attributes`] entry recorded, in characters.
const MAX_ATTRIBUTE_KEY_CHARS: usize = 128;
/// Most [`RequestInfo::attributes`] entries recorded.
const MAX_ATTRIBUTES: usize = 16;

/// `carrier`'s request data, capped as the built-in carriers cap theirs (whoever implemented
/// the carrier); with `capture_query`, the URL gets the event's query string, redacted
/// ([`crate::redact`]) and capped with the path at 2,048 characters.
pub(crate) fn request_info(carrier: &dyn EventCarrier, capture_query: bool) -> RequestInfo {
    let mut info = carrier.request_info();
    if let Some(http) = &mut info.http {
        request::cap_info(http);
    }
    if let Some(m) = &mut info.messaging {
        if m.system.len() > MAX_SYSTEM_CHARS {
            m.system = Cow::Owned(request::capped(&m.system, MAX_SYSTEM_CHARS).unwrap_or_default());
        }
        if let Some(d) = &mut m.destination
            && d.len() > MAX_DESTINATION_CHARS
        {
            *d = request::capped(d, MAX_DESTINATION_CHARS).unwrap_or_default();
        }
    }
    if info.attributes.len() > MAX_ATTRIBUTES {
        info.attributes.truncate(MAX_ATTRIBUTES);
    }
    info.attributes.retain_mut(|(key, value)| {
        if key.len() > MAX_ATTRIBUTE_KEY_CHARS {
            *key = Cow::Owned(request::capped(key, MAX_ATTRIBUTE_KEY_CHARS).unwrap_or_default());
        }
        if value.len() > MAX_ATTRIBUTE_CHARS || value.trim().len() != value.len() {
            *value = request::capped(value, MAX_ATTRIBUTE_CHARS).unwrap_or_default();
        }
        !key.is_empty() && !value.is_empty()
    });
    if capture_query
        && let Some(url) = info.http.as_mut().and_then(|h| h.url.as_mut())
        && let Some(query) = carrier.raw_query()
    {
        *url = crate::redact::url_with_query(url, &query, request::MAX_URL_CHARS);
    }
    info
}

/// Calls the macro `$apply` with the list of event types that have a carrier.
#[cfg(not(feature = "event-sources"))]
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

/// Calls the macro `$apply` with the list of event types that have a carrier (with the
/// sources of feature `event-sources`).
#[cfg(feature = "event-sources")]
macro_rules! carrier_types {
    ($apply:ident) => {
        $apply!(
            ApiGatewayProxyRequest,
            ApiGatewayV2httpRequest,
            AlbTargetGroupRequest,
            LambdaFunctionUrlRequest,
            SqsEvent,
            SnsEvent,
            EventBridgeEvent<serde_json::Value>,
            KinesisEvent,
            DynamoDbEvent,
            S3Event,
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
