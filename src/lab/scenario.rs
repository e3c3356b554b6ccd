//! Lab scenarios: files in `fixtures/scenarios/` that say which hosts exist
//! and how each (host, port) behaves, and so are the ground truth a scan is
//! checked against. The same file drives the namespace lab and the simulated
//! network.
//!
//! ```toml
//! description = "what this scenario models"
//! loss_percent = 2.0          # random loss in each direction (optional)
//! strays = 5000               # forged replies injected during the scan (optional)
//! [scan]
//! targets = ["198.19.0.8/29", "198.19.1.0/24"]
//! ports = "6443,2379-2380,30000-32767"
//! [[hosts]]                   # rules apply in order; later ones win
//! addresses = "198.19.1.0/24" # address, CIDR, a-b range; several with commas
//! open = "80,443"             # a listener answers (SYN-ACK)
//! closed = "10250"            # explicitly refused (RST); the default
//! drop = "10255"              # silently dropped (filtered, no-response)
//! prohibit = "2379"           # ICMP admin-prohibited (filtered)
//! dead = false                # the address answers nothing at all
//! ```
//! Ports take nmap's `T:`/`U:` prefixes (`open = "80,U:123,8472"`). An open
//! UDP port is a responder bound to that address: NTP-shaped on 123 (it
//! echoes the request's transmit timestamp as origin), an echo elsewhere.
//! A closed UDP port answers ICMP port unreachable, drop is `open|filtered`.
//!
//! `icmp` says how ICMP errors for closed UDP ports are limited, one model
//! per limiter a scanner meets:
//! `"per-node"` (the default) gives every lab address its own budget of
//! Linux's defaults (burst 6, then 1/s; an nftables meter keyed by address),
//! as real nodes each have; `"per-node-10"` the same at 10/s (kernels from
//! 2026); `"global"` one bucket for every address, the namespace's global
//! limiter at its defaults (1000/s, burst 50) with the per-destination one
//! lifted (many addresses served by one kernel); `"router"` one
//! per-destination bucket for every address (burst 6, 1/s: a router or
//! firewall answering for a subnet); `"per-node-global"` the per-address
//! meter and the global bucket at once; `"kernel"` leaves the namespace's
//! own limiters at their defaults (one node per lab); `"unlimited"` lifts
//! all limits. TCP rejects are never limited in the lab, so their reasons
//! can be checked exactly.
//! An audit scenario has, instead of (or besides) `[scan]`, an `[audit]`
//! section: the inventory (a path relative to the scenario file), the
//! `portsweep audit` flags, and the exact findings a correct audit reports
//! (`"kind node protocol/port"`, or `"unreachable node"`):
//! ```toml
//! [audit]
//! inventory = "../inventories/lab-cluster.ini"
//! args = ["--phase", "post", "--from", "control-plane", "--addons", "ingress"]
//! nodes = ["198.19.0.2", "198.19.0.10-198.19.0.12"]  # what it must scan
//! ports = "T:443,2379-2380,6443,U:123"
//! findings = ["exposed cp-2 tcp/10259", "unreachable worker-21"]
//! ```
//! `[names]` gives lab hosts DNS names, written to the scanner namespace's
//! own hosts file (see `lab::etc`), so commands run in the lab resolve them
//! and nothing else (a name may have several addresses, as several A
//! records):
//! ```toml
//! [names]
//! "cp-1.lab.test" = "198.19.0.10"
//! "api.lab.test" = ["198.19.0.10", "198.19.0.11"]
//! ```
//! Addresses outside 198.18.0.0/15 and 2001:2::/48 are refused: the lab
//! only ever builds hosts in the benchmarking ranges.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use serde::Deserialize;

use crate::space::{HostSet, PortList, Protocol};

pub use super::truth::{Expected, Oracle, Truth};

