//! [`TracingBridge`]: the `tracing_subscriber::Layer` that records `tracing` spans and events.

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::fields::Fields;
use crate::span::{Span, SpanEvent, SpanKind};

/// A [`Layer`](tracing_subscriber::Layer) that turns `tracing` spans into child spans of the
/// running invocation, their fields into annotations and metadata, and `tracing` events into
/// span events. See the [module docs](super) for the rules.
///
/// ```
/// use lambda_trace::bridge::TracingBridge;
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(TracingBridge::new());
/// tracing::subscriber::with_default(subscriber, || {
///     // Outside an invocation the bridge records nothing.
///     tracing::info_span!("startup").in_scope(|| tracing::info!("ready"));
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct TracingBridge {
    _private: (),
}

impl TracingBridge {
    /// The bridge. Compose it with a registry:
    /// `tracing_subscriber::registry().with(TracingBridge::new())`.
    pub fn new() -> Self {
        Self::default()
    }
}

/// What the bridge keeps in a bridged `tracing` span's extensions.
#[derive(Debug)]
pub(super) struct Bridged(pub(super) Span);

/// `true` for this crate's own spans and log lines (target `lambda_trace` or
/// `lambda_trace::…`), which the bridge never records: recording them would loop (a warning
/// about the annotation limit, logged while a span is being changed, would change a span).
pub(super) fn is_own(target: &str) -> bool {
    target
        .strip_prefix("lambda_trace")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// The nearest bridged span among `first` and its ancestors.
fn nearest_bridged<'a, R: LookupSpan<'a>>(first: Option<SpanRef<'a, R>>) -> Option<Span> {
    first?
        .scope()
        .find_map(|s| s.extensions().get::<Bridged>().map(|b| b.0.clone()))
}

/// The span a new span or an event belongs to: `bridged` (the nearest bridged `tracing`
/// ancestor) when it belongs to an invocation that is still running and, if the task runs
/// inside an invocation, to that one; else the task's [`current()`](crate::current) span.
///
/// The check keeps invocations apart even when a `tracing` span leaks across tasks (an
/// `enter()` guard held over an `.await`, say): a span of another invocation is never a parent.
pub(super) fn choose_parent(bridged: Option<Span>) -> Span {
    let current = crate::current();
    match bridged {
        Some(span)
            if span.is_live()
                && (current.span_id().is_none() || span.same_invocation(&current)) =>
        {
            span
        }
        _ => current,
    }
}

impl<S> tracing_subscriber::Layer<S> for TracingBridge
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let metadata = attrs.metadata();
        if is_own(metadata.target()) {
            return;
        }
        let Some(span_ref) = ctx.span(id) else { return };
        let parent = choose_parent(nearest_bridged(span_ref.parent()));
        if parent.span_id().is_none() {
            return; // Outside an invocation: nothing to record, nothing to propagate.
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let name = fields
            .take_name()
            .unwrap_or_else(|| metadata.name().to_string());
        let kind = fields.take_kind().unwrap_or(SpanKind::Internal);
        let span = parent.child_of_kind(name, kind);
        fields.apply(&span);
        span_ref.extensions_mut().insert(Bridged(span));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let Some(span) = span_ref.extensions().get::<Bridged>().map(|b| b.0.clone()) else {
            return;
        };
        if !span.is_recording() {
            return;
        }
        let mut fields = Fields::default();
        values.record(&mut fields);
        fields.apply(&span);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if is_own(metadata.target()) {
            return;
        }
        let span = choose_parent(nearest_bridged(ctx.event_span(event)));
        if !span.is_recording() {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let name = match fields.take("message") {
            Some(message) => match message.into_json() {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            },
            None => metadata.name().to_string(),
        };
        let mut record = SpanEvent::new(name, metadata.level().as_str(), metadata.target());
        record.fields = fields.into_json_pairs();
        span.add_event(record);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if let Some(span_ref) = ctx.span(&id)
            && let Some(bridged) = span_ref.extensions().get::<Bridged>()
        {
            bridged.0.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_targets() {
        assert!(is_own("lambda_trace"));
        assert!(is_own("lambda_trace::layer::log"));
        assert!(!is_own("lambda_trace_local"));
        assert!(!is_own("orders::lambda_trace"));
        assert!(!is_own("my_fn"));
    }
}
