//! OpenTelemetry's SDK variables through the layer (issue 18, item 6): `OTEL_SDK_DISABLED`, the
//! span limits, `OTEL_RESOURCE_ATTRIBUTES` in the OTLP encoding, and the default exporter
//! outside Lambda. The parsing of each variable is tested in `src/config/otel.rs`, the
//! sampler table in `src/layer/sampler.rs`.

mod support;

use lambda_runtime::{Context, Error, LambdaEvent, service_fn};
use lambda_trace::export::{InMemoryExporter, StdoutExporter};
use lambda_trace::span::{Attribute, AttributeValue, SpanBatch};
use lambda_trace::{Config, TraceContext, TraceLayer};
use serde_json::{Value, json};
use support::logs::Logs;
use tower::{Layer, Service, ServiceExt};

type Vars = &'static [(&'static str, &'static str)];

fn config(vars: &[(&str, &str)]) -> Config {
    Config::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
}

fn event(lambda_header: Option<&str>) -> LambdaEvent<Value> {
    let mut cx = Context::default();
    cx.request_id = "req-1".into();
    cx.invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn".into();
    cx.xray_trace_id = lambda_header.map(str::to_string);
    let payload = json!({
        "headers": {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
        "body": "é",
    });
    LambdaEvent::new(payload, cx)
}

/// What the handler sees: whether a span records, and whether it can inject a context.
async fn handler(e: LambdaEvent<Value>) -> Result<Value, Error> {
    let span = lambda_trace::current();
    let mut headers = http::HeaderMap::new();
    span.inject(&mut headers);
    Ok(json!({
        "echo": e.payload,
        "recording": span.is_recording(),
        "injected": headers.len(),
    }))
}

async fn invoke(layer: &TraceLayer, lambda_header: Option<&str>) -> Value {
    let mut svc = layer.layer(service_fn(handler));
    svc.ready()
        .await
        .unwrap()
        .call(event(lambda_header))
        .await
        .unwrap()
}

fn one_batch(exporter: &InMemoryExporter) -> SpanBatch {
    let mut batches = exporter.take();
    assert_eq!(batches.len(), 1);
    batches.remove(0)
}

#[tokio::test]
async fn sdk_disabled_is_a_pass_through() {
    let bare = {
        let mut svc = service_fn(handler);
        svc.ready().await.unwrap().call(event(None)).await.unwrap()
    };
    // Even under Active tracing (Lambda's header says sampled), nothing is recorded.
    let active = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    for value in ["true", "TRUE"] {
        let exporter = InMemoryExporter::default();
        let layer = TraceLayer::builder()
            .config(config(&[("OTEL_SDK_DISABLED", value)]))
            .exporter(exporter.clone())
            .build();
        for header in [None, Some(active)] {
            let response = invoke(&layer, header).await;
            assert_eq!(response, bare, "the response is the bare handler's");
            assert_eq!(response["recording"], false);
            assert_eq!(response["injected"], 0, "no span, nothing to propagate");
        }
        assert!(exporter.take().is_empty(), "nothing exported");
    }
    // Built from the configuration alone, the disabled layer has no exporter to speak of.
    let layer = TraceLayer::builder()
        .config(config(&[
            ("OTEL_SDK_DISABLED", "true"),
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000"),
        ]))
        .build();
    assert!(format!("{layer:?}").contains("NoopExporter"), "{layer:?}");
    assert_eq!(invoke(&layer, None).await, bare);
    // Any other value leaves tracing on.
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(config(&[("OTEL_SDK_DISABLED", "1")]))
        .exporter(exporter.clone())
        .build();
    assert_eq!(invoke(&layer, None).await["recording"], true);
    assert_eq!(exporter.take().len(), 1);
}

#[tokio::test]
async fn the_default_exporter_is_off_outside_lambda() {
    const RUNTIME_API: (&str, &str) = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    #[rustfmt::skip]
    let table: &[(Vars, &str, usize)] = &[
        // variables, the exporter, lines saying the default exporter is off
        (&[], "NoopExporter", 1),
        (&[RUNTIME_API], "DaemonExporter", 0),
        (&[RUNTIME_API, ("AWS_SAM_LOCAL", "true")], "NoopExporter", 1),
        (&[("AWS_SAM_LOCAL", "true"), ("AWS_XRAY_DAEMON_ADDRESS", "127.0.0.1:2000")], "DaemonExporter", 0),
        (&[("LAMBDA_TRACE_EXPORTER", "xray")], "DaemonExporter", 0),
        (&[("OTEL_TRACES_EXPORTER", "stdout")], "StdoutExporter", 0),
        (&[("LAMBDA_TRACE_EXPORTER", "none")], "NoopExporter", 0),
        (&[("LAMBDA_TRACE_EXPORTER", "zipkin")], "NoopExporter", 1),
    ];
    for &(vars, exporter, lines) in table {
        let logs = Logs::default();
        let layer = logs.during(|| TraceLayer::builder().config(config(vars)).build());
        let shown = format!("{layer:?}");
        assert!(shown.contains(exporter), "{vars:?}: {shown}");
        assert_eq!(
            logs.lines_containing("not running in Lambda"),
            lines,
            "{vars:?}: {:?}",
            logs.lines()
        );
    }
    // An exporter given to the builder is used wherever the process runs.
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(config(&[]))
        .exporter(exporter.clone())
        .build();
    invoke(&layer, None).await;
    assert_eq!(exporter.take().len(), 1);
}

#[tokio::test]
async fn span_limits_apply_to_every_span() {
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(config(&[
            ("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "3"),
            ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "5"),
            ("OTEL_SPAN_LINK_COUNT_LIMIT", "1"),
        ]))
        .exporter(exporter.clone())
        .build();
    let mut svc = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        let span = lambda_trace::current();
        let child = span.child("work");
        for i in 0..5 {
            let key = format!("k{i}");
            child.set_attribute((key.into(), AttributeValue::String("abcdefgh".into())));
        }
        // An existing key is still replaced past the count limit.
        let replaced: Attribute = ("k0".into(), AttributeValue::Int(7));
        child.set_attribute(replaced);
        for id in [
            "0af7651916cd43dd8448eb211c80319d",
            "0af7651916cd43dd8448eb211c80319e",
        ] {
            child.add_link(&TraceContext::new(
                id.parse().unwrap(),
                None,
                lambda_trace::Sampling::Sampled,
            ));
        }
        child.end();
        Ok::<_, Error>(json!("ok"))
    }));
    let response = svc.ready().await.unwrap().call(event(None)).await.unwrap();
    assert_eq!(response, "ok");
    let batch = one_batch(&exporter);
    let root = batch.root().unwrap();
    assert!(root.attributes.len() <= 3, "{:?}", root.attributes);
    let child = batch.spans.iter().find(|s| s.name == "work").unwrap();
    assert_eq!(child.attributes.len(), 3, "{:?}", child.attributes);
    assert_eq!(child.attribute("k0"), Some(&AttributeValue::Int(7)));
    assert_eq!(
        child.attribute("k1"),
        Some(&AttributeValue::String("abcde".into()))
    );
    assert_eq!(child.attribute("k3"), None, "past the count limit");
    assert_eq!(child.links.len(), 1);
}

