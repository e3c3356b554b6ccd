//! One bounded conversation with a port: every connect and read is held to
//! the port's deadlines and byte caps, and new connections go through the
//! stage's rate limit, so no server — silent, trickling or endless — can
//! cost more than the documented per-port bound.
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Settings;

/// New connections per second over the whole stage: a token bucket with no
/// burst, shared by the workers.
pub(crate) struct RateLimit {
    interval: Duration,
    next: Mutex<Instant>,
}

impl RateLimit {
    pub(crate) fn new(per_second: u32) -> RateLimit {
        RateLimit { interval: Duration::from_secs_f64(1.0 / per_second.max(1) as f64), next: Mutex::new(Instant::now()) }
    }

    /// Waits for this connection's slot.
    fn take(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + self.interval;
            slot
        };
        let now = Instant::now();
        if slot > now {
            std::thread::sleep(slot - now);
        }
    }
}

/// What is left of one port's allowance: time, connections, bytes per read.
pub(crate) struct Budget<'a> {
    pub settings: &'a Settings,
    deadline: Instant,
    connections_left: u8,
    rate: &'a RateLimit,
}

/// How a bounded read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The peer closed (or reset) the connection.
    Closed,
    /// The read deadline or the port's total deadline passed.
    Timeout,
    /// The byte cap was reached; the rest was never read.
    Cap,
    /// The caller had enough.
    Done,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(settings: &'a Settings, rate: &'a RateLimit) -> Budget<'a> {
        Budget { settings, deadline: Instant::now() + settings.total, connections_left: settings.max_connections, rate }
    }

    pub(crate) fn expired(&self) -> bool {
        Instant::now() >= self.deadline
    }

    pub(crate) fn can_connect(&self) -> bool {
        self.connections_left > 0 && !self.expired()
    }

    /// The timeout of the next read: the read deadline, cut to what is left
    /// of the total; `None` when nothing is left.
    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        let left = self.deadline.checked_duration_since(Instant::now())?;
        let t = self.settings.read.min(left);
        (t > Duration::from_millis(1)).then_some(t)
    }

    /// A TCP connection within the budget (one of `max_connections`).
    pub(crate) fn connect(&mut self, addr: SocketAddr) -> io::Result<TcpStream> {
        if !self.can_connect() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "port budget spent"));
        }
        self.connections_left -= 1;
        self.rate.take();
        // The rate limit may have slept: what is left is counted after it.
        let left = self.deadline.checked_duration_since(Instant::now()).filter(|l| *l > Duration::from_millis(1));
        let Some(left) = left else { return Err(io::Error::new(io::ErrorKind::TimedOut, "port budget spent")) };
        let s = TcpStream::connect_timeout(&addr, self.settings.connect.min(left))?;
        s.set_nodelay(true)?;
        s.set_write_timeout(Some(self.settings.read.min(left)))?;
        Ok(s)
    }

    /// Reads once, within the budget; `Ok(0)` at end of stream.
    pub(crate) fn read_some(&self, stream: &mut TcpStream, buf: &mut [u8]) -> Result<usize, End> {
        let Some(t) = self.read_timeout() else { return Err(End::Timeout) };
        stream.set_read_timeout(Some(t)).map_err(|_| End::Closed)?;
        match stream.read(buf) {
            Ok(n) => Ok(n),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => Err(End::Timeout),
            Err(_) => Err(End::Closed),
        }
    }

    /// Reads until the peer closes, the cap, a deadline, or `enough` says
    /// the bytes so far suffice.
    pub(crate) fn read_capped(&self, stream: &mut TcpStream, cap: usize, enough: impl Fn(&[u8]) -> bool) -> (Vec<u8>, End) {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if out.len() >= cap {
                out.truncate(cap);
                return (out, End::Cap);
            }
            let want = (cap - out.len()).min(buf.len());
            match self.read_some(stream, &mut buf[..want]) {
                Ok(0) => return (out, End::Closed),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(end) => return (out, end),
            }
            if enough(&out) {
                return (out, End::Done);
            }
        }
    }
}

/// Sends `bytes` and reads the answer (plain TCP), bounded like every read.
pub(crate) fn exchange(budget: &mut Budget, addr: SocketAddr, bytes: &[u8], cap: usize, enough: impl Fn(&[u8]) -> bool) -> io::Result<(Vec<u8>, End)> {
    let mut s = budget.connect(addr)?;
    s.write_all(bytes)?;
    Ok(budget.read_capped(&mut s, cap, enough))
}
