//! Comparing two reports (a sweep before a change and one after it): every
//! (address, protocol, port) both cover whose state changed, hosts that went
//! up or down, and for audits the findings that appeared, disappeared or
//! changed severity. Pairs only one report covers are counted, not listed:
//! a different target or port set is a different question, not a change.
//! Exit status follows ndiff: 0 no change, 1 changes, 2 error.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::audit::{AuditReport, Finding, Severity};
use crate::report::{HostStatus, Reason, ScanReport, State};
use crate::space::{PortList, Protocol};

/// Either kind of report, read from JSON by its `kind` field.
pub enum AnyReport {
    Scan(Box<ScanReport>),
    Audit(Box<AuditReport>),
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: not a portsweep report (kind {kind:?})")]
    Kind { file: String, kind: String },
    #[error(transparent)]
    Read(#[from] crate::bounded::BoundedError),
}

/// Only a report's `kind`, read without building the rest.
#[derive(Deserialize)]
struct Kind {
    kind: Option<String>,
}

impl AnyReport {
    /// Reads a report file of at most [`crate::bounded::REPORT_FILE`].
    pub fn load(path: &std::path::Path) -> Result<AnyReport, DiffError> {
        let text = crate::bounded::read_text(path, crate::bounded::REPORT_FILE, "report")?;
        AnyReport::from_json(&text, &path.display().to_string())
    }

    /// Parses a report: its kind first (the rest skipped), then the report
    /// of that kind straight from the text (no generic JSON tree, which
    /// costs several times the text).
    pub fn from_json(text: &str, file: &str) -> Result<AnyReport, DiffError> {
        let err = |e: serde_json::Error| DiffError::Parse { file: file.into(), message: format!("line {}: {e}", e.line()) };
        let kind: Kind = serde_json::from_str(text).map_err(err)?;
        match kind.kind.as_deref() {
            Some("scan") => Ok(AnyReport::Scan(Box::new(serde_json::from_str(text).map_err(err)?))),
            Some("audit") => Ok(AnyReport::Audit(Box::new(serde_json::from_str(text).map_err(err)?))),
            other => Err(DiffError::Kind { file: file.into(), kind: other.unwrap_or("none").into() }),
        }
    }

