//! [`TraceLayerBuilder`]: settings beyond the environment.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use super::{Shared, TraceLayer};
use crate::carrier::{CustomCarriers, EventCarrier};
use crate::config::{CallerSampling, Config};
use crate::export::Exporter;
use crate::propagation::{CompositePropagator, PropagatorKind};
use crate::span::recorder::Settings;

/// Builds a [`TraceLayer`]. Starts from [`Config::from_env`]; every `with`-style method
/// overrides one setting.
///
/// ```
/// use std::time::Duration;
/// use lambda_trace::TraceLayer;
/// use lambda_trace::propagation::PropagatorKind;
///
/// let layer = TraceLayer::builder()
///     .service_name("checkout")
///     .propagators(&[PropagatorKind::TraceContext, PropagatorKind::Xray])
///     .flush_timeout(Duration::from_millis(200))
///     .build();
/// # let _ = layer;
/// ```
#[derive(Debug)]
pub struct TraceLayerBuilder {
    config: Config,
    exporter: Option<Arc<dyn Exporter>>,
    carriers: CustomCarriers,
}

impl TraceLayerBuilder {
    pub(super) fn new() -> Self {
        Self {
            config: Config::from_env(),
            exporter: None,
            carriers: CustomCarriers::default(),
        }
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The `Service` annotation and `service.name`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.config.resource.service_name = name.into();
        self
    }

    /// Extraction order (first valid wins) and injected formats.
    pub fn propagators(mut self, kinds: &[PropagatorKind]) -> Self {
        self.config.propagators = kinds.to_vec();
        self
    }

    /// Formats injected into outgoing calls (the write set; `LAMBDA_TRACE_PROPAGATORS_INJECT`),
    /// when they are not the [`propagators`](Self::propagators) read: e.g. read every format
    /// but send only `traceparent` and X-Ray. The AWS SDK interceptor always writes X-Ray.
    ///
    /// ```
    /// use lambda_trace::TraceLayer;
    /// use lambda_trace::propagation::PropagatorKind;
    ///
    /// let layer = TraceLayer::builder()
    ///     .propagators(&PropagatorKind::ALL)
    ///     .propagators_inject(&[PropagatorKind::TraceContext, PropagatorKind::Xray])
    ///     .build();
    /// # let _ = layer;
    /// ```
    pub fn propagators_inject(mut self, kinds: &[PropagatorKind]) -> Self {
        self.config.propagators_inject = Some(kinds.to_vec());
        self
    }

    /// Where spans go (overrides the configured exporter).
    pub fn exporter(mut self, exporter: impl Exporter + 'static) -> Self {
        self.exporter = Some(Arc::new(exporter));
        self
    }

    /// Share of new or undecided traces recorded, `0.0..=1.0` (with
    /// [`CallerSampling::Ignore`], also of traces the caller marked sampled or not).
    pub fn sample_rate(mut self, rate: f64) -> Self {
        self.config.sample_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Most time a flush may take (it also never runs past the invocation deadline).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.config.flush_timeout = timeout;
        self
    }

    /// How long before the invocation deadline a handler that is still running has its spans
    /// closed as timed out and exported (default 100 ms; `Duration::ZERO` turns it off). Keep it
    /// above the flush margin (`LAMBDA_TRACE_FLUSH_MARGIN_MS`, 50 ms): a network export of the
    /// timed-out spans gets the difference. See [the layer's docs](crate::layer#timeouts).
    pub fn timeout_margin(mut self, margin: Duration) -> Self {
        self.config.timeout_margin = margin;
        self
    }

    /// When network exports are awaited: before the response (default) or after it.
    pub fn flush_mode(mut self, mode: crate::config::FlushMode) -> Self {
        self.config.flush_mode = mode;
        self
    }

    /// Most spans recorded per invocation.
    pub fn max_spans(mut self, max: usize) -> Self {
        self.config.max_spans = max.max(1);
        self
    }

    /// Whether the sampling decision in the event's trace headers (set by the caller) is
    /// followed ([`CallerSampling::Respect`], the default) or replaced by this layer's sample
    /// rate ([`CallerSampling::Ignore`]: an outside caller cannot force tracing on). Lambda's
    /// own Active-tracing decision is followed either way. See [`CallerSampling`].
    pub fn caller_sampling(mut self, policy: CallerSampling) -> Self {
        self.config.caller_sampling = policy;
        self
    }

