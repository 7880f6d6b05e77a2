//! Opening a message's `process` span and recording its work's result.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;

use crate::context::TraceContext;
use crate::propagation::Extractor;
use crate::span::{Attribute, AttributeValue, ExceptionRecord, Outcome, Span, SpanKind};

/// What the `process` span of one message records.
#[derive(Debug, Clone, Copy)]
pub(super) struct Message<'a> {
    /// `messaging.system`.
    pub(super) system: &'static str,
    /// `messaging.destination.name` (already capped; shared by the batch's spans when
    /// interned).
    pub(super) destination: Option<&'a Cow<'static, str>>,
    /// `messaging.message.id`.
    pub(super) id: Option<&'a str>,
}

/// Longest message id recorded, in characters (SQS ids are 36 characters; events are
/// untrusted input).
const MAX_ID_CHARS: usize = 128;

/// Opens the `process` span `name` of the `index`th message of the batch, whose headers are
/// `headers`: a child of the message's own context when it carries one (read with the
/// propagators of `current`'s layer, or the context the layer read for its link when these
/// headers give the same answers), linked to `batch` (`current`'s context); else a child of
/// `current`. Kind `CONSUMER`, the messaging attributes of `message`.
pub(super) fn open(
    current: &Span,
    batch: Option<&TraceContext>,
    index: usize,
    headers: &dyn Extractor,
    name: Cow<'static, str>,
    message: Message<'_>,
) -> Span {
    let context = current.extract_message(index, headers);
    let span = match context.filter(|cx| !cx.sampling_only) {
        Some(cx) => {
            let span = current.remote_child(name, SpanKind::Consumer, cx);
            if let Some(batch) = batch {
                span.add_link(batch);
            }
            span
        }
        None => current.child_of_kind(name, SpanKind::Consumer),
    };
    if span.is_recording() {
        span.set_attributes(attributes(message));
    }
    span
}

/// The messaging attributes of a message's span.
fn attributes(message: Message<'_>) -> Vec<Attribute> {
    let mut attributes: Vec<Attribute> = Vec::with_capacity(4);
    attributes.push((
        "messaging.system".into(),
        AttributeValue::String(message.system.into()),
    ));
    if let Some(destination) = message.destination {
        attributes.push((
            "messaging.destination.name".into(),
            AttributeValue::String(destination.clone()),
        ));
    }
    attributes.push((
        "messaging.operation.type".into(),
        AttributeValue::String("process".into()),
    ));
    if let Some(id) = message.id {
        let mut id = id.to_owned();
        crate::span::cap_chars(&mut id, MAX_ID_CHARS);
        attributes.push((
            "messaging.message.id".into(),
            AttributeValue::String(id.into()),
        ));
    }
    attributes
}

/// Records the work's error on `span` as a fault: its chain of sources for the boxed errors of
/// `lambda_runtime` (`lambda_runtime::Error`, `Box<dyn Error>`), else its `Display` text; the
/// error's type name as the exception type.
pub(super) fn record_failure<E: fmt::Display + 'static>(span: &Span, error: &E) {
    if !span.is_recording() {
        return;
    }
    let any: &dyn Any = error;
    let chain = if let Some(e) = any.downcast_ref::<lambda_runtime::Error>() {
        ExceptionRecord::chain(e.as_ref(), false)
    } else if let Some(e) = any.downcast_ref::<Box<dyn std::error::Error>>() {
        ExceptionRecord::chain(e.as_ref(), false)
    } else {
        vec![ExceptionRecord {
            message: error.to_string(),
            type_name: Some(std::any::type_name::<E>().to_owned()),
            remote: false,
            stack: Vec::new(),
        }]
    };
    span.record_exceptions(
        chain,
        Outcome {
            fault: true,
            ..Outcome::default()
        },
    );
}
