//! The HTTP side of the OTLP exporter: one POST per invocation on a kept-alive connection
//! (plain HTTP or HTTPS; `connection.rs`), bounded by a deadline, retried once when the backend
//! asks for it and the deadline leaves room.
//!
//! Answers are awaited (the export ends when the backend has answered), or **deferred**: the
//! export ends as soon as the request is written out and flushed to the socket, and the answer
//! is read at the start of the next export — a failure reported then, a request the backend
//! asked to retry (or that a closed connection lost unanswered) sent once more. The
//! after-response mode defers ([`SpanBatch::after_response`](crate::span::SpanBatch)): its
//! exports run on the billed time before `/next`, where a round trip to a far backend would be
//! billed in full.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, Uri};
use http_body_util::Full;
use rustls::ClientConfig;

use super::answer::{
    Answer, AnswerFuture, Failure, InFlight, Payload, is_stale, read_answer, transport_error,
};
use super::connection::{Connection, Pool, Progress};
use crate::error::ExportError;
use crate::export::ExportFuture;

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

/// How far a request got on a connection.
enum Sent {
    /// Written out; the answer is to be read later.
    Awaiting(AnswerFuture),
    Answered(Answer),
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
    /// `content-encoding`); resolves when the answer is read (or, `deferred`, when the request
    /// is written out; a request left in flight by an earlier export is settled first either
    /// way), or with `Timeout` after `timeout`. A retry is started only when it fits
    /// before `deadline` (the layer's flush deadline, which the layer enforces itself).
    pub(super) fn post(
        &self,
        deferred: bool,
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
            let payload = Payload { body, extra, spans };
            let attempt = async {
                let previous = this.settle_previous(retry_by).await.map_err(about_previous);
                let this_one = if deferred {
                    this.write(payload).await.map_err(Failure::into_error)
                } else {
                    this.send_with_retry(&payload, retry_by).await
                };
                previous.and(this_one)
            };
            match tokio::time::timeout(timeout, attempt).await {
                Ok(result) => result,
                Err(_) => Err(ExportError::Timeout(timeout)),
            }
        })
    }

    async fn send_with_retry(
        &self,
        payload: &Payload,
        deadline: Instant,
    ) -> Result<(), ExportError> {
        match self.send(payload).await {
            Err(Failure::Retryable { error, wait }) => {
                self.retry(payload, error, wait, deadline).await
            }
            other => other.map_err(Failure::into_error),
        }
    }

    /// The one retry of `payload`, after `wait` (else [`RETRY_BACKOFF`]) if that fits before
    /// `deadline`; `error` (the first attempt's) if it does not.
    async fn retry(
        &self,
        payload: &Payload,
        error: ExportError,
        wait: Option<Duration>,
        deadline: Instant,
    ) -> Result<(), ExportError> {
        let wait = wait.unwrap_or(RETRY_BACKOFF);
        let fits = Instant::now()
            .checked_add(wait + MIN_RETRY_TIME)
            .is_some_and(|t| t <= deadline);
        if !fits {
            return Err(error);
        }
        tokio::time::sleep(wait).await;
        self.send(payload).await.map_err(Failure::into_error)
    }

    /// One request, its answer awaited.
    async fn send(&self, payload: &Payload) -> Result<(), Failure> {
        let (mut connection, reused) = self.connection().await?;
        let answer = match answered(&mut connection, self.request(payload)?).await {
            // A kept connection the server had closed (while the sandbox was frozen): the
            // request never reached it; once more on a new connection.
            Err(e) if reused && is_stale(&e) => {
                connection = self.pool.connect().await?;
                answered(&mut connection, self.request(payload)?).await
            }
            other => other,
        }
        .map_err(transport_error)?;
        if answer.body_read() {
            self.pool.checkin(connection);
        }
        answer.verdict(payload.spans)
    }

    /// Reads the answer to the request a previous export left in flight, and acts on it: a
    /// retryable answer, or a connection closed with no answer, sends that request again (its
    /// answer awaited).
    async fn settle_previous(&self, deadline: Instant) -> Result<(), ExportError> {
        let Some((mut connection, reusable)) = self.pool.checkout() else {
            return Ok(());
        };
        let Some(InFlight { answer, payload }) = connection.in_flight.take() else {
            if reusable {
                self.pool.checkin(connection);
            }
            return Ok(());
        };
        let bound = deadline.saturating_duration_since(Instant::now()) / 2;
        let (_, drive) = connection.parts();
        let answer = match tokio::time::timeout(bound, drive.run(answer)).await {
            Ok(answer) => answer,
            Err(_) => {
                return Err(ExportError::Other(format!(
                    "no answer within {} ms; its connection is closed",
                    bound.as_millis()
                )));
            }
        };
        match answer {
            Ok(answer) => {
                if reusable && answer.body_read() {
                    self.pool.checkin(connection);
                }
                match answer.verdict(payload.spans) {
                    Err(Failure::Retryable { error, wait }) => {
                        self.retry(&payload, error, wait, deadline).await
                    }
                    other => other.map_err(Failure::into_error),
                }
            }
            Err(e) if is_stale(&e) => self.send(&payload).await.map_err(Failure::into_error),
            Err(e) => Err(transport_error(e).into_error()),
        }
    }

    /// Writes `payload`'s request out, leaving its answer in flight on the connection (or
    /// judging it, when it came at once).
    async fn write(&self, payload: Payload) -> Result<(), Failure> {
        let (mut connection, reused) = self.connection().await?;
        let len = payload.body.len() as u64;
        let sent = match written(&mut connection, self.request(&payload)?, len).await {
            Err(e) if reused && is_stale(&e) => {
                connection = self.pool.connect().await?;
                written(&mut connection, self.request(&payload)?, len).await
            }
            other => other,
        }
        .map_err(transport_error)?;
        match sent {
            Sent::Awaiting(answer) => {
                connection.in_flight = Some(InFlight { answer, payload });
                self.pool.checkin(connection);
                Ok(())
            }
            Sent::Answered(answer) => {
                if answer.body_read() {
                    self.pool.checkin(connection);
                }
                answer.verdict(payload.spans)
            }
        }
    }

    /// A kept connection that can take a request, else a new one; and whether it was kept.
    async fn connection(&self) -> Result<(Connection, bool), ExportError> {
        match self.pool.checkout() {
            Some((connection, true)) if connection.in_flight.is_none() => Ok((connection, true)),
            _ => Ok((self.pool.connect().await?, false)),
        }
    }

    /// The request: endpoint, headers, `extra`, body; signed when the client signs.
    fn request(&self, payload: &Payload) -> Result<Request<Full<Bytes>>, ExportError> {
        let mut request = Request::post(self.endpoint.clone())
            .body(Full::new(payload.body.clone()))
            .map_err(|e| ExportError::Other(format!("building the OTLP request: {e}")))?;
        *request.headers_mut() = self.headers.clone();
        if let Some((name, value)) = &payload.extra {
            request.headers_mut().insert(name.clone(), value.clone());
        }
        if let Some(sign) = &self.sign {
            sign(&mut request, &payload.body)?;
        }
        Ok(request)
    }
}

