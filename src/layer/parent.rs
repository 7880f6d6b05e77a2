//! The parent policy of DESIGN.md §3: whose trace this invocation continues.

use crate::context::{Sampling, TraceContext};
use crate::propagation::{Extractor, Propagator, XrayPropagator};
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

/// One header, as an [`Extractor`].
struct OneHeader<'a>(&'static str, &'a str);

impl Extractor for OneHeader<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        (name == self.0).then_some(self.1)
    }
    fn keys(&self) -> Vec<&str> {
        vec![self.0]
    }
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
pub(crate) fn decide(
    lambda_header: Option<&str>,
    from_event: Option<TraceContext>,
    sample_rate: f64,
) -> Parent {
    let lambda = lambda_header
        .and_then(|h| XrayPropagator::default().extract(&OneHeader("x-amzn-trace-id", h)));
    let mut parent = match (lambda, from_event) {
        (Some(lambda), event)
            if lambda.sampling == Sampling::Sampled && lambda.span_id.is_some() =>
        {
            let link = event.filter(|e| e.trace_id != lambda.trace_id);
            Parent {
                context: lambda,
                placement: RootPlacement::LambdaSubsegment,
                link,
            }
        }
        (_, Some(event)) => Parent {
            context: event,
            placement: RootPlacement::Segment,
            link: None,
        },
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
