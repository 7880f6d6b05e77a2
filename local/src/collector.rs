//! Gathers X-Ray documents (from the daemon, from the emulated AWS segments, and OTLP spans
//! converted by [`otlp::convert`](crate::otlp::convert)), groups them by trace id and assembles
//! each trace into a tree of spans.
//!
//! Documents are segments or subsegments: a standalone subsegment has `"type": "subsegment"` and
//! a `parent_id`; nested `subsegments` arrays are flattened into nodes whose parent is the
//! enclosing segment or subsegment. A node whose parent is not in the trace is attached at the
//! root with a note. When the same id arrives twice (an `in_progress` document, then the finished
//! one), the finished one wins.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::daemon::Datagram;

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Received by the [`XrayDaemon`](crate::XrayDaemon) (sent by a function).
    Daemon,
    /// Emulated by this crate for an AWS service (API Gateway, Lambda); the string names it.
    Emulated(String),
    /// An OTLP span received by the [`OtlpReceiver`](crate::otlp::OtlpReceiver), converted to a
    /// document.
    Otlp,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Daemon => f.write_str("daemon"),
            Source::Emulated(what) => write!(f, "emulated {what}"),
            Source::Otlp => f.write_str("otlp"),
        }
    }
}

/// One stored document.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The JSON document.
    pub document: Value,
    /// Where it came from.
    pub source: Source,
}

/// Whether a node is a segment or a subsegment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A top-level segment document.
    Segment,
    /// A subsegment (nested, or a standalone `"type": "subsegment"` document).
    Subsegment,
}

/// One span of an assembled trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The segment/subsegment id.
    pub id: String,
    /// The parent's id as the document gives it (it may be absent from the trace).
    pub parent_id: Option<String>,
    /// The name.
    pub name: String,
    /// Segment or subsegment.
    pub kind: NodeKind,
    /// Start, epoch seconds.
    pub start_time: f64,
    /// End, epoch seconds; `None` while in progress.
    pub end_time: Option<f64>,
    /// `origin` (segments), e.g. `AWS::Lambda::Function`.
    pub origin: Option<String>,
    /// `namespace` (subsegments), e.g. `remote` or `aws`.
    pub namespace: Option<String>,
    /// `annotations` (empty when absent).
    pub annotations: Map<String, Value>,
    /// `metadata` (`Null` when absent).
    pub metadata: Value,
    /// The `error` flag.
    pub error: bool,
    /// The `throttle` flag.
    pub throttle: bool,
    /// The `fault` flag.
    pub fault: bool,
    /// `http` (`Null` when absent).
    pub http: Value,
    /// `http.response.status`, if any.
    pub http_status: Option<u16>,
    /// `cause` (`Null` when absent).
    pub cause: Value,
    /// `aws` (`Null` when absent).
    pub aws: Value,
    /// The id of the top-level document this node came from.
    pub document_id: String,
    /// Where that document came from.
    pub source: Source,
    /// The name of the nearest enclosing `AWS::Lambda::Function` segment (or this node's own
    /// name if it is one); filled in by tree assembly.
    pub function: Option<String>,
    /// Depth in the tree (roots are 0); filled in by tree assembly.
    pub depth: usize,
    /// Something worth telling about this node (e.g. its parent is missing).
    pub note: Option<String>,
}

impl Node {
    /// Duration in milliseconds, if finished.
    pub fn duration_ms(&self) -> Option<f64> {
        self.end_time.map(|e| (e - self.start_time) * 1000.0)
    }

    /// Whether the node is still in progress (no `end_time`).
    pub fn in_progress(&self) -> bool {
        self.end_time.is_none()
    }

