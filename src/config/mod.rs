//! Everything read from the environment, in one place, with defaults.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `OTEL_SERVICE_NAME`, then `POWERTOOLS_SERVICE_NAME` | the function name | `Service` annotation, `service.name` |
//! | `OTEL_PROPAGATORS` | `xray,tracecontext,baggage,b3,b3multi,jaeger,ottrace` | extraction order (first valid wins) and injected formats; `none` for none |
//! | `LAMBDA_TRACE_PROPAGATORS_INJECT` | the `OTEL_PROPAGATORS` formats | formats injected into outgoing calls (the write set), same names; `none` for none. The AWS SDK interceptor always writes X-Ray |
//! | `LAMBDA_TRACE_EXPORTER`, then `OTEL_TRACES_EXPORTER` | `xray` | `xray` (UDP daemon), `otlp` (OTLP/HTTP(S), feature `otlp`), `xray-otlp` (X-Ray's OTLP endpoint, SigV4; feature `xray-otlp`), `stdout` or `console` (one OTLP/JSON line per invocation), `xray-api` (`PutTraceSegments` over HTTPS; feature `xray-api`), `none` |
//! | `AWS_XRAY_DAEMON_ADDRESS` | `127.0.0.1:2000` | `host:port` or `udp:host:port tcp:host:port` |
//! | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | unset | the OTLP traces URL, used as is |
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | `http://localhost:4318` (`xray-otlp`: X-Ray's regional endpoint) | OTLP base URL; `/v1/traces` is appended |
//! | `OTEL_EXPORTER_OTLP_HEADERS`, then `OTEL_EXPORTER_OTLP_TRACES_HEADERS` | none | extra OTLP request headers, `key=value,key2=value2`, values URL-decoded; the traces-specific list wins per key |
//! | `OTEL_EXPORTER_OTLP_PROTOCOL`, `_COMPRESSION`, `_TIMEOUT`, `_CERTIFICATE` (each also as `OTEL_EXPORTER_OTLP_TRACES_*`, which wins) | `http/protobuf`, `none`, `10000`, none | see [`OtlpConfig`] |
//! | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | set by Lambda | only whether both are set (for `xray-otlp`; the exporter reads them when it signs) |
//! | `LAMBDA_TRACE_DISABLED`, `POWERTOOLS_TRACE_DISABLED` | `false` | `true` turns tracing off (the handler runs bare) |
//! | `OTEL_SDK_DISABLED` | `false` | `true` (any case) turns tracing off as `LAMBDA_TRACE_DISABLED` does; other values but `false`: one log line, `false` |
//! | `LAMBDA_TRACE_SAMPLE_RATE` | `1.0` (or what `OTEL_TRACES_SAMPLER` says) | share of new or undecided traces that are recorded, decided on the trace id (with `LAMBDA_TRACE_CALLER_SAMPLING=ignore`, also of traces the caller marked sampled or not) |
//! | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `parentbased_always_on` | `always_on` / `always_off` / `traceidratio` (ratio: the argument, default `1.0`) set the sample rate to 1 / 0 / the ratio and `LAMBDA_TRACE_CALLER_SAMPLING` to `ignore`; their `parentbased_*` forms set it to `respect`. `LAMBDA_TRACE_SAMPLE_RATE` and `LAMBDA_TRACE_CALLER_SAMPLING` win when set. `jaeger_remote`, `parentbased_jaeger_remote`, `xray`, unknown names: one log line, the default |
//! | `OTEL_RESOURCE_ATTRIBUTES` | none | `key=value,…` (percent-decoded) added to the OTLP resource; its `service.name` is the service name when `OTEL_SERVICE_NAME` is unset; malformed: ignored whole, one log line |
//! | `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` (else `OTEL_ATTRIBUTE_COUNT_LIMIT`), `OTEL_SPAN_EVENT_COUNT_LIMIT`, `OTEL_SPAN_LINK_COUNT_LIMIT`, `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` (`OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` wins) | `128`, `128`, `128`, `4096` | per-span limits ([`SpanLimits`](crate::span::SpanLimits)); only lower than the defaults |
//! | `AWS_LAMBDA_RUNTIME_API`, `AWS_SAM_LOCAL` | set by Lambda / by `sam local` | outside Lambda (the first unset, or the second set) the default exporter is off unless `LAMBDA_TRACE_EXPORTER`, `OTEL_TRACES_EXPORTER` or `AWS_XRAY_DAEMON_ADDRESS` is set |
//! | `LAMBDA_TRACE_FLUSH_TIMEOUT_MS` | `1000` | most time a flush may take |
//! | `LAMBDA_TRACE_FLUSH_MARGIN_MS` | `50` | time kept before the invocation deadline |
//! | `LAMBDA_TRACE_TIMEOUT_MARGIN_MS` | `100` | a handler still running this long before its deadline has its spans closed as timed out and exported then; `0` turns it off |
//! | `LAMBDA_TRACE_FLUSH_MODE` | `before-response` | `after-response` awaits network exports after the response is posted |
//! | `LAMBDA_TRACE_MAX_SPANS` | `1000` | spans recorded per invocation (the rest are counted) |
//! | `POWERTOOLS_TRACER_CAPTURE_ERROR` | `true` | record the handler's error message in `cause` |
//! | `LAMBDA_TRACE_CAPTURE_QUERY` | `false` | `true` records query strings (incoming and outgoing URLs), values of sensitive keys replaced by `REDACTED` ([`crate::redact`]) |
//! | `LAMBDA_TRACE_CAPTURE_RESPONSE` | `false` | `true` records the handler's response body as metadata, cut to 4 KiB |
//! | `LAMBDA_TRACE_CALLER_SAMPLING` | `respect` | `ignore`: the sampling flag in the event's headers (the caller's) is discarded and `LAMBDA_TRACE_SAMPLE_RATE` decides; see [`CallerSampling`] |
//! | `AWS_LAMBDA_FUNCTION_NAME`, `AWS_LAMBDA_FUNCTION_VERSION`, `AWS_REGION` (else `AWS_DEFAULT_REGION`), `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, `AWS_LAMBDA_LOG_GROUP_NAME`, `AWS_LAMBDA_LOG_STREAM_NAME` | set by Lambda | resource attributes |
//!
//! # What reaches a trace
//!
//! Of these variables, only the values of `OTEL_SERVICE_NAME` / `POWERTOOLS_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, the `AWS_LAMBDA_FUNCTION_*`, `AWS_LAMBDA_LOG_*` and region
//! variables are ever written into a span or document (as the service name and resource
//! attributes). No other variable is read
//! into one, so credentials (`AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and application
//! secrets never appear in a trace; the OTLP header values (usually access tokens) are only sent
//! as request headers to the collector, and their `Debug` hides them.

use std::str::FromStr;
use std::time::Duration;

mod choices;
mod otel;
mod otlp;

pub use choices::{CallerSampling, ExporterKind, FlushMode};

pub use otlp::{
    DEFAULT_OTLP_ENDPOINT, DEFAULT_OTLP_TIMEOUT, OtlpCompression, OtlpConfig, OtlpHeaders,
    OtlpProtocol,
};

use crate::propagation::PropagatorKind;
use crate::span::Resource;

/// The crate's configuration. [`Config::from_env`] reads it; tests build it with
/// [`Config::from_lookup`] and never touch the process environment.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Who emits the spans: the service name (`OTEL_SERVICE_NAME`, else
    /// `POWERTOOLS_SERVICE_NAME`, else the function name; the `Service` annotation and
    /// `service.name`) and the function's `AWS_LAMBDA_*` and region variables.
    pub resource: Resource,
    /// Extraction order and injected formats.
    pub propagators: Vec<PropagatorKind>,
    /// Injected formats when not `propagators` (`LAMBDA_TRACE_PROPAGATORS_INJECT`).
    pub propagators_inject: Option<Vec<PropagatorKind>>,
    /// The exporter.
    pub exporter: ExporterKind,
    /// The X-Ray daemon address, as configured.
    pub daemon_address: String,
    /// How the OTLP exporters send (`OTEL_EXPORTER_OTLP_*`).
    pub otlp: OtlpConfig,
    /// `true` turns tracing off (`LAMBDA_TRACE_DISABLED`, `POWERTOOLS_TRACE_DISABLED`,
    /// `OTEL_SDK_DISABLED`).
    pub disabled: bool,
    /// Share of new or undecided traces recorded, `0.0..=1.0`.
    pub sample_rate: f64,
    /// Most time a flush may take.
    pub flush_timeout: Duration,
    /// Time kept free before the invocation deadline.
    pub flush_margin: Duration,
    /// How long before the invocation deadline a handler that is still running has its spans
    /// closed as timed out and exported (`Duration::ZERO`: never).
    pub timeout_margin: Duration,
    /// When network exports are awaited.
    pub flush_mode: FlushMode,
    /// Spans recorded per invocation.
    pub max_spans: usize,
    /// Record the handler's error message.
    pub capture_error: bool,
    /// Record query strings, redacted ([`crate::redact`]). Off by default.
    pub capture_query: bool,
    /// Record the handler's response body as metadata (at most 4 KiB). Off by default: responses
    /// may hold personal data.
    pub capture_response: bool,
    /// Whether the caller's sampling decision is followed.
    pub caller_sampling: CallerSampling,
    /// Attributes, events and links per span, and the longest attribute value
    /// (`OTEL_SPAN_*_LIMIT`, `OTEL_ATTRIBUTE_*_LIMIT`); never above the defaults.
    pub span_limits: crate::span::SpanLimits,
    /// `true` in Lambda: `AWS_LAMBDA_RUNTIME_API` set and `AWS_SAM_LOCAL` unset. Outside it the
    /// default exporter (the X-Ray daemon at [`DEFAULT_DAEMON_ADDRESS`]) is off unless
    /// [`exporter_explicit`](Self::exporter_explicit).
    ///
    /// ```
    /// use lambda_trace::Config;
    ///
    /// let unit_test = Config::from_lookup(|_| None);
    /// assert!(!unit_test.in_lambda && !unit_test.exporter_explicit);
    /// let lambda = Config::from_lookup(|k| match k {
    ///     "AWS_LAMBDA_RUNTIME_API" => Some("127.0.0.1:9001".into()),
    ///     "AWS_XRAY_DAEMON_ADDRESS" => Some("169.254.79.129:2000".into()),
    ///     _ => None,
    /// });
    /// assert!(lambda.in_lambda && lambda.exporter_explicit);
    /// ```
    pub in_lambda: bool,
    /// `true` when the exporter was chosen rather than defaulted: `LAMBDA_TRACE_EXPORTER` (else
    /// `OTEL_TRACES_EXPORTER`) names a known exporter, or `AWS_XRAY_DAEMON_ADDRESS` is set.
    pub exporter_explicit: bool,
    /// Name the invocation span after the API route (`GET /orders/{id}`) instead of the
    /// function (builder only: [`route_as_name`](crate::layer::TraceLayerBuilder::route_as_name)).
    pub route_as_name: bool,
    /// Whether `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` were set at start (their values
    /// are never read into the configuration).
    pub(crate) aws_credentials: bool,
}