/// 198.18.0.0/15, the only addresses a lab may use.
pub const LAB_RANGE: (u32, u32) = (0xC612_0000, 0xC613_FFFF);
/// 198.18.0.0/24 is the lab's own link network.
pub const LINK_NET: (u32, u32) = (0xC612_0000, 0xC612_00FF);
/// 2001:2::/48 (RFC 5180), the only IPv6 addresses a lab may use.
pub const LAB6_RANGE: (u128, u128) = (0x2001_0002_0000 << 80, (0x2001_0002_0000 << 80) | ((1 << 80) - 1));
/// 2001:2::/64 is the lab's own IPv6 link network.
pub const LINK6_NET: (u128, u128) = (0x2001_0002_0000 << 80, (0x2001_0002_0000 << 80) | ((1 << 64) - 1));
/// IPv6 lab addresses are built one by one (each its own /128 on lo).
pub const MAX_LAB_V6: u32 = 4096;

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: {source}")]
    Read { file: String, source: std::io::Error },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{file}: {field}: {message}")]
    Field { file: String, field: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    #[serde(default)]
    description: String,
    #[serde(default)]
    loss_percent: f64,
    #[serde(default)]
    strays: u32,
    #[serde(default)]
    icmp: IcmpModel,
    scan: Option<RawScan>,
    audit: Option<RawAudit>,
    #[serde(default)]
    hosts: Vec<RawRule>,
    #[serde(default)]
    names: std::collections::BTreeMap<String, OneOrMany>,
    #[serde(default)]
    daemons: Vec<RawDaemon>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    kind: String,
    address: String,
    #[serde(default)]
    ports: Vec<u16>,
}

/// One address or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScan {
    targets: Vec<String>,
    ports: String,
    #[serde(default)]
    exclude: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    inventory: String,
    nodes: Vec<String>,
    ports: String,
    #[serde(default)]
    services: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    findings: Vec<String>,
}

/// An audit to run against the lab, with its expected findings.
#[derive(Debug, Clone)]
pub struct AuditSpec {
    /// Resolved against the scenario file's directory (as written when the
    /// scenario has no file).
    pub inventory: std::path::PathBuf,
    pub services: Option<std::path::PathBuf>,
    pub args: Vec<String>,
    /// The node addresses the audit must scan (the inventory's, as the
    /// scenario states them: checked independently of the inventory reader).
    pub nodes: Vec<String>,
    /// The ports it must scan on each node (the plan's, as the scenario
    /// states them: checked independently of the plan reader).
    pub ports: String,
    /// Sorted.
    pub findings: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    addresses: String,
    #[serde(default)]
    open: String,
    #[serde(default)]
    closed: String,
    #[serde(default)]
    drop: String,
    #[serde(default)]
    prohibit: String,
    #[serde(default)]
    dead: bool,
}

/// How ICMP errors for closed UDP ports are rate limited in the lab: the
/// limiters a scanner meets (module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IcmpModel {
    /// One bucket per address, Linux's per-destination default: burst 6,
    /// then 1/s (one Linux node per address).
    #[default]
    PerNode,
    /// One bucket per address, burst 6, then 10/s (kernels from 2026:
    /// `icmp_ratelimit` 100 ms).
    #[serde(rename = "per-node-10")]
    PerNode10,
    /// One global bucket for every address: 1000/s, burst 50, a random 0–2
    /// credits per error (many addresses served by one kernel whose
    /// per-destination limiter is lifted).
    Global,
    /// One per-destination bucket for every address: burst 6, then 1/s (a
    /// router or firewall generating the errors for a whole subnet).
    Router,
    /// Per address (burst 6, 1/s) and one global bucket (1000/s, burst 50)
    /// at once.
    PerNodeGlobal,
    /// The namespace's own limiters at their defaults: one per-destination
    /// bucket for every address and the global one (one node per lab, or a
    /// router that also has a global limit).
    Kernel,
    Unlimited,
}

impl IcmpModel {
    /// The per-address bucket's rate, for models that have one.
    pub fn per_node_rate(self) -> Option<u32> {
        match self {
            IcmpModel::PerNode | IcmpModel::PerNodeGlobal => Some(1),
            IcmpModel::PerNode10 => Some(10),
            _ => None,
        }
    }

    /// The namespace's (`icmp_ratelimit` ms, `icmp_msgs_per_sec`,
    /// `icmp_msgs_burst`); `None` keeps the kernel's defaults.
    pub fn namespace_sysctls(self) -> Option<(u32, u32, u32)> {
        const LIFTED: u32 = 10_000_000;
        match self {
            IcmpModel::Kernel => None,
            IcmpModel::PerNode | IcmpModel::PerNode10 | IcmpModel::Unlimited => Some((0, LIFTED, LIFTED)),
            IcmpModel::Global | IcmpModel::PerNodeGlobal => Some((0, 1000, 50)),
            IcmpModel::Router => Some((1000, LIFTED, LIFTED)),
        }
    }
}

