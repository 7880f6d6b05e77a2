//! [`Span`]: a cheap, cloneable handle to a span of the current invocation.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

#[cfg(feature = "tracing")]
use super::MAX_SPAN_EVENTS;
use super::current;
use super::limits::{sanitize_annotation_key, truncate_chars};
#[cfg(feature = "tracing")]
use super::record::SpanEvent;
use super::record::{
    AnnotationValue, Attribute, ExceptionRecord, HttpRequestInfo, HttpResponseInfo, MetadataEntry,
    Outcome, RemoteNamespace, SpanKind, SpanRecord, now_unix_nanos,
};
use super::recorder::Recorder;
use super::{MAX_ANNOTATION_STRING, MAX_EXCEPTIONS};
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

pub(crate) struct SpanInner {
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) id: SpanId,
    /// `None` once the span was flushed, or when it never recorded.
    state: Mutex<Option<State>>,
}

struct State {
    record: SpanRecord,
    ended: bool,
}

impl fmt::Debug for SpanInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanInner")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SpanInner {
    /// Takes the record out for export, closing it at `now` if still open.
    pub(crate) fn take_record(&self, now: u64) -> Option<SpanRecord> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        let mut record = state.record;
        if !state.ended {
            record.end_unix_nanos = now.max(record.start_unix_nanos);
            record.unfinished = true;
        }
        Some(record)
    }
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
        name: String,
        kind: SpanKind,
    ) -> Self {
        let id = SpanId::generate();
        let inner = Arc::new(SpanInner {
            recorder,
            id,
            state: Mutex::new(None),
        });
        if inner.recorder.register(&inner) {
            let record = SpanRecord::new(id, parent, name, kind, now_unix_nanos());
            *inner.state.lock().unwrap_or_else(PoisonError::into_inner) = Some(State {
                record,
                ended: false,
            });
        }
        Self { inner: Some(inner) }
    }

    /// `true` when this span records data (it belongs to a sampled invocation that has not been
    /// flushed yet).
    pub fn is_recording(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| {
            i.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .is_some_and(|s| !s.ended)
        })
    }

    /// The trace this span belongs to (`None` for a no-op span).
    pub fn trace_id(&self) -> Option<crate::TraceId> {
        self.inner.as_ref().map(|i| i.recorder.trace_id())
    }

    /// This span's id (`None` for a no-op span).
    pub fn span_id(&self) -> Option<SpanId> {
        self.inner.as_ref().map(|i| i.id)
    }

    /// The context to send to a service called from inside this span: same trace, this span as
    /// the parent. `None` for a no-op span.
    pub fn context(&self) -> Option<TraceContext> {
        let inner = self.inner.as_ref()?;
        Some(inner.recorder.context.with_span_id(inner.id))
    }

    /// Opens a child span, started now. End it with [`Span::end`], or use [`Span::in_child`].
    pub fn child(&self, name: impl Into<String>) -> Span {
        self.child_of_kind(name, SpanKind::Internal)
    }

    /// Opens a child span that ends when the returned guard is dropped.
    pub fn child_guard(&self, name: impl Into<String>) -> super::SpanGuard {
        super::SpanGuard::new(self.child(name))
    }

    /// Opens a child span of the given kind.
    pub fn child_of_kind(&self, name: impl Into<String>, kind: SpanKind) -> Span {
        match &self.inner {
            Some(inner) => Span::start_in(
                Arc::clone(&inner.recorder),
                Some(inner.id),
                name.into(),
                kind,
            ),
            None => Span::noop(),
        }
    }

    /// Runs `future` inside a new child span that is current while it runs, and ends the span
    /// when the future completes.
    pub async fn in_child<F: Future>(&self, name: impl Into<String>, future: F) -> F::Output {
        let child = self.child(name);
        let output = current::scope(child.clone(), future).await;
        child.end();
        output
    }

    /// Runs `f` inside a new child span that is current while it runs.
    pub fn in_child_sync<R>(&self, name: impl Into<String>, f: impl FnOnce(&Span) -> R) -> R {
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
    pub fn annotate(&self, key: &str, value: impl Into<AnnotationValue>) {
        let Some(inner) = &self.inner else { return };
        let Some(key) = sanitize_annotation_key(key) else {
            return;
        };
        let mut value = value.into();
        if let AnnotationValue::String(s) = &mut value {
            truncate_chars(s, MAX_ANNOTATION_STRING);
        }
        if let AnnotationValue::Float(f) = value
            && !f.is_finite()
        {
            value = AnnotationValue::String(f.to_string());
        }
        let recorder = Arc::clone(&inner.recorder);
        self.with_state(|s| {
            if let Some(slot) = s.record.annotations.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
            } else if recorder.take_annotation_slot() {
                s.record.annotations.push((key.into_owned(), value));
            }
        });
    }

    /// Adds metadata (not indexed) under the default namespace (the service name).
    pub fn metadata(&self, key: &str, value: impl serde::Serialize) {
        let Some(inner) = &self.inner else { return };
        let namespace = inner.recorder.settings.resource.service_name.clone();
        self.metadata_in(&namespace, key, value);
    }

    /// Adds metadata under `namespace`. Namespaces starting with `AWS.` are reserved by X-Ray
    /// and refused (logged once).
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
        self.with_state(|s| {
            s.record.metadata.push(MetadataEntry {
                namespace: namespace.to_string(),
                key: key.to_string(),
                value,
            });
        });
    }

    /// Records `error` and its chain of sources as the span's cause, and marks it a fault.
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
        let mut chain = Vec::new();
        let mut next = Some(error);
        while let Some(e) = next {
            if chain.len() == MAX_EXCEPTIONS {
                break;
            }
            chain.push(ExceptionRecord {
                message: e.to_string(),
                type_name: None,
                remote: false,
            });
            next = e.source();
        }
        self.record_exceptions(chain, outcome);
    }

    /// Records an event (a log line) that happened inside this span. A span keeps at most
    /// [`MAX_SPAN_EVENTS`]; later events are counted in [`SpanRecord::dropped_events`].
    #[cfg(feature = "tracing")]
    pub(crate) fn add_event(&self, event: SpanEvent) {
        self.with_state(|s| {
            if s.record.events.len() < MAX_SPAN_EVENTS {
                s.record.events.push(event);
            } else {
                s.record.dropped_events = s.record.dropped_events.saturating_add(1);
            }
        });
    }

    /// Renames the span (while it is open): `otel.name` in the `tracing` bridge; the AWS SDK
    /// interceptor, which learns the service's name after opening the span.
    #[cfg(any(feature = "tracing", feature = "aws-sdk"))]
    pub(crate) fn set_name(&self, name: impl Into<String>) {
        let name = name.into();
        self.with_state(|s| s.record.name = name);
    }

    /// Adds metadata under `namespace`, replacing an earlier value of the same key there (where
    /// [`Span::metadata_in`] appends).
    #[cfg(feature = "tracing")]
    pub(crate) fn set_metadata_in(&self, namespace: &str, key: &str, value: serde_json::Value) {
        self.with_state(|s| {
            let entries = &mut s.record.metadata;
            match entries
                .iter_mut()
                .find(|e| e.namespace == namespace && e.key == key)
            {
                Some(entry) => entry.value = value,
                None => entries.push(MetadataEntry {
                    namespace: namespace.to_string(),
                    key: key.to_string(),
                    value,
                }),
            }
        });
    }

    /// `true` when this span belongs to an invocation that has not been flushed yet (sampled or
    /// not): children opened from it still belong to that invocation.
    #[cfg(feature = "tracing")]
    pub(crate) fn is_live(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| !i.recorder.is_closed())
    }

    /// `true` when both spans belong to the same invocation.
    #[cfg(feature = "tracing")]
    pub(crate) fn same_invocation(&self, other: &Span) -> bool {
        match (&self.inner, &other.inner) {
            (Some(a), Some(b)) => Arc::ptr_eq(&a.recorder, &b.recorder),
            _ => false,
        }
    }

    /// Records exceptions with the given outcome flags.
    pub(crate) fn record_exceptions(&self, exceptions: Vec<ExceptionRecord>, outcome: Outcome) {
        self.with_state(|s| {
            s.record.outcome.merge(outcome);
            let room = MAX_EXCEPTIONS.saturating_sub(s.record.exceptions.len());
            s.record
                .exceptions
                .extend(exceptions.into_iter().take(room));
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

    /// Records the HTTP request this span serves or makes.
    pub fn set_http_request(&self, request: HttpRequestInfo) {
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

    /// Marks the span as a call to a remote service (`remote` for HTTP, `aws` for AWS SDK).
    pub fn set_namespace(&self, namespace: RemoteNamespace) {
        self.with_state(|s| s.record.namespace = Some(namespace));
    }

    /// Sets a semantic-convention attribute (`faas.*`, `http.*`, …).
    pub fn set_attribute(&self, attribute: Attribute) {
        self.with_state(|s| {
            if let Some(slot) = s
                .record
                .attributes
                .iter_mut()
                .find(|(k, _)| *k == attribute.0)
            {
                *slot = attribute;
            } else {
                s.record.attributes.push(attribute);
            }
        });
    }

    /// Sets several attributes at once (one lock; a span without attributes takes the `Vec`).
    pub(crate) fn set_attributes(&self, attributes: Vec<Attribute>) {
        self.with_state(|s| {
            if s.record.attributes.is_empty() {
                s.record.attributes = attributes;
                return;
            }
            for attribute in attributes {
                match s
                    .record
                    .attributes
                    .iter_mut()
                    .find(|(k, _)| *k == attribute.0)
                {
                    Some(slot) => *slot = attribute,
                    None => s.record.attributes.push(attribute),
                }
            }
        });
    }

    /// Links this span to another trace's context (kept, not followed).
    pub fn add_link(&self, context: &TraceContext) {
        self.with_state(|s| s.record.links.push((context.trace_id, context.span_id)));
    }

    /// Writes this span's context into `headers` in every configured format, so the callee
    /// continues this trace with this span as its parent.
    pub fn inject(&self, headers: &mut http::HeaderMap) {
        self.inject_into(&mut HeaderInjector(headers));
    }

    /// Like [`Span::inject`], into any [`Injector`].
    pub fn inject_into(&self, injector: &mut dyn Injector) {
        if let Some(inner) = &self.inner {
            let cx = inner.recorder.context.with_span_id(inner.id);
            inner.recorder.settings.propagator.inject(&cx, injector);
        }
    }

    fn with_state(&self, f: impl FnOnce(&mut State)) {
        if let Some(inner) = &self.inner
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
