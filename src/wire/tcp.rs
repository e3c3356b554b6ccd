//! TCP: the SYN probe we emit and the SYN-ACK / RST replies we parse.
use std::net::{Ipv4Addr, Ipv6Addr};

use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{self, MutableIpv4Packet};
use pnet_packet::tcp::{self, MutableTcpPacket, TcpFlags, TcpOption, TcpPacket};

use super::cookie::ProbeTag;
use super::ParseError;

/// IPv4 (20) + TCP (20) + MSS option (4).
pub const SYN_LEN: usize = 44;

/// A ready-made SYN; per probe only addresses, ports, sequence number and
/// checksums change, so emitting one is a few stores and two checksums.
#[derive(Clone)]
pub struct SynTemplate {
    bytes: [u8; SYN_LEN],
}

impl Default for SynTemplate {
    fn default() -> Self {
        Self::new()
    }
}

impl SynTemplate {
    pub fn new() -> SynTemplate {
        let mut bytes = [0u8; SYN_LEN];
        {
            // Infallible: the buffer is exactly the size of the headers.
            let mut ip = MutableIpv4Packet::new(&mut bytes).expect("44-byte buffer holds an IPv4 header");
            ip.set_version(4);
            ip.set_header_length(5);
            ip.set_total_length(SYN_LEN as u16);
            ip.set_ttl(64);
            ip.set_flags(ipv4::Ipv4Flags::DontFragment);
            ip.set_next_level_protocol(IpNextHeaderProtocols::Tcp);
        }
        {
            let mut t = MutableTcpPacket::new(&mut bytes[20..]).expect("24-byte buffer holds a TCP header");
            t.set_data_offset(6);
            t.set_flags(TcpFlags::SYN);
            t.set_window(1024);
            t.set_options(&[TcpOption::mss(1460)]);
        }
        SynTemplate { bytes }
    }

    /// Writes the SYN from `src` to `dst:dport` carrying `tag` into `out`.
    #[inline]
    pub fn emit(&self, out: &mut [u8; SYN_LEN], src: Ipv4Addr, dst: Ipv4Addr, dport: u16, tag: ProbeTag, ip_id: u16) {
        out.copy_from_slice(&self.bytes);
        {
            let mut ip = MutableIpv4Packet::new(&mut out[..]).expect("SYN_LEN buffer");
            ip.set_identification(ip_id);
            ip.set_source(src);
            ip.set_destination(dst);
            let c = ipv4::checksum(&ip.to_immutable());
            ip.set_checksum(c);
        }
        let mut t = MutableTcpPacket::new(&mut out[20..]).expect("SYN_LEN buffer");
        t.set_source(tag.sport);
        t.set_destination(dport);
        t.set_sequence(tag.seq);
        let c = tcp::ipv4_checksum(&t.to_immutable(), &src, &dst);
        t.set_checksum(c);
    }
}

/// IPv6 (40) + TCP (20) + MSS option (4).
pub const SYN6_LEN: usize = 64;

/// The IPv6 SYN: the same TCP header as [`SynTemplate`]'s behind an IPv6
/// header whose flow label carries the copy number (`ip_id`).
#[derive(Clone)]
pub struct Syn6Template {
    bytes: [u8; SYN6_LEN],
}

impl Default for Syn6Template {
    fn default() -> Self {
        Self::new()
    }
}

impl Syn6Template {
    pub fn new() -> Syn6Template {
        let mut bytes = [0u8; SYN6_LEN];
        let v4 = SynTemplate::new();
        bytes[40..].copy_from_slice(&v4.bytes[20..]);
        super::ipv6::write_header(&mut bytes, Ipv6Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED, IpNextHeaderProtocols::Tcp.0, (SYN6_LEN - 40) as u16, 0);
        Syn6Template { bytes }
    }

    /// Writes the SYN from `src` to `dst:dport` carrying `tag` into `out`.
    #[inline]
    pub fn emit(&self, out: &mut [u8; SYN6_LEN], src: Ipv6Addr, dst: Ipv6Addr, dport: u16, tag: ProbeTag, ip_id: u16) {
        out.copy_from_slice(&self.bytes);
        super::ipv6::write_header(&mut out[..], src, dst, IpNextHeaderProtocols::Tcp.0, (SYN6_LEN - 40) as u16, ip_id as u32);
        let mut t = MutableTcpPacket::new(&mut out[40..]).expect("SYN6_LEN buffer");
        t.set_source(tag.sport);
        t.set_destination(dport);
        t.set_sequence(tag.seq);
        let c = tcp::ipv6_checksum(&t.to_immutable(), &src, &dst);
        t.set_checksum(c);
    }
}

/// A TCP segment that may answer a SYN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpReplyRepr {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
}

impl TcpReplyRepr {
    pub fn parse(segment: &[u8]) -> Result<TcpReplyRepr, ParseError> {
        let t = TcpPacket::new(segment).ok_or(ParseError::Truncated)?;
        let offset = t.get_data_offset() as usize * 4;
        if offset < 20 {
            return Err(ParseError::Malformed);
        }
        if segment.len() < offset {
            return Err(ParseError::Truncated);
        }
        Ok(TcpReplyRepr {
            sport: t.get_source(),
            dport: t.get_destination(),
            seq: t.get_sequence(),
            ack: t.get_acknowledgement(),
            flags: t.get_flags(),
        })
    }

