//! The HTTP side of the OTLP exporter: one POST per invocation on a kept-alive connection
//! (plain HTTP or HTTPS; `connection.rs`), bounded by a deadline, retried once when the backend
//! asks for it and the deadline leaves room.

use std::error::Error as _;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use rustls::ClientConfig;

use super::connection::{Pool, Sender};
use crate::error::ExportError;
use crate::export::ExportFuture;
use crate::log_safe::log_safe;

/// Most bytes of a response body read (a partial-success message or an error text).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// The wait before the one retry when the backend did not say (`Retry-After`).
const RETRY_BACKOFF: Duration = Duration::from_millis(50);
/// A retry is started only if at least this much time is left after its wait.
const MIN_RETRY_TIME: Duration = Duration::from_millis(20);

/// Signs a request just before it is sent (each attempt anew: the signature covers the time).
pub(super) type Sign =
    Arc<dyn Fn(&mut Request<Full<Bytes>>, &[u8]) -> Result<(), ExportError> + Send + Sync>;

/// An HTTP/1.1 client bound to one endpoint, with the configured extra headers.
#[derive(Clone)]
pub(super) struct HttpClient {
    pool: Arc<Pool>,
    endpoint: Uri,
    headers: HeaderMap,
    sign: Option<Sign>,
}

impl HttpClient {
    /// A client for `endpoint` (already validated: `http` or `https`, with an authority),
    /// trusting what `tls` trusts. No connection is opened here; the first export connects, and
    /// later ones reuse its connection.
    pub(super) fn new(
        endpoint: Uri,
        tls: ClientConfig,
        content_type: &'static str,
    ) -> io::Result<Self> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("lambda-trace/", env!("CARGO_PKG_VERSION"))),
        );
        Ok(Self {
            pool: Arc::new(Pool::new(&endpoint, Arc::new(tls))?),
            endpoint,
            headers,
            sign: None,
        })
    }

    /// The same client with another TLS configuration (new trusted certificates); no
    /// connection is kept.
    pub(super) fn set_tls(&mut self, tls: ClientConfig) -> io::Result<()> {
        self.pool = Arc::new(Pool::new(&self.endpoint, Arc::new(tls))?);
        Ok(())
    }

    #[cfg(feature = "xray-otlp")]
    pub(super) fn set_sign(&mut self, sign: Sign) {
        self.sign = Some(sign);
    }

    pub(super) fn is_signed(&self) -> bool {
        self.sign.is_some()
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

    /// POSTs `body` (an encoded request of `spans` spans, `extra` headers such as
    /// `content-encoding`); resolves when the answer is read, or with `Timeout` after `timeout`.
    /// A retry is started only when it fits before `deadline` (the layer's flush deadline, which
    /// the layer enforces itself).
    pub(super) fn post(
        &self,
        body: Bytes,
        extra: Option<(http::HeaderName, HeaderValue)>,
        spans: usize,
        timeout: Duration,
        deadline: Option<Instant>,
    ) -> ExportFuture {
        let this = self.clone();
        Box::pin(async move {
            let own = Instant::now().checked_add(timeout);
            let retry_by = match (own, deadline) {
                (Some(own), Some(deadline)) => own.min(deadline),
                (own, deadline) => own.or(deadline).unwrap_or_else(Instant::now),
            };
            let attempt = this.send_with_retry(body, extra, spans, retry_by);
            match tokio::time::timeout(timeout, attempt).await {
                Ok(result) => result,
                Err(_) => Err(ExportError::Timeout(timeout)),
            }
        })
    }

    async fn send_with_retry(
        &self,
        body: Bytes,
        extra: Option<(http::HeaderName, HeaderValue)>,
        spans: usize,
        deadline: Instant,
    ) -> Result<(), ExportError> {
        match self.send(body.clone(), extra.clone(), spans).await {
            Err(Failure::Retryable { error, wait }) => {
                let wait = wait.unwrap_or(RETRY_BACKOFF);
                let fits = Instant::now()
                    .checked_add(wait + MIN_RETRY_TIME)
                    .is_some_and(|t| t <= deadline);
                if !fits {
                    return Err(error);
                }
                tokio::time::sleep(wait).await;
                self.send(body, extra, spans)
                    .await
                    .map_err(Failure::into_error)
            }
            other => other.map_err(Failure::into_error),
        }
    }

    async fn send(
        &self,
        body: Bytes,
        extra: Option<(http::HeaderName, HeaderValue)>,
        spans: usize,
    ) -> Result<(), Failure> {
        let request = || self.request(body.clone(), extra.clone());
        let (mut sender, reused) = match self.pool.checkout() {
            Some(sender) => (sender, true),
            None => (self.pool.connect().await?, false),
        };
        let response = match send_on(&mut sender, request()?).await {
            // A kept connection the server had closed (while the sandbox was frozen): the
            // request never reached it; once more on a new connection.
            Err(e) if reused && is_stale(&e) => {
                sender = self.pool.connect().await?;
                send_on(&mut sender, request()?).await
            }
            other => other,
        }
        .map_err(transport_error)?;
        let status = response.status();
        let wait = retry_after(response.headers());
        // Read the whole (bounded) body: the connection is then free for the next request.
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes());
        if body.is_ok() {
            self.pool.checkin(sender);
        }
        if status.is_success() {
            // The spans were accepted; an unreadable body cannot say otherwise.
            return body.map_or(Ok(()), |b| {
                partial_success(&b, spans).map_err(Failure::from)
            });
        }
        let error = ExportError::Other(http_failure(status, body.ok().as_deref()));
        Err(match status.as_u16() {
            429 | 502 | 503 | 504 => Failure::Retryable { error, wait },
            _ => Failure::Final(error),
        })
    }

    /// The request: endpoint, headers, `extra`, body; signed when the client signs.
    fn request(
        &self,
        body: Bytes,
        extra: Option<(http::HeaderName, HeaderValue)>,
    ) -> Result<Request<Full<Bytes>>, ExportError> {
        let mut request = Request::post(self.endpoint.clone())
            .body(Full::new(body.clone()))
            .map_err(|e| ExportError::Other(format!("building the OTLP request: {e}")))?;
        *request.headers_mut() = self.headers.clone();
        if let Some((name, value)) = extra {
            request.headers_mut().insert(name, value);
        }
        if let Some(sign) = &self.sign {
            sign(&mut request, &body)?;
        }
        Ok(request)
    }
}

