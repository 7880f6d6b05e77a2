//! OpenTelemetry's SDK variables (the environment-variable specification,
//! `opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/`): `OTEL_SDK_DISABLED`,
//! `OTEL_TRACES_SAMPLER` / `OTEL_TRACES_SAMPLER_ARG`, `OTEL_RESOURCE_ATTRIBUTES`, the span limits;
//! and whether the process runs in Lambda (the default exporter is off outside it).
//!
//! Each bad value is reported with one log line and its default used, as for every other
//! variable of [`Config`](super::Config).

use super::CallerSampling;
use crate::log_safe::log_safe;
use crate::span::{MAX_ATTRIBUTE_CHARS, SpanLimits};

/// Most entries kept from `OTEL_RESOURCE_ATTRIBUTES` (OpenTelemetry's default attribute count
/// limit); later ones are left out with one log line.
pub(crate) const MAX_RESOURCE_ATTRIBUTES: usize = 128;

type Get<'a> = &'a dyn Fn(&str) -> Option<String>;

/// `OTEL_SDK_DISABLED`: `true` (any case) turns tracing off. The specification's boolean: only
/// `true` is true; anything but `false` is reported with one log line and read as `false`.
pub(super) fn sdk_disabled(get: Get<'_>) -> bool {
    match get("OTEL_SDK_DISABLED") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            tracing::warn!(
                target: "lambda_trace",
                "OTEL_SDK_DISABLED: invalid value {:?} (only `true` or `false`); using false",
                log_safe(&v)
            );
            false
        }
    }
}

/// What `OTEL_TRACES_SAMPLER` (with `OTEL_TRACES_SAMPLER_ARG`) asks for, in the crate's terms:
/// the share of traces decided here that are recorded, and whether a caller's decision is
/// followed (the `parentbased_*` samplers) or not.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Sampler {
    /// `always_on`: 1, `always_off`: 0, `traceidratio`: the argument.
    pub(super) ratio: f64,
    /// [`CallerSampling::Respect`] for `parentbased_*`, else [`CallerSampling::Ignore`].
    pub(super) caller: CallerSampling,
}

/// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`; `None` when unset, and (with one log
/// line) for a sampler this crate does not have (`jaeger_remote`, `parentbased_jaeger_remote`,
/// `xray`) or an unknown name: the defaults then stand (`parentbased_always_on`, the
/// specification's default, is what `LAMBDA_TRACE_SAMPLE_RATE=1` and
/// `LAMBDA_TRACE_CALLER_SAMPLING=respect` do).
pub(super) fn sampler(get: Get<'_>) -> Option<Sampler> {
    let name = get("OTEL_TRACES_SAMPLER")?.to_ascii_lowercase();
    let (parent_based, root) = match name.strip_prefix("parentbased_") {
        Some(root) => (true, root),
        None => (false, name.as_str()),
    };
    let ratio = match root {
        "always_on" => 1.0,
        "always_off" => 0.0,
        "traceidratio" => ratio_arg(get),
        "jaeger_remote" | "xray" => {
            tracing::warn!(
                target: "lambda_trace",
                "OTEL_TRACES_SAMPLER={name}: not supported by lambda-trace (no remote sampling \
                 rules are fetched); using parentbased_always_on"
            );
            return None;
        }
        _ => {
            super::invalid("OTEL_TRACES_SAMPLER", &name);
            return None;
        }
    };
    let caller = if parent_based {
        CallerSampling::Respect
    } else {
        CallerSampling::Ignore
    };
    Some(Sampler { ratio, caller })
}

/// `OTEL_TRACES_SAMPLER_ARG` for `traceidratio`: a number in `0..=1`; unset: 1; anything else
/// (out of range too): one log line and 1.
fn ratio_arg(get: Get<'_>) -> f64 {
    let Some(arg) = get("OTEL_TRACES_SAMPLER_ARG") else {
        return 1.0;
    };
    match super::parse_decimal(&arg) {
        Some(ratio) if (0.0..=1.0).contains(&ratio) => ratio,
        _ => {
            super::invalid("OTEL_TRACES_SAMPLER_ARG", &arg);
            1.0
        }
    }
}

