//! The whole local stand-in wired together: X-Ray daemon, OTLP receiver, collector, gateway and
//! one Runtime API + process per function. Used by the CLI (`demo`, `serve`, `invoke`) and by
//! tests.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::collector::{Collector, Source, Trace};
use crate::daemon::XrayDaemon;
use crate::exporter::FunctionExporter;
use crate::gateway::{Gateway, GatewayConfig, Route};
use crate::lambda::LambdaFunction;
use crate::otlp::OtlpReceiver;
use crate::process::{FunctionProcess, Output};
use crate::runtime_api::RuntimeApi;
use crate::tracing_mode::TracingMode;

/// A function of a [`Stack`]: which binary, which routes, which extra environment.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    /// Function name (`AWS_LAMBDA_FUNCTION_NAME`, `OTEL_SERVICE_NAME`).
    pub name: String,
    /// Path of the binary.
    pub binary: PathBuf,
    /// `(method or ANY, path)` routes to this function.
    pub routes: Vec<(String, String)>,
    /// Extra environment; `{gateway}` in values is replaced by the gateway's `127.0.0.1:port`.
    pub env: Vec<(String, String)>,
}

/// How a [`Stack`] starts, besides its gateway and functions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StackOptions {
    /// What happens to the functions' stdout and stderr.
    pub output: Output,
    /// Where the functions send their spans.
    pub exporter: FunctionExporter,
    /// Whether the OTLP receiver speaks TLS (a certificate made at start).
    pub otlp_tls: bool,
    /// The OTLP receiver's port on `127.0.0.1` (`0`: a free one).
    pub otlp_port: u16,
}

/// A running stand-in. Dropping it kills the function processes and stops the servers.
#[derive(Debug)]
pub struct Stack {
    /// The X-Ray daemon stand-in.
    pub daemon: XrayDaemon,
    /// The OTLP/HTTP receiver (always listening; the functions use it with
    /// [`FunctionExporter::Otlp`]).
    pub otlp: OtlpReceiver,
    /// Where the functions send their spans.
    pub exporter: FunctionExporter,
    /// Where all documents go.
    pub collector: Arc<Collector>,
    /// The API Gateway stand-in.
    pub gateway: Gateway,
    /// `(name, runtime API, process)` per function.
    pub functions: Vec<(String, RuntimeApi, FunctionProcess)>,
    /// How Lambda traces the functions' invocations (the gateway's mode).
    pub tracing: TracingMode,
}

impl Stack {
    /// Starts everything with the X-Ray daemon as the functions' exporter and a plain-HTTP OTLP
    /// receiver on a free port; see [`Stack::start_with`].
    pub async fn start(
        config: GatewayConfig,
        specs: &[FunctionSpec],
        output: Output,
    ) -> io::Result<Stack> {
        let options = StackOptions {
            output,
            ..StackOptions::default()
        };
        Stack::start_with(config, specs, options).await
    }

