//! A simulated network that plays a scenario: the engine's sink and source
//! without sockets or privileges. Each probe is parsed as the kernel would
//! see it and answered by the scenario's ground truth (SYN-ACK, RST, ICMP
//! admin-prohibited, or silence), with the scenario's random loss in each
//! direction and forged strays mixed in, so engine tests check exact states,
//! retries and validation deterministically from a seed. UDP is played
//! too: responders (NTP-shaped on 123, echo elsewhere), ICMP port
//! unreachable for closed ports under the scenario's ICMP model (a token
//! bucket of Linux's defaults per address, or one shared by all), in real
//! time, so the engine's ICMP rounds meet a real limiter.
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
use crate::wire::{Ipv4Repr, TcpReplyRepr, UdpRepr, SPORT_BASE};

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

/// Linux's ICMP limiter: a token per second, a burst of 6.
#[derive(Debug, Clone)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64()).min(6.0);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
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
            let src = hosts.addr(rng.next_u64() % hosts.len().max(1));
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
    icmp: IcmpModel,
    buckets: HashMap<Ipv4Addr, Bucket>,
    loss: f64,
    rng: Rng,
    replies: Sender<Vec<u8>>,
    strays: Vec<Vec<u8>>,
    stray_every: u64,
    seen: u64,
}

/// The simulated network's reply side.
pub struct SimSource {
    replies: Receiver<Vec<u8>>,
}

/// A sink/source pair playing `scenario` for a scanner at `scanner`.
pub fn network(scenario: &Scenario, scanner: Ipv4Addr, seed: u64) -> (SimSink, SimSource) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut rng = Rng::new(seed);
    let strays = forge_strays(&scenario.present_hosts(), scanner, scenario.strays, &mut rng);
    let hosts = HostSet::parse(&scenario.targets, &scenario.exclude).map(|h| h.len()).unwrap_or(1);
    let ports = crate::space::PortList::parse(&scenario.ports, Protocol::Tcp).map(|p| p.len() as u64).unwrap_or(1);
    let probes = hosts * ports;
    let stray_every = (probes / (scenario.strays as u64 + 1)).max(1);
    (
        SimSink { oracle: scenario.oracle(), icmp: scenario.icmp, buckets: HashMap::new(), loss: scenario.loss_percent / 100.0, rng, replies: tx, strays, stray_every, seen: 0 },
        SimSource { replies: rx },
    )
}

impl SimSink {
    /// May `host` send an ICMP error now, under the scenario's model?
    fn icmp_allowed(&mut self, host: Ipv4Addr) -> bool {
        let key = match self.icmp {
            IcmpModel::Unlimited => return true,
            IcmpModel::PerNode => host,
            IcmpModel::Kernel => Ipv4Addr::UNSPECIFIED,
        };
        self.buckets.entry(key).or_insert(Bucket { tokens: 6.0, last: Instant::now() }).take()
    }

    fn answer(&mut self, probe: &[u8]) -> Option<Vec<u8>> {
        let (ip, payload) = Ipv4Repr::parse(probe).ok()?;
        if ip.protocol == 17 {
            return self.answer_udp(probe, ip, UdpRepr::parse(payload).ok()?);
        }
        let syn = TcpReplyRepr::parse(payload).ok()?;
        if self.rng.chance(self.loss) || !self.oracle.host_up(ip.dst) {
            return None;
        }
        let reply = match self.oracle.behaviour(ip.dst, Protocol::Tcp, syn.dport) {
            Behaviour::Open => tcp_packet(ip.dst, ip.src, syn.dport, syn.sport, 7, syn.seq.wrapping_add(1), TcpFlags::SYN | TcpFlags::ACK),
            Behaviour::Closed => tcp_packet(ip.dst, ip.src, syn.dport, syn.sport, 0, syn.seq.wrapping_add(1), TcpFlags::RST | TcpFlags::ACK),
            Behaviour::Prohibit => icmp_unreachable(ip.dst, ip.src, 13, probe),
            Behaviour::Drop => return None,
        };
        (!self.rng.chance(self.loss)).then_some(reply)
    }
}

impl SimSink {
    fn answer_udp(&mut self, probe: &[u8], ip: Ipv4Repr, udp: UdpRepr<'_>) -> Option<Vec<u8>> {
        if self.rng.chance(self.loss) || !self.oracle.host_up(ip.dst) {
            return None;
        }
        let reply = match self.oracle.behaviour(ip.dst, Protocol::Udp, udp.dport) {
            Behaviour::Open => match (udp.dport, super::responder::ntp_reply(udp.payload)) {
                (123, Some(r)) => udp_packet(ip.dst, ip.src, udp.dport, udp.sport, &r),
                (123, None) => return None,
                _ => udp_packet(ip.dst, ip.src, udp.dport, udp.sport, udp.payload),
            },
            Behaviour::Closed if self.icmp_allowed(ip.dst) => icmp_unreachable(ip.dst, ip.src, 3, probe),
            Behaviour::Closed | Behaviour::Drop => return None,
            Behaviour::Prohibit => icmp_unreachable(ip.dst, ip.src, 13, probe),
        };
        (!self.rng.chance(self.loss)).then_some(reply)
    }
}

impl ProbeSink for SimSink {
    fn send(&mut self, batch: &TxBatch) -> io::Result<()> {
        for i in 0..batch.len() {
            let (bytes, _) = batch.get(i);
            if let Some(reply) = self.answer(bytes) {
                let _ = self.replies.send(reply);
            }
            self.seen += 1;
            if self.seen % self.stray_every == 0 {
                if let Some(stray) = self.strays.pop() {
                    let _ = self.replies.send(stray);
                }
            }
        }
        Ok(())
    }
}

impl ReplySource for SimSource {
    fn recv(&mut self, batch: &mut RxBatch) -> io::Result<()> {
        batch.set_len(0);
        if let Ok(first) = self.replies.recv_timeout(Duration::from_millis(20)) {
            batch.push(&first);
            while batch.len() < batch.capacity() {
                match self.replies.try_recv() {
                    Ok(p) => batch.push(&p),
                    Err(_) => break,
                };
            }
        }
        Ok(())
    }
}
