//! Variant K of `make bench-alternatives`: variant E over HTTPS. The bench handler under
//! lambda_runtime's own `OpenTelemetryLayer`, its spans exported by opentelemetry-otlp over
//! OTLP/HTTP (protobuf) to `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, here the driver's `https://`
//! receiver, from the batch processor's thread after the response (`force_flush` in the layer's
//! flush function), as in E.
//!
//! TLS is opentelemetry-otlp's `reqwest-rustls` feature: reqwest's `rustls` (rustls with the
//! aws-lc-rs provider, rustls-platform-verifier for the system's roots). opentelemetry-otlp 0.33
//! builds its reqwest client without reading `OTEL_EXPORTER_OTLP_CERTIFICATE`, so this binary
//! builds the blocking client itself, with the CA certificates of that file added to the
//! platform's roots (`tls_certs_merge`), and hands it over with `with_http_client` — what a user
//! whose collector has a private CA has to do. The client is built on a thread of its own, as
//! opentelemetry-otlp does (reqwest's blocking client must not be built inside a tokio runtime).

use std::time::Duration;

use lambda_runtime::layers::OpenTelemetryLayer;
use lambda_runtime::{Error, Runtime, service_fn};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// opentelemetry-otlp's default export timeout, which its own client would get.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The blocking client opentelemetry-otlp would build, plus the CAs of
/// `OTEL_EXPORTER_OTLP_CERTIFICATE` (when set) on top of the platform's roots.
fn client() -> Result<reqwest::blocking::Client, Error> {
    let mut builder = reqwest::blocking::Client::builder().timeout(TIMEOUT);
    if let Some(path) = std::env::var_os("OTEL_EXPORTER_OTLP_CERTIFICATE") {
        let pem = std::fs::read(&path)
            .map_err(|e| format!("OTEL_EXPORTER_OTLP_CERTIFICATE {path:?}: {e}"))?;
        builder = builder.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem)?);
    }
    Ok(builder.build()?)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client = std::thread::spawn(client)
        .join()
        .map_err(|_| "building the HTTP client panicked")??;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(client)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("alt-otel-otlp-tls"))
                .with_context_activation(false),
        )
        .with(LevelFilter::INFO)
        .try_init()?;
    let flush = move || {
        if let Err(e) = provider.force_flush() {
            eprintln!("alt-otel-otlp-tls: force_flush: {e}");
        }
    };
    Runtime::new(service_fn(lambda_trace_bench_alternatives::traced_server))
        .layer(OpenTelemetryLayer::new(flush))
        .run()
        .await
}
