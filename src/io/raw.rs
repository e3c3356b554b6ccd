//! Linux raw sockets, batched.
//!
//! Probes leave through one `SOCK_RAW`/`IPPROTO_RAW` socket per family:
//! `AF_INET` and `AF_INET6`. On both, `IPPROTO_RAW` means "header
//! included" (the kernel sets `IPV6_HDRINCL` for it on an `AF_INET6`
//! socket; unlike IPv4 it then fills in nothing, not even the payload
//! length, so the probe builders write every field). The kernel routes the
//! packet and resolves the next hop (ARP or neighbour discovery) exactly
//! as for any other traffic, and `sendmmsg` moves a whole batch, or each
//! run of one family in a mixed batch, per syscall. Replies arrive on one
//! `AF_PACKET`/`SOCK_DGRAM` socket bound to every protocol (frames of
//! every kind from every interface, link header stripped) behind a
//! classic BPF filter that passes only IPv4 and IPv6 frames (the frame's
//! protocol and the header's version agreeing) carrying TCP and UDP to
//! our source-port range or destination-unreachable errors (ICMP and
//! ICMPv6), read from a `TPACKET_V3` ring shared with the kernel
//! (`super::ring`: one wakeup per block of replies, no copy syscall).
//! Outgoing packets are ignored (`PACKET_IGNORE_OUTGOING`), so our own
//! SYNs and the kernel's RSTs never reach user space.
//!
//! Both kinds of socket need CAP_NET_RAW to be opened and nothing after:
//! `try_clone` hands a scan duplicates of sockets opened earlier, before
//! the process gave its privileges up (`super::privilege`).
use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::ring::RxRing;
use super::{ProbeSink, Refusals, ReplySource, RxBatch, TxBatch, RX_SLOT};
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

/// Sends probes with `sendmmsg` on raw IPv4 and IPv6 sockets (or, for the
/// lab's hostile peer, whole IP packets exactly as given on a packet socket).
pub struct RawSender {
    fd: OwnedFd,
    /// The `AF_INET6` socket; `None` on a host without IPv6 (IPv6 probes
    /// then fail with an error naming the cause) and for link senders.
    fd6: Option<OwnedFd>,
    addrs: Vec<libc::sockaddr_in>,
    addrs6: Vec<libc::sockaddr_in6>,
    /// A link-layer sender's one destination (see [`RawSender::open_link`]).
    link: Option<Box<libc::sockaddr_ll>>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    refusals: Refusals,
}

// SAFETY: the raw pointers in `iovs`/`msgs` are rebuilt on every call from
// the batch being sent and never outlive it; nothing is shared.
unsafe impl Send for RawSender {}

/// A deep send buffer absorbs bursts; FORCE needs CAP_NET_ADMIN, so fall
/// back to the capped variant.
fn deep_send_buffer(fd: &OwnedFd) -> io::Result<()> {
    let size: libc::c_int = 8 << 20;
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, &size).is_err() {
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, &size)?;
    }
    Ok(())
}

fn bind_to_device(fd: &OwnedFd, name: &str) -> io::Result<()> {
    interface_index(name)?;
    let c = CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
    // SAFETY: pointer and length describe `c`'s bytes.
    check(unsafe { libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_BINDTODEVICE, c.as_ptr() as *const libc::c_void, c.as_bytes().len() as libc::socklen_t) }).map(|_| ())
}

