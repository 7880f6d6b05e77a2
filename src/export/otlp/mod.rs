//! [`OtlpExporter`]: spans to an OpenTelemetry collector over OTLP/HTTP protobuf (feature `otlp`).
//!
//! Each invocation's spans become one `ExportTraceServiceRequest` (the generated types of
//! `opentelemetry-proto`), POSTed to the traces endpoint with
//! `content-type: application/x-protobuf`. The HTTP client is built once, with the exporter, and
//! keeps its connection alive between invocations, so a warm function pays one request, not a
//! TCP handshake, per invocation.
//!
//! # Configuration
//!
//! | variable | default |
//! |---|---|
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | (used as is) |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318`, with `/v1/traces` appended |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | none; `key=value,key2=value2`, values URL-decoded (`lightstep-access-token=…`, `x-honeycomb-team=…`) |
//!
//! **Plain HTTP only.** The usual Lambda setup is a collector next to the function: the ADOT
//! Lambda layer (or any collector extension) listening on `localhost:4318`, which forwards over
//! TLS to the backend. An `https://` endpoint is refused by [`OtlpExporter::new`]; the layer then
//! falls back to the X-Ray daemon exporter with one log line.
//!
//! # Bounded, not retried
//!
//! The layer awaits the POST up to the flush deadline (`LAMBDA_TRACE_FLUSH_TIMEOUT_MS`, never
//! past the invocation's own deadline) and then drops it: a slow or unreachable collector costs
//! at most that, and one log line per kind of failure. There is no retry and no compression:
//! both trade invocation time for delivery, which the flush budget does not have.
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
//! spans ([`Rejected`](crate::ExportError::Rejected)). Any other status is
//! [`Other`](crate::ExportError::Other) (`HTTP 500 Internal Server Error: …`); a connection
//! failure is [`Io`](crate::ExportError::Io).
//!
//! ```no_run
//! use lambda_trace::TraceLayer;
//! use lambda_trace::export::OtlpExporter;
//!
//! let exporter = OtlpExporter::new("http://localhost:4318/v1/traces")?
//!     .with_header("x-tenant", "orders")?;
//! let layer = TraceLayer::builder().exporter(exporter).build();
//! # let _ = layer;
//! # Ok::<(), std::io::Error>(())
//! ```

mod client;

use std::fmt;
use std::io;

use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Uri};
use prost::Message;

use super::{Export, Exporter};
use crate::config::Config;
use crate::span::SpanBatch;

/// Sends each invocation's spans to an OTLP/HTTP collector; see the [module docs](self).
pub struct OtlpExporter {
    client: client::HttpClient,
}

impl OtlpExporter {
    /// An exporter POSTing to `endpoint`, the full traces URL
    /// (`http://localhost:4318/v1/traces`). No connection is opened before the first export.
    ///
    /// Errors ([`io::ErrorKind::InvalidInput`]): not a URL, no host, or a scheme other than
    /// `http` (HTTPS is not supported; see the [module docs](self)).
    pub fn new(endpoint: &str) -> io::Result<Self> {
        let invalid = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "invalid OTLP endpoint {:?}: {why}",
                    crate::log_safe::log_safe(endpoint)
                ),
            )
        };
        let uri: Uri = endpoint
            .trim()
            .parse()
            .map_err(|e| invalid(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(invalid(
                    "HTTPS is not supported; send to a local collector over HTTP \
                     (e.g. the ADOT extension on http://localhost:4318)",
                ));
            }
            _ => return Err(invalid("expected an http:// URL")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(invalid("no host"));
        }
        Ok(Self {
            client: client::HttpClient::new(uri),
        })
    }

    /// An exporter for the configured endpoint and headers ([`Config::otlp_endpoint`],
    /// [`Config::otlp_headers`]).
    pub fn from_config(config: &Config) -> io::Result<Self> {
        let mut exporter = Self::new(&config.otlp_endpoint)?;
        for (name, value) in config.otlp_headers.iter() {
            exporter = exporter.with_header(name, value)?;
        }
        Ok(exporter)
    }

    /// An exporter configured from the environment (`OTEL_EXPORTER_OTLP_*`).
    pub fn from_env() -> io::Result<Self> {
        Self::from_config(&Config::from_env())
    }

    /// Adds a header to every request (an access token, a tenant). Replaces an earlier value of
    /// the same header, including `content-type`.
    ///
    /// Errors ([`io::ErrorKind::InvalidInput`]): a name or value HTTP does not allow.
    pub fn with_header(mut self, name: &str, value: &str) -> io::Result<Self> {
        let invalid = |what: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "invalid OTLP header {what} for {:?}",
                    crate::log_safe::log_safe(name)
                ),
            )
        };
        let name = HeaderName::try_from(name.trim()).map_err(|_| invalid("name"))?;
        let mut value = HeaderValue::try_from(value.trim()).map_err(|_| invalid("value"))?;
        value.set_sensitive(true);
        self.client.headers_mut().insert(name, value);
        Ok(self)
    }

    /// The traces endpoint.
    pub fn endpoint(&self) -> &Uri {
        self.client.endpoint()
    }

    /// The headers sent with every request.
    pub fn headers(&self) -> &HeaderMap {
        self.client.headers()
    }
}

/// Shows the endpoint and header names, never header values (they hold access tokens).
impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers().keys().map(HeaderName::as_str).collect();
        f.debug_struct("OtlpExporter")
            .field("endpoint", &self.endpoint().to_string())
            .field("headers", &names)
            .finish_non_exhaustive()
    }
}

impl Exporter for OtlpExporter {
    fn export(&self, batch: SpanBatch) -> Export {
        let body = crate::otlp::protobuf::request(&batch).encode_to_vec();
        Export::Pending(self.client.post(body, batch.spans.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let e = OtlpExporter::new("http://localhost:4318/v1/traces").unwrap();
        assert_eq!(e.endpoint().to_string(), "http://localhost:4318/v1/traces");
        for bad in [
            "",
            "localhost:4318",
            "https://api.honeycomb.io/v1/traces",
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
    }
}
