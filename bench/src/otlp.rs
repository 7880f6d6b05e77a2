//! A minimal OTLP/HTTP traces receiver for the network variants of the benchmark: answers
//! `POST /v1/traces` with `200` and an empty body (an empty protobuf `ExportTraceServiceResponse`
//! is zero bytes) after an optional delay, and counts what it got.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Default)]
struct Counts {
    good: AtomicUsize,
    bad: Mutex<Vec<String>>,
}

impl Counts {
    fn bad(&self, problem: String) {
        self.bad
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(problem);
    }
}

/// A running receiver on `127.0.0.1:<port>`; stops when dropped.
#[derive(Debug)]
pub struct OtlpReceiver {
    address: SocketAddr,
    counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl OtlpReceiver {
    /// Binds `127.0.0.1:0` and serves in background tasks. Every `POST /v1/traces` is answered
    /// after `delay`; it counts as good when its body is a non-empty `application/x-protobuf`
    /// message that contains `trace_id` (the 16 raw bytes of the expected trace id), if given.
    pub async fn start(delay: Duration, trace_id: Option<[u8; 16]>) -> std::io::Result<Self> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let address = listener.local_addr()?;
        let counts = Arc::new(Counts::default());
        let shared = counts.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let counts = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let counts = counts.clone();
                        async move { handle(req, delay, trace_id, &counts).await }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(OtlpReceiver {
            address,
            counts,
            task,
        })
    }

    /// The address it listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The traces URL to put in `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.address)
    }

    /// Well-formed export requests received so far.
    pub fn good(&self) -> usize {
        self.counts.good.load(Ordering::SeqCst)
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
    counts: &Counts,
) -> Result<Response<Empty<Bytes>>, hyper::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
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
    } else if body.is_empty() {
        counts.bad("empty body".to_owned());
    } else if trace_id.is_some_and(|id| !body.windows(16).any(|w| w == id)) {
        counts.bad(format!("{} bytes without the event's trace id", body.len()));
    } else {
        counts.good.fetch_add(1, Ordering::SeqCst);
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
mod tests {
    use super::*;

    #[test]
    fn xray_ids_to_bytes() {
        let id = xray_trace_id_bytes("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        assert_eq!(id[..4], [0x57, 0x59, 0xe9, 0x88]);
        assert_eq!(id[15], 0x93);
        assert!(xray_trace_id_bytes("2-5759e988-bd862e3fe1be46a994272793").is_none());
        assert!(xray_trace_id_bytes("1-5759e988-bd86").is_none());
    }

    #[tokio::test]
    async fn answers_200_empty_and_counts_well_formed_requests() {
        use lambda_trace_local::client::send;
        let id = xray_trace_id_bytes("1-5759e988-bd862e3fe1be46a994272793").unwrap();
        let receiver = OtlpReceiver::start(Duration::from_millis(5), Some(id))
            .await
            .unwrap();
        assert!(receiver.endpoint().ends_with("/v1/traces"));
        let proto = [("content-type", "application/x-protobuf")];
        let mut body = vec![0x0a, 0x12];
        body.extend_from_slice(&id);
        let started = std::time::Instant::now();
        let ok = send(receiver.address(), Method::POST, "/v1/traces", &proto, body)
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(5));
        assert_eq!((ok.status, ok.body.len()), (StatusCode::OK, 0));
        // Wrong trace id, wrong content type, wrong path: answered, but counted as bad.
        send(
            receiver.address(),
            Method::POST,
            "/v1/traces",
            &proto,
            vec![1u8; 20],
        )
        .await
        .unwrap();
        send(
            receiver.address(),
            Method::POST,
            "/v1/traces",
            &[],
            id.to_vec(),
        )
        .await
        .unwrap();
        let wrong = send(receiver.address(), Method::GET, "/v1/logs", &[], Vec::new())
            .await
            .unwrap();
        assert_eq!(wrong.status, StatusCode::NOT_FOUND);
        assert_eq!(receiver.good(), 1);
        assert_eq!(receiver.bad().len(), 3, "{:?}", receiver.bad());
    }
}
