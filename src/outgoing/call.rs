//! [`OutgoingCall`]: one outgoing HTTP call, recorded as a `remote` client subsegment.

use std::error::Error;
use std::fmt::Write as _;

use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderMap, Request, Response, StatusCode};

use crate::span::{ExceptionRecord, HttpRequestInfo, Outcome, RemoteNamespace, Span, SpanKind};

/// The span name when the request names no host (a relative URI and no `Host` header).
const NO_HOST: &str = "remote";

/// Longest URL recorded when it carries a (redacted) query string, in characters.
const MAX_URL_CHARS: usize = 2048;

/// An outgoing call in flight: a `remote` client subsegment of the current span.
///
/// [`start`](Self::start) opens the span, records the method and the URL, and injects the trace
/// headers into the request; [`finish`](Self::finish), [`finish_status`](Self::finish_status) or
/// [`fail`](Self::fail) record how the call ended and end the span. Dropping an unfinished call
/// ends the span as *cancelled* (metadata `lambda_trace.cancelled: true`): a timeout or a
/// `select!` dropped the request future.
///
/// The span is named after the URL's host, as the X-Ray SDKs name remote nodes in the service
/// map; [`named`](Self::named) picks another name. The URL is recorded without user info, and
/// without its query string (it may hold tokens) unless query capture is on
/// (`LAMBDA_TRACE_CAPTURE_QUERY`), which records it with sensitive values redacted
/// ([`crate::redact`]): a presigned URL's `X-Amz-*` parameters never appear.
///
/// ```
/// use lambda_trace::outgoing::OutgoingCall;
///
/// # async fn send(request: http::Request<String>) -> Result<http::Response<()>, std::io::Error> { Ok(http::Response::new(())) }
/// # async fn example() {
/// let mut request = http::Request::post("https://api.example.com/orders?token=secret")
///     .body(String::from("{}"))
///     .unwrap();
/// let call = OutgoingCall::start(&mut request); // child of `lambda_trace::current()`
/// match send(request).await {
///     Ok(response) => call.finish(&response), // 4xx → error, 429 → throttle, 5xx → fault
///     Err(e) => call.fail(&e),                // fault, with the error as the (remote) cause
/// }
/// # }
/// ```
#[derive(Debug)]
#[must_use = "dropping an `OutgoingCall` ends its span as cancelled"]
pub struct OutgoingCall {
    span: Span,
}

impl OutgoingCall {
    /// Opens the subsegment as a child of [`current()`](crate::current) (name = the URL's host),
    /// records method + URL (query string removed) and injects the trace headers, in every
    /// configured format, into `request`'s headers.
    pub fn start<B>(request: &mut Request<B>) -> Self {
        Self::start_in(&crate::current(), request)
    }

    /// Like [`start`](Self::start), as a child of `parent` (e.g. in a spawned task, where
    /// [`current()`](crate::current) is not set).
    pub fn start_in<B>(parent: &Span, request: &mut Request<B>) -> Self {
        Self::open_request(parent, None, request)
    }

    /// Like [`start`](Self::start), with the span named `name` instead of the host (the host is
    /// still in the recorded URL).
    pub fn named<B>(name: &str, request: &mut Request<B>) -> Self {
        Self::named_in(&crate::current(), name, request)
    }

    /// Like [`named`](Self::named), as a child of `parent`.
    pub fn named_in<B>(parent: &Span, name: &str, request: &mut Request<B>) -> Self {
        Self::open_request(parent, Some(name), request)
    }

    fn open_request<B>(parent: &Span, name: Option<&str>, request: &mut Request<B>) -> Self {
        let uri = request.uri();
        let target = Target {
            scheme: uri.scheme_str(),
            // A relative URI (HTTP/1 origin form): the host is in the `Host` header (never
            // with user info, even if the header holds some).
            host: uri.host().or_else(|| {
                let host = request.headers().get(HOST)?.to_str().ok()?;
                Some(host.rsplit('@').next().unwrap_or(host))
            }),
            port: uri.port_u16(),
            path: uri.path(),
            query: uri.query(),
        };
        let call = Self::open(parent, name, request.method().as_str(), &target);
        call.inject(request.headers_mut());
        call
    }

