//! [`SpanBatch`] → segment [`Document`]s.
//!
//! # Placement of the invocation span (`batch.spans[0]`)
//! - [`RootPlacement::Segment`]: a segment with `origin: "AWS::Lambda::Function"` whose
//!   `parent_id` is the caller's span, when there is one.
//! - [`RootPlacement::LambdaSubsegment`]: Lambda owns the function segment (Active tracing), so
//!   the root is a standalone subsegment (`type: "subsegment"`, `parent_id` = Lambda's segment id
//!   = the root's `parent_id`). Without a `parent_id` a subsegment could not be attached, so the
//!   root falls back to a segment.
//!
//! # Children
//! Every other span nests under its parent (spans come parents-first). A span whose parent is
//! not in the batch (or comes after it) hangs under the root, so no span is lost.
//!
//! # Where span data goes
//! | span data | document |
//! |---|---|
//! | `outcome` | `error` / `throttle` / `fault` |
//! | `exceptions` | `cause.exceptions` (ids derived from the span id) |
//! | `http_request` / `http_response` | `http.request` / `http.response` |
//! | `namespace` | `namespace: "remote"` / `"aws"` |
//! | `annotations` | `annotations` |
//! | `metadata` | `metadata.<namespace>.<key>` |
//! | `attributes` (`faas.*`, `cloud.*`, `http.*`, `aws.*`, …) | all of them under `metadata.lambda_trace`, and the keys the schema declares for `aws` copied there (below) |
//! | `links` | `metadata.lambda_trace.links`, at most 20 (X-Ray's per-segment link limit); the rest, and the span's `dropped_links`, in `metadata.lambda_trace.dropped_links` |
//! | `kind` | not written: `Consumer` and `Producer` spans are subsegments like every other span |
//! | `trace_id` + `remote_parent` (a message's `process` span) | its own segment (`origin: "AWS::Lambda::Function"`) in the message's trace, `parent_id` = the producer's span, named like the invocation span (the function: a node of the service map), its own name in `metadata.lambda_trace.span_name`; its children nest in it ([`split_traces`]) |
//!
//! X-Ray's segment-document schema has no field for links: X-Ray links SQS consumers to their
//! producers itself (Lambda's own segments, "trace linking"), so this crate's links stay
//! metadata.
//! | `events` | `metadata.tracing.events`: `[{"time", "level", "target", "message", "fields": {..}}]`, `time` in epoch seconds |
//! | `dropped_events` | `metadata.lambda_trace.dropped_events` |
//! | `unfinished` | `end_time` as recorded + `metadata.lambda_trace.unfinished: true` |
//! | `batch.dropped_spans` | root `metadata.lambda_trace.dropped_spans` |
//!
//! The `aws` block only gets keys the schema declares: on a segment `account_id` (from
//! `cloud.account.id`) and `tracing.sdk`; on a subsegment `account_id`, `operation`
//! (`rpc.method` / `aws.operation`), `region` (`aws.region` / `cloud.region`), `request_id`
//! (`aws.request_id`; on the root `faas.invocation_id`), `queue_url` (`aws.queue_url` /
//! `aws.sqs.queue_url`), `table_name` (`aws.table_name` / `aws.dynamodb.table_name`), and
//! `retries` (the integer `aws.retries`, which X-Ray's SDKs write and the schema's subsegment
//! `aws` block allows). The function version goes to the segment's `service.version`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use super::document::{
    Annotations, Aws, Cause, Document, Http, HttpRequest, HttpResponse, LAMBDA_ORIGIN, Limited,
    MAX_LINKS, Metadata, SUBSEGMENT_TYPE, Service, Tracing, XrayTraceId,
};
use super::name::sanitize_name;
use crate::context::SpanId;
use crate::span::{
    Attribute, AttributeValue, MetadataEntry, RemoteNamespace, RootPlacement, SpanBatch, SpanEvent,
    SpanRecord,
};

/// `aws.tracing.sdk` of the segments this crate writes.
pub(crate) const SDK: &str = concat!("lambda-trace ", env!("CARGO_PKG_VERSION"));

