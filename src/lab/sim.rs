//! A simulated network that plays a scenario: the engine's sink and source
//! without sockets or privileges. Each probe is parsed as the kernel would
//! see it and answered by the scenario's ground truth (SYN-ACK, RST, ICMP
//! admin-prohibited, or silence), with the scenario's random loss in each
//! direction and forged strays mixed in, so engine tests check exact states,
//! retries and validation deterministically from a seed. UDP is played
//! too: responders (NTP-shaped on 123, echo elsewhere), ICMP port
//! unreachable for closed ports under the scenario's ICMP model, in real
//! time, with limiters that behave as Linux's do (per-destination tokens in
//! 4 ms jiffies; the global bucket refilled in 20 ms steps and spending a
//! random 0–2 credits per error; nftables meters accruing continuously),
//! so the engine's ICMP rounds meet real limiters of every shape. Replies pass the
//! scanner's receive filter on the way in, as on a real packet socket.
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use pnet_packet::tcp::TcpFlags;

use std::collections::HashMap;
use std::time::Instant;

use super::scenario::{Behaviour, IcmpModel, Oracle, Scenario};
use crate::io::{ProbeSink, ReplySource, RxBatch, TxBatch};
use crate::space::{HostSet, Protocol};
use crate::wire::SPORT_BASE;

/// splitmix64: a tiny deterministic generator for loss and forgeries.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// An IPv4 + TCP segment (no options) from `src:sport` to `dst:dport`.
pub fn tcp_packet(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, seq: u32, ack: u32, flags: u8) -> Vec<u8> {
    let mut b = vec![0u8; 40];
    ipv4_header(&mut b, src, dst, 6, 64);
    b[20..22].copy_from_slice(&sport.to_be_bytes());
    b[22..24].copy_from_slice(&dport.to_be_bytes());
    b[24..28].copy_from_slice(&seq.to_be_bytes());
    b[28..32].copy_from_slice(&ack.to_be_bytes());
    b[32] = 5 << 4;
    b[33] = flags;
    b[34..36].copy_from_slice(&64240u16.to_be_bytes());
    b
}

/// An IPv4 + UDP datagram (checksum 0: none) carrying `payload`.
pub fn udp_packet(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 28 + payload.len()];
    ipv4_header(&mut b, src, dst, 17, 64);
    b[20..22].copy_from_slice(&sport.to_be_bytes());
    b[22..24].copy_from_slice(&dport.to_be_bytes());
    b[24..26].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    b[28..].copy_from_slice(payload);
    b
}

/// Jiffies of a HZ=250 kernel since `t0` (4 ms ticks).
fn jiffies(t0: Instant) -> u64 {
    (t0.elapsed().as_micros() / 4000) as u64
}
const HZ: u64 = 250;

/// An nftables meter (`limit rate R/second burst 6 packets`): tokens
/// accrue continuously.
#[derive(Debug, Clone)]
struct Meter {
    tokens: f64,
    last: Instant,
    rate: f64,
}

