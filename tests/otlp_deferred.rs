//! The after-response mode's deferred answers, against a real receiver
//! (`support::otlp_receiver`): an export ends once its request is written out; the next export
//! reads the answer, reports a failure, and sends a request the backend asked to retry (or
//! that a closed connection lost) once more.

#![cfg(feature = "otlp")]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lambda_trace::context::{SpanId, TraceId};
use lambda_trace::export::{Export, Exporter, OtlpExporter};
use lambda_trace::span::{Resource, RootPlacement, SpanBatch, SpanKind, SpanRecord};

mod support;

use support::otlp_receiver::{Behaviour, OtlpReceiver, Received};

/// A batch of one span, exported as the after-response mode exports (or not).
fn batch(name: &'static str, after_response: bool) -> SpanBatch {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let span = SpanRecord::new(SpanId::generate(), None, name, SpanKind::Server, now);
    let mut batch = SpanBatch::new(
        Arc::new(Resource::new("orders", "orders", "$LATEST")),
        TraceId::generate(),
        RootPlacement::Segment,
        vec![span],
    );
    batch.deadline = Instant::now().checked_add(Duration::from_secs(5));
    batch.after_response = after_response;
    batch
}

async fn export(exporter: &OtlpExporter, batch: SpanBatch) -> Result<(), String> {
    match exporter.export(batch) {
        Export::Pending(f) => tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .expect("the export is bounded")
            .map_err(|e| e.to_string()),
        Export::Done(_) => panic!("an OTLP export is network I/O"),
    }
}

/// The names of the spans that arrived, request by request.
fn names(received: &[Received]) -> Vec<String> {
    received
        .iter()
        .map(|r| {
            r.request.resource_spans[0].scope_spans[0].spans[0]
                .name
                .clone()
        })
        .collect()
}

#[tokio::test]
async fn the_export_ends_when_written_and_the_next_one_reads_the_answer() {
    let receiver = OtlpReceiver::start(None, Behaviour::Serve, None).await;
    receiver.answer(&[(400, None)]);
    let exporter = OtlpExporter::new(&receiver.url).unwrap();
    // Written out: the export succeeds before any answer was read.
    assert_eq!(export(&exporter, batch("first", true)).await, Ok(()));
    assert_eq!(names(&receiver.wait_for(1).await), ["first"]);
    // The next export reads the 400 and says whose it was; its own request still goes out.
    let second = export(&exporter, batch("second", true)).await;
    assert_eq!(
        second,
        Err("export failed: the previous export: HTTP 400 Bad Request".to_string())
    );
    assert_eq!(names(&receiver.wait_for(2).await), ["first", "second"]);
    // An awaited export after a deferred one settles it first, then waits for its own answer.
    assert_eq!(export(&exporter, batch("third", false)).await, Ok(()));
    assert_eq!(names(&receiver.received()), ["first", "second", "third"]);
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
}

/// The previous answer waiting in the socket, the next deferred export reads it, writes its own
/// request and ends within one poll: hyper's hand-overs between the connection and the request
/// wake nobody and are not a return to the runtime (which would arm the export's timers, a
/// wake-up of the runtime's I/O thread each).
#[tokio::test]
async fn a_deferred_export_with_its_previous_answer_arrived_ends_in_one_poll() {
    let receiver = OtlpReceiver::start(None, Behaviour::Serve, None).await;
    let exporter = OtlpExporter::new(&receiver.url).unwrap();
    assert_eq!(export(&exporter, batch("first", true)).await, Ok(()));
    receiver.wait_for(1).await;
    // The answer reaches the socket, and the runtime's reactor sees it while this task sleeps.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let Export::Pending(mut second) = exporter.export(batch("second", true)) else {
        panic!("an OTLP export is network I/O");
    };
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(
        matches!(
            second.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Ok(()))
        ),
        "the export needed more than one poll"
    );
    assert_eq!(names(&receiver.wait_for(2).await), ["first", "second"]);
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
}

/// The connection's socket is in the runtime's reactor only while an export waits on it:
/// between exports the answer's arrival (or the server's close) wakes no thread. Read from the
/// kernel: the epoll instances of this process and the socket's file descriptor.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_socket_is_in_the_reactor_only_while_an_export_waits() {
    use std::task::{Context, Waker};

    // Waiting for an answer that never comes: registered.
    let hanging = OtlpReceiver::start(None, Behaviour::Hang, None).await;
    let exporter = OtlpExporter::new(&hanging.url).unwrap();
    let Export::Pending(mut waiting) = exporter.export(batch("waits", false)) else {
        panic!("an OTLP export is network I/O");
    };
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100 {
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        if kernel::socket_to(&hanging.url).is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(kernel::in_reactor(&hanging.url), Some(true), "waiting");
    drop(waiting);

    // After the response: written, then resting, out of the reactor; the answer's arrival and
    // the next export's reading of it do not bring it back.
    let receiver = OtlpReceiver::start(None, Behaviour::Serve, None).await;
    let exporter = OtlpExporter::new(&receiver.url).unwrap();
    assert_eq!(export(&exporter, batch("first", true)).await, Ok(()));
    assert_eq!(kernel::in_reactor(&receiver.url), Some(false), "resting");
    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(export(&exporter, batch("second", true)).await, Ok(()));
    assert_eq!(
        kernel::in_reactor(&receiver.url),
        Some(false),
        "resting again"
    );
    // An awaited export joins the reactor to wait, and leaves it once answered.
    assert_eq!(export(&exporter, batch("third", false)).await, Ok(()));
    assert_eq!(kernel::in_reactor(&receiver.url), Some(false), "answered");
    assert_eq!(names(&receiver.received()), ["first", "second", "third"]);
}