/// Metadata namespace of a span's events (key [`EVENTS_KEY`]); the `tracing` bridge writes span
/// fields there too.
pub(crate) const EVENTS_NAMESPACE: &str = "tracing";

/// Metadata key of a span's events, in [`EVENTS_NAMESPACE`].
pub(crate) const EVENTS_KEY: &str = "events";

/// Deepest nesting [`segment_tree`] builds; deeper batches are sent as standalone subsegments
/// (serializing a very deep tree would need a deep stack). Each level nests the JSON twice
/// (`"subsegments": [{…}]`), so with metadata values capped at
/// [`MAX_METADATA_DEPTH`](crate::span::MAX_METADATA_DEPTH) levels every document stays within
/// the 128 levels that common JSON parsers (serde_json's default among them) accept.
pub(crate) const MAX_NESTING_DEPTH: usize = 32;

/// Who is whose parent inside a batch: `parents[i]` is the index of span `i`'s parent (the
/// root, `0`, for spans whose parent is missing); `parents[0]` is `0`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Family {
    /// Parent index of every span.
    pub parents: Vec<usize>,
    /// Depth of the deepest span (the root is at depth 0).
    #[cfg_attr(not(test), allow(dead_code))]
    pub max_depth: usize,
}

impl Family {
    /// Resolves the parent of every span of `batch`.
    pub(crate) fn of(batch: &SpanBatch) -> Self {
        let spans = &batch.spans;
        let mut parents = Vec::with_capacity(spans.len());
        let mut depths: Vec<usize> = Vec::with_capacity(spans.len());
        let mut max_depth = 0;
        if !spans.is_empty() {
            parents.push(0);
            depths.push(0);
        }
        for_each_parent(spans, |_, parent| {
            let depth = depths[parent] + 1;
            max_depth = max_depth.max(depth);
            parents.push(parent);
            depths.push(depth);
        });
        Self { parents, max_depth }
    }
}

/// Calls `each(i, parent)` for every span `i` but the root, in order, with the index of its
/// parent in `spans`: the span before it whose id is its `parent_id`, or the root (`0`) when
/// there is none.
pub(crate) fn for_each_parent(spans: &[SpanRecord], mut each: impl FnMut(usize, usize)) {
    // Small batches (the usual case) scan backwards: parents are usually close by.
    let index: Option<HashMap<SpanId, usize>> = (spans.len() > 32).then(|| {
        let mut m = HashMap::with_capacity(spans.len());
        for (i, s) in spans.iter().enumerate() {
            m.entry(s.span_id).or_insert(i);
        }
        m
    });
    for (i, span) in spans.iter().enumerate().skip(1) {
        let parent = span
            .parent_id
            .and_then(|p| match &index {
                Some(m) => m.get(&p).copied().filter(|&j| j < i),
                None => spans[..i].iter().rposition(|s| s.span_id == p),
            })
            .unwrap_or(0);
        each(i, parent);
    }
}

/// `true` when some span of `batch` other than the root continues a trace of its own (a
/// message's `process` span): [`split_traces`] then makes one batch per trace.
pub(crate) fn has_other_traces(batch: &SpanBatch) -> bool {
    batch.spans.iter().skip(1).any(|s| s.remote_parent)
}