impl Meter {
    fn new(rate: f64) -> Meter {
        Meter { tokens: 6.0, last: Instant::now(), rate }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(6.0);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Linux's per-destination limiter (`inet_peer_xrlim_allow`): tokens in
/// jiffies, one per tick, capped at 6 × the interval; an error costs one
/// interval.
#[derive(Debug, Clone)]
struct Xrlim {
    tokens: u64,
    last: u64,
    interval: u64,
}

impl Xrlim {
    fn new(interval_ms: u64, now: u64) -> Xrlim {
        let interval = interval_ms * HZ / 1000;
        Xrlim { tokens: 6 * interval, last: now, interval }
    }

    fn allow(&mut self, now: u64) -> bool {
        self.tokens = (self.tokens + now - self.last).min(6 * self.interval);
        self.last = now;
        if self.tokens >= self.interval {
            self.tokens -= self.interval;
            true
        } else {
            false
        }
    }
}

/// Linux's global limiter since 6.12 (`icmp_global_allow`/`_consume`, per
/// namespace): refilled only when empty and at least HZ/50 after the last
/// refill, by rate × elapsed up to the burst; each error then spends a
/// random 0–2 credits (so the credit may go below zero).
#[derive(Debug, Clone)]
struct GlobalLimit {
    credit: i64,
    stamp: u64,
    per_sec: i64,
    burst: i64,
}

impl GlobalLimit {
    fn new(now: u64) -> GlobalLimit {
        GlobalLimit { credit: 50, stamp: now, per_sec: 1000, burst: 50 }
    }

    fn allow(&mut self, now: u64) -> bool {
        if self.credit > 0 {
            return true;
        }
        let delta = (now - self.stamp).min(HZ);
        if delta < HZ / 50 {
            return false;
        }
        let incr = self.per_sec * delta as i64 / HZ as i64;
        if incr == 0 {
            return false;
        }
        self.stamp = now;
        self.credit = (self.credit + incr).min(self.burst);
        true
    }

    fn consume(&mut self, rng: &mut Rng) {
        self.credit -= (rng.next_u64() % 3) as i64;
    }
}

/// The limiters of one ICMP model (see `IcmpModel`).
#[derive(Debug)]
struct Limiters {
    model: IcmpModel,
    t0: Instant,
    meters: HashMap<Ipv4Addr, Meter>,
    shared_xrlim: Option<Xrlim>,
    global: Option<GlobalLimit>,
}

impl Limiters {
    fn new(model: IcmpModel) -> Limiters {
        let global = matches!(model, IcmpModel::Global | IcmpModel::PerNodeGlobal | IcmpModel::Kernel).then(|| GlobalLimit::new(0));
        let shared_xrlim = matches!(model, IcmpModel::Router | IcmpModel::Kernel).then(|| Xrlim::new(1000, 0));
        Limiters { model, t0: Instant::now(), meters: HashMap::new(), shared_xrlim, global }
    }

    /// May `host` send an ICMP error now? Spends what an allowed error spends.
    fn allow(&mut self, host: Ipv4Addr, rng: &mut Rng) -> bool {
        let now = jiffies(self.t0);
        // The kernel asks the global limiter first without spending,
        // then the per-destination one (the nftables meter comes before
        // both), then spends global credit.
        if let Some(rate) = self.model.per_node_rate() {
            if !self.meters.entry(host).or_insert_with(|| Meter::new(rate as f64)).take() {
                return false;
            }
        }
        if let Some(g) = &mut self.global {
            if !g.allow(now) {
                return false;
            }
        }
        if let Some(x) = &mut self.shared_xrlim {
            if !x.allow(now) {
                return false;
            }
        }
        if let Some(g) = &mut self.global {
            g.consume(rng);
        }
        true
    }
}

/// An ICMP destination-unreachable from `src` quoting `probe` (IP header + 8 bytes).
pub fn icmp_unreachable(src: Ipv4Addr, dst: Ipv4Addr, code: u8, probe: &[u8]) -> Vec<u8> {
    let quote = &probe[..probe.len().min(28)];
    let mut b = vec![0u8; 28 + quote.len()];
    ipv4_header(&mut b, src, dst, 1, 64);
    b[20] = 3;
    b[21] = code;
    b[28..].copy_from_slice(quote);
    b
}

fn ipv4_header(b: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, proto: u8, ttl: u8) {
    let len = b.len() as u16;
    b[0] = 0x45;
    b[2..4].copy_from_slice(&len.to_be_bytes());
    b[8] = ttl;
    b[9] = proto;
    b[12..16].copy_from_slice(&src.octets());
    b[16..20].copy_from_slice(&dst.octets());
}

/// Forged replies a scanner must reject: SYN-ACKs and RSTs with random
/// acknowledgement numbers to random ports of our range, NTP replies whose
/// origin timestamp is not our cookie, and ICMP errors quoting TCP and UDP
/// probes we never sent, all from lab addresses to the scanner.
pub fn forge_strays(hosts: &HostSet, scanner: Ipv4Addr, count: u32, rng: &mut Rng) -> Vec<Vec<u8>> {
    (0..count)
        .map(|_| {
            // Strays are IPv4 (the simulated network is): an IPv6 host
            // stands in as the first lab address.
            let src = match hosts.addr(rng.next_u64() % hosts.len().max(1)) {
                std::net::IpAddr::V4(a) => a,
                std::net::IpAddr::V6(_) => Ipv4Addr::new(198, 19, 0, 1),
            };
            let r = rng.next_u64();
            let sport = (r % 65535) as u16 + 1;
            let dport = SPORT_BASE + ((r >> 16) % (65536 - SPORT_BASE as u64)) as u16;
            let (seq, ack) = ((r >> 32) as u32, rng.next_u64() as u32);
            match r % 5 {
                0 => tcp_packet(src, scanner, sport, dport, seq, ack, TcpFlags::SYN | TcpFlags::ACK),
                1 => tcp_packet(src, scanner, sport, dport, 0, ack, TcpFlags::RST | TcpFlags::ACK),
                2 => {
                    let mut syn = tcp_packet(scanner, src, dport, sport, ack, 0, TcpFlags::SYN);
                    syn.truncate(28);
                    icmp_unreachable(src, scanner, 13, &syn)
                }
                3 => {
                    let mut ntp = [0u8; 48];
                    ntp[0] = 0x24;
                    ntp[24..32].copy_from_slice(&rng.next_u64().to_be_bytes());
                    udp_packet(src, scanner, 123, dport, &ntp)
                }
                _ => {
                    let mut datagram = udp_packet(scanner, src, dport, 123, &[0u8; 48]);
                    datagram[26..28].copy_from_slice(&(ack as u16).to_be_bytes());
                    icmp_unreachable(src, scanner, 3, &datagram)
                }
            }
        })
        .collect()
}

/// Sends forged strays over a raw socket of the current namespace, spread
/// evenly over `over`; returns how many left.
pub fn send_strays(hosts: &HostSet, count: u32, over: Duration) -> io::Result<u32> {
    let mut rng = Rng::new(0x5742_5953);
    let packets = forge_strays(hosts, super::netns::SCANNER_ADDR, count, &mut rng);
    let mut sink = crate::io::raw::RawSender::open(None, 1)?;
    let mut batch = TxBatch::new(1);
    let gap = over / count.max(1);
    let mut sent = 0;
    for p in &packets {
        batch.clear();
        batch.push_with(super::netns::SCANNER_ADDR, |slot| {
            slot[..p.len()].copy_from_slice(p);
            p.len()
        });
        if sink.send(&batch).is_ok() {
            sent += 1;
        }
        std::thread::sleep(gap);
    }
    Ok(sent)
}

/// The simulated network's probe side.
pub struct SimSink {
    oracle: Oracle,
    limiters: Limiters,
    loss: f64,
    rng: Rng,
    replies: Sender<Vec<u8>>,
    /// Forged packets still to deliver (taken from the end), spread evenly
    /// over the first pass: after the k-th probe, k·total/probes are out.
    strays: Vec<Vec<u8>>,
    strays_total: u64,
    first_pass: u64,
    seen: u64,
}

/// The simulated network's reply side.
pub struct SimSource {
    replies: Receiver<Vec<u8>>,
    /// The packet socket's filter program (`io::raw::reply_filter`).
    filter: Vec<libc::sock_filter>,
}

/// A sink/source pair playing `scenario` for a scanner at `scanner`.
pub fn network(scenario: &Scenario, scanner: Ipv4Addr, seed: u64) -> (SimSink, SimSource) {
    network_with(scenario, scanner, seed, Vec::new())
}

/// The same with `extra` packets (a hostile peer's, see `super::flood`)
/// delivered with the scenario's strays, spread evenly over the first pass.
pub fn network_with(scenario: &Scenario, scanner: Ipv4Addr, seed: u64, extra: Vec<Vec<u8>>) -> (SimSink, SimSource) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut rng = Rng::new(seed);
    let mut strays = forge_strays(&scenario.present_hosts(), scanner, scenario.strays, &mut rng);
    strays.extend(extra);
    let hosts = HostSet::parse(&scenario.targets, &scenario.exclude).map(|h| h.len()).unwrap_or(1);
    let ports = crate::space::PortList::parse(&scenario.ports, Protocol::Tcp).map(|p| p.len() as u64).unwrap_or(1);
    let strays_total = strays.len() as u64;
    (
        SimSink { oracle: scenario.oracle(), limiters: Limiters::new(scenario.icmp), loss: scenario.loss_percent / 100.0, rng, replies: tx, strays, strays_total, first_pass: (hosts * ports).max(1), seen: 0 },
        SimSource { replies: rx, filter: crate::io::raw::reply_filter() },
    )
}

impl SimSink {
    /// May `host` send an ICMP error now, under the scenario's model?
    fn icmp_allowed(&mut self, host: Ipv4Addr) -> bool {
        self.limiters.allow(host, &mut self.rng)
    }