/// The span limits: each variable a count `0..`, at most the crate's cap (a larger value is
/// used as the cap, with one log line); anything else: one log line and the cap.
/// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT` and `OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT` win over the
/// general `OTEL_ATTRIBUTE_COUNT_LIMIT` and `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`.
pub(super) fn span_limits(get: Get<'_>) -> SpanLimits {
    let caps = SpanLimits::default();
    SpanLimits {
        attribute_count: limit(
            get,
            &[
                "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
                "OTEL_ATTRIBUTE_COUNT_LIMIT",
            ],
            caps.attribute_count,
        ),
        attribute_value_length: limit(
            get,
            &[
                "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            ],
            caps.attribute_value_length,
        ),
        event_count: limit(get, &["OTEL_SPAN_EVENT_COUNT_LIMIT"], caps.event_count),
        link_count: limit(get, &["OTEL_SPAN_LINK_COUNT_LIMIT"], caps.link_count),
    }
}

/// The first of `keys` that is set, as a count at most `cap`.
fn limit(get: Get<'_>, keys: &[&str], cap: usize) -> usize {
    let Some((key, value)) = keys.iter().find_map(|k| get(k).map(|v| (*k, v))) else {
        return cap;
    };
    match value.parse::<u64>() {
        Ok(n) => match usize::try_from(n) {
            Ok(n) if n <= cap => n,
            _ => {
                tracing::warn!(
                    target: "lambda_trace",
                    "{key}={}: above lambda-trace's cap; using {cap}",
                    log_safe(&value)
                );
                cap
            }
        },
        Err(_) => {
            super::invalid(key, &value);
            cap
        }
    }
}

/// `OTEL_RESOURCE_ATTRIBUTES`, parsed; a malformed value is ignored whole, with one log line
/// (the specification: "the entire environment variable value SHOULD be discarded").
pub(super) fn resource_attributes(get: Get<'_>) -> Vec<(String, String)> {
    let Some(list) = get("OTEL_RESOURCE_ATTRIBUTES") else {
        return Vec::new();
    };
    parse_resource_attributes(&list).unwrap_or_else(|why| {
        tracing::warn!(
            target: "lambda_trace",
            "OTEL_RESOURCE_ATTRIBUTES: {why}; the whole value is ignored"
        );
        Vec::new()
    })
}

/// `key=value,key2=value2`: keys and values trimmed and percent-decoded (a `,` or `=` inside
/// one is written `%2C`, `%3D`), empty entries skipped, a repeated key's last value kept, keys
/// and values cut to [`MAX_ATTRIBUTE_CHARS`] characters, at most [`MAX_RESOURCE_ATTRIBUTES`]
/// entries (later ones left out with one log line). An entry without `=`, with an empty key,
/// or with a bad `%` escape is an error (naming the entry's position, never its value).
pub(crate) fn parse_resource_attributes(list: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut left_out = false;
    for (i, entry) in list.split(',').map(str::trim).enumerate() {
        if entry.is_empty() {
            continue;
        }
        let decoded = entry.split_once('=').and_then(|(k, v)| {
            let key = crate::propagation::percent_decode(k.trim())?;
            let value = crate::propagation::percent_decode(v.trim())?;
            Some((key, value))
        });
        let Some((mut key, mut value)) = decoded.filter(|(k, _)| !k.trim().is_empty()) else {
            return Err(format!(
                "entry {} is not `key=value` with a percent-encoded key and value",
                i + 1
            ));
        };
        crate::span::cap_chars(&mut key, MAX_ATTRIBUTE_CHARS);
        crate::span::cap_chars(&mut value, MAX_ATTRIBUTE_CHARS);
        if let Some(slot) = out.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else if out.len() < MAX_RESOURCE_ATTRIBUTES {
            out.push((key, value));
        } else {
            left_out = true;
        }
    }
    if left_out {
        tracing::warn!(
            target: "lambda_trace",
            "OTEL_RESOURCE_ATTRIBUTES: more than {MAX_RESOURCE_ATTRIBUTES} entries; the rest are left out"
        );
    }
    Ok(out)
}

/// `true` inside Lambda: `AWS_LAMBDA_RUNTIME_API` is set (the runtime API Lambda, the local
/// stand-in and the emulators serve) and `AWS_SAM_LOCAL` is not (`sam local` runs the function
/// on a developer's machine, with no X-Ray daemon).
pub(super) fn in_lambda(get: Get<'_>) -> bool {
    get("AWS_LAMBDA_RUNTIME_API").is_some() && get("AWS_SAM_LOCAL").is_none()
}

/// `true` when the exporter was chosen: `LAMBDA_TRACE_EXPORTER` or `OTEL_TRACES_EXPORTER` names
/// a known exporter, or `AWS_XRAY_DAEMON_ADDRESS` says where the daemon is (Lambda always sets
/// it).
pub(super) fn exporter_explicit(get: Get<'_>) -> bool {
    get("LAMBDA_TRACE_EXPORTER")
        .or_else(|| get("OTEL_TRACES_EXPORTER"))
        .is_some_and(|v| v.parse::<super::ExporterKind>().is_ok())
        || get("AWS_XRAY_DAEMON_ADDRESS").is_some()
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    use std::sync::{Arc, Mutex};

    /// Keeps the message of every event logged on this thread while installed (the layer's
    /// unit tests load `tests/support/logs.rs`; a file loaded twice is a lint).
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<String>>>);

    impl tracing::Subscriber for Lines {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            struct Message(String);
            impl tracing::field::Visit for Message {
                fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    if f.name() == "message" {
                        self.0 = format!("{v:?}");
                    }
                }
            }
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// The configuration of `vars`, and the lines logged while reading it.
    fn read(vars: &[(&str, &str)]) -> (Config, Vec<String>) {
        let lines = Lines::default();
        let config = tracing::subscriber::with_default(lines.clone(), || {
            Config::from_lookup(|k| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            })
        });
        let logged = lines.0.lock().unwrap().clone();
        (config, logged)
    }

    type Vars = &'static [(&'static str, &'static str)];

    /// Each row: a variable's value, what it reads as, and how many lines it logs (a bad
    /// value: exactly one, and the default).
    #[test]
    fn sdk_disabled() {
        #[rustfmt::skip]
        let table = [
            ("true", true, 0), ("TRUE", true, 0), (" True ", true, 0), ("false", false, 0),
            ("FALSE", false, 0), ("", false, 0), ("1", false, 1), ("yes", false, 1),
            ("on", false, 1), ("\u{1b}[31mtrue", false, 1),
        ];
        for (value, disabled, lines) in table {
            let (c, logged) = read(&[("OTEL_SDK_DISABLED", value)]);
            assert_eq!(c.disabled, disabled, "{value:?}");
            assert_eq!(logged.len(), lines, "{value:?}: {logged:?}");
        }
        assert!(!read(&[]).0.disabled);
    }

    #[test]
    fn samplers() {
        use CallerSampling::{Ignore, Respect};
        #[rustfmt::skip]
        let table: &[(&str, Option<&str>, f64, CallerSampling, usize)] = &[
            // OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG, sample rate, caller sampling, lines
            ("always_on", None, 1.0, Ignore, 0),
            ("ALWAYS_OFF", None, 0.0, Ignore, 0),
            ("always_off", Some("0.5"), 0.0, Ignore, 0),
            ("traceidratio", Some("0.25"), 0.25, Ignore, 0),
            ("traceidratio", Some(".5"), 0.5, Ignore, 0),
            ("traceidratio", None, 1.0, Ignore, 0),
            ("traceidratio", Some("1.5"), 1.0, Ignore, 1),
            ("traceidratio", Some("-0.1"), 1.0, Ignore, 1),
            ("traceidratio", Some("half"), 1.0, Ignore, 1),
            ("traceidratio", Some("NaN"), 1.0, Ignore, 1),
            ("parentbased_always_on", None, 1.0, Respect, 0),
            ("parentbased_always_off", None, 0.0, Respect, 0),
            ("parentbased_traceidratio", Some("0.1"), 0.1, Respect, 0),
            ("parentbased_traceidratio", Some("1e-1"), 0.1, Respect, 0),
            ("parentbased_traceidratio", Some("2"), 1.0, Respect, 1),
            ("jaeger_remote", None, 1.0, Respect, 1),
            ("parentbased_jaeger_remote", Some("endpoint=x"), 1.0, Respect, 1),
            ("xray", None, 1.0, Respect, 1),
            ("sometimes", None, 1.0, Respect, 1),
            ("parentbased_", None, 1.0, Respect, 1),
            ("", Some("0.5"), 1.0, Respect, 0),
        ];
        for &(name, arg, rate, caller, lines) in table {
            let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
            vars.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
            let (c, logged) = read(&vars);
            assert_eq!(c.sample_rate, rate, "{name} {arg:?}");
            assert_eq!(c.caller_sampling, caller, "{name} {arg:?}");
            assert_eq!(logged.len(), lines, "{name} {arg:?}: {logged:?}");
        }
        // The argument alone does nothing (the specification: only with a sampler).
        let (c, _) = read(&[("OTEL_TRACES_SAMPLER_ARG", "0.5")]);
        assert_eq!((c.sample_rate, c.caller_sampling), (1.0, Respect));
        // LAMBDA_TRACE_* win, each for its own part.
        let (c, _) = read(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
            ("LAMBDA_TRACE_SAMPLE_RATE", "0.1"),
        ]);
        assert_eq!((c.sample_rate, c.caller_sampling), (0.1, Ignore));
        let (c, _) = read(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.5"),
            ("LAMBDA_TRACE_CALLER_SAMPLING", "respect"),
        ]);
        assert_eq!((c.sample_rate, c.caller_sampling), (0.5, Respect));
    }

    #[test]
    fn span_limit_variables() {
        let caps = SpanLimits::default();
        #[rustfmt::skip]
        let table: &[(&str, &str, usize, usize)] = &[
            // variable, value, the limit it sets (the field named by the variable), lines
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "10", 10, 0),
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "11", 11, 0),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "0", 0, 0),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "129", caps.attribute_count, 1),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "-1", caps.attribute_count, 1),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "5", 5, 0),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "many", caps.event_count, 1),
            ("OTEL_SPAN_EVENT_COUNT_LIMIT", "99999999999999999999999", caps.event_count, 1),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "1", 1, 0),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "1.5", caps.link_count, 1),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "64", 64, 0),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "32", 32, 0),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "1000000", caps.attribute_value_length, 1),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "", caps.attribute_value_length, 0),
        ];
        for &(key, value, want, lines) in table {
            let (c, logged) = read(&[(key, value)]);
            // The limit the variable names is `want`; the others keep their defaults.
            let mut expected = caps;
            match key {
                k if k.contains("ATTRIBUTE_COUNT") => expected.attribute_count = want,
                k if k.contains("EVENT") => expected.event_count = want,
                k if k.contains("LINK") => expected.link_count = want,
                _ => expected.attribute_value_length = want,
            }
            assert_eq!(c.span_limits, expected, "{key}={value}");
            assert_eq!(logged.len(), lines, "{key}={value}: {logged:?}");
        }
        assert_eq!(read(&[]).0.span_limits, caps);
        // The span-specific variable wins over the general one.
        let (c, _) = read(&[
            ("OTEL_ATTRIBUTE_COUNT_LIMIT", "7"),
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "70"),
            ("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "30"),
        ]);
        assert_eq!(c.span_limits.attribute_count, 3);
        assert_eq!(c.span_limits.attribute_value_length, 30);
    }

    #[test]
    fn resource_attribute_variable() {
        #[rustfmt::skip]
        let table: &[(&str, Vars, usize)] = &[
            ("team=orders,deployment.environment=prod",
                &[("team", "orders"), ("deployment.environment", "prod")], 0),
            (" a = 1 , , b=%2C%3D%20x ,", &[("a", "1"), ("b", ",= x")], 0),
            ("k%20ey=v", &[("k ey", "v")], 0),
            ("a=1,a=2", &[("a", "2")], 0),
            ("a=", &[("a", "")], 0),
            ("a=b=c", &[("a", "b=c")], 0),
            ("a=1,novalue", &[], 1),
            ("a=1,=x", &[], 1),
            ("a=%zz", &[], 1),
            ("a=%C3", &[], 1),
        ];
        for &(value, want, lines) in table {
            let (c, logged) = read(&[("OTEL_RESOURCE_ATTRIBUTES", value)]);
            let got: Vec<(&str, &str)> = c
                .resource
                .attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(got, want, "{value:?}");
            assert_eq!(logged.len(), lines, "{value:?}: {logged:?}");
            assert!(
                logged.iter().all(|l| !l.contains("%zz")),
                "values are not logged"
            );
        }
        // Many entries: the first 128, one line.
        let many: String = (0..200).map(|i| format!("k{i}=v,")).collect();
        let (c, logged) = read(&[("OTEL_RESOURCE_ATTRIBUTES", &many)]);
        assert_eq!(c.resource.attributes.len(), MAX_RESOURCE_ATTRIBUTES);
        assert_eq!(logged.len(), 1, "{logged:?}");
    }

    #[test]
    fn service_name_precedence() {
        const ATTRS: (&str, &str) = ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,team=a");
        #[rustfmt::skip]
        let table: &[(Vars, &str)] = &[
            (&[ATTRS, ("OTEL_SERVICE_NAME", "otel")], "otel"),
            (&[ATTRS, ("POWERTOOLS_SERVICE_NAME", "powertools")], "from-attrs"),
            (&[ATTRS, ("AWS_LAMBDA_FUNCTION_NAME", "fn")], "from-attrs"),
            (&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=%20"), ("AWS_LAMBDA_FUNCTION_NAME", "fn")], "fn"),
            (&[("OTEL_RESOURCE_ATTRIBUTES", "team=a"), ("POWERTOOLS_SERVICE_NAME", "powertools")], "powertools"),
        ];
        for &(vars, want) in table {
            let (c, _) = read(vars);
            assert_eq!(c.resource.service_name, want, "{vars:?}");
            assert!(
                c.resource
                    .attributes
                    .iter()
                    .all(|(k, _)| k != "service.name"),
                "service.name is the service name, not an extra attribute"
            );
        }
    }

    #[test]
    fn inside_or_outside_lambda() {
        #[rustfmt::skip]
        let table: &[(Vars, bool, bool)] = &[
            // variables, in_lambda, exporter_explicit
            (&[], false, false),
            (&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")], true, false),
            (&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"), ("AWS_SAM_LOCAL", "true")], false, false),
            (&[("AWS_SAM_LOCAL", "true"), ("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000")], false, true),
            (&[("LAMBDA_TRACE_EXPORTER", "stdout")], false, true),
            (&[("OTEL_TRACES_EXPORTER", "xray")], false, true),
            (&[("LAMBDA_TRACE_EXPORTER", "zipkin")], false, false),
            (&[("LAMBDA_TRACE_EXPORTER", "zipkin"), ("OTEL_TRACES_EXPORTER", "xray")], false, false),
            (&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")], false, false),
        ];
        for &(vars, in_lambda, explicit) in table {
            let (c, _) = read(vars);
            assert_eq!(
                (c.in_lambda, c.exporter_explicit),
                (in_lambda, explicit),
                "{vars:?}"
            );
        }
    }
}
