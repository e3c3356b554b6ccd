//! A scenario's ground truth, read from the scenario file alone.
//!
//! Why its own parsers: a truth computed with the scanner's `HostSet` and
//! `PortList` (or its report code) shares their bugs, and a scan that drops
//! a port or misreads a range would still look exact. So the addresses and
//! ports a scenario names are read here again with a deliberately small,
//! separate reader (std's `IpAddr` and integer parsing, nothing of
//! `space`), and [`Expected`] enumerates the (host, port) pairs a correct scan
//! covers from that reading. The lab itself may be built with the scanner's
//! parsers: if they were wrong, the truth would disagree with the lab and
//! the scan, and the check fails.
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::space::Protocol;

use super::scenario::{Behaviour, Scenario};

/// What a correct scan must report for one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truth {
    pub state: &'static str,
    pub reason: &'static str,
}

/// An inclusive address range: (is IPv6, first, last) as numbers.
type Range = (bool, u128, u128);

fn as_number(a: IpAddr) -> (bool, u128) {
    match a {
        IpAddr::V4(a) => (false, u32::from(a) as u128),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

/// Inclusive address ranges of either family.
fn address_ranges(tokens: &[String]) -> Result<Vec<Range>, String> {
    let mut out = Vec::new();
    for t in tokens.iter().flat_map(|t| t.split([',', ' '])).map(str::trim).filter(|t| !t.is_empty()) {
        let ip = |s: &str| s.trim().parse::<IpAddr>().map(as_number).map_err(|_| format!("{s:?} is not an address"));
        let range = if let Some((a, b)) = t.split_once('-') {
            let ((f, a), (g, b)) = (ip(a)?, ip(b)?);
            if f != g {
                return Err(format!("{t:?}: mixed families"));
            }
            (f, a, b)
        } else if let Some((a, bits)) = t.split_once('/') {
            let (v6, start) = ip(a)?;
            let width = if v6 { 128 } else { 32 };
            let bits: u32 = bits.parse().map_err(|_| format!("{t:?}: bad prefix"))?;
            if bits > width {
                return Err(format!("{t:?}: bad prefix"));
            }
            let host_mask = if bits == 0 { if v6 { u128::MAX } else { u32::MAX as u128 } } else { (1u128 << (width - bits)) - 1 };
            (v6, start & !host_mask, (start & !host_mask) | host_mask)
        } else {
            let (v6, a) = ip(t)?;
            (v6, a, a)
        };
        if range.1 > range.2 {
            return Err(format!("{t:?}: start after end"));
        }
        out.push(range);
    }
    Ok(out)
}

fn to_addr(v6: bool, n: u128) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    }
}

/// (protocol, first, last) runs of a port spec: `22,80-81,U:123,T:1`.
fn port_runs(spec: &str) -> Result<Vec<(Protocol, u16, u16)>, String> {
    let mut proto = Protocol::Tcp;
    let mut out = Vec::new();
    for token in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let body = match token.as_bytes() {
            [b'T' | b't', b':', ..] => {
                proto = Protocol::Tcp;
                &token[2..]
            }
            [b'U' | b'u', b':', ..] => {
                proto = Protocol::Udp;
                &token[2..]
            }
            _ => token,
        };
        let num = |s: &str| s.trim().parse::<u16>().map_err(|_| format!("{token:?}: not a port"));
        let (a, b) = match body.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => (num(body)?, num(body)?),
        };
        out.push((proto, a, b));
    }
    Ok(out)
}

fn covers(ranges: &[Range], addr: IpAddr) -> bool {
    let (v6, a) = as_number(addr);
    ranges.iter().any(|&(f, x, y)| f == v6 && x <= a && a <= y)
}

/// The pairs a scan of the scenario's `[scan]` section must cover: every
/// target address (minus exclusions) × every listed port, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub hosts: Vec<IpAddr>,
    pub ports: Vec<(Protocol, u16)>,
}

impl Expected {
    pub fn of(scenario: &Scenario) -> Result<Expected, String> {
        let include = address_ranges(&scenario.targets)?;
        let exclude = address_ranges(&scenario.exclude)?;
        let mut hosts = BTreeSet::new();
        for &(v6, a, b) in &include {
            for x in a..=b {
                if !exclude.iter().any(|&(f, p, q)| f == v6 && p <= x && x <= q) {
                    hosts.insert(to_addr(v6, x));
                }
            }
        }
        Ok(Expected { hosts: hosts.into_iter().collect(), ports: Self::ports(&scenario.ports)? })
    }

    /// A port spec read independently, sorted and deduplicated.
    pub fn ports(spec: &str) -> Result<Vec<(Protocol, u16)>, String> {
        let mut ports = BTreeSet::new();
        for (proto, a, b) in port_runs(spec)? {
            ports.extend((a..=b).map(|p| (proto, p)));
        }
        Ok(ports.into_iter().collect())
    }

