//! What one invocation of the benchmark handler costs in process, phase by phase, with warm or
//! cold caches: `cargo run --release -p lambda-trace-bench --example cold_phases -- 3000 cold`
//! (from the repository root; `warm` for back-to-back calls; a third argument, a variant's name,
//! runs that one alone, for a profiler: `valgrind --tool=callgrind --cache-sim=yes
//! --toggle-collect=cold_phases::call_now …` counts the timed part alone).
//!
//! Every iteration calls the bare handler and the traced one through `TraceLayer` with
//! different exporters, in a random order, each call timed alone; in `cold` mode a 64 MiB
//! buffer is read before each call, which evicts the caches (code and data) the way a
//! process that waits between invocations finds them. The medians over bare tell what each
//! phase adds:
//!
//! - `disabled`: the layer switched off (`TraceLayerBuilder::disabled`);
//! - `record, no children`: the invocation span alone (bare handler inside the layer), no export;
//! - `record, X-Ray only`: the benchmark's 3 child spans, only the X-Ray propagator, no export;
//! - `record`: the same with every propagator (the default), no export;
//! - `record + encode`: the segment document written into a buffer, not sent;
//! - `record + encode + send`: the daemon exporter, one datagram to a real UDP socket;
//! - `after-response, before the response`: the daemon exporter in the after-response flush
//!   mode, timed until the handler's response is ready (what the caller waits for); the
//!   deferred export runs after the timed part, through the mode's runtime layer.
//!
//! No network and no Runtime API: this is the part of `make bench`'s overhead that is
//! lambda-trace's own code, without the process around it.

use std::future::Future;
use std::net::UdpSocket;
use std::sync::Mutex;
use std::task::Poll;
use std::time::Instant;

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_runtime::LambdaInvocation;
use lambda_runtime::tower::util::BoxService;
use lambda_runtime::tower::{Layer, Service, ServiceExt};
use lambda_runtime::{Context, Error as BoxError, LambdaEvent, service_fn};
use lambda_trace::TraceLayer;
use lambda_trace::config::FlushMode;
use lambda_trace::export::{DaemonExporter, Export, Exporter, NoopExporter};
use lambda_trace::layer::AfterResponseService;
use lambda_trace::propagation::PropagatorKind;
use lambda_trace::span::SpanBatch;
use lambda_trace_bench::handler;

type Event = LambdaEvent<ApiGatewayProxyRequest>;
type Handler = BoxService<Event, ApiGatewayProxyResponse, BoxError>;
/// The after-response mode's runtime layer around a runtime that has posted its response: a
/// call runs the exports the traced handler deferred.
type Drain = AfterResponseService<BoxService<LambdaInvocation, (), BoxError>>;

/// Calls the handler and polls its future once: every variant finishes in that poll (the
/// handler never waits, and the exporters here never pend). One function, not inlined, so a
/// profiler can count this part alone (`--toggle-collect=cold_phases::call_now`).
#[inline(never)]
fn call_now(service: &mut Handler, event: Event) -> Result<ApiGatewayProxyResponse, BoxError> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(service.call(event)).poll(&mut cx) {
        Poll::Ready(response) => response,
        Poll::Pending => Err("the handler did not finish in one poll".into()),
    }
}

/// Runs the exports deferred by the after-response variant's last call.
async fn drain(drain: &mut Drain) -> Result<(), BoxError> {
    let (parts, _) = http::Response::new(()).into_parts();
    let posted = LambdaInvocation {
        parts,
        body: Default::default(),
        context: Context::default(),
    };
    drain.ready().await?.call(posted).await
}

/// Encodes the batch into a reused buffer and sends nothing.
#[derive(Debug, Default)]
struct EncodeOnly(Mutex<Vec<u8>>);

impl Exporter for EncodeOnly {
    fn export(&self, batch: SpanBatch) -> Export {
        let mut buf = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let encoded = lambda_trace::xray::encode_with(&batch, &mut buf, b"", |document| {
            std::hint::black_box(document);
            Ok::<(), std::convert::Infallible>(())
        });
        std::hint::black_box(encoded.is_ok());
        Export::Done(Ok(()))
    }
}

fn traced(layer: TraceLayer, children: bool) -> Handler {
    if children {
        BoxService::new(layer.layer(service_fn(handler::traced)))
    } else {
        BoxService::new(layer.layer(service_fn(handler::bare)))
    }
}

