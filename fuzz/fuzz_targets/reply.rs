//! The receive path: `Reply::parse`, `Reply6::parse` and the engine's
//! validation of every packet the filter passes, IPv4 and IPv6 (the scan
//! space mixes both). The first byte picks a mode: odd = first make the
//! packet carry our cookie (destination, port bits, ack or quote), so the
//! checks behind the cookie (space lookup, payload echo, ICMP codes) are
//! reached too; bits 1-4 = the attempt slot.
#![no_main]
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use portsweep::engine::{validate, ScanConfig, Shard};
use portsweep::space::{HostSet, PortList, Protocol, ScanSpace};
use portsweep::wire::{payload, udp, Cookie, Ipv6Repr, Reply, Reply6};

const SOURCE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const SOURCE6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);

fn config() -> &'static ScanConfig {
    static C: OnceLock<ScanConfig> = OnceLock::new();
    C.get_or_init(|| {
        let hosts = HostSet::parse(&["198.19.0.0/24".to_string(), "198.19.1.7".to_string(), "2001:2:0:1::/120".to_string(), "2001:2:0:1::1:7".to_string()], &[]).expect("hosts");
        let ports = PortList::parse("T:1-1024,6443,U:53,123,8472", Protocol::Tcp).expect("ports");
        ScanConfig {
            space: Arc::new(ScanSpace::new(hosts, ports)),
            source: SOURCE,
            source6: Some(SOURCE6),
            rate: None,
            max_retries: 8,
            wait: None,
            seed: 1,
            cookie: Cookie::new(1, 2),
            shard: Shard::WHOLE,
            icmp_wait: Duration::from_secs(1),
            resume: None,
            payloads: payload::PayloadTable::builtin(),
        }
    })
}

fn put16(p: &mut [u8], at: usize, v: u16) {
    if let Some(b) = p.get_mut(at..at + 2) {
        b.copy_from_slice(&v.to_be_bytes());
    }
}

fn put32(p: &mut [u8], at: usize, v: u32) {
    if let Some(b) = p.get_mut(at..at + 4) {
        b.copy_from_slice(&v.to_be_bytes());
    }
}

/// Offset of `inner` inside `outer` (a sub-slice of it).
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    inner.as_ptr() as usize - outer.as_ptr() as usize
}

/// [`forge`] for IPv6 packets: offsets come from the parser (extension
/// headers move the transport header).
fn forge6(p: &mut [u8], c: &ScanConfig, attempt: u8) {
    enum Kind {
        Tcp(Ipv6Addr, u16, usize),
        Udp(Ipv6Addr, u16, usize),
        Icmp(u8, Ipv6Addr, u16, usize, usize),
    }
    let kind = match Reply6::parse(p) {
        Ok(Reply6::Tcp { ip, tcp }) => Kind::Tcp(ip.src, tcp.sport, Ipv6Repr::parse(p).map(|(_, t)| offset_in(p, t)).unwrap_or(0)),
        Ok(Reply6::Udp { ip, udp }) => Kind::Udp(ip.src, udp.sport, Ipv6Repr::parse(p).map(|(_, t)| offset_in(p, t)).unwrap_or(0)),
        Ok(Reply6::Unreachable { icmp, .. }) => {
            let Ok((_, body)) = Ipv6Repr::parse(p) else { return };
            let q = offset_in(p, body) + 8;
            let Ok((_, quoted)) = Ipv6Repr::parse_quoted(&p[q..]) else { return };
            Kind::Icmp(icmp.quoted_protocol, icmp.quoted_dst, icmp.quoted_dport, q, offset_in(p, quoted))
        }
        Err(_) => return,
    };
    match kind {
        Kind::Tcp(src, sport, t) => {
            let tag = c.cookie.tag(SOURCE6, src, 6, sport, attempt);
            p[24..40].copy_from_slice(&SOURCE6.octets());
            put16(p, t + 2, tag.sport);
            put32(p, t + 8, tag.seq.wrapping_add(1));
        }
        Kind::Udp(src, sport, t) => {
            let tag = c.cookie.tag(SOURCE6, src, 17, sport, attempt);
            p[24..40].copy_from_slice(&SOURCE6.octets());
            put16(p, t + 2, tag.sport);
            match sport {
                123 => {
                    if let Some(b) = p.get_mut(t + 8 + 24..t + 8 + 32) {
                        b.copy_from_slice(&tag.token.to_be_bytes());
                    }
                }
                53 => put16(p, t + 8, tag.token as u16),
                _ => {}
            }
        }
        Kind::Icmp(quoted_protocol, quoted_dst, quoted_dport, q, t) => {
            if let Some(b) = p.get_mut(q + 8..q + 24) {
                b.copy_from_slice(&SOURCE6.octets());
            }
            let proto = if quoted_protocol == 17 { 17 } else { 6 };
            let tag = c.cookie.tag(SOURCE6, quoted_dst, proto, quoted_dport, attempt);
            put16(p, t, tag.sport);
            let word = match proto {
                6 => tag.seq,
                _ => udp::quoted_word6(SOURCE6, quoted_dst, quoted_dport, tag, config().payloads.for_port(quoted_dport)),
            };
            put32(p, t + 4, word);
        }
    }
}

