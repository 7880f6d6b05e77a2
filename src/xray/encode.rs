//! Encoding a [`SpanBatch`] into documents of at most [`MAX_DOCUMENT_BYTES`].
//!
//! # Strategy
//! 1. **One document** (the hot path): the root with every span nested, serialized once,
//!    straight into the caller's reused buffer (no `serde_json::Value`, no temporary strings).
//!    Writing stops as soon as it passes the limit, so an oversize batch costs at most
//!    64 kB of wasted writing.
//! 2. **Split**, when that document is too large (or nested deeper than
//!    [`MAX_NESTING_DEPTH`](super::MAX_NESTING_DEPTH)): the root without children, then every
//!    other span as its own standalone subsegment (`type: "subsegment"`, `trace_id`,
//!    `parent_id` = its parent span), as X-Ray's SDKs do.
//! 3. **Truncate**, when a single span's document is still too large: values are shortened in
//!    rounds, largest first in this order — metadata values (replaced by a string preview of
//!    their JSON), annotation strings, exception messages and types — each round with a smaller
//!    cap (1024 / 128 / 16 characters). The document is marked with metadata
//!    `lambda_trace.truncated: true`. If even that does not fit (thousands of small entries),
//!    metadata, attributes, links, annotations, exceptions and HTTP data are left out and their
//!    counts written to `lambda_trace.omitted`.
//!
//! Every span of the batch appears in exactly one document: nothing is dropped silently.

use std::borrow::Cow;
use std::convert::Infallible;

use super::document::{Annotations, Document, Omitted, cut};
use super::translate::{self, Family, MAX_NESTING_DEPTH};
use crate::json::{Limit, Out, TooLarge};
use crate::span::{AnnotationValue, SpanBatch};

/// Largest document this crate emits, in bytes: X-Ray's 64 kB document limit, which leaves room
/// for the daemon header in a 65,507-byte UDP payload.
pub const MAX_DOCUMENT_BYTES: usize = 64_000;

/// The line the X-Ray daemon expects before each document in a datagram.
pub const DAEMON_HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

/// Caps of the truncation rounds: (metadata preview, annotation string, exception text), chars.
const ROUNDS: [(usize, usize, usize); 3] = [(1024, 256, 1024), (128, 64, 128), (16, 16, 16)];

/// Encodes `batch` into documents, appending each to `out` (convenience form of
/// [`encode_with`]; one `Vec<u8>` per document).
pub fn encode_batch(batch: &SpanBatch, out: &mut Vec<Vec<u8>>) {
    let mut buf = Vec::new();
    let Ok(()) = encode_with(batch, &mut buf, &[], |doc| {
        out.push(doc.to_vec());
        Ok::<(), Infallible>(())
    });
}

/// Encodes `batch` into documents of at most [`MAX_DOCUMENT_BYTES`], calling `emit` once per
/// document with `prefix` + document, both written into `buf`.
///
/// `buf` is cleared, never shrunk, so a buffer kept across invocations stops allocating after
/// the first one (it never grows more than a few hundred bytes past `prefix.len() +
/// MAX_DOCUMENT_BYTES`). Every document is
/// emitted even when `emit` fails; the first error is returned.
pub fn encode_with<E>(
    batch: &SpanBatch,
    buf: &mut Vec<u8>,
    prefix: &[u8],
    mut emit: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    if batch.spans.is_empty() {
        return Ok(());
    }
    if translate::has_other_traces(batch) {
        // Spans of messages' own traces (`messaging::each_record`): one batch per trace, each
        // encoded as below (none of them has such spans left).
        let mut first_error = None;
        for part in translate::split_traces(batch) {
            if let Err(e) = encode_one(&part, buf, prefix, &mut emit) {
                first_error.get_or_insert(e);
            }
        }
        return first_error.map_or(Ok(()), Err);
    }
    encode_one(batch, buf, prefix, emit)
}

/// [`encode_with`] for a batch of one trace.
fn encode_one<E>(
    batch: &SpanBatch,
    buf: &mut Vec<u8>,
    prefix: &[u8],
    mut emit: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    buf.clear();
    buf.extend_from_slice(prefix);
    let max = prefix.len() + MAX_DOCUMENT_BYTES;
    if write_tree(batch, &mut Out::new(buf, max)).is_ok() {
        return emit(buf);
    }
    let family = Family::of(batch);
    let mut first_error = None;
    let mut send = |doc: Document<'_>, buf: &mut Vec<u8>| {
        write_fitting(doc, buf, prefix);
        if let Err(e) = emit(buf) {
            first_error.get_or_insert(e);
        }
    };
    if let Some(root) = translate::root_document(batch) {
        send(root, buf);
    }
    for i in 1..batch.spans.len() {
        if let Some(doc) = translate::standalone_subsegment(batch, &family, i) {
            send(doc, buf);
        }
    }
    first_error.map_or(Ok(()), Err)
}

