//! A minimal OTLP/HTTP traces receiver for the network variants of the benchmark: answers
//! `POST /v1/traces` with `200` and an empty body (an empty protobuf `ExportTraceServiceResponse`
//! is zero bytes) after an optional delay, and counts what it got: requests and the spans in
//! them ([`count_spans`], a few lines of protobuf walking instead of a prost dependency). Over
//! plain HTTP, or over TLS (rustls + ring, a certificate of [`crate::tls::BenchCa`]); either way
//! it counts the TCP connections it accepted and, over TLS, the full and resumed handshakes, and
//! keeps each connection's timestamps (accepted, handshake done, first request read).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Default)]
struct Counts {
    good: AtomicUsize,
    spans: AtomicUsize,
    spans_in_trace: AtomicUsize,
    bad: Mutex<Vec<String>>,
    connections: AtomicUsize,
    full_handshakes: AtomicUsize,
    resumed_handshakes: AtomicUsize,
    /// One per accepted connection, in the order of acceptance.
    timings: Mutex<Vec<ConnectionTiming>>,
}

/// What the receiver saw of one connection, in its own clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionTiming {
    /// The TCP connection was accepted.
    pub accepted: Instant,
    /// The TLS handshake completed (never over plain HTTP, or when it failed).
    pub handshake_done: Option<Instant>,
    /// The body of the connection's first request was read.
    pub first_request: Option<Instant>,
}

impl ConnectionTiming {
    /// Accepted → TLS handshake done.
    pub fn handshake(&self) -> Option<Duration> {
        Some(
            self.handshake_done?
                .saturating_duration_since(self.accepted),
        )
    }

    /// Accepted → first request read: the TLS handshake (if any) and the request's transfer,
    /// the part of a cold export the server sees.
    pub fn to_first_request(&self) -> Option<Duration> {
        Some(self.first_request?.saturating_duration_since(self.accepted))
    }
}

impl Counts {
    fn bad(&self, problem: String) {
        self.bad
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(problem);
    }

    fn timing(&self, connection: usize, set: impl FnOnce(&mut ConnectionTiming)) {
        let mut timings = self.timings.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = timings.get_mut(connection) {
            set(t);
        }
    }
}

