//! The TCP socket of an OTLP connection, in the runtime's reactor only while an export waits on
//! it.
//!
//! A socket in the reactor wakes the runtime's I/O thread for every event of its own: the
//! answer of an after-response export arrives while the runtime waits for the next invocation
//! (and the server's acknowledgements before it), each a wake-up of a thread that has nothing
//! to do with it. So the socket is read and written with plain non-blocking calls; only when one
//! would block while the export means to wait ([`Mode::Waiting`]) does it join the reactor, and
//! it leaves it when the connection rests between exports ([`Mode::Resting`]). An export whose
//! request goes out at once and whose previous answer is already in the socket never registers
//! it at all.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What a read or write that would block does, set by whoever drives the connection; each
/// [`Mode::set`] starts a new turn.
#[derive(Debug, Default)]
pub(super) struct Mode(AtomicU32);

impl Mode {
    /// Joins the reactor, so that the task polling is woken when the socket is ready.
    pub(super) const WAITING: u32 = 0;
    /// Answers `Pending` and registers nothing: the caller polls again anyway (with a waker that
    /// only notes wake-ups), and then, waiting, with [`Mode::WAITING`]. Once a read would
    /// have blocked, the others of the same turn answer `Pending` without asking the kernel.
    pub(super) const QUIET: u32 = 1;
    /// Leaves the reactor, and reads answer `Pending` without asking the kernel: nothing is to
    /// be woken, and nothing read, until the next export.
    pub(super) const RESTING: u32 = 2;

    /// The low bits hold the mode, the others count turns.
    const MODE_BITS: u32 = 0b11;

    pub(super) fn set(&self, mode: u32) {
        let turn = self.0.load(Ordering::Relaxed) & !Self::MODE_BITS;
        let next = turn.wrapping_add(Self::MODE_BITS + 1);
        self.0.store(next | mode, Ordering::Relaxed);
    }

    /// The mode, and the turn (an opaque number, different after each [`Mode::set`]).
    fn get(&self) -> (u32, u32) {
        let word = self.0.load(Ordering::Relaxed);
        (word & Self::MODE_BITS, word)
    }
}

/// A connected TCP socket; see the [module docs](self).
pub(super) struct Socket {
    state: State,
    mode: Arc<Mode>,
    /// The turn in which a quiet read would have blocked.
    read_blocked: Option<u32>,
}

enum State {
    /// Not in the reactor: non-blocking calls.
    Plain(std::net::TcpStream),
    /// In the reactor.
    Registered(TcpStream),
    /// Registering or leaving the reactor failed; every call fails.
    Gone,
}

impl Socket {
    /// `stream` (just connected, in the reactor: the TLS handshake waits on it), read and
    /// written as `mode` says from then on.
    pub(super) fn new(stream: TcpStream, mode: Arc<Mode>) -> Self {
        Self {
            state: State::Registered(stream),
            mode,
            read_blocked: None,
        }
    }

    /// Whether the reactor is to be left before the next call.
    fn leaves(&self) -> bool {
        matches!(self.state, State::Registered(_)) && self.mode.get().0 == Mode::RESTING
    }

    fn leave_reactor(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Registered(stream) => self.state = State::Plain(stream.into_std()?),
            other => self.state = other,
        }
        Ok(())
    }

    fn join_reactor(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Plain(stream) => self.state = State::Registered(TcpStream::from_std(stream)?),
            other => self.state = other,
        }
        Ok(())
    }

    /// Runs `call` on the plain socket; when it would block: `Pending` after joining the
    /// reactor (waiting: the caller then polls the registered socket), or `Pending` alone.
    fn plain<T>(
        &mut self,
        call: impl FnOnce(&mut std::net::TcpStream) -> io::Result<T>,
    ) -> Option<Poll<io::Result<T>>> {
        let State::Plain(stream) = &mut self.state else {
            return None;
        };
        match call(stream) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if self.mode.get().0 != Mode::WAITING {
                    return Some(Poll::Pending);
                }
                if let Err(e) = self.join_reactor() {
                    return Some(Poll::Ready(Err(e)));
                }
                None
            }
            other => Some(Poll::Ready(other)),
        }
    }

    /// The registered socket, after leaving the reactor if resting (then `None`: call again).
    fn registered(&mut self) -> Result<Option<Pin<&mut TcpStream>>, io::Error> {
        if self.leaves() {
            self.leave_reactor()?;
            return Ok(None);
        }
        match &mut self.state {
            State::Registered(stream) => Ok(Some(Pin::new(stream))),
            State::Plain(_) => Ok(None),
            State::Gone => Err(gone()),
        }
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "the socket left the reactor broken",
    )
}

/// At most this many state changes within one call (leave, then join, then the call).
const STEPS: usize = 3;

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let (mode, turn) = this.mode.get();
        if this.leaves()
            && let Err(e) = this.leave_reactor()
        {
            return Poll::Ready(Err(e));
        }
        if matches!(this.state, State::Plain(_))
            && (mode == Mode::RESTING || (mode == Mode::QUIET && this.read_blocked == Some(turn)))
        {
            return Poll::Pending;
        }
        for _ in 0..STEPS {
            let read = this.plain(|stream| stream.read(buf.initialize_unfilled()));
            match read {
                Some(Poll::Ready(Ok(n))) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Some(Poll::Ready(Err(e))) => return Poll::Ready(Err(e)),
                Some(Poll::Pending) => {
                    this.read_blocked = Some(turn);
                    return Poll::Pending;
                }
                None => {}
            }
            match this.registered() {
                Ok(Some(stream)) => return stream.poll_read(cx, buf),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Err(gone()))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        for _ in 0..STEPS {
            if let Some(done) = this.plain(|stream| stream.write(buf)) {
                return done;
            }
            match this.registered() {
                Ok(Some(stream)) => return stream.poll_write(cx, buf),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Err(gone()))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        for _ in 0..STEPS {
            if let Some(done) = this.plain(|stream| stream.write_vectored(bufs)) {
                return done;
            }
            match this.registered() {
                Ok(Some(stream)) => return stream.poll_write_vectored(cx, bufs),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Err(gone()))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // TCP has nothing buffered on this side of the kernel.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().state {
            State::Plain(stream) => Poll::Ready(stream.shutdown(Shutdown::Write)),
            State::Registered(stream) => Pin::new(stream).poll_shutdown(cx),
            State::Gone => Poll::Ready(Err(gone())),
        }
    }
}
