//! The OTLP exporter's settings: endpoint, headers, body encoding, compression, timeout and the
//! extra trusted certificates, read from OpenTelemetry's standard `OTEL_EXPORTER_OTLP_*`
//! variables (a `_TRACES_` variable wins over the general one).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The default OTLP traces URL: a collector (the ADOT Lambda extension) next to the function.
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://localhost:4318/v1/traces";

/// OTLP request headers, in the `OTEL_EXPORTER_OTLP_HEADERS` format: `key=value,key2=value2`,
/// keys trimmed and lowercased, values trimmed and URL-decoded. Its `Debug` shows the keys only:
/// the values are usually access tokens.
///
/// ```
/// use lambda_trace::config::OtlpHeaders;
///
/// let headers = OtlpHeaders::parse("lightstep-access-token=abc%3D%3D, x-tenant = orders");
/// let pairs: Vec<_> = headers.iter().collect();
/// assert_eq!(pairs, [("lightstep-access-token", "abc=="), ("x-tenant", "orders")]);
/// assert!(!format!("{headers:?}").contains("abc"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OtlpHeaders(Vec<(String, String)>);

impl OtlpHeaders {
    /// Parses `key=value,key2=value2`. Entries without `=`, with an empty key or a value that
    /// does not URL-decode are skipped with one log line (naming the key, never the value).
    pub fn parse(list: &str) -> Self {
        let mut headers = Self::default();
        headers.extend_from(list);
        headers
    }

    /// The headers, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// `true` when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Sets `key` to `value`, replacing an earlier value of `key`.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let key = key.into().trim().to_ascii_lowercase();
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }

    pub(super) fn extend_from(&mut self, list: &str) {
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let parsed = entry
                .split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .and_then(|(k, v)| Some((k, crate::propagation::percent_decode(v.trim())?)));
            match parsed {
                Some((key, value)) => self.insert(key, value),
                None => tracing::warn!(
                    target: "lambda_trace",
                    "OTEL_EXPORTER_OTLP_HEADERS: malformed entry for key {:?}; ignored",
                    crate::log_safe::log_safe(entry.split('=').next().unwrap_or_default().trim())
                ),
            }
        }
    }
}

impl fmt::Debug for OtlpHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| format!("{k}=…")))
            .finish()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for OtlpHeaders {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut headers = Self::default();
        for (k, v) in iter {
            headers.insert(k, v);
        }
        headers
    }
}

/// The body encoding of OTLP/HTTP requests (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// `http/protobuf`: the binary protobuf encoding (`application/x-protobuf`). The default.
    #[default]
    HttpProtobuf,
    /// `http/json`: the OTLP/JSON encoding (`application/json`: hex ids, enum numbers,
    /// lowerCamelCase names).
    HttpJson,
}

impl OtlpProtocol {
    /// The configuration value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::HttpProtobuf => "http/protobuf",
            Self::HttpJson => "http/json",
        }
    }

    /// The request's `content-type`.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::HttpProtobuf => "application/x-protobuf",
            Self::HttpJson => "application/json",
        }
    }
}

impl fmt::Display for OtlpProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses the OpenTelemetry names. `grpc` is not one of them: this crate sends OTLP over
/// HTTP only (a gRPC client would double the binary), and [`OtlpConfig`] answers it with one
/// log line and `http/protobuf`, which every OTLP receiver that speaks gRPC on 4317 also takes
/// on 4318.
impl FromStr for OtlpProtocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "http/protobuf" => Ok(Self::HttpProtobuf),
            "http/json" => Ok(Self::HttpJson),
            other => Err(format!("unknown OTLP protocol {other:?}")),
        }
    }
}

/// The compression of OTLP/HTTP request bodies (`OTEL_EXPORTER_OTLP_COMPRESSION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OtlpCompression {
    /// Bodies as they are. The default, as OpenTelemetry's.
    #[default]
    None,
    /// `content-encoding: gzip`.
    Gzip,
}

impl OtlpCompression {
    /// The configuration value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Gzip => "gzip",
        }
    }
}

impl fmt::Display for OtlpCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OtlpCompression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "gzip" => Ok(Self::Gzip),
            other => Err(format!("unknown OTLP compression {other:?}")),
        }
    }
}

/// The default of `OTEL_EXPORTER_OTLP_TIMEOUT` (OpenTelemetry's: 10 s). The flush deadline of
/// the invocation bounds every export anyway, and is usually the shorter of the two.
pub const DEFAULT_OTLP_TIMEOUT: Duration = Duration::from_secs(10);

