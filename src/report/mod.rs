//! Reports: the scan's evidence turned into states a user reads.
//!
//! Classification follows nmap: SYN-ACK → open, RST → closed, ICMP
//! unreachable (codes 0–3, 9, 10, 13) or silence → filtered; for UDP a reply
//! → open, ICMP port unreachable → closed, silence → open|filtered. A host
//! lists only the ports whose (state, reason) differs from its most common
//! one, given as `default_state`/`default_reason`, so a report of 740k pairs
//! stays small yet lossless: every scanned pair not listed has the default.
//! Hosts are built in parallel with rayon.
mod format;
pub mod merge;
mod service;

pub use format::{render_csv, render_json, render_table, write_output, OutputFormat};
pub use service::{Auth, ClientCert, Confidence, Service, TlsInfo};

use std::net::IpAddr;
use std::time::SystemTime;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::{Answer, Outcome, ScanStats};
use crate::space::{PortList, Protocol, ScanSpace};

/// Bumped when a field changes meaning or disappears.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum State {
    #[serde(rename = "open")]
    Open,
    #[serde(rename = "closed")]
    Closed,
    #[serde(rename = "filtered")]
    Filtered,
    #[serde(rename = "open|filtered")]
    OpenFiltered,
}

impl State {
    pub fn as_str(&self) -> &'static str {
        match self {
            State::Open => "open",
            State::Closed => "closed",
            State::Filtered => "filtered",
            State::OpenFiltered => "open|filtered",
        }
    }
}

/// Why a pair has its state: what was seen (nmap's reason names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    SynAck,
    Rst,
    UdpResponse,
    NetUnreach,
    HostUnreach,
    ProtoUnreach,
    PortUnreach,
    NetProhibited,
    HostProhibited,
    AdminProhibited,
    NoResponse,
}

impl Reason {
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::SynAck => "syn-ack",
            Reason::Rst => "rst",
            Reason::UdpResponse => "udp-response",
            Reason::NetUnreach => "net-unreach",
            Reason::HostUnreach => "host-unreach",
            Reason::ProtoUnreach => "proto-unreach",
            Reason::PortUnreach => "port-unreach",
            Reason::NetProhibited => "net-prohibited",
            Reason::HostProhibited => "host-prohibited",
            Reason::AdminProhibited => "admin-prohibited",
            Reason::NoResponse => "no-response",
        }
    }
}

