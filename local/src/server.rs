//! A minimal HTTP/1.1 server loop on hyper, shared by the Runtime API emulator and the gateway.
//!
//! Each accepted connection is served in its own tokio task with keep-alive (hyper's default).
//! Dropping the [`ServerHandle`] stops accepting and closes open connections, including
//! long-polls that are still waiting. [`spawn_with_tls`] serves the same over TLS (the OTLP
//! receiver's `--otlp-tls`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// The response type of every handler of this crate.
pub type HttpResponse = Response<Full<Bytes>>;

/// Owns a running server: dropping it shuts the server down.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.accept.abort();
    }
}

/// Serves `handler` on `listener` in background tasks until the returned handle is dropped.
pub fn spawn<F, Fut>(listener: TcpListener, handler: F) -> std::io::Result<ServerHandle>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    spawn_with_tls(listener, None, handler)
}

/// Like [`spawn`], over TLS when `tls` is given: each connection is a TLS handshake first (a
/// failed or stalled handshake, after [`TLS_HANDSHAKE_TIMEOUT`], closes it), then HTTP/1.1.
pub fn spawn_with_tls<F, Fut>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    handler: F,
) -> std::io::Result<ServerHandle>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    let addr = listener.local_addr()?;
    let (shutdown, shutdown_rx) = watch::channel(false);
    let accept = tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Typically EMFILE; back off instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            let stop = shutdown_rx.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve_connection(stream, handler, stop).await,
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                        if let Ok(Ok(stream)) = handshake.await {
                            serve_connection(stream, handler, stop).await;
                        }
                    }
                }
            });
        }
    });
    Ok(ServerHandle {
        addr,
        shutdown,
        accept,
    })
}

/// How long a TLS client may take to complete its handshake.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn serve_connection<I, F, Fut>(io: I, handler: F, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = HttpResponse> + Send + 'static,
{
    let service = service_fn(move |req| {
        let fut = handler(req);
        async move { Ok::<_, Infallible>(fut.await) }
    });
    let conn = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::select! {
        _ = conn => {}
        _ = stop.changed() => {}
    }
}

/// Builds a response with a status, a content type and a body.
pub fn response(status: u16, content_type: &str, body: impl Into<Bytes>) -> HttpResponse {
    Response::builder()
        .status(status)
        .header(hyper::header::CONTENT_TYPE, content_type)
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// Builds a JSON response.
pub fn json(status: u16, value: &serde_json::Value) -> HttpResponse {
    response(status, "application/json", value.to_string())
}
