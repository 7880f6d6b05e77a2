//! Every document the X-Ray encoder produces validates against AWS's segment document schema
//! (draft 4) and has `end_time` or `in_progress` (which X-Ray requires and the schema does not).
//!
//! The schema is `tests/data/segment-document.schema.json`, a copy of
//! `shared/xray/segment-document.schema.json` (AWS X-Ray segment document schema 1.0.0); the
//! shared folder beside the repository is only used when the copy is missing.

use std::sync::{Arc, OnceLock};

use lambda_trace::span::{
    AnnotationValue, AttributeValue, ExceptionRecord, HttpRequestInfo, HttpResponseInfo,
    MetadataEntry, Outcome, RemoteNamespace, Resource, RootPlacement, SpanBatch, SpanKind,
    SpanRecord, StackFrame,
};
use lambda_trace::xray::{MAX_DOCUMENT_BYTES, encode_batch};
use lambda_trace::{SpanId, TraceId};
use serde_json::{Value, json};

const T0: u64 = 1_717_171_717_000_000_000;

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let local = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/segment-document.schema.json"
        );
        let shared = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/xray/segment-document.schema.json"
        );
        let text = std::fs::read_to_string(local)
            .or_else(|_| std::fs::read_to_string(shared))
            .expect("segment document schema");
        let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
        jsonschema::draft4::new(&schema).expect("schema compiles")
    })
}

/// Encodes `batch`, validates every document, and returns them parsed.
fn encode_and_validate(batch: &SpanBatch) -> Vec<Value> {
    let mut raw = Vec::new();
    encode_batch(batch, &mut raw);
    assert!(!raw.is_empty(), "no document for a non-empty batch");
    raw.iter()
        .map(|bytes| {
            assert!(bytes.len() <= MAX_DOCUMENT_BYTES, "{} bytes", bytes.len());
            let doc: Value = serde_json::from_slice(bytes).expect("document is JSON");
            let errors: Vec<String> = validator()
                .iter_errors(&doc)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            assert!(errors.is_empty(), "schema errors: {errors:#?}\nin {doc:#}");
            assert_times(&doc);
            doc
        })
        .collect()
}

/// `end_time` or `in_progress: true`, in the document and every nested subsegment.
fn assert_times(doc: &Value) {
    assert!(
        doc["end_time"].is_number() || doc["in_progress"] == true,
        "no end_time / in_progress in {doc}"
    );
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        assert_times(sub);
    }
}

fn sid(v: u64) -> SpanId {
    SpanId::from_u64(v).unwrap()
}

fn trace_id() -> TraceId {
    TraceId::from_xray("1-66595b05-0123456789abcdef01234567").unwrap()
}

fn resource() -> Arc<Resource> {
    let mut r = Resource::new("orders", "orders-fn", "7");
    r.region = Some("eu-west-1".into());
    Arc::new(r)
}

fn span(id: u64, parent: Option<u64>, name: &str, kind: SpanKind, offset_ms: u64) -> SpanRecord {
    let mut s = SpanRecord::new(
        sid(id),
        parent.map(sid),
        name.to_owned(),
        kind,
        T0 + offset_ms * 1_000_000,
    );
    s.end_unix_nanos = s.start_unix_nanos + 12_345_678;
    s
}

fn s(v: &'static str) -> AttributeValue {
    AttributeValue::String(v.into())
}