/// `batch` as one batch per trace: first the invocation's (every span of its trace), then one
/// for each span with a parent in another process ([`SpanRecord::remote_parent`], a message's
/// `process` span) holding it and its descendants, in batch order. Such a span becomes the
/// root of its batch, a segment named like the invocation span (X-Ray names a segment after
/// the service: the function), its own name kept in the attribute `span_name`. The spans are
/// copied: only batches with such spans pay for it.
pub(crate) fn split_traces(batch: &SpanBatch) -> Vec<SpanBatch> {
    let spans = &batch.spans;
    let mut groups: Vec<Vec<SpanRecord>> = vec![Vec::new()];
    let mut traces = vec![batch.trace_id];
    let mut group_of: Vec<usize> = Vec::with_capacity(spans.len());
    if let Some(root) = spans.first() {
        groups[0].push(root.clone());
        group_of.push(0);
    }
    for_each_parent(spans, |i, parent| {
        let span = &spans[i];
        let trace = span.trace_in(batch);
        let inherited = group_of.get(parent).copied().unwrap_or(0);
        if span.remote_parent || traces.get(inherited) != Some(&trace) {
            let mut root = span.clone();
            if let Some(invocation) = spans.first() {
                let own_name = std::mem::replace(&mut root.name, invocation.name.clone());
                root.attributes
                    .push(("span_name".into(), AttributeValue::String(own_name)));
            }
            groups.push(vec![root]);
            traces.push(trace);
            group_of.push(groups.len() - 1);
        } else {
            groups[inherited].push(span.clone());
            group_of.push(inherited);
        }
    });
    groups
        .into_iter()
        .zip(traces)
        .enumerate()
        .map(|(k, (spans, trace))| {
            let placement = if k == 0 {
                batch.placement
            } else {
                RootPlacement::Segment
            };
            let mut part = SpanBatch::new(Arc::clone(&batch.resource), trace, placement, spans);
            if k == 0 {
                part.dropped_spans = batch.dropped_spans;
            }
            part.deadline = batch.deadline;
            part.after_response = batch.after_response;
            part
        })
        .collect()
}

/// The whole batch as one document: the root with every other span nested under its parent.
/// `None` for an empty batch.
/// The reference the streaming encoder is tested against (`encode.rs`).
#[cfg(test)]
pub(crate) fn segment_tree<'a>(batch: &'a SpanBatch, family: &Family) -> Option<Document<'a>> {
    let spans = &batch.spans;
    let mut docs: Vec<Option<Document<'a>>> = Vec::with_capacity(spans.len());
    docs.push(Some(root_document(batch)?));
    docs.extend(spans[1..].iter().map(|s| Some(span_document(s))));
    // Children have larger indices than their parents: attach from the back. A parent's
    // children are all attached (in reverse) by the time it is moved into its own parent.
    // Each parent's list is sized once (documents are large: growing it would copy them).
    let mut children = vec![0usize; docs.len()];
    for i in 1..docs.len() {
        children[family.parents.get(i).copied().unwrap_or(0)] += 1;
    }
    for i in (1..docs.len()).rev() {
        let Some(mut doc) = docs[i].take() else {
            continue;
        };
        doc.subsegments.reverse();
        let parent = family.parents.get(i).copied().unwrap_or(0);
        if let Some(Some(p)) = docs.get_mut(parent) {
            if p.subsegments.capacity() == 0 {
                p.subsegments.reserve_exact(children[parent]);
            }
            p.subsegments.push(doc);
        }
    }
    let mut root = docs.swap_remove(0)?;
    root.subsegments.reverse();
    Some(root)
}

/// The root span as a top-level document, without children. `None` for an empty batch.
pub(crate) fn root_document(batch: &SpanBatch) -> Option<Document<'_>> {
    let root = batch.root()?;
    let mut doc = span_document(root);
    doc.trace_id = Some(XrayTraceId(batch.trace_id));
    doc.parent_id = root.parent_id;
    doc.metadata.dropped_spans = batch.dropped_spans;
    let as_subsegment =
        batch.placement == RootPlacement::LambdaSubsegment && root.parent_id.is_some();
    if as_subsegment {
        doc.kind = Some(SUBSEGMENT_TYPE);
        doc.aws.request_id = doc
            .aws
            .request_id
            .or_else(|| attr(root, "faas.invocation_id"));
    } else {
        doc.origin = Some(LAMBDA_ORIGIN);
        doc.aws = Aws {
            account_id: doc.aws.account_id,
            tracing: Some(Tracing { sdk: SDK }),
            ..Aws::default()
        };
        let version = batch.resource.function_version.as_str();
        let version = attr(root, "faas.version").unwrap_or(version);
        if !version.is_empty() {
            doc.service = Some(Service { version });
        }
    }
    Some(doc)
}