    /// Starts everything; function processes get the Lambda environment plus
    /// `AWS_LAMBDA_FUNCTION_NAME`, `OTEL_SERVICE_NAME`, the exporter's environment
    /// ([`FunctionExporter::env`]) and the spec's `env` (applied last).
    pub async fn start_with(
        config: GatewayConfig,
        specs: &[FunctionSpec],
        options: StackOptions,
    ) -> io::Result<Stack> {
        for spec in specs {
            if !spec.binary.is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "function binary {} not found (run `make build` first)",
                        spec.binary.display()
                    ),
                ));
            }
        }
        let daemon = XrayDaemon::bind()?;
        let collector = Arc::new(Collector::new());
        let otlp =
            OtlpReceiver::start(collector.clone(), options.otlp_port, options.otlp_tls).await?;
        let exporter_env = options.exporter.env(daemon.address(), &otlp);
        let mut routes = Vec::new();
        let mut apis = Vec::new();
        for spec in specs {
            let api = RuntimeApi::start().await?;
            let function =
                LambdaFunction::new(spec.name.clone(), api.clone()).with_tracing(config.tracing);
            for (method, path) in &spec.routes {
                routes.push(Route::new(method, path.clone(), function.clone()));
            }
            apis.push(api);
        }
        let tracing = config.tracing;
        let gateway = Gateway::start(config, routes, collector.clone()).await?;
        let gateway_addr = gateway.address().to_string();
        let mut functions = Vec::new();
        for (spec, api) in specs.iter().zip(apis) {
            let mut env: Vec<(String, String)> = vec![
                ("AWS_LAMBDA_FUNCTION_NAME".into(), spec.name.clone()),
                ("OTEL_SERVICE_NAME".into(), spec.name.clone()),
            ];
            env.extend(exporter_env.iter().cloned());
            env.extend(
                spec.env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.replace("{gateway}", &gateway_addr))),
            );
            let env_refs: Vec<(&str, &str)> =
                env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let process = FunctionProcess::spawn_with(
                &spec.binary,
                api.address(),
                &env_refs,
                options.output,
            )?;
            functions.push((spec.name.clone(), api, process));
        }
        Ok(Stack {
            daemon,
            otlp,
            exporter: options.exporter,
            collector,
            gateway,
            functions,
            tracing,
        })
    }

    /// The function `name` as Lambda invokes it (its Runtime API, the stack's tracing mode), for
    /// an event source: e.g. the event source mapping of a queue (`esm`, feature `sqs`).
    pub fn function(&self, name: &str) -> Option<LambdaFunction> {
        self.functions
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(n, api, _)| {
                LambdaFunction::new(n.clone(), api.clone()).with_tracing(self.tracing)
            })
    }

    /// Waits until every function polls `/next`. On failure, the error names the function and
    /// carries its captured output.
    pub async fn wait_ready(&self, timeout: Duration) -> io::Result<()> {
        for (name, api, process) in &self.functions {
            if !api.wait_for_next_poll(timeout).await {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "function {name} did not poll /next within {timeout:?}\n{}\ninit errors: {:?}",
                        process.output(),
                        api.init_errors()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Moves the datagrams queued at the daemon into the collector; returns how many.
    pub fn pump(&self) -> usize {
        let got = self.daemon.drain();
        self.collector.add_datagrams(&got);
        got.len()
    }

    /// Waits for trace `trace_id` to be complete — every node finished, and every emulated
    /// `AWS::Lambda::Function` segment has at least one child from the function — and then
    /// for `quiet` without new datagrams or OTLP spans; gives up at `timeout`. Returns the trace as it is.
    pub async fn wait_trace(
        &self,
        trace_id: &str,
        quiet: Duration,
        timeout: Duration,
    ) -> Option<Trace> {
        wait_trace(&self.daemon, &self.collector, trace_id, quiet, timeout).await
    }

    /// Waits for whichever of `trace_ids` gets documents first (see [`wait_any_trace`]).
    pub async fn wait_any_trace(
        &self,
        trace_ids: &[String],
        quiet: Duration,
        timeout: Duration,
    ) -> Option<Trace> {
        wait_any_trace(&self.daemon, &self.collector, trace_ids, quiet, timeout).await
    }

    /// Captured output of all functions, labelled.
    pub fn outputs(&self) -> String {
        self.functions
            .iter()
            .map(|(name, _, p)| format!("=== {name} ===\n{}\n", p.output()))
            .collect()
    }
}

/// Moves datagrams from `daemon` into `collector` until trace `trace_id` is complete (see
/// [`is_complete`]) and `quiet` passed without anything new in the collector (datagrams, OTLP
/// spans its receiver added, emulated segments), or until `timeout`. Returns the trace as it is
/// then.
pub async fn wait_trace(
    daemon: &XrayDaemon,
    collector: &Collector,
    trace_id: &str,
    quiet: Duration,
    timeout: Duration,
) -> Option<Trace> {
    let end = Instant::now() + timeout;
    let mut last = Instant::now();
    let mut revision = collector.revision();
    loop {
        let got = daemon.drain();
        collector.add_datagrams(&got);
        let now_revision = collector.revision();
        if now_revision != revision {
            revision = now_revision;
            last = Instant::now();
        }
        let trace = collector.trace(trace_id);
        let complete = trace.as_ref().is_some_and(is_complete);
        let now = Instant::now();
        if (complete && now.duration_since(last) >= quiet) || now >= end {
            return trace;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Like [`wait_trace`] for the first of `trace_ids` that has documents in the collector: under
/// PassThrough the function may continue the caller's trace (a `traceparent`) rather than the
/// gateway's, and which one is known only when its spans arrive.
pub async fn wait_any_trace(
    daemon: &XrayDaemon,
    collector: &Collector,
    trace_ids: &[String],
    quiet: Duration,
    timeout: Duration,
) -> Option<Trace> {
    let end = Instant::now() + timeout;
    loop {
        collector.add_datagrams(&daemon.drain());
        if let Some(id) = trace_ids.iter().find(|id| collector.trace(id).is_some()) {
            let left = end.saturating_duration_since(Instant::now());
            return wait_trace(daemon, collector, id, quiet, left).await;
        }
        if Instant::now() >= end {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Whether a trace looks complete: all nodes finished and each emulated
/// `AWS::Lambda::Function` segment has a child (the function's own spans arrived). Segments of
/// that origin a function wrote itself (a message's `process` span in the producer's trace)
/// need no child.
pub fn is_complete(trace: &Trace) -> bool {
    trace.is_finished()
        && trace
            .with_origin("AWS::Lambda::Function")
            .filter(|f| matches!(f.source, Source::Emulated(_)))
            .all(|f| trace.children(&f.id).next().is_some())
}

/// The demo's functions: `router` (`GET /ot-gen`, calling `DOWNSTREAM_URL`) and `downstream`
/// (`POST /downstream`), from `bin_dir`.
pub fn demo_functions(bin_dir: &Path) -> Vec<FunctionSpec> {
    let exe = |name: &str| bin_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    vec![
        FunctionSpec {
            name: "router".into(),
            binary: exe("router"),
            routes: vec![("GET".into(), "/ot-gen".into())],
            env: vec![(
                "DOWNSTREAM_URL".into(),
                "http://{gateway}/downstream".into(),
            )],
        },
        FunctionSpec {
            name: "downstream".into(),
            binary: exe("downstream"),
            routes: vec![("POST".into(), "/downstream".into())],
            env: vec![],
        },
    ]
}

/// The functions of the demo's asynchronous hop, from `bin_dir`: `order` (`POST /orders`) sends
/// each order to the SQS queue `queue_url` at `sqs_endpoint` (moto), and `fulfil` (no route:
/// the event source mapping of the queue invokes it). Both get the credentials `credentials`
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, and an empty `AWS_SESSION_TOKEN`: no
/// credential of this process's environment reaches the local endpoint).
pub fn order_functions(
    bin_dir: &Path,
    queue_url: &str,
    sqs_endpoint: &str,
    credentials: (&str, &str),
) -> Vec<FunctionSpec> {
    let exe = |name: &str| bin_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let aws = vec![
        ("AWS_ACCESS_KEY_ID".to_owned(), credentials.0.to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), credentials.1.to_owned()),
        ("AWS_SESSION_TOKEN".to_owned(), String::new()),
        ("AWS_ENDPOINT_URL_SQS".to_owned(), sqs_endpoint.to_owned()),
    ];
    let mut order_env = aws.clone();
    order_env.push(("ORDERS_QUEUE_URL".into(), queue_url.to_owned()));
    vec![
        FunctionSpec {
            name: "order".into(),
            binary: exe("order"),
            routes: vec![("POST".into(), "/orders".into())],
            env: order_env,
        },
        FunctionSpec {
            name: "fulfil".into(),
            binary: exe("fulfil"),
            routes: vec![],
            env: aws,
        },
    ]
}
