//! The parent policy of ARCHITECTURE.md §3: whose trace this invocation continues.

use crate::config::CallerSampling;
use crate::context::{Sampling, TraceContext};
use crate::propagation::XrayPropagator;
use crate::span::RootPlacement;

/// Where the invocation span hangs, and what else the caller sent.
#[derive(Debug, Clone)]
pub(crate) struct Parent {
    /// The context the invocation continues; `span_id` is the invocation span's parent.
    pub(crate) context: TraceContext,
    /// Subsegment of Lambda's segment, or a segment of its own.
    pub(crate) placement: RootPlacement,
    /// A caller context from the event headers that Lambda's trace replaced.
    pub(crate) link: Option<TraceContext>,
}

/// Decides the parent:
/// 1. Lambda's header with `Sampled=1` (Active tracing): a subsegment of Lambda's segment; a
///    caller context of another trace becomes a link.
///    1b. Lambda's header with `Sampled=0` (Active tracing, sampled out): Lambda's decision
///    stands (not recorded; Lambda's trace is what travels on), the caller's context a link.
/// 2. Otherwise the event headers' context: a segment whose parent is the caller's span. Under
///    PassThrough Lambda's header has no decision (`Root=…` alone), so the caller decides.
/// 3. Otherwise Lambda's header when it names a trace (pass-through), as a segment.
/// 4. Otherwise a new trace.
///
/// An undecided sampling decision is made here with `sample_rate`, deterministically on the
/// trace id ([`super::sampler::sampled`]), so what is injected downstream carries our decision.
///
/// With [`CallerSampling::Ignore`], the sampling flag and B3 debug flag of the event's context
/// (the caller's, case 2) are discarded before that, so `sample_rate` decides; its trace id,
/// parent and other fields are kept. Lambda's header is the platform's, not the caller's: its
/// decision stands in cases 1, 1b and 3 whatever the policy.
///
/// A caller's decision without ids ([`TraceContext::sampling_only`], B3 `b3: 0`) is no context
/// to continue or link: the parent is chosen as if the event had no context (Lambda's header or a
/// new trace), and, with [`CallerSampling::Respect`], the caller's decision replaces that
/// context's own except under Active tracing (case 1) — so a B3 deny leaves the invocation
/// unsampled. Its baggage travels on.
pub(crate) fn decide(
    lambda_header: Option<&str>,
    from_event: Option<TraceContext>,
    sample_rate: f64,
    caller: CallerSampling,
) -> Parent {
    let (from_event, decision) = match from_event {
        Some(cx) if cx.sampling_only => (None, Some(cx)),
        other => (other, None),
    };
    let lambda = lambda_header.and_then(|h| XrayPropagator::default().extract_value(h));
    let lambda_decision = lambda.as_ref().map(|l| l.sampling);
    let mut parent = match (lambda, from_event) {
        (Some(lambda), event)
            if lambda.sampling == Sampling::Sampled && lambda.span_id.is_some() =>
        {
            lambda_decides(lambda, event, RootPlacement::LambdaSubsegment)
        }
        (Some(lambda), event) if lambda.sampling == Sampling::NotSampled => {
            // Active tracing sampled this request out (X-Ray's rules, or an upstream
            // `Sampled=0`): the platform's decision, whatever the caller's flag says. (Under
            // PassThrough Lambda sends no decision: a root-only header, case 3.)
            let placement = if lambda.span_id.is_some() {
                RootPlacement::LambdaSubsegment
            } else {
                RootPlacement::Segment
            };
            lambda_decides(lambda, event, placement)
        }
        (_, Some(mut event)) => {
            if caller == CallerSampling::Ignore {
                event.sampling = Sampling::Deferred;
                event.debug = false;
            }
            Parent {
                context: event,
                placement: RootPlacement::Segment,
                link: None,
            }
        }
        (Some(lambda), None) => Parent {
            context: lambda,
            placement: RootPlacement::Segment,
            link: None,
        },
        (None, None) => Parent {
            context: TraceContext::new_root(Sampling::Deferred),
            placement: RootPlacement::Segment,
            link: None,
        },
    };
    let cx = &mut parent.context;
    if let Some(mut decision) = decision {
        if cx.baggage.is_empty() {
            cx.baggage = std::mem::take(&mut decision.baggage);
        }
        let platform_decided = parent.placement == RootPlacement::LambdaSubsegment
            || lambda_decision.is_some_and(|d| d != Sampling::Deferred);
        if caller == CallerSampling::Respect && !platform_decided {
            cx.sampling = decision.sampling;
            cx.debug = decision.debug;
        }
    }
    if cx.debug {
        cx.sampling = Sampling::Sampled;
    }
    if cx.sampling == Sampling::Deferred {
        // OpenTelemetry's `TraceIdRatioBased`, on the trace id's random bits (`sampler.rs`).
        let sampled = super::sampler::sampled(cx, sample_rate);
        cx.sampling = if sampled {
            Sampling::Sampled
        } else {
            Sampling::NotSampled
        };
    }
    parent
}