/// Span `index` (not the root) as a standalone subsegment document: `type: "subsegment"`,
/// `trace_id`, `parent_id` = its parent in the batch (or the root).
pub(crate) fn standalone_subsegment<'a>(
    batch: &'a SpanBatch,
    family: &Family,
    index: usize,
) -> Option<Document<'a>> {
    let span = batch.spans.get(index)?;
    let parent = family.parents.get(index).copied().unwrap_or(0);
    let mut doc = span_document(span);
    doc.kind = Some(SUBSEGMENT_TYPE);
    doc.trace_id = Some(XrayTraceId(batch.trace_id));
    doc.parent_id = Some(batch.spans.get(parent)?.span_id);
    Some(doc)
}

/// The fields every document of a span has, as a nested subsegment (no `trace_id`,
/// `parent_id` or `type`).
pub(crate) fn span_document(span: &SpanRecord) -> Document<'_> {
    let start = seconds(span.start_unix_nanos);
    let end = seconds(span.end_unix_nanos.max(span.start_unix_nanos));
    let mut doc = Document::new(sanitize_name(&span.name), span.span_id, start, end);
    doc.namespace = span.namespace.map(|n| match n {
        RemoteNamespace::Remote => "remote",
        RemoteNamespace::Aws => "aws",
    });
    doc.error = span.outcome.error || span.outcome.throttle;
    doc.throttle = span.outcome.throttle;
    doc.fault = span.outcome.fault;
    doc.cause = Cause {
        span_id: Some(span.span_id),
        exceptions: Cow::Borrowed(&span.exceptions),
    };
    if span.http_request.is_some() || span.http_response.is_some() {
        doc.http = Some(Http {
            request: span.http_request.as_ref().map(|r| HttpRequest {
                method: r.method.as_deref().map(Limited),
                url: r.url.as_deref().map(Limited),
                user_agent: r.user_agent.as_deref().map(Limited),
                client_ip: r.client_ip.as_deref().map(Limited),
                x_forwarded_for: r.x_forwarded_for,
            }),
            response: span.http_response.map(|r| HttpResponse {
                status: r.status,
                content_length: r.content_length,
            }),
        });
    }
    doc.aws = aws_block(&span.attributes);
    doc.annotations = Annotations(Cow::Borrowed(&span.annotations));
    let links = &span.links[..span.links.len().min(MAX_LINKS)];
    doc.metadata = Metadata {
        entries: metadata_entries(span),
        attributes: &span.attributes,
        links,
        dropped_links: span
            .dropped_links
            .saturating_add(span.links.len() - links.len()),
        unfinished: span.unfinished,
        dropped_events: span.dropped_events,
        ..Metadata::default()
    };
    doc
}

/// The `aws` block from the span's attributes, read in one pass (the first value of each key
/// counts; a string must be non-empty, `aws.retries` a non-negative integer).
fn aws_block(attributes: &[Attribute]) -> Aws<'_> {
    let mut found: [Option<&AttributeValue>; 11] = [None; 11];
    for (key, value) in attributes {
        let slot = match key.as_ref() {
            "cloud.account.id" => 0,
            "aws.operation" => 1,
            "rpc.method" => 2,
            "aws.region" => 3,
            "cloud.region" => 4,
            "aws.request_id" => 5,
            "aws.queue_url" => 6,
            "aws.sqs.queue_url" => 7,
            "aws.table_name" => 8,
            "aws.dynamodb.table_name" => 9,
            "aws.retries" => 10,
            _ => continue,
        };
        found[slot].get_or_insert(value);
    }
    let text = |slot: usize| match found[slot] {
        Some(AttributeValue::String(s)) if !s.is_empty() => Some(s.as_ref()),
        _ => None,
    };
    Aws {
        account_id: text(0),
        operation: text(1).or_else(|| text(2)),
        region: text(3).or_else(|| text(4)),
        request_id: text(5),
        queue_url: text(6).or_else(|| text(7)),
        table_name: text(8).or_else(|| text(9)),
        retries: match found[10] {
            Some(AttributeValue::Int(n)) if *n >= 0 => Some(*n),
            _ => None,
        },
        tracing: None,
    }
}