/// How the lab makes a (host, port) behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Behaviour {
    Open,
    Closed,
    Drop,
    Prohibit,
}

/// One rule after parsing: addresses and per-port behaviours (read with the
/// scanner's parsers, to build the lab), and the rule as the file wrote it
/// (read again independently for the ground truth, see `truth`).
#[derive(Debug, Clone)]
pub struct Rule {
    pub hosts: HostSet,
    pub ports: Vec<(PortList, Behaviour)>,
    pub dead: bool,
    pub text: RuleText,
}

/// A `[[hosts]]` rule's fields as written.
#[derive(Debug, Clone, Default)]
pub struct RuleText {
    pub addresses: String,
    pub open: String,
    pub closed: String,
    pub drop: String,
    pub prohibit: String,
}

/// A parsed scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub loss_percent: f64,
    pub strays: u32,
    pub icmp: IcmpModel,
    pub targets: Vec<String>,
    pub exclude: Vec<String>,
    pub ports: String,
    pub rules: Vec<Rule>,
    pub audit: Option<AuditSpec>,
    /// Host names of lab addresses (`[names]`), sorted by name.
    pub names: Vec<(String, Vec<Ipv4Addr>)>,
    /// Real daemons the lab runs (`[[daemons]]`, see `lab::daemons`).
    pub daemons: Vec<super::daemons::DaemonSpec>,
}

