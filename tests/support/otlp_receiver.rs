//! A local OTLP/HTTP receiver for the tests: plain HTTP or TLS (a certificate of
//! [`super::tls`]), decoding what arrives with `opentelemetry-proto` — protobuf, or OTLP/JSON
//! through its serde support, gzip undone by flate2 — and, when asked, checking each request's
//! SigV4 signature with botocore (`scripts/sigv4_verify.py`, run by the venv's Python), an
//! implementation independent of the crate's.
//!
//! It counts accepted TCP connections and full TLS handshakes, and answers from a script of
//! statuses (then 200), so tests can see connection reuse, retries and refusals.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use rustls::ServerConfig;
use tokio::net::TcpListener;

/// What one request carried.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub request: ExportTraceServiceRequest,
    /// Bytes on the wire (after compression).
    pub wire_bytes: usize,
}

/// An answer: status and `Retry-After`.
pub type Answer = (u16, Option<&'static str>);

/// How the receiver treats connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Serves requests.
    Serve,
    /// Accepts TCP and never reads nor writes (a handshake that never completes).
    Hang,
    /// Serves one request per connection, then closes it (`connection: close`), as a server
    /// closes an idle connection while the function is frozen.
    OneRequestPerConnection,
    /// Reads each request, then closes the connection without answering (a backend or a load
    /// balancer that drops the connection mid-request).
    CloseWithoutAnswer,
}

/// The credentials the SigV4 check expects, and whether to flip a body byte before checking
/// (a request changed on the way).
#[derive(Debug, Clone)]
pub struct SigV4Check {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
    pub tamper_body: bool,
}

#[derive(Clone)]
pub struct OtlpReceiver {
    /// `http(s)://127.0.0.1:<port>/v1/traces`.
    pub url: String,
    /// TCP connections accepted.
    pub connections: Arc<AtomicUsize>,
    /// TLS handshakes completed in full (not resumed).
    pub full_handshakes: Arc<AtomicUsize>,
    /// TLS handshakes completed by resumption.
    pub resumed_handshakes: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Received>>>,
    /// Signature verdicts: `ok` or the reason of a mismatch.
    pub verdicts: Arc<Mutex<Vec<String>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    behaviour: Behaviour,
    verifier: Option<Arc<Mutex<Verifier>>>,
    check: Option<SigV4Check>,
}

