//! IPv6 header: checked parse of what a reply's outer (or quoted) header
//! says, past any extension headers.
//!
//! Why a walk: a reply's transport header may sit behind hop-by-hop,
//! routing or destination options (and a quote inside an ICMPv6 error
//! carries whatever our probe carried). The walk is bounded in count
//! ([`MAX_EXTENSIONS`]) and in bytes (each header's length is checked
//! against the buffer), so a crafted chain costs a few comparisons.
use std::net::Ipv6Addr;

use super::ParseError;

pub const HEADER_LEN: usize = 40;
pub const NEXT_HOP_BY_HOP: u8 = 0;
pub const NEXT_ROUTING: u8 = 43;
pub const NEXT_FRAGMENT: u8 = 44;
pub const NEXT_DEST_OPTIONS: u8 = 60;
pub const NEXT_ICMPV6: u8 = 58;
/// Extension headers walked before a packet is called malformed: real
/// replies carry none or one; 8 is generous and still bounded.
pub const MAX_EXTENSIONS: usize = 8;

/// The fields of an IPv6 header that matter to a scanner. `protocol` is
/// the upper-layer protocol after the extension headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Repr {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub protocol: u8,
    pub hop_limit: u8,
    /// The flow label: our probes carry their copy number in it (IPv6 has
    /// no identification field), and an ICMPv6 error quotes it.
    pub flow_label: u32,
}

impl Ipv6Repr {
    /// Parses a header and its extension headers; returns it with the
    /// upper-layer payload, cut to the payload length when the buffer is
    /// longer (padding) and left as is when shorter (a quote).
    pub fn parse(bytes: &[u8]) -> Result<(Ipv6Repr, &[u8]), ParseError> {
        Self::parse_inner(bytes, false)
    }

    /// Parses the header quoted in an ICMPv6 error: the datagram behind it
    /// may be cut short, and a first fragment (offset 0) is still ours.
    pub fn parse_quoted(bytes: &[u8]) -> Result<(Ipv6Repr, &[u8]), ParseError> {
        Self::parse_inner(bytes, true)
    }

    fn parse_inner(bytes: &[u8], quoted: bool) -> Result<(Ipv6Repr, &[u8]), ParseError> {
        if bytes.len() < HEADER_LEN {
            return Err(ParseError::Truncated);
        }
        if bytes[0] >> 4 != 6 {
            return Err(ParseError::NotIpv6);
        }
        let payload_len = u16::from_be_bytes([bytes[4], bytes[5]]) as usize;
        // Payload length 0 announces a jumbogram (hop-by-hop option): no
        // reply to a probe is one.
        if payload_len == 0 && !quoted {
            return Err(ParseError::Malformed);
        }
        let end = if payload_len == 0 { bytes.len() } else { (HEADER_LEN + payload_len).min(bytes.len()) };
        let addr = |at: usize| {
            let mut a = [0u8; 16];
            a.copy_from_slice(&bytes[at..at + 16]);
            Ipv6Addr::from(a)
        };
        let mut next = bytes[6];
        let mut at = HEADER_LEN;
        for _ in 0..=MAX_EXTENSIONS {
            match next {
                NEXT_HOP_BY_HOP | NEXT_ROUTING | NEXT_DEST_OPTIONS => {
                    if end < at + 8 {
                        return Err(ParseError::Truncated);
                    }
                    let len = (bytes[at + 1] as usize + 1) * 8;
                    next = bytes[at];
                    at += len;
                    if at > end {
                        return Err(ParseError::Truncated);
                    }
                }
                NEXT_FRAGMENT => {
                    if end < at + 8 {
                        return Err(ParseError::Truncated);
                    }
                    let offset = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) >> 3;
                    let more = bytes[at + 3] & 1 != 0;
                    // As for IPv4: replies to probes are never fragments;
                    // inside a quote, the first fragment is whole enough.
                    if offset != 0 || (more && !quoted) {
                        return Err(ParseError::Fragment);
                    }
                    next = bytes[at];
                    at += 8;
                }
                protocol => {
                    let repr = Ipv6Repr {
                        src: addr(8),
                        dst: addr(24),
                        protocol,
                        hop_limit: bytes[7],
                        flow_label: u32::from_be_bytes([0, bytes[1] & 0x0f, bytes[2], bytes[3]]),
                    };
                    return Ok((repr, &bytes[at..end]));
                }
            }
        }
        Err(ParseError::Malformed)
    }
}

