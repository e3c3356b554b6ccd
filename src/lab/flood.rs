//! A hostile peer: malformed and forged traffic for the scanner, at the
//! highest rate one thread can send it.
//!
//! [`forge_flood`] deals a deck of packets, so many of each [`Category`];
//! [`send_flood`] pushes the deck round and round through a sink in
//! batches (in the lab: a packet socket in the target namespace, so that
//! every byte arrives as written, lying lengths and bad checksums included;
//! see [`super::Lab::flood`]) until a packet count or a time is reached, and
//! keeps a [`FloodRecord`] of what left, per category.
//!
//! What the scanner must make of each packet follows from where it stops:
//! the packet socket's filter (run here by [`super::bpf`], the kernel's
//! program, not a description of it) drops what is not an IPv4 frame
//! carrying version 4, and TCP or UDP to our source-port range or an ICMP
//! destination unreachable, *before any IP validation*: a packet socket sees frames as they come off the wire, so a
//! bad checksum, a lying length or a fragment is no reason for the kernel
//! to keep it from us. Every packet the filter passes reaches validation
//! and, being no answer to a probe of ours, must be counted exactly once in
//! `invalid_replies`; every packet it drops is never seen. So the count the
//! scanner must report is the record's `passing` total, less what the
//! kernel drops at the socket under the flood (counted in `rx_dropped`).
//!
//! | category | what | filter | validation |
//! |---|---|---|---|
//! | `short-ip` | an IPv4 header cut to 1–19 bytes | drops (the port lies past the end) | — |
//! | `short-tcp` | a TCP header cut to 4–19 bytes | passes | truncated |
//! | `short-udp` | a UDP header cut to 4–7 bytes | passes | truncated |
//! | `short-icmp` | an unreachable cut to 1–35 bytes (quote incomplete) | passes | truncated |
//! | `ihl-short` | IHL 0–4 | by the 16 bits at 4·IHL+2 it reads as a port | malformed |
//! | `ihl-long` | IHL 6–15 on a 40-byte packet | by the bytes at 4·IHL+2, when there | truncated |
//! | `total-length` | total length 0–65535 regardless of the bytes | passes | malformed, truncated, or a bad cookie |
//! | `bad-checksum` | a SYN-ACK with a wrong IP checksum | passes | bad cookie |
//! | `icmp-garbage` | an unreachable quoting random bytes | passes | malformed or not ours |
//! | `icmp-unsent` | an unreachable quoting a SYN or datagram never sent | passes | bad cookie |
//! | `icmp-other` | echo reply, redirect, time exceeded … | drops | — |
//! | `fragment` | first fragments of SYN-ACKs; later fragments whose bytes read as our port | passes | fragment |
//! | `tcp-options` | data offsets 6–15, option lengths past the header | passes | truncated or bad cookie |
//! | `wrong-cookie` | SYN-ACK, RST, NTP and DNS replies from scanned ports | passes | bad cookie |
//! | `unprobed` | the same from addresses never probed | passes | bad cookie |
//! | `duplicate` | second copies of `wrong-cookie` packets | passes | bad cookie |
//! | `other-port` | TCP and UDP to ports below our range | drops | — |
//! | `other-protocol` | GRE, ESP, OSPF, SCTP | drops | — |
//! | `not-ipv4` | version 6 in an IPv4 SYN-ACK (an IPv4 frame) | drops (the frame's protocol is IPv4, the header's version is not) | — |
//!
//! Bounded: [`send_flood`] stops at `max_packets` or `max_time`, whichever
//! comes first. Addresses: sources are the lab's targets or 198.18.192.0/18
//! (inside the lab, never probed); the destination is the scanner.
use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use pnet_packet::tcp::TcpFlags;

use super::bpf;
use super::sim::{icmp_unreachable, tcp_packet, udp_packet, Rng};
use crate::io::{ProbeSink, TxBatch, TX_SLOT};
use crate::space::HostSet;
use crate::wire::SPORT_BASE;

/// What a flood packet is made to test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    ShortIp,
    ShortTcp,
    ShortUdp,
    ShortIcmp,
    IhlShort,
    IhlLong,
    TotalLength,
    BadChecksum,
    IcmpGarbage,
    IcmpUnsent,
    IcmpOther,
    Fragment,
    TcpOptions,
    WrongCookie,
    Unprobed,
    Duplicate,
    OtherPort,
    OtherProtocol,
    NotIpv4,
}

