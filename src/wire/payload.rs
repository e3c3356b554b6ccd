//! What a UDP probe carries, by destination port: a request that makes a
//! real service answer (NTP, DNS), or a well-formed but harmless packet for
//! tunnel endpoints (VXLAN, Geneve, WireGuard) that drop what they cannot
//! authenticate or deliver. Everything else gets an empty datagram.
//!
//! Where the protocol echoes a request field, the probe's cookie goes there
//! (NTP: the transmit timestamp, echoed as the reply's origin timestamp;
//! DNS: the query ID), so a reply is validated by 64 or 16 keyed bits on top
//! of the source port's 10.
//!
//! The table is a value ([`PayloadTable`]) handed to the engine with the
//! scan's configuration, not a process-wide registration: a plan's own
//! payloads (`udp_payloads`) travel with the scan that uses them, and two
//! scans in one process (tests, `audit --every`) cannot see each other's.

/// The payload kinds portsweep knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    Empty,
    /// NTP v4 client request (mode 3), 48 bytes.
    Ntp,
    /// DNS query for the root's NS records, recursion not desired.
    Dns,
    /// VXLAN header (I flag, VNI 0: not a network flannel or Cilium uses)
    /// around a minimal Ethernet frame of a local-experimental EtherType.
    Vxlan,
    /// Geneve header (VNI 0) around the same frame.
    Geneve,
    /// A WireGuard handshake-initiation-shaped message whose MACs cannot be
    /// valid: endpoints drop it silently.
    WireGuard,
    /// Bytes given by the user (a plan file's `udp_payloads`).
    Custom(&'a [u8]),
}

/// The documented table: port → payload.
pub const TABLE: &[(u16, Payload<'static>, &str)] = &[
    (53, Payload::Dns, "DNS query (ID = cookie)"),
    (123, Payload::Ntp, "NTP v4 client request (transmit timestamp = cookie)"),
    (4789, Payload::Vxlan, "VXLAN (IANA port; Calico VXLAN)"),
    (6081, Payload::Geneve, "Geneve (Cilium Geneve tunnels)"),
    (8472, Payload::Vxlan, "VXLAN (Linux default port; flannel vxlan, Cilium)"),
    (51820, Payload::WireGuard, "WireGuard (Calico WireGuard)"),
    (51821, Payload::WireGuard, "WireGuard (Calico WireGuard IPv6)"),
    (51871, Payload::WireGuard, "WireGuard (Cilium transparent encryption)"),
];

/// Longest payload written (WireGuard initiation: 148 bytes).
pub const MAX_PAYLOAD: usize = 148;

/// Which payload each UDP port gets: the built-in [`TABLE`], overridden
/// per port by a plan's own payloads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayloadTable {
    /// Sorted by port, one entry per port.
    custom: Vec<(u16, Box<[u8]>)>,
}

impl PayloadTable {
    /// The built-in table alone.
    pub fn builtin() -> PayloadTable {
        PayloadTable::default()
    }

    /// The built-in table with `custom` payloads (a later entry for the
    /// same port wins).
    pub fn with_custom(custom: impl IntoIterator<Item = (u16, Vec<u8>)>) -> PayloadTable {
        let mut by_port = std::collections::BTreeMap::new();
        for (port, bytes) in custom {
            by_port.insert(port, bytes.into_boxed_slice());
        }
        PayloadTable { custom: by_port.into_iter().collect() }
    }

    /// The payload a probe to `port` carries.
    pub fn for_port(&self, port: u16) -> Payload<'_> {
        if let Ok(i) = self.custom.binary_search_by_key(&port, |(p, _)| *p) {
            return Payload::Custom(&self.custom[i].1);
        }
        TABLE.iter().find(|(p, _, _)| *p == port).map(|(_, k, _)| *k).unwrap_or(Payload::Empty)
    }
}

const ETH_FRAME: [u8; 14] = [0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x88, 0xB5];

impl Payload<'_> {
    /// Writes the payload carrying `token` into `out`; returns its length.
    pub fn write(&self, out: &mut [u8], token: u64) -> usize {
        let put = |out: &mut [u8], bytes: &[u8]| {
            let n = bytes.len().min(out.len());
            out[..n].copy_from_slice(&bytes[..n]);
            n
        };
        match self {
            Payload::Empty => 0,
            Payload::Ntp => {
                let mut p = [0u8; 48];
                p[0] = 0x23; // LI 0, version 4, mode 3 (client)
                p[40..48].copy_from_slice(&token.to_be_bytes());
                put(out, &p)
            }
            Payload::Dns => {
                let id = (token as u16).to_be_bytes();
                // ID, flags 0, QDCOUNT 1, no other records; QNAME ".", QTYPE NS, QCLASS IN.
                let p = [id[0], id[1], 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1];
                put(out, &p)
            }
            Payload::Vxlan => {
                let mut p = [0u8; 8 + 14];
                p[0] = 0x08;
                p[8..].copy_from_slice(&ETH_FRAME);
                put(out, &p)
            }
            Payload::Geneve => {
                let mut p = [0u8; 8 + 14];
                p[2..4].copy_from_slice(&0x6558u16.to_be_bytes()); // transparent Ethernet bridging
                p[8..].copy_from_slice(&ETH_FRAME);
                put(out, &p)
            }
            Payload::WireGuard => {
                let mut p = [0u8; 148];
                p[0] = 1; // handshake initiation
                p[4..8].copy_from_slice(&(token as u32).to_le_bytes()); // sender index
                put(out, &p)
            }
            Payload::Custom(bytes) => put(out, bytes),
        }
    }

    /// Whether a reply payload echoes the cookie this payload carried.
    /// Payloads with no echoed field accept any reply (the source port's
    /// bits were checked already).
    pub fn reply_matches(&self, reply: &[u8], token: u64) -> bool {
        match self {
            Payload::Ntp => reply.len() >= 48 && reply[24..32] == token.to_be_bytes(),
            Payload::Dns => reply.len() >= 12 && reply[0..2] == (token as u16).to_be_bytes() && reply[2] & 0x80 != 0,
            _ => true,
        }
    }
}

