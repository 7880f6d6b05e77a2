//! `tls-probe`: one cold OTLP/HTTP(S) export from a fresh process, timed phase by phase.
//!
//! Built once per feature set (see `build.sh`); run by `driver.py`, which reads the single JSON
//! line it prints (times in microseconds). Environment:
//!
//! - `TLS_PROBE_URL`: the endpoint, e.g. `https://127.0.0.1:4443/v1/traces`.
//! - `OTEL_EXPORTER_OTLP_CERTIFICATE`: PEM file of extra trust anchors (the exporter honours it).
//! - `TLS_PROBE_KX=x25519`: offer X25519 only (aws-lc-rs otherwise also offers X25519MLKEM768).
//! - `TLS_PROBE_PRIME=1`: draw 32 random bytes from the provider during init, timed apart as
//!   `prime_us` (aws-lc seeds its DRBG from CPU jitter entropy on first use).
//! - `TLS_PROBE_INFO=1`: after the timed exports, one more handshake (untimed) to report the
//!   negotiated protocol version, cipher suite and key exchange group.

#[cfg(not(any(feature = "none", feature = "tls")))]
compile_error!(
    "enable `none`, or one provider (`ring`/`aws-lc`) and one store (`webpki`/`native`)"
);
#[cfg(all(feature = "none", feature = "tls"))]
compile_error!("`none` is the plain-HTTP baseline: no TLS feature with it");
#[cfg(all(feature = "tls", feature = "ring", feature = "aws-lc"))]
compile_error!("pick one provider");
#[cfg(all(feature = "tls", not(any(feature = "ring", feature = "aws-lc"))))]
compile_error!("pick a provider: `ring` or `aws-lc`");
#[cfg(all(feature = "tls", feature = "webpki", feature = "native"))]
compile_error!("pick one root store");
#[cfg(all(feature = "tls", not(any(feature = "webpki", feature = "native"))))]
compile_error!("pick a root store: `webpki` or `native`");

use std::fmt::Write as _;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Size of the exported body: a small OTLP `ExportTraceServiceRequest` (a handful of spans).
const BODY_LEN: usize = 2048;

/// `"key":value` pairs of the JSON line, in order.
#[derive(Default)]
struct Report(String);

impl Report {
    fn num(&mut self, key: &str, value: impl std::fmt::Display) {
        let sep = if self.0.is_empty() { "" } else { "," };
        let _ = write!(self.0, "{sep}\"{key}\":{value}");
    }
    fn us(&mut self, key: &str, since: Instant) {
        self.num(key, since.elapsed().as_micros());
    }
    fn str(&mut self, key: &str, value: &str) {
        self.num(key, format_args!("\"{}\"", value.replace(['"', '\\'], "?")));
    }
}

fn variant() -> &'static str {
    if cfg!(feature = "none") {
        "none"
    } else {
        match (cfg!(feature = "ring"), cfg!(feature = "webpki")) {
            (true, true) => "ring-webpki",
            (true, false) => "ring-native",
            (false, true) => "aws-lc-webpki",
            (false, false) => "aws-lc-native",
        }
    }
}

fn main() {
    let start = Instant::now();
    let url: hyper::Uri = std::env::var("TLS_PROBE_URL")
        .expect("TLS_PROBE_URL")
        .parse()
        .expect("TLS_PROBE_URL is a URI");
    let mut report = Report::default();
    report.str("variant", variant());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .expect("tokio runtime");
    report.us("runtime_us", start);
    rt.block_on(run(url, &mut report));
    report.us("main_us", start);
    report.num("rss_hwm_kb", peak_rss_kb());
    println!("{{{}}}", report.0);
}

/// Peak resident set size of this process (`VmHWM`, Linux), 0 where unknown.
fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn run(url: hyper::Uri, report: &mut Report) {
    let init = Instant::now();
    // As the exporter's `pooled_client` (and reqwest, and the AWS SDK's client) does.
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    #[cfg(feature = "tls")]
    let (connector, config) = {
        let config = tls::client_config(report);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        (connector, config)
    };
    #[cfg(feature = "none")]
    let connector = http;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    report.us("init_us", init);

    let body = Bytes::from(
        (0..BODY_LEN)
            .map(|i| (i * 31 % 251) as u8)
            .collect::<Vec<_>>(),
    );
    for key in ["first_us", "warm_us"] {
        let t = Instant::now();
        let request = hyper::Request::post(url.clone())
            .header("content-type", "application/x-protobuf")
            .body(Full::new(body.clone()))
            .expect("request");
        let response = client.request(request).await.expect("export");
        let status = response.status();
        response.into_body().collect().await.expect("response body");
        assert!(status.is_success(), "export answered {status}");
        report.us(key, t);
    }

    #[cfg(feature = "tls")]
    if std::env::var_os("TLS_PROBE_INFO").is_some() {
        tls::handshake_info(&url, config, report);
    }
}

#[cfg(feature = "tls")]
mod tls {
    use std::sync::Arc;
    use std::time::Instant;

    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConfig, NamedGroup, RootCertStore};

    use super::Report;

    fn provider() -> rustls::crypto::CryptoProvider {
        #[cfg(feature = "ring")]
        let mut provider = rustls::crypto::ring::default_provider();
        #[cfg(feature = "aws-lc")]
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if std::env::var("TLS_PROBE_KX").is_ok_and(|kx| kx == "x25519") {
            provider
                .kx_groups
                .retain(|g| g.name() == NamedGroup::X25519);
        }
        provider
    }

    /// The bundled Mozilla roots, as trust anchors compiled into the binary.
    #[cfg(feature = "webpki")]
    fn base_roots() -> RootCertStore {
        RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        }
    }

    /// The system store: read and parse PEM files, then every certificate into a trust anchor.
    #[cfg(feature = "native")]
    fn base_roots() -> RootCertStore {
        let loaded = rustls_native_certs::load_native_certs();
        let mut roots = RootCertStore::empty();
        roots.add_parsable_certificates(loaded.certs);
        roots
    }

    pub(super) fn client_config(report: &mut Report) -> ClientConfig {
        let t = Instant::now();
        let mut roots = base_roots();
        report.us("roots_us", t);
        report.num("roots_n", roots.len());
        if let Some(path) = std::env::var_os("OTEL_EXPORTER_OTLP_CERTIFICATE") {
            for cert in CertificateDer::pem_file_iter(path).expect("CA file") {
                roots.add(cert.expect("CA PEM")).expect("CA certificate");
            }
        }
        let provider = provider();
        if std::env::var_os("TLS_PROBE_PRIME").is_some() {
            let t = Instant::now();
            provider.secure_random.fill(&mut [0; 32]).expect("random");
            report.us("prime_us", t);
        }
        ClientConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    /// An extra, untimed handshake with plain rustls to see what was negotiated.
    pub(super) fn handshake_info(url: &hyper::Uri, config: ClientConfig, report: &mut Report) {
        let host = url.host().expect("host");
        let name = ServerName::try_from(host.to_owned()).expect("server name");
        let mut conn = rustls::ClientConnection::new(Arc::new(config), name).expect("connection");
        let mut sock =
            std::net::TcpStream::connect((host, url.port_u16().unwrap_or(443))).expect("connect");
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).expect("handshake");
        }
        let version = conn.protocol_version().map(|v| format!("{v:?}"));
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        let kx = conn
            .negotiated_key_exchange_group()
            .map(|g| format!("{:?}", g.name()));
        report.str("version", version.as_deref().unwrap_or("?"));
        report.str("suite", suite.as_deref().unwrap_or("?"));
        report.str("kx", kx.as_deref().unwrap_or("?"));
    }
}
