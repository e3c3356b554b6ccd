//! Checking a scan report against a scenario's ground truth, pair by pair.
//!
//! Everything the check expects comes from the scenario file (see `truth`):
//! which hosts and ports the report must cover, and what each pair must be.
//! The report is read as its JSON says (a host's listed ports, else its
//! default), not through the report module's own lookups, so a report that
//! drops a host or a port, or a lookup bug, shows as a failure rather than
//! as fewer pairs checked.
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

use super::scenario::Scenario;
use super::truth::{Expected, Oracle};
use crate::report::{HostReport, HostStatus, ScanReport};
use crate::space::Protocol;

/// One pair the report got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub address: IpAddr,
    pub protocol: Protocol,
    pub port: u16,
    pub expected: String,
    pub reported: String,
}

#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// Pairs the scenario says a correct report covers.
    pub expected_pairs: u64,
    /// Pairs compared (those of hosts present in the report).
    pub pairs: u64,
    pub exact: u64,
    /// Pairs left silent by an interrupted scan (see [`verify_interrupted`]).
    pub unanswered: u64,
    pub host_status_errors: Vec<IpAddr>,
    pub mismatches: Vec<Mismatch>,
    pub missing_hosts: Vec<IpAddr>,
    /// Hosts the report has that the scenario's targets do not.
    pub extra_hosts: Vec<IpAddr>,
    /// The report's port list, when it differs from the scenario's.
    pub wrong_ports: Option<String>,
    /// Why the scenario itself could not be read.
    pub scenario_error: Option<String>,
}

impl Verification {
    /// Every expected pair was compared and right, every host has the
    /// right status, and the report covers exactly the expected space.
    pub fn is_exact(&self) -> bool {
        self.expected_pairs > 0
            && self.pairs == self.expected_pairs
            && self.exact == self.pairs
            && self.host_status_errors.is_empty()
            && self.missing_hosts.is_empty()
            && self.extra_hosts.is_empty()
            && self.wrong_ports.is_none()
            && self.scenario_error.is_none()
    }

    /// The first few problems, for a test failure or the demo.
    pub fn summary(&self, max: usize) -> String {
        let mut s = format!("{}/{} pairs exact", self.exact, self.expected_pairs);
        if let Some(e) = &self.scenario_error {
            s += &format!("\n  the scenario cannot be read: {e}");
        }
        if let Some(p) = &self.wrong_ports {
            s += &format!("\n  {p}");
        }
        for m in self.mismatches.iter().take(max) {
            s += &format!("\n  {}:{}/{} expected {} reported {}", m.address, m.port, m.protocol, m.expected, m.reported);
        }
        for (what, list) in [("wrong host status", &self.host_status_errors), ("hosts missing from the report", &self.missing_hosts), ("hosts the report should not have", &self.extra_hosts)] {
            if !list.is_empty() {
                s += &format!("\n  {what}: {:?}", &list[..list.len().min(max)]);
            }
        }
        s
    }
}

/// Compares a scan of the scenario's `[scan]` section with the truth.
/// `check_reasons` also compares reasons (off where ICMP may be limited).
pub fn verify(scenario: &Scenario, report: &ScanReport, check_reasons: bool) -> Verification {
    match scenario.expected() {
        Ok(expected) => verify_expected(&scenario.oracle(), &expected, report, check_reasons, false),
        Err(e) => Verification { scenario_error: Some(e), ..Default::default() },
    }
}

/// Checks the partial report of an interrupted scan: every pair must be
/// right (state and reason) or still silent (`no-response`, counted in
/// `unanswered`: maybe never probed), and every host reported up must be
/// up. Such a report is never exact; a right one has no mismatches and no
/// host errors.
pub fn verify_interrupted(scenario: &Scenario, report: &ScanReport) -> Verification {
    match scenario.expected() {
        Ok(expected) => verify_expected(&scenario.oracle(), &expected, report, true, true),
        Err(e) => Verification { scenario_error: Some(e), ..Default::default() },
    }
}