impl RawSender {
    pub fn open(interface: Option<&str>, capacity: usize) -> io::Result<RawSender> {
        let fd = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)?;
        deep_send_buffer(&fd)?;
        // IPv6 may be disabled or absent: IPv4 scans must still run.
        let fd6 = match socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_RAW) {
            Ok(fd6) => Some(fd6),
            Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => None,
            Err(e) => return Err(e),
        };
        if let Some(fd6) = &fd6 {
            deep_send_buffer(fd6)?;
        }
        if let Some(name) = interface {
            bind_to_device(&fd, name)?;
            if let Some(fd6) = &fd6 {
                bind_to_device(fd6, name)?;
            }
        }
        Ok(RawSender::on(fd, fd6, None, capacity))
    }

    /// A sender of IP packets on `interface` to the link address `dst_mac`
    /// through a packet socket: the kernel adds the Ethernet header and
    /// changes nothing else, so lying lengths, bad checksums and fragments
    /// leave as written (the raw IP socket would fix lengths and checksums
    /// and refuse some). Receives nothing (protocol 0, never bound).
    pub fn open_link(interface: &str, dst_mac: [u8; 6], capacity: usize) -> io::Result<RawSender> {
        let fd = socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0)?;
        deep_send_buffer(&fd)?;
        // SAFETY: all-zero is a valid sockaddr_ll.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_IP as u16).to_be();
        sll.sll_ifindex = interface_index(interface)? as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&dst_mac);
        Ok(RawSender::on(fd, None, Some(Box::new(sll)), capacity))
    }

    fn on(fd: OwnedFd, fd6: Option<OwnedFd>, link: Option<Box<libc::sockaddr_ll>>, capacity: usize) -> RawSender {
        // SAFETY: all-zero is a valid value for these C structs.
        let zero_addr: libc::sockaddr_in = unsafe { zeroed() };
        let zero_addr6: libc::sockaddr_in6 = unsafe { zeroed() };
        let zero_iov = libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 };
        let zero_msg: libc::mmsghdr = unsafe { zeroed() };
        RawSender { fd, fd6, addrs: vec![zero_addr; capacity], addrs6: vec![zero_addr6; capacity], link, iovs: vec![zero_iov; capacity], msgs: vec![zero_msg; capacity], refusals: Refusals::default() }
    }

    /// Another sender on the same sockets (duplicated descriptors): opening
    /// a raw socket needs CAP_NET_RAW, duplicating one does not, so a
    /// process that gave up its privileges scans again on what it opened.
    pub fn try_clone(&self) -> io::Result<RawSender> {
        let fd6 = match &self.fd6 {
            Some(fd6) => Some(fd6.try_clone()?),
            None => None,
        };
        Ok(RawSender::on(self.fd.try_clone()?, fd6, self.link.clone(), self.msgs.len()))
    }

    /// Packets the kernel refused one by one (and `send` skipped).
    pub fn skipped(&self) -> u64 {
        self.refusals.count.iter().sum()
    }

    /// Sends `msgs[from..to]` on `fd`, retrying a full queue and skipping
    /// probes the kernel refuses one by one.
    fn send_run(&mut self, ipv6: bool, from: usize, to: usize) -> io::Result<()> {
        let fd = match (ipv6, &self.fd6) {
            (false, _) => self.fd.as_raw_fd(),
            (true, Some(fd6)) => fd6.as_raw_fd(),
            (true, None) => return Err(io::Error::new(io::ErrorKind::Unsupported, "IPv6 probes, but this host has no IPv6 (the AF_INET6 raw socket could not be opened)")),
        };
        let mut done = from;
        let mut stalled_since: Option<Instant> = None;
        while done < to {
            // SAFETY: msgs[done..to] point into the batch and our arrays,
            // alive for the duration of the call.
            let r = unsafe { libc::sendmmsg(fd, self.msgs[done..].as_mut_ptr(), (to - done) as libc::c_uint, 0) };
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
                // Counted by family ([`Refusals`]): the engine fails a scan
                // whose every probe of a family was refused.
                Some(errno @ (libc::EHOSTUNREACH | libc::ENETUNREACH | libc::EPERM | libc::EACCES | libc::EINVAL | libc::EADDRNOTAVAIL)) => {
                    done += 1;
                    self.refusals.count[ipv6 as usize] += 1;
                    self.refusals.last_errno[ipv6 as usize] = errno;
                }
                _ => return Err(err),
            }
        }
        Ok(())
    }
}

impl ProbeSink for RawSender {
    fn refusals(&self) -> Refusals {
        self.refusals
    }

