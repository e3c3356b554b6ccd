//! Checking a scan report against a scenario's ground truth, pair by pair.
use std::net::Ipv4Addr;

use super::scenario::Scenario;
use crate::report::{HostStatus, ScanReport};
use crate::space::HostSet;

/// One pair the report got wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub address: Ipv4Addr,
    pub port: u16,
    pub expected: String,
    pub reported: String,
}

#[derive(Debug, Clone, Default)]
pub struct Verification {
    pub pairs: u64,
    pub exact: u64,
    pub host_status_errors: Vec<Ipv4Addr>,
    pub mismatches: Vec<Mismatch>,
    pub missing_hosts: Vec<Ipv4Addr>,
}

impl Verification {
    pub fn is_exact(&self) -> bool {
        self.exact == self.pairs && self.host_status_errors.is_empty() && self.missing_hosts.is_empty()
    }

    /// The first few problems, for a test failure or the demo.
    pub fn summary(&self, max: usize) -> String {
        let mut s = format!("{}/{} pairs exact", self.exact, self.pairs);
        for m in self.mismatches.iter().take(max) {
            s += &format!("\n  {}:{} expected {} reported {}", m.address, m.port, m.expected, m.reported);
        }
        if !self.host_status_errors.is_empty() {
            s += &format!("\n  wrong host status: {:?}", &self.host_status_errors[..self.host_status_errors.len().min(max)]);
        }
        if !self.missing_hosts.is_empty() {
            s += &format!("\n  hosts missing from the report: {:?}", &self.missing_hosts[..self.missing_hosts.len().min(max)]);
        }
        s
    }
}

/// Compares every (target, port) of the scenario's scan with the report.
/// `check_reasons` also compares reasons (off where ICMP may be limited).
pub fn verify(scenario: &Scenario, report: &ScanReport, check_reasons: bool) -> Verification {
    match HostSet::parse(&scenario.targets, &scenario.exclude) {
        Ok(hosts) => verify_hosts(scenario, report, &hosts, check_reasons),
        Err(_) => Verification::default(),
    }
}

/// Compares every (host, port) of `hosts` × the report's ports with the
/// scenario's truth (an audit's scan covers the inventory's nodes).
pub fn verify_hosts(scenario: &Scenario, report: &ScanReport, hosts: &HostSet, check_reasons: bool) -> Verification {
    let oracle = scenario.oracle();
    let mut v = Verification::default();
    let Some(ports) = report.port_list() else {
        return v;
    };
    for addr in hosts.iter() {
        let Ok(i) = report.hosts.binary_search_by_key(&addr, |h| h.address) else {
            v.missing_hosts.push(addr);
            continue;
        };
        // A host is up when it answered anything at all.
        let mut expected_up = false;
        for &(proto, port) in ports.as_slice() {
            v.pairs += 1;
            let truth = oracle.truth(addr, proto, port);
            expected_up |= truth.reason != "no-response";
            let got = report.lookup(addr, proto, port, &ports);
            let ok = got.is_some_and(|(s, r)| s.as_str() == truth.state && (!check_reasons || r.as_str() == truth.reason));
            if ok {
                v.exact += 1;
            } else if v.mismatches.len() < 1000 {
                v.mismatches.push(Mismatch {
                    address: addr,
                    port,
                    expected: format!("{} ({})", truth.state, truth.reason),
                    reported: got.map(|(s, r)| format!("{} ({})", s.as_str(), r.as_str())).unwrap_or_else(|| "nothing".into()),
                });
            }
        }
        if (report.hosts[i].status == HostStatus::Up) != expected_up {
            v.host_status_errors.push(addr);
        }
    }
    v
}

/// An audit's findings as `"kind node protocol/port"` (`"kind node"` for
/// findings about a whole node), sorted: the form scenarios list them in.
pub fn finding_keys(report: &crate::audit::AuditReport) -> Vec<String> {
    let mut keys: Vec<String> = report
        .findings
        .iter()
        .map(|f| match f.protocol {
            Some(p) => format!("{} {} {}/{}", f.kind, f.node, p, f.port),
            None => format!("{} {}", f.kind, f.node),
        })
        .collect();
    keys.sort();
    keys
}