/// The state and reason the evidence for a pair stands for.
pub fn classify(proto: Protocol, answer: Answer) -> (State, Reason) {
    use Answer as A;
    let icmp = |r| (State::Filtered, r);
    match (proto, answer) {
        (_, A::SynAck) => (State::Open, Reason::SynAck),
        (_, A::Rst) => (State::Closed, Reason::Rst),
        (_, A::UdpReply) => (State::Open, Reason::UdpResponse),
        (Protocol::Udp, A::PortUnreach) => (State::Closed, Reason::PortUnreach),
        (_, A::PortUnreach) => icmp(Reason::PortUnreach),
        (_, A::NetUnreach) => icmp(Reason::NetUnreach),
        (_, A::HostUnreach) => icmp(Reason::HostUnreach),
        (_, A::ProtoUnreach) => icmp(Reason::ProtoUnreach),
        (_, A::NetProhibited) => icmp(Reason::NetProhibited),
        (_, A::HostProhibited) => icmp(Reason::HostProhibited),
        (_, A::AdminProhibited) => icmp(Reason::AdminProhibited),
        (Protocol::Tcp, A::None) => (State::Filtered, Reason::NoResponse),
        (Protocol::Udp, A::None) => (State::OpenFiltered, Reason::NoResponse),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostStatus {
    Up,
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortReport {
    pub port: u16,
    pub protocol: Protocol,
    pub state: State,
    pub reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ttl: Option<u8>,
    /// What answered (open ports of a report made with identification).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<Service>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReport {
    pub address: IpAddr,
    /// The host name the address was given as (resolved before the scan);
    /// absent for addresses given as such, and in reports that predate it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: HostStatus,
    pub default_state: State,
    pub default_reason: Reason,
    pub ports: Vec<PortReport>,
    /// UDP ports reported `open|filtered` whose silence was not established
    /// (their ICMP errors may have been rate limited): sorted, present only
    /// when not empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub udp_unresolved: Vec<u16>,
}

/// The JSON scan report (documented in the README).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanReport {
    pub portsweep: String,
    pub format_version: u32,
    pub kind: String,
    pub started: String,
    pub finished: String,
    pub complete: bool,
    pub args: Vec<String>,
    pub seed: u64,
    pub shard: String,
    /// The ports every host was scanned on, in nmap syntax.
    pub ports: String,
    pub stats: ScanStats,
    pub hosts: Vec<HostReport>,
}

/// What a report says about the run, besides the results.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub args: Vec<String>,
    pub seed: u64,
    /// 0-based shard index and the shard count (1 = the whole order).
    pub shard_index: u64,
    pub shard_count: u64,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl ScanReport {
    /// Builds the report from a finished scan.
    pub fn build(space: &ScanSpace, outcome: &Outcome, info: RunInfo) -> ScanReport {
        // A shard covers only its positions of the seeded order.
        let perm = crate::space::Permutation::new(space.len(), info.seed);
        let owned = |index: u64| info.shard_count <= 1 || perm.position_of(index) % info.shard_count == info.shard_index;
        let hosts = (0..space.hosts.len()).into_par_iter().map(|h| host_report(space, outcome, h, &owned)).collect();
        ScanReport {
            portsweep: env!("CARGO_PKG_VERSION").to_string(),
            format_version: FORMAT_VERSION,
            kind: "scan".into(),
            started: rfc3339(outcome.started),
            finished: rfc3339(outcome.finished),
            complete: outcome.complete,
            args: info.args,
            seed: info.seed,
            shard: format!("{}/{}", info.shard_index + 1, info.shard_count.max(1)),
            ports: space.ports.to_spec(),
            stats: outcome.stats.clone(),
            hosts,
        }
    }

    /// A complete, unsharded report of `hosts` scanned on `ports` (nmap
    /// syntax), for tests that need a report and no scan.
    #[cfg(test)]
    pub(crate) fn for_test(ports: &str, hosts: Vec<HostReport>) -> ScanReport {
        ScanReport {
            portsweep: "test".into(),
            format_version: FORMAT_VERSION,
            kind: "scan".into(),
            started: String::new(),
            finished: String::new(),
            complete: true,
            args: Vec::new(),
            seed: 1,
            shard: "1/1".into(),
            ports: ports.into(),
            stats: Default::default(),
            hosts,
        }
    }

    /// The scanned port list, parsed back.
    pub fn port_list(&self) -> Option<PortList> {
        PortList::parse(&self.ports, Protocol::Tcp).ok()
    }

    /// State and reason of one pair, if the report covers it (a shard
    /// report covers only its shard's positions of the seeded order).
    pub fn lookup(&self, addr: IpAddr, proto: Protocol, port: u16, ports: &PortList) -> Option<(State, Reason)> {
        let p = ports.index_of(proto, port)? as u64;
        let hi = self.hosts.binary_search_by_key(&addr, |h| h.address).ok()?;
        if let Some((i, n)) = self.shard.split_once('/').and_then(|(i, n)| Some((i.parse::<u64>().ok()?, n.parse::<u64>().ok()?))).filter(|&(_, n)| n > 1) {
            let len = self.hosts.len() as u64 * ports.len() as u64;
            let position = crate::space::Permutation::new(len, self.seed).position_of(hi as u64 * ports.len() as u64 + p);
            if position % n != i - 1 {
                return None;
            }
        }
        let h = &self.hosts[hi];
        Some(match h.ports.binary_search_by_key(&(proto, port), |p| (p.protocol, p.port)) {
            Ok(i) => (h.ports[i].state, h.ports[i].reason),
            Err(_) => (h.default_state, h.default_reason),
        })
    }

    /// Sets the `name` of each host `names` has (address → the host name it
    /// was given as); the other hosts keep theirs.
    pub fn name_hosts(&mut self, names: &std::collections::BTreeMap<IpAddr, String>) {
        for h in &mut self.hosts {
            if let Some(n) = names.get(&h.address) {
                h.name = Some(n.clone());
            }
        }
    }

    /// Whether a UDP pair's `open|filtered` was left unresolved.
    pub fn is_unresolved(&self, addr: IpAddr, proto: Protocol, port: u16) -> bool {
        proto == Protocol::Udp && self.hosts.binary_search_by_key(&addr, |h| h.address).is_ok_and(|i| self.hosts[i].udp_unresolved.binary_search(&port).is_ok())
    }

    /// Pair counts by state over the whole report.
    pub fn state_counts(&self) -> [(State, u64); 4] {
        let n = self.port_list().map(|p| p.len() as u64).unwrap_or(0);
        let mut counts = [(State::Open, 0), (State::Closed, 0), (State::Filtered, 0), (State::OpenFiltered, 0)];
        for h in &self.hosts {
            let listed = h.ports.len() as u64;
            for p in &h.ports {
                counts[p.state as usize].1 += 1;
            }
            counts[h.default_state as usize].1 += n.saturating_sub(listed);
        }
        counts
    }
}

/// What one pair of a host looks like: state, reason, TTL if known.
pub type PairClass = (State, Reason, Option<u8>);

/// Builds a host's entry from its pairs: `pair(i)` for port index `i`, or
/// `None` for a pair this report does not cover (another shard's). The
/// default is the most common (state, reason), ties going to the smaller so
/// the choice is reproducible; every covered pair that differs is listed.
pub fn build_host(address: IpAddr, ports: &PortList, up: bool, pair: impl Fn(usize) -> Option<PairClass>) -> HostReport {
    let classes: Vec<Option<PairClass>> = (0..ports.len()).map(&pair).collect();
    let mut counts: Vec<((State, Reason), u64)> = Vec::new();
    for (state, reason, _) in classes.iter().flatten() {
        match counts.iter_mut().find(|(c, _)| *c == (*state, *reason)) {
            Some((_, n)) => *n += 1,
            None => counts.push(((*state, *reason), 1)),
        }
    }
    let (default_state, default_reason) = counts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(c, _)| *c)
        .unwrap_or((State::Filtered, Reason::NoResponse));
    let listed = classes
        .iter()
        .enumerate()
        .filter_map(|(i, c)| {
            let (state, reason, ttl) = (*c)?;
            let (protocol, port) = ports.get(i);
            ((state, reason) != (default_state, default_reason)).then_some(PortReport { port, protocol, state, reason, ttl, service: None })
        })
        .collect();
    HostReport { address, name: None, status: if up { HostStatus::Up } else { HostStatus::Down }, default_state, default_reason, ports: listed, udp_unresolved: Vec::new() }
}

fn host_report(space: &ScanSpace, outcome: &Outcome, host: u64, owned: &(dyn Fn(u64) -> bool + Sync)) -> HostReport {
    let n = space.port_count() as u64;
    let base = host * n;
    let ttl = outcome.store.host_ttl(host);
    let first = outcome.unresolved.partition_point(|&i| i < base);
    let unresolved = outcome.unresolved[first..].iter().take_while(|&&i| i < base + n).map(|&i| space.ports.get((i - base) as usize).1).collect();
    let mut report = build_host(space.hosts.addr(host), &space.ports, outcome.store.host_is_up(host), |i| {
        let index = base + i as u64;
        if !owned(index) {
            return None;
        }
        let (state, reason) = classify(space.ports.get(i).0, outcome.store.get(index));
        let ttl = matches!(reason, Reason::SynAck | Reason::Rst | Reason::UdpResponse).then_some(ttl).flatten();
        Some((state, reason, ttl))
    });
    report.udp_unresolved = unresolved;
    report
}
