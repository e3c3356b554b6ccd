//! The packet codec: the bytes of a probe and the meaning of a reply.
//!
//! One file per protocol, as views over borrowed bytes (pnet_packet's) plus a
//! small owned `Repr` that is parsed after every length and field check, so
//! the engine never touches raw offsets. Nothing here does I/O.
pub mod cookie;
pub mod icmp;
pub mod ipv4;
pub mod payload;
pub mod tcp;
pub mod udp;

pub use cookie::{Cookie, SPORT_BASE};
pub use icmp::UnreachableRepr;
pub use ipv4::Ipv4Repr;
pub use payload::Payload;
pub use tcp::{SynTemplate, TcpReplyRepr, SYN_LEN};
pub use udp::UdpRepr;

/// Why a received packet was not understood. Counted, never fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("packet shorter than its headers")]
    Truncated,
    #[error("not an IPv4 packet")]
    NotIpv4,
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
