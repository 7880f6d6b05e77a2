//! [`OtlpExporter`]: spans to any OpenTelemetry backend over OTLP/HTTP (feature `otlp`), over
//! TLS or plain HTTP, as protobuf or JSON, optionally gzip-compressed; and to X-Ray's own OTLP
//! endpoint, signed with SigV4 (feature `xray-otlp`).
//!
//! Each invocation's spans become one `ExportTraceServiceRequest` (the generated types of
//! `opentelemetry-proto`, or the OTLP/JSON text of the same request), POSTed to the traces
//! endpoint. The HTTP client is built once, with the exporter, and keeps its connection alive
//! between invocations, so a warm function pays one request, not a TCP or TLS handshake, per
//! invocation. No collector extension is needed: hosted backends (Honeycomb, Grafana Cloud,
//! Lightstep, Datadog's OTLP intake) take the request directly over HTTPS with their access
//! header.
//!
//! # Configuration
//!
//! | variable | default |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | (used as is) |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318`, with `/v1/traces` appended |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | none; `key=value,key2=value2`, values URL-decoded (`lightstep-access-token=…`, `x-honeycomb-team=…`) |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `…_TRACES_PROTOCOL` | `http/protobuf`; or `http/json` (`grpc`: one log line, then `http/protobuf`) |
//! | `OTEL_EXPORTER_OTLP_COMPRESSION`, `…_TRACES_COMPRESSION` | `none`; or `gzip` |
//! | `OTEL_EXPORTER_OTLP_TIMEOUT`, `…_TRACES_TIMEOUT` | `10000` ms, within the flush deadline |
//! | `OTEL_EXPORTER_OTLP_CERTIFICATE`, `…_TRACES_CERTIFICATE` | none; a PEM file of CA certificates trusted besides the bundled roots |
//!
//! TLS is rustls with the `ring` provider and Mozilla's root certificates compiled in
//! (`webpki-roots`): no OpenSSL, no file read at init. See `bench/tls-choice/README.md` for the
//! measurements behind that choice.
//!
//! # Bounded, retried once
//!
//! The layer awaits the POST up to the flush deadline (`LAMBDA_TRACE_FLUSH_TIMEOUT_MS`, never
//! past the invocation's own deadline) and then drops it: a slow or unreachable backend costs
//! at most that, and one log line per kind of failure. An answer of 429, 502, 503 or 504 is
//! retried once, after its `Retry-After` (in seconds) or 50 ms, only when that wait and 20 ms
//! more fit before the deadline; otherwise the failure is reported as it came.
//!
//! # After the response: the answer is read by the next export
//!
//! In the after-response mode ([`SpanBatch::after_response`]) the export runs on time Lambda
//! bills (before `/next`), where waiting for the backend's answer would bill a whole round trip
//! per invocation — a few milliseconds to a hosted backend, more across regions. There the
//! export ends as soon as the request is written out and flushed to the socket (the bytes are
//! the kernel's to deliver, frozen process or not), and the next export first reads the answer:
//! a failure is reported then, prefixed `the previous export:`; a 429/502/503/504, or a
//! connection closed with no answer, sends that request once more (awaited); an answer that
//! does not come within half of the next export's time closes the connection. The cost: a
//! failure is logged one invocation late, and the spans of the environment's very last
//! invocation are not retried.
//!
//! # What is sent
//!
//! Resource: `service.name`, `cloud.provider=aws`, `cloud.platform=aws_lambda`, `cloud.region`,
//! `faas.name`, `faas.version`, `faas.instance` (the log stream), `faas.max_memory` (bytes),
//! `aws.log.group.names`, `aws.log.stream.names`. Scope: `lambda-trace` with the crate's
//! version. Spans: ids as bytes; the invocation span's parent is the caller's span or, under
//! Active tracing, Lambda's segment (flagged as a remote parent); kind `SERVER` / `INTERNAL` /
//! `CLIENT`. Attributes, status, events and links:
//!
//! | record | OTLP |
//! |---|---|
//! | semantic-convention attributes (`faas.*`, `cloud.*`, `http.*`) | as they are |
//! | HTTP request / response data | `http.request.method`, `url.full` or `url.path`, `http.route`, `user_agent.original`, `client.address`, `http.response.status_code`, `http.response.body.size` |
//! | annotations | attributes under their own key (`orderId`, `ColdStart`, `Service`) |
//! | metadata | `lambda_trace.metadata.<namespace>.<key>` = the value as JSON text |
//! | a span closed by the layer | `lambda_trace.unfinished = true` |
//! | spans over the limit | `lambda_trace.dropped_spans` on the invocation span |
//! | fault (5xx, `Err`, panic) | status `ERROR`, message = the first exception's message |
//! | error / throttle (4xx) | `UNSET` on the invocation (server) span, as the HTTP semantic conventions ask; `ERROR` on client and internal spans |
//! | exceptions | `exception` events with `exception.message`, `exception.type` |
//! | links | links (a caller's context that Lambda's trace replaced) |
//!
//! # Answers
//!
//! A 2xx is success, unless its `ExportTraceServiceResponse.partial_success` counts rejected
//! spans ([`Rejected`](crate::export::ExportError::Rejected)). Any other status is
//! [`Other`](crate::export::ExportError::Other) (`HTTP 500 Internal Server Error: …`); a connection or
//! TLS failure (an untrusted certificate, TLS spoken to a plain-HTTP port) is
//! [`Io`](crate::export::ExportError::Io).
//!
//! ```no_run
//! use lambda_trace::TraceLayer;
//! use lambda_trace::config::{OtlpCompression, OtlpProtocol};
//! use lambda_trace::export::OtlpExporter;
//!
//! let exporter = OtlpExporter::new("https://api.honeycomb.io/v1/traces")?
//!     .with_header("x-honeycomb-team", "your-api-key")?
//!     .with_protocol(OtlpProtocol::HttpProtobuf)
//!     .with_compression(OtlpCompression::Gzip);
//! let layer = TraceLayer::builder().exporter(exporter).build();
//! # let _ = layer;
//! # Ok::<(), std::io::Error>(())
//! ```

