//! Linux raw sockets, batched.
//!
//! Probes leave through an `AF_INET`/`SOCK_RAW`/`IPPROTO_RAW` socket: we write
//! the IP header, the kernel routes the packet and resolves the next hop
//! exactly as for any other traffic, and `sendmmsg` moves a whole batch per
//! syscall. Replies arrive on an `AF_PACKET`/`SOCK_DGRAM` socket (IP packets
//! of every interface, link header stripped) behind a classic BPF filter that
//! passes only TCP segments to our source-port range and ICMP
//! destination-unreachable errors, read from a `TPACKET_V3` ring shared with
//! the kernel (`super::ring`: one wakeup per block of replies, no copy
//! syscall). Outgoing packets are
//! ignored (`PACKET_IGNORE_OUTGOING`), so our own SYNs and the kernel's RSTs
//! never reach user space.
//!
//! Both kinds of socket need CAP_NET_RAW to be opened and nothing after:
//! `try_clone` hands a scan duplicates of sockets opened earlier, before
//! the process gave its privileges up (`super::privilege`).
use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ring::RxRing;
use super::{ProbeSink, ReplySource, RxBatch, TxBatch, RX_SLOT};
use crate::wire::SPORT_BASE;

/// Longest we keep retrying a full send queue before calling it an error.
const SEND_STALL_LIMIT: Duration = Duration::from_secs(2);
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

pub(super) fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live T of the size we pass.
    check(unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, value as *const T as *const libc::c_void, size_of::<T>() as libc::socklen_t) }).map(|_| ())
}

fn socket(domain: libc::c_int, ty: libc::c_int, proto: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; on success we own the new descriptor.
    let fd = check(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) })?;
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn interface_index(name: &str) -> io::Result<libc::c_uint> {
    let c = CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL byte"))?;
    // SAFETY: `c` is a valid C string.
    match unsafe { libc::if_nametoindex(c.as_ptr()) } {
        0 => Err(io::Error::new(io::ErrorKind::NotFound, format!("no interface named {name:?}"))),
        i => Ok(i),
    }
}

/// Sends probes with `sendmmsg` on a raw IPv4 socket (or, for the lab's
/// hostile peer, whole IP packets exactly as given on a packet socket).
pub struct RawSender {
    fd: OwnedFd,
    addrs: Vec<libc::sockaddr_in>,
    /// A link-layer sender's one destination (see [`RawSender::open_link`]).
    link: Option<Box<libc::sockaddr_ll>>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    skipped: u64,
}

// SAFETY: the raw pointers in `iovs`/`msgs` are rebuilt on every call from
// the batch being sent and never outlive it; nothing is shared.
unsafe impl Send for RawSender {}

impl RawSender {
    pub fn open(interface: Option<&str>, capacity: usize) -> io::Result<RawSender> {
        let fd = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)?;
        // A deep send buffer absorbs bursts; FORCE needs CAP_NET_ADMIN, so
        // fall back to the capped variant.
        let size: libc::c_int = 8 << 20;
        if setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &size).is_err() {
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &size)?;
        }
        if let Some(name) = interface {
            interface_index(name)?;
            let c = CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
            // SAFETY: pointer and length describe `c`'s bytes.
            check(unsafe { libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_BINDTODEVICE, c.as_ptr() as *const libc::c_void, c.as_bytes().len() as libc::socklen_t) })?;
        }
        Ok(RawSender::on(fd, None, capacity))
    }

    /// A sender of IP packets on `interface` to the link address `dst_mac`
    /// through a packet socket: the kernel adds the Ethernet header and
    /// changes nothing else, so lying lengths, bad checksums and fragments
    /// leave as written (the raw IP socket would fix lengths and checksums
    /// and refuse some). Receives nothing (protocol 0, never bound).
    pub fn open_link(interface: &str, dst_mac: [u8; 6], capacity: usize) -> io::Result<RawSender> {
        let fd = socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0)?;
        let size: libc::c_int = 8 << 20;
        if setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &size).is_err() {
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &size)?;
        }
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        sll.sll_ifindex = interface_index(interface)? as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&dst_mac);
        Ok(RawSender::on(fd, Some(Box::new(sll)), capacity))
    }

    fn on(fd: OwnedFd, link: Option<Box<libc::sockaddr_ll>>, capacity: usize) -> RawSender {
        // SAFETY: all-zero is a valid value for these C structs.
        let zero_addr: libc::sockaddr_in = unsafe { zeroed() };
        let zero_iov = libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 };
        let zero_msg: libc::mmsghdr = unsafe { zeroed() };
        RawSender { fd, addrs: vec![zero_addr; capacity], link, iovs: vec![zero_iov; capacity], msgs: vec![zero_msg; capacity], skipped: 0 }
    }

    /// Another sender on the same socket (a duplicated descriptor): opening
    /// a raw socket needs CAP_NET_RAW, duplicating one does not, so a
    /// process that gave up its privileges scans again on what it opened.
    pub fn try_clone(&self) -> io::Result<RawSender> {
        Ok(RawSender::on(self.fd.try_clone()?, self.link.clone(), self.msgs.len()))
    }

    /// Packets the kernel refused one by one (and `send` skipped).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

