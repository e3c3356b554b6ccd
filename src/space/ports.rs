//! Port lists in nmap syntax: `22,80,30000-32767`, with `T:`/`U:` switching
//! the protocol of the ports that follow (`T:6443,U:123,8472`); open ranges
//! as nmap reads them (`-` is 1-65535, `1024-` runs to 65535, `-1024`
//! starts at 1); service names from the system's services database
//! (`ssh,http`, looked up for the protocol in force: see [`services`]).
//! Duplicates merge; the result is sorted, TCP before UDP, and indexable
//! both ways. Errors name the token.
use std::fmt;

use super::services;

/// Transport protocol of a probed port (serialised lowercase; parsed
/// case-insensitively, since plans write both TCP and tcp).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            _ => Err(format!("unknown protocol \"{}\" (expected tcp or udp)", s.trim())),
        }
    }
}

impl<'de> serde::Deserialize<'de> for Protocol {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A visitor (not String + parse) keeps the deserializer's position,
        // so plan errors point at the value.
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Protocol;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("tcp or udp")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Protocol, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("bad port specification {token:?}: {reason}")]
pub struct PortSpecError {
    pub token: String,
    pub reason: String,
}

/// A sorted, deduplicated list of (protocol, port) with O(1) reverse lookup.
#[derive(Clone)]
pub struct PortList {
    ports: Vec<(Protocol, u16)>,
    /// `index[proto][port]` = position in `ports`, or `u32::MAX`.
    index: [Box<[u32]>; 2],
}

impl fmt::Debug for PortList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.ports.iter()).finish()
    }
}

impl PartialEq for PortList {
    fn eq(&self, other: &Self) -> bool {
        self.ports == other.ports
    }
}

impl PortList {
    /// Parses nmap-style port syntax; ports without a prefix are `default`.
    /// Ranges are merged before they are expanded, so a spec that repeats
    /// `1-65535` costs no more memory than one that says it once.
    pub fn parse(spec: &str, default: Protocol) -> Result<PortList, PortSpecError> {
        let mut proto = default;
        let mut ranges = Vec::new();
        for raw in spec.split(',') {
            let mut token = raw.trim();
            let err = |reason: &str| PortSpecError { token: raw.trim().to_string(), reason: reason.to_string() };
            if let Some((p, rest)) = token.split_once(':') {
                proto = match p.trim() {
                    "T" | "t" => Protocol::Tcp,
                    "U" | "u" => Protocol::Udp,
                    _ => return Err(err("protocol prefix must be T: or U:")),
                };
                token = rest.trim();
            }
            if token.is_empty() {
                return Err(err("empty port"));
            }
            let (a, b) = parse_range(token, proto).map_err(|r| err(&r))?;
            if a > b {
                return Err(err("range start is after its end"));
            }
            ranges.push((proto, a, b));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(Protocol, u16, u16)> = Vec::with_capacity(ranges.len());
        for (p, a, b) in ranges {
            match merged.last_mut() {
                Some((lp, _, lb)) if *lp == p && a as u32 <= *lb as u32 + 1 => *lb = (*lb).max(b),
                _ => merged.push((p, a, b)),
            }
        }
        Ok(PortList::from_ports(merged.into_iter().flat_map(|(p, a, b)| (a..=b).map(move |port| (p, port))).collect()))
    }

    pub fn from_ports(mut ports: Vec<(Protocol, u16)>) -> PortList {
        ports.sort_unstable();
        ports.dedup();
        let mut index = [vec![u32::MAX; 65536].into_boxed_slice(), vec![u32::MAX; 65536].into_boxed_slice()];
        for (i, &(proto, port)) in ports.iter().enumerate() {
            index[proto as usize][port as usize] = i as u32;
        }
        PortList { ports, index }
    }

    pub fn len(&self) -> usize {
        self.ports.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ports.is_empty()
    }

    pub fn get(&self, i: usize) -> (Protocol, u16) {
        self.ports[i]
    }

    pub fn as_slice(&self) -> &[(Protocol, u16)] {
        &self.ports
    }

    pub fn index_of(&self, proto: Protocol, port: u16) -> Option<usize> {
        let i = self.index[proto as usize][port as usize];
        (i != u32::MAX).then_some(i as usize)
    }

    pub fn count(&self, proto: Protocol) -> usize {
        self.ports.iter().filter(|p| p.0 == proto).count()
    }

    /// Compact nmap-style text of the list (`T:22,80-81,U:53`).
    pub fn to_spec(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let mut last_proto = None;
        let mut i = 0;
        while i < self.ports.len() {
            let (proto, start) = self.ports[i];
            let mut j = i;
            while j + 1 < self.ports.len() && self.ports[j + 1] == (proto, self.ports[j].1.wrapping_add(1)) && self.ports[j].1 != u16::MAX {
                j += 1;
            }
            let end = self.ports[j].1;
            let prefix = if last_proto != Some(proto) { if proto == Protocol::Tcp { "T:" } else { "U:" } } else { "" };
            last_proto = Some(proto);
            parts.push(if start == end { format!("{prefix}{start}") } else { format!("{prefix}{start}-{end}") });
            i = j + 1;
        }
        parts.join(",")
    }
}

/// One token without its prefix: a port, a range (open at either end, as
/// in nmap), or a service name.
fn parse_range(token: &str, proto: Protocol) -> Result<(u16, u16), String> {
    // Names may hold dashes (`http-alt`): a token with a letter is a name.
    if token.bytes().any(|b| b.is_ascii_alphabetic()) {
        let port = services::port_of(token, proto).ok_or_else(|| format!("{token:?} is not a port number, and the services database ({}) has no {proto} service of that name", services::DATABASE))?;
        return Ok((port, port));
    }
    match token.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (a.trim(), b.trim());
            let a = if a.is_empty() { 1 } else { parse_port(a)? };
            let b = if b.is_empty() { 65535 } else { parse_port(b)? };
            Ok((a, b))
        }
        None => parse_port(token).map(|p| (p, p)),
    }
}

fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u32>() {
        Ok(0) => Err("port 0 cannot be scanned".into()),
        Ok(p) if p <= 65535 => Ok(p as u16),
        Ok(p) => Err(format!("port {p} is above 65535")),
        Err(_) => Err(format!("{s:?} is not a port number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Protocol::*;

    #[test]
    fn parses_merges_and_indexes() {
        let l = PortList::parse("443, 22,80-82,81,30000-30002", Tcp).unwrap();
        let want: Vec<_> = [22, 80, 81, 82, 443, 30000, 30001, 30002].iter().map(|&p| (Tcp, p)).collect();
        assert_eq!(l.as_slice(), &want[..]);
        assert_eq!(l.index_of(Tcp, 443), Some(4));
        assert_eq!(l.index_of(Udp, 443), None);
        assert_eq!(l.index_of(Tcp, 23), None);
        assert_eq!(l.to_spec(), "T:22,80-82,443,30000-30002");
    }

    #[test]
    fn protocol_prefixes_switch_following_ports() {
        let l = PortList::parse("T:6443,10250,U:123,8472,T:1", Tcp).unwrap();
        assert_eq!(l.as_slice(), &[(Tcp, 1), (Tcp, 6443), (Tcp, 10250), (Udp, 123), (Udp, 8472)]);
        assert_eq!(l.count(Udp), 2);
        assert_eq!(l.to_spec(), "T:1,6443,10250,U:123,8472");
        assert_eq!(PortList::parse("65535,1-2", Tcp).unwrap().to_spec(), "T:1-2,65535");
    }

    #[test]
    fn repeated_ranges_cost_no_more_than_one() {
        // Once expanded before merging: 20,000 × 65,535 pairs (5 GB).
        let spec = vec!["1-65535"; 20_000].join(",") + ",U:1-65535,U:7";
        let l = PortList::parse(&spec, Tcp).unwrap();
        assert_eq!((l.count(Tcp), l.count(Udp)), (65535, 65535));
        assert_eq!(l.to_spec(), "T:1-65535,U:1-65535");
        assert_eq!(PortList::parse("5-9,1-3,4,10-10,T:2", Tcp).unwrap().to_spec(), "T:1-10");
    }

    #[test]
    fn bad_specs_name_the_token() {
        for (spec, token) in [("22,0", "0"), ("70000", "70000"), ("0-", "0-"), ("9-3", "9-3"), ("22,,23", ""), ("X:22", "X:22"), ("no-such-service", "no-such-service"), ("U:ssh", "U:ssh"), ("1-2-3", "1-2-3"), ("T:", "T:")] {
            let e = PortList::parse(spec, Tcp).unwrap_err();
            assert_eq!(e.token, token, "{spec}");
        }
        assert_eq!(
            PortList::parse("U:ssh", Tcp).unwrap_err().to_string(),
            "bad port specification \"U:ssh\": \"ssh\" is not a port number, and the services database (/etc/services) has no udp service of that name"
        );
    }

    #[test]
    fn open_ranges_as_nmap_reads_them() {
        assert_eq!(PortList::parse("-", Tcp).unwrap().len(), 65535);
        assert_eq!(PortList::parse("-", Tcp).unwrap().to_spec(), "T:1-65535");
        assert_eq!(PortList::parse("1-", Tcp).unwrap().to_spec(), "T:1-65535");
        assert_eq!(PortList::parse("30000-", Tcp).unwrap().to_spec(), "T:30000-65535");
        assert_eq!(PortList::parse("-1024", Tcp).unwrap().to_spec(), "T:1-1024");
        assert_eq!(PortList::parse("T:-1024,U:-", Tcp).unwrap().len(), 1024 + 65535);
    }

    #[test]
    fn service_names_follow_the_protocol_in_force() {
        assert_eq!(PortList::parse("ssh,http,https", Tcp).unwrap().as_slice(), &[(Tcp, 22), (Tcp, 80), (Tcp, 443)]);
        assert_eq!(PortList::parse("T:https,http-alt,U:ntp,domain,https", Tcp).unwrap().to_spec(), "T:443,8080,U:53,123,443");
        assert_eq!(PortList::parse("ntp", Udp).unwrap().as_slice(), &[(Udp, 123)]);
        assert_eq!(PortList::parse("SSH,22", Tcp).unwrap().as_slice(), &[(Tcp, 22)], "names and numbers merge");
    }
}
