//! [`Span`]: a cheap, cloneable handle to a span of the current invocation.

use std::borrow::Cow;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use super::current;
use super::limits::{cap_chars, sanitize_annotation_key};
#[cfg(feature = "tracing")]
use super::record::SpanEvent;
use super::record::{
    AnnotationValue, Attribute, AttributeValue, ExceptionRecord, HttpRequestInfo, HttpResponseInfo,
    Outcome, RemoteNamespace, SpanKind, SpanRecord, now_unix_nanos,
};
use super::recorder::{Recorder, SpanInner};
use super::state::State;
use super::{
    MAX_ANNOTATION_STRING, MAX_ATTRIBUTE_CHARS, MAX_EXCEPTION_MESSAGE_CHARS, MAX_EXCEPTIONS,
    MAX_SPAN_NAME_CHARS, SpanLimits,
};
use crate::context::{SpanId, TraceContext};
use crate::propagation::{HeaderInjector, Injector, Propagator};

/// A handle to one span. Clones refer to the same span.
///
/// Outside an invocation (or when the trace is not sampled) a span records nothing; every method
/// is still safe to call, so instrumented code needs no `if`.
///
/// ```
/// # async fn example() {
/// let span = lambda_trace::current();
/// span.annotate("orderId", "o-123");
/// span.metadata("order", serde_json::json!({"items": 3}));
/// let total = span.in_child("price", async { 42 }).await;
/// # let _ = total;
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Span {
    inner: Option<Arc<SpanInner>>,
}

impl Span {
    /// A span that records nothing and propagates nothing.
    pub fn noop() -> Self {
        Self { inner: None }
    }

    /// Opens a span in `recorder`, child of `parent`.
    pub(crate) fn start_in(
        recorder: Arc<Recorder>,
        parent: Option<SpanId>,
        depth: u32,
        name: Cow<'static, str>,
        kind: SpanKind,
    ) -> Self {
        Self::open(recorder, parent, depth, name, kind, None, false)
    }

    /// Opens a span in `recorder`, child of `parent`, in the trace of `foreign` when given (a
    /// message's context: the span and its children belong to that trace, and record only when
    /// its sampling decision does not say no); `remote_parent`: `parent` is another process's
    /// span.
    fn open(
        recorder: Arc<Recorder>,
        parent: Option<SpanId>,
        depth: u32,
        name: Cow<'static, str>,
        kind: SpanKind,
        foreign: Option<Arc<TraceContext>>,
        remote_parent: bool,
    ) -> Self {
        let id = SpanId::generate();
        let records = foreign
            .as_ref()
            .is_none_or(|cx| cx.sampling != crate::context::Sampling::NotSampled);
        let inner = Arc::new(SpanInner {
            recorder,
            id,
            depth,
            foreign,
            state: Mutex::new(None),
        });
        if records && inner.recorder.register(&inner) {
            let mut name = name;
            cap_cow(&mut name, MAX_SPAN_NAME_CHARS);
            let mut record = SpanRecord::new(id, parent, name, kind, now_unix_nanos());
            record.trace_id = inner.foreign.as_ref().map(|cx| cx.trace_id);
            record.remote_parent = remote_parent;
            *inner.state.lock().unwrap_or_else(PoisonError::into_inner) = Some(State::new(record));
        }
        Self { inner: Some(inner) }
    }

    /// Opens a span of `kind` in this span's invocation whose parent is `context`'s span: a
    /// span of `context`'s trace (OpenTelemetry's messaging `process` span, whose parent is the
    /// message's producer). It counts against the invocation's span limit; its children belong
    /// to `context`'s trace too, and its [`Span::context`] is `context` with this span as the
    /// parent. A `context` whose sampling is undecided takes the invocation's decision; one
    /// that says not sampled is propagated and not recorded. A no-op span for a no-op `self`.
    pub(crate) fn remote_child(
        &self,
        name: impl Into<Cow<'static, str>>,
        kind: SpanKind,
        mut context: TraceContext,
    ) -> Span {
        let Some(inner) = &self.inner else {
            return Span::noop();
        };
        if context.sampling == crate::context::Sampling::Deferred {
            context.sampling = if inner.recorder.recording {
                crate::context::Sampling::Sampled
            } else {
                crate::context::Sampling::NotSampled
            };
        }
        context.sampling_only = false;
        Span::open(
            Arc::clone(&inner.recorder),
            context.span_id,
            inner.depth.saturating_add(1),
            name.into(),
            kind,
            Some(Arc::new(context)),
            true,
        )
    }