impl Scenario {
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: file.clone(), source })?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let mut s = Self::parse(&text, &file, &name)?;
        if let (Some(a), Some(dir)) = (s.audit.as_mut(), path.parent()) {
            a.inventory = dir.join(&a.inventory);
            a.services = a.services.as_ref().map(|p| dir.join(p));
        }
        Ok(s)
    }

    pub fn parse(text: &str, file: &str, name: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Syntax { file: file.into(), message: e.to_string().trim_end().to_string() })?;
        let field = |field: String, message: String| ScenarioError::Field { file: file.into(), field, message };
        if !(0.0..=50.0).contains(&raw.loss_percent) {
            return Err(field("loss_percent".into(), "must be between 0 and 50".into()));
        }
        if raw.scan.is_none() && raw.audit.is_none() {
            return Err(field("scan".into(), "a scenario needs a [scan] or an [audit] section".into()));
        }
        let scan = raw.scan.unwrap_or(RawScan { targets: Vec::new(), ports: String::new(), exclude: Vec::new() });
        if !scan.targets.is_empty() {
            let scan_hosts = HostSet::parse(&scan.targets, &scan.exclude).map_err(|e| field("scan.targets".into(), e.to_string()))?;
            check_in_lab(&scan_hosts).map_err(|m| field("scan.targets".into(), m))?;
            PortList::parse(&scan.ports, Protocol::Tcp).map_err(|e| field("scan.ports".into(), e.to_string()))?;
        }
        let mut rules = Vec::new();
        for (i, r) in raw.hosts.iter().enumerate() {
            let at = |f: &str| format!("hosts[{i}].{f}");
            let tokens: Vec<String> = r.addresses.split([',', ' ']).filter(|t| !t.is_empty()).map(String::from).collect();
            let hosts = HostSet::parse(&tokens, &[]).map_err(|e| field(at("addresses"), e.to_string()))?;
            check_in_lab(&hosts).map_err(|m| field(at("addresses"), m))?;
            let mut ports = Vec::new();
            for (name, spec, b) in [("open", &r.open, Behaviour::Open), ("closed", &r.closed, Behaviour::Closed), ("drop", &r.drop, Behaviour::Drop), ("prohibit", &r.prohibit, Behaviour::Prohibit)] {
                if !spec.trim().is_empty() {
                    ports.push((PortList::parse(spec, Protocol::Tcp).map_err(|e| field(at(name), e.to_string()))?, b));
                }
            }
            let text = RuleText { addresses: r.addresses.clone(), open: r.open.clone(), closed: r.closed.clone(), drop: r.drop.clone(), prohibit: r.prohibit.clone() };
            rules.push(Rule { hosts, ports, dead: r.dead, text });
        }
        let mut names = Vec::new();
        for (host, addrs) in raw.names {
            let at = format!("names.{host:?}");
            if !crate::resolve::is_host_name(&host) {
                return Err(field(at, "not a host name".into()));
            }
            let list = match addrs {
                OneOrMany::One(a) => vec![a],
                OneOrMany::Many(v) => v,
            };
            let mut parsed = Vec::new();
            for a in &list {
                let addr: Ipv4Addr = a.trim().parse().map_err(|_| field(at.clone(), format!("{a:?} is not an IPv4 address")))?;
                check_in_lab(&HostSet::from_addrs([IpAddr::V4(addr)])).map_err(|m| field(at.clone(), m))?;
                parsed.push(addr);
            }
            if parsed.is_empty() {
                return Err(field(at, "no address".into()));
            }
            names.push((host, parsed));
        }
        let daemons = raw.daemons;
        let mut s = Scenario {
            daemons: Vec::new(),
            name: name.to_string(),
            names,
            description: raw.description,
            loss_percent: raw.loss_percent,
            strays: raw.strays,
            icmp: raw.icmp,
            targets: scan.targets,
            exclude: scan.exclude,
            ports: scan.ports,
            rules,
            audit: raw.audit.map(|a| {
                let mut findings = a.findings;
                findings.sort();
                AuditSpec { inventory: a.inventory.into(), services: a.services.map(Into::into), args: a.args, nodes: a.nodes, ports: a.ports, findings }
            }),
        };
        for (i, d) in daemons.into_iter().enumerate() {
            let at = |f: &str| format!("daemons[{i}].{f}");
            let kind: super::daemons::DaemonKind = d.kind.parse().map_err(|e: crate::words::UnknownWord| field(at("kind"), e.to_string()))?;
            let address: IpAddr = d.address.trim().parse().map_err(|_| field(at("address"), format!("{:?} is not an IP address", d.address)))?;
            check_in_lab(&HostSet::from_addrs([address])).map_err(|m| field(at("address"), m))?;
            let ports = if d.ports.is_empty() { kind.default_ports() } else { d.ports };
            let proto = if kind.udp() { Protocol::Udp } else { Protocol::Tcp };
            for &p in &ports {
                if s.behaviour(address, proto, p) != Behaviour::Open || s.dead_hosts().index_of(address).is_some() {
                    return Err(field(at("ports"), format!("{p}/{proto} must be open for {address} in [[hosts]]: the rules are the ground truth")));
                }
            }
            s.daemons.push(super::daemons::DaemonSpec { kind, address, ports });
        }
        Ok(s)
    }

    /// Every address some rule names: the lab makes these local.
    pub fn present_hosts(&self) -> HostSet {
        HostSet::from_ranges(self.rules.iter().flat_map(|r| r.hosts.ranges().iter().copied()).collect())
    }

    /// Whether the lab needs IPv6 at all: some target or some host is
    /// IPv6. Targets count even when no rule names them (absent hosts), so
    /// that the scanner still has its IPv6 route and the target namespace
    /// its blackhole and `ip6` table, and absent addresses stay silent.
    pub fn has_ipv6(&self) -> bool {
        self.present_hosts().has_v6() || self.targets.iter().any(|t| t.contains(':'))
    }

    /// Addresses that exist but answer nothing.
    pub fn dead_hosts(&self) -> HostSet {
        HostSet::from_ranges(self.rules.iter().filter(|r| r.dead).flat_map(|r| r.hosts.ranges().iter().copied()).collect())
    }

    /// The behaviour of `addr:port`/tcp (last matching rule wins; closed by default).
    pub fn behaviour(&self, addr: IpAddr, proto: Protocol, port: u16) -> Behaviour {
        let mut b = Behaviour::Closed;
        for rule in &self.rules {
            if rule.hosts.index_of(addr).is_none() {
                continue;
            }
            for (list, behaviour) in &rule.ports {
                if list.index_of(proto, port).is_some() {
                    b = *behaviour;
                }
            }
        }
        b
    }

    /// The ground truth, read from the rules' text independently of the
    /// scanner's parsers (see `truth`).
    pub fn oracle(&self) -> Oracle {
        Oracle::of(self)
    }

    /// The pairs a scan of `[scan]` must cover, read independently.
    pub fn expected(&self) -> Result<Expected, String> {
        Expected::of(self)
    }
}

