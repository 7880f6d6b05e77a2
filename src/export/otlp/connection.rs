//! The connections of the OTLP client: kept-alive HTTP/1.1 connections, over TLS or plain TCP,
//! one per request in flight — in a Lambda execution environment, one for its whole life.
//!
//! No task drives a connection: hyper's connection future is polled by the export's own future,
//! together with the request (`Connection::run`), and rests in the pool between exports (Lambda
//! freezes the process there anyway). So an export wakes no other thread, and the connection is
//! back in the pool as soon as its answer is read, where the next invocation finds it (with a
//! task handing it back, invocations back to back would sometimes open a second connection and
//! pay a second handshake). A connection idle for longer than [`IDLE_LIMIT`], or that the server
//! closed, is replaced: over TLS the new one resumes the session (rustls's cache), so it costs
//! one round trip, not a full handshake. The socket is in the runtime's reactor only while an
//! export waits on it ([`super::socket`]).

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::answer::InFlight;
use super::socket::{Mode, Socket};
use crate::error::ExportError;

/// A connection idle longer than this is not reused (a sandbox may thaw long after the server
/// closed it).
pub(super) const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// The sender half of one connection.
pub(super) type Sender = SendRequest<Full<Bytes>>;

/// hyper's connection future: reads and writes the socket while it is polled.
type Driver = Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send>>;

/// One HTTP/1.1 connection: the sender to put requests on, and the future that moves them.
pub(super) struct Connection {
    sender: Sender,
    /// `None` once the connection ended (closed by the server, or broken).
    driver: Option<Driver>,
    written: Arc<Written>,
    noted: Arc<Noted>,
    mode: Arc<Mode>,
    /// A request written out whose answer was not read yet (deferred answers).
    pub(super) in_flight: Option<InFlight>,
}

impl Connection {
    /// The sender, and what drives the connection while a request on it is under way.
    pub(super) fn parts(&mut self) -> (&mut Sender, Drive<'_>) {
        (
            &mut self.sender,
            Drive {
                driver: &mut self.driver,
                written: &self.written,
                noted: &self.noted,
                mode: &self.mode,
            },
        )
    }

    fn is_open(&self) -> bool {
        self.driver.is_some() && !self.sender.is_closed()
    }
}

/// How far a request got when [`Drive::until_written`] returned.
pub(super) enum Progress<T> {
    /// Answered already (or failed).
    Done(T),
    /// Written out and flushed to the socket; the answer is still to come.
    Written,
}

/// Drives one connection in the caller's task.
pub(super) struct Drive<'a> {
    driver: &'a mut Option<Driver>,
    written: &'a Written,
    noted: &'a Arc<Noted>,
    mode: &'a Mode,
}

impl Drive<'_> {
    /// Runs `work` (a request on the connection's sender and the reading of its answer) while
    /// driving the connection.
    pub(super) async fn run<F: Future>(self, work: F) -> F::Output {
        let mut work = pin!(work);
        let driver = self.driver;
        let (noted, mode) = (self.noted, self.mode);
        let out = poll_fn(|cx| {
            poll_settled(noted, mode, cx, |cx| {
                if let Poll::Ready(out) = work.as_mut().poll(cx) {
                    return Poll::Ready(out);
                }
                if poll_driver(driver, cx) {
                    // Ended: the request learns it through its sender; poll it once more.
                    return work.as_mut().poll(cx);
                }
                Poll::Pending
            })
        })
        .await;
        rest(driver, mode);
        out
    }

    /// Drives the connection until `answer` (of a request of at least `len` bytes, just put on
    /// the sender) resolves, or until the request is written out and flushed to the socket and
    /// the connection waits for the answer — whichever comes first. `answer` is kept for later
    /// in the second case; driving the connection then (with [`Drive::run`]) reads it.
    pub(super) async fn until_written<F: Future + Unpin>(
        self,
        answer: &mut F,
        len: u64,
    ) -> Progress<F::Output> {
        let driver = self.driver;
        let written = self.written;
        let (noted, mode) = (self.noted, self.mode);
        let target = written.bytes().saturating_add(len);
        let progress = poll_fn(|cx| {
            poll_settled(noted, mode, cx, |cx| {
                if let Poll::Ready(out) = Pin::new(&mut *answer).poll(cx) {
                    return Poll::Ready(Progress::Done(out));
                }
                if poll_driver(driver, cx) {
                    return Pin::new(&mut *answer).poll(cx).map(Progress::Done);
                }
                // The driver is pending: blocked on a write, or (all written and flushed)
                // waiting for the answer.
                if written.bytes() >= target && written.is_flushed() {
                    return Poll::Ready(Progress::Written);
                }
                Poll::Pending
            })
        })
        .await;
        rest(driver, mode);
        progress
    }
}

/// At most this many passes of [`poll_settled`] with its own waker before the task's (the
/// socket meanwhile in [`Mode::QUIET`]: a call that would block registers nothing).
const QUIET_PASSES: usize = 16;

