//! `lambda-trace-local`: run traced Lambda functions locally, as real processes behind an
//! API Gateway stand-in, and print their trace as a waterfall.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use lambda_trace_local::collector::{Collector, Trace};
use lambda_trace_local::gateway::GatewayConfig;
use lambda_trace_local::lambda::{LambdaFunction, TraceParent};
use lambda_trace_local::stack::{self, Stack};
use lambda_trace_local::{
    FunctionProcess, Outcome, Output, RuntimeApi, XrayDaemon, client, html, waterfall,
};

const USAGE: &str = "\
lambda-trace-local — API Gateway, Lambda Runtime API and X-Ray daemon stand-ins on 127.0.0.1

USAGE:
  lambda-trace-local demo   [--bin-dir target/debug] [--count 3] [--html out/trace.html] [--port 0] [--verbose]
  lambda-trace-local invoke --bin <path> --event <file.json> [--name <function>] [--html <path>] [--verbose]
  lambda-trace-local serve  [--port 3000] [--bin-dir target/debug] [--verbose]

demo    starts the `router` and `downstream` functions, sends GET /ot-gen?count=N through the
        gateway, prints the response and the trace waterfall, writes the HTML page, then sends a
        second request to show ColdStart=false.
invoke  runs one function binary and invokes it once with the event file, under emulated
        Active tracing; prints the response and the waterfall.
serve   like demo but stays up, printing each trace as it completes (Ctrl-C to stop).
--verbose copies the functions' stdout/stderr to the terminal (they are captured otherwise and
        printed only on failure).
";

const QUIET: Duration = Duration::from_millis(150);
const TRACE_TIMEOUT: Duration = Duration::from_secs(5);
const READY_TIMEOUT: Duration = Duration::from_secs(30);

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
            &["--bin-dir", "--count", "--html", "--port"],
            &["--verbose"],
        ) {
            Ok(a) => demo(a).await,
            Err(e) => usage_error(&e),
        },
        "invoke" => match Args::parse(
            rest,
            &["--bin", "--event", "--name", "--html"],
            &["--verbose"],
        ) {
            Ok(a) => invoke(a).await,
            Err(e) => usage_error(&e),
        },
        "serve" => match Args::parse(rest, &["--port", "--bin-dir"], &["--verbose"]) {
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

async fn start_demo_stack(args: &Args, default_port: u16) -> Result<Stack, String> {
    let bin_dir = PathBuf::from(args.get("--bin-dir").unwrap_or("target/debug"));
    let port = args.number("--port", default_port)?;
    let specs = stack::demo_functions(&bin_dir);
    let missing: Vec<String> = specs
        .iter()
        .filter(|s| !s.binary.is_file())
        .map(|s| s.binary.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing function binaries: {}\nrun `make build` first (or pass --bin-dir)",
            missing.join(", ")
        ));
    }
    let config = GatewayConfig {
        port,
        ..GatewayConfig::default()
    };
    let stack = Stack::start(config, &specs, output_mode(args))
        .await
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
    let stack = start_demo_stack(&args, 0).await?;
    println!(
        "gateway on http://{}  X-Ray daemon on udp://{}",
        stack.gateway.address(),
        stack.daemon.address()
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
    write_html(&html_path, &pages)?;
    if !response.status.is_success() || !second.status.is_success() {
        return Err("the demo requests did not succeed".into());
    }
    Ok(())
}

async fn serve(args: Args) -> Result<(), String> {
    let stack = start_demo_stack(&args, 3000).await?;
    let mut events = stack.gateway.subscribe();
    println!(
        "serving on http://{}  (GET /ot-gen?count=N, POST /downstream) — Ctrl-C to stop",
        stack.gateway.address()
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
                if let Some(trace) = stack.wait_trace(&event.trace_id, QUIET, TRACE_TIMEOUT).await {
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

    let daemon = XrayDaemon::bind().map_err(|e| e.to_string())?;
    let collector = Arc::new(Collector::new());
    let api = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let daemon_addr = daemon.address().to_string();
    let process = FunctionProcess::spawn_with(
        &bin,
        api.address(),
        &[
            ("AWS_LAMBDA_FUNCTION_NAME", &name),
            ("OTEL_SERVICE_NAME", &name),
            ("AWS_XRAY_DAEMON_ADDRESS", &daemon_addr),
        ],
        output_mode(&args),
    )
    .map_err(|e| e.to_string())?;
    if !api.wait_for_next_poll(READY_TIMEOUT).await {
        return Err(format!(
            "{name} did not poll /next within {READY_TIMEOUT:?}\n{}",
            process.output()
        ));
    }
    let function = LambdaFunction::new(name.clone(), api.clone());
    let parent = TraceParent::new_trace();
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
    let trace = stack::wait_trace(&daemon, &collector, &traced.trace_id, QUIET, TRACE_TIMEOUT)
        .await
        .ok_or("no trace")?;
    print_trace(&trace);
    if let Some(path) = args.get("--html") {
        write_html(path, &[trace])?;
    }
    if !ok {
        eprintln!("{}", process.output());
        return Err("the invocation failed".into());
    }
    Ok(())
}