    /// The span's links: `metadata.lambda_trace.links` of lambda-trace's segment documents, and
    /// `metadata.otel.links` of spans that arrived over OTLP ([`otlp::convert`](crate::otlp::convert)).
    pub fn links(&self) -> Vec<Link> {
        ["/lambda_trace/links", "/otel/links"]
            .iter()
            .filter_map(|path| self.metadata.pointer(path).and_then(Value::as_array))
            .flatten()
            .filter_map(|link| {
                Some(Link {
                    trace_id: link.get("trace_id")?.as_str()?.to_owned(),
                    span_id: link
                        .get("span_id")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
            })
            .collect()
    }

    /// Links the span had but its document left out (`metadata.lambda_trace.dropped_links`:
    /// past X-Ray's 20 per segment, or past the span's link limit).
    pub fn dropped_links(&self) -> u64 {
        self.metadata
            .pointer("/lambda_trace/dropped_links")
            .and_then(Value::as_u64)
            .unwrap_or(0)
    }

    /// A string annotation, if set; numbers and bools are rendered as text.
    pub fn annotation(&self, key: &str) -> Option<String> {
        self.annotations.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// A link of a span to a span of another trace (kept, not followed: an SQS batch's invocation
/// span links to each record's trace, a record's `process` span to the batch's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The linked trace, in X-Ray form.
    pub trace_id: String,
    /// The linked span, when the link names one.
    pub span_id: Option<String>,
}

/// An assembled trace: nodes in depth-first order, children sorted by start time.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    /// The X-Ray trace id.
    pub trace_id: String,
    /// All nodes, depth first (a parent comes right before its subtree).
    pub nodes: Vec<Node>,
    /// Problems found while assembling (e.g. unparseable documents of this trace).
    pub notes: Vec<String>,
}

impl Trace {
    /// Assembles a trace from documents that all belong to `trace_id`.
    pub fn assemble(trace_id: &str, documents: &[Document]) -> Trace {
        let mut nodes: Vec<Node> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut notes = Vec::new();
        for doc in documents {
            let mut flat = Vec::new();
            let doc_id = str_field(&doc.document, "id").unwrap_or_default();
            let standalone = doc.document.get("type").and_then(Value::as_str) == Some("subsegment");
            flatten(
                &doc.document,
                None,
                standalone,
                &doc_id,
                &doc.source,
                &mut flat,
                &mut notes,
            );
            for node in flat {
                match index.get(&node.id) {
                    Some(&i) => {
                        // Keep the finished version of a node sent twice.
                        if nodes[i].in_progress() || !node.in_progress() {
                            nodes[i] = node;
                        }
                    }
                    None => {
                        index.insert(node.id.clone(), nodes.len());
                        nodes.push(node);
                    }
                }
            }
        }
        // Children lists.
        let mut children: HashMap<Option<usize>, Vec<usize>> = HashMap::new();
        for (i, node) in nodes.iter_mut().enumerate() {
            let parent = match &node.parent_id {
                Some(p) => match index.get(p) {
                    Some(&pi) if pi != i => Some(pi),
                    _ => {
                        node.note = Some(format!("parent {p} is not in this trace"));
                        None
                    }
                },
                None => None,
            };
            children.entry(parent).or_default().push(i);
        }
        for list in children.values_mut() {
            list.sort_by(|&a, &b| {
                nodes[a]
                    .start_time
                    .total_cmp(&nodes[b].start_time)
                    .then(a.cmp(&b))
            });
        }
        let mut order = Vec::with_capacity(nodes.len());
        let mut seen = HashSet::new();
        let mut depths = vec![0usize; nodes.len()];
        let roots = children.get(&None).cloned().unwrap_or_default();
        for root in roots {
            visit(root, 0, &children, &mut order, &mut seen, &mut depths);
        }
        // Anything unreached sits in a parent cycle: attach it at the root.
        for (i, node) in nodes.iter_mut().enumerate() {
            if !seen.contains(&i) {
                node.note = Some("part of a parent cycle".into());
                visit(i, 0, &children, &mut order, &mut seen, &mut depths);
            }
        }
        let mut by_index: Vec<Option<Node>> = nodes.into_iter().map(Some).collect();
        let mut out: Vec<Node> = Vec::with_capacity(order.len());
        let mut function_stack: Vec<(usize, Option<String>)> = Vec::new();
        for i in order {
            let Some(mut node) = by_index[i].take() else {
                continue;
            };
            node.depth = depths[i];
            while function_stack
                .last()
                .is_some_and(|(depth, _)| *depth >= node.depth)
            {
                function_stack.pop();
            }
            let inherited = function_stack.last().and_then(|(_, f)| f.clone());
            let own = (node.origin.as_deref() == Some("AWS::Lambda::Function"))
                .then(|| node.name.clone());
            node.function = own.or(inherited);
            function_stack.push((node.depth, node.function.clone()));
            out.push(node);
        }
        Trace {
            trace_id: trace_id.to_owned(),
            nodes: out,
            notes,
        }
    }

    /// Earliest start (epoch seconds), 0 for an empty trace.
    pub fn start(&self) -> f64 {
        self.nodes
            .iter()
            .map(|n| n.start_time)
            .reduce(f64::min)
            .unwrap_or(0.0)
    }

    /// Latest end (epoch seconds), counting in-progress nodes by their start.
    pub fn end(&self) -> f64 {
        self.nodes
            .iter()
            .map(|n| n.end_time.unwrap_or(n.start_time))
            .reduce(f64::max)
            .unwrap_or(0.0)
    }

    /// Total duration in milliseconds.
    pub fn duration_ms(&self) -> f64 {
        (self.end() - self.start()) * 1000.0
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The parent node of `node`, if it is in the trace.
    pub fn parent_of(&self, node: &Node) -> Option<&Node> {
        node.parent_id.as_deref().and_then(|p| self.node(p))
    }

    /// The direct children of the node with id `id`, in start order.
    pub fn children<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes
            .iter()
            .filter(move |n| n.parent_id.as_deref() == Some(id) && n.note.is_none())
    }

    /// Nodes with this name.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes.iter().filter(move |n| n.name == name)
    }

    /// Nodes with this origin.
    pub fn with_origin<'a>(&'a self, origin: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes
            .iter()
            .filter(move |n| n.origin.as_deref() == Some(origin))
    }

