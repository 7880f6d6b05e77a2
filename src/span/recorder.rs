//! The per-invocation collector of spans: every span of one invocation registers here, and the
//! layer drains it into one [`SpanBatch`] when the invocation ends.

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::messages::MessageContexts;
use super::record::{Resource, RootPlacement, SpanBatch, SpanRecord};
use super::state::State;
use crate::context::SpanId;
use crate::context::{TraceContext, TraceId};
use crate::propagation::CompositePropagator;

/// Settings shared by every invocation a layer serves.
#[derive(Debug)]
pub(crate) struct Settings {
    /// Formats injected into outgoing calls.
    pub(crate) propagator: Arc<CompositePropagator>,
    /// Service name, function name, …
    pub(crate) resource: Arc<Resource>,
    /// Most spans recorded per invocation.
    pub(crate) max_spans: usize,
    /// Most annotations per trace (X-Ray's limit is 50).
    pub(crate) max_annotations: usize,
    /// Attributes, events, links and attribute value length per span.
    pub(crate) limits: super::SpanLimits,
    /// Record query strings (redacted) of incoming requests and outgoing calls.
    pub(crate) capture_query: bool,
}

/// One invocation's spans.
#[derive(Debug)]
pub(crate) struct Recorder {
    pub(crate) settings: Arc<Settings>,
    /// The propagated context (trace id, sampling, tracestate, baggage, X-Ray extras).
    pub(crate) context: TraceContext,
    /// `false` when the trace is not sampled: spans exist for propagation only.
    pub(crate) recording: bool,
    spans: Mutex<Vec<Arc<SpanInner>>>,
    closed: AtomicBool,
    annotations: AtomicUsize,
    dropped_spans: AtomicUsize,
    warned_annotations: AtomicBool,
    /// The contexts of the event's messages as the layer read them for its links, for
    /// `messaging::each_record` to reuse (set once, at the start of the invocation).
    messages: OnceLock<MessageContexts>,
    /// A `'static` copy of text that repeats from invocation to invocation (span names,
    /// attribute values): the layer's bounded interner, so that spans share it instead of
    /// copying it each; a plain copy unless the layer sets it.
    pub(crate) intern: fn(&str) -> Cow<'static, str>,
}

impl Recorder {
    pub(crate) fn new(settings: Arc<Settings>, context: TraceContext, recording: bool) -> Self {
        Self {
            settings,
            context,
            recording,
            spans: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
            annotations: AtomicUsize::new(0),
            dropped_spans: AtomicUsize::new(0),
            warned_annotations: AtomicBool::new(false),
            messages: OnceLock::new(),
            intern: |s| Cow::Owned(s.to_owned()),
        }
    }

    /// Keeps the contexts of the event's messages (the first call wins).
    pub(crate) fn keep_message_contexts(&self, contexts: MessageContexts) {
        let _ = self.messages.set(contexts);
    }

    /// The contexts of the event's messages, when the layer kept them.
    pub(crate) fn message_contexts(&self) -> Option<&MessageContexts> {
        self.messages.get()
    }

    pub(crate) fn trace_id(&self) -> TraceId {
        self.context.trace_id
    }

    /// Registers a new span; `false` when it must not record (not sampled, over the limit, or the
    /// invocation already flushed).
    pub(crate) fn register(&self, span: &Arc<SpanInner>) -> bool {
        if !self.recording || self.is_closed() {
            return false;
        }
        let mut spans = self.spans.lock().unwrap_or_else(PoisonError::into_inner);
        if spans.len() >= self.settings.max_spans {
            drop(spans);
            if self.dropped_spans.fetch_add(1, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    target: "lambda_trace",
                    limit = self.settings.max_spans,
                    "span limit reached for this invocation; further spans are counted, not recorded"
                );
            }
            return false;
        }
        spans.push(Arc::clone(span));
        true
    }

    /// Takes one slot of the per-trace annotation budget; logs once when it runs out.
    pub(crate) fn take_annotation_slot(&self) -> bool {
        let used = self.annotations.fetch_add(1, Ordering::Relaxed);
        if used < self.settings.max_annotations {
            return true;
        }
        if !self.warned_annotations.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "lambda_trace",
                limit = self.settings.max_annotations,
                "annotation limit reached for this trace; further annotations are dropped"
            );
        }
        false
    }

    /// Closes the invocation: no span registers after this, and changes to its spans are
    /// ignored. [`Recorder::finish`] may then come later (the after-response flush mode) and
    /// still sees every span as it was now.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// `true` once [`Recorder::close`] (or [`Recorder::finish`]) ran.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the invocation, ends every span still open (marking it unfinished, ended at
    /// `end_unix_nanos`), and returns the batch.
    pub(crate) fn finish(&self, placement: RootPlacement, end_unix_nanos: u64) -> SpanBatch {
        self.close();
        let spans = std::mem::take(&mut *self.spans.lock().unwrap_or_else(PoisonError::into_inner));
        let mut records = Vec::with_capacity(spans.len());
        for span in spans {
            if let Some(record) = span.take_record(end_unix_nanos) {
                records.push(record);
            }
        }
        SpanBatch {
            resource: Arc::clone(&self.settings.resource),
            trace_id: self.context.trace_id,
            placement,
            spans: records,
            dropped_spans: self.dropped_spans.load(Ordering::Relaxed),
            deadline: None,
            after_response: false,
        }
    }
}

/// One span registered with a recorder: its handles share it, and the recorder takes its record
/// out at the flush.
pub(crate) struct SpanInner {
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) id: SpanId,
    /// 0 for the invocation span, its parent's plus one for any other.
    pub(crate) depth: u32,
    /// The context of the trace this span continues when it is not the invocation's (a
    /// message's, `messaging::each_record`); inherited by its children.
    pub(crate) foreign: Option<Arc<TraceContext>>,
    /// `None` once the span was flushed, or when it never recorded.
    pub(crate) state: Mutex<Option<State>>,
}

impl fmt::Debug for SpanInner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanInner")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl SpanInner {
    /// The context of the trace this span belongs to (the message's, or the invocation's).
    pub(crate) fn trace_context(&self) -> &TraceContext {
        self.foreign.as_deref().unwrap_or(&self.recorder.context)
    }

    /// Takes the record out for export, closing it at `now` if still open.
    pub(crate) fn take_record(&self, now: u64) -> Option<SpanRecord> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        Some(state.into_record(now))
    }
}