impl Category {
    pub const ALL: [Category; 19] = [
        Category::ShortIp,
        Category::ShortTcp,
        Category::ShortUdp,
        Category::ShortIcmp,
        Category::IhlShort,
        Category::IhlLong,
        Category::TotalLength,
        Category::BadChecksum,
        Category::IcmpGarbage,
        Category::IcmpUnsent,
        Category::IcmpOther,
        Category::Fragment,
        Category::TcpOptions,
        Category::WrongCookie,
        Category::Unprobed,
        Category::Duplicate,
        Category::OtherPort,
        Category::OtherProtocol,
        Category::NotIpv4,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Category::ShortIp => "short-ip",
            Category::ShortTcp => "short-tcp",
            Category::ShortUdp => "short-udp",
            Category::ShortIcmp => "short-icmp",
            Category::IhlShort => "ihl-short",
            Category::IhlLong => "ihl-long",
            Category::TotalLength => "total-length",
            Category::BadChecksum => "bad-checksum",
            Category::IcmpGarbage => "icmp-garbage",
            Category::IcmpUnsent => "icmp-unsent",
            Category::IcmpOther => "icmp-other",
            Category::Fragment => "fragment",
            Category::TcpOptions => "tcp-options",
            Category::WrongCookie => "wrong-cookie",
            Category::Unprobed => "unprobed",
            Category::Duplicate => "duplicate",
            Category::OtherPort => "other-port",
            Category::OtherProtocol => "other-protocol",
            Category::NotIpv4 => "not-ipv4",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One packet of the deck and whether the scanner's filter passes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodPacket {
    pub category: Category,
    pub bytes: Vec<u8>,
    pub passes: bool,
}

/// Packets sent, and of those the ones the filter passes, per category.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FloodRecord {
    pub sent: [u64; 19],
    pub passing: [u64; 19],
    /// Packets the sending kernel refused outright (never on the wire).
    pub refused: u64,
    pub elapsed: Duration,
}

impl FloodRecord {
    /// The record of sending every packet of `deck` once.
    pub fn of(deck: &[FloodPacket]) -> FloodRecord {
        let mut r = FloodRecord::default();
        for p in deck {
            r.add(p);
        }
        r
    }

    fn add(&mut self, p: &FloodPacket) {
        self.sent[p.category.index()] += 1;
        self.passing[p.category.index()] += p.passes as u64;
    }

    pub fn total_sent(&self) -> u64 {
        self.sent.iter().sum()
    }

    /// Packets the scanner must count as invalid (if none is dropped).
    pub fn total_passing(&self) -> u64 {
        self.passing.iter().sum()
    }

    /// `category sent passing` lines, for test output.
    pub fn table(&self) -> String {
        let mut s = format!("{:<15} {:>10} {:>10}\n", "category", "sent", "passing");
        for c in Category::ALL {
            s.push_str(&format!("{:<15} {:>10} {:>10}\n", c.name(), self.sent[c.index()], self.passing[c.index()]));
        }
        s.push_str(&format!("{:<15} {:>10} {:>10}\n", "total", self.total_sent(), self.total_passing()));
        s
    }
}

/// Sets a correct header checksum over the first `ihl` words.
fn fix_ip_checksum(b: &mut [u8]) {
    let ihl = (b[0] & 0x0f) as usize * 4;
    if ihl >= 20 && b.len() >= ihl {
        b[10..12].fill(0);
        let c = pnet_packet::util::checksum(&b[..ihl], 5);
        b[10..12].copy_from_slice(&c.to_be_bytes());
    }
}

fn set_total_length(b: &mut [u8], len: u16) {
    b[2..4].copy_from_slice(&len.to_be_bytes());
}

/// A port of our source range.
fn our_port(rng: &mut Rng) -> u16 {
    SPORT_BASE + (rng.next_u64() % (65536 - SPORT_BASE as u64)) as u16
}

/// An address inside the lab that no scenario probes (198.18.192.0/18).
fn unprobed(rng: &mut Rng) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(198, 18, 192, 0)) + (rng.next_u64() % (1 << 14)) as u32)
}

fn bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