fn check_in_lab(set: &HostSet) -> Result<(), String> {
    let mut v6_count = 0u128;
    for &(a, b) in set.ranges() {
        let (IpAddr::V6(a), IpAddr::V6(b)) = (a, b) else { continue };
        let (a, b) = (u128::from(a), u128::from(b));
        if a < LAB6_RANGE.0 || b > LAB6_RANGE.1 {
            return Err(format!("{}-{} is outside 2001:2::/48, the only IPv6 range a lab may use", Ipv6Addr::from(a), Ipv6Addr::from(b)));
        }
        if a <= LINK6_NET.1 && b >= LINK6_NET.0 {
            return Err("2001:2::/64 is the lab's own IPv6 link network".into());
        }
        v6_count += b - a + 1;
    }
    if v6_count > MAX_LAB_V6 as u128 {
        return Err(format!("{v6_count} IPv6 addresses; a lab builds at most {MAX_LAB_V6} (each is its own /128 on lo)"));
    }
    for (a, b) in set.v4_ranges() {
        if a < LAB_RANGE.0 || b > LAB_RANGE.1 {
            return Err(format!("{}-{} is outside 198.18.0.0/15, the only range a lab may use", Ipv4Addr::from(a), Ipv4Addr::from(b)));
        }
        if a <= LINK_NET.1 && b >= LINK_NET.0 {
            return Err("198.18.0.0/24 is the lab's own link network".into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = r#"
        description = "t"
        [scan]
        targets = ["198.19.1.0/29"]
        ports = "22,80-81"
        [[hosts]]
        addresses = "198.19.1.0/30"
        open = "80"
        drop = "81"
        [[hosts]]
        addresses = "198.19.1.1, 198.19.1.3"
        prohibit = "80"
        [[hosts]]
        addresses = "198.19.1.2"
        dead = true
    "#;

    #[test]
    fn rules_apply_in_order() {
        let s = Scenario::parse(S, "s.toml", "s").unwrap();
        let o = s.oracle();
        let t = |a: [u8; 4], p| o.truth(IpAddr::from(a), Protocol::Tcp, p);
        assert_eq!(t([198, 19, 1, 0], 80), Truth { state: "open", reason: "syn-ack" });
        assert_eq!(t([198, 19, 1, 0], 22), Truth { state: "closed", reason: "rst" });
        assert_eq!(t([198, 19, 1, 0], 81), Truth { state: "filtered", reason: "no-response" });
        assert_eq!(t([198, 19, 1, 1], 80), Truth { state: "filtered", reason: "admin-prohibited" });
        assert_eq!(t([198, 19, 1, 2], 22), Truth { state: "filtered", reason: "no-response" });
        assert!(!o.host_up(IpAddr::from([198, 19, 1, 2])));
        assert!(!o.host_up(IpAddr::from([198, 19, 1, 4])), "not in any rule: no such host");
        assert!(o.host_up(IpAddr::from([198, 19, 1, 3])));
    }

    #[test]
    fn refuses_addresses_outside_the_lab_and_names_fields() {
        let bad = S.replace("198.19.1.0/29", "10.0.0.0/29");
        let e = Scenario::parse(&bad, "s.toml", "s").unwrap_err().to_string();
        assert!(e.starts_with("s.toml: scan.targets: 10.0.0.0-10.0.0.7 is outside 198.18.0.0/15"), "{e}");
        let bad = S.replace("drop = \"81\"", "drop = \"81-x\"");
        let e = Scenario::parse(&bad, "s.toml", "s").unwrap_err().to_string();
        assert!(e.starts_with("s.toml: hosts[0].drop: bad port specification"), "{e}");
        let bad = S.replace("198.19.1.0/30", "198.18.0.0/30");
        assert!(Scenario::parse(&bad, "s.toml", "s").unwrap_err().to_string().contains("link network"));
        let e = Scenario::parse("[scan]\ntargets = 3\n", "s.toml", "s").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }
}