/// The default X-Ray daemon address.
pub const DEFAULT_DAEMON_ADDRESS: &str = "127.0.0.1:2000";

impl Default for Config {
    fn default() -> Self {
        Self::from_lookup(|_| None)
    }
}

impl Config {
    /// Reads the process environment. Invalid values fall back to their default with one log
    /// line each; this never fails.
    pub fn from_env() -> Self {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `lookup` (a variable name → its value).
    ///
    /// ```
    /// use lambda_trace::Config;
    ///
    /// let config = Config::from_lookup(|k| (k == "OTEL_SERVICE_NAME").then(|| "orders".to_string()));
    /// assert_eq!(config.resource.service_name, "orders");
    /// assert_eq!(config.sample_rate, 1.0);
    /// ```
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let exporter = get("LAMBDA_TRACE_EXPORTER")
            .or_else(|| get("OTEL_TRACES_EXPORTER"))
            .map_or(ExporterKind::default(), |v| {
                parse_or_default("LAMBDA_TRACE_EXPORTER", &v)
            });
        let flag = |k: &str| get(k).is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
        let ms = |k: &str, default: u64| {
            Duration::from_millis(get(k).map_or(default, |v| parse_or_default_with(k, &v, default)))
        };
        let sampler = otel::sampler(&get);
        Self {
            resource: resource(&get),
            propagators: get("OTEL_PROPAGATORS").map_or_else(
                || PropagatorKind::ALL.to_vec(),
                |list| propagators("OTEL_PROPAGATORS", &list),
            ),
            propagators_inject: get("LAMBDA_TRACE_PROPAGATORS_INJECT")
                .map(|l| propagators("LAMBDA_TRACE_PROPAGATORS_INJECT", &l)),
            exporter,
            daemon_address: get("AWS_XRAY_DAEMON_ADDRESS")
                .unwrap_or_else(|| DEFAULT_DAEMON_ADDRESS.to_string()),
            otlp: OtlpConfig::from_lookup(&get),
            disabled: flag("LAMBDA_TRACE_DISABLED")
                || flag("POWERTOOLS_TRACE_DISABLED")
                || otel::sdk_disabled(&get),
            sample_rate: get("LAMBDA_TRACE_SAMPLE_RATE")
                .map_or(sampler.map_or(1.0, |s| s.ratio), |v| sample_rate(&v)),
            flush_timeout: ms("LAMBDA_TRACE_FLUSH_TIMEOUT_MS", 1000),
            flush_margin: ms("LAMBDA_TRACE_FLUSH_MARGIN_MS", 50),
            timeout_margin: ms("LAMBDA_TRACE_TIMEOUT_MARGIN_MS", 100),
            flush_mode: get("LAMBDA_TRACE_FLUSH_MODE").map_or(FlushMode::default(), |v| {
                parse_or_default("LAMBDA_TRACE_FLUSH_MODE", &v)
            }),
            max_spans: get("LAMBDA_TRACE_MAX_SPANS")
                .map_or(1000, |v| {
                    parse_or_default_with("LAMBDA_TRACE_MAX_SPANS", &v, 1000usize)
                })
                .max(1),
            capture_error: get("POWERTOOLS_TRACER_CAPTURE_ERROR")
                .is_none_or(|v| !v.eq_ignore_ascii_case("false")),
            capture_query: flag("LAMBDA_TRACE_CAPTURE_QUERY"),
            capture_response: flag("LAMBDA_TRACE_CAPTURE_RESPONSE"),
            caller_sampling: get("LAMBDA_TRACE_CALLER_SAMPLING").map_or(
                sampler.map_or(CallerSampling::default(), |s| s.caller),
                |v| parse_or_default("LAMBDA_TRACE_CALLER_SAMPLING", &v),
            ),
            span_limits: otel::span_limits(&get),
            in_lambda: otel::in_lambda(&get),
            exporter_explicit: otel::exporter_explicit(&get),
            route_as_name: false,
            aws_credentials: get("AWS_ACCESS_KEY_ID").is_some()
                && get("AWS_SECRET_ACCESS_KEY").is_some(),
        }
    }
}

