//! UDP: the datagram probe we emit (payload from `payload`) and the
//! replies we parse.
use std::net::{Ipv4Addr, Ipv6Addr};

use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv4::{self, MutableIpv4Packet};
use pnet_packet::udp::{self, MutableUdpPacket, UdpPacket};

use super::cookie::ProbeTag;
use super::payload::Payload;
use super::ParseError;

pub const HEADERS_LEN: usize = 28;

/// Writes a UDP probe into `out` (at least `HEADERS_LEN + MAX_PAYLOAD`
/// bytes); returns its length.
pub fn emit(out: &mut [u8], src: Ipv4Addr, dst: Ipv4Addr, dport: u16, tag: ProbeTag, ip_id: u16, payload: Payload) -> usize {
    let body = payload.write(&mut out[HEADERS_LEN..], tag.token);
    let total = HEADERS_LEN + body;
    out[..HEADERS_LEN].fill(0);
    {
        let mut ip = MutableIpv4Packet::new(&mut out[..total]).expect("buffer holds the headers");
        ip.set_version(4);
        ip.set_header_length(5);
        ip.set_total_length(total as u16);
        ip.set_ttl(64);
        ip.set_identification(ip_id);
        ip.set_flags(ipv4::Ipv4Flags::DontFragment);
        ip.set_next_level_protocol(IpNextHeaderProtocols::Udp);
        ip.set_source(src);
        ip.set_destination(dst);
        let c = ipv4::checksum(&ip.to_immutable());
        ip.set_checksum(c);
    }
    let mut u = MutableUdpPacket::new(&mut out[20..total]).expect("buffer holds the headers");
    u.set_source(tag.sport);
    u.set_destination(dport);
    u.set_length((8 + body) as u16);
    let c = udp::ipv4_checksum(&u.to_immutable(), &src, &dst);
    u.set_checksum(c);
    total
}

/// The length and checksum words of a probe as `emit` writes it: what an
/// ICMP error quotes in bytes 4..8 of the transport header.
pub fn quoted_word(src: Ipv4Addr, dst: Ipv4Addr, dport: u16, tag: ProbeTag, payload: Payload) -> u32 {
    let mut buf = [0u8; HEADERS_LEN + super::payload::MAX_PAYLOAD];
    emit(&mut buf, src, dst, dport, tag, 0, payload);
    u32::from_be_bytes([buf[24], buf[25], buf[26], buf[27]])
}

/// IPv6 (40) + UDP (8).
pub const HEADERS6_LEN: usize = 48;

/// Writes an IPv6 UDP probe into `out` (at least `HEADERS6_LEN +
/// MAX_PAYLOAD` bytes); returns its length. The flow label carries the
/// copy number; the checksum is mandatory over IPv6, so a computed 0 is
/// sent as 0xFFFF (RFC 8200, 8.1).
pub fn emit6(out: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr, dport: u16, tag: ProbeTag, ip_id: u16, payload: Payload) -> usize {
    let body = payload.write(&mut out[HEADERS6_LEN..], tag.token);
    let total = HEADERS6_LEN + body;
    out[..HEADERS6_LEN].fill(0);
    super::ipv6::write_header(out, src, dst, IpNextHeaderProtocols::Udp.0, (8 + body) as u16, ip_id as u32);
    let mut u = MutableUdpPacket::new(&mut out[40..total]).expect("buffer holds the headers");
    u.set_source(tag.sport);
    u.set_destination(dport);
    u.set_length((8 + body) as u16);
    let c = udp::ipv6_checksum(&u.to_immutable(), &src, &dst);
    u.set_checksum(if c == 0 { 0xFFFF } else { c });
    total
}

/// The length and checksum words of an IPv6 probe as `emit6` writes it.
pub fn quoted_word6(src: Ipv6Addr, dst: Ipv6Addr, dport: u16, tag: ProbeTag, payload: Payload) -> u32 {
    let mut buf = [0u8; HEADERS6_LEN + super::payload::MAX_PAYLOAD];
    emit6(&mut buf, src, dst, dport, tag, 0, payload);
    u32::from_be_bytes([buf[44], buf[45], buf[46], buf[47]])
}

