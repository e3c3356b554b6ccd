//! The scanner's receive filter, run outside the kernel.
//!
//! The packet socket's classic BPF program (`io::raw::reply_filter`) decides
//! which packets reach the engine at all. The simulated network runs the
//! same program through this interpreter, so engine tests see what the
//! kernel would hand over; the flood generator uses it to know, packet by
//! packet, which of what it sends must come back as `invalid_replies` (the
//! lab test then checks that prediction against the kernel's count).
//!
//! Only the instructions that program uses are interpreted, with the
//! kernel's semantics: a load past the end of the packet ends the program
//! with 0 (drop), and the returned value is how many bytes to keep. Any
//! other instruction is refused (`None`) rather than guessed.
//!
//! Besides the packet's bytes the program reads one thing: the frame's
//! protocol (the ancillary load `ld #proto`, the kernel's `skb->protocol`
//! in host order). It is not in the bytes a `SOCK_DGRAM` socket sees: the
//! receiving driver takes it from the link header (a veth or Ethernet
//! device from the EtherType its peer wrote: `eth_type_trans`), so the
//! caller says what the frame's link header carried.

/// The frame protocol of an IPv4 packet (`ETH_P_IP`, the EtherType).
pub const FRAME_IPV4: u16 = libc::ETH_P_IP as u16;
/// The frame protocol of an IPv6 packet (`ETH_P_IPV6`).
pub const FRAME_IPV6: u16 = libc::ETH_P_IPV6 as u16;

/// `k` of the ancillary load of the frame's protocol.
const FRAME_PROTOCOL: u32 = (libc::SKF_AD_OFF + libc::SKF_AD_PROTOCOL) as u32;

/// Runs `prog` over `packet` (starting at the IP header, as a `SOCK_DGRAM`
/// packet socket sees it) that came in a frame of `protocol` (an EtherType:
/// [`FRAME_IPV4`], [`FRAME_IPV6`], ARP's 0x0806 …): `Some(bytes to keep)`,
/// 0 meaning dropped; `None` when the program uses an instruction this
/// interpreter does not know.
pub fn run(prog: &[libc::sock_filter], protocol: u16, packet: &[u8]) -> Option<u32> {
    let (mut a, mut x) = (0u32, 0u32);
    let mut pc = 0usize;
    let byte = |at: u64| packet.get(usize::try_from(at).ok()?).copied().map(u32::from);
    let half = |at: u64| Some(byte(at)? << 8 | byte(at + 1)?);
    // Each instruction moves pc forward: the program ends within its length.
    while let Some(ins) = prog.get(pc) {
        let k = ins.k;
        pc += 1;
        match ins.code {
            // A word load at an ancillary offset; a word of the packet
            // itself is never loaded by the program, so not interpreted.
            0x20 if k == FRAME_PROTOCOL => a = u32::from(protocol),
            0x30 => match byte(k as u64) {
                Some(v) => a = v,
                None => return Some(0),
            },
            0xb1 => match byte(k as u64) {
                Some(v) => x = 4 * (v & 0xf),
                None => return Some(0),
            },
            0x28 => match half(k as u64) {
                Some(v) => a = v,
                None => return Some(0),
            },
            0x48 => match half(x as u64 + k as u64) {
                Some(v) => a = v,
                None => return Some(0),
            },
            0x50 => match byte(x as u64 + k as u64) {
                Some(v) => a = v,
                None => return Some(0),
            },
            0x54 => a &= k,
            0x15 => pc += usize::from(if a == k { ins.jt } else { ins.jf }),
            0x35 => pc += usize::from(if a >= k { ins.jt } else { ins.jf }),
            0x06 => return Some(k),
            _ => return None,
        }
    }
    None
}

