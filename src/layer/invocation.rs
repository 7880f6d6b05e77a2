//! The start of an invocation: the parent decision, the invocation span and what is known about
//! the request before the handler runs. Shared by [`TraceService`](super::TraceService) and the
//! `lambda_http` service.

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use lambda_runtime::Context;

use super::{Shared, parent};
use crate::carrier::{EventCarrier, RequestInfo};
use crate::context::TraceContext;
use crate::propagation::{CompositePropagator, Propagator};
use crate::span::messages::MessageContexts;
use crate::span::recorder::Recorder;
use crate::span::{
    AnnotationValue, Attribute, AttributeValue, Resource, RootPlacement, Span, SpanKind,
};

/// What the layer knows about one invocation in flight.
pub(crate) struct Invocation {
    pub(crate) root: Span,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) placement: RootPlacement,
    pub(crate) deadline_ms: u64,
    pub(crate) shared: Arc<Shared>,
    /// Reads the HTTP status of the handler's response, when it has one.
    pub(crate) status_of: StatusFn,
}

/// Reads the HTTP status of a response (`None`: not an HTTP response).
pub(crate) type StatusFn = fn(&dyn Any) -> Option<u16>;

/// Chooses the parent, opens the invocation span and records what is known before the handler.
pub(crate) fn start(
    shared: &Arc<Shared>,
    carrier: Option<&dyn EventCarrier>,
    ctx: &Context,
    status_of: StatusFn,
) -> Invocation {
    shared.handler_calls.fetch_add(1, Ordering::Relaxed);
    let settings = &shared.settings;
    let from_event = carrier.and_then(|c| settings.propagator.extract(c));
    let parent::Parent {
        context,
        placement,
        link,
    } = parent::decide(
        ctx.xray_trace_id.as_deref(),
        from_event,
        shared.config.sample_rate,
        shared.config.caller_sampling,
    );
    let recording = context.sampling.is_sampled();
    let parent_span = context.span_id;
    let cold_start = shared.cold_start.swap(false, Ordering::Relaxed);
    let mut recorder = Recorder::new(Arc::clone(settings), context, recording);
    recorder.intern = super::intern::intern;
    let recorder = Arc::new(recorder);

    let resource = &settings.resource;
    let function_name: &str = match ctx.env_config.function_name.as_str() {
        "" => &resource.function_name,
        name => name,
    };
    let info = match (recording, carrier) {
        (true, Some(c)) => crate::carrier::request_info(c, settings.capture_query),
        _ => RequestInfo::default(),
    };
    let route = info.http.as_ref().and_then(|h| h.route.as_deref());
    let name = span_name(shared, route, function_name);
    let root = Span::start_in(
        Arc::clone(&recorder),
        parent_span,
        0,
        name,
        SpanKind::Server,
    );

    if recording {
        root.annotate("ColdStart", cold_start);
        root.annotate(
            "Service",
            AnnotationValue::String(resource.service_name.clone()),
        );
        root.set_attributes(attributes(ctx, resource, function_name, &info, cold_start));
        if let Some(http) = info.http {
            root.set_http_request(http);
        }
        if let Some(link) = &link {
            root.add_link(link);
        }
        if let Some(c) = carrier {
            let messages = info.messaging.as_ref().map_or(0, |m| m.message_count);
            let contexts = link_messages(&root, c, &settings.propagator, link.as_ref(), messages);
            recorder.keep_message_contexts(contexts);
        }
    }

    Invocation {
        root,
        recorder,
        placement,
        deadline_ms: ctx.deadline,
        shared: Arc::clone(shared),
        status_of,
    }
}