/// The resource of the function: `AWS_LAMBDA_*`, the region, `OTEL_RESOURCE_ATTRIBUTES`, and
/// the service name (`OTEL_SERVICE_NAME`, else `service.name` of `OTEL_RESOURCE_ATTRIBUTES`,
/// else `POWERTOOLS_SERVICE_NAME`, else the function's name).
fn resource(get: &dyn Fn(&str) -> Option<String>) -> Resource {
    let function_name = get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    let mut attributes = otel::resource_attributes(get);
    let from_attributes = attributes
        .iter()
        .position(|(k, _)| k == "service.name")
        .map(|i| attributes.remove(i).1)
        .filter(|v| !v.trim().is_empty());
    let service_name = get("OTEL_SERVICE_NAME")
        .or(from_attributes)
        .or_else(|| get("POWERTOOLS_SERVICE_NAME"))
        .unwrap_or_else(|| match function_name.as_str() {
            "" => "service_undefined".to_string(),
            name => name.to_string(),
        });
    Resource {
        service_name,
        function_name,
        function_version: get("AWS_LAMBDA_FUNCTION_VERSION")
            .unwrap_or_else(|| "$LATEST".to_string()),
        region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
        memory_mb: get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|v| v.parse().ok()),
        log_group: get("AWS_LAMBDA_LOG_GROUP_NAME"),
        log_stream: get("AWS_LAMBDA_LOG_STREAM_NAME"),
        attributes,
    }
}

