//! The `tracing` bridge: code already instrumented with [`tracing`] is traced without a second
//! set of calls.
//!
//! | file | concern |
//! |---|---|
//! | `layer.rs` | [`TracingBridge`], the `tracing_subscriber` layer: which span is whose parent, events |
//! | `fields.rs` | field values, and what a field name means (annotation, metadata, `otel.*`) |
//! | `lookup.rs` | [`span_of`]: from a `tracing` span to its lambda-trace span; the bridge's current span |
//!
//! # 1. Set up
//! Add the bridge to the subscriber once, at start-up, next to any other layer (a log
//! formatter, a filter), and wrap the handler as usual:
//!
//! ```no_run
//! use lambda_runtime::{service_fn, Error, LambdaEvent};
//! use lambda_trace::bridge::TracingBridge;
//! use serde_json::{json, Value};
//! use tracing_subscriber::prelude::*;
//!
//! #[tracing::instrument(skip(event), fields(annotation.orderId = %event.payload["id"]))]
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     let price = price(3).await;
//!     tracing::info!(price, "priced");
//!     Ok(json!({ "price": price }))
//! }
//!
//! #[tracing::instrument]
//! async fn price(items: u32) -> u32 {
//!     items * 7
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     tracing_subscriber::registry().with(TracingBridge::new()).init();
//!     lambda_trace::run(service_fn(handler)).await
//! }
//! ```
//!
//! The trace then shows the invocation span, under it `handler` (annotated `orderId`), under
//! that `price` (with metadata `tracing.items = 3`), and the event `priced` in `handler`'s
//! metadata `tracing.events`.
//!
//! # 2. What becomes what
//! | `tracing` | lambda-trace |
//! |---|---|
//! | a span created inside an invocation | a child [`Span`](crate::Span) of the bridged span of its nearest bridged `tracing` ancestor, else of [`lambda_trace::current()`](crate::current) |
//! | a span created outside any invocation | nothing |
//! | the span's name | the span's name; the field `otel.name` overrides it (also when recorded later) |
//! | `otel.kind = "client"` / `"server"` | [`SpanKind::Client`](crate::span::SpanKind) / `Server` (read when the span opens; default `Internal`) |
//! | `otel.status_code = "ERROR"` | the span is a fault |
//! | a field `annotation.<key>` | the annotation `<key>` ([`Span::annotate`](crate::Span::annotate)'s rules: key sanitized to `[A-Za-z0-9_]`, strings cut to 1,000 chars, at most 50 per trace) |
//! | any other field (at creation or with `record`) | metadata `tracing.<field>`: the JSON of a str / integer / float / bool, the `Debug` (or `Display` with `%`) text otherwise; recording a field again replaces its value |
//! | closing the span (its last handle dropped) | the span ends |
//! | an event (`info!`, `warn!`, …) inside a bridged span, or directly in the invocation | a [`SpanEvent`](crate::span::SpanEvent) of that span; in X-Ray the metadata array `tracing.events` of `{"time", "level", "target", "message", "fields"}`; at most [`MAX_SPAN_EVENTS`](crate::span::MAX_SPAN_EVENTS) a span, the rest counted in `lambda_trace.dropped_events` |
//! | spans and events with target `lambda_trace` or `lambda_trace::…` (this crate's own log lines) | ignored |
//!
//! ## Annotations: the `annotation.` prefix
//! X-Ray indexes annotations (you can filter traces by them) but allows only 50 a trace, so the
//! bridge does not turn every field into one: a field becomes an annotation only when you ask
//! for it by naming it `annotation.<key>`. `tracing` accepts dotted field names, so this reads
//! naturally and costs nothing when the bridge is absent (the field is then just a field):
//!
//! ```
//! # let order_id = "o-123";
//! let span = tracing::info_span!("checkout", annotation.orderId = order_id, items = 3);
//! # drop(span);
//! ```
//!
//! gives the annotation `orderId = "o-123"` and the metadata `tracing.items = 3`. The value is
//! not also written as metadata. A field declared empty (`annotation.userId =
//! tracing::field::Empty`) can be annotated later with `span.record("annotation.userId", 42)`.
//!
//! # 3. Parents, across `.await` and across invocations
//! The parent is fixed when the `tracing` span is *created*, so `#[instrument]` on `async fn`s
//! (which enters and exits the span at every poll) nests as the calls nest. A bridged span
//! holds its invocation: a `tracing` parent from another invocation, or from one that was
//! already flushed (a span kept in a `static`, a guard held across an `.await`), is never used;
//! the new span then hangs under the task's span. Concurrent invocations in one
//! process (`lambda_runtime`'s concurrent mode) each get only their own spans.
//!
//! A task spawned with `tokio::spawn(fut.instrument(span))` keeps its `tracing` parent, so its
//! spans (and its outgoing calls) still nest under `span` although the task's own span does not
//! travel with it.
//!
//! # 4. One current span
//! Once the bridge is installed, [`lambda_trace::current()`](crate::current) is the bridged
//! span of the `tracing` span you are in (an `#[instrument]`ed function's), or the task's span
//! ([`scope`](crate::scope), [`Span::in_child`](crate::Span::in_child)) when that one is nested
//! deeper. So the reqwest middleware, [`OutgoingCall`](crate::outgoing::OutgoingCall) and the
//! AWS SDK interceptor open their spans under the `#[instrument]` span that makes the call, and
//! `lambda_trace::current()` there reaches that span to add what fields cannot say (HTTP data,
//! an error with its chain). [`span_of`] gives the bridged span of any `tracing` span you hold.
//!
//! # 5. Errors
//! An `ERROR` event — `#[instrument(err)]`'s (its field `error` is the message), or any
//! `tracing::error!` — marks its span a fault and records an exception with that message, as
//! tracing-opentelemetry sets its span's status to error.
//!
//! # 6. What is recorded: `INFO` and above, your crates'
//! By default the bridge records spans and events at `INFO` and above, and none of the crates
//! of [`LIBRARY_TARGETS`] (the AWS SDK, hyper, rustls, tower, reqwest, the Lambda runtime):
//! a trace is for your code, and a dependency's internals (the SDK's `try_op`,
//! `serialization`, `lazy_load_identity` spans, its `TRACE` events with the SigV4 canonical
//! request) would bury it and may hold what should not be recorded. The AWS SDK interceptor
//! and the reqwest middleware already record each call as one span. Ask for more with
//! [`TracingBridge::with_max_level`] and [`TracingBridge::with_libraries`]:
//!
//! ```
//! use lambda_trace::bridge::TracingBridge;
//! use tracing::level_filters::LevelFilter;
//!
//! let everything = TracingBridge::new()
//!     .with_max_level(LevelFilter::TRACE)
//!     .with_libraries(true);
//! # drop(everything);
//! ```
//!
//! The bridge also sees only what the subscriber enables: events and spans at levels filtered
//! out never reach it (that is `tracing`'s job). Compose it with a filter for the whole
//! subscriber, or give the bridge its own (a per-layer filter), e.g. by target:
//!
//! ```
//! use lambda_trace::bridge::TracingBridge;
//! use tracing_subscriber::filter::Targets;
//! use tracing_subscriber::prelude::*;
//!
//! let only_orders = Targets::new().with_target("orders", tracing::Level::DEBUG);
//! let subscriber = tracing_subscriber::registry().with(
//!     TracingBridge::new()
//!         .with_max_level(tracing::level_filters::LevelFilter::DEBUG)
//!         .with_filter(only_orders),
//! );
//! # drop(subscriber);
//! ```
//!
//! A span that is not recorded is skipped: its children hang under its nearest bridged
//! ancestor.
//!
//! # Cost
//! Outside an invocation, or when the trace is not sampled, a new `tracing` span costs one
//! task-local read (plus, when sampled off, a span id and an `Arc` so that outgoing calls still
//! carry the trace); events and `record`s are dropped before their fields are visited.

mod fields;
mod layer;
mod lookup;

pub use layer::{LIBRARY_TARGETS, TracingBridge};
pub use lookup::span_of;

/// Field names starting with this become annotations: `annotation.orderId` → `orderId`.
pub const ANNOTATION_PREFIX: &str = "annotation.";

/// The metadata namespace of span fields (and of span events, key `events`).
pub const FIELDS_NAMESPACE: &str = crate::xray::EVENTS_NAMESPACE;