/// A UDP datagram that may answer a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpRepr<'a> {
    pub sport: u16,
    pub dport: u16,
    pub payload: &'a [u8],
}

impl<'a> UdpRepr<'a> {
    pub fn parse(datagram: &'a [u8]) -> Result<UdpRepr<'a>, ParseError> {
        let u = UdpPacket::new(datagram).ok_or(ParseError::Truncated)?;
        let len = u.get_length() as usize;
        if len < 8 {
            return Err(ParseError::Malformed);
        }
        // The receive slot may cut a long datagram; the payload fields we
        // check are at the front, so keep what we have.
        let end = len.min(datagram.len());
        Ok(UdpRepr { sport: u.get_source(), dport: u.get_destination(), payload: &datagram[8..end] })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Reply, Ipv4Repr};

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 2);

    #[test]
    fn ntp_probe_is_valid_and_parses_back() {
        let mut buf = [0u8; 256];
        let tag = ProbeTag { sport: 50000, seq: 0, token: 0x1122_3344_5566_7788 };
        let n = emit(&mut buf, SRC, DST, 123, tag, 1, Payload::Ntp);
        assert_eq!(n, 28 + 48);
        let ip = pnet_packet::ipv4::Ipv4Packet::new(&buf[..n]).unwrap();
        assert_eq!(ipv4::checksum(&ip), ip.get_checksum());
        let u = UdpPacket::new(&buf[20..n]).unwrap();
        assert_eq!(udp::ipv4_checksum(&u, &SRC, &DST), u.get_checksum());
        match Reply::parse(&buf[..n]).unwrap() {
            Reply::Udp { ip, udp } => {
                assert_eq!(ip, Ipv4Repr { src: SRC, dst: DST, protocol: 17, ttl: 64 });
                assert_eq!((udp.sport, udp.dport, udp.payload.len()), (50000, 123, 48));
            }
            r => panic!("{r:?}"),
        }
        // What an ICMP error quotes: the UDP length (8 + 48) and the
        // checksum, computed here from RFC 768/1071 without pnet or emit().
        let word = quoted_word(SRC, DST, 123, tag, Payload::Ntp);
        assert_eq!(word >> 16, 56);
        assert_eq!(word as u16, rfc768_checksum(SRC, DST, &buf[20..n]));
        // Another cookie, another checksum: the quote identifies the probe.
        let other = ProbeTag { token: tag.token ^ 1, ..tag };
        assert_ne!(quoted_word(SRC, DST, 123, other, Payload::Ntp), word);
    }

    /// The UDP checksum of `datagram` (its own checksum field taken as 0),
    /// 0 sent as 0xFFFF.
    fn rfc768_checksum(src: Ipv4Addr, dst: Ipv4Addr, datagram: &[u8]) -> u16 {
        let mut pseudo: Vec<u8> = [src.octets(), dst.octets()].concat();
        pseudo.extend([0, 17]);
        pseudo.extend((datagram.len() as u16).to_be_bytes());
        sum_with(pseudo, datagram)
    }

    /// The same over IPv6's pseudo-header (RFC 8200, 8.1).
    fn rfc8200_checksum(src: Ipv6Addr, dst: Ipv6Addr, datagram: &[u8]) -> u16 {
        let mut pseudo: Vec<u8> = [src.octets(), dst.octets()].concat();
        pseudo.extend((datagram.len() as u32).to_be_bytes());
        pseudo.extend([0, 0, 0, 17]);
        sum_with(pseudo, datagram)
    }

    fn sum_with(mut bytes: Vec<u8>, datagram: &[u8]) -> u16 {
        let mut d = datagram.to_vec();
        d[6..8].fill(0);
        bytes.extend(&d);
        if bytes.len() % 2 == 1 {
            bytes.push(0);
        }
        let mut sum: u32 = bytes.chunks(2).map(|w| u32::from(w[0]) << 8 | u32::from(w[1])).sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        match !(sum as u16) {
            0 => 0xffff,
            c => c,
        }
    }

