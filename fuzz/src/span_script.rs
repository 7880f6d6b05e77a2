//! The span API driven by fuzz input: a script of operations that a handler runs inside a
//! traced invocation (layer + in-memory exporter), then the X-Ray encoding of the batch, with
//! every limit and every encoding guarantee checked.

use std::collections::HashMap;
use std::error::Error;
use std::fmt;

use arbitrary::Arbitrary;
use lambda_runtime::{Context, LambdaEvent, service_fn};
use lambda_trace::export::InMemoryExporter;
use lambda_trace::propagation::{CompositePropagator, HeaderExtractor, Propagator};
use lambda_trace::span::{
    AnnotationValue, AttributeValue, HttpRequestInfo, MAX_ANNOTATION_STRING, MAX_ANNOTATIONS,
    MAX_EXCEPTION_MESSAGE_CHARS, MAX_EXCEPTIONS, MAX_METADATA_BYTES, MAX_METADATA_ENTRIES,
    MAX_SPAN_ATTRIBUTES, MAX_SPAN_LINKS, MAX_SPAN_NAME_CHARS, Outcome, SpanBatch,
};
use lambda_trace::xray::{self, MAX_DOCUMENT_BYTES};
use lambda_trace::{Config, Span, TraceLayer};
use serde_json::Value;
use tower::{Layer, Service, ServiceExt};

/// Text: short as given, or a unit repeated into a long string.
#[derive(Debug, Clone, Arbitrary)]
pub enum Text {
    Short(String),
    Long { unit: String, times: u16 },
}

impl Text {
    pub fn get(&self) -> String {
        match self {
            Text::Short(s) => s.clone(),
            // At most 8 chars × 16,383: up to 512 kB, past every text cap.
            Text::Long { unit, times } => {
                let unit: String = unit.chars().take(8).collect();
                unit.repeat(usize::from(*times % 16_384))
            }
        }
    }
}

#[derive(Debug, Clone, Arbitrary)]
pub enum Annotation {
    Str(Text),
    Int(i64),
    U64(u64),
    Float(f64),
    Bool(bool),
}

/// A metadata value: JSON parsed from bytes, a long string, or a wide or deep structure.
#[derive(Debug, Clone, Arbitrary)]
pub enum Json {
    Parsed(Vec<u8>),
    Str(Text),
    Wide { n: u16, leaf: Text },
    Deep { depth: u8 },
    Float(f64),
}

