//! A stand-in for the X-Ray daemon: a UDP socket on `127.0.0.1:<free port>` that parses what
//! arrives (`{"format": "json", "version": 1}\n{document}`).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The largest datagram the daemon accepts (X-Ray's limit is 64 KiB).
pub const MAX_DATAGRAM: usize = 65_536;

/// How often the async waits look for new datagrams.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// One received datagram.
#[derive(Debug, Clone, PartialEq)]
pub struct Datagram {
    /// When it was read from the socket.
    pub received_at: Instant,
    /// The parsed header line (`{"format": "json", "version": 1}`), `Null` if it didn't parse.
    pub header: Value,
    /// The parsed segment document, `Null` if it didn't parse.
    pub document: Value,
    /// The size of the datagram in bytes.
    pub raw_len: usize,
    /// Why the datagram didn't parse, if it didn't. Such datagrams are kept, never dropped.
    pub error: Option<String>,
    /// The raw text of the datagram (lossy UTF-8), for error reports.
    pub raw: String,
}

impl Datagram {
    /// Parses the bytes of one datagram. Never fails: problems end up in [`Datagram::error`].
    pub fn parse(bytes: &[u8], received_at: Instant) -> Datagram {
        let raw = String::from_utf8_lossy(bytes).into_owned();
        let mut datagram = Datagram {
            received_at,
            header: Value::Null,
            document: Value::Null,
            raw_len: bytes.len(),
            error: None,
            raw: raw.clone(),
        };
        let Some((header, body)) = raw.split_once('\n') else {
            datagram.error = Some("no header line (missing '\\n')".into());
            return datagram;
        };
        match serde_json::from_str::<Value>(header) {
            Ok(h) => {
                let ok = h.get("format").and_then(Value::as_str) == Some("json")
                    && h.get("version").and_then(Value::as_i64) == Some(1);
                if !ok {
                    datagram.error = Some(format!("unexpected header {h}"));
                }
                datagram.header = h;
            }
            Err(e) => datagram.error = Some(format!("header is not JSON: {e}")),
        }
        match serde_json::from_str::<Value>(body) {
            Ok(doc) if doc.is_object() => datagram.document = doc,
            Ok(other) => {
                datagram
                    .error
                    .get_or_insert_with(|| format!("document is not an object: {other}"));
            }
            Err(e) => {
                datagram
                    .error
                    .get_or_insert_with(|| format!("document is not JSON: {e}"));
            }
        }
        datagram
    }

    /// Whether the datagram parsed cleanly.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
    }

    /// The document's `trace_id`, if any.
    pub fn trace_id(&self) -> Option<&str> {
        self.document.get("trace_id").and_then(Value::as_str)
    }
}

/// A UDP "X-Ray daemon" bound to `127.0.0.1:<free port>`.
///
/// Reads are non-blocking and happen on demand ([`XrayDaemon::drain`]), straight from the socket,
/// so a hook can snapshot exactly what has arrived at a given moment. Every datagram read by
/// `drain` is also kept in a history ([`XrayDaemon::received`]); [`XrayDaemon::take`] reads
/// without keeping any.
#[derive(Debug)]
pub struct XrayDaemon {
    socket: UdpSocket,
    history: Mutex<Vec<Datagram>>,
}

impl XrayDaemon {
    /// Binds `127.0.0.1:0` (UDP).
    pub fn bind() -> io::Result<XrayDaemon> {
        let socket = UdpSocket::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
        socket.set_nonblocking(true)?;
        // Make room for bursts; ignore failures (the default is usually enough).
        Ok(XrayDaemon {
            socket,
            history: Mutex::new(Vec::new()),
        })
    }