/// Deals `per_category` packets of every category, from `targets` (and
/// addresses never probed) to `scanner`; `ports` are scanned TCP ports the
/// forged replies claim to come from.
pub fn forge_flood(targets: &HostSet, ports: &[u16], scanner: Ipv4Addr, per_category: usize, rng: &mut Rng) -> Vec<FloodPacket> {
    let mut deck = Vec::with_capacity(per_category * Category::ALL.len());
    let mut wrong_cookies = Vec::new();
    for i in 0..per_category {
        for category in Category::ALL {
            // The flood forges IPv4 replies: an IPv6 target stands in as
            // an address never probed.
            let src = match targets.addr(rng.next_u64() % targets.len().max(1)) {
                std::net::IpAddr::V4(a) => a,
                std::net::IpAddr::V6(_) => unprobed(rng),
            };
            let sport = ports.get(rng.next_u64() as usize % ports.len().max(1)).copied().unwrap_or(443);
            let dport = our_port(rng);
            let (seq, ack) = (rng.next_u64() as u32, rng.next_u64() as u32);
            let syn_ack = |src| tcp_packet(src, scanner, sport, dport, seq, ack, TcpFlags::SYN | TcpFlags::ACK);
            let mut b = match category {
                Category::ShortIp => {
                    let mut p = syn_ack(src);
                    p.truncate(1 + i % 19);
                    p
                }
                Category::ShortTcp => {
                    let mut p = syn_ack(src);
                    p.truncate(20 + 4 + i % 16);
                    let n = p.len() as u16;
                    set_total_length(&mut p, n);
                    p
                }
                Category::ShortUdp => {
                    let mut p = udp_packet(src, scanner, 123, dport, &[]);
                    p.truncate(20 + 4 + i % 4);
                    let n = p.len() as u16;
                    set_total_length(&mut p, n);
                    p
                }
                Category::ShortIcmp => {
                    let probe = tcp_packet(scanner, src, dport, sport, seq, 0, TcpFlags::SYN);
                    let mut p = icmp_unreachable(src, scanner, 13, &probe);
                    p.truncate(20 + 1 + i % 35);
                    let n = p.len() as u16;
                    set_total_length(&mut p, n);
                    p
                }
                Category::IhlShort => {
                    let mut p = syn_ack(if i % 2 == 0 { src } else { unprobed(rng) });
                    p[0] = 0x40 | (i % 5) as u8;
                    p
                }
                Category::IhlLong => {
                    let mut p = syn_ack(src);
                    p[0] = 0x40 | (6 + i % 10) as u8;
                    p
                }
                Category::TotalLength => {
                    let mut p = syn_ack(src);
                    set_total_length(&mut p, [0, 10, 19, 20, 30, 39, 41, 1500, 65535][i % 9]);
                    p
                }
                Category::BadChecksum => {
                    let mut p = syn_ack(src);
                    fix_ip_checksum(&mut p);
                    p[10] ^= 0x5a;
                    p
                }
                Category::IcmpGarbage => {
                    let quote = bytes(rng, 8 + i % 93);
                    let mut p = icmp_unreachable(src, scanner, (i % 16) as u8, &[]);
                    p.extend_from_slice(&quote);
                    let n = p.len() as u16;
                    set_total_length(&mut p, n);
                    p
                }
                Category::IcmpUnsent => {
                    let probe = match i % 2 {
                        0 => tcp_packet(scanner, src, dport, sport, seq, 0, TcpFlags::SYN),
                        _ => udp_packet(scanner, src, dport, [123, 8472, 53][i % 3], &[0; 48]),
                    };
                    icmp_unreachable(src, scanner, [0, 1, 2, 3, 9, 10, 13][i % 7], &probe)
                }
                Category::IcmpOther => {
                    let probe = tcp_packet(scanner, src, dport, sport, seq, 0, TcpFlags::SYN);
                    let mut p = icmp_unreachable(src, scanner, 0, &probe);
                    p[20] = [0, 4, 5, 8, 11, 12][i % 6];
                    p
                }
                Category::Fragment => {
                    if i % 2 == 0 {
                        let mut p = syn_ack(src);
                        p[6] = 0x20; // more fragments, offset 0
                        p
                    } else {
                        // A later fragment: its first bytes are payload, read
                        // by the filter as ports (made to look like ours).
                        let mut p = syn_ack(src);
                        let offset = 1 + (rng.next_u64() % 8191) as u16;
                        p[6..8].copy_from_slice(&offset.to_be_bytes());
                        p[22..24].copy_from_slice(&dport.to_be_bytes());
                        p
                    }
                }
                Category::TcpOptions => {
                    let words = 6 + i % 10;
                    let mut p = syn_ack(src);
                    p[32] = (words as u8) << 4;
                    let options = [[2u8, 255, 5, 180], [8, 40, 0, 0], [3, 0, 14, 1], [1, 1, 1, 30]][i % 4];
                    let extra = 4 * (i % 11);
                    for k in 0..extra {
                        p.push(options[k % 4]);
                    }
                    let n = p.len() as u16;
                    set_total_length(&mut p, n);
                    p
                }
                Category::WrongCookie | Category::Unprobed => {
                    let src = if category == Category::Unprobed { unprobed(rng) } else { src };
                    match i % 4 {
                        0 => syn_ack(src),
                        1 => tcp_packet(src, scanner, sport, dport, 0, ack, TcpFlags::RST | TcpFlags::ACK),
                        2 => {
                            let mut ntp = [0u8; 48];
                            ntp[0] = 0x24;
                            ntp[24..32].copy_from_slice(&rng.next_u64().to_be_bytes());
                            udp_packet(src, scanner, 123, dport, &ntp)
                        }
                        _ => {
                            let mut dns = bytes(rng, 17);
                            dns[2] = 0x81;
                            udp_packet(src, scanner, 53, dport, &dns)
                        }
                    }
                }
                Category::Duplicate => match wrong_cookies.get(i) {
                    Some(p) => Vec::clone(p),
                    None => syn_ack(src),
                },
                Category::OtherPort => match i % 2 {
                    0 => tcp_packet(src, scanner, sport, (rng.next_u64() % SPORT_BASE as u64) as u16, seq, ack, TcpFlags::SYN | TcpFlags::ACK),
                    _ => udp_packet(src, scanner, 123, (rng.next_u64() % SPORT_BASE as u64) as u16, &[0; 48]),
                },
                Category::OtherProtocol => {
                    let mut p = syn_ack(src);
                    p[9] = [47, 50, 89, 132][i % 4];
                    p
                }
                Category::NotIpv4 => {
                    let mut p = syn_ack(src);
                    p[0] = 0x65;
                    p
                }
            };
            if matches!(category, Category::WrongCookie | Category::Unprobed | Category::TotalLength | Category::TcpOptions | Category::Fragment | Category::IcmpUnsent | Category::IcmpGarbage | Category::OtherPort | Category::OtherProtocol | Category::ShortTcp | Category::ShortUdp | Category::ShortIcmp) {
                fix_ip_checksum(&mut b);
            }
            if category == Category::WrongCookie {
                wrong_cookies.push(b.clone());
            }
            b.truncate(TX_SLOT);
            // Sent in IPv4 frames (`Lab::flood`'s packet socket writes
            // the EtherType ETH_P_IP), whatever the bytes claim.
            let passes = bpf::passes(bpf::FRAME_IPV4, &b);
            deck.push(FloodPacket { category, bytes: b, passes });
        }
    }
    deck
}