    fn send(&mut self, batch: &TxBatch) -> io::Result<()> {
        let n = batch.len().min(self.msgs.len());
        for i in 0..n {
            let (bytes, dst) = batch.get(i);
            self.iovs[i] = libc::iovec { iov_base: bytes.as_ptr() as *mut libc::c_void, iov_len: bytes.len() };
            let h = &mut self.msgs[i].msg_hdr;
            match (&mut self.link, dst) {
                (Some(sll), _) => {
                    h.msg_name = &mut **sll as *mut libc::sockaddr_ll as *mut libc::c_void;
                    h.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
                }
                (None, IpAddr::V4(dst)) => {
                    self.addrs[i].sin_family = libc::AF_INET as libc::sa_family_t;
                    self.addrs[i].sin_addr.s_addr = u32::from(dst).to_be();
                    h.msg_name = &mut self.addrs[i] as *mut libc::sockaddr_in as *mut libc::c_void;
                    h.msg_namelen = size_of::<libc::sockaddr_in>() as libc::socklen_t;
                }
                (None, IpAddr::V6(dst)) => {
                    // sin6_port stays 0: on a raw socket it would name the
                    // protocol, and must be 0 or IPPROTO_RAW.
                    self.addrs6[i].sin6_family = libc::AF_INET6 as libc::sa_family_t;
                    self.addrs6[i].sin6_addr.s6_addr = dst.octets();
                    h.msg_name = &mut self.addrs6[i] as *mut libc::sockaddr_in6 as *mut libc::c_void;
                    h.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
                }
            }
            h.msg_iov = &mut self.iovs[i];
            h.msg_iovlen = 1;
        }
        // One sendmmsg per run of one family (a link sender has one socket).
        let mut from = 0;
        while from < n {
            let ipv6 = self.link.is_none() && batch.get(from).1.is_ipv6();
            let mut to = from + 1;
            while to < n && (self.link.is_some() || batch.get(to).1.is_ipv6() == ipv6) {
                to += 1;
            }
            self.send_run(ipv6, from, to)?;
            from = to;
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

/// Classic BPF: accept TCP and UDP to ports >= SPORT_BASE and
/// destination-unreachable errors (ICMP type 3, ICMPv6 type 1), of either
/// IP version, truncated to RX_SLOT bytes; drop the rest in the kernel
/// (ARP, neighbour discovery, router advertisements, our own traffic).
///
/// The socket is bound to every protocol, so the first test is the frame's
/// own: its protocol (`ld #proto`, the kernel's `skb->protocol`, which a
/// receiving veth or Ethernet driver takes from the EtherType) must be
/// ETH_P_IP with version 4 in the first byte, or ETH_P_IPV6 with version
/// 6. The version nibble alone would read an ARP packet, a VLAN tag the
/// kernel left in place (QinQ's inner one; 802.1Q is stripped first) or an
/// IPv4 header claiming version 6 as whichever family its first byte
/// names. Unicast IPv6 packets whose first next-header is an extension
/// header are accepted whole (rare; user space parses past the
/// extensions); multicast ones (MLD reports carry a hop-by-hop header)
/// are not. Packet offsets are relative to the IP header (SOCK_DGRAM).
pub fn reply_filter() -> Vec<libc::sock_filter> {
    const LD_ABS: u16 = 0x20;
    const LDB_ABS: u16 = 0x30;
    const LDH_ABS: u16 = 0x28;
    const LDX_MSH: u16 = 0xb1;
    const LDH_IND: u16 = 0x48;
    const LDB_IND: u16 = 0x50;
    const AND: u16 = 0x54;
    const JEQ: u16 = 0x15;
    const JGE: u16 = 0x35;
    const RET: u16 = 0x06;
    const FRAME_PROTOCOL: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_PROTOCOL) as u32;
    const ACCEPT: usize = 34;
    const DROP: usize = 35;
    // (code, jump-if-true target, jump-if-false target, k): targets are
    // absolute instruction numbers, turned into BPF's relative offsets below.
    let prog: [(u16, usize, usize, u32); 36] = [
        (LD_ABS, 0, 0, FRAME_PROTOCOL),     // 0: A = the frame's protocol (host order)
        (JEQ, 2, 5, libc::ETH_P_IP as u32), // 1: an IPv4 frame? -> 2 : 5
        (LDB_ABS, 0, 0, 0),                 // 2: A = version, IHL
        (AND, 0, 0, 0xf0),                  // 3: A = version << 4
        (JEQ, 9, DROP, 0x40),               // 4: version 4 too?
        (JEQ, 6, DROP, libc::ETH_P_IPV6 as u32), // 5: an IPv6 frame?
        (LDB_ABS, 0, 0, 0),                 // 6: A = version, traffic class
        (AND, 0, 0, 0xf0),                  // 7: A = version << 4
        (JEQ, 19, DROP, 0x60),              // 8: version 6 too?
        (LDB_ABS, 0, 0, 9),                 // 9: IPv4. A = protocol
        (JEQ, 12, 11, 6),                   // 10: tcp?
        (JEQ, 12, 15, 17),                  // 11: udp?
        (LDX_MSH, 0, 0, 0),                 // 12: X = header length
        (LDH_IND, 0, 0, 2),                 // 13: A = destination port
        (JGE, ACCEPT, DROP, SPORT_BASE as u32), // 14: ours?
        (JEQ, 16, DROP, 1),                 // 15: icmp?
        (LDX_MSH, 0, 0, 0),                 // 16: X = header length
        (LDB_IND, 0, 0, 0),                 // 17: A = icmp type
        (JEQ, ACCEPT, DROP, 3),             // 18: unreachable?
        (LDB_ABS, 0, 0, 6),                 // 19: IPv6. A = next header
        (JEQ, 22, 21, 6),                   // 20: tcp?
        (JEQ, 22, 24, 17),                  // 21: udp?
        (LDH_ABS, 0, 0, 42),                // 22: A = destination port
        (JGE, ACCEPT, DROP, SPORT_BASE as u32), // 23: ours?
        (JEQ, 25, 27, 58),                  // 24: icmpv6?
        (LDB_ABS, 0, 0, 40),                // 25: A = icmpv6 type
        (JEQ, ACCEPT, DROP, 1),             // 26: unreachable?
        (LDB_ABS, 0, 0, 24),                // 27: A = first byte of the destination
        (JEQ, DROP, 29, 0xff),              // 28: multicast (MLD reports)? drop
        (LDB_ABS, 0, 0, 6),                 // 29: A = next header
        (JEQ, ACCEPT, 31, 0),               // 30: hop-by-hop options
        (JEQ, ACCEPT, 32, 43),              // 31: routing
        (JEQ, ACCEPT, 33, 44),              // 32: fragment
        (JEQ, ACCEPT, DROP, 60),            // 33: destination options
        (RET, 0, 0, RX_SLOT as u32),        // 34: accept
        (RET, 0, 0, 0),                     // 35: drop
    ];
    // Classic BPF jumps only forward, by at most 255: a target that breaks
    // this is a mistake in the table above, caught by every test that
    // builds the filter.
    let relative = |at: usize, target: usize| -> u8 {
        target.checked_sub(at + 1).and_then(|offset| u8::try_from(offset).ok()).expect("reply filter: every jump goes forward by at most 255")
    };
    prog.iter()
        .enumerate()
        .map(|(at, &(code, jt, jf, k))| {
            let jumps = code == JEQ || code == JGE;
            libc::sock_filter { code, jt: if jumps { relative(at, jt) } else { 0 }, jf: if jumps { relative(at, jf) } else { 0 }, k }
        })
        .collect()
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
        // Every protocol: IPv4 and IPv6 alike (the filter picks).
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
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
    /// one is full or its timeout passed); false when none came. An error
    /// pending on the socket (`ENETDOWN` when the interface it is bound to
    /// goes down) is returned once the ring holds nothing more: poll
    /// reports it at once, so ignoring it would spin on empty batches.
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
        if self.ring.ready() {
            return Ok(true);
        }
        if pfd.revents & libc::POLLNVAL != 0 {
            return Err(io::Error::from_raw_os_error(libc::EBADF));
        }
        if pfd.revents & libc::POLLERR != 0 {
            return Err(self.take_error()?.unwrap_or_else(|| io::Error::other("packet socket: poll reported an error but SO_ERROR holds none")));
        }
        Ok(false)
    }

    /// The socket's pending error (`SO_ERROR`, which reading clears).
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        let mut err: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: an int and its length.
        check(unsafe { libc::getsockopt(self.fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_ERROR, &mut err as *mut libc::c_int as *mut libc::c_void, &mut len) })?;
        Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
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

/// The source address of each family a scan has targets of: the
/// `--source-ip` of that family, else the kernel's route to the family's
/// first target. `None` for a family without targets.
pub fn resolve_sources(explicit: &[IpAddr], first4: Option<Ipv4Addr>, first6: Option<Ipv6Addr>) -> io::Result<(Option<Ipv4Addr>, Option<Ipv6Addr>)> {
    let pick = |first: Option<IpAddr>, v6: bool| -> io::Result<Option<IpAddr>> {
        let Some(first) = first else { return Ok(None) };
        match explicit.iter().find(|a| a.is_ipv6() == v6) {
            Some(&a) => Ok(Some(a)),
            None => super::route::source_for(first).map(Some),
        }
    };
    let v4 = match pick(first4.map(IpAddr::V4), false)? {
        Some(IpAddr::V4(a)) => Some(a),
        _ => None,
    };
    let v6 = match pick(first6.map(IpAddr::V6), true)? {
        Some(IpAddr::V6(a)) => Some(a),
        _ => None,
    };
    Ok((v4, v6))
}
