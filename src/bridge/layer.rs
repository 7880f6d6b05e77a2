//! [`TracingBridge`]: the `tracing_subscriber::Layer` that records `tracing` spans and events.

use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, SpanRef};

use super::fields::Fields;
use crate::span::{ExceptionRecord, Outcome, Span, SpanEvent, SpanKind};

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
#[derive(Debug, Clone)]
pub struct TracingBridge {
    max_level: LevelFilter,
    libraries: bool,
}

impl Default for TracingBridge {
    fn default() -> Self {
        Self {
            max_level: LevelFilter::INFO,
            libraries: false,
        }
    }
}

/// The targets (crates) whose spans and events the bridge leaves out unless asked
/// ([`TracingBridge::with_libraries`]): the AWS SDK's and the HTTP and TLS stacks' internals,
/// and the Lambda runtime's. A name ending in `_` is a prefix (`aws_sdk_` covers every
/// `aws_sdk_*` client crate).
///
/// ```
/// assert!(lambda_trace::bridge::LIBRARY_TARGETS.contains(&"aws_smithy_"));
/// ```
pub const LIBRARY_TARGETS: &[&str] = &[
    "aws_config",
    "aws_credential_types",
    "aws_runtime",
    "aws_sdk_",
    "aws_sigv4",
    "aws_smithy_",
    "aws_types",
    "h2",
    "hyper",
    "hyper_rustls",
    "hyper_util",
    "lambda_http",
    "lambda_runtime",
    "lambda_runtime_api_client",
    "reqwest",
    "reqwest_middleware",
    "rustls",
    "tokio",
    "tokio_rustls",
    "tower",
    "tower_http",
];

impl TracingBridge {
    /// The bridge, recording spans and events at `INFO` and above of every crate but
    /// [`LIBRARY_TARGETS`]. Compose it with a registry:
    /// `tracing_subscriber::registry().with(TracingBridge::new())`.
    pub fn new() -> Self {
        crate::span::register_lookup(super::lookup::bridged_current);
        Self::default()
    }

    /// Records spans and events up to `level` (`LevelFilter::DEBUG` adds `debug!` spans and
    /// events; the default is `INFO`). The subscriber's own filters still apply first.
    ///
    /// ```
    /// use lambda_trace::bridge::TracingBridge;
    /// use tracing::level_filters::LevelFilter;
    ///
    /// let bridge = TracingBridge::new().with_max_level(LevelFilter::DEBUG);
    /// # drop(bridge);
    /// ```
    pub fn with_max_level(mut self, level: LevelFilter) -> Self {
        self.max_level = level;
        self
    }

    /// Records the spans and events of [`LIBRARY_TARGETS`] too (`true`), e.g. to see the AWS
    /// SDK's retries as spans. Their `DEBUG` and `TRACE` ones also need
    /// [`with_max_level`](Self::with_max_level). Off by default: a trace is for your code, and
    /// those crates' internals (serialization, signing, connection pools) would fill it — and
    /// may carry what should not be recorded (the SDK's `TRACE` events include the SigV4
    /// canonical request). When they are recorded, a string field of theirs that
    /// [mentions a credential](crate::redact::mentions_credential) (a canonical request, a
    /// signed request's headers) is recorded as `REDACTED`.
    pub fn with_libraries(mut self, libraries: bool) -> Self {
        self.libraries = libraries;
        self
    }

    /// Whether the bridge records spans and events of `metadata`'s callsite.
    fn records(&self, metadata: &Metadata<'_>) -> bool {
        self.max_level >= *metadata.level()
            && !is_own(metadata.target())
            && (self.libraries || !is_library(metadata.target()))
    }
}

/// `true` for a target of [`LIBRARY_TARGETS`].
fn is_library(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    LIBRARY_TARGETS.iter().any(|t| {
        if t.ends_with('_') {
            krate.len() > t.len() && krate.starts_with(t)
        } else {
            krate == *t
        }
    })
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
/// ancestor) when it belongs to the task's invocation and is nested at least as deep as the
/// task's span, else the task's span (see [`crate::span::innermost`]).
///
/// The check keeps invocations apart even when a `tracing` span leaks across tasks (an
/// `enter()` guard held over an `.await`, say): a span of another invocation is never a parent.
pub(super) fn choose_parent(bridged: Option<Span>) -> Span {
    crate::span::innermost(bridged, crate::span::task_span())
}

impl<S> tracing_subscriber::Layer<S> for TracingBridge
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, _subscriber: &mut S) {
        // Also for a bridge made with `Default`.
        crate::span::register_lookup(super::lookup::bridged_current);
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let metadata = attrs.metadata();
        if !self.records(metadata) {
            return;
        }
        let Some(span_ref) = ctx.span(id) else { return };
        let parent = choose_parent(nearest_bridged(span_ref.parent()));
        if parent.span_id().is_none() {
            return; // Outside an invocation: nothing to record, nothing to propagate.
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if is_library(metadata.target()) {
            fields.redact();
        }
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
        if is_library(span_ref.metadata().target()) {
            fields.redact();
        }
        fields.apply(&span);
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if !self.records(metadata) {
            return;
        }
        let span = choose_parent(nearest_bridged(ctx.event_span(event)));
        if !span.is_recording() {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if is_library(metadata.target()) {
            fields.redact();
        }
        let name = match fields.take("message") {
            Some(message) => match message.into_json() {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            },
            None => metadata.name().to_string(),
        };
        if *metadata.level() == Level::ERROR {
            // `#[instrument(err)]`'s event (field `error`), or any `error!`: the span failed, as
            // tracing-opentelemetry marks its span's status.
            let message = fields.text("error").unwrap_or_else(|| name.clone());
            span.record_exceptions(
                vec![ExceptionRecord {
                    message,
                    type_name: None,
                    remote: false,
                    stack: Vec::new(),
                }],
                Outcome {
                    fault: true,
                    ..Outcome::default()
                },
            );
        }
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

    #[test]
    fn library_targets() {
        for library in [
            "aws_smithy_runtime::client::orchestrator",
            "aws_sdk_dynamodb",
            "aws_config::profile",
            "hyper_util::client::legacy::pool",
            "h2",
            "tokio::task",
        ] {
            assert!(is_library(library), "{library}");
        }
        for own in [
            "orders",
            "aws_sdk_",
            "hyperion::x",
            "tokio_util_wrapper",
            "my_aws_sdk_",
        ] {
            assert!(!is_library(own), "{own}");
        }
    }
}