    #[test]
    fn ipv6_probe_is_valid_and_a_zero_checksum_is_sent_as_ffff() {
        use crate::wire::Reply6;
        let (src, dst): (Ipv6Addr, Ipv6Addr) = ("2001:2::1".parse().unwrap(), "2001:2:0:1::7".parse().unwrap());
        let mut buf = [0u8; 256];
        let tag = ProbeTag { sport: 50000, seq: 0, token: 0x1122_3344_5566_7788 };
        let n = emit6(&mut buf, src, dst, 123, tag, 3, Payload::Ntp);
        assert_eq!(n, 48 + 48);
        assert_eq!(u16::from_be_bytes([buf[46], buf[47]]), rfc8200_checksum(src, dst, &buf[40..n]));
        match Reply6::parse(&buf[..n]).unwrap() {
            Reply6::Udp { ip, udp } => {
                assert_eq!((ip.src, ip.dst, ip.protocol, ip.flow_label), (src, dst, 17, 3));
                assert_eq!((udp.sport, udp.dport, udp.payload.len()), (50000, 123, 48));
            }
            r => panic!("{r:?}"),
        }
        let word = quoted_word6(src, dst, 123, tag, Payload::Ntp);
        assert_eq!((word >> 16, word as u16), (56, rfc8200_checksum(src, dst, &buf[40..n])));
        // The source port moves the sum by one per step: exactly one port
        // sums to zero, and that datagram must carry 0xFFFF, never 0.
        let zero = (0..=u16::MAX)
            .find(|&sport| {
                let n = emit6(&mut buf, src, dst, 9, ProbeTag { sport, seq: 0, token: 0 }, 0, Payload::Empty);
                let mut d = buf[40..n].to_vec();
                d[6..8].fill(0);
                let mut pseudo: Vec<u8> = [src.octets(), dst.octets()].concat();
                pseudo.extend([0, 0, 0, 8, 0, 0, 0, 17]);
                pseudo.extend(&d);
                let mut sum: u32 = pseudo.chunks(2).map(|w| u32::from(w[0]) << 8 | u32::from(w[1])).sum();
                while sum > 0xffff {
                    sum = (sum & 0xffff) + (sum >> 16);
                }
                !(sum as u16) == 0
            })
            .expect("one source port sums to zero");
        emit6(&mut buf, src, dst, 9, ProbeTag { sport: zero, seq: 0, token: 0 }, 0, Payload::Empty);
        assert_eq!(u16::from_be_bytes([buf[46], buf[47]]), 0xFFFF);
    }

    #[test]
    fn rejects_truncated_and_impossible_datagrams() {
        let mut buf = [0u8; 64];
        let n = emit(&mut buf, SRC, DST, 9, ProbeTag { sport: 50000, seq: 0, token: 0 }, 1, Payload::Empty);
        assert_eq!(n, 28);
        for k in 0..8 {
            assert_eq!(UdpRepr::parse(&buf[20..20 + k]), Err(ParseError::Truncated), "len {k}");
        }
        let mut bad = buf;
        bad[24..26].copy_from_slice(&3u16.to_be_bytes()); // length below the header
        assert_eq!(UdpRepr::parse(&bad[20..28]), Err(ParseError::Malformed));
        // Exactly a header: a valid empty datagram.
        let mut empty = buf;
        empty[24..26].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(UdpRepr::parse(&empty[20..28]).map(|u| (u.sport, u.dport, u.payload.len())), Ok((50000, 9, 0)));
        // Length claims more than is there: keep what arrived.
        let mut long = buf;
        long[24..26].copy_from_slice(&100u16.to_be_bytes());
        assert_eq!(UdpRepr::parse(&long[20..28]).unwrap().payload.len(), 0);
    }
}