    pub fn pairs(&self) -> u64 {
        self.hosts.len() as u64 * self.ports.len() as u64
    }
}

#[derive(Debug, Clone)]
struct TruthRule {
    hosts: Vec<Range>,
    ports: Vec<(Protocol, u16, u16, Behaviour)>,
    dead: bool,
}

/// Ground-truth lookups from the scenario's rules, read independently.
#[derive(Debug, Clone)]
pub struct Oracle {
    rules: Vec<TruthRule>,
}

impl Oracle {
    /// Reads the rules of `scenario` (their text as the file gave it).
    pub fn of(scenario: &Scenario) -> Oracle {
        let rules = scenario
            .rules
            .iter()
            .map(|r| {
                let t = &r.text;
                let mut ports = Vec::new();
                for (spec, b) in [(&t.open, Behaviour::Open), (&t.closed, Behaviour::Closed), (&t.drop, Behaviour::Drop), (&t.prohibit, Behaviour::Prohibit)] {
                    // The scenario parser has already refused bad specs.
                    ports.extend(port_runs(spec).unwrap_or_default().into_iter().map(|(p, a, z)| (p, a, z, b)));
                }
                TruthRule { hosts: address_ranges(std::slice::from_ref(&t.addresses)).unwrap_or_default(), ports, dead: r.dead }
            })
            .collect();
        Oracle { rules }
    }

    /// How the lab treats `addr:port` (later rules win; closed by default).
    pub fn behaviour(&self, addr: IpAddr, proto: Protocol, port: u16) -> Behaviour {
        let mut b = Behaviour::Closed;
        for rule in self.rules.iter().filter(|r| covers(&r.hosts, addr)) {
            // Within a rule, open/closed/drop/prohibit apply in that order.
            for &(p, lo, hi, behaviour) in &rule.ports {
                if p == proto && lo <= port && port <= hi {
                    b = behaviour;
                }
            }
        }
        b
    }

    /// The address exists (some rule names it) and is not dead.
    pub fn host_up(&self, addr: IpAddr) -> bool {
        self.rules.iter().any(|r| covers(&r.hosts, addr)) && !self.rules.iter().any(|r| r.dead && covers(&r.hosts, addr))
    }

    pub fn truth(&self, addr: IpAddr, proto: Protocol, port: u16) -> Truth {
        let behaviour = if self.host_up(addr) { self.behaviour(addr, proto, port) } else { Behaviour::Drop };
        let t = |state, reason| Truth { state, reason };
        match (proto, behaviour) {
            (Protocol::Tcp, Behaviour::Open) => t("open", "syn-ack"),
            (Protocol::Tcp, Behaviour::Closed) => t("closed", "rst"),
            (Protocol::Tcp, Behaviour::Drop) => t("filtered", "no-response"),
            (Protocol::Udp, Behaviour::Open) => t("open", "udp-response"),
            (Protocol::Udp, Behaviour::Closed) => t("closed", "port-unreach"),
            (Protocol::Udp, Behaviour::Drop) => t("open|filtered", "no-response"),
            (_, Behaviour::Prohibit) => t("filtered", "admin-prohibited"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses_and_ports_without_the_scanner() {
        let r = address_ranges(&["198.19.1.0/30, 198.19.2.5".into(), "198.19.3.1-198.19.3.2".into()]).unwrap();
        let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap()) as u128;
        assert_eq!(r, vec![(false, ip("198.19.1.0"), ip("198.19.1.3")), (false, ip("198.19.2.5"), ip("198.19.2.5")), (false, ip("198.19.3.1"), ip("198.19.3.2"))]);
        assert_eq!(address_ranges(&["0.0.0.0/0".into()]).unwrap(), vec![(false, 0, u32::MAX as u128)]);
        // IPv6, read with std's parser only: 2001:2::/126 is 4 addresses.
        let base = u128::from("2001:2::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(address_ranges(&["2001:2::/126, 2001:2::1:5-2001:2::1:6".into()]).unwrap(), vec![(true, base, base + 3), (true, base + 0x10005, base + 0x10006)]);
        assert!(address_ranges(&["2001:2::9-198.19.1.1".into()]).is_err());
        assert!(address_ranges(&["2001:2::/129".into()]).is_err());
        assert!(address_ranges(&["198.19.1.9-198.19.1.1".into()]).is_err());
        assert!(address_ranges(&["198.19.1.0/33".into()]).is_err());
        assert_eq!(
            Expected::ports("443,22,80-81,U:123,8472,T:1,22").unwrap(),
            vec![(Protocol::Tcp, 1), (Protocol::Tcp, 22), (Protocol::Tcp, 80), (Protocol::Tcp, 81), (Protocol::Tcp, 443), (Protocol::Udp, 123), (Protocol::Udp, 8472)]
        );
        assert_eq!(Expected::ports("30000-32767").unwrap().len(), 2768);
        assert!(Expected::ports("x").is_err());
    }
}