/// Writes the whole batch as one document, every span nested under its parent: what
/// [`segment_tree`](translate::segment_tree) builds, written span by span without building it
/// (no tree of documents to allocate and move). `Err` when the document passes the size limit
/// or nests deeper than [`MAX_NESTING_DEPTH`].
fn write_tree(batch: &SpanBatch, out: &mut Out<'_>) -> Result<(), TooLarge> {
    const NONE: usize = usize::MAX;
    let n = batch.spans.len();
    // Children lists as links, in batch order: `first[i]` is span i's first child, `next[j]` the
    // sibling after span j (`last` is where the next child of i goes).
    let mut links = vec![NONE; 3 * n];
    let (first, rest) = links.split_at_mut(n);
    let (next, last) = rest.split_at_mut(n);
    translate::for_each_parent(&batch.spans, |i, parent| {
        match last[parent] {
            NONE => first[parent] = i,
            previous => next[previous] = i,
        }
        last[parent] = i;
    });
    let Some(root) = translate::root_document(batch) else {
        return Ok(());
    };
    let tree = Tree { batch, first, next };
    tree.write(0, 0, &root, out)
}

/// A batch's spans with their children lists ([`write_tree`]).
struct Tree<'a> {
    batch: &'a SpanBatch,
    first: &'a [usize],
    next: &'a [usize],
}

impl Tree<'_> {
    /// Writes `doc` (span `index`, at `depth`) and, nested, its children and theirs.
    fn write(
        &self,
        index: usize,
        depth: usize,
        doc: &Document<'_>,
        out: &mut Out<'_>,
    ) -> Result<(), TooLarge> {
        if depth > MAX_NESTING_DEPTH {
            return Err(TooLarge);
        }
        doc.write_fields(out)?;
        let mut child = self.first[index];
        if child < self.batch.spans.len() {
            out.raw(",\"subsegments\":[");
            while let Some(span) = self.batch.spans.get(child) {
                if child != self.first[index] {
                    out.byte(b',');
                }
                self.write(child, depth + 1, &translate::span_document(span), out)?;
                child = self.next[child];
            }
            out.byte(b']');
        }
        out.byte(b'}');
        out.check()
    }
}

/// Writes `prefix` + `doc` into `buf`; `false` (with `buf` holding a partial document) when the
/// document is larger than [`MAX_DOCUMENT_BYTES`].
fn write_limited(doc: &Document<'_>, buf: &mut Vec<u8>, prefix: &[u8]) -> bool {
    buf.clear();
    buf.extend_from_slice(prefix);
    let max = prefix.len() + MAX_DOCUMENT_BYTES;
    doc.write(&mut Out::new(buf, max)).is_ok()
}

/// Writes `doc` (one span, no children) into `buf`, truncating it until it fits.
fn write_fitting(mut doc: Document<'_>, buf: &mut Vec<u8>, prefix: &[u8]) {
    if write_limited(&doc, buf, prefix) {
        return;
    }
    doc.metadata.truncated = true;
    let mut scratch = Vec::new();
    for (meta_cap, annotation_cap, text_cap) in ROUNDS {
        shrink_metadata(&mut doc, meta_cap, &mut scratch);
        if write_limited(&doc, buf, prefix) {
            return;
        }
        shrink_annotations(&mut doc, annotation_cap);
        if write_limited(&doc, buf, prefix) {
            return;
        }
        shrink_exceptions(&mut doc, text_cap);
        if write_limited(&doc, buf, prefix) {
            return;
        }
    }
    // Last resort: keep the span (ids, name, times, flags) and say what was left out.
    let m = &mut doc.metadata;
    m.omitted = Some(Omitted {
        metadata: m.entries.len(),
        annotations: doc.annotations.0.len(),
        exceptions: doc.cause.exceptions.len(),
        attributes: m.attributes.len(),
        links: m.links.len(),
    });
    m.entries = Cow::Borrowed(&[]);
    m.attributes = &[];
    m.links = &[];
    doc.annotations = Annotations::default();
    doc.cause.exceptions = Cow::Borrowed(&[]);
    doc.http = None;
    if !write_limited(&doc, buf, prefix) {
        // Unreachable in practice (a bare span is a few hundred bytes); never send a partial
        // document.
        buf.clear();
        buf.extend_from_slice(prefix);
        doc.write_json(buf);
    }
}