/// Lambda's context decides (cases 1 and 1b): the caller's baggage travels on (it belongs to
/// the request, not to a trace), its `tracestate` only when it describes this same trace; a
/// caller context of another trace becomes a link.
fn lambda_decides(
    mut lambda: TraceContext,
    event: Option<TraceContext>,
    placement: RootPlacement,
) -> Parent {
    let link = event.and_then(|mut e| {
        lambda.baggage = std::mem::take(&mut e.baggage);
        if e.trace_id == lambda.trace_id {
            lambda.trace_state = e.trace_state.take();
            None
        } else {
            Some(e)
        }
    });
    Parent {
        context: lambda,
        placement,
        link,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::{SpanId, TraceId};
    use crate::propagation::{CompositePropagator, HeaderExtractor, Propagator};

    const LAMBDA_SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
    const PARENT: &str = "b7ad6b7169203331";

    /// The context a caller sends in one header of the event.
    fn caller(name: &'static str, value: &'static str) -> TraceContext {
        let mut headers = http::HeaderMap::new();
        headers.insert(name, http::HeaderValue::from_static(value));
        CompositePropagator::default()
            .extract(&HeaderExtractor(&headers))
            .expect("valid caller context")
    }

    #[rustfmt::skip]
    fn callers() -> Vec<(TraceContext, Sampling, &'static str)> {
        vec![
            (caller("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), Sampling::Sampled, "W3C sampled"),
            (caller("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"), Sampling::NotSampled, "W3C not sampled"),
            (caller("x-amzn-trace-id", "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=1"), Sampling::Sampled, "X-Ray Sampled=1"),
            (caller("x-amzn-trace-id", "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=b7ad6b7169203331;Sampled=0"), Sampling::NotSampled, "X-Ray Sampled=0"),
            (caller("b3", "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-d"), Sampling::Sampled, "B3 debug"),
        ]
    }

    fn ids(parent: &Parent) -> (TraceId, Option<SpanId>) {
        (parent.context.trace_id, parent.context.span_id)
    }

    #[test]
    fn respect_follows_the_callers_flag_whatever_the_rate() {
        for (cx, sampling, reason) in callers() {
            for rate in [0.0, 1.0] {
                let p = decide(None, Some(cx.clone()), rate, CallerSampling::Respect);
                assert_eq!(p.context.sampling, sampling, "{reason}, rate {rate}");
            }
        }
    }

    #[test]
    fn ignore_lets_the_rate_decide_and_keeps_the_trace() {
        let expected = (TRACE.parse().unwrap(), Some(PARENT.parse().unwrap()));
        for (cx, _, reason) in callers() {
            let p = decide(None, Some(cx.clone()), 0.0, CallerSampling::Ignore);
            assert_eq!(p.context.sampling, Sampling::NotSampled, "{reason}, rate 0");
            assert!(!p.context.debug, "{reason}");
            assert_eq!(ids(&p), expected, "{reason}: trace and parent kept");
            assert_eq!(p.placement, RootPlacement::Segment);
            let p = decide(None, Some(cx), 1.0, CallerSampling::Ignore);
            assert_eq!(p.context.sampling, Sampling::Sampled, "{reason}, rate 1");
            assert_eq!(ids(&p), expected, "{reason}: trace and parent kept");
        }
    }

    #[test]
    fn lambdas_decision_is_the_platforms() {
        for policy in [CallerSampling::Respect, CallerSampling::Ignore] {
            // Active tracing sampled: a recorded subsegment, whatever the caller or the rate say.
            let (not_sampled, ..) = callers().remove(1);
            let p = decide(Some(LAMBDA_SAMPLED), Some(not_sampled), 0.0, policy);
            assert_eq!(p.context.sampling, Sampling::Sampled, "{policy}");
            assert_eq!(p.placement, RootPlacement::LambdaSubsegment);
            // Lambda's header alone keeps its own decision.
            let header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0";
            let p = decide(Some(header), None, 1.0, policy);
            assert_eq!(p.context.sampling, Sampling::NotSampled, "{policy}");
        }
    }

    /// A B3 decision without ids × Lambda's header × policy × rate: (lambda header, b3 value,
    /// policy, rate, expected sampling, expected placement, why).
    #[rustfmt::skip]
    #[allow(clippy::type_complexity)]
    fn sampling_only_rows() -> Vec<(Option<&'static str>, &'static str, CallerSampling, f64, Sampling, RootPlacement, &'static str)> {
        let pass = Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?");
        vec![
            (None, "0", CallerSampling::Respect, 1.0, Sampling::NotSampled, RootPlacement::Segment, "B3 deny is honoured: a new, unsampled trace"),
            (None, "1", CallerSampling::Respect, 0.0, Sampling::Sampled, RootPlacement::Segment, "B3 accept without ids"),
            (None, "d", CallerSampling::Respect, 0.0, Sampling::Sampled, RootPlacement::Segment, "B3 debug without ids"),
            (None, "0", CallerSampling::Ignore, 1.0, Sampling::Sampled, RootPlacement::Segment, "ignore: the rate decides"),
            (pass, "0", CallerSampling::Respect, 1.0, Sampling::NotSampled, RootPlacement::Segment, "Lambda's undecided trace, denied by the caller"),
            (Some(LAMBDA_SAMPLED), "0", CallerSampling::Respect, 1.0, Sampling::Sampled, RootPlacement::LambdaSubsegment, "Active tracing: the platform's decision stands"),
        ]
    }

    #[test]
    fn a_decision_without_ids_decides_but_is_not_a_parent() {
        for (lambda, b3, policy, rate, sampling, placement, why) in sampling_only_rows() {
            let event = caller("b3", b3);
            assert!(event.sampling_only, "{why}");
            let p = decide(lambda, Some(event.clone()), rate, policy);
            assert_eq!(p.context.sampling, sampling, "{why}");
            assert_eq!(p.placement, placement, "{why}");
            assert!(!p.context.sampling_only, "{why}");
            assert!(p.link.is_none(), "{why}: an invented trace is never linked");
            assert_ne!(p.context.trace_id, event.trace_id, "{why}");
            if lambda.is_some() {
                assert_eq!(
                    p.context.trace_id.to_xray(),
                    "1-5759e988-bd862e3fe1be46a994272793",
                    "{why}"
                );
            }
        }
    }

    #[test]
    fn under_active_tracing_the_callers_baggage_travels_on() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
        );
        headers.insert("tracestate", http::HeaderValue::from_static("vendor=abc"));
        headers.insert("baggage", http::HeaderValue::from_static("tenant=t-1"));
        let caller = CompositePropagator::default()
            .extract(&HeaderExtractor(&headers))
            .expect("valid caller context");
        let tenant = vec![("tenant".to_owned(), "t-1".to_owned())];
        assert_eq!(caller.baggage, tenant);

        let p = decide(
            Some(LAMBDA_SAMPLED),
            Some(caller.clone()),
            1.0,
            CallerSampling::Respect,
        );
        assert_eq!(p.placement, RootPlacement::LambdaSubsegment);
        assert_eq!(p.context.baggage, tenant, "baggage kept");
        assert_eq!(
            p.context.trace_state, None,
            "another trace's tracestate is not"
        );
        let link = p.link.expect("the caller's trace is linked");
        assert_eq!(link.trace_id, caller.trace_id);

        // The same trace (X-Ray's root as the W3C trace id): tracestate kept, nothing to link.
        let lambda = "Root=1-0af76519-16cd43dd8448eb211c80319c;Parent=53995c3f42cd8ad8;Sampled=1";
        let p = decide(Some(lambda), Some(caller), 1.0, CallerSampling::Respect);
        assert_eq!(p.context.baggage, tenant);
        assert_eq!(p.context.trace_state.as_deref(), Some("vendor=abc"));
        assert!(p.link.is_none());
    }
}
