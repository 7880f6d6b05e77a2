//! [`StdoutExporter`]: one OTLP/JSON line per invocation on standard output.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Mutex, PoisonError};

use super::{Export, ExportError, Exporter};
use crate::otlp::json as otlp_json;
use crate::otlp::model::Dialect;
use crate::span::SpanBatch;

/// Writes each invocation's spans as ONE line of OTLP/JSON (an `ExportTraceServiceRequest` in
/// the OTLP/JSON mapping) to standard output (`LAMBDA_TRACE_EXPORTER=stdout` or `console`).
///
/// In Lambda, standard output goes to CloudWatch Logs, so this suits "log it and convert
/// off-process" setups: a subscription filter or a collector reading the log group turns the
/// lines back into OTLP (each is a valid OTLP/HTTP JSON request body). The write is synchronous
/// and happens inside [`export`](Exporter::export) (no flush wait). A CloudWatch log event holds
/// at most 256 KB; Lambda splits longer lines, so keep very large invocations on a network
/// exporter.
///
/// The line's fields are those of the OTLP exporter (see the `otlp` module, feature `otlp`);
/// it needs no extra dependency and no feature.
///
/// ```
/// use lambda_trace::TraceLayer;
/// use lambda_trace::export::StdoutExporter;
///
/// let layer = TraceLayer::builder().exporter(StdoutExporter::new()).build();
/// # let _ = layer;
/// ```
pub struct StdoutExporter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl StdoutExporter {
    /// An exporter writing to the process's standard output.
    pub fn new() -> Self {
        Self::with_writer(io::stdout())
    }

    /// An exporter writing its lines to `writer` instead (a file, a buffer in a test).
    pub fn with_writer(writer: impl Write + Send + 'static) -> Self {
        Self {
            out: Mutex::new(Box::new(writer)),
        }
    }

    /// The line (without its `\n`) written for `batch`.
    pub fn encode(batch: &SpanBatch) -> String {
        let mut line = Vec::new();
        otlp_json::write_request(batch, Dialect::Otel, &mut line);
        // Always UTF-8: the writer copies whole `str`s and adds ASCII.
        String::from_utf8(line).unwrap_or_default()
    }
}

impl Default for StdoutExporter {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for StdoutExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdoutExporter").finish_non_exhaustive()
    }
}