impl ProbeSink for RawSender {
    fn send(&mut self, batch: &TxBatch) -> io::Result<()> {
        let n = batch.len().min(self.msgs.len());
        for i in 0..n {
            let (bytes, dst) = batch.get(i);
            self.addrs[i].sin_family = libc::AF_INET as libc::sa_family_t;
            self.addrs[i].sin_addr.s_addr = u32::from(dst).to_be();
            self.iovs[i] = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
            let h = &mut self.msgs[i].msg_hdr;
            match &mut self.link {
                Some(sll) => {
                    h.msg_name = &mut **sll as *mut libc::sockaddr_ll as *mut libc::c_void;
                    h.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                }
                None => {
                    h.msg_name = &mut self.addrs[i] as *mut libc::sockaddr_in as *mut libc::c_void;
                    h.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
                }
            }
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
        }
        let mut done = 0;
        let mut stalled_since: Option<Instant> = None;
        while done < n {
            // SAFETY: msgs[done..n] point into `batch` and our arrays, alive
            // for the duration of the call.
            let r = unsafe { libc::sendmmsg(self.fd.as_raw_fd(), self.msgs[done..].as_mut_ptr(), (n - done) as libc::c_uint, 0) };
            if r > 0 {
                done += r as usize;
                stalled_since = None;
                continue;
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::ENOBUFS) | Some(libc::EAGAIN) | Some(libc::EINTR) => {
                    let since = *stalled_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > SEND_STALL_LIMIT {
                        return Err(err);
                    }
                    std::thread::sleep(Duration::from_micros(50));
                }
                // A probe the kernel refuses (no route, EPERM from a local
                // firewall) must not stall the others: skip it. It stays
                // unanswered and ends filtered, as nmap reports it.
                Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) | Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::EINVAL) if done < n => {
                    done += 1;
                    self.skipped += 1;
                }
                _ => return Err(err),
            }
        }
        Ok(())
    }
}

/// Receives IP packets on an `AF_PACKET` socket through its receive ring.
pub struct PacketReceiver {
    fd: OwnedFd,
    ring: Arc<RxRing>,
    dropped: u64,
}


/// Classic BPF: accept TCP and UDP to ports >= SPORT_BASE and ICMP type 3,
/// truncated to RX_SLOT bytes; drop the rest in the kernel. Offsets are
/// relative to the IP header (SOCK_DGRAM).
pub fn reply_filter() -> Vec<libc::sock_filter> {
    let ins = |code: u16, jt: u8, jf: u8, k: u32| libc::sock_filter { code, jt, jf, k };
    const LDB_ABS: u16 = 0x30;
    const LDX_MSH: u16 = 0xb1;
    const LDH_IND: u16 = 0x48;
    const LDB_IND: u16 = 0x50;
    const JEQ: u16 = 0x15;
    const JGE: u16 = 0x35;
    const RET: u16 = 0x06;
    vec![
        ins(LDB_ABS, 0, 0, 9),                  // 0: A = ip protocol
        ins(JEQ, 1, 0, 6),                      // 1: tcp? -> 3 : 2
        ins(JEQ, 0, 3, 17),                     // 2: udp? -> 3 : 6
        ins(LDX_MSH, 0, 0, 0),                  // 3: X = ip header length
        ins(LDH_IND, 0, 0, 2),                  // 4: A = destination port
        ins(JGE, 4, 5, SPORT_BASE as u32),      // 5: ours? -> 10 : 11
        ins(JEQ, 0, 4, 1),                      // 6: icmp? -> 7 : 11
        ins(LDX_MSH, 0, 0, 0),                  // 7: X = ip header length
        ins(LDB_IND, 0, 0, 0),                  // 8: A = icmp type
        ins(JEQ, 0, 1, 3),                      // 9: unreachable? -> 10 : 11
        ins(RET, 0, 0, RX_SLOT as u32),         // 10: accept
        ins(RET, 0, 0, 0),                      // 11: drop
    ]
}

/// How long `recv` waits for a block when none is ready.
const RECV_WAIT_MS: libc::c_int = 20;