/// The span's metadata entries, plus its events as `tracing.events` when it has any. (Borrowed
/// in the usual case; a span with events pays one copy of its entries.) An entry of the span's
/// own that is already named `tracing.events` is kept as `tracing.events (metadata)`, so the
/// namespace object never holds a key twice.
fn metadata_entries(span: &SpanRecord) -> Cow<'_, [MetadataEntry]> {
    if span.events.is_empty() {
        return Cow::Borrowed(&span.metadata);
    }
    let mut entries = Vec::with_capacity(span.metadata.len() + 1);
    entries.extend(span.metadata.iter().map(|e| {
        let mut e = e.clone();
        if e.namespace == EVENTS_NAMESPACE && e.key == EVENTS_KEY {
            e.key = format!("{EVENTS_KEY} (metadata)");
        }
        e
    }));
    entries.push(MetadataEntry {
        namespace: EVENTS_NAMESPACE.to_string(),
        key: EVENTS_KEY.to_string(),
        value: events_json(&span.events),
    });
    Cow::Owned(entries)
}

/// Events as a JSON array of `{"time", "level", "target", "message", "fields"}`.
///
/// Built with `Map::insert` (what `json!` does), and the fields inserted one by one (a later
/// field of the same name wins, as with `collect`): no sort for `collect` and no `to_value` in
/// the binary (issue 6, binary size).
fn events_json(events: &[SpanEvent]) -> serde_json::Value {
    use serde_json::{Map, Value};
    events
        .iter()
        .map(|e| {
            let mut fields = Map::new();
            for (key, value) in &e.fields {
                fields.insert(key.clone(), value.clone());
            }
            let mut event = Map::new();
            event.insert("time".into(), Value::from(seconds(e.unix_nanos)));
            event.insert("level".into(), Value::String(e.level.clone()));
            event.insert("target".into(), Value::String(e.target.clone()));
            event.insert("message".into(), Value::String(e.name.clone()));
            event.insert("fields".into(), Value::Object(fields));
            Value::Object(event)
        })
        .collect()
}

/// Epoch nanoseconds as X-Ray's epoch seconds, microsecond precision (exact in an `f64` until
/// the year 2255, so the number prints with at most six decimals).
pub(crate) fn seconds(unix_nanos: u64) -> f64 {
    (unix_nanos / 1_000) as f64 / 1e6
}