/// Compares the scan inside an audit with the truth, over the nodes and
/// ports the scenario's `[audit]` section says the audit must scan.
pub fn verify_audit(scenario: &Scenario, report: &ScanReport, check_reasons: bool) -> Verification {
    let Some(spec) = &scenario.audit else {
        return Verification { scenario_error: Some("no [audit] section".into()), ..Default::default() };
    };
    let mut s = scenario.clone();
    s.targets = spec.nodes.clone();
    s.exclude = Vec::new();
    s.ports = spec.ports.clone();
    verify(&s, report, check_reasons)
}

/// Compares a scan of `targets` × `ports` (the test's own statement of what
/// it scanned, in the scenario's forms: addresses, CIDRs, ranges; numeric
/// ports with `T:`/`U:`) with the scenario's truth.
pub fn verify_targets(scenario: &Scenario, report: &ScanReport, targets: &[&str], ports: &str, check_reasons: bool) -> Verification {
    let mut s = scenario.clone();
    s.targets = targets.iter().map(|t| t.to_string()).collect();
    s.exclude = Vec::new();
    s.ports = ports.to_string();
    verify(&s, report, check_reasons)
}

/// A host's pairs as the JSON report states them: its listed ports, and
/// its default for every other.
struct Reported<'a> {
    host: &'a HostReport,
    listed: HashMap<(Protocol, u16), (&'static str, &'static str)>,
}

impl<'a> Reported<'a> {
    fn new(host: &'a HostReport) -> Self {
        Reported { host, listed: host.ports.iter().map(|p| ((p.protocol, p.port), (p.state.as_str(), p.reason.as_str()))).collect() }
    }

    fn get(&self, proto: Protocol, port: u16) -> (&'static str, &'static str) {
        self.listed.get(&(proto, port)).copied().unwrap_or((self.host.default_state.as_str(), self.host.default_reason.as_str()))
    }
}

fn verify_expected(oracle: &Oracle, expected: &Expected, report: &ScanReport, check_reasons: bool, interrupted: bool) -> Verification {
    let mut v = Verification { expected_pairs: expected.pairs(), ..Default::default() };
    match Expected::ports(&report.ports) {
        Ok(ports) if ports == expected.ports => {}
        Ok(ports) => v.wrong_ports = Some(format!("the report scanned {} ports ({}), the scenario {}", ports.len(), report.ports, expected.ports.len())),
        Err(e) => v.wrong_ports = Some(format!("the report's port list {:?} does not read: {e}", report.ports)),
    }
    let by_address: HashMap<IpAddr, &HostReport> = report.hosts.iter().map(|h| (h.address, h)).collect();
    let wanted: BTreeSet<IpAddr> = expected.hosts.iter().copied().collect();
    v.extra_hosts = report.hosts.iter().map(|h| h.address).filter(|a| !wanted.contains(a)).collect();
    for &addr in &expected.hosts {
        let Some(host) = by_address.get(&addr) else {
            v.missing_hosts.push(addr);
            continue;
        };
        let pairs = Reported::new(host);
        // A host is up when it answered anything at all.
        let mut expected_up = false;
        for &(proto, port) in &expected.ports {
            v.pairs += 1;
            let truth = oracle.truth(addr, proto, port);
            expected_up |= truth.reason != "no-response";
            let (state, reason) = pairs.get(proto, port);
            if state == truth.state && (!check_reasons || reason == truth.reason) {
                v.exact += 1;
            } else if interrupted && reason == "no-response" {
                v.unanswered += 1;
            } else if v.mismatches.len() < 1000 {
                v.mismatches.push(Mismatch { address: addr, protocol: proto, port, expected: format!("{} ({})", truth.state, truth.reason), reported: format!("{state} ({reason})") });
            }
        }
        let reported_up = host.status == HostStatus::Up;
        if reported_up != expected_up && !(interrupted && !reported_up) {
            v.host_status_errors.push(addr);
        }
    }
    v
}