fn event(request: &ApiGatewayProxyRequest, i: usize) -> Event {
    let mut ctx = Context::default();
    ctx.request_id = format!("request-{i}");
    ctx.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench".into();
    ctx.xray_trace_id =
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
    LambdaEvent::new(request.clone(), ctx)
}

fn median_us(times: &mut [u64]) -> f64 {
    times.sort_unstable();
    times
        .get(times.len() / 2)
        .map_or(0.0, |&ns| ns as f64 / 1000.0)
}

fn main() -> Result<(), BoxError> {
    let mut args = std::env::args().skip(1);
    let iterations: usize = args.next().as_deref().unwrap_or("3000").parse()?;
    let cold = match args.next().as_deref() {
        None | Some("cold") => true,
        Some("warm") => false,
        Some(other) => return Err(format!("expected cold or warm, got {other:?}").into()),
    };
    // Optional: run only the variant with this name (for a profiler).
    let only = args.next();
    let daemon = UdpSocket::bind("127.0.0.1:0")?;
    daemon.set_nonblocking(true)?;
    let address = daemon.local_addr()?.to_string();
    let mut request: ApiGatewayProxyRequest =
        serde_json::from_str(&std::fs::read_to_string("events/apigw-v1-xray.json")?)?;
    request.body = Some(handler::SAMPLE_BODY.to_owned());

    let builder = || TraceLayer::builder().service_name("bench");
    let mut variants: Vec<(&str, Handler)> = vec![
        ("bare", BoxService::new(service_fn(handler::bare))),
        (
            "disabled",
            traced(
                builder().exporter(NoopExporter).disabled(true).build(),
                true,
            ),
        ),
        (
            "record, no children",
            traced(builder().exporter(NoopExporter).build(), false),
        ),
        (
            "record, X-Ray only",
            traced(
                builder()
                    .exporter(NoopExporter)
                    .propagators(&[PropagatorKind::Xray])
                    .build(),
                true,
            ),
        ),
        (
            "record",
            traced(builder().exporter(NoopExporter).build(), true),
        ),
        (
            "record + encode",
            traced(builder().exporter(EncodeOnly::default()).build(), true),
        ),
        (
            "record + encode + send",
            traced(
                builder().exporter(DaemonExporter::new(&address)?).build(),
                true,
            ),
        ),
    ];
    let after_response = builder()
        .exporter(DaemonExporter::new(&address)?)
        .flush_mode(FlushMode::AfterResponse)
        .build();
    let mut deferred: Drain =
        after_response
            .after_response_layer()
            .layer(BoxService::new(service_fn(|_: LambdaInvocation| async {
                Ok::<(), BoxError>(())
            })));
    variants.push((
        "after-response, before the response",
        traced(after_response, true),
    ));
    let after_response_variant = variants.len() - 1;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let evict: Vec<u8> = (0..64usize << 20).map(|i| i as u8).collect();
    let mut datagram = vec![0u8; 65_536];
    let mut times = vec![Vec::with_capacity(iterations); variants.len()];
    let mut order: Vec<usize> = (0..variants.len())
        .filter(|&v| only.as_deref().is_none_or(|name| name == variants[v].0))
        .collect();
    let mut rng = fastrand::Rng::with_seed(1);
    runtime.block_on(async {
        for i in 0..iterations {
            rng.shuffle(&mut order);
            for &v in &order {
                let event = event(&request, i);
                if cold {
                    // Read, not written: a profiler's cache model may not allocate on a write.
                    let sum = evict
                        .iter()
                        .step_by(64)
                        .fold(0u8, |a, &b| a.wrapping_add(b));
                    std::hint::black_box(sum);
                }
                let service = variants[v].1.ready().await?;
                let start = Instant::now();
                let response = call_now(service, event)?;
                times[v].push(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX));
                std::hint::black_box(response);
                if v == after_response_variant {
                    drain(&mut deferred).await?;
                }
                while daemon.recv_from(&mut datagram).is_ok() {}
            }
        }
        Ok::<(), BoxError>(())
    })?;
    std::hint::black_box(&evict);

    if only.is_some() {
        return Ok(());
    }
    let bare = median_us(&mut times[0]);
    println!(
        "{iterations} iterations, {} caches; median µs per call",
        if cold { "cold" } else { "warm" }
    );
    println!("{:<36} {bare:>8.1}", variants[0].0);
    for (v, (name, _)) in variants.iter().enumerate().skip(1) {
        let median = median_us(&mut times[v]);
        println!(
            "{name:<36} {median:>8.1}  (+{:.1} over bare)",
            median - bare
        );
    }
    Ok(())
}
