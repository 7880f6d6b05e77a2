//! The exporter a [`Config`] names, built: the one place that turns configuration into a
//! transport. Adding an exporter means a variant of [`ExporterKind`] and an arm here.

use std::sync::Arc;

use super::{DaemonExporter, Exporter, NoopExporter, StdoutExporter};
use crate::config::{Config, ExporterKind};
use crate::log_safe::{log_safe, log_safe_message};

/// The exporter `c` names, ready to use. Never fails: an exporter that cannot start is replaced
/// (the daemon's, or one that drops spans) with one log line.
pub(crate) fn exporter_for(c: &Config) -> Arc<dyn Exporter> {
    match c.exporter {
        ExporterKind::XrayDaemon => daemon_exporter(c),
        ExporterKind::Otlp => otlp_exporter(c),
        ExporterKind::Stdout => Arc::new(StdoutExporter::new()),
        ExporterKind::XrayApi => api_exporter(c),
        ExporterKind::None => Arc::new(NoopExporter),
    }
}

/// The OTLP exporter, or (with one log line) the daemon's when it cannot start.
#[cfg(feature = "otlp")]
fn otlp_exporter(c: &Config) -> Arc<dyn Exporter> {
    match crate::export::OtlpExporter::from_config(c) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            tracing::warn!(
                target: "lambda_trace",
                "OTLP exporter unavailable ({}); using the X-Ray daemon exporter",
                log_safe_message(&e.to_string())
            );
            daemon_exporter(c)
        }
    }
}

/// Without the `otlp` feature: one log line, then the daemon's exporter.
#[cfg(not(feature = "otlp"))]
fn otlp_exporter(c: &Config) -> Arc<dyn Exporter> {
    tracing::warn!(
        target: "lambda_trace",
        "the otlp exporter needs lambda-trace's `otlp` feature; using the X-Ray daemon exporter"
    );
    daemon_exporter(c)
}

fn daemon_exporter(c: &Config) -> Arc<dyn Exporter> {
    match DaemonExporter::new(&c.daemon_address) {
        Ok(e) => Arc::new(e),
        Err(e) => {
            tracing::warn!(
                target: "lambda_trace",
                "X-Ray daemon exporter unavailable ({}, address {:?}); spans will be dropped",
                log_safe_message(&e.to_string()),
                log_safe(&c.daemon_address)
            );
            Arc::new(NoopExporter)
        }
    }
}

/// `xray-api`: the client's AWS configuration is loaded on the first export (see
/// [`XrayApiExporter::from_env`](crate::export::XrayApiExporter::from_env)).
#[cfg(feature = "xray-api")]
fn api_exporter(_c: &Config) -> Arc<dyn Exporter> {
    Arc::new(crate::export::XrayApiExporter::from_env())
}

/// Without the feature the value still parses, so a misbuilt function says so once, at start,
/// and keeps tracing through the daemon instead of going dark.
#[cfg(not(feature = "xray-api"))]
fn api_exporter(c: &Config) -> Arc<dyn Exporter> {
    tracing::warn!(
        target: "lambda_trace",
        "LAMBDA_TRACE_EXPORTER=xray-api, but lambda-trace was built without feature xray-api; \
         using the X-Ray daemon exporter"
    );
    daemon_exporter(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exporter(vars: &[(&str, &str)]) -> String {
        let c = Config::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        });
        format!("{:?}", exporter_for(&c))
    }

    #[test]
    fn configured_exporters() {
        let kind = |v| exporter(&[("LAMBDA_TRACE_EXPORTER", v)]);
        assert!(kind("xray").starts_with("DaemonExporter"));
        assert!(kind("stdout").starts_with("StdoutExporter"));
        assert!(kind("console").starts_with("StdoutExporter"));
        assert!(kind("none").starts_with("NoopExporter"));
        let otlp = kind("otlp");
        if cfg!(feature = "otlp") {
            assert!(otlp.starts_with("OtlpExporter"), "{otlp}");
            assert!(otlp.contains("http://localhost:4318/v1/traces"), "{otlp}");
        } else {
            assert!(otlp.starts_with("DaemonExporter"), "{otlp}");
        }
        // An endpoint the OTLP exporter cannot use: the daemon, with a log line.
        let https = exporter(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://api.honeycomb.io"),
        ]);
        assert!(https.starts_with("DaemonExporter"), "{https}");
    }
}
