//! A scenario's ground truth, read from the scenario file alone.
//!
//! Why its own parsers: a truth computed with the scanner's `HostSet` and
//! `PortList` (or its report code) shares their bugs, and a scan that drops
//! a port or misreads a range would still look exact. So the addresses and
//! ports a scenario names are read here again with a deliberately small,
//! separate reader (std's `Ipv4Addr` and integer parsing, nothing of
//! `space`), and [`Expected`] enumerates the (host, port) pairs a correct scan
//! covers from that reading. The lab itself may be built with the scanner's
//! parsers: if they were wrong, the truth would disagree with the lab and
//! the scan, and the check fails.
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::space::Protocol;

use super::scenario::{Behaviour, Scenario};

/// What a correct scan must report for one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truth {
    pub state: &'static str,
    pub reason: &'static str,
}

/// Inclusive address ranges as u32.
fn address_ranges(tokens: &[String]) -> Result<Vec<(u32, u32)>, String> {
    let mut out = Vec::new();
    for t in tokens.iter().flat_map(|t| t.split([',', ' '])).map(str::trim).filter(|t| !t.is_empty()) {
        let ip = |s: &str| s.trim().parse::<Ipv4Addr>().map(u32::from).map_err(|_| format!("{s:?} is not an address"));
        let range = if let Some((a, b)) = t.split_once('-') {
            (ip(a)?, ip(b)?)
        } else if let Some((a, bits)) = t.split_once('/') {
            let bits: u32 = bits.parse().map_err(|_| format!("{t:?}: bad prefix"))?;
            if bits > 32 {
                return Err(format!("{t:?}: bad prefix"));
            }
            let size = 1u64 << (32 - bits);
            let start = ip(a)? as u64 & !(size - 1);
            (start as u32, (start + size - 1) as u32)
        } else {
            let a = ip(t)?;
            (a, a)
        };
        if range.0 > range.1 {
            return Err(format!("{t:?}: start after end"));
        }
        out.push(range);
    }
    Ok(out)
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

fn covers(ranges: &[(u32, u32)], addr: Ipv4Addr) -> bool {
    let a = u32::from(addr);
    ranges.iter().any(|&(x, y)| x <= a && a <= y)
}

/// The pairs a scan of the scenario's `[scan]` section must cover: every
/// target address (minus exclusions) × every listed port, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub hosts: Vec<Ipv4Addr>,
    pub ports: Vec<(Protocol, u16)>,
}

impl Expected {
    pub fn of(scenario: &Scenario) -> Result<Expected, String> {
        let include = address_ranges(&scenario.targets)?;
        let exclude = address_ranges(&scenario.exclude)?;
        let mut hosts = BTreeSet::new();
        for &(a, b) in &include {
            for x in a..=b {
                if !exclude.iter().any(|&(p, q)| p <= x && x <= q) {
                    hosts.insert(Ipv4Addr::from(x));
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
    hosts: Vec<(u32, u32)>,
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
    pub fn behaviour(&self, addr: Ipv4Addr, proto: Protocol, port: u16) -> Behaviour {
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
    pub fn host_up(&self, addr: Ipv4Addr) -> bool {
        self.rules.iter().any(|r| covers(&r.hosts, addr)) && !self.rules.iter().any(|r| r.dead && covers(&r.hosts, addr))
    }

    pub fn truth(&self, addr: Ipv4Addr, proto: Protocol, port: u16) -> Truth {
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
        let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        assert_eq!(r, vec![(ip("198.19.1.0"), ip("198.19.1.3")), (ip("198.19.2.5"), ip("198.19.2.5")), (ip("198.19.3.1"), ip("198.19.3.2"))]);
        assert_eq!(address_ranges(&["0.0.0.0/0".into()]).unwrap(), vec![(0, u32::MAX)]);
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