/// Parses a hex string (`"de ad be ef"` or `"deadbeef"`) for user payloads.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err("odd number of hex digits".into());
    }
    if digits.len() / 2 > MAX_PAYLOAD {
        return Err(format!("payload longer than {MAX_PAYLOAD} bytes"));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| format!("{:?} is not a hex byte", &digits[i..i + 2])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_request_and_reply_echo() {
        let mut b = [0u8; 256];
        let n = Payload::Ntp.write(&mut b, 0x0102_0304_0506_0708);
        assert_eq!(n, 48);
        assert_eq!(b[0], 0x23);
        assert_eq!(&b[40..48], &[1, 2, 3, 4, 5, 6, 7, 8]);
        let mut reply = [0u8; 48];
        reply[0] = 0x24;
        reply[24..32].copy_from_slice(&b[40..48]);
        assert!(Payload::Ntp.reply_matches(&reply, 0x0102_0304_0506_0708));
        assert!(!Payload::Ntp.reply_matches(&reply, 0x0102_0304_0506_0709));
        assert!(!Payload::Ntp.reply_matches(&reply[..47], 0x0102_0304_0506_0708));
    }

    #[test]
    fn dns_query_is_well_formed_and_id_checked() {
        let mut b = [0u8; 256];
        let n = Payload::Dns.write(&mut b, 0xABCD);
        assert_eq!(&b[..n], &[0xAB, 0xCD, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1]);
        let mut reply = b[..n].to_vec();
        reply[2] = 0x80; // QR: a response
        assert!(Payload::Dns.reply_matches(&reply, 0xABCD));
        assert!(!Payload::Dns.reply_matches(&b[..n], 0xABCD), "a query is not a reply");
        assert!(!Payload::Dns.reply_matches(&reply, 0xABCE));
        assert!(!Payload::Dns.reply_matches(&reply[..11], 0xABCD));
    }

    #[test]
    fn tunnel_payloads_have_their_headers() {
        let mut b = [0u8; 256];
        assert_eq!(Payload::Vxlan.write(&mut b, 0), 22);
        assert_eq!(&b[..8], &[0x08, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&b[20..22], &[0x88, 0xB5]);
        assert_eq!(Payload::Geneve.write(&mut b, 0), 22);
        assert_eq!(&b[..4], &[0, 0, 0x65, 0x58]);
        assert_eq!(Payload::WireGuard.write(&mut b, 7), 148);
        assert_eq!(&b[..8], &[1, 0, 0, 0, 7, 0, 0, 0]);
        assert_eq!(Payload::Empty.write(&mut b, 7), 0);
        // A short buffer is never overrun.
        assert_eq!(Payload::WireGuard.write(&mut b[..10], 7), 10);
    }

    #[test]
    fn table_lookup_and_hex() {
        let builtin = PayloadTable::builtin();
        assert_eq!(builtin.for_port(8472), Payload::Vxlan);
        assert_eq!(builtin.for_port(123), Payload::Ntp);
        assert_eq!(builtin.for_port(8285), Payload::Empty);
        // A plan's payloads override per port, the last one for a port wins,
        // and the built-in table is untouched.
        let plan = PayloadTable::with_custom([(8472, vec![1]), (9999, vec![2, 3]), (9999, vec![4])]);
        assert_eq!(plan.for_port(8472), Payload::Custom(&[1]));
        assert_eq!(plan.for_port(9999), Payload::Custom(&[4]));
        assert_eq!(plan.for_port(123), Payload::Ntp);
        assert_eq!(builtin.for_port(8472), Payload::Vxlan);
        assert_eq!(parse_hex("de ad BE ef").unwrap(), vec![0xDE, 0xAD, 0xBE, 0xEF]);
        assert!(parse_hex("abc").is_err());
        assert_eq!(parse_hex(&"ab".repeat(MAX_PAYLOAD)).map(|b| b.len()), Ok(MAX_PAYLOAD));
        assert_eq!(parse_hex(&"ab".repeat(MAX_PAYLOAD + 1)), Err(format!("payload longer than {MAX_PAYLOAD} bytes")));
        assert!(parse_hex("zz").is_err());
    }
}
