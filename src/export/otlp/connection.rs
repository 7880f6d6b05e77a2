//! The connections of the OTLP client: kept-alive HTTP/1.1 connections, over TLS or plain TCP,
//! one per request in flight — in a Lambda execution environment, one for its whole life.
//!
//! A connection goes back to the pool as soon as its answer is read, within the export's own
//! future, so the next invocation finds it there; nothing waits for a background task to hand
//! it back (which, with invocations back to back, would sometimes open a second connection and
//! pay a second handshake). The only task is each connection's driver, which Lambda freezes
//! with the process. A connection idle for longer than [`IDLE_LIMIT`], or that the server
//! closed, is replaced: over TLS the new one resumes the session (rustls's cache), so it costs
//! one round trip, not a full handshake.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::ExportError;

/// A connection idle longer than this is not reused (a sandbox may thaw long after the server
/// closed it).
pub(super) const IDLE_LIMIT: Duration = Duration::from_secs(30);

/// The sender half of one connection.
pub(super) type Sender = SendRequest<Full<Bytes>>;

/// Where to connect, and the idle connections.
pub(super) struct Pool {
    host: String,
    port: u16,
    /// `None` for plain HTTP.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    idle: Mutex<Vec<(Sender, Instant)>>,
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

    /// The most recently used idle connection that is still open and not idle too long.
    pub(super) fn checkout(&self) -> Option<Sender> {
        let mut idle = self.idle.lock().ok()?;
        while let Some((sender, since)) = idle.pop() {
            if !sender.is_closed() && since.elapsed() < IDLE_LIMIT {
                return Some(sender);
            }
        }
        None
    }

    /// Puts a connection whose answer was read back, for the next export.
    pub(super) fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock() {
            idle.push((sender, Instant::now()));
        }
    }

    /// A new connection: TCP (no Nagle delay), the TLS handshake when `https`, the HTTP/1.1
    /// handshake; its driver runs as a task until the connection closes.
    pub(super) async fn connect(&self) -> Result<Sender, ExportError> {
        let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
        tcp.set_nodelay(true)?;
        match &self.tls {
            None => handshake(TokioIo::new(tcp)).await,
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
                handshake(TokioIo::new(stream)).await
            }
        }
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<Sender, ExportError>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let (sender, connection) = http1::handshake(io)
        .await
        .map_err(|e| ExportError::Other(format!("HTTP handshake: {e}")))?;
    tokio::spawn(async move {
        // Ends when the server closes the connection or every sender is dropped; an error here
        // shows again on the request that meets it.
        let _ = connection.await;
    });
    Ok(sender)
}