/// Rewrites `p` so that its cookie fields are those of our probe.
fn forge(p: &mut [u8], c: &ScanConfig, attempt: u8) {
    if p.first().is_some_and(|b| b >> 4 == 6) {
        return forge6(p, c, attempt);
    }
    let ihl = match p.first() {
        Some(b) => (b & 0x0f) as usize * 4,
        None => return,
    };
    // What the cookie covers, copied out (the parse borrows `p`).
    enum Kind {
        Tcp(Ipv4Addr, u16),
        Udp(Ipv4Addr, u16),
        Icmp(u8, Ipv4Addr, u16),
    }
    let kind = match Reply::parse(p) {
        Ok(Reply::Tcp { ip, tcp }) => Kind::Tcp(ip.src, tcp.sport),
        Ok(Reply::Udp { ip, udp }) => Kind::Udp(ip.src, udp.sport),
        Ok(Reply::Unreachable { icmp, .. }) => Kind::Icmp(icmp.quoted_protocol, icmp.quoted_dst, icmp.quoted_dport),
        Err(_) => return,
    };
    match kind {
        Kind::Tcp(src, sport) => {
            let tag = c.cookie.tag(SOURCE, src, 6, sport, attempt);
            p[16..20].copy_from_slice(&SOURCE.octets());
            put16(p, ihl + 2, tag.sport);
            put32(p, ihl + 8, tag.seq.wrapping_add(1));
        }
        Kind::Udp(src, sport) => {
            let tag = c.cookie.tag(SOURCE, src, 17, sport, attempt);
            p[16..20].copy_from_slice(&SOURCE.octets());
            put16(p, ihl + 2, tag.sport);
            match sport {
                123 => {
                    if let Some(b) = p.get_mut(ihl + 8 + 24..ihl + 8 + 32) {
                        b.copy_from_slice(&tag.token.to_be_bytes());
                    }
                }
                53 => put16(p, ihl + 8, tag.token as u16),
                _ => {}
            }
        }
        Kind::Icmp(quoted_protocol, quoted_dst, quoted_dport) => {
            let q = ihl + 8;
            let qihl = (p[q] & 0x0f) as usize * 4;
            if let Some(b) = p.get_mut(q + 12..q + 16) {
                b.copy_from_slice(&SOURCE.octets());
            }
            let proto = if quoted_protocol == 17 { 17 } else { 6 };
            let tag = c.cookie.tag(SOURCE, quoted_dst, proto, quoted_dport, attempt);
            put16(p, q + qihl, tag.sport);
            let word = match proto {
                6 => tag.seq,
                _ => udp::quoted_word(SOURCE, quoted_dst, quoted_dport, tag, config().payloads.for_port(quoted_dport)),
            };
            put32(p, q + qihl + 4, word);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let c = config();
    let Some((&mode, packet)) = data.split_first() else { return };
    let mut p = packet.to_vec();
    if mode & 1 == 1 {
        forge(&mut p, c, (mode >> 1) & 15);
    }
    let (parsed, parsed6) = (Reply::parse(&p), Reply6::parse(&p));
    if let Some(v) = validate(c, &p) {
        assert!(parsed.is_ok() != parsed6.is_ok(), "a packet is IPv4 or IPv6, not both");
        assert!(v.index < c.space.len(), "{v:?}");
        assert!(v.attempt < 16);
        // The pair is the one the packet names.
        let (addr, _, port) = c.space.pair(v.index);
        let named: (IpAddr, u16) = match (parsed, parsed6) {
            (Ok(Reply::Tcp { ip, tcp }), _) => (ip.src.into(), tcp.sport),
            (Ok(Reply::Udp { ip, udp }), _) => (ip.src.into(), udp.sport),
            (Ok(Reply::Unreachable { icmp, .. }), _) => (icmp.quoted_dst.into(), icmp.quoted_dport),
            (_, Ok(Reply6::Tcp { ip, tcp })) => (ip.src.into(), tcp.sport),
            (_, Ok(Reply6::Udp { ip, udp })) => (ip.src.into(), udp.sport),
            (_, Ok(Reply6::Unreachable { icmp, .. })) => (icmp.quoted_dst.into(), icmp.quoted_dport),
            _ => unreachable!(),
        };
        assert_eq!((addr, port), named);
    }
});