    pub fn is_syn_ack(&self) -> bool {
        self.flags & (TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) == TcpFlags::SYN | TcpFlags::ACK
    }

    pub fn is_rst(&self) -> bool {
        self.flags & TcpFlags::RST != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv4Repr, Reply};

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 1, 7);

    #[test]
    fn emitted_syn_is_valid_and_parses_back() {
        let mut buf = [0u8; SYN_LEN];
        SynTemplate::new().emit(&mut buf, SRC, DST, 6443, ProbeTag { sport: 50000, seq: 0xDEAD_BEEF, token: 0 }, 7);
        let ip = pnet_packet::ipv4::Ipv4Packet::new(&buf).unwrap();
        assert_eq!(ipv4::checksum(&ip), ip.get_checksum());
        let t = TcpPacket::new(&buf[20..]).unwrap();
        assert_eq!(tcp::ipv4_checksum(&t, &SRC, &DST), t.get_checksum());
        assert_eq!(t.get_flags(), TcpFlags::SYN);
        match Reply::parse(&buf).unwrap() {
            Reply::Tcp { ip, tcp } => {
                assert_eq!(ip, Ipv4Repr { src: SRC, dst: DST, protocol: 6, ttl: 64 });
                assert_eq!((tcp.sport, tcp.dport, tcp.seq, tcp.ack), (50000, 6443, 0xDEAD_BEEF, 0));
                assert!(!tcp.is_syn_ack() && !tcp.is_rst());
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn emitted_ipv6_syn_is_valid_and_parses_back() {
        use crate::wire::Reply6;
        let (src, dst): (Ipv6Addr, Ipv6Addr) = ("2001:2::1".parse().unwrap(), "2001:2:0:1::7".parse().unwrap());
        let mut buf = [0u8; SYN6_LEN];
        Syn6Template::new().emit(&mut buf, src, dst, 6443, ProbeTag { sport: 50000, seq: 0xDEAD_BEEF, token: 0 }, 9);
        let t = TcpPacket::new(&buf[40..]).unwrap();
        assert_eq!(tcp::ipv6_checksum(&t, &src, &dst), t.get_checksum());
        assert_eq!((t.get_flags(), t.get_data_offset(), t.get_window()), (TcpFlags::SYN, 6, 1024));
        // The checksum field complements the sum of the pseudo-header and
        // segment, read independently: the whole sums to 0xFFFF.
        let mut sum: u32 = 0;
        let mut words = |b: &[u8]| b.chunks(2).for_each(|c| sum += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32);
        words(&src.octets());
        words(&dst.octets());
        words(&[0, 0, 0, 24, 0, 0, 0, 6]);
        words(&buf[40..]);
        while sum > 0xFFFF {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        assert_eq!(sum, 0xFFFF);
        match Reply6::parse(&buf).unwrap() {
            Reply6::Tcp { ip, tcp } => {
                assert_eq!((ip.src, ip.dst, ip.protocol, ip.hop_limit, ip.flow_label), (src, dst, 6, 64, 9));
                assert_eq!((tcp.sport, tcp.dport, tcp.seq, tcp.ack), (50000, 6443, 0xDEAD_BEEF, 0));
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn rejects_truncated_and_impossible_segments() {
        let mut buf = [0u8; SYN_LEN];
        SynTemplate::new().emit(&mut buf, SRC, DST, 80, ProbeTag { sport: 50000, seq: 1, token: 0 }, 0);
        for n in 0..20 {
            assert_eq!(TcpReplyRepr::parse(&buf[20..20 + n]), Err(ParseError::Truncated), "len {n}");
        }
        // Header claims 24 bytes of options + header, only 20 present.
        assert_eq!(TcpReplyRepr::parse(&buf[20..40]), Err(ParseError::Truncated));
        let mut bad = buf;
        bad[32] = 0x40; // data offset 4 words
        assert_eq!(TcpReplyRepr::parse(&bad[20..]), Err(ParseError::Malformed));
        // Exactly the header the offset claims: valid (bounds are `<`).
        let mut bare = buf;
        bare[32] = 0x50; // 5 words, no options
        assert_eq!(TcpReplyRepr::parse(&bare[20..40]).map(|t| (t.sport, t.dport, t.seq)), Ok((50000, 80, 1)));
    }

    #[test]
    fn flag_classes() {
        let r = |flags| TcpReplyRepr { sport: 1, dport: 2, seq: 0, ack: 0, flags };
        assert!(r(TcpFlags::SYN | TcpFlags::ACK).is_syn_ack());
        assert!(!r(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST).is_syn_ack());
        assert!(r(TcpFlags::RST | TcpFlags::ACK).is_rst());
        assert!(!r(TcpFlags::ACK).is_rst() && !r(TcpFlags::ACK).is_syn_ack());
    }
}