/// Sends `deck` round and round through `sink`, a batch of up to 256
/// packets at a time, until `max_packets` have left or `max_time` has
/// passed; returns what left (the caller fills in `refused`).
pub fn send_flood(deck: &[FloodPacket], sink: &mut dyn ProbeSink, max_packets: u64, max_time: Duration) -> io::Result<FloodRecord> {
    let mut record = FloodRecord::default();
    if deck.is_empty() {
        return Ok(record);
    }
    let started = Instant::now();
    let mut batch = TxBatch::new(256);
    let mut next = 0usize;
    let mut sent = 0u64;
    while sent < max_packets && started.elapsed() < max_time {
        batch.clear();
        let take = (max_packets - sent).min(batch.capacity() as u64) as usize;
        let first = next;
        for _ in 0..take {
            let p = &deck[next];
            batch.push_with(Ipv4Addr::UNSPECIFIED, |slot| {
                slot[..p.bytes.len()].copy_from_slice(&p.bytes);
                p.bytes.len()
            });
            next = (next + 1) % deck.len();
        }
        sink.send(&batch)?;
        for k in 0..take {
            record.add(&deck[(first + k) % deck.len()]);
        }
        sent += take as u64;
    }
    record.elapsed = started.elapsed();
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ParseError, Reply};

    fn deck() -> Vec<FloodPacket> {
        let hosts = HostSet::parse(&["198.19.1.0/24".to_string()], &[]).unwrap();
        forge_flood(&hosts, &[22, 80, 443, 6443], Ipv4Addr::new(198, 18, 0, 1), 210, &mut Rng::new(7))
    }

    #[test]
    fn every_category_does_what_the_table_says() {
        let deck = deck();
        let record = FloodRecord::of(&deck);
        let by = |c: Category| deck.iter().filter(move |p| p.category == c);
        for c in Category::ALL {
            assert_eq!(record.sent[c.index()], 210, "{}", c.name());
            for p in by(c) {
                assert!(p.bytes.len() <= TX_SLOT);
                let parsed = Reply::parse(&p.bytes);
                // What validation makes of each packet that passes.
                let expected_parse = match c {
                    Category::ShortTcp | Category::ShortUdp | Category::ShortIcmp => Some(Err(ParseError::Truncated)),
                    Category::Fragment => Some(Err(ParseError::Fragment)),
                    // Dropped by the filter; were it not, validation would refuse it.
                    Category::NotIpv4 => Some(Err(ParseError::NotIpv4)),
                    _ => None,
                };
                if let Some(e) = expected_parse {
                    assert_eq!(parsed.map(|_| ()), e, "{}: {:02x?}", c.name(), p.bytes);
                }
                if c == Category::IhlShort && p.passes {
                    assert_eq!(parsed.map(|_| ()), Err(ParseError::Malformed));
                }
            }
        }
        // The filter's verdicts, category by category (the documented table).
        let never = [Category::ShortIp, Category::IcmpOther, Category::OtherPort, Category::OtherProtocol, Category::NotIpv4];
        let always = [
            Category::ShortTcp,
            Category::ShortUdp,
            Category::ShortIcmp,
            Category::TotalLength,
            Category::BadChecksum,
            Category::IcmpGarbage,
            Category::IcmpUnsent,
            Category::Fragment,
            Category::TcpOptions,
            Category::WrongCookie,
            Category::Unprobed,
            Category::Duplicate,
        ];
        for c in never {
            assert_eq!(record.passing[c.index()], 0, "{}", c.name());
        }
        for c in always {
            assert_eq!(record.passing[c.index()], 210, "{}", c.name());
        }
        // Version 6 in an IPv4 SYN-ACK is dropped for the frame's protocol,
        // not by luck: read as IPv6 (next header: the IPv4 flags byte, 0,
        // hop-by-hop) most of them would pass.
        assert!(by(Category::NotIpv4).all(|p| p.bytes[6] == 0));
        // Exactly those whose destination (byte 24) is not multicast.
        let as_ipv6 = by(Category::NotIpv4).filter(|p| bpf::passes(bpf::FRAME_IPV6, &p.bytes)).count();
        assert_eq!(as_ipv6, by(Category::NotIpv4).filter(|p| p.bytes[24] != 0xff).count());
        assert!(as_ipv6 > 150, "{as_ipv6} of 210 would pass as IPv6");
        // IHL 0-4: the filter reads a "port" at 4·IHL+2 — the total length
        // (0), flags (1), checksum 0 (2), the source's low half (3: in our
        // range for 198.18.192.0/18 sources, which the odd packets have) and
        // the destination's (4: the scanner's, .0.1). So IHL 3 with odd i.
        assert_eq!(record.passing[Category::IhlShort.index()], by(Category::IhlShort).enumerate().filter(|(i, _)| i % 5 == 3 && i % 2 == 1).count() as u64);
        // IHL 6-15 on 40 bytes: the "port" is inside the packet for IHL 6-9
        // only, where it is a random half of the sequence or ack number.
        for (i, p) in by(Category::IhlLong).enumerate() {
            if 6 + i % 10 > 9 {
                assert!(!p.passes);
            }
        }
        assert!(record.passing[Category::IhlLong.index()] > 0);
        // Duplicates are byte-for-byte copies.
        for (d, w) in by(Category::Duplicate).zip(by(Category::WrongCookie)) {
            assert_eq!(d.bytes, w.bytes);
        }
    }

    #[test]
    fn sending_is_bounded_by_count_and_records_what_left() {
        struct Count(u64);
        impl ProbeSink for Count {
            fn send(&mut self, batch: &TxBatch) -> io::Result<()> {
                self.0 += batch.len() as u64;
                Ok(())
            }
        }
        let deck = deck();
        let mut sink = Count(0);
        let n = deck.len() as u64 * 2 + 77;
        let r = send_flood(&deck, &mut sink, n, Duration::from_secs(60)).unwrap();
        assert_eq!((sink.0, r.total_sent()), (n, n));
        let once = FloodRecord::of(&deck);
        let extra = FloodRecord::of(&deck[..77]);
        for c in Category::ALL {
            assert_eq!(r.sent[c.index()], 2 * once.sent[c.index()] + extra.sent[c.index()]);
            assert_eq!(r.passing[c.index()], 2 * once.passing[c.index()] + extra.passing[c.index()]);
        }
        let r = send_flood(&deck, &mut Count(0), u64::MAX, Duration::from_millis(50)).unwrap();
        assert!(r.elapsed < Duration::from_secs(5) && r.total_sent() > 0);
    }
}
