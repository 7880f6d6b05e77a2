//! Variant G of `make bench-alternatives`: variant E with opentelemetry-aws's X-Ray exporter
//! instead of OTLP: `XrayExporter` over its `XrayDaemonClient` (feature `xray-daemon-client`,
//! UDP to `AWS_XRAY_DAEMON_ADDRESS`), X-Ray trace ids from `XrayIdGenerator`, the three
//! attributes of the child spans indexed as annotations.
//!
//! As in the exporter's documentation, the provider uses the batch processor; the flush function
//! of lambda_runtime's `OpenTelemetryLayer` calls `force_flush`, after the response and before
//! the next `/next` poll. The exporter translates each span into its own segment document and
//! sends one datagram per document.
//!
//! As in E, the handler first makes the layer's span a `SERVER` span in the event's X-Ray trace
//! (`server_span_in_event_trace`). Here it is not optional: left `INTERNAL`, the invocation span
//! becomes a subsegment without a parent, which the exporter drops silently (its error log is
//! behind the `internal-logs` feature): three documents per invocation instead of four.

use std::net::SocketAddr;

use lambda_runtime::layers::OpenTelemetryLayer;
use lambda_runtime::{Error, Runtime, service_fn};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_aws::xray_exporter::{SegmentTranslator, XrayExporter};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let address: SocketAddr = std::env::var("AWS_XRAY_DAEMON_ADDRESS")
        .unwrap_or_else(|_| "127.0.0.1:2000".to_owned())
        .parse()?;
    let translator = SegmentTranslator::new()
        .with_indexed_attr("items".to_owned())
        .with_indexed_attr("total".to_owned())
        .with_indexed_attr("orderId".to_owned())
        // The bench event's trace id dates from 2016 (the sample event); the translator rejects
        // trace ids older than 30 days, as X-Ray would (every span of the batch fails then).
        .skip_timestamp_validation();
    let exporter = XrayExporter::new(XrayDaemonClient::new(address)?).with_translator(translator);
    let provider = SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        .with_batch_exporter(exporter)
        .build();
    tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("alt-otel-xray"))
                .with_context_activation(false),
        )
        .with(LevelFilter::INFO)
        .try_init()?;
    let flush = move || {
        if let Err(e) = provider.force_flush() {
            eprintln!("alt-otel-xray: force_flush: {e}");
        }
    };
    Runtime::new(service_fn(lambda_trace_bench_alternatives::traced_server))
        .layer(OpenTelemetryLayer::new(flush))
        .run()
        .await
}