/// A running receiver on `127.0.0.1:<port>`; stops when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    address: SocketAddr,
    tls: bool,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl OtlpReceiver {
    /// Binds `127.0.0.1:0` and serves in background tasks, over TLS with `tls`. Every
    /// `POST /v1/traces` is answered after `delay`; it counts as good when its body is an
    /// `application/x-protobuf` `ExportTraceServiceRequest` with at least one span and, if
    /// `require_trace`, at least one span of `trace_id` (the 16 raw bytes of the expected trace
    /// id). The spans of the good requests are counted, and those of `trace_id`. A failed TLS
    /// handshake counts as a bad request.
    pub async fn start(
        delay: Duration,
        trace_id: Option<[u8; 16]>,
        require_trace: bool,
        tls: Option<Arc<ServerConfig>>,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        let secure = tls.is_some();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let accepted = Instant::now();
                let _ = stream.set_nodelay(true);
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let connection = {
                    let mut timings = shared
                        .timings
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    timings.push(ConnectionTiming {
                        accepted,
                        handshake_done: None,
                        first_request: None,
                    });
                    timings.len() - 1
                };
                let counts = shared.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = {
                        let counts = counts.clone();
                        service_fn(move |req| {
                            let counts = counts.clone();
                            async move {
                                handle(req, delay, trace_id, require_trace, connection, &counts)
                                    .await
                            }
                        })
                    };
                    let Some(acceptor) = acceptor else {
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                        return;
                    };
                    let tls = match acceptor.accept(stream).await {
                        Ok(tls) => tls,
                        Err(e) => {
                            counts.bad(format!("TLS handshake: {e}"));
                            return;
                        }
                    };
                    let done = Instant::now();
                    counts.timing(connection, |t| t.handshake_done = Some(done));
                    let kind = match tls.get_ref().1.handshake_kind() {
                        Some(rustls::HandshakeKind::Resumed) => &counts.resumed_handshakes,
                        _ => &counts.full_handshakes,
                    };
                    kind.fetch_add(1, Ordering::SeqCst);
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(OtlpReceiver {
            address,
            tls: secure,
            counts,
            task,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The traces URL to put in `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (`https` over TLS).
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/v1/traces", self.address)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.counts.connections.load(Ordering::SeqCst)
    }

    /// TLS handshakes completed in full (not resumed) so far.
    pub fn full_handshakes(&self) -> usize {
        self.counts.full_handshakes.load(Ordering::SeqCst)
    }

    /// TLS handshakes completed by resuming a session so far.
    pub fn resumed_handshakes(&self) -> usize {
        self.counts.resumed_handshakes.load(Ordering::SeqCst)
    }

    /// Every accepted connection's timestamps, in the order of acceptance.
    pub fn connection_timings(&self) -> Vec<ConnectionTiming> {
        self.counts
            .timings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits up to `within` until at least `n` good requests arrived: an after-response
    /// export ends once its request is written out, so the function may poll `/next` before
    /// this receiver has read it.
    pub async fn wait_for_good(&self, n: usize, within: Duration) {
        let until = Instant::now() + within;
        while self.good() < n && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Well-formed export requests received so far.
    pub fn good(&self) -> usize {
        self.counts.good.load(Ordering::SeqCst)
    }

    /// Spans in the good requests.
    pub fn spans(&self) -> usize {
        self.counts.spans.load(Ordering::SeqCst)
    }

    /// Spans in the good requests that belong to the expected trace.
    pub fn spans_in_trace(&self) -> usize {
        self.counts.spans_in_trace.load(Ordering::SeqCst)
    }

    /// What was wrong with the other requests.
    pub fn bad(&self) -> Vec<String> {
        self.counts
            .bad
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    req: Request<Incoming>,
    delay: Duration,
    trace_id: Option<[u8; 16]>,
    require_trace: bool,
    connection: usize,
    counts: &Counts,
) -> Result<Response<Empty<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let read = Instant::now();
    counts.timing(connection, |t| {
        t.first_request.get_or_insert(read);
    });
    if parts.method != Method::POST || parts.uri.path() != "/v1/traces" {
        counts.bad(format!("{} {}", parts.method, parts.uri));
        return Ok(status(StatusCode::NOT_FOUND));
    }
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some("application/x-protobuf") {
        counts.bad(format!("content-type {content_type:?}"));
    } else {
        match count_spans(&body, trace_id.as_ref()) {
            Err(e) => counts.bad(format!("{} bytes, not an export request: {e}", body.len())),
            Ok(c) if c.spans == 0 => counts.bad(format!("{} bytes without spans", body.len())),
            Ok(c) if require_trace && c.in_trace == 0 => {
                counts.bad(format!("{} spans, none of the event's trace", c.spans));
            }
            Ok(c) => {
                counts.good.fetch_add(1, Ordering::SeqCst);
                counts.spans.fetch_add(c.spans, Ordering::SeqCst);
                counts
                    .spans_in_trace
                    .fetch_add(c.in_trace, Ordering::SeqCst);
            }
        }
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(status(StatusCode::OK))
}

fn status(code: StatusCode) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = code;
    response
}

/// The spans of an OTLP `ExportTraceServiceRequest` (protobuf).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpanCount {
    /// All spans.
    pub spans: usize,
    /// Spans whose `trace_id` is the one asked for.
    pub in_trace: usize,
}

/// Counts the spans of an `ExportTraceServiceRequest`: `resource_spans` (field 1) →
/// `scope_spans` (2) → `spans` (2) → `trace_id` (1), and those of `trace_id`. Errors on
/// malformed protobuf.
pub fn count_spans(request: &[u8], trace_id: Option<&[u8; 16]>) -> Result<SpanCount, String> {
    let mut count = SpanCount::default();
    len_fields(request, 1, &mut |resource_spans| {
        len_fields(resource_spans, 2, &mut |scope_spans| {
            len_fields(scope_spans, 2, &mut |span| {
                count.spans += 1;
                let mut id: Option<&[u8]> = None;
                len_fields(span, 1, &mut |t| {
                    id = Some(t);
                    Ok(())
                })?;
                if trace_id.is_some_and(|want| id == Some(&want[..])) {
                    count.in_trace += 1;
                }
                Ok(())
            })
        })
    })?;
    Ok(count)
}

/// Walks every field of the protobuf message `buf`, calling `f` with the payload of each
/// length-delimited field numbered `number`.
fn len_fields<'a>(
    mut buf: &'a [u8],
    number: u64,
    f: &mut dyn FnMut(&'a [u8]) -> Result<(), String>,
) -> Result<(), String> {
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        let len = match key & 7 {
            0 => {
                varint(&mut buf)?;
                0
            }
            1 => 8,
            2 => usize::try_from(varint(&mut buf)?).map_err(|e| e.to_string())?,
            5 => 4,
            wire => return Err(format!("field {}: wire type {wire}", key >> 3)),
        };
        let Some((payload, rest)) = buf.split_at_checked(len) else {
            return Err(format!("field {}: {len} bytes past the end", key >> 3));
        };
        if key & 7 == 2 && key >> 3 == number {
            f(payload)?;
        }
        buf = rest;
    }
    Ok(())
}

fn varint(buf: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or("truncated varint")?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes".to_owned())
}

/// The 16 raw bytes of an X-Ray trace id (`1-5759e988-bd862e3fe1be46a994272793`), as OTLP
/// carries it.
pub fn xray_trace_id_bytes(trace_id: &str) -> Option<[u8; 16]> {
    let mut parts = trace_id.split('-');
    let (Some("1"), Some(time), Some(random), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    let hex = format!("{time}{random}");
    if hex.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn xray_ids_to_bytes() {
        let id = xray_trace_id_bytes("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert_eq!(id[..4], [0x57, 0x59, 0xe9, 0x88]);
        assert_eq!(id[15], 0x93);
        assert!(xray_trace_id_bytes("2-5759e988-bd862e3fe1be46a994272793").is_none());
        assert!(xray_trace_id_bytes("1-5759e988-bd86").is_none());
    }

    /// A length-delimited protobuf field.
    fn field(number: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![number << 3 | 2];
        let mut len = payload.len();
        while len >= 0x80 {
            out.push(0x80 | (len & 0x7f) as u8);
            len >>= 7;
        }
        out.push(len as u8);
        out.extend_from_slice(payload);
        out
    }

    /// An `ExportTraceServiceRequest` with one resource, one scope and a span per trace id;
    /// each span also has a varint, a fixed64 and a fixed32 field to skip.
    pub(crate) fn export_request(trace_ids: &[[u8; 16]]) -> Vec<u8> {
        let mut scope = field(1, b"scope");
        for id in trace_ids {
            let mut span = field(1, id);
            span.extend_from_slice(&[6 << 3, 0x96, 0x01]); // kind: varint
            span.push(7 << 3 | 1); // start_time_unix_nano: fixed64
            span.extend_from_slice(&[0; 8]);
            span.push(15 << 3 | 5); // a fixed32
            span.extend_from_slice(&[0; 4]);
            scope.extend(field(2, &span));
        }
        let resource = [field(1, b"resource"), field(2, &scope)].concat();
        field(1, &resource)
    }

    #[test]
    fn counts_spans_and_those_of_a_trace() {
        let id = xray_trace_id_bytes("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        let other = [7u8; 16];
        let request = export_request(&[id, other, id]);
        let count = count_spans(&request, Some(&id)).unwrap();
        assert_eq!(
            count,
            SpanCount {
                spans: 3,
                in_trace: 2
            }
        );
        assert_eq!(count_spans(&request, None).unwrap().in_trace, 0);
        assert_eq!(count_spans(&[], None).unwrap(), SpanCount::default());
        // Truncated, a bad wire type, an endless varint.
        assert!(count_spans(&request[..request.len() - 3], None).is_err());
        assert!(count_spans(&[0x0b], None).is_err());
        assert!(count_spans(&[0x08, 0xff, 0xff], None).is_err());
    }

    #[tokio::test]
    async fn answers_200_empty_and_counts_well_formed_requests() {
        use lambda_trace_local::client::send;
        let id = xray_trace_id_bytes("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        let receiver = OtlpReceiver::start(Duration::from_millis(5), Some(id), true, None)
            .await
            .unwrap();
        assert!(receiver.endpoint().ends_with("/v1/traces"));
        let proto = [("content-type", "application/x-protobuf")];
        let started = std::time::Instant::now();
        let ok = send(
            receiver.address(),
            Method::POST,
            "/v1/traces",
            &proto,
            export_request(&[id, [7; 16]]),
        )
        .await
        .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(5));
        assert_eq!((ok.status, ok.body.len()), (StatusCode::OK, 0));
        // Wrong trace id, not protobuf, no spans, wrong content type, wrong path: answered, but
        // counted as bad.
        for body in [export_request(&[[7; 16]]), vec![1u8; 20], Vec::new()] {
            send(receiver.address(), Method::POST, "/v1/traces", &proto, body)
                .await
                .unwrap();
        }
        send(
            receiver.address(),
            Method::POST,
            "/v1/traces",
            &[],
            export_request(&[id]),
        )
        .await
        .unwrap();
        let wrong = send(receiver.address(), Method::GET, "/v1/logs", &[], Vec::new())
            .await
            .unwrap();
        assert_eq!(wrong.status, StatusCode::NOT_FOUND);
        assert_eq!(receiver.good(), 1);
        assert_eq!((receiver.spans(), receiver.spans_in_trace()), (2, 1));
        assert_eq!(receiver.bad().len(), 5, "{:?}", receiver.bad());
    }

    #[tokio::test]
    async fn without_require_trace_any_trace_is_good() {
        use lambda_trace_local::client::send;
        let id = xray_trace_id_bytes("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        let receiver = OtlpReceiver::start(Duration::ZERO, Some(id), false, None)
            .await
            .unwrap();
        let proto = [("content-type", "application/x-protobuf")];
        let body = export_request(&[[7; 16], [8; 16]]);
        send(receiver.address(), Method::POST, "/v1/traces", &proto, body)
            .await
            .unwrap();
        assert_eq!(receiver.good(), 1);
        assert_eq!((receiver.spans(), receiver.spans_in_trace()), (2, 0));
    }

    /// `POST /v1/traces` with `body` over `stream`, HTTP/1.1 by hand; the answer's status line.
    async fn post<S>(stream: &mut S, body: &[u8]) -> String
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(body).await.unwrap();
        let mut answer = Vec::new();
        let mut byte = [0u8; 1];
        while !answer.ends_with(b"\r\n\r\n") {
            assert_eq!(
                stream.read(&mut byte).await.unwrap(),
                1,
                "connection closed"
            );
            answer.push(byte[0]);
        }
        let text = String::from_utf8_lossy(&answer).into_owned();
        text.lines().next().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn over_tls_counts_connections_and_full_and_resumed_handshakes() {
        use rustls::pki_types::ServerName;
        let ca = crate::tls::BenchCa::make().unwrap();
        assert!(
            std::fs::read_to_string(ca.ca_file())
                .unwrap()
                .contains("BEGIN CERTIFICATE")
        );
        let id = xray_trace_id_bytes("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        let receiver =
            OtlpReceiver::start(Duration::ZERO, Some(id), true, Some(ca.server_config()))
                .await
                .unwrap();
        assert!(receiver.endpoint().starts_with("https://127.0.0.1:"));
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.ca_certificate()).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let connect = || async {
            let tcp = tokio::net::TcpStream::connect(receiver.address())
                .await
                .unwrap();
            let name = ServerName::try_from("127.0.0.1").unwrap();
            connector.connect(name, tcp).await.unwrap()
        };
        // Two requests on one connection: one connection, one full handshake.
        let mut first = connect().await;
        for _ in 0..2 {
            assert_eq!(
                post(&mut first, &export_request(&[id])).await,
                "HTTP/1.1 200 OK"
            );
        }
        assert_eq!((receiver.connections(), receiver.full_handshakes()), (1, 1));
        // A second connection with the same client configuration resumes the session.
        let mut second = connect().await;
        assert_eq!(
            post(&mut second, &export_request(&[id])).await,
            "HTTP/1.1 200 OK"
        );
        assert_eq!(receiver.connections(), 2);
        assert_eq!(
            (receiver.full_handshakes(), receiver.resumed_handshakes()),
            (1, 1)
        );
        assert_eq!(receiver.good(), 3);
        let timings = receiver.connection_timings();
        assert_eq!(timings.len(), 2);
        for t in &timings {
            assert!(
                t.handshake().is_some() && t.to_first_request().is_some(),
                "{t:?}"
            );
            assert!(t.to_first_request() >= t.handshake());
        }
        // Plain HTTP to the TLS port: no handshake, a bad request.
        let mut plain = tokio::net::TcpStream::connect(receiver.address())
            .await
            .unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut plain, b"POST / HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        drop(plain);
        for _ in 0..100 {
            if !receiver.bad().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(receiver.connections(), 3);
        assert!(
            receiver.bad()[0].starts_with("TLS handshake"),
            "{:?}",
            receiver.bad()
        );
        let file = ca.ca_file().to_path_buf();
        drop(ca);
        assert!(!file.exists());
    }
}