impl Json {
    fn get(&self) -> Value {
        match self {
            Json::Parsed(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
            Json::Str(t) => Value::String(t.get()),
            Json::Wide { n, leaf } => {
                let leaf = Value::String(leaf.get().chars().take(64).collect());
                Value::Array(vec![leaf; usize::from(*n % 4096)])
            }
            Json::Deep { depth } => {
                let mut v = Value::Null;
                for _ in 0..*depth {
                    v = Value::Array(vec![v]);
                }
                v
            }
            Json::Float(f) => serde_json::json!(f),
        }
    }
}

/// One call of the span API. `span` and `parent` pick one of the spans opened so far.
#[derive(Debug, Clone, Arbitrary)]
pub enum Op {
    Child {
        parent: u8,
        name: Text,
    },
    Guard {
        parent: u8,
        name: Text,
    },
    End {
        span: u8,
    },
    Annotate {
        span: u8,
        key: Text,
        value: Annotation,
    },
    Metadata {
        span: u8,
        key: Text,
        value: Json,
    },
    MetadataIn {
        span: u8,
        namespace: Text,
        key: Text,
        value: Json,
    },
    RecordError {
        span: u8,
        chain: Vec<Text>,
        error: bool,
    },
    Status {
        span: u8,
        status: u16,
    },
    Attribute {
        span: u8,
        key: Text,
        value: Text,
    },
    Link {
        span: u8,
    },
    HttpRequest {
        span: u8,
        method: Text,
        url: Text,
        agent: Text,
    },
    Inject {
        span: u8,
    },
}

/// A whole invocation: the layer's settings, the operations, and the handler's result.
#[derive(Debug, Clone, Arbitrary)]
pub struct Script {
    /// Under Lambda's Active tracing (a subsegment of Lambda's segment) or not.
    pub active_tracing: bool,
    pub max_spans: u8,
    pub ops: Vec<Op>,
    pub fail: Option<Text>,
}

/// An error with a chain of sources.
#[derive(Debug)]
struct Chain(String, Option<Box<Chain>>);

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for Chain {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.1.as_deref().map(|c| c as &(dyn Error + 'static))
    }
}

fn pick(spans: &[Span], i: u8) -> &Span {
    &spans[usize::from(i) % spans.len()]
}

/// Runs the operations on the invocation span and its children; returns how many child spans
/// were opened.
fn run_ops(ops: &[Op]) -> usize {
    let mut spans = vec![lambda_trace::current()];
    let mut opened = 0;
    for op in ops {
        match op {
            Op::Child { parent, name } => {
                let child = pick(&spans, *parent).child(name.get());
                spans.push(child);
                opened += 1;
            }
            Op::Guard { parent, name } => {
                let guard = pick(&spans, *parent).child_guard(name.get());
                guard.annotate("guarded", true);
                opened += 1;
            }
            Op::End { span } => pick(&spans, *span).end(),
            Op::Annotate { span, key, value } => {
                let span = pick(&spans, *span);
                let key = key.get();
                match value {
                    Annotation::Str(t) => span.annotate(key.clone(), t.get()),
                    Annotation::Int(v) => span.annotate(key.clone(), *v),
                    Annotation::U64(v) => span.annotate(key.clone(), *v),
                    Annotation::Float(v) => span.annotate(key.clone(), *v),
                    Annotation::Bool(v) => span.annotate(key.clone(), *v),
                }
            }
            Op::Metadata { span, key, value } => {
                pick(&spans, *span).metadata(&key.get(), value.get())
            }
            Op::MetadataIn {
                span,
                namespace,
                key,
                value,
            } => pick(&spans, *span).metadata_in(&namespace.get(), &key.get(), value.get()),
            Op::RecordError { span, chain, error } => {
                let mut err = None;
                for t in chain.iter().rev().take(64) {
                    err = Some(Box::new(Chain(t.get(), err)));
                }
                if let Some(err) = err {
                    let outcome = Outcome {
                        error: *error,
                        fault: !*error,
                        ..Outcome::default()
                    };
                    pick(&spans, *span).record_error_as(err.as_ref(), outcome);
                }
            }
            Op::Status { span, status } => pick(&spans, *span).set_http_status(*status),
            Op::Attribute { span, key, value } => pick(&spans, *span)
                .set_attribute((key.get().into(), AttributeValue::String(value.get().into()))),
            Op::Link { span } => {
                let s = pick(&spans, *span);
                if let Some(cx) = s.context() {
                    s.add_link(&cx);
                }
            }
            Op::HttpRequest {
                span,
                method,
                url,
                agent,
            } => pick(&spans, *span).set_http_request(
                HttpRequestInfo::new(method.get(), url.get()).with_user_agent(agent.get()),
            ),
            Op::Inject { span } => {
                let mut headers = http::HeaderMap::new();
                pick(&spans, *span).inject(&mut headers);
                let cx = CompositePropagator::default().extract(&HeaderExtractor(&headers));
                assert!(cx.is_some(), "a span's own injected headers do not extract");
            }
        }
    }
    opened
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
}

/// Runs `script` as one invocation and checks its batch and documents.
pub fn run(script: Script) {
    let exporter = InMemoryExporter::default();
    let max_spans = usize::from(script.max_spans % 64) + 1;
    let layer = TraceLayer::builder()
        .config(Config::from_lookup(|k| match k {
            "AWS_LAMBDA_FUNCTION_NAME" => Some("fuzz-fn".into()),
            _ => None,
        }))
        .exporter(exporter.clone())
        .max_spans(max_spans)
        .sample_rate(1.0)
        .build();
    let fail = script.fail.clone();
    let ops = script.ops.clone();
    let mut svc = layer.layer(service_fn(move |_: LambdaEvent<()>| {
        let (ops, fail) = (ops.clone(), fail.clone());
        async move {
            let opened = run_ops(&ops);
            match fail {
                Some(t) => Err(t.get()),
                None => Ok(opened),
            }
        }
    }));
    let mut cx = Context::default();
    if script.active_tracing {
        cx.xray_trace_id = Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
        );
    }
    let result = RUNTIME.with(|rt| {
        rt.block_on(async {
            svc.ready()
                .await
                .unwrap()
                .call(LambdaEvent::new((), cx))
                .await
        })
    });
    let batches = exporter.take();
    assert_eq!(batches.len(), 1, "one batch per invocation");
    let batch = &batches[0];
    if let Ok(opened) = result {
        assert_eq!(
            batch.spans.len() + batch.dropped_spans,
            1 + opened,
            "every span is recorded or counted"
        );
    }
    assert!(batch.spans.len() <= max_spans);
    check_batch(batch);
    check_documents(batch);
}

/// The span limits hold for every record.
pub fn check_batch(batch: &SpanBatch) {
    let annotations: usize = batch.spans.iter().map(|s| s.annotations.len()).sum();
    assert!(annotations <= MAX_ANNOTATIONS, "{annotations} annotations");
    for s in &batch.spans {
        assert!(s.name.chars().count() <= MAX_SPAN_NAME_CHARS);
        for (k, v) in &s.annotations {
            assert!(
                (1..=500).contains(&k.len())
                    && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "key {k:?}"
            );
            if let AnnotationValue::String(v) = v {
                assert!(v.chars().count() <= MAX_ANNOTATION_STRING);
            }
            if let AnnotationValue::Float(f) = v {
                assert!(f.is_finite());
            }
        }
        assert!(s.metadata.len() <= MAX_METADATA_ENTRIES);
        let bytes: usize = s
            .metadata
            .iter()
            .map(|m| m.namespace.len() + m.key.len() + serde_json::to_vec(&m.value).unwrap().len())
            .sum();
        assert!(bytes <= MAX_METADATA_BYTES, "{bytes} bytes of metadata");
        let mut seen = HashMap::new();
        for m in &s.metadata {
            assert!(
                seen.insert((&m.namespace, &m.key), ()).is_none(),
                "metadata key twice"
            );
        }
        assert!(s.exceptions.len() <= MAX_EXCEPTIONS);
        for e in &s.exceptions {
            assert!(e.message.chars().count() <= MAX_EXCEPTION_MESSAGE_CHARS);
        }
        assert!(
            s.attributes.len() <= MAX_SPAN_ATTRIBUTES,
            "{} attributes",
            s.attributes.len()
        );
        assert!(s.links.len() <= MAX_SPAN_LINKS);
        assert!(s.end_unix_nanos >= s.start_unix_nanos);
    }
}

/// Every document is JSON within the datagram limit, and names every span exactly once.
pub fn check_documents(batch: &SpanBatch) {
    let mut docs = Vec::new();
    xray::encode_batch(batch, &mut docs);
    let mut ids = Vec::new();
    for doc in &docs {
        assert!(
            doc.len() <= MAX_DOCUMENT_BYTES,
            "document of {} bytes",
            doc.len()
        );
        let v: Value = serde_json::from_slice(doc).expect("every document is JSON");
        let first = ids.len();
        collect_ids(&v, &mut ids);
        // Each span in its own trace: the batch's, or a message's (`messaging::each_record`).
        for id in &ids[first..] {
            let span = batch.spans.iter().find(|s| s.span_id.to_string() == *id);
            let trace = span.and_then(|s| s.trace_id).unwrap_or(batch.trace_id);
            assert_eq!(
                v["trace_id"].as_str(),
                Some(trace.to_xray().as_str()),
                "span {id} in a document of another trace"
            );
        }
    }
    let mut expected: Vec<String> = batch.spans.iter().map(|s| s.span_id.to_string()).collect();
    ids.sort_unstable();
    expected.sort_unstable();
    assert_eq!(ids, expected, "every span in exactly one document");
}

fn collect_ids(doc: &Value, out: &mut Vec<String>) {
    out.push(doc["id"].as_str().expect("document id").to_string());
    assert!(
        doc["name"]
            .as_str()
            .is_some_and(|n| !n.is_empty() && n.chars().count() <= 200)
    );
    assert!(doc["start_time"].is_f64() && (doc["end_time"].is_f64() || doc["in_progress"] == true));
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        collect_ids(sub, out);
    }
}