/// What the kernel says of this process's sockets and epoll instances (`/proc`).
#[cfg(target_os = "linux")]
mod kernel {
    use std::fs;

    /// The port of an `http://host:port/…` URL.
    fn port(url: &str) -> u16 {
        let authority = url.split('/').nth(2).unwrap();
        authority.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// The file descriptor of this process's TCP socket connected to `url`'s port.
    pub fn socket_to(url: &str) -> Option<u32> {
        let port = port(url);
        let table = fs::read_to_string("/proc/net/tcp").unwrap();
        let inode = table.lines().skip(1).find_map(|row| {
            let cols: Vec<&str> = row.split_whitespace().collect();
            let remote = u16::from_str_radix(cols[2].rsplit(':').next()?, 16).ok()?;
            (remote == port).then(|| cols[9].to_string())
        })?;
        let target = format!("socket:[{inode}]");
        fs::read_dir("/proc/self/fd").unwrap().find_map(|entry| {
            let entry = entry.ok()?;
            let link = fs::read_link(entry.path()).ok()?;
            (link.to_str()? == target).then(|| entry.file_name().to_str()?.parse().ok())?
        })
    }

    /// Whether the socket connected to `url` is in one of this process's epoll instances;
    /// `None` when there is no such socket.
    pub fn in_reactor(url: &str) -> Option<bool> {
        let fd = socket_to(url)?;
        let registered = fs::read_dir("/proc/self/fd").unwrap().any(|entry| {
            let Ok(entry) = entry else { return false };
            let is_epoll = fs::read_link(entry.path())
                .is_ok_and(|link| link.to_str() == Some("anon_inode:[eventpoll]"));
            let info = format!("/proc/self/fdinfo/{}", entry.file_name().to_string_lossy());
            is_epoll
                && fs::read_to_string(info).is_ok_and(|info| {
                    info.lines().any(|line| {
                        line.strip_prefix("tfd:")
                            .and_then(|rest| rest.split_whitespace().next())
                            .is_some_and(|n| n.parse() == Ok(fd))
                    })
                })
        });
        Some(registered)
    }
}

#[tokio::test]
async fn a_request_the_backend_asked_to_retry_is_sent_again_by_the_next_export() {
    let receiver = OtlpReceiver::start(None, Behaviour::Serve, None).await;
    receiver.answer(&[(503, Some("0"))]);
    let exporter = OtlpExporter::new(&receiver.url).unwrap();
    assert_eq!(export(&exporter, batch("first", true)).await, Ok(()));
    assert_eq!(export(&exporter, batch("second", true)).await, Ok(()));
    let received = receiver.wait_for(3).await;
    assert_eq!(names(&received), ["first", "first", "second"]);
    assert_eq!(
        received[0].request.resource_spans[0].scope_spans[0].spans[0].span_id,
        received[1].request.resource_spans[0].scope_spans[0].spans[0].span_id,
        "the same request, sent again"
    );
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_server_closed_after_answering_is_replaced() {
    let receiver = OtlpReceiver::start(None, Behaviour::OneRequestPerConnection, None).await;
    let exporter = OtlpExporter::new(&receiver.url).unwrap();
    for name in ["first", "second", "third"] {
        assert_eq!(export(&exporter, batch(name, true)).await, Ok(()));
    }
    let received = receiver.wait_for(3).await;
    assert_eq!(names(&received), ["first", "second", "third"]);
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_request_lost_with_its_connection_is_sent_once_more() {
    let receiver = OtlpReceiver::start(None, Behaviour::CloseWithoutAnswer, None).await;
    let exporter = OtlpExporter::new(&receiver.url).unwrap();
    assert_eq!(export(&exporter, batch("first", true)).await, Ok(()));
    // The next export finds the connection closed unanswered: "first" again (awaited, and lost
    // again: this receiver never answers), then "second", written out.
    let second = export(&exporter, batch("second", true)).await.unwrap_err();
    assert!(
        second.starts_with("export failed: the previous export: connection closed"),
        "{second}"
    );
    let received = receiver.wait_for(3).await;
    assert_eq!(names(&received), ["first", "first", "second"]);
    assert_eq!(receiver.connections.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn awaited_exports_wait_for_the_answer() {
    let receiver = OtlpReceiver::start(None, Behaviour::Serve, None).await;
    receiver.answer(&[(400, None)]);
    let exporter = OtlpExporter::new(&receiver.url).unwrap();
    assert_eq!(
        export(&exporter, batch("first", false)).await,
        Err("export failed: HTTP 400 Bad Request".to_string())
    );
    assert_eq!(export(&exporter, batch("second", false)).await, Ok(()));
    assert_eq!(names(&receiver.received()), ["first", "second"]);
}
