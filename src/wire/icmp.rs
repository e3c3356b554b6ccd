//! ICMP destination-unreachable errors and the probe they quote.
//!
//! An error is only ours if the quoted IP header and the first 8 bytes of the
//! quoted transport header (ports and, for TCP, the sequence number) are
//! those of a probe we sent; the engine checks that with the cookie.
use std::net::Ipv4Addr;

use super::ipv4::Ipv4Repr;
use super::ParseError;

pub const TYPE_DEST_UNREACHABLE: u8 = 3;

/// A destination-unreachable error and what it quotes of our probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnreachableRepr {
    pub code: u8,
    /// Source and destination of the quoted probe.
    pub quoted_src: Ipv4Addr,
    pub quoted_dst: Ipv4Addr,
    pub quoted_protocol: u8,
    pub quoted_sport: u16,
    pub quoted_dport: u16,
    /// Bytes 4..8 of the quoted transport header: the TCP sequence number
    /// (for UDP: length and checksum).
    pub quoted_word: u32,
    /// The quoted IP header's identification: which copy of a probe the
    /// error answers (the ICMP rounds number their probes with it).
    pub quoted_id: u16,
}

impl UnreachableRepr {
    pub fn parse(icmp: &[u8]) -> Result<UnreachableRepr, ParseError> {
        if icmp.len() < 8 {
            return Err(ParseError::Truncated);
        }
        if icmp[0] != TYPE_DEST_UNREACHABLE {
            return Err(ParseError::Unrelated);
        }
        let code = icmp[1];
        let (quoted, transport) = Ipv4Repr::parse_quoted(&icmp[8..])?;
        // RFC 792 guarantees 8 bytes of the quoted datagram's payload.
        if transport.len() < 8 {
            return Err(ParseError::Truncated);
        }
        Ok(UnreachableRepr {
            code,
            quoted_src: quoted.src,
            quoted_dst: quoted.dst,
            quoted_protocol: quoted.protocol,
            quoted_sport: u16::from_be_bytes([transport[0], transport[1]]),
            quoted_dport: u16::from_be_bytes([transport[2], transport[3]]),
            quoted_word: u32::from_be_bytes([transport[4], transport[5], transport[6], transport[7]]),
            // parse_quoted checked that a whole header (≥ 20 bytes) is there.
            quoted_id: u16::from_be_bytes([icmp[12], icmp[13]]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::cookie::ProbeTag;
    use crate::wire::{Reply, SynTemplate, SYN_LEN};

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const DST: Ipv4Addr = Ipv4Addr::new(198, 19, 1, 7);

    /// An ICMP error from `DST` quoting `quote_len` bytes of a SYN.
    fn error(code: u8, quote_len: usize) -> Vec<u8> {
        let mut syn = [0u8; SYN_LEN];
        SynTemplate::new().emit(&mut syn, SRC, DST, 10250, ProbeTag { sport: 50001, seq: 0x0102_0304, token: 0 }, 7);
        let mut icmp = vec![3, code, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&syn[..quote_len]);
        let total = 20 + icmp.len();
        let mut ip = vec![0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0, 0, 63, 1, 0, 0, 198, 19, 1, 7, 198, 18, 0, 1];
        ip.extend_from_slice(&icmp);
        ip
    }

    #[test]
    fn parses_the_quote() {
        match Reply::parse(&error(13, 28)).unwrap() {
            Reply::Unreachable { ip, icmp } => {
                assert_eq!((ip.src, ip.ttl), (DST, 63));
                assert_eq!(
                    icmp,
                    UnreachableRepr { code: 13, quoted_src: SRC, quoted_dst: DST, quoted_protocol: 6, quoted_sport: 50001, quoted_dport: 10250, quoted_word: 0x0102_0304, quoted_id: 7 }
                );
            }
            r => panic!("{r:?}"),
        }
    }

    #[test]
    fn short_icmp_messages_are_truncated_not_a_panic() {
        let full = error(3, 28);
        for n in 0..=8 {
            assert_eq!(UnreachableRepr::parse(&full[20..20 + n]), Err(ParseError::Truncated), "{n} bytes");
        }
        assert!(UnreachableRepr::parse(&full[20..]).is_ok());
    }

    #[test]
    fn rejects_short_quotes_and_other_types() {
        for n in 0..28 {
            assert!(Reply::parse(&error(3, n)).is_err(), "quote of {n} bytes accepted");
        }
        let mut echo = error(0, 28);
        echo[20] = 0; // echo reply
        assert_eq!(Reply::parse(&echo), Err(ParseError::Unrelated));
        let mut quote_v6 = error(0, 28);
        quote_v6[28] = 0x60;
        assert_eq!(Reply::parse(&quote_v6), Err(ParseError::NotIpv4));
    }
}
