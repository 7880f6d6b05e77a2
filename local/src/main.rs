//! `lambda-trace-local`: run traced Lambda functions locally, as real processes behind an
//! API Gateway stand-in, and print their trace as a waterfall.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use lambda_trace_local::collector::{Collector, Source, Trace};
use lambda_trace_local::exporter::FunctionExporter;
use lambda_trace_local::gateway::GatewayConfig;
use lambda_trace_local::lambda::{LambdaFunction, TraceParent};
use lambda_trace_local::moto::Moto;
use lambda_trace_local::otlp::OtlpReceiver;
use lambda_trace_local::routes::{self, RouteArg};
use lambda_trace_local::stack::{self, FunctionSpec, Stack, StackOptions};
use lambda_trace_local::tracing_mode::{TracingMode, caller_trace_ids};
use lambda_trace_local::{
    FunctionProcess, Outcome, Output, RuntimeApi, XrayDaemon, client, html, waterfall,
};
use lambda_trace_local::{template, template::Template};

const USAGE: &str = "\
lambda-trace-local — API Gateway, Lambda Runtime API, X-Ray daemon and OTLP receiver stand-ins
on 127.0.0.1

USAGE:
  lambda-trace-local demo   [--bin-dir target/debug] [--count 3] [--html out/trace.html] [--port 0] [--moto <moto_server> [--orders 2]] [TRACING] [OTLP] [--verbose]
  lambda-trace-local invoke --bin <path> --event <file.json> [--name <function>] [--html <path>] [TRACING] [OTLP] [--verbose]
  lambda-trace-local serve  [--port 3000] [FUNCTIONS] [TRACING] [OTLP] [--verbose]
  FUNCTIONS: [--route 'METHOD /path/{param}=path/to/binary']... [--template template.yaml] [--bin-dir target/debug]
  TRACING: [--tracing active|passthrough]
  OTLP: [--exporter xray|otlp] [--otlp-tls] [--otlp-port N]

demo    starts the `router` and `downstream` functions, sends GET /ot-gen?count=N through the
        gateway, prints the response and the trace waterfall, writes the HTML page, then sends a
        second request to show ColdStart=false. With --moto (a moto_server executable, e.g.
        .venv/bin/moto_server; needs the `sqs` feature): then the asynchronous hop — `order`
        (POST /orders, --orders N times) sends each order to an SQS queue in moto_server, the
        stand-in's event source mapping delivers them to `fulfil` in a batch, and it prints each
        order's trace (with fulfil's span for its message in it) and the batch's trace (linked to
        the orders' traces).
invoke  runs one function binary (yours: any Lambda binary) and invokes it once with the event
        file; prints the response and the waterfall.
serve   puts functions behind the gateway and stays up, printing each trace as it completes
        (Ctrl-C to stop). Without --route or --template: the demo's router and downstream.
--route a route to your own function binary (repeatable; METHOD is GET, POST…, or ANY, and may
        be left out for ANY; path parameters in braces as API Gateway writes them: {id}, {proxy+}).
        One process per binary, named after its file name.
--template a SAM template: each AWS::Serverless::Function with Api/HttpApi events is started with
        its routes and plain Environment.Variables; its binary is Metadata.BuildProperties.Binary
        (cargo-lambda), CodeUri/Handler, or the logical id in kebab/snake case, in --bin-dir.
--tracing Active (default; or Globals.Function.Tracing of --template): API Gateway and Lambda
        record their segments and the function gets Lambda's `Root=…;Parent=…;Sampled=1`, so a
        caller's traceparent can only be a link. PassThrough: a request is traced only when its
        X-Amzn-Trace-Id says Sampled=1; otherwise nothing is recorded, the function gets
        `Root=…` alone, and the caller's traceparent (or b3) becomes the parent.
environment the functions inherit this process's environment; AWS_REGION and
        AWS_DEFAULT_REGION are kept (us-east-1 when neither is set); Lambda's own variables
        (AWS_LAMBDA_FUNCTION_NAME, memory size, log group, runtime API…) are set as Lambda does.