/// Replaces every metadata value whose JSON is longer than `cap` bytes by a string preview of
/// at most `cap` characters.
fn shrink_metadata(doc: &mut Document<'_>, cap: usize, scratch: &mut Vec<u8>) {
    let too_big = |v: &serde_json::Value, scratch: &mut Vec<u8>| {
        scratch.clear();
        // Write at most cap * 4 + 8 bytes: enough to cut `cap` characters from.
        let max = cap * 4 + 8;
        let limit = Limit {
            buf: scratch,
            max,
            counted: None,
        };
        serde_json::to_writer(limit, v).is_err() || scratch.len() > cap
    };
    if !doc
        .metadata
        .entries
        .iter()
        .any(|e| too_big(&e.value, scratch))
    {
        return;
    }
    for entry in doc.metadata.entries.to_mut() {
        if !too_big(&entry.value, scratch) {
            continue;
        }
        let preview = match &entry.value {
            serde_json::Value::String(s) => cut(s, cap).to_owned(),
            _ => {
                let valid = match std::str::from_utf8(scratch) {
                    Ok(s) => s,
                    Err(e) => std::str::from_utf8(&scratch[..e.valid_up_to()]).unwrap_or(""),
                };
                cut(valid, cap).to_owned()
            }
        };
        entry.value = serde_json::Value::String(preview);
    }
}

/// Cuts annotation strings longer than `cap` characters.
fn shrink_annotations(doc: &mut Document<'_>, cap: usize) {
    let long = |v: &AnnotationValue| matches!(v, AnnotationValue::String(s) if s.chars().nth(cap).is_some());
    if !doc.annotations.0.iter().any(|(_, v)| long(v)) {
        return;
    }
    for (_, value) in doc.annotations.0.to_mut() {
        if let AnnotationValue::String(s) = value {
            let keep = cut(s, cap).len();
            s.truncate(keep);
        }
    }
}