    pub fn scan(&self) -> &ScanReport {
        match self {
            AnyReport::Scan(s) => s,
            AnyReport::Audit(a) => &a.scan,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub state: State,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortChange {
    pub address: IpAddr,
    /// The host name the address was given as (after the change, else before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub protocol: Protocol,
    pub port: u16,
    pub before: Seen,
    pub after: Seen,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostChange {
    pub address: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `up`, `down`, or `absent` (not in that report).
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityChange {
    pub finding: Finding,
    pub before: Severity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingChanges {
    pub appeared: Vec<Finding>,
    pub disappeared: Vec<Finding>,
    pub severity_changed: Vec<SeverityChange>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffSummary {
    pub pairs_compared: u64,
    pub ports_changed: u64,
    pub hosts_changed: u64,
    /// Pairs covered by one report only (other targets or ports).
    pub pairs_only_before: u64,
    pub pairs_only_after: u64,
    pub findings_appeared: u64,
    pub findings_disappeared: u64,
    pub findings_severity_changed: u64,
}

/// The JSON diff (`portsweep diff --format json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub portsweep: String,
    pub kind: String,
    pub before: String,
    pub after: String,
    pub hosts: Vec<HostChange>,
    pub ports: Vec<PortChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<FindingChanges>,
    pub summary: DiffSummary,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.hosts.is_empty() && self.ports.is_empty() && self.findings.as_ref().is_none_or(|f| f.appeared.is_empty() && f.disappeared.is_empty() && f.severity_changed.is_empty())
    }
}

fn status(s: HostStatus) -> &'static str {
    match s {
        HostStatus::Up => "up",
        HostStatus::Down => "down",
    }
}

/// Compares `before` with `after` (named for the output by `names`).
pub fn diff(before: &AnyReport, after: &AnyReport, names: (&str, &str)) -> Diff {
    let (b, a) = (before.scan(), after.scan());
    let empty = PortList::from_ports(Vec::new());
    let (bp, ap) = (b.port_list().unwrap_or_else(|| empty.clone()), a.port_list().unwrap_or(empty));
    let mut summary = DiffSummary::default();
    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    let b_hosts: BTreeMap<IpAddr, &crate::report::HostReport> = b.hosts.iter().map(|h| (h.address, h)).collect();
    let a_hosts: BTreeMap<IpAddr, &crate::report::HostReport> = a.hosts.iter().map(|h| (h.address, h)).collect();
    let all: BTreeSet<IpAddr> = b_hosts.keys().chain(a_hosts.keys()).copied().collect();
    for addr in all {
        let (hb, ha) = (b_hosts.get(&addr), a_hosts.get(&addr));
        let sb = hb.map(|h| status(h.status)).unwrap_or("absent");
        let sa = ha.map(|h| status(h.status)).unwrap_or("absent");
        let name = ha.and_then(|h| h.name.clone()).or_else(|| hb.and_then(|h| h.name.clone()));
        if sb != sa {
            hosts.push(HostChange { address: addr, name: name.clone(), before: sb.into(), after: sa.into() });
        }
        let in_b = |p: &(Protocol, u16)| hb.is_some() && bp.index_of(p.0, p.1).is_some();
        let in_a = |p: &(Protocol, u16)| ha.is_some() && ap.index_of(p.0, p.1).is_some();
        let union: BTreeSet<(Protocol, u16)> = bp.as_slice().iter().chain(ap.as_slice()).copied().collect();
        for p in union {
            match (in_b(&p), in_a(&p)) {
                (true, true) => {
                    summary.pairs_compared += 1;
                    let (Some(x), Some(y)) = (b.lookup(addr, p.0, p.1, &bp), a.lookup(addr, p.0, p.1, &ap)) else { continue };
                    if x.0 != y.0 {
                        ports.push(PortChange { address: addr, name: name.clone(), protocol: p.0, port: p.1, before: Seen { state: x.0, reason: x.1 }, after: Seen { state: y.0, reason: y.1 } });
                    }
                }
                (true, false) => summary.pairs_only_before += 1,
                (false, true) => summary.pairs_only_after += 1,
                (false, false) => {}
            }
        }
    }
    let findings = match (before, after) {
        (AnyReport::Audit(x), AnyReport::Audit(y)) => Some(finding_changes(&x.findings, &y.findings)),
        _ => None,
    };
    summary.ports_changed = ports.len() as u64;
    summary.hosts_changed = hosts.len() as u64;
    if let Some(f) = &findings {
        summary.findings_appeared = f.appeared.len() as u64;
        summary.findings_disappeared = f.disappeared.len() as u64;
        summary.findings_severity_changed = f.severity_changed.len() as u64;
    }
    Diff {
        portsweep: env!("CARGO_PKG_VERSION").into(),
        kind: "diff".into(),
        before: names.0.into(),
        after: names.1.into(),
        hosts,
        ports,
        findings,
        summary,
    }
}

type FindingKey = (IpAddr, Option<Protocol>, u16, String);

fn key(f: &Finding) -> FindingKey {
    (f.address, f.protocol, f.port, f.kind.as_str().to_string())
}

fn finding_changes(before: &[Finding], after: &[Finding]) -> FindingChanges {
    let b: BTreeMap<FindingKey, &Finding> = before.iter().map(|f| (key(f), f)).collect();
    let a: BTreeMap<FindingKey, &Finding> = after.iter().map(|f| (key(f), f)).collect();
    let mut c = FindingChanges::default();
    for (k, f) in &a {
        match b.get(k) {
            None => c.appeared.push((*f).clone()),
            Some(old) if old.severity != f.severity => c.severity_changed.push(SeverityChange { finding: (*f).clone(), before: old.severity }),
            Some(_) => {}
        }
    }
    c.disappeared = b.iter().filter(|(k, _)| !a.contains_key(*k)).map(|(_, f)| (*f).clone()).collect();
    c
}

/// `address (name)`, or the address.
fn label(address: IpAddr, name: &Option<String>) -> String {
    match name {
        Some(n) => format!("{address} ({n})"),
        None => address.to_string(),
    }
}

fn seen(s: &Seen) -> String {
    format!("{} ({})", s.state.as_str(), s.reason.as_str())
}

fn finding_line(f: &Finding) -> String {
    format!("{} {} {} ({}) {} [{}]", f.kind, f.node, f.port_label(), f.address, f.component, f.severity)
}

pub fn render_table(d: &Diff) -> String {
    let mut s = format!("portsweep diff: {} → {}\n", d.before, d.after);
    for h in &d.hosts {
        let _ = writeln!(s, "  host {:<15} {} → {}", label(h.address, &h.name), h.before, h.after);
    }
    for p in &d.ports {
        let _ = writeln!(s, "  {:<15} {:>5}/{:<3} {} → {}", label(p.address, &p.name), p.port, p.protocol, seen(&p.before), seen(&p.after));
    }
    if let Some(f) = &d.findings {
        for x in &f.appeared {
            let _ = writeln!(s, "  + {}", finding_line(x));
        }
        for x in &f.disappeared {
            let _ = writeln!(s, "  - {}", finding_line(x));
        }
        for x in &f.severity_changed {
            let _ = writeln!(s, "  ~ {} (was {})", finding_line(&x.finding), x.before);
        }
    }
    let m = &d.summary;
    let _ = writeln!(
        s,
        "{} pairs compared: {} ports changed, {} hosts changed{}{}",
        m.pairs_compared,
        m.ports_changed,
        m.hosts_changed,
        if d.findings.is_some() { format!("; findings +{} -{} ~{}", m.findings_appeared, m.findings_disappeared, m.findings_severity_changed) } else { String::new() },
        if m.pairs_only_before + m.pairs_only_after > 0 { format!("; {} pairs only before, {} only after (not compared)", m.pairs_only_before, m.pairs_only_after) } else { String::new() }
    );
    s
}

pub fn render_markdown(d: &Diff) -> String {
    let esc = |t: String| t.replace('|', "\\|");
    let mut s = format!("## portsweep diff: `{}` → `{}`\n\n", d.before, d.after);
    if d.is_empty() {
        s += "No change.\n";
        return s;
    }
    if !d.hosts.is_empty() || !d.ports.is_empty() {
        s += "| Address | Port | Before | After |\n|---|---|---|---|\n";
        for h in &d.hosts {
            let _ = writeln!(s, "| {} | host | {} | {} |", label(h.address, &h.name), h.before, h.after);
        }
        for p in &d.ports {
            let _ = writeln!(s, "| {} | {}/{} | {} | {} |", label(p.address, &p.name), p.port, p.protocol, esc(seen(&p.before)), esc(seen(&p.after)));
        }
    }
    if let Some(f) = &d.findings {
        s += "\n| Change | Finding |\n|---|---|\n";
        for x in &f.appeared {
            let _ = writeln!(s, "| appeared | {} |", esc(finding_line(x)));
        }
        for x in &f.disappeared {
            let _ = writeln!(s, "| disappeared | {} |", esc(finding_line(x)));
        }
        for x in &f.severity_changed {
            let _ = writeln!(s, "| severity (was {}) | {} |", x.before, esc(finding_line(&x.finding)));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{HostReport, PortReport};

    fn report(hosts: Vec<HostReport>, ports: &str) -> AnyReport {
        AnyReport::Scan(Box::new(ScanReport::for_test(ports, hosts)))
    }

    fn host(last: u8, up: bool, ports: Vec<(u16, State, Reason)>) -> HostReport {
        HostReport {
            address: IpAddr::from([198, 19, 1, last]),
            name: None,
            status: if up { HostStatus::Up } else { HostStatus::Down },
            default_state: if up { State::Closed } else { State::Filtered },
            default_reason: if up { Reason::Rst } else { Reason::NoResponse },
            ports: ports.into_iter().map(|(port, state, reason)| PortReport { port, protocol: Protocol::Tcp, state, reason, ttl: None, service: None }).collect(),
            udp_unresolved: Vec::new(),
        }
    }

    #[test]
    fn lists_exactly_the_changed_pairs_and_hosts() {
        let before = report(vec![host(1, true, vec![(80, State::Open, Reason::SynAck)]), host(2, true, vec![]), host(3, true, vec![])], "T:22,80,443");
        let after = report(vec![host(1, true, vec![(443, State::Open, Reason::SynAck)]), host(2, false, vec![]), host(3, true, vec![])], "T:22,80,443");
        let d = diff(&before, &after, ("b", "a"));
        let got: Vec<(u8, u16, &str, &str)> = d.ports.iter().map(|p| (match p.address { IpAddr::V4(a) => a.octets()[3], IpAddr::V6(_) => 0 }, p.port, p.before.state.as_str(), p.after.state.as_str())).collect();
        assert_eq!(
            got,
            vec![(1, 80, "open", "closed"), (1, 443, "closed", "open"), (2, 22, "closed", "filtered"), (2, 80, "closed", "filtered"), (2, 443, "closed", "filtered")]
        );
        assert_eq!(d.hosts, vec![HostChange { address: IpAddr::from([198, 19, 1, 2]), name: None, before: "up".into(), after: "down".into() }]);
        assert_eq!(d.summary.pairs_compared, 9);
        assert!(!d.is_empty());
        assert!(diff(&before, &before, ("b", "b")).is_empty());
    }

    #[test]
    fn other_coverage_is_counted_not_listed() {
        let before = report(vec![host(1, true, vec![])], "T:22,80");
        let after = report(vec![host(1, true, vec![]), host(2, true, vec![])], "T:80,443");
        let d = diff(&before, &after, ("b", "a"));
        assert!(d.ports.is_empty());
        assert_eq!((d.summary.pairs_compared, d.summary.pairs_only_before, d.summary.pairs_only_after), (1, 1, 3));
        assert_eq!(d.hosts.len(), 1, "host 2 absent before");
    }

    #[test]
    fn host_names_are_carried_and_old_reports_without_them_still_read() {
        let mut before = host(1, true, vec![]);
        before.name = Some("cp-1.lab.test".into());
        let after = host(1, true, vec![(80, State::Open, Reason::SynAck)]);
        let d = diff(&report(vec![before], "T:80"), &report(vec![after], "T:80"), ("b", "a"));
        assert_eq!(d.ports[0].name.as_deref(), Some("cp-1.lab.test"), "the name of either side");
        assert!(render_table(&d).contains("198.19.1.1 (cp-1.lab.test)    80/tcp closed (rst) → open (syn-ack)"), "{}", render_table(&d));
        // A report written before names existed has no `name` key.
        let old = r#"{"portsweep": "0.1.0", "format_version": 1, "kind": "scan", "started": "", "finished": "", "complete": true, "args": [], "seed": 1, "shard": "1/1", "ports": "T:80",
            "stats": {"probes_sent": 1, "replies": 1, "invalid_replies": 0, "retransmissions": 0, "duration_s": 0.1, "rate_pps": 10.0, "rx_dropped": 0, "passes": 1, "srtt_us": 1},
            "hosts": [{"address": "198.19.1.1", "status": "up", "default_state": "closed", "default_reason": "rst", "ports": []}]}"#;
        let old = AnyReport::from_json(old, "old.json").unwrap();
        assert_eq!(old.scan().hosts[0].name, None);
        let text = serde_json::to_string(old.scan()).unwrap();
        assert!(!text.contains("\"name\""), "absent names are not written: {text}");
    }

    #[test]
    fn reports_are_read_by_kind() {
        assert!(matches!(AnyReport::from_json("{\"kind\": \"nope\"}", "x.json"), Err(DiffError::Kind { .. })));
        let e = AnyReport::from_json("{\n\"kind\": \"scan\",\n}", "x.json").err().unwrap().to_string();
        assert!(e.starts_with("x.json: line 3"), "{e}");
    }

    /// A mixed IPv4 + IPv6 scan, cut into 3 shards by the seeded order:
    /// the shards' reports merge into exactly the single run's report
    /// (hosts in `IpAddr` order, IPv4 first, RFC 5952 text).
    #[test]
    fn shards_of_a_mixed_family_scan_merge_into_the_single_run() {
        use crate::engine::{Answer, Outcome, ResultStore};
        use crate::report::RunInfo;
        use crate::space::{HostSet, PortList, Protocol, ScanSpace};
        let hosts = HostSet::parse(&["198.19.0.0/30".into(), "2001:2:0:1::/126".into(), "2001:2::ff".into()], &[]).unwrap();
        let space = ScanSpace::new(hosts, PortList::parse("T:22,80,6443,U:53", Protocol::Tcp).unwrap());
        let store = ResultStore::new(space.len(), space.hosts.len());
        for i in 0..space.len() {
            let (addr, proto, port) = space.pair(i);
            // A truth per family: IPv6 hosts answer 80, IPv4 ones 6443;
            // UDP 53 closed on IPv6 only.
            let answer = match (addr.is_ipv6(), proto, port) {
                (true, Protocol::Tcp, 80) | (false, Protocol::Tcp, 6443) => Answer::SynAck,
                (_, Protocol::Tcp, 22) => Answer::Rst,
                (true, Protocol::Udp, _) => Answer::PortUnreach,
                _ => Answer::None,
            };
            if answer != Answer::None {
                store.record(i, answer);
                store.mark_host_up(i / space.ports.len() as u64, Some(64));
            }
        }
        let now = std::time::SystemTime::now();
        let outcome = Outcome { store, stats: Default::default(), complete: true, started: now, finished: now, stopped_at: None, unresolved: Vec::new() };
        let info = |i, n| RunInfo { args: vec![], seed: 11, shard_index: i, shard_count: n };
        let whole = ScanReport::build(&space, &outcome, info(0, 1));
        let shards: Vec<(String, ScanReport)> = (0..3).map(|i| (format!("s{i}.json"), ScanReport::build(&space, &outcome, info(i, 3)))).collect();
        let merged = crate::report::merge::merge(&shards).unwrap();
        // (Per-port TTLs are left aside: a shard lists only the ports that
        // differ from its own default, so a merge keeps fewer of them; that
        // is so for IPv4 as much as IPv6.)
        let no_ttl = |r: &ScanReport| {
            let mut hosts = r.hosts.clone();
            hosts.iter_mut().flat_map(|h| h.ports.iter_mut()).for_each(|p| p.ttl = None);
            hosts
        };
        assert_eq!(no_ttl(&merged), no_ttl(&whole));
        let addresses: Vec<String> = merged.hosts.iter().map(|h| h.address.to_string()).collect();
        assert_eq!(addresses, ["198.19.0.0", "198.19.0.1", "198.19.0.2", "198.19.0.3", "2001:2::ff", "2001:2:0:1::", "2001:2:0:1::1", "2001:2:0:1::2", "2001:2:0:1::3"]);
        // Every pair reads back as the truth wrote it, through the report.
        let ports = merged.port_list().unwrap();
        assert_eq!(merged.lookup("2001:2:0:1::2".parse().unwrap(), Protocol::Tcp, 80, &ports), Some((crate::report::State::Open, crate::report::Reason::SynAck)));
        assert_eq!(merged.lookup("2001:2::ff".parse().unwrap(), Protocol::Udp, 53, &ports), Some((crate::report::State::Closed, crate::report::Reason::PortUnreach)));
        assert_eq!(merged.lookup("198.19.0.3".parse().unwrap(), Protocol::Udp, 53, &ports), Some((crate::report::State::OpenFiltered, crate::report::Reason::NoResponse)));
        assert_eq!(merged.lookup("198.19.0.3".parse().unwrap(), Protocol::Tcp, 6443, &ports), Some((crate::report::State::Open, crate::report::Reason::SynAck)));
        // The JSON round trip keeps the addresses (RFC 5952 text).
        let back: ScanReport = serde_json::from_str(&serde_json::to_string(&merged).unwrap()).unwrap();
        assert_eq!(back, merged);
        // A diff of the merged report with itself changes nothing, and one
        // IPv6 port that opens is found at its address.
        let mut later = merged.clone();
        let h = later.hosts.iter_mut().find(|h| h.address.to_string() == "2001:2::ff").unwrap();
        h.ports.push(crate::report::PortReport { port: 22, protocol: Protocol::Tcp, state: crate::report::State::Open, reason: crate::report::Reason::SynAck, ttl: Some(64), service: None });
        h.ports.sort_by_key(|p| (p.protocol, p.port));
        let any = |r: &ScanReport| AnyReport::Scan(Box::new(r.clone()));
        assert!(diff(&any(&merged), &any(&merged), ("a", "b")).is_empty());
        let d = diff(&any(&merged), &any(&later), ("a", "b"));
        assert_eq!(d.ports.iter().map(|p| (p.address.to_string(), p.port)).collect::<Vec<_>>(), [("2001:2::ff".to_string(), 22)]);
    }
}