/// An API Gateway invocation span the way the layer records it.
fn invocation(parent: Option<u64>) -> SpanRecord {
    let mut root = span(0x1000, parent, "orders-fn", SpanKind::Server, 0);
    root.annotations
        .push(("ColdStart".into(), AnnotationValue::Bool(true)));
    root.annotations
        .push(("Service".into(), AnnotationValue::String("orders".into())));
    root.annotations
        .push(("retries".into(), AnnotationValue::Int(2)));
    root.annotations
        .push(("ratio".into(), AnnotationValue::Float(0.25)));
    for (k, v) in [
        (
            "faas.invocation_id",
            s("c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
        ),
        ("faas.trigger", s("http")),
        ("faas.coldstart", AttributeValue::Bool(true)),
        ("faas.name", s("orders-fn")),
        ("faas.version", s("7")),
        ("cloud.provider", s("aws")),
        ("cloud.region", s("eu-west-1")),
        (
            "aws.lambda.invoked_arn",
            s("arn:aws:lambda:eu-west-1:123456789012:function:orders-fn"),
        ),
        ("cloud.account.id", s("123456789012")),
        ("http.request.method", s("POST")),
        ("http.route", s("/orders/{id}")),
        ("http.response.status_code", AttributeValue::Int(200)),
    ] {
        root.attributes.push((k.into(), v));
    }
    let mut req = HttpRequestInfo::new("POST", "https://api.example.com/orders/42");
    req.user_agent = Some("Mozilla/5.0 ".repeat(40)); // longer than the schema's 250
    req.client_ip = Some("198.51.100.7".into());
    req.x_forwarded_for = true;
    root.http_request = Some(req);
    root.http_response = Some(HttpResponseInfo {
        status: Some(200),
        content_length: Some(512),
    });
    root.metadata.push(MetadataEntry {
        namespace: "default".into(),
        key: "event".into(),
        value: json!({"path": "/orders/42", "items": [1, 2, 3], "nested": {"ok": null}}),
    });
    root
}

fn remote_call(id: u64, parent: u64, status: u16) -> SpanRecord {
    let mut c = span(id, Some(parent), "api.partner.example", SpanKind::Client, 2);
    c.namespace = Some(RemoteNamespace::Remote);
    c.http_request = Some(HttpRequestInfo::new(
        "GET",
        "https://api.partner.example/stock?sku=1",
    ));
    c.http_response = Some(HttpResponseInfo {
        status: Some(status),
        content_length: None,
    });
    c.outcome = Outcome::from_http_status(status);
    c
}

fn aws_call(id: u64, parent: u64) -> SpanRecord {
    let mut c = span(id, Some(parent), "DynamoDB", SpanKind::Client, 3);
    c.namespace = Some(RemoteNamespace::Aws);
    for (k, v) in [
        ("rpc.system", s("aws-api")),
        ("rpc.service", s("DynamoDB")),
        ("rpc.method", s("GetItem")),
        ("aws.region", s("eu-west-1")),
        (
            "aws.request_id",
            s("UBNQ1BHH0M2L8JSF3FG5J1F0CFVV4KQNSO5AEMVJF66Q9ASUAAJG"),
        ),
        ("aws.dynamodb.table_name", s("orders")),
    ] {
        c.attributes.push((k.into(), v));
    }
    c.http_response = Some(HttpResponseInfo {
        status: Some(200),
        content_length: Some(87),
    });
    c
}

fn all_ids(doc: &Value, out: &mut Vec<String>) {
    out.push(doc["id"].as_str().unwrap().to_string());
    for sub in doc["subsegments"].as_array().into_iter().flatten() {
        all_ids(sub, out);
    }
}

#[test]
fn segment_root_with_remote_and_aws_children() {
    let spans = vec![
        invocation(Some(0xca11e5)),
        span(0x2000, Some(0x1000), "load order", SpanKind::Internal, 1),
        remote_call(0x3000, 0x2000, 200),
        aws_call(0x4000, 0x1000),
    ];
    let batch = SpanBatch::new(resource(), trace_id(), RootPlacement::Segment, spans);
    let docs = encode_and_validate(&batch);
    assert_eq!(docs.len(), 1);
    let root = &docs[0];
    assert_eq!(root["origin"], "AWS::Lambda::Function");
    assert_eq!(root["trace_id"], "1-66595b05-0123456789abcdef01234567");
    assert_eq!(root["parent_id"], "0000000000ca11e5");
    assert_eq!(root["aws"]["account_id"], "123456789012");
    assert_eq!(root["service"]["version"], "7");
    assert_eq!(
        root["metadata"]["lambda_trace"]["faas.invocation_id"],
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
    assert_eq!(
        root["http"]["request"]["user_agent"]
            .as_str()
            .unwrap()
            .len(),
        250
    );
    let load = &root["subsegments"][0];
    assert_eq!(load["subsegments"][0]["namespace"], "remote");
    let ddb = &root["subsegments"][1];
    assert_eq!(ddb["namespace"], "aws");
    assert_eq!(ddb["aws"]["operation"], "GetItem");
    assert_eq!(ddb["aws"]["table_name"], "orders");
    let mut ids = Vec::new();
    all_ids(root, &mut ids);
    assert_eq!(ids.len(), 4);
}

#[test]
fn lambda_subsegment_root() {
    let lambda_segment = 0x5eed_5eed_5eed_5eedu64;
    let mut root = invocation(Some(lambda_segment));
    let caller: TraceId = "5759e988bd862e3fe1be46a994272793".parse().unwrap();
    root.links.push((caller, Some(sid(0xabcdef))));
    let spans = vec![root, aws_call(0x4000, 0x1000)];
    let batch = SpanBatch::new(
        resource(),
        trace_id(),
        RootPlacement::LambdaSubsegment,
        spans,
    );
    let docs = encode_and_validate(&batch);
    assert_eq!(docs.len(), 1);
    let doc = &docs[0];
    assert_eq!(doc["type"], "subsegment");
    assert_eq!(doc["parent_id"], "5eed5eed5eed5eed");
    assert!(doc.get("origin").is_none());
    assert_eq!(
        doc["aws"]["request_id"],
        "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    );
    assert_eq!(
        doc["metadata"]["lambda_trace"]["links"][0]["trace_id"],
        "1-5759e988-bd862e3fe1be46a994272793"
    );
}

#[test]
fn fault_with_cause_error_and_throttle() {
    let mut root = invocation(None);
    root.outcome = Outcome {
        fault: true,
        ..Outcome::default()
    };
    root.http_response = Some(HttpResponseInfo {
        status: Some(500),
        content_length: None,
    });
    root.exceptions.push(ExceptionRecord {
        message: "order store unavailable".into(),
        type_name: Some("lambda_runtime::Diagnostic".into()),
        remote: false,
        stack: vec![
            StackFrame {
                label: "orders::store::load".into(),
                path: Some("src/store.rs".into()),
                line: Some(42),
            },
            StackFrame {
                label: "<unknown>".into(),
                path: None,
                line: None,
            },
        ],
    });
    root.exceptions.push(ExceptionRecord {
        message: "connection reset".into(),
        type_name: None,
        remote: true,
        stack: Vec::new(),
    });
    let not_found = remote_call(0x3000, 0x1000, 404);
    let mut throttled = aws_call(0x4000, 0x1000);
    throttled.outcome = Outcome::from_http_status(429);
    throttled.exceptions.push(ExceptionRecord {
        message: "ProvisionedThroughputExceededException".into(),
        type_name: Some("ThrottlingError".into()),
        remote: true,
        stack: Vec::new(),
    });
    let batch = SpanBatch::new(
        resource(),
        trace_id(),
        RootPlacement::Segment,
        vec![root, not_found, throttled],
    );
    let docs = encode_and_validate(&batch);
    let root = &docs[0];
    assert_eq!(root["fault"], true);
    assert_eq!(root["cause"]["exceptions"].as_array().unwrap().len(), 2);
    assert_eq!(root["cause"]["exceptions"][1]["remote"], true);
    let (nf, th) = (&root["subsegments"][0], &root["subsegments"][1]);
    assert_eq!(
        (nf["error"].as_bool(), nf.get("throttle")),
        (Some(true), None)
    );
    assert_eq!(
        (th["error"].as_bool(), th["throttle"].as_bool()),
        (Some(true), Some(true))
    );
}

#[test]
fn unfinished_span_and_dropped_spans() {
    let mut late = span(
        0x2000,
        Some(0x1000),
        "background job",
        SpanKind::Internal,
        5,
    );
    late.unfinished = true;
    let mut batch = SpanBatch::new(
        resource(),
        trace_id(),
        RootPlacement::Segment,
        vec![invocation(None), late],
    );
    batch.dropped_spans = 17;
    let docs = encode_and_validate(&batch);
    let root = &docs[0];
    assert_eq!(root["metadata"]["lambda_trace"]["dropped_spans"], 17);
    let late = &root["subsegments"][0];
    assert_eq!(late["metadata"]["lambda_trace"]["unfinished"], true);
    assert!(late["end_time"].as_f64().unwrap() > late["start_time"].as_f64().unwrap());
}

#[test]
fn odd_names_and_annotation_keys_still_validate() {
    let mut root = span(0x1000, None, "", SpanKind::Server, 0);
    root.annotations
        .push(("not valid.key-é".into(), AnnotationValue::Bool(false)));
    root.annotations
        .push(("nan".into(), AnnotationValue::Float(f64::NAN)));
    let weird = span(
        0x2000,
        Some(0x1000),
        &format!("GET /items?id=(1)\\{}", "名".repeat(300)),
        SpanKind::Client,
        1,
    );
    let emoji = span(0x3000, Some(0x1000), "🚀 launch", SpanKind::Internal, 2);
    let batch = SpanBatch::new(
        resource(),
        trace_id(),
        RootPlacement::Segment,
        vec![root, weird, emoji],
    );
    let docs = encode_and_validate(&batch);
    assert_eq!(docs[0]["name"], "unnamed");
    assert_eq!(docs[0]["annotations"]["not_valid_key__"], false);
    let weird = docs[0]["subsegments"][0]["name"].as_str().unwrap();
    assert_eq!(weird.chars().count(), 200);
    assert!(weird.starts_with("GET /items_id=_1__名"));
}

#[test]
fn split_documents_validate_and_cover_every_span() {
    let mut spans = vec![invocation(None)];
    for i in 1..=300u64 {
        let id = 0x1000 + i;
        let parent = if i % 4 == 0 { id - 1 } else { 0x1000 };
        let mut c = if i % 2 == 0 {
            remote_call(id, parent, if i % 10 == 0 { 503 } else { 200 })
        } else {
            aws_call(id, parent)
        };
        c.metadata.push(MetadataEntry {
            namespace: "payloads".into(),
            key: "body".into(),
            value: json!({"text": "lorem ipsum ".repeat(40), "i": i}),
        });
        spans.push(c);
    }
    let mut huge = span(0x9999, Some(0x1000), "huge", SpanKind::Internal, 9);
    huge.metadata.push(MetadataEntry {
        namespace: "default".into(),
        key: "blob".into(),
        value: json!("b".repeat(200 * 1024)),
    });
    spans.push(huge);
    let batch = SpanBatch::new(resource(), trace_id(), RootPlacement::Segment, spans);
    let docs = encode_and_validate(&batch);
    assert_eq!(docs.len(), batch.spans.len());
    let mut ids: Vec<String> = docs
        .iter()
        .map(|d| {
            assert_eq!(d["trace_id"], "1-66595b05-0123456789abcdef01234567");
            assert!(d.get("subsegments").is_none());
            d["id"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    let mut expected: Vec<String> = batch.spans.iter().map(|s| s.span_id.to_string()).collect();
    expected.sort();
    assert_eq!(ids, expected);
    for d in &docs[1..] {
        assert_eq!(d["type"], "subsegment");
    }
    let huge = docs.iter().find(|d| d["name"] == "huge").unwrap();
    assert_eq!(huge["metadata"]["lambda_trace"]["truncated"], true);
}

#[test]
fn split_lambda_subsegment_root_validates() {
    let mut spans = vec![invocation(Some(0x5eed))];
    for i in 1..=80u64 {
        let mut c = aws_call(0x1000 + i, 0x1000);
        c.metadata.push(MetadataEntry {
            namespace: "default".into(),
            key: "item".into(),
            value: json!("v".repeat(1000)),
        });
        spans.push(c);
    }
    let batch = SpanBatch::new(
        resource(),
        trace_id(),
        RootPlacement::LambdaSubsegment,
        spans,
    );
    let docs = encode_and_validate(&batch);
    assert_eq!(docs.len(), 81);
    assert!(docs.iter().all(|d| d["type"] == "subsegment"));
    assert_eq!(docs[0]["parent_id"], "0000000000005eed");
    assert!(
        docs[1..]
            .iter()
            .all(|d| d["parent_id"] == "0000000000001000")
    );
}

#[test]
fn the_schema_rejects_what_the_translator_repairs() {
    // Guards against a validator that accepts everything (e.g. a pattern it could not compile).
    let valid = json!({"name": "ok", "id": "0000000000000001", "start_time": 1.0,
                       "end_time": 2.0, "trace_id": "1-66595b05-0123456789abcdef01234567"});
    assert!(validator().is_valid(&valid));
    for (key, bad) in [
        ("name", json!("a(b)")),
        ("name", json!("x".repeat(201))),
        ("name", json!("🚀")),
        ("annotations", json!({"a.b": 1})),
        ("annotations", json!({"k": "v".repeat(1001)})),
        ("annotations", json!({"k": null})),
        ("id", json!("123")),
        ("http", json!({"request": {"url": "u".repeat(251)}})),
        ("metadata", json!({"default": 1})),
    ] {
        let mut doc = valid.clone();
        doc[key] = bad;
        assert!(!validator().is_valid(&doc), "{key}: {doc}");
    }
}