/// How spans are sent over OTLP/HTTP ([`Config::otlp`](super::Config::otlp)), read from the
/// standard variables; for each setting a `OTEL_EXPORTER_OTLP_TRACES_*` variable wins over the
/// general `OTEL_EXPORTER_OTLP_*` one.
///
/// ```
/// use std::time::Duration;
/// use lambda_trace::Config;
/// use lambda_trace::config::{OtlpCompression, OtlpProtocol};
///
/// let config = Config::from_lookup(|k| match k {
///     "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("https://api.honeycomb.io".into()),
///     "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/json".into()),
///     "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION" => Some("gzip".into()),
///     "OTEL_EXPORTER_OTLP_TIMEOUT" => Some("500".into()),
///     _ => None,
/// });
/// assert_eq!(config.otlp.traces_endpoint(), "https://api.honeycomb.io/v1/traces");
/// assert_eq!(config.otlp.protocol, OtlpProtocol::HttpJson);
/// assert_eq!(config.otlp.compression, OtlpCompression::Gzip);
/// assert_eq!(config.otlp.timeout, Duration::from_millis(500));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OtlpConfig {
    /// The traces URL when one is configured (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as is, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`); see [`traces_endpoint`](Self::traces_endpoint).
    pub endpoint: Option<String>,
    /// Extra request headers (`OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TRACES_HEADERS`).
    pub headers: OtlpHeaders,
    /// The body encoding (`OTEL_EXPORTER_OTLP_PROTOCOL`).
    pub protocol: OtlpProtocol,
    /// The body compression (`OTEL_EXPORTER_OTLP_COMPRESSION`).
    pub compression: OtlpCompression,
    /// Most time one export may take (`OTEL_EXPORTER_OTLP_TIMEOUT`, milliseconds), within the
    /// flush deadline.
    pub timeout: Duration,
    /// A PEM file of CA certificates trusted besides the built-in roots
    /// (`OTEL_EXPORTER_OTLP_CERTIFICATE`).
    pub certificate: Option<String>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            endpoint: None,
            headers: OtlpHeaders::default(),
            protocol: OtlpProtocol::default(),
            compression: OtlpCompression::default(),
            timeout: DEFAULT_OTLP_TIMEOUT,
            certificate: None,
        }
    }
}

impl OtlpConfig {
    /// The configured traces URL, else [`DEFAULT_OTLP_ENDPOINT`] (a collector next to the
    /// function).
    pub fn traces_endpoint(&self) -> &str {
        self.endpoint.as_deref().unwrap_or(DEFAULT_OTLP_ENDPOINT)
    }

    /// Reads the `OTEL_EXPORTER_OTLP_*` variables through `get` (trimmed, empty = unset).
    pub(super) fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Self {
        let pick = |name: &str| {
            get(&format!("OTEL_EXPORTER_OTLP_TRACES_{name}"))
                .map(|v| (format!("OTEL_EXPORTER_OTLP_TRACES_{name}"), v))
                .or_else(|| {
                    get(&format!("OTEL_EXPORTER_OTLP_{name}"))
                        .map(|v| (format!("OTEL_EXPORTER_OTLP_{name}"), v))
                })
        };
        let mut headers = OtlpHeaders::default();
        for k in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        ] {
            if let Some(list) = get(k) {
                headers.extend_from(&list);
            }
        }
        let endpoint = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").or_else(|| {
            get("OTEL_EXPORTER_OTLP_ENDPOINT")
                .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
        });
        Self {
            endpoint,
            headers,
            protocol: pick("PROTOCOL").map_or(OtlpProtocol::default(), |(k, v)| protocol(&k, &v)),
            compression: pick("COMPRESSION").map_or(OtlpCompression::default(), |(k, v)| {
                super::parse_or_default(&k, &v)
            }),
            timeout: pick("TIMEOUT").map_or(DEFAULT_OTLP_TIMEOUT, |(k, v)| {
                Duration::from_millis(super::parse_or_default_with(
                    &k,
                    &v,
                    DEFAULT_OTLP_TIMEOUT.as_millis() as u64,
                ))
            }),
            certificate: pick("CERTIFICATE").map(|(_, v)| v),
        }
    }
}

/// `OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc` gets its own log line (it is a valid OpenTelemetry
/// value, just not one this crate sends).
fn protocol(key: &str, value: &str) -> OtlpProtocol {
    if value.trim().eq_ignore_ascii_case("grpc") {
        tracing::warn!(
            target: "lambda_trace",
            "{key}=grpc: lambda-trace sends OTLP over HTTP only; using http/protobuf \
             (point the endpoint at the receiver's OTLP/HTTP port, usually 4318)"
        );
        return OtlpProtocol::HttpProtobuf;
    }
    super::parse_or_default(key, value)
}
