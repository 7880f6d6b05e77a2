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
/// 2. Otherwise the event headers' context: a segment whose parent is the caller's span.
/// 3. Otherwise Lambda's header when it names a trace (pass-through), as a segment.
/// 4. Otherwise a new trace.
///
/// An undecided sampling decision is made here with `sample_rate`, so what is injected
/// downstream carries our decision.
///
/// With [`CallerSampling::Ignore`], the sampling flag and B3 debug flag of the event's context
/// (the caller's, case 2) are discarded before that, so `sample_rate` decides; its trace id,
/// parent and other fields are kept. Lambda's header is the platform's, not the caller's: its
/// decision stands in cases 1 and 3 whatever the policy.
pub(crate) fn decide(
    lambda_header: Option<&str>,
    from_event: Option<TraceContext>,
    sample_rate: f64,
    caller: CallerSampling,
) -> Parent {
    let lambda = lambda_header.and_then(|h| XrayPropagator::default().extract_value(h));
    let mut parent = match (lambda, from_event) {
        (Some(mut lambda), event)
            if lambda.sampling == Sampling::Sampled && lambda.span_id.is_some() =>
        {
            // The caller's baggage still travels on (it belongs to the request, not to a
            // trace); its `tracestate` only when it describes this same trace.
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
                placement: RootPlacement::LambdaSubsegment,
                link,
            }
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
    if cx.debug {
        cx.sampling = Sampling::Sampled;
    }
    if cx.sampling == Sampling::Deferred {
        let sampled = sample_rate >= 1.0 || (sample_rate > 0.0 && fastrand::f64() < sample_rate);
        cx.sampling = if sampled {
            Sampling::Sampled
        } else {
            Sampling::NotSampled
        };
    }
    parent
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
