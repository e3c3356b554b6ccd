//! Raw I/O behind two small traits, so the engine runs the same over real
//! sockets (`raw`) and over a simulated network (`crate::lab::sim`) in tests
//! that need no privileges.
//!
//! Both directions move packets in preallocated batches: the hot path does
//! one syscall per batch and allocates nothing.
pub mod privilege;
pub mod raw;
pub mod ring;
pub mod route;

use std::io;
use std::net::{IpAddr, Ipv4Addr};

/// Largest probe a slot holds: the longest UDP probe, over IPv6 (the
/// IPv6 header is 20 bytes longer than IPv4's).
pub const TX_SLOT: usize = crate::wire::udp::HEADERS6_LEN + crate::wire::payload::MAX_PAYLOAD;
/// Bytes kept of each received packet: enough for IPv4 + ICMP + a quoted
/// IPv4 header with options + 8 bytes, IPv6 + ICMPv6 + a quoted IPv6
/// header + 8 bytes, or either IP header + TCP with options.
pub const RX_SLOT: usize = 256;

/// Probes ready to go, each with the address it is for. A batch may mix
/// families (a sink sends each run of one family on that family's
/// socket); the engine keeps one batch per family so that runs are long.
pub struct TxBatch {
    buf: Box<[[u8; TX_SLOT]]>,
    lens: Box<[u16]>,
    dsts: Box<[IpAddr]>,
    len: usize,
}

impl TxBatch {
    pub fn new(capacity: usize) -> TxBatch {
        TxBatch {
            buf: vec![[0u8; TX_SLOT]; capacity].into_boxed_slice(),
            lens: vec![0; capacity].into_boxed_slice(),
            dsts: vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED); capacity].into_boxed_slice(),
            len: 0,
        }
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends a probe for `dst` whose bytes `fill` writes into the slot and
    /// whose length it returns. The caller checks `is_full` first.
    #[inline]
    pub fn push_with(&mut self, dst: impl Into<IpAddr>, fill: impl FnOnce(&mut [u8; TX_SLOT]) -> usize) {
        let i = self.len;
        let n = fill(&mut self.buf[i]);
        self.lens[i] = n.min(TX_SLOT) as u16;
        self.dsts[i] = dst.into();
        self.len += 1;
    }

    /// Probe `i`: its bytes and its destination.
    pub fn get(&self, i: usize) -> (&[u8], IpAddr) {
        (&self.buf[i][..self.lens[i] as usize], self.dsts[i])
    }
}

/// Received packets, each starting at its IP header (IPv4 or IPv6).
pub struct RxBatch {
    buf: Box<[[u8; RX_SLOT]]>,
    lens: Box<[u16]>,
    len: usize,
}

impl RxBatch {
    pub fn new(capacity: usize) -> RxBatch {
        RxBatch { buf: vec![[0u8; RX_SLOT]; capacity].into_boxed_slice(), lens: vec![0; capacity].into_boxed_slice(), len: 0 }
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> &[u8] {
        &self.buf[i][..self.lens[i] as usize]
    }

    /// Slots and lengths for a receiver to fill; it then calls `set_len`.
    pub fn slots_mut(&mut self) -> (&mut [[u8; RX_SLOT]], &mut [u16]) {
        (&mut self.buf, &mut self.lens)
    }

    pub fn set_len(&mut self, n: usize) {
        self.len = n.min(self.buf.len());
    }

    /// Appends one packet (copies at most `RX_SLOT` bytes); false when full.
    pub fn push(&mut self, packet: &[u8]) -> bool {
        if self.len == self.buf.len() {
            return false;
        }
        let n = packet.len().min(RX_SLOT);
        self.buf[self.len][..n].copy_from_slice(&packet[..n]);
        self.lens[self.len] = n as u16;
        self.len += 1;
        true
    }
}

/// Probes a sink skipped because the kernel refused them one by one
/// (`EADDRNOTAVAIL`, `EINVAL`, `EPERM`, no route…), by family (0 = IPv4,
/// 1 = IPv6), with the last error number of each: the engine counts them
/// and fails a scan whose every probe of one family was refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refusals {
    pub count: [u64; 2],
    pub last_errno: [i32; 2],
}

/// Where probes go: the kernel (raw socket) or a simulation.
pub trait ProbeSink: Send {
    /// Sends every probe of the batch; retries on a full queue itself.
    fn send(&mut self, batch: &TxBatch) -> io::Result<()>;
    /// Probes refused so far (running totals).
    fn refusals(&self) -> Refusals {
        Refusals::default()
    }
}

/// Where replies come from.
pub trait ReplySource: Send {
    /// Fills `batch` with what has arrived, waiting a short, bounded time
    /// (tens of milliseconds) when nothing has; an empty batch is no error.
    fn recv(&mut self, batch: &mut RxBatch) -> io::Result<()>;
    /// Packets the kernel dropped because we did not read them in time.
    fn dropped(&mut self) -> u64 {
        0
    }
}
