//! IPv4 header: checked parse of what a reply's outer (or quoted) header says.
use std::net::Ipv4Addr;

use pnet_packet::ipv4::Ipv4Packet;

use super::ParseError;

pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;

/// The fields of an IPv4 header that matter to a scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub ttl: u8,
}

impl Ipv4Repr {
    /// Parses a complete header; returns it with the payload it carries.
    /// The payload is cut to the header's total length when the buffer is
    /// longer (link padding) and left as is when shorter (a quote inside an
    /// ICMP error is routinely truncated by the sender).
    pub fn parse(bytes: &[u8]) -> Result<(Ipv4Repr, &[u8]), ParseError> {
        Self::parse_inner(bytes, false)
    }

    /// Parses the header quoted in an ICMP error, where the datagram behind
    /// it may be cut short and fragments are still ours if offset is 0.
    pub fn parse_quoted(bytes: &[u8]) -> Result<(Ipv4Repr, &[u8]), ParseError> {
        Self::parse_inner(bytes, true)
    }

    fn parse_inner(bytes: &[u8], quoted: bool) -> Result<(Ipv4Repr, &[u8]), ParseError> {
        let p = Ipv4Packet::new(bytes).ok_or(ParseError::Truncated)?;
        if p.get_version() != 4 {
            return Err(ParseError::NotIpv4);
        }
        let header_len = p.get_header_length() as usize * 4;
        if header_len < 20 {
            return Err(ParseError::Malformed);
        }
        if bytes.len() < header_len {
            return Err(ParseError::Truncated);
        }
        let total = p.get_total_length() as usize;
        if total < header_len {
            return Err(ParseError::Malformed);
        }
        if p.get_fragment_offset() != 0 {
            return Err(ParseError::Fragment);
        }
        // A raw packet socket sees frames before reassembly: a first fragment
        // may hold a partial transport header. Replies to SYNs are never
        // fragmented, so refuse it; inside a quote the flag is harmless.
        if !quoted && p.get_flags() & 0b001 != 0 {
            return Err(ParseError::Fragment);
        }
        let end = total.min(bytes.len());
        let repr = Ipv4Repr {
            src: p.get_source(),
            dst: p.get_destination(),
            protocol: p.get_next_level_protocol().0,
            ttl: p.get_ttl(),
        };
        Ok((repr, &bytes[header_len..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(total: u16, ihl: u8) -> Vec<u8> {
        let mut b = vec![0u8; 40];
        b[0] = 0x40 | ihl;
        b[2..4].copy_from_slice(&total.to_be_bytes());
        b[8] = 64;
        b[9] = PROTO_TCP;
        b[12..16].copy_from_slice(&[198, 19, 1, 7]);
        b[16..20].copy_from_slice(&[198, 18, 0, 1]);
        b
    }

    #[test]
    fn parses_and_trims_padding() {
        let b = header(30, 5);
        let (r, payload) = Ipv4Repr::parse(&b).unwrap();
        assert_eq!(r, Ipv4Repr { src: Ipv4Addr::new(198, 19, 1, 7), dst: Ipv4Addr::new(198, 18, 0, 1), protocol: PROTO_TCP, ttl: 64 });
        assert_eq!(payload.len(), 10);
    }

    #[test]
    fn rejects_truncated_and_impossible_headers() {
        let b = header(40, 5);
        for n in 0..20 {
            assert_eq!(Ipv4Repr::parse(&b[..n]), Err(ParseError::Truncated), "len {n}");
        }
        assert_eq!(Ipv4Repr::parse(&header(40, 4)), Err(ParseError::Malformed));
        assert_eq!(Ipv4Repr::parse(&header(40, 15)), Err(ParseError::Truncated));
        assert_eq!(Ipv4Repr::parse(&header(12, 5)), Err(ParseError::Malformed));
        let mut v6 = header(40, 5);
        v6[0] = 0x65;
        assert_eq!(Ipv4Repr::parse(&v6), Err(ParseError::NotIpv4));
        let mut frag = header(40, 5);
        frag[7] = 1; // offset 8 bytes
        assert_eq!(Ipv4Repr::parse(&frag), Err(ParseError::Fragment));
        let mut mf = header(40, 5);
        mf[6] = 0x20; // more fragments
        assert_eq!(Ipv4Repr::parse(&mf), Err(ParseError::Fragment));
        assert!(Ipv4Repr::parse_quoted(&mf).is_ok());
    }

    #[test]
    fn a_bare_header_is_a_packet_with_nothing_behind_it() {
        // Exactly 20 bytes, total length 20: valid, empty payload (the
        // bounds are `<`, not `<=`).
        let b = header(20, 5);
        let (r, payload) = Ipv4Repr::parse(&b[..20]).expect("a bare header");
        assert_eq!((r.protocol, payload.len()), (PROTO_TCP, 0));
        // A 24-byte header (options) with total 24, exactly that long.
        let mut opt = header(24, 6);
        opt.truncate(24);
        assert_eq!(Ipv4Repr::parse(&opt).map(|(_, p)| p.len()), Ok(0));
    }
}
