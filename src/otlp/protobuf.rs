//! A [`SpanBatch`] as the protobuf `ExportTraceServiceRequest` of `opentelemetry-proto`.
//! What goes in each field is decided by [`model`](super::model), shared with the JSON encoder.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::model::{self, Dialect, KeyValues, Value};
use crate::span::SpanBatch;

/// The request for `batch`: one resource, one scope, every span.
pub(crate) fn request(batch: &SpanBatch, dialect: Dialect) -> ExportTraceServiceRequest {
    let trace_id = batch.trace_id.to_u128().to_be_bytes().to_vec();
    let spans = (0..batch.spans.len())
        .map(|i| span(batch, i, &trace_id, dialect))
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: attributes(model::resource_attributes(&batch.resource)),
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: model::SCOPE_NAME.into(),
                    version: model::SCOPE_VERSION.into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn span(batch: &SpanBatch, index: usize, trace_id: &[u8], dialect: Dialect) -> Span {
    let s = &batch.spans[index];
    let (code, message) = model::status(s);
    Span {
        trace_id: match s.trace_id {
            Some(own) => own.to_u128().to_be_bytes().to_vec(),
            None => trace_id.to_vec(),
        },
        span_id: s.span_id.to_u64().to_be_bytes().to_vec(),
        parent_span_id: s
            .parent_id
            .map_or_else(Vec::new, |p| p.to_u64().to_be_bytes().to_vec()),
        flags: model::flags(batch, index),
        name: s.name.to_string(),
        kind: model::kind(batch, index, dialect),
        start_time_unix_nano: s.start_unix_nanos,
        end_time_unix_nano: s.end_unix_nanos,
        attributes: attributes(model::span_attributes(batch, index, dialect)),
        events: s
            .exceptions
            .iter()
            .map(|e| Event {
                time_unix_nano: s.end_unix_nanos,
                name: model::EXCEPTION_EVENT.into(),
                attributes: attributes(model::exception_attributes(e)),
                ..Event::default()
            })
            .collect(),
        links: s
            .links
            .iter()
            .map(|(trace, span)| Link {
                trace_id: trace.to_u128().to_be_bytes().to_vec(),
                span_id: span.map_or_else(Vec::new, |s| s.to_u64().to_be_bytes().to_vec()),
                ..Link::default()
            })
            .collect(),
        dropped_links_count: u32::try_from(s.dropped_links).unwrap_or(u32::MAX),
        status: Some(Status {
            code: code as i32,
            message: message.to_string(),
        }),
        ..Span::default()
    }
}

fn attributes(kv: KeyValues<'_>) -> Vec<KeyValue> {
    kv.0.into_iter()
        .map(|(key, value)| KeyValue {
            key: key.into_owned(),
            value: Some(any_value(value)),
            ..KeyValue::default()
        })
        .collect()
}

fn any_value(value: Value<'_>) -> AnyValue {
    let string = |s: std::borrow::Cow<'_, str>| any_value::Value::StringValue(s.into_owned());
    let value = match value {
        Value::Str(s) => string(s),
        Value::Int(i) => any_value::Value::IntValue(i),
        Value::Double(f) => any_value::Value::DoubleValue(f),
        Value::Bool(b) => any_value::Value::BoolValue(b),
        Value::StrArray(items) => any_value::Value::ArrayValue(ArrayValue {
            values: items
                .into_iter()
                .map(|s| AnyValue {
                    value: Some(string(s)),
                })
                .collect(),
        }),
    };
    AnyValue { value: Some(value) }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use prost::Message;

    use super::*;
    use crate::context::{SpanId, TraceId};
    use crate::span::{ExceptionRecord, Outcome, RootPlacement, SpanKind, SpanRecord};

    #[test]
    fn ids_are_big_endian_bytes_and_the_request_round_trips() {
        let mut root = SpanRecord::new(
            SpanId::from_u64(0x0102030405060708).unwrap(),
            SpanId::from_u64(0x53995c3f42cd8ad8),
            "fn",
            SpanKind::Server,
            10,
        );
        root.end_unix_nanos = 20;
        root.outcome = Outcome::from_http_status(500);
        root.exceptions.push(ExceptionRecord {
            message: "boom".into(),
            type_name: None,
            remote: false,
            stack: Vec::new(),
        });
        let batch = SpanBatch::new(
            Arc::new(crate::span::Resource::new("svc", "fn", "1")),
            TraceId::from_u128(0x5759e988bd862e3fe1be46a994272793).unwrap(),
            RootPlacement::LambdaSubsegment,
            vec![root],
        );
        let bytes = request(&batch, Dialect::Otel).encode_to_vec();
        let decoded = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        let span = &decoded.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(
            span.trace_id,
            [
                0x57, 0x59, 0xe9, 0x88, 0xbd, 0x86, 0x2e, 0x3f, 0xe1, 0xbe, 0x46, 0xa9, 0x94, 0x27,
                0x27, 0x93
            ]
        );
        assert_eq!(span.span_id, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(span.parent_span_id, 0x53995c3f42cd8ad8u64.to_be_bytes());
        assert_eq!(span.kind, 2);
        assert_eq!(
            (span.start_time_unix_nano, span.end_time_unix_nano),
            (10, 20)
        );
        let status = span.status.as_ref().unwrap();
        assert_eq!((status.code, status.message.as_str()), (2, "boom"));
        assert_eq!(span.events[0].name, "exception");
        assert_eq!(span.flags, 0x301);
    }
}
