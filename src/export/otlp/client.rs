//! The HTTP side of the OTLP exporter: one POST per invocation on a pooled keep-alive client.

use std::error::Error as _;
use std::io;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use crate::error::ExportError;
use crate::export::ExportFuture;
use crate::log_safe::log_safe;

/// Most bytes of a response body read (a partial-success message or an error text).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Idle pooled connections older than this are not reused (a frozen sandbox may thaw long
/// after the collector closed them).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// A keep-alive HTTP/1.1 client bound to one endpoint, with the configured extra headers.
#[derive(Clone)]
pub(super) struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: Uri,
    headers: HeaderMap,
}

impl HttpClient {
    /// A client for `endpoint` (already validated: `http`, with an authority). No connection is
    /// opened here; the first export connects, and later ones reuse the pooled connection.
    pub(super) fn new(endpoint: Uri) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_timer(TokioTimer::new())
            .pool_max_idle_per_host(4)
            .build(connector);
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        );
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("lambda-trace/", env!("CARGO_PKG_VERSION"))),
        );
        Self {
            client,
            endpoint,
            headers,
        }
    }

    pub(super) fn endpoint(&self) -> &Uri {
        &self.endpoint
    }

    pub(super) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub(super) fn headers_mut(&mut self) -> &mut HeaderMap {
        &mut self.headers
    }

    /// POSTs `body` (an encoded request of `spans` spans); resolves when the answer is read.
    pub(super) fn post(&self, body: Vec<u8>, spans: usize) -> ExportFuture {
        let this = self.clone();
        Box::pin(async move { this.send(body, spans).await })
    }

    async fn send(self, body: Vec<u8>, spans: usize) -> Result<(), ExportError> {
        let mut request = Request::post(self.endpoint)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ExportError::Other(format!("building the OTLP request: {e}")))?;
        *request.headers_mut() = self.headers;
        let response = self
            .client
            .request(request)
            .await
            .map_err(transport_error)?;
        let status = response.status();
        // Read the whole (bounded) body: that also hands the connection back to the pool.
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes());
        if status.is_success() {
            // The spans were accepted; an unreadable body cannot say otherwise.
            return body.map_or(Ok(()), |b| partial_success(&b, spans));
        }
        Err(ExportError::Other(http_failure(
            status,
            body.ok().as_deref(),
        )))
    }
}

/// `Rejected` when a 2xx answer's `partial_success` names rejected spans.
fn partial_success(body: &[u8], spans: usize) -> Result<(), ExportError> {
    // Not protobuf (an empty body, a proxy's text): nothing rejected that we can tell.
    let Ok(response) = ExportTraceServiceResponse::decode(body) else {
        return Ok(());
    };
    match response.partial_success {
        Some(p) if p.rejected_spans > 0 => Err(ExportError::Rejected {
            rejected: usize::try_from(p.rejected_spans).unwrap_or(usize::MAX),
            total: spans,
            message: log_safe(&p.error_message).into_owned(),
        }),
        _ => Ok(()),
    }
}

/// `HTTP 500 Internal Server Error`, plus the body when it is short text.
fn http_failure(status: StatusCode, body: Option<&[u8]>) -> String {
    let mut message = format!("HTTP {status}");
    if let Some(text) = body
        .and_then(|b| std::str::from_utf8(b).ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        message.push_str(": ");
        message.push_str(&log_safe(text));
    }
    message
}

/// A connection-level failure, with its causes spelled out (hyper's own message is only
/// "client error (Connect)"); an `Io` error when an I/O error is among the causes.
fn transport_error(e: hyper_util::client::legacy::Error) -> ExportError {
    let mut message = e.to_string();
    let mut kind = None;
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        if kind.is_none() {
            kind = cause.downcast_ref::<io::Error>().map(io::Error::kind);
        }
        source = cause.source();
    }
    match kind {
        Some(kind) => ExportError::Io(io::Error::new(kind, message)),
        None => ExportError::Other(message),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;

    use super::*;

    #[test]
    fn partial_success_with_rejections_is_reported() {
        let body = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: 2,
                error_message: "too old".into(),
            }),
        }
        .encode_to_vec();
        match partial_success(&body, 3) {
            Err(ExportError::Rejected {
                rejected: 2,
                total: 3,
                message,
            }) => assert_eq!(message, "too old"),
            other => panic!("{other:?}"),
        }
        assert!(partial_success(&[], 3).is_ok());
        assert!(partial_success(b"{}", 3).is_ok());
        let none = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess::default()),
        };
        assert!(partial_success(&none.encode_to_vec(), 3).is_ok());
    }

    #[test]
    fn http_failures_say_the_status() {
        assert_eq!(
            http_failure(StatusCode::INTERNAL_SERVER_ERROR, Some(b"")),
            "HTTP 500 Internal Server Error"
        );
        assert_eq!(
            http_failure(StatusCode::BAD_REQUEST, Some(b"bad\nspan")),
            "HTTP 400 Bad Request: bad\\nspan"
        );
        assert_eq!(
            http_failure(StatusCode::SERVICE_UNAVAILABLE, None),
            "HTTP 503 Service Unavailable"
        );
    }
}
