//! ICMPv6 destination-unreachable errors and the probe they quote.
//!
//! As for ICMPv4, an error is ours only if the quoted IPv6 header and the
//! first 8 bytes of the quoted transport header are those of a probe we
//! sent (the engine checks that with the cookie). Every other ICMPv6 type
//! — packet too big, time exceeded, echo, neighbour discovery, MLD — is
//! unrelated to a port's state and ignored.
use std::net::Ipv6Addr;

use super::ipv6::Ipv6Repr;
use super::ParseError;

pub const TYPE_DEST_UNREACHABLE: u8 = 1;

/// The codes of a destination-unreachable error (RFC 4443, 3.1).
pub const CODE_NO_ROUTE: u8 = 0;
pub const CODE_ADMIN_PROHIBITED: u8 = 1;
pub const CODE_BEYOND_SCOPE: u8 = 2;
pub const CODE_ADDRESS_UNREACHABLE: u8 = 3;
pub const CODE_PORT_UNREACHABLE: u8 = 4;
pub const CODE_SOURCE_POLICY: u8 = 5;
pub const CODE_REJECT_ROUTE: u8 = 6;

/// A destination-unreachable error and what it quotes of our probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unreachable6Repr {
    pub code: u8,
    pub quoted_src: Ipv6Addr,
    pub quoted_dst: Ipv6Addr,
    pub quoted_protocol: u8,
    pub quoted_sport: u16,
    pub quoted_dport: u16,
    /// Bytes 4..8 of the quoted transport header: the TCP sequence number
    /// (for UDP: length and checksum).
    pub quoted_word: u32,
    /// The quoted flow label: which copy of a probe the error answers.
    pub quoted_flow: u32,
}

impl Unreachable6Repr {
    pub fn parse(icmp: &[u8]) -> Result<Unreachable6Repr, ParseError> {
        if icmp.len() < 8 {
            return Err(ParseError::Truncated);
        }
        if icmp[0] != TYPE_DEST_UNREACHABLE {
            return Err(ParseError::Unrelated);
        }
        let code = icmp[1];
        let (quoted, transport) = Ipv6Repr::parse_quoted(&icmp[8..])?;
        // RFC 4443 quotes as much of the packet as fits in the minimum MTU:
        // our probes' headers are always there, whole.
        if transport.len() < 8 {
            return Err(ParseError::Truncated);
        }
        Ok(Unreachable6Repr {
            code,
            quoted_src: quoted.src,
            quoted_dst: quoted.dst,
            quoted_protocol: quoted.protocol,
            quoted_sport: u16::from_be_bytes([transport[0], transport[1]]),
            quoted_dport: u16::from_be_bytes([transport[2], transport[3]]),
            quoted_word: u32::from_be_bytes([transport[4], transport[5], transport[6], transport[7]]),
            quoted_flow: quoted.flow_label,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::cookie::ProbeTag;
    use crate::wire::ipv6::{write_header, NEXT_ICMPV6};
    use crate::wire::tcp::{Syn6Template, SYN6_LEN};
    use crate::wire::Reply6;

    const SRC: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
    const DST: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 7);

    /// An ICMPv6 message of `ty`/`code` from `DST` quoting `quote_len`
    /// bytes of a SYN.
    fn message(ty: u8, code: u8, quote_len: usize) -> Vec<u8> {
        let mut syn = [0u8; SYN6_LEN];
        Syn6Template::new().emit(&mut syn, SRC, DST, 10250, ProbeTag { sport: 50001, seq: 0x0102_0304, token: 0 }, 7);
        let mut icmp = vec![ty, code, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&syn[..quote_len]);
        let mut ip = vec![0u8; 40];
        write_header(&mut ip, DST, SRC, NEXT_ICMPV6, icmp.len() as u16, 0);
        ip.extend_from_slice(&icmp);
        ip
    }

    #[test]
    fn parses_the_quote() {
        match Reply6::parse(&message(1, CODE_ADMIN_PROHIBITED, SYN6_LEN)).unwrap() {
            Reply6::Unreachable { ip, icmp } => {
                assert_eq!((ip.src, ip.dst, ip.hop_limit), (DST, SRC, 64));
                assert_eq!(
                    icmp,
                    Unreachable6Repr { code: 1, quoted_src: SRC, quoted_dst: DST, quoted_protocol: 6, quoted_sport: 50001, quoted_dport: 10250, quoted_word: 0x0102_0304, quoted_flow: 7 }
                );
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn truncated_quotes_and_other_types_are_refused() {
        let full = message(1, CODE_PORT_UNREACHABLE, SYN6_LEN);
        for n in 0..8 {
            assert_eq!(Unreachable6Repr::parse(&full[40..40 + n]), Err(ParseError::Truncated), "{n} bytes");
        }
        for n in 0..48 {
            assert!(Reply6::parse(&message(1, 4, n)).is_err(), "quote of {n} bytes accepted");
        }
        assert!(Reply6::parse(&message(1, 4, 48)).is_ok());
        // Packet too big, time exceeded, echo, router/neighbour
        // solicitations and advertisements, MLD: none is about a port.
        for ty in [2, 3, 4, 128, 129, 130, 133, 134, 135, 136, 137, 143] {
            assert_eq!(Reply6::parse(&message(ty, 0, SYN6_LEN)), Err(ParseError::Unrelated), "type {ty}");
        }
        // A quote that is not IPv6.
        let mut v4 = message(1, 4, SYN6_LEN);
        v4[48] = 0x45;
        assert_eq!(Reply6::parse(&v4), Err(ParseError::NotIpv6));
    }
}
