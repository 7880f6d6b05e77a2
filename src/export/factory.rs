//! The exporter a [`Config`] names, built: the one place that turns configuration into a
//! transport. Adding an exporter means a variant of [`ExporterKind`] and an arm here.

use std::sync::Arc;

use super::{DaemonExporter, Exporter, NoopExporter, StdoutExporter};
use crate::config::{Config, ExporterKind};
use crate::log_safe::{log_safe, log_safe_message};

/// The exporter `c` names, ready to use. Never fails: an exporter that cannot start is replaced
/// (the daemon's, or one that drops spans) with one log line.
///
/// Tracing turned off (`c.disabled`): none (nothing is ever exported, no socket is opened).
/// Outside Lambda ([`Config::in_lambda`]) the default exporter is off too, with one log line,
/// unless one was configured ([`Config::exporter_explicit`]): a unit test calling the layer or
/// `sam local` sends nothing to `127.0.0.1:2000`, where no daemon listens.
pub(crate) fn exporter_for(c: &Config) -> Arc<dyn Exporter> {
    if c.disabled {
        return Arc::new(NoopExporter);
    }
    match c.exporter {
        ExporterKind::XrayDaemon if !c.in_lambda && !c.exporter_explicit => {
            tracing::info!(
                target: "lambda_trace",
                "not running in Lambda (no AWS_LAMBDA_RUNTIME_API, or AWS_SAM_LOCAL set) and no \
                 exporter configured: spans are not exported (set LAMBDA_TRACE_EXPORTER, e.g. \
                 stdout, or AWS_XRAY_DAEMON_ADDRESS to send them)"
            );
            Arc::new(NoopExporter)
        }
        ExporterKind::XrayDaemon => daemon_exporter(c),
        ExporterKind::Otlp if names_xray(c) => xray_otlp_exporter(c),
        ExporterKind::Otlp => otlp_exporter(c),
        ExporterKind::XrayOtlp => xray_otlp_exporter(c),
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
    match DaemonExporter::from_config(c) {
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

/// Whether the configured OTLP endpoint is X-Ray's (`xray.<region>.amazonaws.com`): such an
/// endpoint takes only signed requests, so `otlp` sends there as `xray-otlp` does.
fn names_xray(c: &Config) -> bool {
    let host = c
        .otlp
        .endpoint
        .as_deref()
        .and_then(|e| e.parse::<http::Uri>().ok())
        .and_then(|u| u.host().map(str::to_owned));
    host.is_some_and(|h| h.starts_with("xray.") && h.ends_with(".amazonaws.com"))
}

/// `xray-otlp`: X-Ray's OTLP endpoint (the configured one, else the region's), signed with the
/// function's credentials. Without a region or credentials at start: one log line, and spans
/// are dropped (the function runs untraced, unharmed, with no log line per invocation).
#[cfg(feature = "xray-otlp")]
fn xray_otlp_exporter(c: &Config) -> Arc<dyn Exporter> {
    use super::otlp::{XrayCredentials, xray_endpoint};
    let configured = c.otlp.endpoint.as_deref();
    let host_region = configured
        .and_then(|e| e.parse::<http::Uri>().ok())
        .and_then(|u| {
            u.host()
                .and_then(super::otlp::region_of_host)
                .map(str::to_owned)
        });
    let Some(region) = host_region.or_else(|| c.resource.region.clone()) else {
        tracing::warn!(
            target: "lambda_trace",
            "xray-otlp: no region (AWS_REGION) to send to and sign for; spans will be dropped"
        );
        return Arc::new(NoopExporter);
    };
    if !c.aws_credentials {
        tracing::warn!(
            target: "lambda_trace",
            "xray-otlp: no AWS credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) to sign with; \
             spans will be dropped"
        );
        return Arc::new(NoopExporter);
    }
    let endpoint = configured.map_or_else(|| xray_endpoint(&region), str::to_owned);
    match super::OtlpExporter::new(&endpoint).and_then(|e| e.configured(c)) {
        Ok(e) => Arc::new(e.with_sigv4(&region, XrayCredentials::Environment)),
        Err(e) => {
            tracing::warn!(
                target: "lambda_trace",
                "xray-otlp exporter unavailable ({}); spans will be dropped",
                log_safe_message(&e.to_string())
            );
            Arc::new(NoopExporter)
        }
    }
}

/// Without the feature: one log line, then the daemon's exporter.
#[cfg(not(feature = "xray-otlp"))]
fn xray_otlp_exporter(c: &Config) -> Arc<dyn Exporter> {
    tracing::warn!(
        target: "lambda_trace",
        "X-Ray's OTLP endpoint needs lambda-trace's `xray-otlp` feature; using the X-Ray daemon exporter"
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
        let https = exporter(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://api.honeycomb.io"),
        ]);
        if cfg!(feature = "otlp") {
            assert!(https.starts_with("OtlpExporter"), "{https}");
            assert!(
                https.contains("https://api.honeycomb.io/v1/traces"),
                "{https}"
            );
        }
        // An endpoint the OTLP exporter cannot use: the daemon, with a log line.
        let ftp = exporter(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://collector"),
        ]);
        assert!(ftp.starts_with("DaemonExporter"), "{ftp}");
    }

    #[test]
    fn xray_otlp_needs_the_feature_a_region_and_credentials() {
        let credentials = [
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = vec![("LAMBDA_TRACE_EXPORTER", "xray-otlp")];
            vars.extend_from_slice(extra);
            exporter(&vars)
        };
        let full = with(&[credentials[0], credentials[1], ("AWS_REGION", "eu-west-1")]);
        let no_region = with(&credentials);
        let no_credentials = with(&[("AWS_REGION", "eu-west-1")]);
        // `otlp` to X-Ray's host is sent as `xray-otlp`, signed for the host's region.
        let by_host = exporter(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            credentials[0],
            credentials[1],
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "https://xray.ap-south-1.amazonaws.com/v1/traces",
            ),
        ]);
        if cfg!(feature = "xray-otlp") {
            assert!(full.starts_with("OtlpExporter"), "{full}");
            assert!(
                full.contains("https://xray.eu-west-1.amazonaws.com/v1/traces")
                    && full.contains("signed: true"),
                "{full}"
            );
            assert!(no_region.starts_with("NoopExporter"), "{no_region}");
            assert!(
                no_credentials.starts_with("NoopExporter"),
                "{no_credentials}"
            );
            assert!(by_host.contains("signed: true"), "{by_host}");
        } else {
            for e in [full, no_region, no_credentials, by_host] {
                assert!(e.starts_with("DaemonExporter"), "{e}");
            }
        }
    }
}