--exporter where the functions send their spans: `xray` (default), the X-Ray daemon stand-in
        (UDP); or `otlp`, the OTLP receiver (LAMBDA_TRACE_EXPORTER=otlp and
        OTEL_EXPORTER_OTLP_ENDPOINT=http(s)://127.0.0.1:<port>; the function binaries need
        lambda-trace's `otlp` feature: `make demo EXPORTER=otlp` builds them so).
--otlp-tls the OTLP receiver speaks HTTPS only, with a CA and certificate made at start; the CA
        is written to a PEM file given to the functions as OTEL_EXPORTER_OTLP_CERTIFICATE.
--otlp-port the OTLP receiver's port (default: a free one; for serve 4318, OTLP/HTTP's own
        port, where SDKs send by default, or a free one when 4318 is taken).
        The receiver always listens (POST /v1/traces; protobuf or JSON, gzip or not) and its
        address is printed first: point any OpenTelemetry SDK at it, and spans whose parents are
        the functions' spans join the same waterfall.
--verbose copies the functions' stdout/stderr to the terminal (they are captured otherwise and
        printed only on failure).
";

const QUIET: Duration = Duration::from_millis(150);
const TRACE_TIMEOUT: Duration = Duration::from_secs(5);
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long moto_server may take to answer (a cold Python start takes seconds).
#[cfg(feature = "sqs")]
const MOTO_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the demo waits for the event source mapping to deliver the orders.
#[cfg(feature = "sqs")]
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(20);

/// Parsed `--flag value` options.
struct Args {
    flags: Vec<(String, Option<String>)>,
}

