//! A small HTTP/1.1 client on hyper (one connection per request), used by the CLI and the tests;
//! over TLS too ([`send_tls`]).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// A fully read HTTP response.
#[derive(Debug, Clone)]
pub struct ClientResponse {
    /// The status code.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The whole body.
    pub body: Bytes,
}

impl ClientResponse {
    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

/// Sends one request to `addr` and reads the whole response.
///
/// `path_and_query` is the request target (`/ot-gen?count=3`); a `Host` header is added when
/// `headers` has none.
pub async fn send(
    addr: SocketAddr,
    method: Method,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> io::Result<ClientResponse> {
    let stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    send_over(stream, addr, method, path_and_query, headers, body.into()).await
}

/// Like [`send`], over TLS: `config` decides which certificates are trusted, and the server
/// must present one for `addr`'s IP address.
pub async fn send_tls(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    method: Method,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> io::Result<ClientResponse> {
    let stream = TcpStream::connect(addr).await?;
    let _ = stream.set_nodelay(true);
    let name = ServerName::IpAddress(addr.ip().into());
    let stream = TlsConnector::from(config).connect(name, stream).await?;
    send_over(stream, addr, method, path_and_query, headers, body.into()).await
}

async fn send_over<I>(
    io: I,
    addr: SocketAddr,
    method: Method,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> io::Result<ClientResponse>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(other)?;
    let conn_task = tokio::spawn(conn);
    let mut builder = Request::builder().method(method).uri(path_and_query);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        builder = builder.header(hyper::header::HOST, addr.to_string());
    }
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(Full::new(body)).map_err(other)?;
    let result = async {
        let response = sender.send_request(request).await.map_err(other)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(other)?.to_bytes();
        Ok(ClientResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
    .await;
    conn_task.abort();
    result
}