    /// Records query strings of the request URL and of outgoing calls, with the values of
    /// sensitive parameters replaced by `REDACTED` ([`crate::redact`] has the rule). Off by
    /// default (`LAMBDA_TRACE_CAPTURE_QUERY`).
    pub fn capture_query(mut self, yes: bool) -> Self {
        self.config.capture_query = yes;
        self
    }

    /// Records the handler's response body as metadata `lambda_trace.response.body`, cut to
    /// [`MAX_CAPTURED_BODY`](super::MAX_CAPTURED_BODY) bytes. Off by default
    /// (`LAMBDA_TRACE_CAPTURE_RESPONSE`): responses may hold personal data. The module docs of
    /// [`layer`](super) list the response types read.
    pub fn capture_response(mut self, yes: bool) -> Self {
        self.config.capture_response = yes;
        self
    }

    /// Name the invocation span after the API route (`GET /orders/{id}`) instead of the function.
    pub fn route_as_name(mut self, yes: bool) -> Self {
        self.config.route_as_name = yes;
        self
    }

    /// Reads the caller's context and request data of events of your type `E` through its
    /// [`EventCarrier`] implementation (a Step Functions task, a custom JSON payload). Checked
    /// before the built-in carriers, so it also replaces one (your view of a
    /// `serde_json::Value`). What it returns is capped as the built-in carriers' data is. See
    /// [the carrier module](crate::carrier#your-own-event-types) for a complete example.
    ///
    /// ```
    /// use lambda_trace::carrier::{EventCarrier, RequestInfo};
    /// use lambda_trace::propagation::Extractor;
    /// use lambda_trace::TraceLayer;
    ///
    /// struct Job { traceparent: Option<String> }
    ///
    /// impl Extractor for Job {
    ///     fn get(&self, name: &str) -> Option<&str> {
    ///         name.eq_ignore_ascii_case("traceparent").then_some(self.traceparent.as_deref()?)
    ///     }
    ///     fn keys(&self) -> Vec<&str> {
    ///         self.traceparent.iter().map(|_| "traceparent").collect()
    ///     }
    /// }
    ///
    /// impl EventCarrier for Job {
    ///     fn request_info(&self) -> RequestInfo { RequestInfo::default() }
    /// }
    ///
    /// let layer = TraceLayer::builder().carrier::<Job>().build();
    /// # let _ = layer;
    /// ```
    pub fn carrier<E: EventCarrier + Any>(mut self) -> Self {
        self.carriers.add::<E>(crate::carrier::itself::<E>);
        self
    }

    /// Like [`carrier`](Self::carrier), for an event type of which a part is the carrier: e.g.
    /// a `headers: HashMap<String, String>` field (a map of headers is a carrier, names in any
    /// case), or a type of your own inside a type you cannot implement the trait for.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use lambda_trace::TraceLayer;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Task { input: serde_json::Value, headers: HashMap<String, String> }
    ///
    /// let layer = TraceLayer::builder().carrier_with::<Task>(|t| &t.headers).build();
    /// # let _ = layer;
    /// ```
    pub fn carrier_with<E: Any>(mut self, view: fn(&E) -> &dyn EventCarrier) -> Self {
        self.carriers.add::<E>(view);
        self
    }

    /// Turns tracing off: the handler runs unwrapped.
    pub fn disabled(mut self, yes: bool) -> Self {
        self.config.disabled = yes;
        self
    }

    /// Builds the layer. Never fails: an exporter that cannot start (bad daemon address) is
    /// replaced by one that drops spans, with one log line.
    pub fn build(self) -> TraceLayer {
        super::panic_stack::install();
        let config = self.config;
        let exporter = self
            .exporter
            .unwrap_or_else(|| crate::export::exporter_for(&config));
        let settings = Settings {
            propagator: Arc::new(CompositePropagator::from_read_write(
                &config.propagators,
                config
                    .propagators_inject
                    .as_deref()
                    .unwrap_or(&config.propagators),
            )),
            resource: Arc::new(config.resource.clone()),
            max_spans: config.max_spans,
            max_annotations: crate::span::MAX_ANNOTATIONS,
            limits: config.span_limits.capped(),
            capture_query: config.capture_query,
        };
        let mut shared = Shared::new(config, settings, exporter);
        shared.carriers = self.carriers;
        TraceLayer {
            shared: Arc::new(shared),
        }
    }
}
