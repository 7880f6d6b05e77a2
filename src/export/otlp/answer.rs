//! The backend's answer to one OTLP request: read it, judge it (accepted, partly rejected,
//! worth one retry, failed), and keep a request whose answer is read later
//! ([`InFlight`], the deferred answers of the after-response mode).

use std::error::Error as _;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;

use crate::error::ExportError;
use crate::log_safe::log_safe;

/// Most bytes of a response body read (a partial-success message or an error text).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// What a request got back: the status, `Retry-After`, and the (bounded) body, read whole so
/// that the connection is free for the next request.
pub(super) struct Answer {
    status: StatusCode,
    wait: Option<Duration>,
    /// `None` when it could not be read whole (the connection is then not reused).
    body: Option<Bytes>,
}

impl Answer {
    /// Whether the connection is free for another request.
    pub(super) fn body_read(&self) -> bool {
        self.body.is_some()
    }

    /// The verdict on a request of `spans` spans.
    pub(super) fn verdict(self, spans: usize) -> Result<(), Failure> {
        if self.status.is_success() {
            // The spans were accepted; an unreadable body cannot say otherwise.
            return self.body.map_or(Ok(()), |b| {
                partial_success(&b, spans).map_err(Failure::from)
            });
        }
        let error = ExportError::Other(http_failure(self.status, self.body.as_deref()));
        Err(match self.status.as_u16() {
            429 | 502 | 503 | 504 => Failure::Retryable {
                error,
                wait: self.wait,
            },
            _ => Failure::Final(error),
        })
    }
}

/// The answer to a request, once its response (from `send_request`) arrives.
pub(super) type AnswerFuture = Pin<Box<dyn Future<Output = Result<Answer, hyper::Error>> + Send>>;

/// Reads the answer from `response`: status, `Retry-After`, the body up to
/// [`MAX_RESPONSE_BYTES`].
pub(super) fn read_answer<F>(response: F) -> AnswerFuture
where
    F: Future<Output = Result<Response<Incoming>, hyper::Error>> + Send + 'static,
{
    Box::pin(async move {
        let response = response.await?;
        let status = response.status();
        let wait = retry_after(response.headers());
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .ok()
            .map(|b| b.to_bytes());
        Ok(Answer { status, wait, body })
    })
}

/// One request's content, kept to send it again.
#[derive(Clone)]
pub(super) struct Payload {
    pub(super) body: Bytes,
    pub(super) extra: Option<(HeaderName, HeaderValue)>,
    pub(super) spans: usize,
}

/// A request written out whose answer is read at the next export.
pub(super) struct InFlight {
    pub(super) answer: AnswerFuture,
    pub(super) payload: Payload,
}

/// Why one attempt failed, and whether the backend invites another.
pub(super) enum Failure {
    Final(ExportError),
    /// 429, 502, 503, 504: worth one more attempt after `wait` (`Retry-After`, when sent).
    Retryable {
        error: ExportError,
        wait: Option<Duration>,
    },
}

impl Failure {
    pub(super) fn into_error(self) -> ExportError {
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

/// Whether `e` says the connection was gone before the request was answered: closed, the
/// request canceled before it was sent, or the connection closed with no answer at all.
pub(super) fn is_stale(e: &hyper::Error) -> bool {
    e.is_closed() || e.is_canceled() || e.is_incomplete_message()
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
pub(super) fn transport_error(e: hyper::Error) -> Failure {
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