/// Links the invocation span to the context of every message `carrier` delivers (an SQS
/// batch's records), each distinct context once: up to the span's link limit, the rest counted
/// in its `dropped_links` (the X-Ray translation then writes at most 20). `already` is a link
/// the parent decision added (Active tracing: the first record's context). Returns the
/// messages' contexts, for `messaging::each_record` to reuse.
fn link_messages(
    root: &Span,
    carrier: &dyn EventCarrier,
    propagator: &CompositePropagator,
    already: Option<&TraceContext>,
    messages: usize,
) -> MessageContexts {
    type Key = (crate::context::TraceId, Option<crate::context::SpanId>);
    let max = root.link_limit();
    let mut kept: Vec<Key> = already
        .map(|l| (l.trace_id, l.span_id))
        .into_iter()
        .collect();
    // Distinct contexts past the limit, to count them once each (only batches past the limit
    // pay for the set).
    let mut over: HashSet<Key> = HashSet::new();
    // Every message's context, kept for `messaging::each_record` (which reuses one only for
    // headers that answer as these did: `span::messages`).
    let mut contexts = MessageContexts::with_capacity(messages);
    carrier.messages(&mut |message| {
        let Some(cx) = contexts.extract(propagator, message) else {
            return;
        };
        if cx.sampling_only {
            return;
        }
        let key = (cx.trace_id, cx.span_id);
        if kept.contains(&key) {
            return;
        }
        if kept.len() < max {
            kept.push(key);
            root.add_link(cx);
        } else {
            over.insert(key);
        }
    });
    root.count_dropped_links(over.len());
    contexts
}

/// The invocation span's name: the route (with `route_as_name`), else the function, else the
/// service. Interned: the same for every invocation of the process (routes: a bounded few).
fn span_name(shared: &Shared, route: Option<&str>, function_name: &str) -> Cow<'static, str> {
    match (route, shared.config.route_as_name) {
        (Some(route), true) => super::intern::intern(route),
        _ if function_name.is_empty() => {
            super::intern::intern(&shared.settings.resource.service_name)
        }
        _ => super::intern::intern(function_name),
    }
}

/// The FaaS, cloud and HTTP semantic-convention attributes of the invocation span.
fn attributes(
    ctx: &Context,
    resource: &Resource,
    function_name: &str,
    info: &RequestInfo,
    cold_start: bool,
) -> Vec<Attribute> {
    // Values that repeat on every invocation of the process are interned (no allocation);
    // the request id is the one value that never repeats.
    let s = |v: &str| AttributeValue::String(super::intern::intern(v));
    let mut attributes: Vec<Attribute> = Vec::with_capacity(18);
    attributes.push((
        "faas.invocation_id".into(),
        AttributeValue::String(Cow::Owned(ctx.request_id.clone())),
    ));
    attributes.push(("faas.coldstart".into(), AttributeValue::Bool(cold_start)));
    attributes.push((
        "faas.trigger".into(),
        AttributeValue::String(info.trigger.as_str().into()),
    ));
    attributes.push((
        "cloud.provider".into(),
        AttributeValue::String("aws".into()),
    ));
    if !function_name.is_empty() {
        attributes.push(("faas.name".into(), s(function_name)));
    }
    let version = match ctx.env_config.version.as_str() {
        "" => &resource.function_version,
        v => v,
    };
    attributes.push(("faas.version".into(), s(version)));
    if let Some(region) = &resource.region {
        attributes.push(("cloud.region".into(), s(region)));
    }
    if ctx.invoked_function_arn.starts_with("arn:") {
        attributes.push((
            "aws.lambda.invoked_arn".into(),
            s(&ctx.invoked_function_arn),
        ));
        if let Some(account) = ctx
            .invoked_function_arn
            .split(':')
            .nth(4)
            .filter(|a| !a.is_empty())
        {
            attributes.push(("cloud.account.id".into(), s(account)));
        }
    }
    if let Some(m) = &info.messaging {
        // OpenTelemetry's messaging conventions, on the span that processes the batch.
        attributes.push(("messaging.system".into(), s(&m.system)));
        if let Some(destination) = &m.destination {
            attributes.push(("messaging.destination.name".into(), s(destination)));
        }
        attributes.push((
            "messaging.operation.type".into(),
            AttributeValue::String("process".into()),
        ));
        attributes.push((
            "messaging.batch.message_count".into(),
            AttributeValue::Int(i64::try_from(m.message_count).unwrap_or(i64::MAX)),
        ));
    }
    // The trigger's own attributes (`faas.document.*`, `faas.time`, …), capped by the carrier
    // module, never replacing one recorded above; not interned (object keys and message ids do
    // not repeat).
    for (key, value) in &info.attributes {
        if !attributes.iter().any(|(k, _)| k == key) {
            attributes.push((
                key.clone(),
                AttributeValue::String(Cow::Owned(value.clone())),
            ));
        }
    }
    if let Some(http) = &info.http {
        if let Some(method) = &http.method {
            attributes.push(("http.request.method".into(), s(method)));
        }
        if let Some(route) = &http.route {
            attributes.push(("http.route".into(), s(route)));
        }
    }
    attributes
}