mod answer;
mod client;
mod connection;
mod socket;
mod tls;
#[cfg(feature = "xray-otlp")]
mod xray;

use std::fmt;
use std::io::{self, Write as _};
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{HeaderMap, Uri};
use prost::Message;
use rustls::pki_types::CertificateDer;

use super::{Export, Exporter};
use crate::config::{Config, OtlpCompression, OtlpProtocol};
use crate::log_safe::log_safe;
use crate::otlp::model::Dialect;
use crate::span::SpanBatch;
#[cfg(feature = "xray-otlp")]
pub(crate) use xray::region_of_host;
#[cfg(feature = "xray-otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "xray-otlp")))]
pub use xray::{XrayCredentials, xray_endpoint};

/// Sends each invocation's spans to an OTLP/HTTP endpoint; see the [module docs](self).
pub struct OtlpExporter {
    client: client::HttpClient,
    protocol: OtlpProtocol,
    compression: OtlpCompression,
    timeout: Duration,
    trusted: Vec<CertificateDer<'static>>,
    dialect: Dialect,
}

impl OtlpExporter {
    /// An exporter POSTing to `endpoint`, the full traces URL
    /// (`https://api.honeycomb.io/v1/traces`, `http://localhost:4318/v1/traces`): protobuf,
    /// uncompressed, [`DEFAULT_OTLP_TIMEOUT`](crate::config::DEFAULT_OTLP_TIMEOUT), trusting the
    /// bundled roots. No connection is opened before the first export.
    ///
    /// Errors ([`io::ErrorKind::InvalidInput`]): not a URL, no host, or a scheme other than
    /// `http` and `https`.
    pub fn new(endpoint: &str) -> io::Result<Self> {
        let uri = parse_endpoint(endpoint)?;
        let protocol = OtlpProtocol::default();
        Ok(Self {
            client: client::HttpClient::new(
                uri,
                tls::client_config(&[])?,
                protocol.content_type(),
            )?,
            protocol,
            compression: OtlpCompression::default(),
            timeout: crate::config::DEFAULT_OTLP_TIMEOUT,
            trusted: Vec::new(),
            dialect: Dialect::Otel,
        })
    }

    /// An exporter for the configured endpoint, headers, protocol, compression, timeout and
    /// trusted certificates ([`Config::otlp`]). A certificate file that cannot be read or holds
    /// no certificate is skipped with one log line (the bundled roots still apply).
    pub fn from_config(config: &Config) -> io::Result<Self> {
        Self::new(config.otlp.traces_endpoint())?.configured(config)
    }

    /// An exporter configured from the environment (`OTEL_EXPORTER_OTLP_*`).
    pub fn from_env() -> io::Result<Self> {
        Self::from_config(&Config::from_env())
    }

    /// Everything of `config.otlp` but the endpoint.
    pub(crate) fn configured(mut self, config: &Config) -> io::Result<Self> {
        let otlp = &config.otlp;
        for (name, value) in otlp.headers.iter() {
            self = self.with_header(name, value)?;
        }
        self = self
            .with_protocol(otlp.protocol)
            .with_compression(otlp.compression)
            .with_timeout(otlp.timeout);
        if let Some(path) = &otlp.certificate {
            let trusted = std::fs::read(path).and_then(|pem| tls::certificates_from_pem(&pem));
            match trusted.and_then(|certs| self.trust(certs)) {
                Ok(()) => {}
                Err(e) => tracing::warn!(
                    target: "lambda_trace",
                    "OTEL_EXPORTER_OTLP_CERTIFICATE {:?}: {}; using the bundled roots only",
                    log_safe(path),
                    crate::log_safe::log_safe_message(&e.to_string())
                ),
            }
        }
        Ok(self)
    }