/// How a report that may not be exact stands to the truth: wrong only
/// where it says it does not know.
#[derive(Debug, Clone, Default)]
pub struct Honesty {
    pub verification: Verification,
    /// Wrong pairs reported `open|filtered (no-response)` and listed as
    /// unresolved: honest ignorance.
    pub unresolved_wrong: u64,
    /// Wrong pairs the report claims as settled: overclaims.
    pub overclaims: Vec<Mismatch>,
    /// Hosts reported down that are up, without every UDP pair of theirs
    /// listed unresolved.
    pub status_overclaims: Vec<IpAddr>,
    /// Pairs listed unresolved over all hosts.
    pub listed_unresolved: u64,
}

impl Honesty {
    /// No overclaim, and `stats.udp_unresolved` counts what the hosts list.
    pub fn is_honest(&self, report: &ScanReport) -> bool {
        self.overclaims.is_empty() && self.status_overclaims.is_empty() && self.listed_unresolved == report.stats.udp_unresolved && self.verification.missing_hosts.is_empty() && self.verification.wrong_ports.is_none()
    }
}

/// Checks that every pair is right or is an unresolved `open|filtered`
/// (listed in its host's `udp_unresolved`), and that a host is reported
/// down wrongly only if all its UDP pairs are unresolved.
pub fn verify_honest(scenario: &Scenario, report: &ScanReport) -> Honesty {
    let v = verify(scenario, report, true);
    let by_address: HashMap<IpAddr, &HostReport> = report.hosts.iter().map(|h| (h.address, h)).collect();
    let mut h = Honesty { listed_unresolved: report.hosts.iter().map(|h| h.udp_unresolved.len() as u64).sum(), ..Default::default() };
    let udp_ports = Expected::ports(&report.ports).map(|p| p.iter().filter(|(pr, _)| *pr == Protocol::Udp).count()).unwrap_or(0);
    for m in &v.mismatches {
        let listed = m.protocol == Protocol::Udp && by_address.get(&m.address).is_some_and(|h| h.udp_unresolved.binary_search(&m.port).is_ok());
        if listed && m.reported == "open|filtered (no-response)" {
            h.unresolved_wrong += 1;
        } else {
            h.overclaims.push(m.clone());
        }
    }
    for a in &v.host_status_errors {
        let all_unresolved = by_address.get(a).is_some_and(|h| h.status == HostStatus::Down && h.udp_unresolved.len() == udp_ports && udp_ports > 0);
        if !all_unresolved {
            h.status_overclaims.push(*a);
        }
    }
    h.verification = v;
    h
}