/// Polls `step` (the request's side, then the connection's) with a waker that only notes that
/// it was woken, again as long as a pass woke it (up to [`QUIET_PASSES`]); then once with the
/// task's waker, so that what the connection still waits for wakes the task.
///
/// hyper hands a request to its connection, and the answer and its body back, through channels
/// whose every hand-over wakes the other side: with the task's waker, each would return to the
/// runtime and be polled again (arming the export's timers, which wakes the runtime's I/O
/// thread), where the answer was in the socket all along.
fn poll_settled<T>(
    noted: &Arc<Noted>,
    mode: &Mode,
    cx: &mut Context<'_>,
    mut step: impl FnMut(&mut Context<'_>) -> Poll<T>,
) -> Poll<T> {
    let waker = Waker::from(noted.clone());
    let mut quiet = Context::from_waker(&waker);
    mode.set(Mode::QUIET);
    for _ in 0..QUIET_PASSES {
        noted.0.store(false, Ordering::Relaxed);
        if let Poll::Ready(out) = step(&mut quiet) {
            return Poll::Ready(out);
        }
        if !noted.0.load(Ordering::Relaxed) {
            break;
        }
    }
    mode.set(Mode::WAITING);
    step(cx)
}

/// A waker that notes a wake-up and wakes nobody ([`poll_settled`]).
#[derive(Default)]
struct Noted(AtomicBool);

impl Wake for Noted {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Polls the driver once more with a waker that does nothing and the socket resting (out of the
/// reactor), so that what the connection waits for between exports (the answer, the server
/// closing it) wakes no task and no thread: the export's task is done with it, and in the
/// after-response mode the answer arrives while the runtime waits for the next invocation. The
/// next export finds the answer (or the close) by reading.
fn rest(driver: &mut Option<Driver>, mode: &Mode) {
    mode.set(Mode::RESTING);
    poll_driver(driver, &mut Context::from_waker(Waker::noop()));
}

/// Polls the connection's driver once; `true` when it has just ended (it is dropped then).
fn poll_driver(driver: &mut Option<Driver>, cx: &mut Context<'_>) -> bool {
    let ended = driver
        .as_mut()
        .is_some_and(|running| running.as_mut().poll(cx).is_ready());
    if ended {
        *driver = None;
    }
    ended
}

/// What went to the socket: bytes written, and whether all of it was flushed.
#[derive(Default)]
struct Written {
    bytes: AtomicU64,
    unflushed: AtomicBool,
}

impl Written {
    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    fn is_flushed(&self) -> bool {
        !self.unflushed.load(Ordering::Relaxed)
    }
}

/// A stream that counts into [`Written`] what is written through it.
struct Counted<T> {
    inner: T,
    written: Arc<Written>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.unflushed.store(true, Ordering::Relaxed);
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.written.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.written.unflushed.store(true, Ordering::Relaxed);
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            self.written.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        if let Poll::Ready(Ok(())) = result {
            self.written.unflushed.store(false, Ordering::Relaxed);
        }
        result
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Where to connect, and the idle connections.
pub(super) struct Pool {
    host: String,
    port: u16,
    /// `None` for plain HTTP.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    idle: Mutex<Vec<(Connection, Instant)>>,
}

impl Pool {
    /// A pool for `endpoint` (`http` or `https`, with a host). No connection is opened here.
    pub(super) fn new(endpoint: &Uri, tls: Arc<ClientConfig>) -> io::Result<Self> {
        let https = endpoint.scheme_str() == Some("https");
        let host = endpoint
            .host()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = endpoint.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let name = ServerName::try_from(host.clone()).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "not a TLS server name")
            })?;
            Some((TlsConnector::from(tls), name))
        } else {
            None
        };
        Ok(Self {
            host,
            port,
            tls,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The most recently used idle connection, and whether it can take another request (still
    /// open, and not idle too long). One that cannot is still handed out when a request on it
    /// awaits its answer, which may be waiting in its buffer.
    pub(super) fn checkout(&self) -> Option<(Connection, bool)> {
        let mut idle = self.idle.lock().ok()?;
        while let Some((connection, since)) = idle.pop() {
            let reusable = connection.is_open() && since.elapsed() < IDLE_LIMIT;
            if reusable || connection.in_flight.is_some() {
                return Some((connection, reusable));
            }
        }
        None
    }

    /// Puts a connection back for the next export: its answer was read, or is awaited
    /// ([`Connection::in_flight`]).
    pub(super) fn checkin(&self, connection: Connection) {
        if !connection.is_open() && connection.in_flight.is_none() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((connection, Instant::now()));
        }
    }

    /// A new connection: TCP (no Nagle delay), the TLS handshake when `https`, the HTTP/1.1
    /// handshake.
    pub(super) async fn connect(&self) -> Result<Connection, ExportError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
        tcp.set_nodelay(true)?;
        let mode = Arc::new(Mode::default());
        let socket = Socket::new(tcp, mode.clone());
        match &self.tls {
            None => handshake(socket, mode).await,
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), socket)
                    .await
                    .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
                handshake(stream, mode).await
            }
        }
    }
}

async fn handshake<T>(io: T, mode: Arc<Mode>) -> Result<Connection, ExportError>
where
    T: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let written = Arc::new(Written::default());
    let counted = Counted {
        inner: io,
        written: written.clone(),
    };
    let (sender, connection) = http1::handshake(TokioIo::new(counted))
        .await
        .map_err(|e| ExportError::Other(format!("HTTP handshake: {e}")))?;
    Ok(Connection {
        sender,
        driver: Some(Box::pin(connection)),
        written,
        noted: Arc::default(),
        mode,
        in_flight: None,
    })
}