/// An error about the request a previous export left in flight, saying so.
fn about_previous(e: ExportError) -> ExportError {
    match e {
        ExportError::Io(io) => ExportError::Io(io::Error::new(
            io.kind(),
            format!("the previous export: {io}"),
        )),
        ExportError::Other(message) => {
            ExportError::Other(format!("the previous export: {message}"))
        }
        other => other,
    }
}

/// Sends `request` once the connection is ready for it and reads the answer.
async fn answered(
    connection: &mut Connection,
    request: Request<Full<Bytes>>,
) -> Result<Answer, hyper::Error> {
    let answer = put(connection, request).await?;
    let (_, drive) = connection.parts();
    drive.run(answer).await
}

/// Sends `request` (with a body of `len` bytes) once the connection is ready for it, until it
/// is written out (or answered at once).
async fn written(
    connection: &mut Connection,
    request: Request<Full<Bytes>>,
    len: u64,
) -> Result<Sent, hyper::Error> {
    let mut answer = put(connection, request).await?;
    let (_, drive) = connection.parts();
    match drive.until_written(&mut answer, len).await {
        Progress::Written => Ok(Sent::Awaiting(answer)),
        Progress::Done(answer) => answer.map(Sent::Answered),
    }
}

/// Waits until the connection can take a request, and puts `request` on it.
async fn put(
    connection: &mut Connection,
    request: Request<Full<Bytes>>,
) -> Result<AnswerFuture, hyper::Error> {
    let (sender, drive) = connection.parts();
    if !sender.is_ready() {
        drive.run(sender.ready()).await?;
    }
    let (sender, _) = connection.parts();
    Ok(read_answer(sender.send_request(request)))
}