/// Cuts exception messages and type names longer than `cap` characters, and drops their
/// stacks (the first thing to go: a stack is the largest part of an exception).
fn shrink_exceptions(doc: &mut Document<'_>, cap: usize) {
    let long = |s: &str| s.chars().nth(cap).is_some();
    let any = doc.cause.exceptions.iter().any(|e| {
        long(&e.message) || e.type_name.as_deref().is_some_and(long) || !e.stack.is_empty()
    });
    if !any {
        return;
    }
    for e in doc.cause.exceptions.to_mut() {
        e.stack.clear();
        let keep = cut(&e.message, cap).len();
        e.message.truncate(keep);
        if let Some(t) = &mut e.type_name {
            let keep = cut(t, cap).len();
            t.truncate(keep);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::context::{SpanId, TraceId};
    use crate::span::{
        ExceptionRecord, MetadataEntry, Resource, RootPlacement, SpanKind, SpanRecord,
    };

    fn span(id: u64, parent: Option<u64>) -> SpanRecord {
        let mut s = SpanRecord::new(
            SpanId::from_u64(id).unwrap(),
            parent.and_then(SpanId::from_u64),
            format!("span {id}"),
            SpanKind::Internal,
            1_700_000_000_000_000_000 + id * 1000,
        );
        s.end_unix_nanos = s.start_unix_nanos + 1_000_000;
        s
    }

    fn batch(spans: Vec<SpanRecord>) -> SpanBatch {
        SpanBatch {
            resource: Arc::new(Resource::default()),
            trace_id: TraceId::generate(),
            placement: RootPlacement::Segment,
            spans,
            dropped_spans: 0,
            deadline: None,
            after_response: false,
        }
    }

    /// The one-document path writes the batch span by span: it must write exactly the tree
    /// [`translate::segment_tree`] builds, whatever the shape (siblings interleaved with other
    /// subtrees, parents missing from the batch, deep chains).
    #[test]
    fn the_written_tree_is_the_built_tree() {
        let mut rng = fastrand::Rng::with_seed(6);
        for case in 0..300 {
            let n = 1 + case % 40;
            let spans: Vec<SpanRecord> = (1..=n as u64)
                .map(|id| {
                    let parent = match rng.u8(..10) {
                        0 => Some(10_000 + id), // not in the batch: under the root
                        1 => None,
                        _ if id == 1 => None,
                        _ => Some(rng.u64(1..id)),
                    };
                    let mut s = span(id, parent);
                    if rng.bool() {
                        s.annotations
                            .push(("k".into(), AnnotationValue::Int(id as i64)));
                    }
                    s
                })
                .collect();
            let b = batch(spans);
            let mut docs = Vec::new();
            encode_batch(&b, &mut docs);
            let family = Family::of(&b);
            if family.max_depth > MAX_NESTING_DEPTH {
                continue;
            }
            let tree = translate::segment_tree(&b, &family).unwrap();
            assert_eq!(docs, vec![tree.to_json()], "case {case}");
        }
    }

    fn ids_in(doc: &Value, out: &mut Vec<String>) {
        out.push(doc["id"].as_str().unwrap().to_string());
        for sub in doc["subsegments"].as_array().into_iter().flatten() {
            ids_in(sub, out);
        }
    }

    #[test]
    fn small_batch_is_one_document() {
        let b = batch(vec![
            span(1, None),
            span(2, Some(1)),
            span(3, Some(1)),
            span(4, Some(2)),
        ]);
        let mut out = Vec::new();
        encode_batch(&b, &mut out);
        assert_eq!(out.len(), 1);
        let v: Value = serde_json::from_slice(&out[0]).unwrap();
        let mut ids = Vec::new();
        ids_in(&v, &mut ids);
        assert_eq!(ids.len(), 4);
    }

    #[test]
    fn prefix_is_written_before_each_document() {
        let b = batch(vec![span(1, None)]);
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        encode_with(&b, &mut buf, DAEMON_HEADER, |d| {
            seen.push(d.to_vec());
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].starts_with(DAEMON_HEADER));
        let _: Value = serde_json::from_slice(&seen[0][DAEMON_HEADER.len()..]).unwrap();
    }

    #[test]
    fn big_batches_split_into_documents_under_the_limit() {
        let mut spans = vec![span(1, None)];
        for i in 2..=2000u64 {
            let mut s = span(i, Some(if i % 3 == 0 { i - 1 } else { 1 }));
            s.metadata.push(MetadataEntry {
                namespace: "default".into(),
                key: "payload".into(),
                value: json!({"blob": "x".repeat(500), "n": i}),
            });
            spans.push(s);
        }
        let b = batch(spans);
        let mut out = Vec::new();
        encode_batch(&b, &mut out);
        assert_eq!(out.len(), 2000);
        let mut ids = BTreeSet::new();
        for doc in &out {
            assert!(doc.len() <= MAX_DOCUMENT_BYTES, "{}", doc.len());
            let v: Value = serde_json::from_slice(doc).unwrap();
            assert!(v.get("subsegments").is_none());
            assert!(v["trace_id"].is_string());
            if v["id"] != "0000000000000001" {
                assert_eq!(v["type"], "subsegment");
                assert!(v["parent_id"].is_string());
                assert_eq!(
                    v["metadata"]["default"]["payload"]["blob"]
                        .as_str()
                        .unwrap()
                        .len(),
                    500
                );
            }
            assert!(
                ids.insert(v["id"].as_str().unwrap().to_string()),
                "duplicate"
            );
        }
        let expected: BTreeSet<String> = b.spans.iter().map(|s| s.span_id.to_string()).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn split_keeps_the_parent_of_nested_spans() {
        let mut spans = vec![span(1, None), span(2, Some(1))];
        let mut big = span(3, Some(2));
        big.metadata.push(MetadataEntry {
            namespace: "default".into(),
            key: "k".into(),
            value: json!("y".repeat(70_000)),
        });
        spans.push(big);
        let mut out = Vec::new();
        encode_batch(&batch(spans), &mut out);
        assert_eq!(out.len(), 3);
        let v: Value = serde_json::from_slice(&out[2]).unwrap();
        assert_eq!(v["parent_id"], "0000000000000002");
        assert_eq!(v["metadata"]["lambda_trace"]["truncated"], true);
        assert_eq!(v["metadata"]["default"]["k"].as_str().unwrap().len(), 1024);
    }

    #[test]
    fn one_huge_span_is_truncated_and_marked() {
        let mut s = span(1, None);
        s.metadata.push(MetadataEntry {
            namespace: "default".into(),
            key: "small".into(),
            value: json!({"keep": true}),
        });
        s.metadata.push(MetadataEntry {
            namespace: "default".into(),
            key: "huge".into(),
            value: json!({"data": "z".repeat(200 * 1024)}),
        });
        s.exceptions.push(ExceptionRecord {
            message: "m".repeat(10),
            type_name: None,
            remote: false,
            stack: Vec::new(),
        });
        let b = batch(vec![s]);
        let mut out = Vec::new();
        encode_batch(&b, &mut out);
        assert_eq!(out.len(), 1);
        assert!(out[0].len() <= MAX_DOCUMENT_BYTES);
        let v: Value = serde_json::from_slice(&out[0]).unwrap();
        assert_eq!(v["metadata"]["lambda_trace"]["truncated"], true);
        assert_eq!(v["metadata"]["default"]["small"], json!({"keep": true}));
        let preview = v["metadata"]["default"]["huge"].as_str().unwrap();
        assert!(preview.starts_with("{\"data\":\"zzz") && preview.len() == 1024);
        assert_eq!(v["cause"]["exceptions"][0]["message"], "m".repeat(10));
    }

    #[test]
    fn many_small_values_fall_back_to_counts() {
        let mut s = span(1, None);
        for i in 0..20_000 {
            s.metadata.push(MetadataEntry {
                namespace: "default".into(),
                key: format!("k{i}"),
                value: json!(i),
            });
        }
        let b = batch(vec![s]);
        let mut out = Vec::new();
        encode_batch(&b, &mut out);
        assert_eq!(out.len(), 1);
        let v: Value = serde_json::from_slice(&out[0]).unwrap();
        assert_eq!(v["metadata"]["lambda_trace"]["truncated"], true);
        assert_eq!(v["metadata"]["lambda_trace"]["omitted"]["metadata"], 20_000);
        assert_eq!(v["id"], "0000000000000001");
    }

    #[test]
    fn long_annotations_and_messages_are_cut_in_rounds() {
        let mut s = span(1, None);
        for i in 0..200 {
            s.annotations.push((
                format!("a{i}").into(),
                AnnotationValue::String("q".repeat(1000)),
            ));
        }
        s.exceptions.push(ExceptionRecord {
            message: "e".repeat(100_000),
            type_name: Some("T".into()),
            remote: true,
            stack: Vec::new(),
        });
        let mut out = Vec::new();
        encode_batch(&batch(vec![s]), &mut out);
        let v: Value = serde_json::from_slice(&out[0]).unwrap();
        assert!(out[0].len() <= MAX_DOCUMENT_BYTES);
        assert_eq!(v["annotations"]["a0"].as_str().unwrap().len(), 256);
        assert_eq!(
            v["cause"]["exceptions"][0]["message"]
                .as_str()
                .unwrap()
                .len(),
            1024
        );
        assert_eq!(v["metadata"]["lambda_trace"]["truncated"], true);
    }

    #[test]
    fn documents_stay_within_the_json_depth_parsers_accept() {
        // The deepest tree still nested, with the deepest metadata in its deepest span.
        let mut spans = vec![span(1, None)];
        spans.extend((2..=MAX_NESTING_DEPTH as u64 + 1).map(|i| span(i, Some(i - 1))));
        let mut deep = json!(1);
        for _ in 0..crate::span::MAX_METADATA_DEPTH {
            deep = json!([deep]);
        }
        spans.last_mut().unwrap().metadata.push(MetadataEntry {
            namespace: "default".into(),
            key: "k".into(),
            value: deep,
        });
        let mut out = Vec::new();
        encode_batch(&batch(spans), &mut out);
        assert_eq!(out.len(), 1, "nested, not split");
        serde_json::from_slice::<Value>(&out[0]).expect("parses within serde_json's limit");
    }

    #[test]
    fn deep_chains_are_split_instead_of_nested() {
        let mut spans = vec![span(1, None)];
        spans.extend((2..=200).map(|i| span(i, Some(i - 1))));
        let mut out = Vec::new();
        encode_batch(&batch(spans), &mut out);
        assert_eq!(out.len(), 200);
        // One level past the limit is enough.
        let mut spans = vec![span(1, None)];
        spans.extend((2..=MAX_NESTING_DEPTH as u64 + 2).map(|i| span(i, Some(i - 1))));
        let mut out = Vec::new();
        encode_batch(&batch(spans), &mut out);
        assert_eq!(out.len(), MAX_NESTING_DEPTH + 2);
    }

    #[test]
    fn empty_batch_emits_nothing() {
        let mut out = Vec::new();
        encode_batch(&batch(Vec::new()), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn errors_do_not_stop_the_other_documents() {
        let mut spans = vec![span(1, None)];
        for i in 2..=3 {
            let mut s = span(i, Some(1));
            s.metadata.push(MetadataEntry {
                namespace: "default".into(),
                key: "k".into(),
                value: json!("w".repeat(40_000)),
            });
            spans.push(s);
        }
        let mut calls = 0;
        let r = encode_with(&batch(spans), &mut Vec::new(), &[], |_| {
            calls += 1;
            Err(calls)
        });
        assert_eq!((r, calls), (Err(1), 3));
    }
}