    /// Whether every node is finished.
    pub fn is_finished(&self) -> bool {
        self.nodes.iter().all(|n| !n.in_progress())
    }
}

fn visit(
    i: usize,
    depth: usize,
    children: &HashMap<Option<usize>, Vec<usize>>,
    order: &mut Vec<usize>,
    seen: &mut HashSet<usize>,
    depths: &mut [usize],
) {
    if !seen.insert(i) {
        return;
    }
    depths[i] = depth;
    order.push(i);
    if let Some(list) = children.get(&Some(i)) {
        for &c in list {
            visit(c, depth + 1, children, order, seen, depths);
        }
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn flatten(
    v: &Value,
    parent: Option<&str>,
    standalone_subsegment: bool,
    doc_id: &str,
    source: &Source,
    out: &mut Vec<Node>,
    notes: &mut Vec<String>,
) {
    let Some(obj) = v.as_object() else {
        notes.push(format!("a (sub)segment is not an object: {v}"));
        return;
    };
    let id = str_field(v, "id").unwrap_or_else(|| {
        notes.push(format!("a (sub)segment without id in document {doc_id}"));
        format!("(no id #{})", out.len())
    });
    let nested = parent.is_some();
    let kind = if nested || standalone_subsegment {
        NodeKind::Subsegment
    } else {
        NodeKind::Segment
    };
    let parent_id = match parent {
        Some(p) => Some(p.to_owned()),
        None => str_field(v, "parent_id"),
    };
    let in_progress = obj.get("in_progress").and_then(Value::as_bool) == Some(true);
    let end_time = if in_progress {
        None
    } else {
        obj.get("end_time").and_then(Value::as_f64)
    };
    let http = obj.get("http").cloned().unwrap_or(Value::Null);
    let http_status = http
        .pointer("/response/status")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok());
    let flag = |k: &str| obj.get(k).and_then(Value::as_bool).unwrap_or(false);
    out.push(Node {
        id: id.clone(),
        parent_id,
        name: str_field(v, "name").unwrap_or_else(|| "(unnamed)".into()),
        kind,
        start_time: obj.get("start_time").and_then(Value::as_f64).unwrap_or(0.0),
        end_time,
        origin: str_field(v, "origin"),
        namespace: str_field(v, "namespace"),
        annotations: obj
            .get("annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        metadata: obj.get("metadata").cloned().unwrap_or(Value::Null),
        error: flag("error"),
        throttle: flag("throttle"),
        fault: flag("fault"),
        http,
        http_status,
        cause: obj.get("cause").cloned().unwrap_or(Value::Null),
        aws: obj.get("aws").cloned().unwrap_or(Value::Null),
        document_id: doc_id.to_owned(),
        source: source.clone(),
        function: None,
        depth: 0,
        note: None,
    });
    if let Some(subs) = obj.get("subsegments").and_then(Value::as_array) {
        for sub in subs {
            flatten(sub, Some(&id), true, doc_id, source, out, notes);
        }
    }
}

/// A thread-safe store of documents, grouped by trace id.
#[derive(Debug, Default)]
pub struct Collector {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Trace ids in order of first appearance.
    order: Vec<String>,
    by_trace: HashMap<String, Vec<Document>>,
    /// Datagrams that didn't parse or had no trace id.
    rejected: Vec<String>,
    /// Counts every document and rejection added.
    revision: u64,
}

impl Collector {
    /// An empty collector.
    pub fn new() -> Collector {
        Collector::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds one document. A document without `trace_id` is recorded as rejected.
    pub fn add(&self, document: Value, source: Source) {
        let mut inner = self.inner();
        inner.revision += 1;
        let Some(trace_id) = str_field(&document, "trace_id") else {
            inner
                .rejected
                .push(format!("document without trace_id ({source}): {document}"));
            return;
        };
        if !inner.by_trace.contains_key(&trace_id) {
            inner.order.push(trace_id.clone());
        }
        inner
            .by_trace
            .entry(trace_id)
            .or_default()
            .push(Document { document, source });
    }

    /// Adds the documents of daemon datagrams; unparseable ones are recorded as rejected.
    pub fn add_datagrams(&self, datagrams: &[Datagram]) {
        for d in datagrams {
            match &d.error {
                None => self.add(d.document.clone(), Source::Daemon),
                Some(e) => self.reject(format!("bad datagram ({e}): {}", d.raw)),
            }
        }
    }

    /// Records something that arrived and could not be used (shown by [`Collector::rejected`]).
    pub fn reject(&self, why: String) {
        let mut inner = self.inner();
        inner.revision += 1;
        inner.rejected.push(why);
    }

    /// A number that grows with every document or rejection added: a waiter compares two reads
    /// to see whether anything arrived in between.
    pub fn revision(&self) -> u64 {
        self.inner().revision
    }

    /// Trace ids in order of first appearance.
    pub fn trace_ids(&self) -> Vec<String> {
        self.inner().order.clone()
    }

    /// The documents of one trace, in arrival order.
    pub fn documents(&self, trace_id: &str) -> Vec<Document> {
        self.inner()
            .by_trace
            .get(trace_id)
            .cloned()
            .unwrap_or_default()
    }

    /// The assembled trace, if any document of it arrived.
    pub fn trace(&self, trace_id: &str) -> Option<Trace> {
        let docs = self.inner().by_trace.get(trace_id).cloned()?;
        Some(Trace::assemble(trace_id, &docs))
    }

    /// All traces, in order of first appearance.
    pub fn traces(&self) -> Vec<Trace> {
        self.trace_ids()
            .iter()
            .filter_map(|id| self.trace(id))
            .collect()
    }

    /// Descriptions of datagrams/documents that could not be used.
    pub fn rejected(&self) -> Vec<String> {
        self.inner().rejected.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: &str = "1-5759e988-bd862e3fe1be46a994272793";

    fn docs() -> Vec<Value> {
        vec![
            json!({"trace_id": T, "id": "a000000000000001", "name": "api/local",
                   "origin": "AWS::ApiGateway::Stage", "start_time": 100.0, "end_time": 100.050,
                   "http": {"response": {"status": 502}}, "fault": true}),
            json!({"trace_id": T, "id": "b000000000000002", "parent_id": "a000000000000001",
                   "name": "router", "origin": "AWS::Lambda", "start_time": 100.001, "end_time": 100.049}),
            json!({"trace_id": T, "id": "c000000000000003", "parent_id": "b000000000000002",
                   "name": "router", "origin": "AWS::Lambda::Function", "start_time": 100.002, "end_time": 100.048}),
            // Standalone subsegment with nested subsegments.
            json!({"trace_id": T, "id": "d000000000000004", "parent_id": "c000000000000003",
            "type": "subsegment", "name": "router", "start_time": 100.003, "end_time": 100.047,
            "annotations": {"ColdStart": true, "Service": "router"},
            "subsegments": [
                {"id": "e000000000000005", "name": "service-egress", "namespace": "remote",
                 "start_time": 100.010, "end_time": 100.020, "error": true,
                 "subsegments": [{"id": "f000000000000006", "name": "inner", "start_time": 100.011}]},
                {"id": "9000000000000007", "name": "first", "start_time": 100.004, "end_time": 100.005}
            ]}),
            // Unknown parent.
            json!({"trace_id": T, "id": "8000000000000008", "parent_id": "ffffffffffffffff",
                   "type": "subsegment", "name": "orphan", "start_time": 100.030, "end_time": 100.031}),
        ]
    }

    fn trace() -> Trace {
        let c = Collector::new();
        for d in docs() {
            c.add(d, Source::Daemon);
        }
        c.add(json!({"no": "trace"}), Source::Daemon);
        assert_eq!(c.rejected().len(), 1);
        assert_eq!(c.trace_ids(), vec![T.to_owned()]);
        c.trace(T).unwrap()
    }

    #[test]
    fn assembles_nested_and_standalone_subsegments() {
        let t = trace();
        let names: Vec<(usize, &str)> =
            t.nodes.iter().map(|n| (n.depth, n.name.as_str())).collect();
        assert_eq!(
            names,
            vec![
                (0, "api/local"),
                (1, "router"),
                (2, "router"),
                (3, "router"),
                (4, "first"),
                (4, "service-egress"),
                (5, "inner"),
                (0, "orphan"),
            ]
        );
        let inv = t.node("d000000000000004").unwrap();
        assert_eq!(inv.kind, NodeKind::Subsegment);
        assert_eq!(inv.function.as_deref(), Some("router"));
        assert_eq!(inv.annotation("ColdStart").as_deref(), Some("true"));
        let egress = t.node("e000000000000005").unwrap();
        assert_eq!(egress.parent_id.as_deref(), Some("d000000000000004"));
        assert_eq!(egress.document_id, "d000000000000004");
        assert!(egress.error);
        assert!(t.node("f000000000000006").unwrap().in_progress());
        assert!(!t.is_finished());
        let orphan = t.node("8000000000000008").unwrap();
        assert!(orphan.note.as_deref().unwrap().contains("ffffffffffffffff"));
        assert_eq!(t.node("a000000000000001").unwrap().http_status, Some(502));
        assert_eq!(t.node("a000000000000001").unwrap().function, None);
        assert!((t.duration_ms() - 50.0).abs() < 1e-6);
        assert_eq!(t.children("d000000000000004").count(), 2);
    }

    #[test]
    fn finished_version_of_a_node_wins() {
        let c = Collector::new();
        c.add(
            json!({"trace_id": T, "id": "1111111111111111", "name": "s", "start_time": 1.0, "in_progress": true}),
            Source::Daemon,
        );
        c.add(
            json!({"trace_id": T, "id": "1111111111111111", "name": "s", "start_time": 1.0, "end_time": 2.0}),
            Source::Daemon,
        );
        c.add(
            json!({"trace_id": T, "id": "1111111111111111", "name": "s", "start_time": 1.0, "in_progress": true}),
            Source::Daemon,
        );
        let t = c.trace(T).unwrap();
        assert_eq!(t.nodes.len(), 1);
        assert_eq!(t.nodes[0].end_time, Some(2.0));
    }

    #[test]
    fn parent_cycles_do_not_hang() {
        let c = Collector::new();
        c.add(json!({"trace_id": T, "id": "1", "parent_id": "2", "name": "a", "start_time": 1.0, "end_time": 2.0}), Source::Daemon);
        c.add(json!({"trace_id": T, "id": "2", "parent_id": "1", "name": "b", "start_time": 1.0, "end_time": 2.0}), Source::Daemon);
        let t = c.trace(T).unwrap();
        assert_eq!(t.nodes.len(), 2);
    }

    #[test]
    fn bad_datagrams_are_rejected_not_lost() {
        let c = Collector::new();
        c.add_datagrams(&[Datagram::parse(b"junk", std::time::Instant::now())]);
        assert_eq!(c.rejected().len(), 1);
        assert!(c.traces().is_empty());
    }
}
