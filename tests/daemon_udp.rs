//! `DaemonExporter` against a real UDP socket standing in for the X-Ray daemon.

use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_trace::export::{DaemonExporter, Export, Exporter};
use lambda_trace::span::{MetadataEntry, Resource, RootPlacement, SpanBatch, SpanKind, SpanRecord};
use lambda_trace::{SpanId, TraceId};
use serde_json::{Value, json};

const HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";

fn daemon() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket
}

fn batch(children: u64, metadata_bytes: usize) -> SpanBatch {
    let start = 1_717_171_717_000_000_000;
    let mut spans = vec![SpanRecord::new(
        SpanId::from_u64(1).unwrap(),
        None,
        "orders-fn",
        SpanKind::Server,
        start,
    )];
    for i in 0..children {
        let mut s = SpanRecord::new(
            SpanId::from_u64(100 + i).unwrap(),
            SpanId::from_u64(1),
            format!("child {i}"),
            SpanKind::Internal,
            start + 1000,
        );
        s.end_unix_nanos = start + 2_000_000;
        if metadata_bytes > 0 {
            s.metadata.push(MetadataEntry {
                namespace: "default".into(),
                key: "data".into(),
                value: json!("d".repeat(metadata_bytes)),
            });
        }
        spans.push(s);
    }
    spans[0].end_unix_nanos = start + 5_000_000;
    SpanBatch::new(
        Arc::new(Resource::new("orders", "orders-fn", "1")),
        TraceId::generate(),
        RootPlacement::Segment,
        spans,
    )
}

fn export_ok(exporter: &DaemonExporter, batch: SpanBatch) {
    match exporter.export(batch) {
        Export::Done(result) => result.expect("export succeeds"),
        Export::Pending(_) => panic!("the daemon exporter finishes inside export()"),
    }
}

/// Reads one datagram: checks the header line and parses the document.
fn receive(socket: &UdpSocket) -> Value {
    let mut buf = vec![0u8; 65_536];
    let n = socket.recv(&mut buf).expect("a datagram arrives");
    let datagram = &buf[..n];
    assert!(n <= 65_507);
    assert!(
        datagram.starts_with(HEADER),
        "{:?}",
        String::from_utf8_lossy(&datagram[..n.min(60)])
    );
    serde_json::from_slice(&datagram[HEADER.len()..]).expect("the document is JSON")
}

#[test]
fn host_port_address() {
    let socket = daemon();
    let port = socket.local_addr().unwrap().port();
    let exporter = DaemonExporter::new(&format!("127.0.0.1:{port}")).unwrap();
    let b = batch(3, 0);
    let trace = b.trace_id.to_xray();
    export_ok(&exporter, b);
    let doc = receive(&socket);
    assert_eq!(doc["name"], "orders-fn");
    assert_eq!(doc["trace_id"], trace.as_str());
    assert_eq!(doc["subsegments"].as_array().unwrap().len(), 3);
}

#[test]
fn udp_tcp_address_in_either_order_and_host_names() {
    for form in [
        "udp:127.0.0.1:{port} tcp:127.0.0.1:2000",
        "tcp:127.0.0.1:2000 udp:127.0.0.1:{port}",
        "localhost:{port}",
    ] {
        let socket = daemon();
        let port = socket.local_addr().unwrap().port();
        let address = form.replace("{port}", &port.to_string());
        let exporter = DaemonExporter::new(&address).unwrap();
        assert_eq!(exporter.address().port(), port, "{address}");
        if !exporter.address().ip().is_ipv4() {
            continue; // `localhost` resolving to ::1 only: nothing listens there
        }
        export_ok(&exporter, batch(1, 0));
        assert_eq!(receive(&socket)["name"], "orders-fn", "{address}");
    }
}

#[test]
fn large_batches_arrive_as_several_datagrams() {
    let socket = daemon();
    let port = socket.local_addr().unwrap().port();
    let exporter = DaemonExporter::new(&format!("127.0.0.1:{port}")).unwrap();
    // 20 children × 5 kB of metadata: too large for one document.
    export_ok(&exporter, batch(20, 5_000));
    let docs: Vec<Value> = (0..21).map(|_| receive(&socket)).collect();
    assert!(docs[0].get("subsegments").is_none());
    assert!(
        docs[1..]
            .iter()
            .all(|d| d["type"] == "subsegment" && d["parent_id"] == "0000000000000001")
    );
    // The buffer is reused: a second, small export still works.
    export_ok(&exporter, batch(2, 0));
    assert_eq!(receive(&socket)["subsegments"].as_array().unwrap().len(), 2);
}

#[test]
fn unparseable_addresses_are_invalid_input() {
    for address in [
        "",
        "nonsense",
        "127.0.0.1",
        "tcp:127.0.0.1:2000",
        "127.0.0.1:http",
    ] {
        let err = DaemonExporter::new(address).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{address:?}");
    }
}

#[test]
fn nobody_listening_returns_promptly() {
    // Bind and drop a socket to find a port that is (very likely) closed.
    let port = daemon().local_addr().unwrap().port();
    let exporter = DaemonExporter::new(&format!("127.0.0.1:{port}")).unwrap();
    let started = Instant::now();
    for _ in 0..3 {
        // UDP may or may not report the closed port (ICMP); either answer is fine.
        let Export::Done(_result) = exporter.export(batch(3, 0)) else {
            panic!("the daemon exporter finishes inside export()");
        };
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}
