//! Variant H of `make bench-alternatives`: the floor of any tracing that reaches the X-Ray daemon.
//! The bare handler, then one small segment document (name, ids, times; `serde_json` into a
//! reused buffer) sent with one `UdpSocket::send_to` to `AWS_XRAY_DAEMON_ADDRESS`, before the
//! handler returns. No spans, no layer, no annotations: what remains is the cost of the clock
//! reads, one serialization and one datagram.

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde::Serialize;

const HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

/// The segment document: the handler as a subsegment of the function's segment.
#[derive(Serialize)]
struct Subsegment<'a> {
    name: &'a str,
    id: &'a str,
    trace_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    start_time: f64,
    end_time: f64,
}

struct Floor {
    socket: UdpSocket,
    daemon: SocketAddr,
    name: String,
    buf: Mutex<Vec<u8>>,
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `Root` and `Parent` of the invocation's trace header: the runtime's, else the event's.
fn trace_header(event: &LambdaEvent<ApiGatewayProxyRequest>) -> Option<String> {
    event.context.xray_trace_id.clone().or_else(|| {
        event
            .payload
            .headers
            .get("x-amzn-trace-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    header
        .split(';')
        .find_map(|kv| kv.trim().strip_prefix(key)?.strip_prefix('='))
}

impl Floor {
    fn send(&self, header: &str, start_time: f64, end_time: f64) {
        let Some(trace_id) = field(header, "Root") else {
            return;
        };
        let id = format!("{:016x}", fastrand::u64(1..));
        let document = Subsegment {
            name: &self.name,
            id: &id,
            trace_id,
            parent_id: field(header, "Parent"),
            kind: "subsegment",
            start_time,
            end_time,
        };
        let mut buf = self.buf.lock().unwrap_or_else(PoisonError::into_inner);
        buf.truncate(HEADER.len());
        let sent = serde_json::to_writer(&mut *buf, &document)
            .map_err(std::io::Error::other)
            .and_then(|()| self.socket.send_to(&buf, self.daemon));
        if let Err(e) = sent {
            eprintln!("alt-floor: segment to {}: {e}", self.daemon);
        }
    }
}

async fn handler(
    floor: &Floor,
    event: LambdaEvent<ApiGatewayProxyRequest>,
) -> Result<ApiGatewayProxyResponse, Error> {
    let start_time = now();
    let header = trace_header(&event);
    let response = lambda_trace_bench::handler::bare(event).await;
    if let Some(header) = header {
        floor.send(&header, start_time, now());
    }
    response
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let daemon: SocketAddr = std::env::var("AWS_XRAY_DAEMON_ADDRESS")
        .unwrap_or_else(|_| "127.0.0.1:2000".to_owned())
        .parse()?;
    let socket = UdpSocket::bind(("127.0.0.1", 0))?;
    socket.set_nonblocking(true)?;
    let floor = Arc::new(Floor {
        socket,
        daemon,
        name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "handler".to_owned()),
        buf: Mutex::new(HEADER.to_vec()),
    });
    lambda_runtime::run(service_fn(move |event| {
        let floor = floor.clone();
        async move { handler(&floor, event).await }
    }))
    .await
}
