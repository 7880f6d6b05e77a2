//! `moto_server` (PyPI `moto[server]`) as the demo's SQS: a real, independent implementation of
//! the SQS API that the functions' AWS SDK clients talk to, run as a child process on a free
//! loopback port.
//!
//! What it does not do: turn a `SendMessage` request's `X-Amzn-Trace-Id` header into the
//! message's `AWSTraceHeader` system attribute, as SQS does (moto keeps that attribute only when
//! the sender sets it explicitly, in `MessageSystemAttributes`). A message sent through it
//! carries its producer's context in the `traceparent` message attribute that lambda-trace's
//! interceptor adds.
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use lambda_trace_local::moto::Moto;
//! let mut moto = Moto::spawn(".venv/bin/moto_server".as_ref())?;
//! // … start other things meanwhile: moto takes a few seconds to answer.
//! moto.ready(std::time::Duration::from_secs(60)).await?;
//! println!("SQS endpoint: {}", moto.endpoint());
//! # Ok(()) }
//! ```

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use hyper::Method;
use tokio::process::{Child, Command};

use crate::client;

/// A `moto_server` child process; killed when this value is dropped.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    addr: SocketAddr,
}

impl Moto {
    /// Starts `bin` (a `moto_server` executable) on a free port of `127.0.0.1` and returns at
    /// once; [`Moto::ready`] waits until it answers.
    pub fn spawn(bin: &Path) -> io::Result<Moto> {
        if !bin.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} not found: `make venv` installs moto[server] into .venv",
                    bin.display()
                ),
            ));
        }
        // A port nobody listens on now (bound, then released for moto to take).
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &addr.port().to_string()])
            .stdin(Stdio::null())
            // It logs every request; nothing here reads it.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot start {}: {e}", bin.display()))
            })?;
        Ok(Moto { child, addr })
    }

    /// Waits until the server answers HTTP (`GET /moto-api/`), at most `timeout`; fails when the
    /// process exits first.
    pub async fn ready(&mut self, timeout: Duration) -> io::Result<()> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Err(io::Error::other(format!(
                    "moto_server exited before answering ({status}); run it by hand to see why: \
                     moto_server -H 127.0.0.1 -p {}",
                    self.addr.port()
                )));
            }
            let answer = tokio::time::timeout(
                Duration::from_secs(2),
                client::send(self.addr, Method::GET, "/moto-api/", &[], ""),
            )
            .await;
            if matches!(answer, Ok(Ok(_))) {
                return Ok(());
            }
            if Instant::now() >= end {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "moto_server did not answer on {} within {timeout:?}",
                        self.addr
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:<port>`: the endpoint for the SDK clients (`AWS_ENDPOINT_URL_SQS`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The server's address.
    pub fn address(&self) -> SocketAddr {
        self.addr
    }
}