/// `OTEL_PROPAGATORS` (or `LAMBDA_TRACE_PROPAGATORS_INJECT`, named `key`): the listed formats in
/// order; `none` and unknown names are left out (an unknown one with a log line).
fn propagators(key: &str, list: &str) -> Vec<PropagatorKind> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.eq_ignore_ascii_case("none") && !s.is_empty())
        .filter_map(|s| {
            s.parse::<PropagatorKind>()
                .map_err(|e| {
                    tracing::warn!(
                        target: "lambda_trace",
                        "{key}: {}; ignored",
                        crate::log_safe::log_safe(&e.to_string())
                    )
                })
                .ok()
        })
        .collect()
}

/// `LAMBDA_TRACE_SAMPLE_RATE`, or 1 with a log line when it is not a rate.
fn sample_rate(value: &str) -> f64 {
    parse_share(value).unwrap_or_else(|| {
        invalid("LAMBDA_TRACE_SAMPLE_RATE", value);
        1.0
    })
}

fn parse_or_default<T: FromStr + Default>(key: &str, value: &str) -> T {
    parse_or_default_with(key, value, T::default())
}

fn parse_or_default_with<T: FromStr>(key: &str, value: &str, default: T) -> T {
    value.parse().unwrap_or_else(|_| {
        invalid(key, value);
        default
    })
}