    /// `true` when this span records data (it belongs to a sampled invocation that has not been
    /// flushed yet).
    pub fn is_recording(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| {
            !i.recorder.is_closed()
                && i.state
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .as_ref()
                    .is_some_and(|s| !s.ended)
        })
    }

    /// The trace this span belongs to (`None` for a no-op span): the invocation's, or for a
    /// span opened under a message's own context
    /// ([`messaging::each_record`](crate::messaging::each_record)) that message's.
    pub fn trace_id(&self) -> Option<crate::context::TraceId> {
        self.inner.as_ref().map(|i| match &i.foreign {
            Some(cx) => cx.trace_id,
            None => i.recorder.trace_id(),
        })
    }

    /// This span's id (`None` for a no-op span).
    pub fn span_id(&self) -> Option<SpanId> {
        self.inner.as_ref().map(|i| i.id)
    }

    /// The context to send to a service called from inside this span: same trace, this span as
    /// the parent. `None` for a no-op span.
    pub fn context(&self) -> Option<TraceContext> {
        let inner = self.inner.as_ref()?;
        Some(inner.trace_context().with_span_id(inner.id))
    }

    /// Opens a child span, started now. End it with [`Span::end`], or use [`Span::in_child`].
    ///
    /// Names are `&'static str` (kept as they are, no copy) or `String` (a name built at run
    /// time), as OpenTelemetry's span names are.
    pub fn child(&self, name: impl Into<Cow<'static, str>>) -> Span {
        self.child_of_kind(name, SpanKind::Internal)
    }

    /// Opens a child span that ends when the returned guard is dropped.
    pub fn child_guard(&self, name: impl Into<Cow<'static, str>>) -> super::SpanGuard {
        super::SpanGuard::new(self.child(name))
    }

    /// Opens a child span of the given kind.
    pub fn child_of_kind(&self, name: impl Into<Cow<'static, str>>, kind: SpanKind) -> Span {
        match &self.inner {
            Some(inner) => Span::open(
                Arc::clone(&inner.recorder),
                Some(inner.id),
                inner.depth.saturating_add(1),
                name.into(),
                kind,
                inner.foreign.clone(),
                false,
            ),
            None => Span::noop(),
        }
    }

    /// Runs `future` inside a new child span that is current while it runs, and ends the span
    /// when the future completes.
    pub async fn in_child<F: Future>(
        &self,
        name: impl Into<Cow<'static, str>>,
        future: F,
    ) -> F::Output {
        let child = self.child(name);
        let output = current::scope(child.clone(), future).await;
        child.end();
        output
    }

    /// Runs `f` inside a new child span that is current while it runs.
    pub fn in_child_sync<R>(
        &self,
        name: impl Into<Cow<'static, str>>,
        f: impl FnOnce(&Span) -> R,
    ) -> R {
        let child = self.child(name);
        let output = current::sync_scope(child.clone(), || f(&child));
        child.end();
        output
    }

    /// Ends the span now. Later calls, and changes after it, are ignored.
    pub fn end(&self) {
        self.with_state(|s| {
            s.record.end_unix_nanos = now_unix_nanos().max(s.record.start_unix_nanos);
            s.ended = true;
        });
    }

    /// Adds an indexed annotation (filterable in X-Ray).
    ///
    /// The key is sanitized to `[A-Za-z0-9_]` (other characters become `_`, at most 500 chars);
    /// string values are cut to 1,000 chars. A trace holds at most 50 annotations: later ones are
    /// dropped with one log line per invocation. Setting a key again replaces its value.
    ///
    /// Keys are `&'static str` (no copy when already valid) or `String`:
    ///
    /// ```
    /// # let span = lambda_trace::Span::noop();
    /// span.annotate("orderId", "o-123");
    /// for (i, item) in ["a", "b"].iter().enumerate() {
    ///     span.annotate(format!("item_{i}"), *item);
    /// }
    /// ```
    pub fn annotate(&self, key: impl Into<Cow<'static, str>>, value: impl Into<AnnotationValue>) {
        // The generic part is only the conversions: the rest is compiled once, not once per
        // key and value type (issue 6, binary size).
        if self.inner.is_some() {
            self.annotate_value(key.into(), value.into());
        }
    }

    fn annotate_value(&self, key: Cow<'static, str>, mut value: AnnotationValue) {
        let Some(inner) = &self.inner else { return };
        let key = match key {
            Cow::Borrowed(key) => sanitize_annotation_key(key),
            // A valid owned key is kept as it is (no copy).
            Cow::Owned(key) => match sanitize_annotation_key(&key) {
                Some(Cow::Borrowed(_)) => Some(Cow::Owned(key)),
                other => other.map(|k| Cow::Owned(k.into_owned())),
            },
        };
        let Some(key) = key else {
            return;
        };
        if let AnnotationValue::String(s) = &mut value {
            cap_chars(s, MAX_ANNOTATION_STRING);
        }
        if let AnnotationValue::Float(f) = value
            && !f.is_finite()
        {
            value = AnnotationValue::String(f.to_string());
        }
        let recorder = &inner.recorder;
        self.with_state(|s| {
            if let Some(slot) = s.record.annotations.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
            } else if recorder.take_annotation_slot() {
                s.record.annotations.push((key, value));
            }
        });
    }

    /// Adds metadata (not indexed) under the default namespace (the service name).
    pub fn metadata(&self, key: &str, value: impl serde::Serialize) {
        let Some(inner) = &self.inner else { return };
        let namespace = inner.recorder.settings.resource.service_name.clone();
        self.metadata_in(&namespace, key, value);
    }

    /// Adds metadata under `namespace`; setting a key again replaces its value. Namespaces
    /// starting with `AWS.` are reserved by X-Ray and refused (logged). A span holds at most
    /// [`MAX_METADATA_ENTRIES`] entries and [`MAX_METADATA_BYTES`] bytes of metadata: an entry
    /// past either is dropped, with one log line per span.
    ///
    /// [`MAX_METADATA_ENTRIES`]: super::MAX_METADATA_ENTRIES
    /// [`MAX_METADATA_BYTES`]: super::MAX_METADATA_BYTES
    pub fn metadata_in(&self, namespace: &str, key: &str, value: impl serde::Serialize) {
        if self.inner.is_none() {
            return;
        }
        if namespace.starts_with("AWS.") {
            tracing::warn!(target: "lambda_trace", "metadata namespaces starting with `AWS.` are reserved; entry dropped");
            return;
        }
        let value = match serde_json::to_value(value) {
            Ok(v) => v,
            Err(e) => serde_json::Value::String(format!("<unserializable: {e}>")),
        };
        let namespace = if namespace.is_empty() {
            "default"
        } else {
            namespace
        };
        self.with_state(|s| s.put_metadata(namespace, key, value));
    }

    /// Records `error` and its chain of sources as the span's cause, and marks it a fault.
    ///
    /// A span keeps at most [`MAX_EXCEPTIONS`] exceptions, each message cut to
    /// [`MAX_EXCEPTION_MESSAGE_CHARS`] characters.
    pub fn record_error(&self, error: &(dyn Error + 'static)) {
        self.record_error_as(
            error,
            Outcome {
                fault: true,
                ..Outcome::default()
            },
        );
    }

    /// Records `error` and its chain with the given flags: e.g. `error` for a call that a remote
    /// service refused with a 4xx, where [`Span::record_error`] would say `fault`.
    pub fn record_error_as(&self, error: &(dyn Error + 'static), outcome: Outcome) {
        self.record_exceptions(ExceptionRecord::chain(error, false), outcome);
    }

    /// Records an event (a log line) that happened inside this span. A span keeps at most
    /// [`MAX_SPAN_EVENTS`](super::MAX_SPAN_EVENTS) (or the lower `OTEL_SPAN_EVENT_COUNT_LIMIT`);
    /// later events are counted in [`SpanRecord::dropped_events`].
    #[cfg(feature = "tracing")]
    pub(crate) fn add_event(&self, event: SpanEvent) {
        let max = self.limits().event_count;
        self.with_state(|s| {
            if s.record.events.len() < max {
                s.record.events.push(event);
            } else {
                s.record.dropped_events = s.record.dropped_events.saturating_add(1);
            }
        });
    }

    /// Renames the span (while it is open): `otel.name` in the `tracing` bridge; the AWS SDK
    /// interceptor, which learns the service's name after opening the span.
    #[cfg(any(feature = "tracing", feature = "aws-sdk"))]
    pub(crate) fn set_name(&self, name: impl Into<Cow<'static, str>>) {
        let mut name = name.into();
        cap_cow(&mut name, MAX_SPAN_NAME_CHARS);
        self.with_state(|s| s.record.name = name);
    }

    /// Adds metadata under `namespace`, replacing an earlier value of the same key there, with
    /// the limits of [`Span::metadata_in`] (no check of the namespace: the caller picks it).
    #[cfg(feature = "tracing")]
    pub(crate) fn set_metadata_in(&self, namespace: &str, key: &str, value: serde_json::Value) {
        self.with_state(|s| s.put_metadata(namespace, key, value));
    }

    /// `true` when this span belongs to an invocation that has not been flushed yet (sampled or
    /// not): children opened from it still belong to that invocation.
    pub(crate) fn is_live(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| !i.recorder.is_closed())
    }

    /// How deep the span is in its invocation's tree: 0 for the invocation span.
    pub(crate) fn depth(&self) -> u32 {
        self.inner.as_ref().map_or(0, |i| i.depth)
    }

    /// `true` when both spans belong to the same invocation.
    pub(crate) fn same_invocation(&self, other: &Span) -> bool {
        match (&self.inner, &other.inner) {
            (Some(a), Some(b)) => Arc::ptr_eq(&a.recorder, &b.recorder),
            _ => false,
        }
    }

    /// Records exceptions with the given outcome flags: at most [`MAX_EXCEPTIONS`] per span,
    /// their text cut to [`MAX_EXCEPTION_MESSAGE_CHARS`].
    pub(crate) fn record_exceptions(&self, exceptions: Vec<ExceptionRecord>, outcome: Outcome) {
        self.with_state(|s| {
            s.record.outcome.merge(outcome);
            let room = MAX_EXCEPTIONS.saturating_sub(s.record.exceptions.len());
            s.record
                .exceptions
                .extend(exceptions.into_iter().take(room).map(|mut e| {
                    cap_chars(&mut e.message, MAX_EXCEPTION_MESSAGE_CHARS);
                    if let Some(t) = &mut e.type_name {
                        cap_chars(t, MAX_EXCEPTION_MESSAGE_CHARS);
                    }
                    e
                }));
        });
    }

    /// Sets error/throttle/fault flags (they only ever get added).
    pub fn set_outcome(&self, outcome: Outcome) {
        self.with_state(|s| s.record.outcome.merge(outcome));
    }

    /// `true` when the layer that opened this span's invocation records query strings
    /// (`LAMBDA_TRACE_CAPTURE_QUERY`).
    pub(crate) fn captures_query(&self) -> bool {
        self.inner
            .as_ref()
            .is_some_and(|i| i.recorder.settings.capture_query)
    }

    /// Records the HTTP request this span serves or makes (each text cut to
    /// [`MAX_ATTRIBUTE_CHARS`](super::MAX_ATTRIBUTE_CHARS), or the lower
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
    pub fn set_http_request(&self, mut request: HttpRequestInfo) {
        let max = self.limits().attribute_value_length;
        for text in [
            &mut request.method,
            &mut request.url,
            &mut request.route,
            &mut request.user_agent,
            &mut request.client_ip,
        ]
        .into_iter()
        .flatten()
        {
            cap_chars(text, max);
        }
        self.with_state(|s| s.record.http_request = Some(request));
    }

    /// Records the HTTP response status (and sets error 4xx / throttle 429 / fault 5xx).
    pub fn set_http_status(&self, status: u16) {
        self.with_state(|s| {
            s.record
                .http_response
                .get_or_insert_with(HttpResponseInfo::default)
                .status = Some(status);
            s.record.outcome.merge(Outcome::from_http_status(status));
        });
    }

    /// Records the HTTP response's `Content-Length`.
    pub fn set_http_content_length(&self, length: u64) {
        self.with_state(|s| {
            s.record
                .http_response
                .get_or_insert_with(HttpResponseInfo::default)
                .content_length = Some(length);
        });
    }

    /// Changes the span's kind once what it does is known (an AWS SDK call that turns out to
    /// send messages is a `Producer`).
    #[cfg(feature = "aws-sdk")]
    pub(crate) fn set_kind(&self, kind: SpanKind) {
        self.with_state(|s| s.record.kind = kind);
    }

    /// Marks the span as a call to a remote service (`remote` for HTTP, `aws` for AWS SDK).
    pub fn set_namespace(&self, namespace: RemoteNamespace) {
        self.with_state(|s| s.record.namespace = Some(namespace));
    }

    /// Sets a semantic-convention attribute (`faas.*`, `http.*`, …).
    ///
    /// A span holds at most [`MAX_SPAN_ATTRIBUTES`](super::MAX_SPAN_ATTRIBUTES) (or the lower
    /// `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`): a new key past that is dropped (an existing one is
    /// still replaced). Keys and string values are cut to
    /// [`MAX_ATTRIBUTE_CHARS`](super::MAX_ATTRIBUTE_CHARS) (values: or the lower
    /// `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`).
    pub fn set_attribute(&self, mut attribute: Attribute) {
        if self.inner.is_none() {
            return;
        }
        let limits = self.limits();
        cap_attribute(&mut attribute, limits.attribute_value_length);
        self.with_state(|s| upsert_attribute(&mut s.record.attributes, attribute, limits));
    }

    /// Sets several attributes at once, with the caps of [`Span::set_attribute`] (one lock; a
    /// span without attributes takes the `Vec`, whose keys the caller keeps distinct).
    pub(crate) fn set_attributes(&self, mut attributes: Vec<Attribute>) {
        if self.inner.is_none() {
            return;
        }
        let limits = self.limits();
        for attribute in &mut attributes {
            cap_attribute(attribute, limits.attribute_value_length);
        }
        self.with_state(|s| {
            if s.record.attributes.is_empty() {
                attributes.truncate(limits.attribute_count);
                s.record.attributes = attributes;
                return;
            }
            for attribute in attributes {
                upsert_attribute(&mut s.record.attributes, attribute, limits);
            }
        });
    }

    /// Links this span to another trace's context (kept, not followed).
    ///
    /// A span holds at most [`MAX_SPAN_LINKS`](super::MAX_SPAN_LINKS) (or the lower
    /// `OTEL_SPAN_LINK_COUNT_LIMIT`); later ones are counted in
    /// [`SpanRecord::dropped_links`].
    pub fn add_link(&self, context: &TraceContext) {
        let max = self.limits().link_count;
        self.with_state(|s| {
            if s.record.links.len() < max {
                s.record.links.push((context.trace_id, context.span_id));
            } else {
                s.record.dropped_links = s.record.dropped_links.saturating_add(1);
            }
        });
    }

    /// Counts `n` links that were not added (found over a cap before [`Span::add_link`]).
    pub(crate) fn count_dropped_links(&self, n: usize) {
        if n > 0 {
            self.with_state(|s| s.record.dropped_links = s.record.dropped_links.saturating_add(n));
        }
    }

    /// The context `headers` carry, read with the propagators of the layer that opened this
    /// span's invocation (`None` for a no-op span, or when they carry none): for the `index`th
    /// message of the event, the context the layer read for its link when `headers` give the
    /// same answers ([`MessageContexts::reuse`](super::messages::MessageContexts::reuse)), else
    /// extracted.
    pub(crate) fn extract_message(
        &self,
        index: usize,
        headers: &dyn crate::propagation::Extractor,
    ) -> Option<TraceContext> {
        let inner = self.inner.as_ref()?;
        let recorder = &inner.recorder;
        match recorder
            .message_contexts()
            .and_then(|kept| kept.reuse(index, headers))
        {
            Some(context) => context,
            None => recorder.settings.propagator.extract(headers),
        }
    }

    /// `text` as its layer shares text that repeats from invocation to invocation (its
    /// bounded interner: no copy once kept), else a copy.
    pub(crate) fn intern(&self, text: &str) -> Cow<'static, str> {
        match &self.inner {
            Some(inner) => (inner.recorder.intern)(text),
            None => Cow::Owned(text.to_owned()),
        }
    }

    /// The most links this span keeps (its layer's link limit).
    pub(crate) fn link_limit(&self) -> usize {
        self.limits().link_count
    }

    /// Writes this span's context into `headers` in every configured format, so the callee
    /// continues this trace with this span as its parent.
    pub fn inject(&self, headers: &mut http::HeaderMap) {
        self.inject_into(&mut HeaderInjector(headers));
    }

    /// Like [`Span::inject`], into any [`Injector`].
    pub fn inject_into(&self, injector: &mut dyn Injector) {
        if let Some(inner) = &self.inner {
            let cx = inner.trace_context().with_span_id(inner.id);
            inner.recorder.settings.propagator.inject(&cx, injector);
        }
    }

    /// The span limits of the layer that opened this span's invocation (the defaults for a
    /// no-op span).
    fn limits(&self) -> SpanLimits {
        self.inner
            .as_ref()
            .map_or_else(SpanLimits::default, |i| i.recorder.settings.limits)
    }

    fn with_state(&self, f: impl FnOnce(&mut State)) {
        if let Some(inner) = &self.inner
            && !inner.recorder.is_closed()
            && let Some(state) = inner
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_mut()
            && !state.ended
        {
            f(state);
        }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Some(i) => f
                .debug_struct("Span")
                .field("trace_id", &i.recorder.trace_id())
                .field("span_id", &i.id)
                .finish(),
            None => f.write_str("Span(noop)"),
        }
    }
}

/// [`cap_chars`] for text that may be borrowed: a long borrowed text becomes an owned cut copy.
fn cap_cow(text: &mut Cow<'static, str>, max: usize) {
    if text.len() > max && text.chars().nth(max).is_some() {
        let mut owned = text.to_string();
        cap_chars(&mut owned, max);
        *text = Cow::Owned(owned);
    }
}

/// Cuts an attribute's key to [`MAX_ATTRIBUTE_CHARS`] and its string value to `max_value`.
fn cap_attribute((key, value): &mut Attribute, max_value: usize) {
    cap_cow(key, MAX_ATTRIBUTE_CHARS);
    if let AttributeValue::String(v) = value {
        cap_cow(v, max_value);
    }
}

/// Replaces the attribute with the same key, or appends it while there is room
/// ([`SpanLimits::attribute_count`]).
fn upsert_attribute(list: &mut Vec<Attribute>, attribute: Attribute, limits: SpanLimits) {
    if let Some(slot) = list.iter_mut().find(|(k, _)| *k == attribute.0) {
        *slot = attribute;
    } else if list.len() < limits.attribute_count {
        list.push(attribute);
    }
}