    /// The target's answer to one probe, or `None` for silence (a probe
    /// the target's kernel would drop counts as lost, so a codec bug shows
    /// as wrong states).
    fn answer(&mut self, bytes: &[u8]) -> Option<Vec<u8>> {
        let probe = Probe::parse(bytes)?;
        if self.rng.chance(self.loss) || !self.oracle.host_up(probe.dst.into()) {
            return None;
        }
        let (src, dst, sport, dport) = (probe.dst, probe.src, probe.dport, probe.sport);
        let reply = match (probe.transport, self.oracle.behaviour(probe.dst.into(), probe.protocol(), probe.dport)) {
            (Transport::Syn { seq }, Behaviour::Open) => tcp_packet(src, dst, sport, dport, 7, seq.wrapping_add(1), TcpFlags::SYN | TcpFlags::ACK),
            (Transport::Syn { seq }, Behaviour::Closed) => tcp_packet(src, dst, sport, dport, 0, seq.wrapping_add(1), TcpFlags::RST | TcpFlags::ACK),
            (Transport::Datagram { payload }, Behaviour::Open) => match (sport, super::responder::ntp_reply(payload)) {
                (123, Some(r)) => udp_packet(src, dst, sport, dport, &r),
                (123, None) => return None,
                _ => udp_packet(src, dst, sport, dport, payload),
            },
            (Transport::Datagram { .. }, Behaviour::Closed) if self.icmp_allowed(probe.dst) => icmp_unreachable(src, dst, 3, bytes),
            (_, Behaviour::Prohibit) => icmp_unreachable(src, dst, 13, bytes),
            (_, Behaviour::Closed | Behaviour::Drop) => return None,
        };
        (!self.rng.chance(self.loss)).then_some(reply)
    }
}

/// A probe as the target's kernel reads it, parsed here by byte offsets and
/// not with the scanner's `wire` code, so that a codec bug on the scanner's
/// side is not mirrored by the network it is tested against. What a kernel
/// would drop (a bad transport checksum, a wrong length, a TCP segment that
/// is not a bare SYN) parses as `None`. The IP header checksum is not
/// checked: a raw socket's kernel fills it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub transport: Transport<'a>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    Syn { seq: u32 },
    Datagram { payload: &'a [u8] },
}

impl<'a> Probe<'a> {
    pub fn parse(p: &'a [u8]) -> Option<Probe<'a>> {
        let be16 = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        if p.len() < 20 || p[0] >> 4 != 4 {
            return None;
        }
        let ihl = (p[0] & 0x0f) as usize * 4;
        let total = be16(p, 2) as usize;
        if ihl < 20 || total < ihl + 8 || total > p.len() || be16(p, 6) & 0x3fff != 0 {
            return None; // short, lying about its length, or a fragment
        }
        let (src, dst) = (Ipv4Addr::new(p[12], p[13], p[14], p[15]), Ipv4Addr::new(p[16], p[17], p[18], p[19]));
        let t = &p[ihl..total];
        if transport_checksum(src, dst, p[9], t) != 0 && !(p[9] == 17 && be16(t, 6) == 0) {
            return None;
        }
        let (sport, dport) = (be16(t, 0), be16(t, 2));
        let transport = match p[9] {
            6 => {
                let offset = (t[12] >> 4) as usize * 4;
                if t.len() < 20 || offset < 20 || offset > t.len() || t[13] & 0x3f != 0x02 {
                    return None; // not a bare SYN
                }
                Transport::Syn { seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]) }
            }
            17 if be16(t, 4) as usize == t.len() => Transport::Datagram { payload: &t[8..] },
            _ => return None,
        };
        Some(Probe { src, dst, sport, dport, transport })
    }

