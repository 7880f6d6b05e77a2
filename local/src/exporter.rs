//! Which exporter the function processes use, and the environment that tells them where to
//! send: the X-Ray daemon stand-in (`xray`, the default) or the OTLP receiver (`otlp`).

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use crate::otlp::OtlpReceiver;

/// The functions' exporter (`--exporter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunctionExporter {
    /// Segment documents over UDP to the X-Ray daemon stand-in (`AWS_XRAY_DAEMON_ADDRESS`).
    #[default]
    Xray,
    /// OTLP/HTTP to the receiver (`LAMBDA_TRACE_EXPORTER=otlp`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// and `OTEL_EXPORTER_OTLP_CERTIFICATE` when it speaks TLS). The function binaries need
    /// lambda-trace's `otlp` feature; without it they fall back to the daemon.
    Otlp,
}

impl fmt::Display for FunctionExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FunctionExporter::Xray => "xray",
            FunctionExporter::Otlp => "otlp",
        })
    }
}

impl FromStr for FunctionExporter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "xray" => Ok(FunctionExporter::Xray),
            "otlp" => Ok(FunctionExporter::Otlp),
            other => Err(format!("unknown exporter {other:?} (xray or otlp)")),
        }
    }
}

impl FunctionExporter {
    /// The environment of a function process: `AWS_XRAY_DAEMON_ADDRESS` always (the fallback
    /// of a binary built without `otlp`), plus the OTLP settings for [`FunctionExporter::Otlp`].
    pub fn env(self, daemon: SocketAddr, receiver: &OtlpReceiver) -> Vec<(String, String)> {
        let mut env = vec![("AWS_XRAY_DAEMON_ADDRESS".to_owned(), daemon.to_string())];
        if self == FunctionExporter::Otlp {
            env.push(("LAMBDA_TRACE_EXPORTER".into(), "otlp".into()));
            env.push(("OTEL_EXPORTER_OTLP_ENDPOINT".into(), receiver.endpoint()));
            if let Some(ca) = receiver.ca_file() {
                env.push((
                    "OTEL_EXPORTER_OTLP_CERTIFICATE".into(),
                    ca.display().to_string(),
                ));
            }
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for e in [FunctionExporter::Xray, FunctionExporter::Otlp] {
            assert_eq!(e.to_string().parse::<FunctionExporter>(), Ok(e));
        }
        assert_eq!("OTLP".parse(), Ok(FunctionExporter::Otlp));
        assert!("zipkin".parse::<FunctionExporter>().is_err());
    }

    #[tokio::test]
    async fn otlp_env_points_at_the_receiver() {
        let collector = std::sync::Arc::new(crate::collector::Collector::new());
        let receiver = OtlpReceiver::start(collector, 0, true).await.unwrap();
        let daemon: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        let env = FunctionExporter::Otlp.env(daemon, &receiver);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        assert_eq!(get("LAMBDA_TRACE_EXPORTER").as_deref(), Some("otlp"));
        assert_eq!(
            get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            Some(format!("https://{}", receiver.address()))
        );
        assert_eq!(
            get("OTEL_EXPORTER_OTLP_CERTIFICATE").map(std::path::PathBuf::from),
            receiver.ca_file().map(std::path::Path::to_path_buf)
        );
        let xray = FunctionExporter::Xray.env(daemon, &receiver);
        assert_eq!(
            xray,
            vec![("AWS_XRAY_DAEMON_ADDRESS".into(), "127.0.0.1:2000".into())]
        );
    }
}