#[cfg(feature = "tracing")]
#[tokio::test]
async fn the_event_limit_counts_what_it_drops() {
    use lambda_trace::bridge::TracingBridge;
    use tracing_subscriber::prelude::*;

    let _guard = tracing_subscriber::registry()
        .with(TracingBridge::new())
        .set_default();
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(config(&[("OTEL_SPAN_EVENT_COUNT_LIMIT", "2")]))
        .exporter(exporter.clone())
        .build();
    let mut svc = layer.layer(service_fn(|_: LambdaEvent<Value>| async {
        for i in 0..5 {
            tracing::info!(i, "step");
        }
        Ok::<_, Error>(json!("ok"))
    }));
    svc.ready().await.unwrap().call(event(None)).await.unwrap();
    let batch = one_batch(&exporter);
    let root = batch.root().unwrap();
    assert_eq!(root.events.len(), 2);
    assert_eq!(root.dropped_events, 3);
}

#[tokio::test]
async fn resource_attributes_reach_the_otlp_resource() {
    let exporter = InMemoryExporter::default();
    let layer = TraceLayer::builder()
        .config(config(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "orders-fn"),
            ("AWS_REGION", "eu-west-1"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from-attrs,deployment.environment=prod,team=a%2Cb,\
                 cloud.region=us-east-1,service.version=1.2.3",
            ),
        ]))
        .exporter(exporter.clone())
        .build();
    invoke(&layer, None).await;
    let batch = one_batch(&exporter);
    let line = StdoutExporter::encode(&batch);
    let otlp: Value = serde_json::from_str(&line).unwrap();
    let attributes = &otlp["resourceSpans"][0]["resource"]["attributes"];
    let get = |key: &str| -> Vec<&Value> {
        attributes
            .as_array()
            .unwrap()
            .iter()
            .filter(|kv| kv["key"] == key)
            .map(|kv| &kv["value"]["stringValue"])
            .collect()
    };
    assert_eq!(get("service.name"), ["from-attrs"], "{attributes}");
    assert_eq!(get("deployment.environment"), ["prod"]);
    assert_eq!(get("team"), ["a,b"], "percent-decoded");
    assert_eq!(get("service.version"), ["1.2.3"]);
    assert_eq!(
        get("cloud.region"),
        ["eu-west-1"],
        "the platform's value wins, once"
    );
    // OTEL_SERVICE_NAME wins over service.name of the attributes.
    let c = config(&[
        ("OTEL_SERVICE_NAME", "orders"),
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
    ]);
    assert_eq!(c.resource.service_name, "orders");
}