impl OtlpReceiver {
    /// A receiver on a free loopback port; TLS when `tls` is given.
    pub async fn start(
        tls: Option<Arc<ServerConfig>>,
        behaviour: Behaviour,
        check: Option<SigV4Check>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let receiver = Self {
            url: format!("{scheme}://{}/v1/traces", listener.local_addr().unwrap()),
            connections: Arc::default(),
            full_handshakes: Arc::default(),
            resumed_handshakes: Arc::default(),
            received: Arc::default(),
            verdicts: Arc::default(),
            script: Arc::default(),
            behaviour,
            verifier: check
                .as_ref()
                .map(|_| Arc::new(Mutex::new(Verifier::start()))),
            check,
        };
        let state = receiver.clone();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                state.connections.fetch_add(1, Ordering::SeqCst);
                if behaviour == Behaviour::Hang {
                    held.push(stream);
                    continue;
                }
                let state = state.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let counters = (
                        Arc::clone(&state.full_handshakes),
                        Arc::clone(&state.resumed_handshakes),
                    );
                    let service = hyper::service::service_fn(move |req| {
                        let state = state.clone();
                        async move { state.handle(req).await }
                    });
                    match acceptor {
                        None if behaviour == Behaviour::CloseWithoutAnswer => {
                            // The service never answers; the connection is dropped.
                            let serve = http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service);
                            let _ = tokio::time::timeout(Duration::from_millis(100), serve).await;
                        }
                        None => {
                            let _ = http1::Builder::new()
                                .keep_alive(behaviour == Behaviour::Serve)
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                        Some(acceptor) => {
                            let Ok(tls) = acceptor.accept(stream).await else {
                                return;
                            };
                            let counter = match tls.get_ref().1.handshake_kind() {
                                Some(rustls::HandshakeKind::Resumed) => &counters.1,
                                _ => &counters.0,
                            };
                            counter.fetch_add(1, Ordering::SeqCst);
                            let _ = http1::Builder::new()
                                .keep_alive(behaviour == Behaviour::Serve)
                                .serve_connection(TokioIo::new(tls), service)
                                .await;
                        }
                    }
                });
            }
        });
        receiver
    }

    /// The next answers, in order (status, `Retry-After`); 200 after them.
    pub fn answer(&self, answers: &[Answer]) {
        self.script.lock().unwrap().extend(answers.iter().copied());
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits up to 5 s for `n` requests.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..500 {
            if self.received.lock().unwrap().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.received()
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
    ) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
        let (parts, body) = req.into_parts();
        let mut wire = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if let (Some(verifier), Some(check)) = (&self.verifier, &self.check) {
            if check.tamper_body && !wire.is_empty() {
                let mut changed = wire.to_vec();
                changed[0] ^= 0x01;
                wire = Bytes::from(changed);
            }
            let verdict = {
                let verifier = Arc::clone(verifier);
                let (parts, wire, check) = (parts.clone(), wire.clone(), check.clone());
                let url = self.url.clone();
                tokio::task::spawn_blocking(move || {
                    verifier.lock().unwrap().verify(&parts, &url, &wire, &check)
                })
                .await
                .unwrap()
            };
            self.verdicts.lock().unwrap().push(verdict.clone());
            if verdict != "ok" {
                return Ok(answer(
                    403,
                    None,
                    "The request signature we calculated does not match",
                ));
            }
        }
        let gzip = parts
            .headers
            .get("content-encoding")
            .is_some_and(|v| v == "gzip");
        let body = if gzip {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&wire[..])
                .read_to_end(&mut out)
                .expect("valid gzip");
            out
        } else {
            wire.to_vec()
        };
        let json = parts
            .headers
            .get("content-type")
            .is_some_and(|v| v == "application/json");
        let request = if json {
            serde_json::from_slice::<ExportTraceServiceRequest>(&body)
                .unwrap_or_else(|e| panic!("OTLP/JSON that opentelemetry-proto cannot read: {e}"))
        } else {
            ExportTraceServiceRequest::decode(&body[..]).expect("OTLP protobuf")
        };
        self.received.lock().unwrap().push(Received {
            headers: parts.headers.clone(),
            request,
            wire_bytes: wire.len(),
        });
        if self.behaviour == Behaviour::CloseWithoutAnswer {
            std::future::pending::<()>().await;
        }
        let (status, retry_after) = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or((200, None));
        Ok(answer(status, retry_after, ""))
    }
}

fn answer(status: u16, retry_after: Option<&str>, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::builder().status(status);
    if let Some(after) = retry_after {
        response = response.header("retry-after", after);
    }
    response
        .body(Full::new(Bytes::from(text.to_string())))
        .unwrap()
}

/// The botocore checker: one Python process, one JSON line per request.
struct Verifier {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Verifier {
    fn start() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run `make venv` (botocore comes with moto)",
            python.display()
        );
        let mut child = Command::new(&python)
            .arg(root.join("scripts/sigv4_verify.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the SigV4 checker");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        // Python and botocore load before the first request is timed by a flush deadline.
        let mut ready = String::new();
        stdout.read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready", "the SigV4 checker did not start");
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn verify(
        &mut self,
        parts: &http::request::Parts,
        url: &str,
        body: &[u8],
        check: &SigV4Check,
    ) -> String {
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let line = serde_json::json!({
            "method": parts.method.as_str(),
            "url": url,
            "headers": headers,
            "body": base64::engine::general_purpose::STANDARD.encode(body),
            "access_key_id": check.access_key_id,
            "secret_access_key": check.secret_access_key,
            "session_token": check.session_token,
            "region": check.region,
            "service": "xray",
        });
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
        let mut verdict = String::new();
        self.stdout.read_line(&mut verdict).unwrap();
        verdict.trim().to_string()
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