impl Args {
    fn parse(args: &[String], with_value: &[&str], switches: &[&str]) -> Result<Args, String> {
        let mut flags = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let (name, inline) = match a.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (a.clone(), None),
            };
            if with_value.contains(&name.as_str()) {
                let v = match inline {
                    Some(v) => v,
                    None => it.next().cloned().ok_or(format!("{name} needs a value"))?,
                };
                flags.push((name, Some(v)));
            } else if switches.contains(&name.as_str()) {
                flags.push((name, None));
            } else {
                return Err(format!("unknown argument {a}"));
            }
        }
        Ok(Args { flags })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// Every value of a repeatable flag, in order.
    fn all(&self, name: &str) -> Vec<&str> {
        self.flags
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| v.as_deref())
            .collect()
    }

    fn has(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("{name}: not a number: {v}")),
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = argv.first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let rest = &argv[1..];
    let result = match command.as_str() {
        "demo" => match Args::parse(
            rest,
            &[
                "--bin-dir",
                "--count",
                "--html",
                "--port",
                "--moto",
                "--orders",
                "--exporter",
                "--otlp-port",
                "--tracing",
            ],
            &["--verbose", "--otlp-tls"],
        ) {
            Ok(a) => demo(a).await,
            Err(e) => usage_error(&e),
        },
        "invoke" => match Args::parse(
            rest,
            &[
                "--bin",
                "--event",
                "--name",
                "--html",
                "--exporter",
                "--otlp-port",
                "--tracing",
            ],
            &["--verbose", "--otlp-tls"],
        ) {
            Ok(a) => invoke(a).await,
            Err(e) => usage_error(&e),
        },
        "serve" => match Args::parse(
            rest,
            &[
                "--port",
                "--bin-dir",
                "--exporter",
                "--otlp-port",
                "--route",
                "--template",
                "--tracing",
            ],
            &["--verbose", "--otlp-tls"],
        ) {
            Ok(a) => serve(a).await,
            Err(e) => usage_error(&e),
        },
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => usage_error(&format!("unknown command {other}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lambda-trace-local: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(e: &str) -> Result<(), String> {
    eprint!("error: {e}\n\n{USAGE}");
    std::process::exit(2);
}

fn output_mode(args: &Args) -> Output {
    if args.has("--verbose") {
        Output::Tee
    } else {
        Output::Captured
    }
}

fn exporter(args: &Args) -> Result<FunctionExporter, String> {
    args.get("--exporter")
        .map_or(Ok(FunctionExporter::Xray), str::parse)
}

/// The header line of the stand-ins' addresses.
fn listening(
    gateway: Option<std::net::SocketAddr>,
    daemon: std::net::SocketAddr,
    otlp: &OtlpReceiver,
    exporter: FunctionExporter,
) -> String {
    let mut line = String::new();
    if let Some(gateway) = gateway {
        line.push_str(&format!("gateway on http://{gateway}  "));
    }
    line.push_str(&format!(
        "X-Ray daemon on udp://{daemon}  OTLP on {}  (functions export: {exporter})",
        otlp.traces_url()
    ));
    if let Some(ca) = otlp.ca_file() {
        line.push_str(&format!("\nOTLP CA certificate: {}", ca.display()));
    }
    line
}

/// A note when the functions were told to use OTLP but their spans came from the daemon (a
/// binary built without lambda-trace's `otlp` feature falls back to it).
fn exporter_note(trace: &Trace, exporter: FunctionExporter) -> Option<String> {
    let from = |source: Source| trace.nodes.iter().filter(|n| n.source == source).count();
    (exporter == FunctionExporter::Otlp && from(Source::Otlp) == 0 && from(Source::Daemon) > 0)
        .then(|| {
            "note: the functions sent to the X-Ray daemon, not over OTLP: were they built with \
             lambda-trace's `otlp` feature? (`make demo EXPORTER=otlp` builds them so)"
                .to_owned()
        })
}

fn print_trace(trace: &Trace) {
    print!(
        "{}",
        waterfall::render(trace, &waterfall::Options::for_stdout())
    );
}

fn write_html(path: &str, traces: &[Trace]) -> Result<(), String> {
    let path = PathBuf::from(path);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&path, html::render_many(traces))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The functions to start: `--template`'s and `--route`'s, or the demo's; and the tracing mode
/// (`--tracing`, else the template's, else Active).
fn functions(args: &Args) -> Result<(Vec<FunctionSpec>, TracingMode), String> {
    let bin_dir = PathBuf::from(args.get("--bin-dir").unwrap_or("target/debug"));
    let mut specs = Vec::new();
    let mut from_template = None;
    if let Some(path) = args.get("--template") {
        let Template {
            functions,
            tracing,
            notes,
        } = template::load(path.as_ref(), &bin_dir)?;
        for note in notes {
            println!("{path}: {note}");
        }
        specs.extend(functions);
        from_template = tracing;
    }
    let route_args: Vec<RouteArg> = args
        .all("--route")
        .into_iter()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    specs.extend(routes::functions(&route_args));
    if specs.is_empty() {
        if args.has("--template") {
            return Err("the template has no function with an Api or HttpApi event".into());
        }
        specs = stack::demo_functions(&bin_dir);
    }
    let tracing = match args.get("--tracing") {
        Some(t) => t.parse()?,
        None => from_template.unwrap_or_default(),
    };
    Ok((specs, tracing))
}

fn tracing(args: &Args) -> Result<TracingMode, String> {
    args.get("--tracing")
        .map_or(Ok(TracingMode::Active), str::parse)
}

async fn start_stack(
    args: &Args,
    specs: &[FunctionSpec],
    tracing: TracingMode,
    default_port: u16,
    default_otlp_port: u16,
) -> Result<Stack, String> {
    let port = args.number("--port", default_port)?;
    let options = StackOptions {
        output: output_mode(args),
        exporter: exporter(args)?,
        otlp_tls: args.has("--otlp-tls"),
        otlp_port: args.number("--otlp-port", default_otlp_port)?,
    };
    let missing: Vec<String> = specs
        .iter()
        .filter(|s| !s.binary.is_file())
        .map(|s| s.binary.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing function binaries: {}\nbuild them first (`make build`; or pass --bin-dir)",
            missing.join(", ")
        ));
    }
    let config = GatewayConfig {
        port,
        tracing,
        ..GatewayConfig::default()
    };
    let stack = match Stack::start_with(config.clone(), specs, options).await {
        // The default port is taken (another collector): any free port will do.
        Err(e)
            if e.kind() == std::io::ErrorKind::AddrInUse
                && options.otlp_port != 0
                && args.get("--otlp-port").is_none() =>
        {
            let options = StackOptions {
                otlp_port: 0,
                ..options
            };
            Stack::start_with(config, specs, options).await
        }
        other => other,
    }
    .map_err(|e| e.to_string())?;
    stack
        .wait_ready(READY_TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    Ok(stack)
}

/// Sends `GET /ot-gen?count=N` through the gateway; returns the trace id from the response.
async fn demo_request(
    stack: &Stack,
    count: u32,
) -> Result<(client::ClientResponse, String), String> {
    let response = client::send(
        stack.gateway.address(),
        Method::GET,
        &format!("/ot-gen?count={count}"),
        &[("user-agent", "lambda-trace-local demo")],
        "",
    )
    .await
    .map_err(|e| format!("request to the gateway failed: {e}"))?;
    let trace_id = response
        .headers
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .and_then(lambda_trace_local::gateway::parse_xray_header)
        .map(|(root, _)| root)
        .ok_or("the gateway answered without X-Amzn-Trace-Id")?;
    Ok((response, trace_id))
}

fn cold_starts(trace: &Trace) -> String {
    let mut parts = Vec::new();
    for node in &trace.nodes {
        if let Some(cold) = node.annotation("ColdStart") {
            let who = node
                .function
                .clone()
                .or_else(|| node.annotation("Service"))
                .unwrap_or_else(|| node.name.clone());
            parts.push(format!("{who} ColdStart={cold}"));
        }
    }
    if parts.is_empty() {
        "no ColdStart annotation found".into()
    } else {
        parts.join("  ")
    }
}

async fn demo(args: Args) -> Result<(), String> {
    let count: u32 = args.number("--count", 3)?;
    let html_path = args.get("--html").unwrap_or("out/trace.html").to_owned();
    // moto_server takes seconds to start: it boots while the first scenario runs.
    let mut moto = match args.get("--moto") {
        Some(bin) if cfg!(feature = "sqs") => {
            Some(Moto::spawn(bin.as_ref()).map_err(|e| e.to_string())?)
        }
        Some(_) => {
            return Err(
                "--moto needs a build with the `sqs` feature (`make demo` builds it so)".into(),
            );
        }
        None => None,
    };
    let specs = stack::demo_functions(args.get("--bin-dir").unwrap_or("target/debug").as_ref());
    let stack = start_stack(&args, &specs, tracing(&args)?, 0, 0).await?;
    println!(
        "{}",
        listening(
            Some(stack.gateway.address()),
            stack.daemon.address(),
            &stack.otlp,
            stack.exporter
        )
    );
    let (response, trace_id) = demo_request(&stack, count).await?;
    println!(
        "GET /ot-gen?count={count} → {}\n{}\n",
        response.status,
        response.text()
    );
    let trace = stack
        .wait_trace(&trace_id, QUIET, TRACE_TIMEOUT)
        .await
        .ok_or_else(|| {
            format!(
                "no document of trace {trace_id} arrived\n{}",
                stack.outputs()
            )
        })?;
    print_trace(&trace);
    if let Some(note) = exporter_note(&trace, stack.exporter) {
        println!("{note}");
    }
    if !stack::is_complete(&trace) {
        println!("(trace incomplete after {TRACE_TIMEOUT:?}: some function spans did not arrive)");
    }
    for rejected in stack.collector.rejected() {
        println!("rejected: {rejected}");
    }
    if !response.status.is_success() {
        eprintln!("{}", stack.outputs());
    }
    println!();
    let (second, trace_id2) = demo_request(&stack, count).await?;
    let trace2 = stack.wait_trace(&trace_id2, QUIET, TRACE_TIMEOUT).await;
    println!(
        "second request → {}  trace {trace_id2}  {}",
        second.status,
        trace2.as_ref().map(cold_starts).unwrap_or_default()
    );
    let mut pages = vec![trace];
    pages.extend(trace2);
    // The hop starts its own stack (on the same --port, if one was given).
    drop(stack);
    let hop = match moto.as_mut() {
        Some(moto) => order_scenario(&args, moto, &mut pages).await,
        None => {
            println!(
                "(the asynchronous hop order → SQS → fulfil runs with --moto <moto_server>, as \
                 `make demo` passes it)"
            );
            Ok(())
        }
    };
    write_html(&html_path, &pages)?;
    if !response.status.is_success() || !second.status.is_success() {
        return Err("the demo requests did not succeed".into());
    }
    hop
}

#[cfg(not(feature = "sqs"))]
async fn order_scenario(_: &Args, _: &mut Moto, _: &mut Vec<Trace>) -> Result<(), String> {
    Err("the asynchronous hop needs the `sqs` feature".into())
}

/// The asynchronous hop: `order` behind the gateway sends each order to a queue in moto, the
/// event source mapping hands them to `fulfil` in a batch; prints the orders' traces and the
/// batch's, and adds them to `pages`.
#[cfg(feature = "sqs")]
async fn order_scenario(
    args: &Args,
    moto: &mut Moto,
    pages: &mut Vec<Trace>,
) -> Result<(), String> {
    use lambda_trace_local::esm::{EsmSettings, EventSourceMapping};
    use lambda_trace_local::sqs;

    let orders: u32 = args.number("--orders", 2)?;
    println!("\n— the asynchronous hop: POST /orders → order → SQS → fulfil —");
    moto.ready(MOTO_TIMEOUT).await.map_err(|e| e.to_string())?;
    let region = lambda_trace_local::process::region(&|k| std::env::var(k).ok());
    let client = sqs::client(&moto.endpoint(), &region);
    // Six times the function timeout, as AWS advises for a queue a function consumes.
    let queue = sqs::create_queue(&client, "orders", 60).await?;
    let bin_dir = PathBuf::from(args.get("--bin-dir").unwrap_or("target/debug"));
    let specs = stack::order_functions(
        &bin_dir,
        &queue.url,
        &moto.endpoint(),
        sqs::LOCAL_CREDENTIALS,
    );
    let stack = start_stack(args, &specs, tracing(args)?, 0, 0).await?;
    let fulfil = stack.function("fulfil").ok_or("no fulfil function")?;
    // As template.yaml's FulfilFunction event: BatchSize 10, MaximumBatchingWindowInSeconds 1,
    // FunctionResponseTypes [ReportBatchItemFailures].
    let settings = EsmSettings {
        batch_size: 10,
        batching_window: Duration::from_secs(1),
        report_batch_item_failures: true,
    };
    let esm = EventSourceMapping::start(
        client,
        queue.clone(),
        fulfil,
        stack.collector.clone(),
        settings,
    );
    let mut deliveries = esm.subscribe();
    println!(
        "{}",
        listening(
            Some(stack.gateway.address()),
            stack.daemon.address(),
            &stack.otlp,
            stack.exporter
        )
    );
    println!(
        "SQS: moto_server on {}  queue {}\nevent source mapping → fulfil: batches of up to {}, \
         window {:?}, ReportBatchItemFailures",
        moto.endpoint(),
        queue.url,
        settings.batch_size,
        settings.batching_window
    );
    let mut order_traces = Vec::new();
    for i in 1..=orders {
        let order = serde_json::json!({
            "orderId": format!("o-{i}"),
            "customerId": "c-1",
            "items": [{"sku": format!("s-{i}"), "qty": i, "price": 9.5}],
        });
        let response = client::send(
            stack.gateway.address(),
            Method::POST,
            "/orders",
            &[
                ("content-type", "application/json"),
                ("user-agent", "lambda-trace-local demo"),
            ],
            order.to_string(),
        )
        .await
        .map_err(|e| format!("request to the gateway failed: {e}"))?;
        let trace_id = response
            .headers
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .and_then(lambda_trace_local::gateway::parse_xray_header)
            .map(|(root, _)| root)
            .ok_or("the gateway answered without X-Amzn-Trace-Id")?;
        println!(
            "POST /orders {} → {}  trace {trace_id}",
            order["orderId"].as_str().unwrap_or_default(),
            response.status
        );
        if !response.status.is_success() {
            eprintln!("{}\n{}", response.text(), stack.outputs());
            return Err("an order was not created".into());
        }
        order_traces.push(trace_id);
    }
    let mut delivered = Vec::new();
    let mut records = 0;
    let end = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
    while records < order_traces.len() {
        match tokio::time::timeout_at(end, deliveries.recv()).await {
            Ok(Ok(delivery)) => {
                records += delivery.records.len();
                delivered.push(delivery);
            }
            _ => {
                return Err(format!(
                    "the event source mapping delivered {records} of {} orders within \
                     {DELIVERY_TIMEOUT:?}{}\n{}",
                    order_traces.len(),
                    esm.last_error()
                        .map(|e| format!(" (last error: {e})"))
                        .unwrap_or_default(),
                    stack.outputs()
                ));
            }
        }
    }
    let mut failed = false;
    for delivery in &delivered {
        println!(
            "event source mapping → fulfil: a batch of {} records, invocation trace {}  \
             ({} deleted, {} failed{})",
            delivery.records.len(),
            delivery.trace_id,
            delivery.deleted,
            delivery.failed.len(),
            delivery
                .error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        failed |= !delivery.failed.is_empty() || delivery.error.is_some();
        for record in &delivery.records {
            let context = match (&record.aws_trace_header, &record.traceparent) {
                (Some(header), _) => format!("AWSTraceHeader {header}"),
                (None, Some(traceparent)) => format!(
                    "traceparent attribute {traceparent} (no AWSTraceHeader: moto_server does \
                     not turn the request's X-Amzn-Trace-Id into one)"
                ),
                (None, None) => "no trace context".to_owned(),
            };
            println!("  record {}: {context}", record.message_id);
        }
    }
    println!();
    let batch_traces: Vec<String> = delivered.iter().map(|d| d.trace_id.clone()).collect();
    for trace_id in order_traces.iter().chain(&batch_traces) {
        let Some(trace) = stack.wait_trace(trace_id, QUIET, TRACE_TIMEOUT).await else {
            return Err(format!(
                "no document of trace {trace_id} arrived\n{}",
                stack.outputs()
            ));
        };
        print_trace(&trace);
        if !stack::is_complete(&trace) {
            println!(
                "(trace incomplete after {TRACE_TIMEOUT:?}: some function spans did not arrive)"
            );
        }
        println!();
        pages.push(trace);
    }
    for rejected in stack.collector.rejected() {
        println!("rejected: {rejected}");
    }
    if failed {
        eprintln!("{}", stack.outputs());
        return Err("fulfil did not process every order".into());
    }
    Ok(())
}

async fn serve(args: Args) -> Result<(), String> {
    let (specs, tracing) = functions(&args)?;
    let stack = start_stack(&args, &specs, tracing, 3000, 4318).await?;
    let mut events = stack.gateway.subscribe();
    println!(
        "{}",
        listening(None, stack.daemon.address(), &stack.otlp, stack.exporter)
    );
    let routes: Vec<String> = specs
        .iter()
        .flat_map(|s| {
            s.routes
                .iter()
                .map(move |(m, p)| format!("{m} {p} → {}", s.name))
        })
        .collect();
    println!(
        "serving on http://{}  ({tracing} tracing; {}) — Ctrl-C to stop",
        stack.gateway.address(),
        routes.join(", ")
    );
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            event = events.recv() => {
                let event = match event {
                    Ok(e) => e,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => break,
                };
                // Print each trace once, when its entry request (not a nested call) is answered.
                if event.continued && event.caller_parent.is_some() {
                    continue;
                }
                println!("{} {} → {}", event.method, event.path, event.status);
                let mut ids = vec![event.trace_id.clone()];
                ids.extend(event.caller_trace_ids.iter().cloned());
                if let Some(trace) = stack.wait_any_trace(&ids, QUIET, TRACE_TIMEOUT).await {
                    print_trace(&trace);
                    println!();
                }
            }
        }
    }
    println!("stopping");
    Ok(())
}

