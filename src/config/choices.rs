//! The settings that name one of a few choices: the exporter, the flush mode, whose sampling
//! decision is followed. Each parses from its configuration value and prints back to it.

use std::fmt;
use std::str::FromStr;

/// Where spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExporterKind {
    /// The X-Ray daemon over UDP.
    #[default]
    XrayDaemon,
    /// An OpenTelemetry collector over OTLP/HTTP protobuf (feature `otlp`; without it the
    /// layer logs once and uses the X-Ray daemon).
    Otlp,
    /// One OTLP/JSON line per invocation on standard output.
    Stdout,
    /// The X-Ray `PutTraceSegments` API over HTTPS (`xray-api`). Needs the crate feature
    /// `xray-api`; without it the layer logs one line and uses the daemon.
    XrayApi,
    /// X-Ray's OTLP endpoint, `https://xray.<region>.amazonaws.com/v1/traces`, signed with
    /// SigV4 (`xray-otlp`). Needs the crate feature `xray-otlp`; without it the layer logs one
    /// line and uses the daemon.
    XrayOtlp,
    /// Nowhere; propagation only.
    None,
}

impl ExporterKind {
    /// The configuration value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::XrayDaemon => "xray",
            Self::Otlp => "otlp",
            Self::Stdout => "stdout",
            Self::XrayApi => "xray-api",
            Self::XrayOtlp => "xray-otlp",
            Self::None => "none",
        }
    }
}

impl fmt::Display for ExporterKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExporterKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "xray" | "xray-daemon" | "awsxray" => Ok(Self::XrayDaemon),
            "otlp" => Ok(Self::Otlp),
            "stdout" | "console" => Ok(Self::Stdout),
            "xray-api" => Ok(Self::XrayApi),
            "xray-otlp" => Ok(Self::XrayOtlp),
            "none" => Ok(Self::None),
            other => Err(format!("unknown exporter {other:?}")),
        }
    }
}

/// When network exports are awaited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FlushMode {
    /// Before the response leaves: the wrapped handler's future resolves after the export
    /// (bounded by the flush deadline). The default.
    #[default]
    BeforeResponse,
    /// After the response was posted, before the next invocation is fetched; needs the
    /// runtime layer from `TraceLayer::after_response_layer` (`lambda_trace::run` installs it).
    AfterResponse,
}

impl FlushMode {
    /// The configuration value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BeforeResponse => "before-response",
            Self::AfterResponse => "after-response",
        }
    }
}

impl fmt::Display for FlushMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FlushMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "before-response" | "before" => Ok(Self::BeforeResponse),
            "after-response" | "after" => Ok(Self::AfterResponse),
            other => Err(format!("unknown flush mode {other:?}")),
        }
    }
}

/// Whether the sampling decision a caller sends in the event's trace headers is followed.
///
/// The flag in `X-Amzn-Trace-Id: …;Sampled=1`, `traceparent: …-01`, `X-B3-Sampled`, B3's debug
/// flag, … is set by whoever sent the request. [`Respect`](Self::Respect) (the default) follows
/// it: a sampled caller gets a connected trace, as X-Ray's own services and OpenTelemetry's
/// parent-based sampler do. [`Ignore`](Self::Ignore) discards it and lets the configured sample
/// rate decide, while still continuing the caller's trace id and parent span, so a trace we do
/// sample stays connected — use it when callers you do not control (a public Function URL or
/// API) could otherwise force every request to be recorded, and pay for it, with a sample rate
/// below 1.
///
/// Lambda's own header (`Context::xray_trace_id`, set by the platform under Active tracing) is
/// not the caller's: with `Sampled=1` the invocation is a recorded subsegment of Lambda's
/// segment in both modes.
///
/// Why `Respect` is the default: the crate's promise is one connected trace, and with the
/// default sample rate of 1.0 every request is recorded anyway, so following the caller costs
/// nothing extra; a caller's `Sampled=0` only ever records less. The cost risk appears when the
/// sample rate is lowered, which is when `Ignore` is worth setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CallerSampling {
    /// Follow the caller's decision when it sent one (`Sampled=?` or none: the sample rate
    /// decides). The default.
    #[default]
    Respect,
    /// Discard the caller's decision (and B3's debug flag); the sample rate decides. The trace
    /// id and parent span are still continued.
    Ignore,
}

impl CallerSampling {
    /// The configuration value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Respect => "respect",
            Self::Ignore => "ignore",
        }
    }
}

impl fmt::Display for CallerSampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CallerSampling {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "respect" => Ok(Self::Respect),
            "ignore" => Ok(Self::Ignore),
            other => Err(format!("unknown caller sampling {other:?}")),
        }
    }
}