/// Attaches (or replaces, atomically) the socket's classic BPF filter.
fn attach(fd: &OwnedFd, prog: &[libc::sock_filter]) -> io::Result<()> {
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut libc::sock_filter };
    setsockopt(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

impl PacketReceiver {
    pub fn open(interface: Option<&str>) -> io::Result<PacketReceiver> {
        // Protocol 0 receives nothing until bound: attach the filter and
        // the ring first so no unfiltered packet is ever queued.
        let fd = socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0)?;
        attach(&fd, &reply_filter())?;
        let one: libc::c_int = 1;
        // Older kernels lack it; then the BPF port check still drops our own
        // SYNs (their destination ports are the target's, below SPORT_BASE
        // for most) and validation drops the rest.
        let _ = setsockopt(&fd, libc::SOL_PACKET, PACKET_IGNORE_OUTGOING, &one);
        let ring = RxRing::attach(&fd)?;
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        sll.sll_ifindex = match interface {
            Some(name) => interface_index(name)? as i32,
            None => 0,
        };
        // SAFETY: pointer and length describe `sll`.
        check(unsafe { libc::bind(fd.as_raw_fd(), &sll as *const libc::sockaddr_ll as *const libc::sockaddr, size_of::<libc::sockaddr_ll>() as libc::socklen_t) })?;
        let mut r = PacketReceiver { fd, ring: Arc::new(ring), dropped: 0 };
        r.read_stats();
        Ok(r)
    }

    /// Another receiver on the same socket and ring (see
    /// [`RawSender::try_clone`]); its drop count starts at zero. Receivers
    /// of one socket take turns (one per scan): they share the ring's
    /// read position.
    pub fn try_clone(&self) -> io::Result<PacketReceiver> {
        Ok(PacketReceiver { fd: self.fd.try_clone()?, ring: self.ring.clone(), dropped: 0 })
    }

    /// Between scans of a long-running process (`audit --every`): queue
    /// nothing, so an idle socket counts no drops and its ring stays as
    /// it was (a filter that accepts nothing replaces the reply filter).
    pub fn pause(&self) -> io::Result<()> {
        attach(&self.fd, &[libc::sock_filter { code: 0x06, jt: 0, jf: 0, k: 0 }])
    }

    /// Before a scan: the reply filter again, the ring emptied of what
    /// arrived before (it answers no probe of this scan) and the kernel's
    /// drop counter zeroed. Bounded: one turn of the ring.
    pub fn resume(&mut self) -> io::Result<()> {
        attach(&self.fd, &reply_filter())?;
        self.ring.discard();
        self.read_stats();
        self.dropped = 0;
        Ok(())
    }

    /// Waits up to `ms` for the kernel to hand a block over (it does when
    /// one is full or its timeout passed); false when none came.
    fn wait(&self, ms: libc::c_int) -> io::Result<bool> {
        if self.ring.ready() {
            return Ok(true);
        }
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let err = io::Error::last_os_error();
            return if err.raw_os_error() == Some(libc::EINTR) { Ok(false) } else { Err(err) };
        }
        Ok(self.ring.ready())
    }

    /// Counts the frames that arrive, reading nothing of them, waiting up
    /// to `ms` for the first: the kernel's cost of receiving alone, for the
    /// send + receive floor (`portsweep lab floor --receive`).
    pub fn count(&self, ms: libc::c_int) -> io::Result<usize> {
        if !self.wait(ms)? {
            return Ok(0);
        }
        Ok(self.ring.read(usize::MAX, |_| {}))
    }

    /// Adds the kernel's drop counter (which resets on read) to ours.
    fn read_stats(&mut self) {
        // SAFETY: tpacket_stats is two u32s, the start of the kernel's
        // tpacket_stats_v3; it copies no more than len.
        let mut st: libc::tpacket_stats = unsafe { zeroed() };
        let mut len = size_of::<libc::tpacket_stats>() as libc::socklen_t;
        let r = unsafe { libc::getsockopt(self.fd.as_raw_fd(), libc::SOL_PACKET, libc::PACKET_STATISTICS, &mut st as *mut _ as *mut libc::c_void, &mut len) };
        if r == 0 {
            self.dropped += st.tp_drops as u64;
        }
    }
}

impl ReplySource for PacketReceiver {
    fn recv(&mut self, batch: &mut RxBatch) -> io::Result<()> {
        batch.set_len(0);
        if self.wait(RECV_WAIT_MS)? {
            let room = batch.capacity();
            // The filter keeps at most RX_SLOT bytes; `push` copies no more.
            self.ring.read(room, |frame| {
                batch.push(frame);
            });
        }
        Ok(())
    }

    fn dropped(&mut self) -> u64 {
        self.read_stats();
        self.dropped
    }
}

/// True when `err` means "this process may not open raw sockets".
pub fn is_permission_error(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

/// The source address `--source-ip` or the route to the first target gives.
pub fn resolve_source(explicit: Option<Ipv4Addr>, first_target: Ipv4Addr) -> io::Result<Ipv4Addr> {
    match explicit {
        Some(a) => Ok(a),
        None => super::route::source_for(first_target),
    }
}