/// The log line for a value that does not parse (one copy, not one per parsed type).
#[cold]
fn invalid(key: &str, value: &str) {
    tracing::warn!(target: "lambda_trace", "{key}: invalid value {:?}; using the default", crate::log_safe::log_safe(value));
}

/// `LAMBDA_TRACE_SAMPLE_RATE`: a decimal number (`0.05`, `.5`, `+1`, `5e-2`) clamped to `0..=1`;
/// `None` for anything else (`inf` and `nan` are not rates). Read by serde_json's number parser,
/// which every function already has for its events, rather than `str::parse::<f64>`, whose tables
/// would be the largest thing this crate adds to a binary, for one value read once (issue 6).
fn parse_share(s: &str) -> Option<f64> {
    parse_decimal(s).map(|rate| rate.clamp(0.0, 1.0))
}

/// A decimal number as [`parse_share`] reads it, not clamped.
fn parse_decimal(s: &str) -> Option<f64> {
    // Rewritten in JSON's number syntax: no `+`, no leading zeros, digits on both sides of the
    // point (`.5` is `0.5`, `5.` is `5.0`).
    let (sign, unsigned) = match s.as_bytes().first() {
        Some(b'-') => ("-", &s[1..]),
        Some(b'+') => ("", &s[1..]),
        _ => ("", s),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => unsigned.split_at(i),
        None => (unsigned, ""),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) {
        return None;
    }
    let int = match int.trim_start_matches('0') {
        "" => "0",
        int => int,
    };
    let frac = if frac.is_empty() { "0" } else { frac };
    serde_json::from_str::<f64>(&format!("{sign}{int}.{frac}{exponent}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Config {
        Config::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn defaults() {
        let c = config(&[]);
        assert_eq!(c.resource.service_name, "service_undefined");
        assert_eq!(c.propagators, PropagatorKind::ALL.to_vec());
        assert_eq!(c.exporter, ExporterKind::XrayDaemon);
        assert_eq!(c.daemon_address, "127.0.0.1:2000");
        assert!(!c.disabled);
        assert_eq!(c.flush_timeout, Duration::from_millis(1000));
        assert_eq!(c.timeout_margin, Duration::from_millis(100));
        assert!(c.capture_error);
        assert!(!c.capture_query);
        assert!(!c.capture_response);
        assert_eq!(c.caller_sampling, CallerSampling::Respect);
    }

    #[test]
    fn capture_and_caller_sampling_switches() {
        let c = config(&[
            ("LAMBDA_TRACE_CAPTURE_QUERY", "true"),
            ("LAMBDA_TRACE_CAPTURE_RESPONSE", "1"),
            ("LAMBDA_TRACE_CALLER_SAMPLING", " Ignore "),
        ]);
        assert!(c.capture_query && c.capture_response);
        assert_eq!(c.caller_sampling, CallerSampling::Ignore);
        let c = config(&[
            ("LAMBDA_TRACE_CAPTURE_QUERY", "yes please"),
            ("LAMBDA_TRACE_CALLER_SAMPLING", "sometimes"),
            // Powertools' switch (on by default there) does not turn body capture on here.
            ("POWERTOOLS_TRACER_CAPTURE_RESPONSE", "true"),
        ]);
        assert!(!c.capture_query && !c.capture_response);
        assert_eq!(c.caller_sampling, CallerSampling::Respect);
        for kind in [CallerSampling::Respect, CallerSampling::Ignore] {
            assert_eq!(kind.to_string().parse::<CallerSampling>(), Ok(kind));
        }
    }

    #[test]
    fn names_users_know() {
        let c = config(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
            ("POWERTOOLS_SERVICE_NAME", "orders"),
            ("OTEL_PROPAGATORS", "tracecontext, b3 ,bogus"),
            ("OTEL_TRACES_EXPORTER", "none"),
            ("POWERTOOLS_TRACE_DISABLED", "true"),
            ("LAMBDA_TRACE_SAMPLE_RATE", "7"),
        ]);
        assert_eq!(c.resource.service_name, "orders");
        assert_eq!(
            c.propagators,
            vec![PropagatorKind::TraceContext, PropagatorKind::B3]
        );
        assert_eq!(c.exporter, ExporterKind::None);
        assert!(c.disabled);
        assert_eq!(c.sample_rate, 1.0);
        assert_eq!(
            config(&[("AWS_LAMBDA_FUNCTION_NAME", "fn")])
                .resource
                .service_name,
            "fn"
        );
        assert!(
            config(&[("OTEL_PROPAGATORS", "none")])
                .propagators
                .is_empty()
        );
    }

    #[test]
    fn exporter_names_round_trip() {
        for kind in [
            ExporterKind::XrayDaemon,
            ExporterKind::XrayApi,
            ExporterKind::XrayOtlp,
            ExporterKind::None,
        ] {
            assert_eq!(kind.to_string().parse::<ExporterKind>(), Ok(kind));
        }
        assert_eq!(
            config(&[("LAMBDA_TRACE_EXPORTER", " XRAY-API ")]).exporter,
            ExporterKind::XrayApi
        );
        assert_eq!(
            config(&[("OTEL_TRACES_EXPORTER", "xray-api")]).exporter,
            ExporterKind::XrayApi
        );
    }

    #[test]
    fn bad_numbers_fall_back() {
        let c = config(&[
            ("LAMBDA_TRACE_FLUSH_TIMEOUT_MS", "soon"),
            ("LAMBDA_TRACE_MAX_SPANS", "0"),
        ]);
        assert_eq!(c.flush_timeout, Duration::from_millis(1000));
        assert_eq!(c.max_spans, 1);
    }

    #[test]
    fn exporter_names() {
        for (v, kind) in [
            ("xray", ExporterKind::XrayDaemon),
            ("OTLP", ExporterKind::Otlp),
            ("stdout", ExporterKind::Stdout),
            ("console", ExporterKind::Stdout),
            ("none", ExporterKind::None),
        ] {
            assert_eq!(v.parse::<ExporterKind>(), Ok(kind), "{v}");
            assert_eq!(kind.as_str().parse::<ExporterKind>(), Ok(kind));
        }
        assert_eq!(
            config(&[("OTEL_TRACES_EXPORTER", "otlp")]).exporter,
            ExporterKind::Otlp
        );
        assert_eq!(
            config(&[("OTEL_TRACES_EXPORTER", "zipkin")]).exporter,
            ExporterKind::XrayDaemon
        );
    }

    #[test]
    fn otlp_endpoint_and_headers() {
        assert_eq!(
            config(&[]).otlp.traces_endpoint(),
            "http://localhost:4318/v1/traces"
        );
        assert!(config(&[]).otlp.headers.is_empty());
        assert_eq!(
            config(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")])
                .otlp
                .traces_endpoint(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            config(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://other:4318/custom"
                ),
            ])
            .otlp
            .traces_endpoint(),
            "http://other:4318/custom"
        );
        let c = config(&[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Lightstep-Access-Token=a%2Fb%3D, novalue, =x, bad=%zz, x-team=one",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-team=two,plus=a+b"),
        ]);
        let headers: Vec<_> = c.otlp.headers.iter().collect();
        assert_eq!(
            headers,
            [
                ("lightstep-access-token", "a/b="),
                ("x-team", "two"),
                ("plus", "a+b")
            ]
        );
        let shown = format!("{c:?}");
        assert!(!shown.contains("a/b="), "{shown}");
        assert!(shown.contains("lightstep-access-token=…"), "{shown}");
    }

    #[test]
    fn sample_rates_are_decimal_numbers_clamped_to_one() {
        #[rustfmt::skip]
        let cases: [(&str, Option<f64>); 22] = [
            ("0", Some(0.0)), ("1", Some(1.0)), ("0.5", Some(0.5)), (".5", Some(0.5)),
            ("5.", Some(1.0)), ("+0.25", Some(0.25)), ("0.05", Some(0.05)), ("5e-2", Some(0.05)),
            ("2.5E-1", Some(0.25)), ("1.e-1", Some(0.1)), ("10", Some(1.0)), ("-0.25", Some(0.0)),
            ("1e-400", Some(0.0)), ("", None), (".", None), ("e5", None), ("inf", None),
            ("NaN", None), (" 1", None), ("1,5", None), ("0x1", None), ("++1", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_share(text), want, "{text:?}");
        }
    }

    proptest::proptest! {
        /// Whatever `str::parse` reads as a finite number in `0..=1` reads the same here (to
        /// within an ulp: serde_json's parser is not always correctly rounded).
        #[test]
        fn shares_agree_with_str_parse(s in "[+-]?[0-9]{0,6}(\\.[0-9]{0,12})?([eE][+-]?[0-9]{1,2})?") {
            if let Ok(want) = s.parse::<f64>() {
                let got = parse_share(&s);
                proptest::prop_assert!(got.is_some(), "{s:?}");
                let (got, want) = (got.unwrap(), want.clamp(0.0, 1.0));
                proptest::prop_assert!((got - want).abs() <= f64::EPSILON * want.max(1e-300), "{s:?}: {got} vs {want}");
            }
        }
    }
}
