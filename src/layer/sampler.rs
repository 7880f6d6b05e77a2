//! The sampling decision this crate makes itself (a new trace, or a context whose sampling is
//! undecided or discarded; ARCHITECTURE.md §3, parent policy 4): OpenTelemetry's
//! `TraceIdRatioBased`, as the trace SDK specification defines it on W3C Trace Context Level 2
//! randomness.
//!
//! - The randomness `R` is the trace id's least-significant 56 bits (Level 2's "random trace
//!   id": the SDK presumes them random), or the explicit randomness `rv` of OpenTelemetry's
//!   `tracestate` entry (`ot=rv:<14 hex digits>`) when the caller sent one.
//! - The rejection threshold for a ratio `p` is `T = (1 - p) × 2⁵⁶`; the trace is recorded when
//!   `R >= T`. So the decision is the same wherever it is made on the same trace, and a trace
//!   recorded at some ratio is recorded at every higher one (the specification's two
//!   requirements), consistently with other OpenTelemetry SDKs that follow it.
//!
//! This crate's ids are random in those bits (`TraceId::generate`: 96 random bits after X-Ray's
//! 32-bit epoch), as are X-Ray's; the epoch seconds in the high bits are never used.

use crate::context::TraceContext;

/// 2⁵⁶: one past the largest randomness value.
const RANDOMNESS_RANGE: u64 = 1 << 56;

/// Whether a trace is recorded at `ratio` (`0.0..=1.0`; 1 records all, 0 (or NaN) none).
pub(crate) fn sampled(cx: &TraceContext, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    if ratio.is_nan() || ratio <= 0.0 {
        return false;
    }
    randomness(cx) >= threshold(ratio)
}

/// `T = (1 - ratio) × 2⁵⁶`, computed as `2⁵⁶ - ratio × 2⁵⁶` so that small ratios keep their
/// precision. A ratio under 2⁻⁵⁷ rounds to `T = 2⁵⁶`: nothing is recorded.
fn threshold(ratio: f64) -> u64 {
    // `as` saturates: a value past 2⁵⁶ (impossible for ratio < 1) would still be capped below.
    let kept = (ratio * RANDOMNESS_RANGE as f64).round() as u64;
    RANDOMNESS_RANGE - kept.min(RANDOMNESS_RANGE)
}

/// `R`: the explicit randomness of the `ot` tracestate entry, else the trace id's lower 56 bits.
fn randomness(cx: &TraceContext) -> u64 {
    cx.trace_state
        .as_deref()
        .and_then(explicit_randomness)
        .unwrap_or_else(|| (cx.trace_id.to_u128() as u64) & (RANDOMNESS_RANGE - 1))
}