    /// Adds a header to every request (an access token, a tenant). Replaces an earlier value of
    /// the same header, including `content-type`. The value is marked sensitive and never shown.
    ///
    /// Errors ([`io::ErrorKind::InvalidInput`]): a name or value HTTP does not allow.
    pub fn with_header(mut self, name: &str, value: &str) -> io::Result<Self> {
        let invalid = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid OTLP header {what} for {:?}", log_safe(name)),
            )
        };
        let name = HeaderName::try_from(name.trim()).map_err(|_| invalid("name"))?;
        let mut value = HeaderValue::try_from(value.trim()).map_err(|_| invalid("value"))?;
        value.set_sensitive(true);
        self.client.headers_mut().insert(name, value);
        Ok(self)
    }

    /// The body encoding; sets `content-type` to match.
    pub fn with_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = protocol;
        self.client.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(protocol.content_type()),
        );
        self
    }

    /// The body compression (`gzip` sends `content-encoding: gzip`).
    pub fn with_compression(mut self, compression: OtlpCompression) -> Self {
        self.compression = compression;
        self
    }

    /// Most time one export may take, retry included; the flush deadline bounds it too.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts the CA certificates of `pem` (PEM text) besides the bundled roots: a private CA,
    /// or a test receiver's certificate.
    ///
    /// Errors ([`io::ErrorKind::InvalidInput`]): no certificate in `pem`, a broken PEM section,
    /// or a certificate rustls cannot use as a root.
    pub fn with_trusted_certificates_pem(mut self, pem: &[u8]) -> io::Result<Self> {
        self.trust(tls::certificates_from_pem(pem)?)?;
        Ok(self)
    }

    fn trust(&mut self, certs: Vec<CertificateDer<'static>>) -> io::Result<()> {
        let mut trusted = self.trusted.clone();
        trusted.extend(certs);
        self.client.set_tls(tls::client_config(&trusted)?)?;
        self.trusted = trusted;
        Ok(())
    }

    /// The traces endpoint.
    pub fn endpoint(&self) -> &Uri {
        self.client.endpoint()
    }

    /// The headers sent with every request.
    pub fn headers(&self) -> &HeaderMap {
        self.client.headers()
    }

    /// The body encoding.
    pub fn protocol(&self) -> OtlpProtocol {
        self.protocol
    }

    /// The body compression.
    pub fn compression(&self) -> OtlpCompression {
        self.compression
    }

    /// Most time one export may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The request body for `batch`, encoded and compressed.
    fn body(&self, batch: &SpanBatch) -> io::Result<Vec<u8>> {
        let encoded = match self.protocol {
            OtlpProtocol::HttpProtobuf => {
                crate::otlp::protobuf::request(batch, self.dialect).encode_to_vec()
            }
            OtlpProtocol::HttpJson => {
                let mut buf = Vec::with_capacity(4096);
                crate::otlp::json::write_request(batch, self.dialect, &mut buf);
                buf
            }
        };
        match self.compression {
            OtlpCompression::None => Ok(encoded),
            OtlpCompression::Gzip => {
                let out = Vec::with_capacity(encoded.len() / 4 + 64);
                let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
                gz.write_all(&encoded)?;
                gz.finish()
            }
        }
    }
}

/// The endpoint as a URI: `http` or `https`, with a host.
fn parse_endpoint(endpoint: &str) -> io::Result<Uri> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid OTLP endpoint {:?}: {why}", log_safe(endpoint)),
        )
    };
    let uri: Uri = endpoint
        .trim()
        .parse()
        .map_err(|e| invalid(&format!("{e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid("expected an http:// or https:// URL"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(uri)
}

/// Shows the endpoint, the settings and the header names, never header values (they hold
/// access tokens) nor credentials.
impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers().keys().map(HeaderName::as_str).collect();
        f.debug_struct("OtlpExporter")
            .field("endpoint", &self.endpoint().to_string())
            .field("headers", &names)
            .field("protocol", &self.protocol.as_str())
            .field("compression", &self.compression.as_str())
            .field("timeout", &self.timeout)
            .field("trusted_extra", &self.trusted.len())
            .field("signed", &self.client.is_signed())
            .finish_non_exhaustive()
    }
}

