//! An OTLP/HTTP receiver next to the X-Ray daemon stand-in: `POST /v1/traces` with an
//! `ExportTraceServiceRequest` as protobuf (`application/x-protobuf`) or OTLP/JSON
//! (`application/json`), gzip-compressed (`content-encoding: gzip`) or not, over plain HTTP or
//! over TLS with a certificate made at start ([`LocalCa`]).
//!
//! Every span is converted ([`convert`]) into a document of the [`Collector`], so spans of the
//! functions' OTLP exporter, of the daemon and of any other OpenTelemetry SDK pointed at the
//! receiver assemble into one trace tree (W3C span ids are X-Ray's). The receiver answers 200
//! with an empty `ExportTraceServiceResponse` (protobuf, or `{}` in JSON), with
//! `partial_success` counting spans it could not use; 400 for a body that does not decode, 404,
//! 405, 413 (over [`MAX_BODY`]) and 415 (another content type or encoding) otherwise. Each
//! request's headers are kept ([`OtlpReceiver::requests`]), so tests can see an access token
//! arrive.

pub mod convert;

use std::io::{self, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::collector::{Collector, Source};
use crate::server::{self, HttpResponse, ServerHandle};
use crate::tls::LocalCa;

/// The path of the traces endpoint.
pub const TRACES_PATH: &str = "/v1/traces";

/// The largest body accepted, on the wire and after gzip.
pub const MAX_BODY: usize = 16 * 1024 * 1024;

/// The body encoding of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf` (or no content type).
    Protobuf,
    /// `application/json` (OTLP/JSON).
    Json,
}

/// What one request to the receiver carried.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// The request headers (an access token from `OTEL_EXPORTER_OTLP_HEADERS` shows up here).
    pub headers: HeaderMap,
    /// The body encoding, if the content type was one the receiver takes.
    pub encoding: Option<Encoding>,
    /// Whether the body was gzip-compressed.
    pub gzip: bool,
    /// Body bytes on the wire.
    pub wire_bytes: usize,
    /// Spans converted into documents of the collector.
    pub spans: usize,
    /// The HTTP status answered.
    pub status: u16,
    /// Why the request (or some of its spans) was refused.
    pub error: Option<String>,
}

#[derive(Debug)]
struct State {
    collector: Arc<Collector>,
    requests: Mutex<Vec<ReceivedRequest>>,
}

/// The running receiver; dropping it stops the server (and removes the CA file in TLS mode).
#[derive(Debug)]
pub struct OtlpReceiver {
    server: ServerHandle,
    ca: Option<LocalCa>,
    state: Arc<State>,
}

impl OtlpReceiver {
    /// Listens on `127.0.0.1:port` (`0`: a free port), adding what arrives to `collector`. With
    /// `tls`, a CA and server certificate are made first ([`LocalCa::generate`]) and the
    /// receiver speaks HTTPS only.
    pub async fn start(
        collector: Arc<Collector>,
        port: u16,
        tls: bool,
    ) -> io::Result<OtlpReceiver> {
        let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot listen for OTLP on 127.0.0.1:{port}: {e}"),
                )
            })?;
        let ca = if tls {
            Some(LocalCa::generate()?)
        } else {
            None
        };
        let acceptor = ca.as_ref().map(|ca| TlsAcceptor::from(ca.server_config()));
        let state = Arc::new(State {
            collector,
            requests: Mutex::new(Vec::new()),
        });
        let handler_state = state.clone();
        let server = server::spawn_with_tls(listener, acceptor, move |req| {
            let state = handler_state.clone();
            async move { state.handle(req).await }
        })?;
        Ok(OtlpReceiver { server, ca, state })
    }

    /// The address listened on.
    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// Whether the receiver speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.ca.is_some()
    }

    /// The base URL, `http(s)://127.0.0.1:<port>`: an `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.address())
    }

    /// The traces URL, `<endpoint>/v1/traces`: an `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`.
    pub fn traces_url(&self) -> String {
        format!("{}{TRACES_PATH}", self.endpoint())
    }

    /// The CA of the TLS mode.
    pub fn ca(&self) -> Option<&LocalCa> {
        self.ca.as_ref()
    }

    /// The CA's PEM file in TLS mode: an `OTEL_EXPORTER_OTLP_CERTIFICATE`.
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_ref().map(LocalCa::ca_file)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A refusal: status and reason.
type Refusal = (u16, String);