    /// The daemon's address: use `127.0.0.1:port` as `AWS_XRAY_DAEMON_ADDRESS`.
    pub fn address(&self) -> SocketAddr {
        self.socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Reads every datagram queued on the socket right now, without waiting, and returns them
    /// (they are also appended to the history).
    pub fn drain(&self) -> Vec<Datagram> {
        let out = self.take();
        if !out.is_empty() {
            self.history
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(out.iter().cloned());
        }
        out
    }

    /// Reads every datagram queued on the socket right now, without waiting, and returns them
    /// **without** keeping them in the history, which [`XrayDaemon::drain`] grows by every
    /// datagram: for long runs (the soak test's 100,000 invocations) that stream what arrives.
    /// Datagrams taken here are not seen by [`XrayDaemon::received`] or [`XrayDaemon::settle`].
    pub fn take(&self) -> Vec<Datagram> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            match self.socket.recv_from(&mut buf) {
                Ok((n, _)) => out.push(Datagram::parse(&buf[..n], Instant::now())),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break, // WouldBlock, or a transient error: nothing more to read now.
            }
        }
        out
    }

    /// Drains the socket, then returns every datagram received since the daemon was bound.
    pub fn received(&self) -> Vec<Datagram> {
        self.drain();
        self.history
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until `pred` holds for the datagrams read during this call, or until `timeout`;
    /// returns those datagrams either way.
    pub async fn recv_until(
        &self,
        mut pred: impl FnMut(&[Datagram]) -> bool,
        timeout: Duration,
    ) -> Vec<Datagram> {
        let end = Instant::now() + timeout;
        let mut got = self.drain();
        while !pred(&got) && Instant::now() < end {
            tokio::time::sleep(POLL_INTERVAL).await;
            got.extend(self.drain());
        }
        got
    }

    /// Waits until `pred` holds for everything received so far (the whole history), then until
    /// no datagram arrived for `quiet`; gives up at `timeout`. Returns the whole history.
    pub async fn settle(
        &self,
        mut pred: impl FnMut(&[Datagram]) -> bool,
        quiet: Duration,
        timeout: Duration,
    ) -> Vec<Datagram> {
        let end = Instant::now() + timeout;
        let mut last_arrival = Instant::now();
        loop {
            if !self.drain().is_empty() {
                last_arrival = Instant::now();
            }
            let now = Instant::now();
            if now >= end {
                break;
            }
            let all = self
                .history
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if pred(&all) && now.duration_since(last_arrival) >= quiet {
                break;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        self.received()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "{\"format\": \"json\", \"version\": 1}\n";

    #[test]
    fn parses_header_and_document() {
        let d = Datagram::parse(
            format!("{HEADER}{{\"name\":\"x\",\"trace_id\":\"1-a-b\"}}").as_bytes(),
            Instant::now(),
        );
        assert!(d.is_ok(), "{:?}", d.error);
        assert_eq!(d.header["version"], 1);
        assert_eq!(d.trace_id(), Some("1-a-b"));
    }

    #[test]
    fn bad_datagrams_are_kept_with_an_error() {
        for raw in [
            "garbage",
            "{\"format\":\"json\",\"version\":1}\nnot json",
            "x\n{}",
        ] {
            let d = Datagram::parse(raw.as_bytes(), Instant::now());
            assert!(d.error.is_some(), "{raw}");
            assert_eq!(d.raw_len, raw.len());
        }
    }

    #[tokio::test]
    async fn drain_is_non_blocking_and_recv_until_waits() {
        let daemon = XrayDaemon::bind().unwrap();
        assert!(daemon.drain().is_empty());
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        sender
            .send_to(
                format!("{HEADER}{{\"id\":\"1\"}}").as_bytes(),
                daemon.address(),
            )
            .unwrap();
        let got = daemon
            .recv_until(|d| !d.is_empty(), Duration::from_secs(2))
            .await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].document["id"], "1");
        sender.send_to(b"broken", daemon.address()).unwrap();
        let got = daemon
            .settle(
                |all| all.len() == 2,
                Duration::from_millis(20),
                Duration::from_secs(2),
            )
            .await;
        assert_eq!(got.len(), 2);
        assert!(got[1].error.is_some());
    }

    #[test]
    fn take_keeps_no_history() {
        let daemon = XrayDaemon::bind().unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        for id in ["1", "2"] {
            let datagram = format!("{HEADER}{{\"id\":\"{id}\"}}");
            sender
                .send_to(datagram.as_bytes(), daemon.address())
                .unwrap();
        }
        // Loopback UDP is delivered on send; a short wait covers a busy machine.
        let end = Instant::now() + Duration::from_secs(2);
        let mut got = Vec::new();
        while got.len() < 2 && Instant::now() < end {
            got.extend(daemon.take());
            std::thread::sleep(Duration::from_millis(1));
        }
        let ids: Vec<_> = got.iter().map(|d| d.document["id"].clone()).collect();
        assert_eq!(ids, ["1", "2"]);
        assert!(daemon.received().is_empty(), "take() recorded a history");
    }
}