    /// Opens the span and records the request; the caller injects the headers.
    pub(super) fn open(
        parent: &Span,
        name: Option<&str>,
        method: &str,
        target: &Target<'_>,
    ) -> Self {
        if parent.span_id().is_none() {
            // Outside an invocation: nothing to record, nothing to propagate.
            return Self { span: Span::noop() };
        }
        let name = name.or(target.host).unwrap_or(NO_HOST);
        let span = parent.child_of_kind(name.to_owned(), SpanKind::Client);
        if span.is_recording() {
            span.set_namespace(RemoteNamespace::Remote);
            let url = match target.query {
                Some(query) if span.captures_query() => {
                    crate::redact::url_with_query(&target.url(), query, MAX_URL_CHARS)
                }
                _ => target.url(),
            };
            span.set_http_request(HttpRequestInfo::new(method, url));
        }
        Self { span }
    }

    /// Injects this call's context into `headers` (done by the constructors for an
    /// `http::Request`; the reqwest middleware calls it on its own request type).
    pub(super) fn inject(&self, headers: &mut HeaderMap) {
        self.span.inject(headers);
    }

    /// Records the response's status (and its `Content-Length` header) and ends the span:
    /// 4xx → `error`, 429 → `error` + `throttle`, 5xx → `fault`.
    pub fn finish<B>(self, response: &Response<B>) {
        self.finish_parts(response.status(), response.headers());
    }

    /// Records `status` and ends the span, for clients whose response is not an
    /// `http::Response`.
    pub fn finish_status(self, status: StatusCode) {
        self.span.set_http_status(status.as_u16());
        self.span.end();
    }

    pub(super) fn finish_parts(self, status: StatusCode, headers: &HeaderMap) {
        if let Some(length) = headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.trim().parse().ok())
        {
            self.span.set_http_content_length(length);
        }
        self.finish_status(status);
    }

    /// Records that the call got no response (connection refused, timeout, TLS failure …): the
    /// span is a `fault` whose cause is `error` and its sources, marked `remote`.
    pub fn fail(self, error: &(dyn Error + 'static)) {
        if self.span.is_recording() {
            self.span.record_exceptions(
                ExceptionRecord::chain(error, true),
                Outcome {
                    fault: true,
                    ..Outcome::default()
                },
            );
        }
        self.span.end();
    }

    /// The call's span: add annotations or metadata to it, or open children.
    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl Drop for OutgoingCall {
    fn drop(&mut self) {
        // Still open: neither finished nor failed, so the request future was dropped.
        if self.span.is_recording() {
            self.span.metadata_in("lambda_trace", "cancelled", true);
            self.span.end();
        }
    }
}

/// The parts of a request's URL that are recorded.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target<'a> {
    pub(super) scheme: Option<&'a str>,
    pub(super) host: Option<&'a str>,
    pub(super) port: Option<u16>,
    pub(super) path: &'a str,
    /// The query string (without `?`): recorded, redacted, only when query capture is on.
    pub(super) query: Option<&'a str>,
}

impl Target<'_> {
    /// `scheme://host[:port]/path`: no user info, no query string, no fragment. Just the path
    /// when there is no host.
    pub(super) fn url(&self) -> String {
        let Some(host) = self.host else {
            return self.path.to_string();
        };
        let scheme = self.scheme.unwrap_or("http");
        let mut url = String::with_capacity(scheme.len() + 3 + host.len() + 6 + self.path.len());
        url.push_str(scheme);
        url.push_str("://");
        url.push_str(host);
        if let Some(port) = self.port {
            let _ = write!(url, ":{port}");
        }
        url.push_str(if self.path.is_empty() { "/" } else { self.path });
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(uri: &str) -> String {
        let uri: http::Uri = uri.parse().unwrap();
        Target {
            scheme: uri.scheme_str(),
            host: uri.host(),
            port: uri.port_u16(),
            path: uri.path(),
            query: uri.query(),
        }
        .url()
    }

    #[rustfmt::skip]
    #[test]
    fn urls_lose_query_and_user_info() {
        for (uri, expected) in [
            ("https://api.example.com/orders?token=secret", "https://api.example.com/orders"),
            ("http://user:pw@10.0.0.1:8080/a/b?x=1#frag", "http://10.0.0.1:8080/a/b"),
            ("https://example.com", "https://example.com/"),
            ("http://[::1]:9000/v1", "http://[::1]:9000/v1"),
            ("/relative?q=1", "/relative"),
        ] {
            assert_eq!(url(uri), expected, "{uri}");
        }
    }

    #[test]
    fn outside_an_invocation_nothing_is_injected() {
        let mut request = Request::get("http://example.com/").body(()).unwrap();
        let call = OutgoingCall::start(&mut request);
        assert!(request.headers().is_empty());
        assert!(call.span().span_id().is_none());
        call.finish_status(StatusCode::OK);
    }
}