/// Sends `request` once `sender`'s connection is ready for it.
async fn send_on(
    sender: &mut Sender,
    request: Request<Full<Bytes>>,
) -> Result<http::Response<Incoming>, hyper::Error> {
    sender.ready().await?;
    sender.send_request(request).await
}

/// Whether `e` says the connection was gone before the request was answered: closed, the
/// request canceled before it was sent, or the connection closed with no answer at all.
fn is_stale(e: &hyper::Error) -> bool {
    e.is_closed() || e.is_canceled() || e.is_incomplete_message()
}

/// Why one attempt failed, and whether the backend invites another.
enum Failure {
    Final(ExportError),
    /// 429, 502, 503, 504: worth one more attempt after `wait` (`Retry-After`, when sent).
    Retryable {
        error: ExportError,
        wait: Option<Duration>,
    },
}

impl Failure {
    fn into_error(self) -> ExportError {
        match self {
            Failure::Final(e) | Failure::Retryable { error: e, .. } => e,
        }
    }
}

impl From<ExportError> for Failure {
    fn from(e: ExportError) -> Self {
        Failure::Final(e)
    }
}

/// `Retry-After` in delay-seconds (an HTTP date is not honoured: the flush budget is
/// milliseconds, and a date-based delay is at least a second away).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value.parse::<u64>().ok().map(Duration::from_secs)
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

/// A connection-level failure, with its causes spelled out; an `Io` error when an I/O error is
/// among the causes.
fn transport_error(e: hyper::Error) -> Failure {
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
    Failure::Final(match kind {
        Some(kind) => ExportError::Io(io::Error::new(kind, message)),
        None => ExportError::Other(message),
    })
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
    fn retry_after_in_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static(" 2 "));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&headers), None);
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