    pub fn protocol(&self) -> Protocol {
        match self.transport {
            Transport::Syn { .. } => Protocol::Tcp,
            Transport::Datagram { .. } => Protocol::Udp,
        }
    }
}

/// The Internet checksum (RFC 1071) over the pseudo-header and `segment`:
/// 0 when the segment's own checksum field is right.
fn transport_checksum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, segment: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |b: &[u8]| {
        for pair in b.chunks(2) {
            sum += u32::from(pair[0]) << 8 | u32::from(*pair.get(1).unwrap_or(&0));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&[0, protocol]);
    add(&(segment.len() as u16).to_be_bytes());
    add(segment);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl ProbeSink for SimSink {
    fn send(&mut self, batch: &TxBatch) -> io::Result<()> {
        for i in 0..batch.len() {
            let (bytes, _) = batch.get(i);
            if let Some(reply) = self.answer(bytes) {
                let _ = self.replies.send(reply);
            }
            self.seen += 1;
            let due = (self.seen as u128 * self.strays_total as u128 / self.first_pass as u128).min(self.strays_total as u128) as u64;
            while self.strays_total - (self.strays.len() as u64) < due {
                match self.strays.pop() {
                    Some(stray) => {
                        let _ = self.replies.send(stray);
                    }
                    None => break,
                }
            }
        }
        Ok(())
    }
}

/// The packet socket's end: what its filter (the kernel's program, run by
/// `super::bpf`) passes, as much of it as the filter keeps. The simulated
/// network is IPv4: every frame it delivers, answers, strays and a flood's
/// packets alike, says IPv4 in its link header (as the lab's senders'
/// frames do, the flood's packet socket included), whatever its bytes say.
impl ReplySource for SimSource {
    fn recv(&mut self, batch: &mut RxBatch) -> io::Result<()> {
        batch.set_len(0);
        let filter = &self.filter;
        let offer = |batch: &mut RxBatch, p: &[u8]| {
            let keep = super::bpf::run(filter, super::bpf::FRAME_IPV4, p).unwrap_or(0) as usize;
            if keep > 0 {
                batch.push(&p[..p.len().min(keep)]);
            }
        };
        if let Ok(first) = self.replies.recv_timeout(Duration::from_millis(20)) {
            offer(batch, &first);
            while batch.len() < batch.capacity() {
                match self.replies.try_recv() {
                    Ok(p) => offer(batch, &p),
                    Err(_) => break,
                };
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{cookie::ProbeTag, payload::Payload, udp, SynTemplate, SYN_LEN};

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 1, 7);

    #[test]
    fn the_network_reads_the_scanners_probes_and_drops_what_a_kernel_would() {
        let tag = ProbeTag { sport: 50001, seq: 0xdead_beef, token: 0x0102_0304_0506_0708 };
        let mut syn = [0u8; SYN_LEN];
        SynTemplate::new().emit(&mut syn, SRC, DST, 6443, tag, 9);
        assert_eq!(Probe::parse(&syn), Some(Probe { src: SRC, dst: DST, sport: 50001, dport: 6443, transport: Transport::Syn { seq: 0xdead_beef } }));
        for n in 0..syn.len() {
            assert_eq!(Probe::parse(&syn[..n]), None, "truncated to {n}");
        }
        for i in 20..syn.len() {
            let mut bad = syn;
            bad[i] ^= 0x10;
            assert_eq!(Probe::parse(&bad), None, "byte {i} flipped: a kernel drops it on the checksum");
        }

        let mut buf = [0u8; 256];
        let n = udp::emit(&mut buf, SRC, DST, 123, tag, 9, Payload::Ntp);
        let p = Probe::parse(&buf[..n]).expect("an NTP probe");
        assert_eq!((p.sport, p.dport, p.protocol()), (50001, 123, Protocol::Udp));
        let Transport::Datagram { payload } = p.transport else { panic!("{p:?}") };
        assert_eq!(payload.len(), 48);
        assert_eq!(&payload[40..48], &tag.token.to_be_bytes(), "the transmit timestamp carries the cookie");
        let mut bad = buf;
        bad[30] ^= 1;
        assert_eq!(Probe::parse(&bad[..n]), None);
        // Checksum 0 means none for UDP.
        let mut none = buf;
        none[26..28].copy_from_slice(&[0, 0]);
        none[30] ^= 1;
        assert!(Probe::parse(&none[..n]).is_some());
    }
}