impl State {
    async fn handle(&self, req: Request<Incoming>) -> HttpResponse {
        if req.uri().path() != TRACES_PATH {
            return server::response(404, "text/plain", format!("only {TRACES_PATH} is served"));
        }
        if req.method() != Method::POST {
            return server::response(405, "text/plain", "POST only");
        }
        let (parts, body) = req.into_parts();
        let mut record = ReceivedRequest {
            headers: parts.headers,
            encoding: None,
            gzip: false,
            wire_bytes: 0,
            spans: 0,
            status: 200,
            error: None,
        };
        let wire = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map(|b| b.to_bytes());
        let response = match wire {
            Ok(wire) => {
                record.wire_bytes = wire.len();
                self.accept(&mut record, &wire)
            }
            Err(e) => {
                let too_large = e.is::<http_body_util::LengthLimitError>();
                let refusal = if too_large {
                    (413, format!("body over {MAX_BODY} bytes"))
                } else {
                    (400, format!("cannot read the body: {e}"))
                };
                refuse(&mut record, refusal)
            }
        };
        if let Some(error) = &record.error {
            self.collector.reject(format!("OTLP request: {error}"));
        }
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record);
        response
    }

    /// Decodes and converts one body; adds its spans to the collector.
    fn accept(&self, record: &mut ReceivedRequest, wire: &Bytes) -> HttpResponse {
        let decoded = encoding_of(&record.headers).and_then(|encoding| {
            record.encoding = Some(encoding);
            record.gzip = is_gzip(&record.headers)?;
            let body = if record.gzip {
                gunzip(wire)?
            } else {
                wire.to_vec()
            };
            decode(encoding, &body).map(|request| (encoding, request))
        });
        let (encoding, request) = match decoded {
            Ok(d) => d,
            Err(refusal) => return refuse(record, refusal),
        };
        let converted = convert::documents(&request);
        record.spans = converted.documents.len();
        for document in converted.documents {
            self.collector.add(document, Source::Otlp);
        }
        let mut answer = ExportTraceServiceResponse::default();
        if !converted.rejected.is_empty() {
            let message = converted.rejected.join("; ");
            record.error = Some(message.clone());
            answer.partial_success = Some(ExportTracePartialSuccess {
                rejected_spans: i64::try_from(converted.rejected.len()).unwrap_or(i64::MAX),
                error_message: message,
            });
        }
        match encoding {
            Encoding::Protobuf => {
                server::response(200, "application/x-protobuf", answer.encode_to_vec())
            }
            Encoding::Json => {
                let text = if answer.partial_success.is_some() {
                    serde_json::to_string(&answer).unwrap_or_else(|_| "{}".into())
                } else {
                    "{}".into()
                };
                server::response(200, "application/json", text)
            }
        }
    }
}

fn refuse(record: &mut ReceivedRequest, (status, why): Refusal) -> HttpResponse {
    record.status = status;
    record.error = Some(why.clone());
    server::response(status, "text/plain", why)
}

/// The encoding named by `content-type` (parameters ignored; none at all means protobuf).
fn encoding_of(headers: &HeaderMap) -> Result<Encoding, Refusal> {
    let Some(value) = headers.get(hyper::header::CONTENT_TYPE) else {
        return Ok(Encoding::Protobuf);
    };
    let text = value.to_str().unwrap_or("");
    let media = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" => Ok(Encoding::Json),
        _ => Err((415, format!("unsupported content-type {text:?}"))),
    }
}

/// Whether `content-encoding` is gzip (none and `identity` are plain).
fn is_gzip(headers: &HeaderMap) -> Result<bool, Refusal> {
    let Some(value) = headers.get(hyper::header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    let text = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    match text.as_str() {
        "gzip" => Ok(true),
        "" | "identity" => Ok(false),
        _ => Err((415, format!("unsupported content-encoding {text:?}"))),
    }
}

fn gunzip(wire: &[u8]) -> Result<Vec<u8>, Refusal> {
    let mut out = Vec::new();
    let limit = u64::try_from(MAX_BODY).unwrap_or(u64::MAX) + 1;
    flate2::read::GzDecoder::new(wire)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| (400, format!("not gzip: {e}")))?;
    if out.len() > MAX_BODY {
        return Err((413, format!("body over {MAX_BODY} bytes once decompressed")));
    }
    Ok(out)
}

fn decode(encoding: Encoding, body: &[u8]) -> Result<ExportTraceServiceRequest, Refusal> {
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body)
            .map_err(|e| (400, format!("not an ExportTraceServiceRequest: {e}"))),
        Encoding::Json => serde_json::from_slice(body).map_err(|e| {
            (
                400,
                format!("not an OTLP/JSON ExportTraceServiceRequest: {e}"),
            )
        }),
    }
}