/// `rv` in `tracestate: …,ot=th:8;rv:9b8233f7e3a151,…`: exactly 14 lowercase hex digits
/// (OpenTelemetry's tracestate handling); anything else is not used.
fn explicit_randomness(trace_state: &str) -> Option<u64> {
    let ot = trace_state
        .split(',')
        .find_map(|member| member.trim().strip_prefix("ot="))?;
    let rv = ot.split(';').find_map(|field| field.strip_prefix("rv:"))?;
    let hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if rv.len() != 14 || !rv.bytes().all(hex) {
        return None;
    }
    u64::from_str_radix(rv, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CallerSampling, Config};
    use crate::context::{Sampling, TraceId};

    fn context(trace_id: u128, sampling: Sampling) -> TraceContext {
        TraceContext::new(
            TraceId::from_u128(trace_id).unwrap(),
            Some("b7ad6b7169203331".parse().unwrap()),
            sampling,
        )
    }

    #[test]
    fn ratio_is_decided_on_the_lower_56_bits() {
        // High bits (X-Ray's epoch) never matter.
        let at = |low: u64| {
            context(
                (0x5759e988_u128 << 96) | u128::from(low),
                Sampling::Deferred,
            )
        };
        let half = RANDOMNESS_RANGE / 2;
        assert!(sampled(&at(half), 0.5), "R = T is recorded");
        assert!(!sampled(&at(half - 1), 0.5));
        assert!(sampled(&at(RANDOMNESS_RANGE - 1), 1e-9));
        assert!(!sampled(&at(0), 0.999_999));
        assert!(sampled(&at(0), 1.0));
        assert!(!sampled(&at(RANDOMNESS_RANGE - 1), 0.0));
        assert!(!sampled(&at(RANDOMNESS_RANGE - 1), f64::NAN));
        assert!(!sampled(&at(RANDOMNESS_RANGE - 1), 1e-300));
        // Bit 56 and above are not randomness.
        assert!(!sampled(&at(RANDOMNESS_RANGE), 0.5));
        assert_eq!(threshold(0.25), 3 * (RANDOMNESS_RANGE / 4));
    }

    #[test]
    fn explicit_randomness_from_the_ot_tracestate_entry() {
        let mut cx = context(1, Sampling::Deferred); // R = 1: recorded at ratio 1 only
        assert!(!sampled(&cx, 0.5));
        cx.trace_state = Some("vendor=x, ot=th:8;rv:ffffffffffffff".into());
        assert!(sampled(&cx, 0.5));
        for bad in [
            "ot=rv:fffffffffffff",
            "ot=rv:FFFFFFFFFFFFFF",
            "ot=rv:fffffffffffffff",
            "ot=rv:gfffffffffffff",
            "ot=th:8",
            "rv:ffffffffffffff",
        ] {
            cx.trace_state = Some(bad.into());
            assert!(!sampled(&cx, 0.5), "{bad}");
        }
    }

    #[test]
    fn ratios_are_consistent_and_near_their_share() {
        let ratios = [0.0, 0.01, 0.1, 0.25, 0.5, 0.9, 1.0];
        let mut counts = [0usize; 7];
        let n = 20_000;
        for _ in 0..n {
            let cx = TraceContext::new_root(Sampling::Deferred);
            let decisions: Vec<bool> = ratios.iter().map(|r| sampled(&cx, *r)).collect();
            // Recorded at a ratio: recorded at every higher one.
            assert!(decisions.windows(2).all(|w| !w[0] || w[1]), "{decisions:?}");
            for (count, d) in counts.iter_mut().zip(decisions) {
                *count += usize::from(d);
            }
        }
        for (ratio, count) in ratios.iter().zip(counts) {
            let share = count as f64 / f64::from(n);
            assert!((share - ratio).abs() < 0.02, "ratio {ratio}: {share}");
        }
    }

    /// `OTEL_TRACES_SAMPLER` × the parent's decision (sampled, not sampled, undecided, none)
    /// × the ratio, through the configuration and the parent policy.
    #[test]
    fn sampler_table() {
        use Sampling::{Deferred, NotSampled, Sampled};
        // Trace ids whose randomness is the highest (recorded at any ratio above 0) and the
        // lowest (recorded at ratio 1 only).
        const HIGH: u128 = 0x0af76519_16cd43dd_84ffffff_ffffffff;
        const LOW: u128 = 0x0af76519_16cd43dd_84000000_00000001;
        type Caller = Option<(u128, Sampling)>;
        #[rustfmt::skip]
        let table: &[(&str, Option<&str>, Caller, bool)] = &[
            // sampler, argument, the caller's context (none: a new trace), recorded
            ("parentbased_always_on", None, Some((LOW, Sampled)), true),
            ("parentbased_always_on", None, Some((LOW, NotSampled)), false),
            ("parentbased_always_on", None, Some((LOW, Deferred)), true),
            ("parentbased_always_on", None, None, true),
            ("parentbased_always_off", None, Some((HIGH, Sampled)), true),
            ("parentbased_always_off", None, Some((HIGH, NotSampled)), false),
            ("parentbased_always_off", None, Some((HIGH, Deferred)), false),
            ("parentbased_always_off", None, None, false),
            ("parentbased_traceidratio", Some("0.5"), Some((LOW, Sampled)), true),
            ("parentbased_traceidratio", Some("0.5"), Some((HIGH, NotSampled)), false),
            ("parentbased_traceidratio", Some("0.5"), Some((HIGH, Deferred)), true),
            ("parentbased_traceidratio", Some("0.5"), Some((LOW, Deferred)), false),
            ("parentbased_traceidratio", None, Some((LOW, Deferred)), true),
            ("always_on", None, Some((LOW, NotSampled)), true),
            ("always_on", None, Some((LOW, Sampled)), true),
            ("always_on", None, None, true),
            ("always_off", None, Some((HIGH, Sampled)), false),
            ("always_off", None, Some((HIGH, Deferred)), false),
            ("always_off", None, None, false),
            ("traceidratio", Some("0.5"), Some((LOW, Sampled)), false),
            ("traceidratio", Some("0.5"), Some((HIGH, NotSampled)), true),
            ("traceidratio", Some("0.5"), Some((HIGH, Deferred)), true),
            ("traceidratio", Some("0"), Some((HIGH, Sampled)), false),
            ("traceidratio", Some("1"), Some((LOW, NotSampled)), true),
            ("traceidratio", Some("1"), None, true),
            ("traceidratio", Some("0"), None, false),
            // A bad argument is 1.0; an unsupported sampler leaves the default.
            ("traceidratio", Some("half"), Some((LOW, NotSampled)), true),
            ("xray", None, Some((LOW, NotSampled)), false),
            ("jaeger_remote", Some("endpoint=http://x"), None, true),
        ];
        for &(name, arg, caller, want) in table {
            let config = Config::from_lookup(|k| match k {
                "OTEL_TRACES_SAMPLER" => Some(name.into()),
                "OTEL_TRACES_SAMPLER_ARG" => arg.map(Into::into),
                _ => None,
            });
            let event = caller.map(|(id, sampling)| context(id, sampling));
            let parent = super::super::parent::decide(
                None,
                event,
                config.sample_rate,
                config.caller_sampling,
            );
            assert_eq!(
                parent.context.sampling.is_sampled(),
                want,
                "{name} {arg:?} {caller:x?}"
            );
        }
    }

    #[test]
    fn lambda_trace_variables_win_and_active_tracing_still_decides() {
        let config = Config::from_lookup(|k| match k {
            "OTEL_TRACES_SAMPLER" => Some("always_off".into()),
            "LAMBDA_TRACE_SAMPLE_RATE" => Some("1".into()),
            "LAMBDA_TRACE_CALLER_SAMPLING" => Some("respect".into()),
            _ => None,
        });
        assert_eq!(config.sample_rate, 1.0);
        assert_eq!(config.caller_sampling, CallerSampling::Respect);
        // Lambda's header under Active tracing is the platform's decision: followed even with
        // `always_off`.
        let off =
            Config::from_lookup(|k| (k == "OTEL_TRACES_SAMPLER").then(|| "always_off".into()));
        let lambda = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
        let parent =
            super::super::parent::decide(Some(lambda), None, off.sample_rate, off.caller_sampling);
        assert!(parent.context.sampling.is_sampled());
    }
}