/// The string attribute `key` of `span`, when set and non-empty.
fn attr<'a>(span: &'a SpanRecord, key: &str) -> Option<&'a str> {
    match span.attribute(key)? {
        AttributeValue::String(s) if !s.is_empty() => Some(s.as_ref()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::context::TraceId;
    use crate::span::{
        AnnotationValue, ExceptionRecord, HttpRequestInfo, HttpResponseInfo, Outcome, Resource,
        SpanKind,
    };

    const T0: u64 = 1_700_000_000_123_456_789;

    fn sid(v: u64) -> SpanId {
        SpanId::from_u64(v).unwrap()
    }

    fn trace() -> TraceId {
        "5759e988bd862e3fe1be46a994272793".parse().unwrap()
    }

    fn span(id: u64, parent: Option<u64>, name: &str) -> SpanRecord {
        let mut s = SpanRecord::new(
            sid(id),
            parent.map(sid),
            name.to_owned(),
            SpanKind::Internal,
            T0,
        );
        s.end_unix_nanos = T0 + 2_500_000;
        s
    }

    fn batch(placement: RootPlacement, spans: Vec<SpanRecord>) -> SpanBatch {
        SpanBatch {
            resource: Arc::new(Resource::new("orders", "orders", "$LATEST")),
            trace_id: trace(),
            placement,
            spans,
            dropped_spans: 0,
            deadline: None,
            after_response: false,
        }
    }

    fn tree(b: &SpanBatch) -> Value {
        serde_json::from_slice(&segment_tree(b, &Family::of(b)).unwrap().to_json()).unwrap()
    }

    #[test]
    fn segment_root_with_caller_parent() {
        let b = batch(
            RootPlacement::Segment,
            vec![span(1, Some(0xcafe), "orders")],
        );
        let v = tree(&b);
        assert_eq!(v["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(v["id"], "0000000000000001");
        assert_eq!(v["parent_id"], "000000000000cafe");
        assert_eq!(v["origin"], "AWS::Lambda::Function");
        assert_eq!(v["service"]["version"], "$LATEST");
        assert_eq!(v["aws"]["tracing"]["sdk"], SDK);
        assert!(v.get("type").is_none());
        let no_parent = batch(RootPlacement::Segment, vec![span(1, None, "orders")]);
        assert!(tree(&no_parent).get("parent_id").is_none());
    }

    #[test]
    fn lambda_subsegment_root() {
        let mut root = span(1, Some(0xfeed), "orders");
        root.attributes.push((
            "faas.invocation_id".into(),
            AttributeValue::String("req-1".into()),
        ));
        let b = batch(RootPlacement::LambdaSubsegment, vec![root]);
        let v = tree(&b);
        assert_eq!(v["type"], "subsegment");
        assert_eq!(v["parent_id"], "000000000000feed");
        assert_eq!(v["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(v["aws"]["request_id"], "req-1");
        assert!(v.get("origin").is_none());
        // Without Lambda's segment id, the root cannot be a subsegment.
        let orphan = batch(
            RootPlacement::LambdaSubsegment,
            vec![span(1, None, "orders")],
        );
        let v = tree(&orphan);
        assert!(v.get("type").is_none());
        assert_eq!(v["origin"], "AWS::Lambda::Function");
    }

    #[test]
    fn children_nest_by_parent_id_in_order() {
        let b = batch(
            RootPlacement::Segment,
            vec![
                span(1, None, "root"),
                span(2, Some(1), "a"),
                span(3, Some(2), "a1"),
                span(4, Some(1), "b"),
                span(5, Some(2), "a2"),
                span(6, Some(0x999), "orphan"),
                span(7, None, "no parent"),
            ],
        );
        let v = tree(&b);
        let names = |v: &Value| -> Vec<String> {
            v["subsegments"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|d| d["name"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(names(&v), ["a", "b", "orphan", "no parent"]);
        assert_eq!(names(&v["subsegments"][0]), ["a1", "a2"]);
        let child = &v["subsegments"][0];
        for key in ["trace_id", "parent_id", "type"] {
            assert!(child.get(key).is_none(), "{key}");
        }
        assert_eq!(Family::of(&b).max_depth, 2);
    }

    #[test]
    fn large_batches_resolve_parents_through_the_index() {
        let mut spans = vec![span(1, None, "root")];
        spans.extend((2..100).map(|i| span(i, Some(i - 1), "chain")));
        let b = batch(RootPlacement::Segment, spans);
        let f = Family::of(&b);
        assert_eq!(f.parents[98], 97);
        assert_eq!(f.max_depth, 98);
    }

    #[test]
    fn flags_cause_and_http() {
        let mut root = span(1, None, "api");
        root.outcome = Outcome::from_http_status(503);
        root.exceptions.push(ExceptionRecord {
            message: "db down".into(),
            type_name: Some("DbError".into()),
            remote: false,
            stack: Vec::new(),
        });
        let mut req = HttpRequestInfo::new("GET", "https://example.com/orders/1");
        req.user_agent = Some("curl/8".into());
        req.client_ip = Some("203.0.113.9".into());
        req.x_forwarded_for = true;
        root.http_request = Some(req);
        root.http_response = Some(HttpResponseInfo {
            status: Some(503),
            content_length: Some(12),
        });
        let mut throttled = span(2, Some(1), "ddb");
        throttled.outcome = Outcome::from_http_status(429);
        throttled.namespace = Some(RemoteNamespace::Aws);
        throttled.attributes.push((
            "rpc.method".into(),
            AttributeValue::String("GetItem".into()),
        ));
        throttled
            .attributes
            .push(("aws.request_id".into(), AttributeValue::String("R1".into())));
        throttled
            .attributes
            .push(("aws.retries".into(), AttributeValue::Int(2)));
        let mut not_found = span(3, Some(1), "http");
        not_found.outcome = Outcome::from_http_status(404);
        not_found.namespace = Some(RemoteNamespace::Remote);
        let b = batch(RootPlacement::Segment, vec![root, throttled, not_found]);
        let v = tree(&b);
        assert_eq!(v["fault"], true);
        assert!(v.get("error").is_none() && v.get("throttle").is_none());
        let ex = &v["cause"]["exceptions"][0];
        assert_eq!(ex["message"], "db down");
        assert_eq!(ex["type"], "DbError");
        assert_eq!(ex["id"].as_str().unwrap().len(), 16);
        assert_eq!(
            v["http"],
            json!({
                "request": {"method": "GET", "url": "https://example.com/orders/1",
                            "user_agent": "curl/8", "client_ip": "203.0.113.9",
                            "x_forwarded_for": true},
                "response": {"status": 503, "content_length": 12}
            })
        );
        let ddb = &v["subsegments"][0];
        assert_eq!(
            (&ddb["error"], &ddb["throttle"]),
            (&json!(true), &json!(true))
        );
        assert_eq!(ddb["namespace"], "aws");
        assert_eq!(
            ddb["aws"],
            json!({"operation": "GetItem", "request_id": "R1", "retries": 2})
        );
        let http = &v["subsegments"][1];
        assert_eq!(http["error"], true);
        assert!(http.get("throttle").is_none() && http.get("fault").is_none());
        assert_eq!(http["namespace"], "remote");
    }

    #[test]
    fn the_aws_block_prefers_aws_keys_takes_first_values_and_skips_empty_ones() {
        let mut s = span(1, None, "call");
        let text = |v: &str| AttributeValue::String(v.to_owned().into());
        s.attributes = vec![
            ("rpc.method".into(), text("Query")),
            ("cloud.region".into(), text("eu-west-1")),
            ("aws.operation".into(), text("GetItem")),
            ("aws.region".into(), text("")),
            ("aws.dynamodb.table_name".into(), text("orders")),
            ("aws.queue_url".into(), text("https://sqs/q1")),
            ("aws.queue_url".into(), text("https://sqs/q2")),
            ("aws.retries".into(), AttributeValue::Int(-1)),
            ("cloud.account.id".into(), AttributeValue::Int(1)),
        ];
        let aws = span_document(&s).aws;
        assert_eq!(
            aws.operation,
            Some("GetItem"),
            "aws.operation over rpc.method"
        );
        assert_eq!(
            aws.region,
            Some("eu-west-1"),
            "an empty aws.region falls back"
        );
        assert_eq!(aws.table_name, Some("orders"));
        assert_eq!(
            aws.queue_url,
            Some("https://sqs/q1"),
            "the first value counts"
        );
        assert_eq!(aws.retries, None, "negative retries are not written");
        assert_eq!(aws.account_id, None, "not a string");
        assert_eq!(aws.request_id, None);
    }

    #[test]
    fn annotations_metadata_attributes_links_unfinished() {
        let mut root = span(1, None, "fn");
        root.annotations
            .push(("ColdStart".into(), AnnotationValue::Bool(true)));
        root.annotations
            .push(("Service".into(), AnnotationValue::String("orders".into())));
        root.metadata.push(MetadataEntry {
            namespace: "default".into(),
            key: "order".into(),
            value: json!({"id": 7}),
        });
        for (k, v) in [
            ("faas.trigger", "http"),
            ("cloud.account.id", "123456789012"),
        ] {
            root.attributes
                .push((k.into(), AttributeValue::String(v.into())));
        }
        root.attributes
            .push(("faas.coldstart".into(), AttributeValue::Bool(true)));
        let other: TraceId = "0000000100000000000000000000abcd".parse().unwrap();
        root.links.push((other, Some(sid(0xab))));
        let mut late = span(2, Some(1), "late");
        late.unfinished = true;
        let mut b = batch(RootPlacement::Segment, vec![root, late]);
        b.dropped_spans = 4;
        let v = tree(&b);
        assert_eq!(
            v["annotations"],
            json!({"ColdStart": true, "Service": "orders"})
        );
        assert_eq!(v["metadata"]["default"], json!({"order": {"id": 7}}));
        assert_eq!(
            v["metadata"]["lambda_trace"],
            json!({
                "faas.trigger": "http",
                "cloud.account.id": "123456789012",
                "faas.coldstart": true,
                "links": [{"trace_id": "1-00000001-00000000000000000000abcd",
                           "span_id": "00000000000000ab"}],
                "dropped_spans": 4
            })
        );
        assert_eq!(v["aws"]["account_id"], "123456789012");
        let late = &v["subsegments"][0];
        assert_eq!(
            late["metadata"]["lambda_trace"],
            json!({"unfinished": true})
        );
        assert!(late["end_time"].is_number());
    }

    #[test]
    fn events_become_tracing_events_metadata() {
        let mut root = span(1, None, "fn");
        root.metadata.push(MetadataEntry {
            namespace: EVENTS_NAMESPACE.into(),
            key: EVENTS_KEY.into(),
            value: json!("a field named events"),
        });
        let mut event = SpanEvent::new("hello", "INFO", "orders::db");
        event.unix_nanos = T0 + 1_000_000;
        event.fields.push(("user".into(), json!(6)));
        event.fields.push(("user".into(), json!(7))); // the later value of a name wins
        root.events.push(event);
        root.dropped_events = 2;
        let quiet = span(2, Some(1), "quiet");
        let b = batch(RootPlacement::Segment, vec![root, quiet]);
        let v = tree(&b);
        assert_eq!(
            v["metadata"]["tracing"],
            json!({
                "events (metadata)": "a field named events",
                "events": [{"time": 1700000000.124456, "level": "INFO", "target": "orders::db",
                            "message": "hello", "fields": {"user": 7}}]
            })
        );
        assert_eq!(v["metadata"]["lambda_trace"]["dropped_events"], 2);
        assert!(v["subsegments"][0].get("metadata").is_none());
        // A span without events borrows its entries: no copy on the hot path.
        assert!(matches!(
            span_document(&b.spans[1]).metadata.entries,
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn names_are_sanitized() {
        let b = batch(
            RootPlacement::Segment,
            vec![span(1, None, ""), span(2, Some(1), "GET /a?b=(c)")],
        );
        let v = tree(&b);
        assert_eq!(v["name"], "unnamed");
        assert_eq!(v["subsegments"][0]["name"], "GET /a_b=_c_");
    }

    #[test]
    fn times_are_epoch_seconds_with_microseconds() {
        let mut s = span(1, None, "t");
        s.end_unix_nanos = T0 - 1; // a clock step backwards never gives end < start
        let b = batch(RootPlacement::Segment, vec![s]);
        let json = segment_tree(&b, &Family::of(&b)).unwrap().to_json();
        let text = String::from_utf8(json).unwrap();
        assert!(text.contains("\"start_time\":1700000000.123456,"), "{text}");
        assert!(text.contains("\"end_time\":1700000000.123456"), "{text}");
        assert_eq!(seconds(1_000_000_000), 1.0);
        assert_eq!(seconds(1_500_000), 0.0015);
    }

    #[test]
    fn standalone_subsegments_point_at_their_parent() {
        let b = batch(
            RootPlacement::Segment,
            vec![
                span(1, None, "r"),
                span(2, Some(1), "a"),
                span(3, Some(2), "b"),
            ],
        );
        let f = Family::of(&b);
        let json = standalone_subsegment(&b, &f, 2).unwrap().to_json();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["type"], "subsegment");
        assert_eq!(v["parent_id"], "0000000000000002");
        assert_eq!(v["trace_id"], "1-5759e988-bd862e3fe1be46a994272793");
        assert!(standalone_subsegment(&b, &f, 9).is_none());
        let empty = batch(RootPlacement::Segment, Vec::new());
        assert!(segment_tree(&empty, &Family::of(&empty)).is_none());
    }
}