/// Whether the scanner's receive filter passes `packet`, come in a frame
/// of `protocol`, to the engine.
pub fn passes(protocol: u16, packet: &[u8]) -> bool {
    run(&crate::io::raw::reply_filter(), protocol, packet).is_some_and(|keep| keep > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::sim::{icmp_unreachable, tcp_packet, udp_packet};
    use std::net::Ipv4Addr;

    const T: Ipv4Addr = Ipv4Addr::new(198, 19, 1, 7);
    const S: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

    #[test]
    fn the_reply_filter_as_the_kernel_runs_it() {
        let keep = |p: &[u8]| run(&crate::io::raw::reply_filter(), FRAME_IPV4, p);
        // TCP and UDP to our source ports: kept, 256 bytes at most.
        assert_eq!(keep(&tcp_packet(T, S, 443, 49152, 1, 2, 0x12)), Some(crate::io::RX_SLOT as u32));
        assert_eq!(keep(&tcp_packet(T, S, 443, 65535, 1, 2, 0x04)), Some(256));
        assert_eq!(keep(&udp_packet(T, S, 123, 50000, &[0; 48])), Some(256));
        // Below our range, and our own SYNs (to the target's port): dropped.
        assert_eq!(keep(&tcp_packet(T, S, 443, 49151, 1, 2, 0x12)), Some(0));
        assert_eq!(keep(&tcp_packet(S, T, 50000, 443, 1, 0, 0x02)), Some(0));
        assert_eq!(keep(&udp_packet(T, S, 53, 53, &[])), Some(0));
        // ICMP: destination unreachable only.
        let syn = tcp_packet(S, T, 50000, 443, 1, 0, 0x02);
        assert_eq!(keep(&icmp_unreachable(T, S, 13, &syn)), Some(256));
        let mut echo = icmp_unreachable(T, S, 0, &syn);
        echo[20] = 0;
        assert_eq!(keep(&echo), Some(0));
        // The port is read after the header the IHL claims.
        let mut p = tcp_packet(T, S, 443, 1000, 1, 2, 0x12);
        p[0] = 0x46; // IHL 6: the "port" is bytes 26-27, the ack's low half
        p[26..28].copy_from_slice(&50000u16.to_be_bytes());
        assert_eq!(keep(&p), Some(256));
        // Loads past the end drop: a header cut before the port, an IHL
        // longer than the packet, an empty ICMP.
        let full = tcp_packet(T, S, 443, 50000, 1, 2, 0x12);
        for n in 0..24 {
            assert_eq!(keep(&full[..n]), Some(0), "cut to {n}");
        }
        assert_eq!(keep(&full[..24]), Some(256));
        let mut long = full.clone();
        long[0] = 0x4f;
        assert_eq!(keep(&long), Some(0));
        assert_eq!(keep(&icmp_unreachable(T, S, 3, &syn)[..20]), Some(0));
        // Other protocols: dropped.
        let mut gre = full;
        gre[9] = 47;
        assert_eq!(keep(&gre), Some(0));
        // An instruction it does not know is refused, not guessed.
        assert_eq!(run(&[libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: 0 }], FRAME_IPV4, &[0; 64]), None);
        let pkttype = (libc::SKF_AD_OFF + libc::SKF_AD_PKTTYPE) as u32;
        assert_eq!(run(&[libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: pkttype }], FRAME_IPV4, &[0; 64]), None);
        assert_eq!(run(&[], FRAME_IPV4, &[0; 64]), None);
    }

    /// An IPv6 packet: header (next header `next`, to `dst`) and `body`.
    fn v6(dst: &str, next: u8, body: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        crate::wire::ipv6::write_header(&mut p, "2001:2:0:3::7".parse().unwrap(), dst.parse().unwrap(), next, body.len() as u16, 0);
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn the_reply_filter_admits_ipv6_replies_and_nothing_else() {
        let keep = |p: &[u8]| run(&crate::io::raw::reply_filter(), FRAME_IPV6, p);
        let me = "2001:2::1";
        let tcp = |dport: u16| {
            let mut t = [0u8; 20];
            t[0..2].copy_from_slice(&443u16.to_be_bytes());
            t[2..4].copy_from_slice(&dport.to_be_bytes());
            t[12] = 0x50;
            t
        };
        // TCP and UDP to our source ports: kept; below them: dropped.
        assert_eq!(keep(&v6(me, 6, &tcp(49152))), Some(256));
        assert_eq!(keep(&v6(me, 6, &tcp(65535))), Some(256));
        assert_eq!(keep(&v6(me, 6, &tcp(49151))), Some(0));
        assert_eq!(keep(&v6(me, 17, &tcp(50000)[..8])), Some(256));
        assert_eq!(keep(&v6(me, 17, &tcp(53)[..8])), Some(0));
        // ICMPv6: destination unreachable only (not neighbour solicitation,
        // router advertisement, packet too big, echo).
        for (ty, kept) in [(1u8, 256), (2, 0), (128, 0), (134, 0), (135, 0), (136, 0)] {
            assert_eq!(keep(&v6(me, 58, &[ty, 0, 0, 0, 0, 0, 0, 0])), Some(kept), "type {ty}");
        }
        // An extension header first: kept when unicast, for user space to
        // parse past; an MLD report (hop-by-hop, to ff02::16): dropped.
        for next in [0u8, 43, 44, 60] {
            assert_eq!(keep(&v6(me, next, &[6, 0, 0, 0, 0, 0, 0, 0])), Some(256), "next header {next}");
        }
        assert_eq!(keep(&v6("ff02::16", 0, &[58, 0, 5, 2, 0, 0, 1, 0])), Some(0));
        assert_eq!(keep(&v6(me, 47, &[0; 8])), Some(0), "GRE");
        // Cut before the port or the ICMPv6 type: dropped.
        let full = v6(me, 6, &tcp(50000));
        for n in 0..44 {
            assert_eq!(keep(&full[..n]), Some(0), "cut to {n}");
        }
        assert_eq!(keep(&v6(me, 58, &[])), Some(0));
        // Neither version 4 nor 6 in an IPv6 frame: dropped.
        let mut v5 = full.clone();
        v5[0] = 0x50;
        assert_eq!(keep(&v5), Some(0));
    }

    /// The socket is bound to every protocol: the frame's protocol (what
    /// its link header said) and the header's version must agree, and
    /// anything else (ARP, a VLAN tag the device left in place) is dropped
    /// whatever its first byte reads as.
    #[test]
    fn the_frame_protocol_and_the_ip_version_must_agree() {
        let keep = |protocol: u16, p: &[u8]| run(&crate::io::raw::reply_filter(), protocol, p);
        let reply4 = tcp_packet(T, S, 443, 50000, 1, 2, 0x12);
        let mut tcp = [0u8; 20];
        tcp[0..2].copy_from_slice(&443u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&50000u16.to_be_bytes());
        tcp[12] = 0x50;
        let reply6 = v6("2001:2::1", 6, &tcp);
        const ARP: u16 = libc::ETH_P_ARP as u16;
        const VLAN: u16 = libc::ETH_P_8021Q as u16;
        // Replies of either family in frames that say so: admitted.
        assert_eq!(keep(FRAME_IPV4, &reply4), Some(256));
        assert_eq!(keep(FRAME_IPV6, &reply6), Some(256));
        // The same bytes in a frame of another protocol: dropped.
        for protocol in [FRAME_IPV6, ARP, VLAN, 0] {
            assert_eq!(keep(protocol, &reply4), Some(0), "IPv4 reply in a frame of protocol {protocol:#06x}");
        }
        for protocol in [FRAME_IPV4, ARP, VLAN, 0] {
            assert_eq!(keep(protocol, &reply6), Some(0), "IPv6 reply in a frame of protocol {protocol:#06x}");
        }
        // An IPv4 frame whose header says version 6 (the flood's
        // `not-ipv4`: read as IPv6 it would start with a hop-by-hop header,
        // IPv4's flags byte 0, and pass), an IPv6 frame whose header says
        // version 4: dropped.
        let mut claims_v6 = reply4.clone();
        claims_v6[0] = 0x65;
        assert_eq!(keep(FRAME_IPV4, &claims_v6), Some(0));
        assert_eq!(keep(FRAME_IPV6, &claims_v6), Some(256), "the same bytes pass as IPv6: the frame's protocol decides");
        let mut claims_v4 = reply6.clone();
        claims_v4[0] = 0x45;
        assert_eq!(keep(FRAME_IPV6, &claims_v4), Some(0));
        // ARP as the socket sees it (hardware type 1, protocol 0x0800).
        let mut arp = vec![0u8, 1, 8, 0, 6, 4, 0, 1];
        arp.extend_from_slice(&[0; 20]);
        for protocol in [ARP, FRAME_IPV4, FRAME_IPV6] {
            assert_eq!(keep(protocol, &arp), Some(0), "ARP body in a frame of protocol {protocol:#06x}");
        }
    }
}