impl Exporter for StdoutExporter {
    fn export(&self, batch: SpanBatch) -> Export {
        let mut line = Vec::new();
        otlp_json::write_request(&batch, Dialect::Otel, &mut line);
        line.push(b'\n');
        // One `write_all` of the whole line under the lock: lines of concurrent invocations
        // never interleave.
        let mut out = self.out.lock().unwrap_or_else(PoisonError::into_inner);
        let result = out
            .write_all(&line)
            .and_then(|()| out.flush())
            .map_err(ExportError::Io);
        Export::Done(result)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::context::{SpanId, TraceId};
    use crate::span::{
        AnnotationValue, AttributeValue, ExceptionRecord, MetadataEntry, Outcome, Resource,
        RootPlacement, SpanKind, SpanRecord,
    };

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn batch() -> SpanBatch {
        let id = |n| SpanId::from_u64(n).unwrap();
        let mut root = SpanRecord::new(
            id(0xa1),
            Some(id(0x53995c3f42cd8ad8)),
            "orders-fn",
            SpanKind::Server,
            1_700_000_000_000_000_000,
        );
        root.end_unix_nanos = 1_700_000_000_500_000_000;
        root.attributes
            .push(("faas.coldstart".into(), AttributeValue::Bool(true)));
        root.attributes
            .push(("faas.trigger".into(), AttributeValue::String("http".into())));
        root.annotations
            .push(("orderId".into(), AnnotationValue::Int(42)));
        root.metadata.push(MetadataEntry {
            namespace: "default".into(),
            key: "order".into(),
            value: json!({"items": [1, 2]}),
        });
        root.outcome = Outcome {
            fault: true,
            ..Outcome::default()
        };
        root.exceptions.push(ExceptionRecord {
            message: "boom\nline two".into(),
            type_name: Some("HandlerError".into()),
            remote: false,
            stack: Vec::new(),
        });
        root.links.push((TraceId::from_u128(9).unwrap(), None));
        let mut child = SpanRecord::new(
            id(0xb2),
            Some(id(0xa1)),
            "GET api",
            SpanKind::Client,
            1_700_000_000_100_000_000,
        );
        child.end_unix_nanos = 1_700_000_000_200_000_000;
        child.outcome = Outcome::from_http_status(404);
        child.annotations.extend([
            ("ratio".into(), AnnotationValue::Float(0.25)),
            ("nan".into(), AnnotationValue::Float(f64::NAN)),
            ("low".into(), AnnotationValue::Float(f64::NEG_INFINITY)),
            ("high".into(), AnnotationValue::Float(f64::INFINITY)),
            (
                "note".into(),
                AnnotationValue::from("a \"quote\" \\ \u{1} é\t"),
            ),
        ]);
        child
            .links
            .push((TraceId::from_u128(10).unwrap(), Some(id(0xc3))));
        let mut resource = Resource::new("orders", "orders-fn", "7");
        resource.region = Some("eu-west-1".into());
        resource.memory_mb = Some(256);
        resource.log_group = Some("/aws/lambda/orders-fn".into());
        resource.log_stream = Some("2026/11/22/[$LATEST]abc".into());
        SpanBatch::new(
            Arc::new(resource),
            TraceId::from_u128(0x5759e988bd862e3fe1be46a994272793).unwrap(),
            RootPlacement::Segment,
            vec![root, child],
        )
    }

    fn attr<'a>(list: &'a Value, key: &str) -> &'a Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["key"] == key)
            .map_or(&Value::Null, |kv| &kv["value"])
    }

    #[test]
    fn one_otlp_json_line_per_invocation() {
        let buffer = Buffer::default();
        let exporter = StdoutExporter::with_writer(buffer.clone());
        for _ in 0..2 {
            match exporter.export(batch()) {
                Export::Done(r) => r.unwrap(),
                Export::Pending(_) => panic!("stdout is synchronous"),
            }
        }
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(text.ends_with('\n'));
        let v: Value = serde_json::from_str(lines[0]).unwrap();

        let rs = &v["resourceSpans"][0];
        let resource = &rs["resource"]["attributes"];
        assert_eq!(
            attr(resource, "service.name"),
            &json!({"stringValue": "orders"})
        );
        assert_eq!(
            attr(resource, "cloud.provider"),
            &json!({"stringValue": "aws"})
        );
        assert_eq!(
            attr(resource, "cloud.platform"),
            &json!({"stringValue": "aws_lambda"})
        );
        assert_eq!(
            attr(resource, "cloud.region"),
            &json!({"stringValue": "eu-west-1"})
        );
        assert_eq!(
            attr(resource, "faas.name"),
            &json!({"stringValue": "orders-fn"})
        );
        assert_eq!(attr(resource, "faas.version"), &json!({"stringValue": "7"}));
        assert_eq!(
            attr(resource, "faas.max_memory"),
            &json!({"intValue": "268435456"})
        );
        assert_eq!(
            attr(resource, "aws.log.group.names"),
            &json!({"arrayValue": {"values": [{"stringValue": "/aws/lambda/orders-fn"}]}})
        );
        let scope = &rs["scopeSpans"][0];
        assert_eq!(scope["scope"]["name"], "lambda-trace");
        assert_eq!(scope["scope"]["version"], env!("CARGO_PKG_VERSION"));

        let root = &scope["spans"][0];
        assert_eq!(root["traceId"], "5759e988bd862e3fe1be46a994272793");
        assert_eq!(root["spanId"], "00000000000000a1");
        assert_eq!(root["parentSpanId"], "53995c3f42cd8ad8");
        assert_eq!(root["name"], "orders-fn");
        assert_eq!(root["kind"], 2);
        assert_eq!(root["flags"], 0x301);
        assert_eq!(root["startTimeUnixNano"], "1700000000000000000");
        assert_eq!(root["endTimeUnixNano"], "1700000000500000000");
        let attrs = &root["attributes"];
        assert_eq!(attr(attrs, "faas.coldstart"), &json!({"boolValue": true}));
        assert_eq!(attr(attrs, "faas.trigger"), &json!({"stringValue": "http"}));
        assert_eq!(attr(attrs, "orderId"), &json!({"intValue": "42"}));
        assert_eq!(
            attr(attrs, "lambda_trace.metadata.default.order"),
            &json!({"stringValue": "{\"items\":[1,2]}"})
        );
        assert_eq!(
            root["status"],
            json!({"code": 2, "message": "boom\nline two"})
        );
        assert_eq!(
            root["events"],
            json!([{
                "timeUnixNano": "1700000000500000000",
                "name": "exception",
                "attributes": [
                    {"key": "exception.message", "value": {"stringValue": "boom\nline two"}},
                    {"key": "exception.type", "value": {"stringValue": "HandlerError"}},
                ],
            }])
        );
        assert_eq!(
            root["links"],
            json!([{"traceId": "00000000000000000000000000000009", "spanId": ""}])
        );

        let child = &scope["spans"][1];
        assert_eq!(child["parentSpanId"], "00000000000000a1");
        assert_eq!(child["kind"], 3);
        assert_eq!(child["flags"], 0x101);
        assert_eq!(child["status"], json!({"code": 2}), "4xx on a client span");
        assert!(child.get("events").is_none());
    }

    /// The line as OpenTelemetry's own OTLP/JSON reader (`opentelemetry-proto`'s serde support)
    /// reads it: the same request, field for field, as the protobuf encoder builds.
    #[test]
    fn opentelemetry_proto_reads_the_line() {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

        let batch = batch();
        let line = StdoutExporter::encode(&batch);
        let decoded: ExportTraceServiceRequest =
            serde_json::from_str(&line).expect("OTLP/JSON opentelemetry-proto reads");
        let spans = &decoded.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 2);
        assert_eq!(
            spans[0].trace_id,
            0x5759e988bd862e3fe1be46a994272793u128.to_be_bytes()
        );
        assert_eq!(spans[1].parent_span_id, 0xa1u64.to_be_bytes());
        #[cfg(feature = "otlp")]
        assert_eq!(
            decoded,
            crate::otlp::protobuf::request(&batch, Dialect::Otel)
        );
    }

    #[test]
    fn the_line_is_what_serde_json_writes() {
        let batch = batch();
        let line = StdoutExporter::encode(&batch);
        assert_eq!(
            line,
            otlp_json::reference::request(&batch, Dialect::Otel).to_string()
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        let child = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][1];
        assert_eq!(
            attr(&child["attributes"], "ratio"),
            &json!({"doubleValue": 0.25})
        );
        assert_eq!(
            attr(&child["attributes"], "nan"),
            &json!({"stringValue": "NaN"})
        );
        assert_eq!(
            attr(&child["attributes"], "low"),
            &json!({"stringValue": "-inf"})
        );
        assert_eq!(
            attr(&child["attributes"], "high"),
            &json!({"stringValue": "inf"})
        );
    }

    #[test]
    fn write_errors_are_reported() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        match StdoutExporter::with_writer(Broken).export(batch()) {
            Export::Done(Err(ExportError::Io(e))) => {
                assert_eq!(e.kind(), io::ErrorKind::BrokenPipe)
            }
            other => panic!("{other:?}"),
        }
    }
}