/// An audit's findings as `"kind node protocol/port"` (`"kind node"` for
/// findings about a whole node), sorted: the form scenarios list them in.
/// The findings of an audit as sorted keys, `kind node proto/port` (or
/// `kind node` for a whole node). A node name with several addresses (a
/// dual-stack node) is written `node@address`, so each key says which
/// address, and so which family, it is about.
pub fn finding_keys(report: &crate::audit::AuditReport) -> Vec<String> {
    let mut addresses: std::collections::BTreeMap<&str, std::collections::BTreeSet<std::net::IpAddr>> = Default::default();
    for n in &report.nodes {
        addresses.entry(n.name.as_str()).or_default().insert(n.address);
    }
    let mut keys: Vec<String> = report
        .findings
        .iter()
        .map(|f| {
            let node = if addresses.get(f.node.as_str()).is_some_and(|a| a.len() > 1) { format!("{}@{}", f.node, f.address) } else { f.node.clone() };
            match f.protocol {
                Some(p) => format!("{} {node} {}/{}", f.kind, p, f.port),
                None => format!("{} {node}", f.kind),
            }
        })
        .collect();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{PortReport, Reason, State};

    const S: &str = r#"
        [scan]
        targets = ["198.19.1.0/30"]
        exclude = ["198.19.1.3"]
        ports = "22,80,U:123"
        [[hosts]]
        addresses = "198.19.1.0-198.19.1.1"
        open = "80"
        [[hosts]]
        addresses = "198.19.1.1"
        drop = "22"
    "#;

    fn host(a: u8, up: bool, ports: Vec<PortReport>) -> HostReport {
        let (default_state, default_reason) = if up { (State::Closed, Reason::Rst) } else { (State::Filtered, Reason::NoResponse) };
        HostReport { address: IpAddr::from([198, 19, 1, a]), name: None, status: if up { HostStatus::Up } else { HostStatus::Down }, default_state, default_reason, ports, udp_unresolved: Vec::new() }
    }

    fn port(proto: Protocol, port: u16, state: State, reason: Reason) -> PortReport {
        PortReport { port, protocol: proto, state, reason, ttl: None, service: None }
    }

    /// The correct report for `S`: .0 and .1 up with 80 open and 123
    /// closed, .1's 22 dropped; .2 down.
    fn correct() -> ScanReport {
        let udp_closed = port(Protocol::Udp, 123, State::Closed, Reason::PortUnreach);
        let open = port(Protocol::Tcp, 80, State::Open, Reason::SynAck);
        let down_udp = port(Protocol::Udp, 123, State::OpenFiltered, Reason::NoResponse);
        ScanReport::for_test(
            "T:22,80,U:123",
            vec![
                host(0, true, vec![open.clone(), udp_closed.clone()]),
                host(1, true, vec![port(Protocol::Tcp, 22, State::Filtered, Reason::NoResponse), open, udp_closed]),
                host(2, false, vec![down_udp]),
            ],
        )
    }

    #[test]
    fn a_correct_report_is_exact_and_every_defect_is_not() {
        let s = Scenario::parse(S, "s.toml", "s").unwrap();
        let v = verify(&s, &correct(), true);
        assert!(v.is_exact(), "{}", v.summary(5));
        assert_eq!((v.expected_pairs, v.pairs, v.exact), (9, 9, 9));

        // A port dropped from the report (and from every host).
        let mut r = correct();
        r.ports = "T:22,80".into();
        for h in &mut r.hosts {
            h.ports.retain(|p| p.protocol == Protocol::Tcp);
        }
        let v = verify(&s, &r, true);
        assert!(!v.is_exact());
        assert!(v.wrong_ports.as_deref().is_some_and(|w| w.contains("2 ports")), "{:?}", v.wrong_ports);

        // A host dropped, a host too many.
        let mut r = correct();
        r.hosts.pop();
        let v = verify(&s, &r, true);
        assert_eq!((v.is_exact(), v.missing_hosts.clone(), v.pairs), (false, vec![IpAddr::from([198, 19, 1, 2])], 6));
        let mut r = correct();
        r.hosts.push(host(3, false, Vec::new()));
        assert_eq!(verify(&s, &r, true).extra_hosts, vec![IpAddr::from([198, 19, 1, 3])]);

        // One wrong pair; a wrong reason only when reasons count.
        let mut r = correct();
        r.hosts[0].ports[0].state = State::Closed;
        let v = verify(&s, &r, true);
        assert_eq!((v.exact, v.mismatches.len()), (8, 1));
        assert_eq!(v.mismatches[0].reported, "closed (syn-ack)");
        let mut r = correct();
        r.hosts[1].ports[0].reason = Reason::AdminProhibited;
        assert!(!verify(&s, &r, true).is_exact());
        assert!(verify(&s, &r, false).is_exact());

        // A host's status.
        let mut r = correct();
        r.hosts[2].status = HostStatus::Up;
        assert_eq!(verify(&s, &r, true).host_status_errors, vec![IpAddr::from([198, 19, 1, 2])]);
    }

    #[test]
    fn nothing_to_check_is_never_exact() {
        let s = Scenario::parse(&S.replace("ports = \"22,80,U:123\"", "ports = \"\""), "s.toml", "s");
        // An empty port list is refused by the scanner's parser already;
        // the check must not call 0 of 0 pairs exact either.
        if let Ok(s) = s {
            let mut r = correct();
            r.ports = String::new();
            assert!(!verify(&s, &r, true).is_exact());
        }
        let v = Verification::default();
        assert!(!v.is_exact());
    }
}