impl Exporter for OtlpExporter {
    fn export(&self, batch: SpanBatch) -> Export {
        let body = match self.body(&batch) {
            Ok(body) => body,
            Err(e) => return Export::Done(Err(e.into())),
        };
        let encoding = match self.compression {
            OtlpCompression::None => None,
            OtlpCompression::Gzip => Some((CONTENT_ENCODING, HeaderValue::from_static("gzip"))),
        };
        Export::Pending(self.client.post(
            batch.after_response,
            Bytes::from(body),
            encoding,
            batch.spans.len(),
            self.timeout,
            batch.deadline,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = OtlpExporter::new("http://localhost:4318/v1/traces").unwrap();
        assert_eq!(e.endpoint().to_string(), "http://localhost:4318/v1/traces");
        let e = OtlpExporter::new("https://api.honeycomb.io/v1/traces").unwrap();
        assert_eq!(e.endpoint().scheme_str(), Some("https"));
        for bad in [
            "",
            "localhost:4318",
            "ftp://x/v1/traces",
            "http:///v1/traces",
            "http://bad host/",
        ] {
            let err = OtlpExporter::new(bad).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert!(err.to_string().contains("invalid OTLP endpoint"), "{err}");
        }
    }

    #[test]
    fn headers_are_sent_but_never_shown() {
        let e = OtlpExporter::new("http://127.0.0.1:4318/v1/traces")
            .unwrap()
            .with_header("lightstep-access-token", "s3cret")
            .unwrap();
        assert_eq!(e.headers()["lightstep-access-token"], "s3cret");
        assert_eq!(e.headers()["content-type"], "application/x-protobuf");
        let shown = format!("{e:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("lightstep-access-token"), "{shown}");
        assert!(e.headers()["lightstep-access-token"].is_sensitive());
        assert!(
            OtlpExporter::new("http://127.0.0.1:4318/")
                .unwrap()
                .with_header("bad name", "v")
                .is_err()
        );
        assert!(
            OtlpExporter::new("http://127.0.0.1:4318/")
                .unwrap()
                .with_header("x", "line\nbreak")
                .is_err()
        );
    }

    #[test]
    fn from_config_reads_endpoint_and_headers() {
        let config = Config::from_lookup(|k| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://collector:4318/".into()),
            "OTEL_EXPORTER_OTLP_HEADERS" => Some("api-key=a%20b,x-team=t".into()),
            _ => None,
        });
        let e = OtlpExporter::from_config(&config).unwrap();
        assert_eq!(e.endpoint().to_string(), "http://collector:4318/v1/traces");
        assert_eq!(e.headers()["api-key"], "a b");
        assert_eq!(e.headers()["x-team"], "t");
        assert_eq!(e.protocol(), OtlpProtocol::HttpProtobuf);
        assert_eq!(e.headers()["content-type"], "application/x-protobuf");
    }

    #[test]
    fn protocol_compression_timeout_and_certificates_from_config() {
        let config = Config::from_lookup(|k| match k {
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" => {
                Some("https://otlp.example.com/v1/traces".into())
            }
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/json".into()),
            "OTEL_EXPORTER_OTLP_COMPRESSION" => Some("gzip".into()),
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT" => Some("250".into()),
            "OTEL_EXPORTER_OTLP_CERTIFICATE" => Some("/nonexistent/ca.pem".into()),
            _ => None,
        });
        let e = OtlpExporter::from_config(&config).unwrap();
        assert_eq!(e.protocol(), OtlpProtocol::HttpJson);
        assert_eq!(e.headers()["content-type"], "application/json");
        assert_eq!(e.compression(), OtlpCompression::Gzip);
        assert_eq!(e.timeout(), Duration::from_millis(250));
        assert!(
            format!("{e:?}").contains("trusted_extra: 0"),
            "a missing file is skipped"
        );
    }

    #[test]
    fn bodies_are_encoded_and_compressed_as_configured() {
        use std::io::Read as _;
        use std::sync::Arc;

        use crate::context::{SpanId, TraceId};
        use crate::span::{Resource, RootPlacement, SpanKind, SpanRecord};

        let root = SpanRecord::new(SpanId::generate(), None, "orders", SpanKind::Server, 1);
        let batch = SpanBatch::new(
            Arc::new(Resource::default()),
            TraceId::generate(),
            RootPlacement::Segment,
            vec![root],
        );
        let e = OtlpExporter::new("http://127.0.0.1:4318/v1/traces").unwrap();
        let protobuf = e.body(&batch).unwrap();
        let json = e.with_protocol(OtlpProtocol::HttpJson);
        let text = json.body(&batch).unwrap();
        assert!(text.starts_with(b"{\"resourceSpans\""));
        let gz = json
            .with_compression(OtlpCompression::Gzip)
            .body(&batch)
            .unwrap();
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, text);
        assert_ne!(protobuf, text);
    }
}