/// Writes a 40-byte IPv6 header into `out[..40]`.
#[inline]
pub fn write_header(out: &mut [u8], src: Ipv6Addr, dst: Ipv6Addr, next_header: u8, payload_len: u16, flow_label: u32) {
    let flow = flow_label & 0x000f_ffff;
    out[0] = 0x60;
    out[1] = (flow >> 16) as u8;
    out[2..4].copy_from_slice(&(flow as u16).to_be_bytes());
    out[4..6].copy_from_slice(&payload_len.to_be_bytes());
    out[6] = next_header;
    out[7] = 64;
    out[8..24].copy_from_slice(&src.octets());
    out[24..40].copy_from_slice(&dst.octets());
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 1, 0, 0, 0, 7);
    const D: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);

    /// A header carrying `extensions` (next header, 8-byte body) then 20
    /// bytes of TCP.
    fn packet(extensions: &[(u8, [u8; 8])]) -> Vec<u8> {
        let mut b = vec![0u8; HEADER_LEN];
        let payload = extensions.len() * 8 + 20;
        write_header(&mut b, S, D, extensions.first().map(|e| e.0).unwrap_or(6), payload as u16, 0x12345);
        b[7] = 57;
        for (i, (_, body)) in extensions.iter().enumerate() {
            let mut e = *body;
            e[0] = extensions.get(i + 1).map(|n| n.0).unwrap_or(6);
            b.extend_from_slice(&e);
        }
        b.extend_from_slice(&[0xAA; 20]);
        b
    }

    #[test]
    fn parses_past_extension_headers_and_trims_padding() {
        let mut b = packet(&[]);
        b.extend_from_slice(&[0; 6]); // link padding
        let (r, payload) = Ipv6Repr::parse(&b).unwrap();
        assert_eq!(r, Ipv6Repr { src: S, dst: D, protocol: 6, hop_limit: 57, flow_label: 0x12345 });
        assert_eq!(payload, &[0xAA; 20]);
        let b = packet(&[(NEXT_HOP_BY_HOP, [0; 8]), (NEXT_DEST_OPTIONS, [0; 8]), (NEXT_ROUTING, [0; 8])]);
        let (r, payload) = Ipv6Repr::parse(&b).unwrap();
        assert_eq!((r.protocol, payload.len()), (6, 20));
        // A first fragment with more to come: refused outside a quote only.
        let b = packet(&[(NEXT_FRAGMENT, [0, 0, 0, 1, 0, 0, 0, 9])]);
        assert_eq!(Ipv6Repr::parse(&b), Err(ParseError::Fragment));
        assert_eq!(Ipv6Repr::parse_quoted(&b).map(|(r, p)| (r.protocol, p.len())), Ok((6, 20)));
        // A later fragment is never ours.
        let b = packet(&[(NEXT_FRAGMENT, [0, 0, 0, 8, 0, 0, 0, 9])]);
        assert_eq!(Ipv6Repr::parse_quoted(&b), Err(ParseError::Fragment));
        // An atomic fragment (offset 0, no more): a whole packet.
        let b = packet(&[(NEXT_FRAGMENT, [0; 8])]);
        assert_eq!(Ipv6Repr::parse(&b).map(|(r, _)| r.protocol), Ok(6));
    }

    #[test]
    fn rejects_truncated_and_impossible_headers() {
        let b = packet(&[(NEXT_HOP_BY_HOP, [0; 8])]);
        for n in 0..HEADER_LEN {
            assert_eq!(Ipv6Repr::parse(&b[..n]), Err(ParseError::Truncated), "len {n}");
        }
        // The extension header cut short.
        for n in HEADER_LEN..HEADER_LEN + 8 {
            assert_eq!(Ipv6Repr::parse(&b[..n]), Err(ParseError::Truncated), "len {n}");
        }
        // An extension header claiming more bytes than the packet has.
        let mut long = b.clone();
        long[HEADER_LEN + 1] = 200;
        assert_eq!(Ipv6Repr::parse(&long), Err(ParseError::Truncated));
        // The payload length bounds the walk even when the buffer is longer.
        let mut short = b.clone();
        short[4..6].copy_from_slice(&4u16.to_be_bytes());
        assert_eq!(Ipv6Repr::parse(&short), Err(ParseError::Truncated));
        let mut v4 = b.clone();
        v4[0] = 0x45;
        assert_eq!(Ipv6Repr::parse(&v4), Err(ParseError::NotIpv6));
        let mut jumbo = b.clone();
        jumbo[4..6].copy_from_slice(&[0, 0]);
        assert_eq!(Ipv6Repr::parse(&jumbo), Err(ParseError::Malformed));
        // A chain longer than the bound: malformed, after a bounded walk.
        let chain = packet(&[(NEXT_DEST_OPTIONS, [0; 8]); MAX_EXTENSIONS + 1]);
        assert_eq!(Ipv6Repr::parse(&chain), Err(ParseError::Malformed));
        let chain = packet(&[(NEXT_DEST_OPTIONS, [0; 8]); MAX_EXTENSIONS]);
        assert_eq!(Ipv6Repr::parse(&chain).map(|(r, _)| r.protocol), Ok(6));
    }
}
