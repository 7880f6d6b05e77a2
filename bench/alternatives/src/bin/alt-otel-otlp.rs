//! Variant E of `make bench-alternatives`: the bench handler under lambda_runtime's own
//! `OpenTelemetryLayer` (feature `opentelemetry`), its spans turned into OpenTelemetry spans by
//! tracing-opentelemetry and exported by opentelemetry-otlp over OTLP/HTTP (protobuf) to
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the driver's receiver).
//!
//! Set up as the documentation of each piece says: opentelemetry-otlp's default HTTP client, the
//! reqwest *blocking* client, goes with the SDK's default `BatchSpanProcessor` (which exports
//! from its own thread); the layer's flush function calls `force_flush` on the provider, as in
//! lambda_runtime's `opentelemetry-tracing` example. The layer wraps the runtime's service, so
//! the flush runs after the response is posted and before the next `/next` poll.
//!
//! The handler first makes the layer's span a `SERVER` span in the event's X-Ray trace
//! (`server_span_in_event_trace`; on its own the layer's span is `INTERNAL` and starts a new
//! trace), which needs tracing-opentelemetry's `with_context_activation(false)`.

use lambda_runtime::layers::OpenTelemetryLayer;
use lambda_runtime::{Error, Runtime, service_fn};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .build();
    tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("alt-otel-otlp"))
                .with_context_activation(false),
        )
        .with(LevelFilter::INFO)
        .try_init()?;
    let flush = move || {
        if let Err(e) = provider.force_flush() {
            eprintln!("alt-otel-otlp: force_flush: {e}");
        }
    };
    Runtime::new(service_fn(lambda_trace_bench_alternatives::traced_server))
        .layer(OpenTelemetryLayer::new(flush))
        .run()
        .await
}