async fn invoke(args: Args) -> Result<(), String> {
    let bin = PathBuf::from(args.get("--bin").ok_or("invoke needs --bin <path>")?);
    let event_path = args
        .get("--event")
        .ok_or("invoke needs --event <file.json>")?;
    if !bin.is_file() {
        return Err(format!(
            "function binary {} not found — run `make build` first",
            bin.display()
        ));
    }
    let event = std::fs::read(event_path).map_err(|e| format!("cannot read {event_path}: {e}"))?;
    let name = args
        .get("--name")
        .map(str::to_owned)
        .or_else(|| bin.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "local".into());

    let exporter = exporter(&args)?;
    let daemon = XrayDaemon::bind().map_err(|e| e.to_string())?;
    let collector = Arc::new(Collector::new());
    let otlp = OtlpReceiver::start(
        collector.clone(),
        args.number("--otlp-port", 0)?,
        args.has("--otlp-tls"),
    )
    .await
    .map_err(|e| e.to_string())?;
    println!("{}", listening(None, daemon.address(), &otlp, exporter));
    let api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let mut env = vec![
        ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), name.clone()),
        ("OTEL_SERVICE_NAME".to_owned(), name.clone()),
    ];
    env.extend(exporter.env(daemon.address(), &otlp));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let process = FunctionProcess::spawn_with(&bin, api.address(), &env_refs, output_mode(&args))
        .map_err(|e| e.to_string())?;
    if !api.wait_for_next_poll(READY_TIMEOUT).await {
        return Err(format!(
            "{name} did not poll /next within {READY_TIMEOUT:?}\n{}",
            process.output()
        ));
    }
    let tracing = tracing(&args)?;
    let function = LambdaFunction::new(name.clone(), api.clone()).with_tracing(tracing);
    let parent = match tracing {
        TracingMode::Active => TraceParent::new_trace(),
        TracingMode::PassThrough => TraceParent::unsampled(),
    };
    // Under PassThrough the function may continue a traceparent/b3 of the event's headers.
    let mut trace_ids = vec![parent.trace_id.clone()];
    trace_ids.extend(event_caller_trace_ids(&event));
    let traced = function.invoke_traced(event, &parent, &collector).await;
    let ok = match &traced.result.outcome {
        Outcome::Response(body) => {
            println!("response:\n{}\n", String::from_utf8_lossy(body));
            true
        }
        Outcome::Error { error_type, body } => {
            println!(
                "function error ({}):\n{}\n",
                error_type.as_deref().unwrap_or("no type"),
                String::from_utf8_lossy(body)
            );
            false
        }
        Outcome::TimedOut => {
            println!("the invocation timed out\n");
            false
        }
    };
    let trace = stack::wait_any_trace(&daemon, &collector, &trace_ids, QUIET, TRACE_TIMEOUT)
        .await
        .ok_or("no trace: the function sent no span")?;
    print_trace(&trace);
    if let Some(note) = exporter_note(&trace, exporter) {
        println!("{note}");
    }
    if let Some(path) = args.get("--html") {
        write_html(path, &[trace])?;
    }
    if !ok {
        eprintln!("{}", process.output());
        return Err("the invocation failed".into());
    }
    Ok(())
}

/// The trace ids of the `traceparent` / B3 headers in an HTTP event's `headers` or
/// `multiValueHeaders`.
fn event_caller_trace_ids(event: &[u8]) -> Vec<String> {
    let Ok(event) = serde_json::from_slice::<serde_json::Value>(event) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for key in ["headers", "multiValueHeaders"] {
        for (name, value) in event
            .get(key)
            .and_then(|h| h.as_object())
            .into_iter()
            .flatten()
        {
            let values = value
                .as_array()
                .map_or_else(|| vec![value], |a| a.iter().collect());
            pairs.extend(
                values
                    .into_iter()
                    .filter_map(|v| Some((name.as_str(), v.as_str()?))),
            );
        }
    }
    caller_trace_ids(pairs)
}
