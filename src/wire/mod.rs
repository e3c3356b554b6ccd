//! The packet codec: the bytes of a probe and the meaning of a reply.
//!
//! One file per protocol, as views over borrowed bytes (pnet_packet's) plus a
//! small owned `Repr` that is parsed after every length and field check, so
//! the engine never touches raw offsets. Nothing here does I/O.
pub mod cookie;
pub mod icmp;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod payload;
pub mod tcp;
pub mod udp;

pub use cookie::{Cookie, SPORT_BASE};
pub use icmp::UnreachableRepr;
pub use icmpv6::Unreachable6Repr;
pub use ipv4::Ipv4Repr;
pub use ipv6::Ipv6Repr;
pub use payload::Payload;
pub use tcp::{Syn6Template, SynTemplate, TcpReplyRepr, SYN6_LEN, SYN_LEN};
pub use udp::UdpRepr;

/// Why a received packet was not understood. Counted, never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("packet shorter than its headers")]
    Truncated,
    #[error("not an IPv4 packet")]
    NotIpv4,
    #[error("not an IPv6 packet")]
    NotIpv6,
    #[error("malformed header")]
    Malformed,
    #[error("a fragment")]
    Fragment,
    #[error("not a reply kind we probe for")]
    Unrelated,
}

/// A parsed reply to one of our probes, before cookie validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    Tcp { ip: Ipv4Repr, tcp: TcpReplyRepr },
    Udp { ip: Ipv4Repr, udp: UdpRepr<'a> },
    Unreachable { ip: Ipv4Repr, icmp: UnreachableRepr },
}

impl Reply<'_> {
    /// Parses an IPv4 datagram (starting at the IP header) into a reply.
    pub fn parse(bytes: &[u8]) -> Result<Reply<'_>, ParseError> {
        let (ip, payload) = Ipv4Repr::parse(bytes)?;
        match ip.protocol {
            ipv4::PROTO_TCP => Ok(Reply::Tcp { ip, tcp: TcpReplyRepr::parse(payload)? }),
            ipv4::PROTO_UDP => Ok(Reply::Udp { ip, udp: UdpRepr::parse(payload)? }),
            ipv4::PROTO_ICMP => Ok(Reply::Unreachable { ip, icmp: UnreachableRepr::parse(payload)? }),
            _ => Err(ParseError::Unrelated),
        }
    }
}

/// A parsed IPv6 reply to one of our probes, before cookie validation:
/// the IPv6 twin of [`Reply`] (the hop limit stands where IPv4 has the TTL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply6<'a> {
    Tcp { ip: Ipv6Repr, tcp: TcpReplyRepr },
    Udp { ip: Ipv6Repr, udp: UdpRepr<'a> },
    Unreachable { ip: Ipv6Repr, icmp: Unreachable6Repr },
}

impl Reply6<'_> {
    /// Parses an IPv6 packet (starting at the IP header) into a reply.
    pub fn parse(bytes: &[u8]) -> Result<Reply6<'_>, ParseError> {
        let (ip, payload) = Ipv6Repr::parse(bytes)?;
        match ip.protocol {
            ipv4::PROTO_TCP => Ok(Reply6::Tcp { ip, tcp: TcpReplyRepr::parse(payload)? }),
            ipv4::PROTO_UDP => Ok(Reply6::Udp { ip, udp: UdpRepr::parse(payload)? }),
            ipv6::NEXT_ICMPV6 => Ok(Reply6::Unreachable { ip, icmp: Unreachable6Repr::parse(payload)? }),
            _ => Err(ParseError::Unrelated),
        }
    }
}
