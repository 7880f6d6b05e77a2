//! [`DaemonExporter`]: segment documents to the X-Ray daemon over UDP.
//!
//! Each document goes in one datagram, `{"format": "json", "version": 1}\n` + document, sent
//! from `export` itself (Lambda's "streaming threshold 0": nothing waits for a later flush).
//! Documents are encoded by [`xray::encode_with`](crate::xray::encode_with), which splits and
//! truncates so that each one fits.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::{Mutex, TryLockError};

use super::{Export, ExportError, Exporter};
use crate::config::Config;
#[cfg(doc)]
use crate::config::DEFAULT_DAEMON_ADDRESS;
use crate::span::SpanBatch;
use crate::xray::{DAEMON_HEADER, MAX_DOCUMENT_BYTES, encode_with};

/// Sends segment documents to the X-Ray daemon (what Lambda runs under Active tracing).
///
/// The socket is a non-blocking std `UdpSocket` connected to the daemon, so a send never
/// waits: a full socket buffer (`WouldBlock`) is reported as an error, not retried. One encode
/// buffer is kept and reused across invocations; when invocations run concurrently and it is
/// busy, the other invocation encodes into a buffer of its own instead of waiting.
///
/// ```no_run
/// use lambda_trace::export::DaemonExporter;
///
/// let exporter = DaemonExporter::new("udp:127.0.0.1:2000 tcp:127.0.0.1:2000")?;
/// assert_eq!(exporter.address().port(), 2000);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct DaemonExporter {
    socket: UdpSocket,
    address: SocketAddr,
    buf: Mutex<Vec<u8>>,
}

impl DaemonExporter {
    /// An exporter sending to `address`: `host:port`, or the daemon's two-protocol form
    /// `udp:host:port tcp:host:port` (either order; the UDP one is used). Host names are
    /// resolved once, here, preferring IPv4.
    ///
    /// Errors: [`io::ErrorKind::InvalidInput`] when the address cannot be parsed or resolved;
    /// the socket's error when it cannot be bound or connected.
    pub fn new(address: &str) -> io::Result<Self> {
        let target = parse_address(address)?;
        let local: SocketAddr = if target.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local)?;
        socket.set_nonblocking(true)?;
        socket.connect(target)?;
        Ok(Self {
            socket,
            address: target,
            buf: Mutex::new(Vec::with_capacity(DAEMON_HEADER.len() + 4096)),
        })
    }

    /// An exporter for the configured daemon address ([`Config::daemon_address`]:
    /// `AWS_XRAY_DAEMON_ADDRESS`, else [`DEFAULT_DAEMON_ADDRESS`], `127.0.0.1:2000`).
    pub fn from_config(config: &Config) -> io::Result<Self> {
        Self::new(&config.daemon_address)
    }

    /// [`from_config`](Self::from_config) with the configuration of the environment.
    pub fn from_env() -> io::Result<Self> {
        Self::from_config(&Config::from_env())
    }

    /// The daemon's resolved UDP address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn send(&self, batch: &SpanBatch, buf: &mut Vec<u8>) -> Result<(), ExportError> {
        encode_with(batch, buf, DAEMON_HEADER, |datagram| {
            self.socket.send(datagram).map(drop)
        })
        .map_err(ExportError::Io)
    }
}

impl fmt::Debug for DaemonExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DaemonExporter")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Exporter for DaemonExporter {
    fn export(&self, batch: SpanBatch) -> Export {
        let result = match self.buf.try_lock() {
            Ok(mut buf) => self.send(&batch, &mut buf),
            Err(TryLockError::Poisoned(poisoned)) => self.send(&batch, &mut poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => {
                let mut own = Vec::new();
                self.send(&batch, &mut own)
            }
        };
        Export::Done(result)
    }
}

/// Parses a daemon address (`host:port` or `udp:host:port tcp:host:port`) into the UDP socket
/// address to send to.
fn parse_address(address: &str) -> io::Result<SocketAddr> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "invalid X-Ray daemon address {address:?}: {why} \
                 (expected \"host:port\" or \"udp:host:port tcp:host:port\")"
            ),
        )
    };
    let mut udp = None;
    let mut plain = None;
    let mut count = 0;
    for part in address.split_whitespace() {
        count += 1;
        let lower = part.get(..4).map(str::to_ascii_lowercase);
        match lower.as_deref() {
            Some("udp:") => udp = Some(&part[4..]),
            Some("tcp:") => {}
            _ => plain = Some(part),
        }
    }
    let host_port = match (count, udp, plain) {
        (1, None, Some(p)) => p,
        (1 | 2, Some(u), None) => u,
        (0, ..) => return Err(invalid("empty")),
        (_, None, None) => return Err(invalid("no UDP address")),
        _ => return Err(invalid("unexpected parts")),
    };
    let (host, port) = host_port
        .rsplit_once(':')
        .ok_or_else(|| invalid("missing port"))?;
    if host.is_empty() {
        return Err(invalid("missing host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p != 0 => {}
        _ => return Err(invalid("bad port")),
    }
    let resolved: Vec<SocketAddr> = host_port
        .to_socket_addrs()
        .map_err(|e| invalid(&format!("cannot resolve: {e}")))?
        .collect();
    resolved
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| resolved.first())
        .copied()
        .ok_or_else(|| invalid("host resolves to no address"))
}

// A datagram never exceeds the largest UDP payload.
const _: () = assert!(DAEMON_HEADER.len() + MAX_DOCUMENT_BYTES <= 65_507);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms() {
        let v4: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        for a in [
            "127.0.0.1:2000",
            " 127.0.0.1:2000 ",
            "udp:127.0.0.1:2000 tcp:127.0.0.1:2001",
            "tcp:127.0.0.1:2001 udp:127.0.0.1:2000",
            "UDP:127.0.0.1:2000",
        ] {
            assert_eq!(parse_address(a).unwrap(), v4, "{a}");
        }
        assert_eq!(
            parse_address("[::1]:2000").unwrap(),
            "[::1]:2000".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(parse_address("localhost:2000").unwrap().port(), 2000);
    }

    #[rustfmt::skip]
    #[test]
    fn bad_addresses_are_invalid_input() {
        for a in [
            "", "   ", "127.0.0.1", "127.0.0.1:", "127.0.0.1:port", "127.0.0.1:0", "127.0.0.1:70000",
            ":2000", "tcp:127.0.0.1:2000", "a:1 b:2", "udp:1.2.3.4:1 udp:1.2.3.4:2 tcp:1.2.3.4:3",
            "127.0.0.1:2000 tcp:127.0.0.1:2000", "no such host.invalid:2000",
        ] {
            let e = parse_address(a).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{a:?}");
            assert!(e.to_string().contains("X-Ray daemon address"), "{e}");
        }
    }

    #[test]
    fn debug_shows_the_address_only() {
        let e = DaemonExporter::new("127.0.0.1:2000").unwrap();
        assert_eq!(
            format!("{e:?}"),
            "DaemonExporter { address: 127.0.0.1:2000, .. }"
        );
    }
}
