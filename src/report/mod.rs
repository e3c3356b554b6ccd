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

pub use format::{render_csv, render_json, render_table, write_output, OutputFormat};

use std::net::Ipv4Addr;
use std::time::SystemTime;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::engine::{Answer, Outcome, ScanStats};
use crate::target::{PortList, Protocol, ScanSpace};

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostReport {
    pub address: Ipv4Addr,
    pub status: HostStatus,
    pub default_state: State,
    pub default_reason: Reason,
    pub ports: Vec<PortReport>,
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
    pub shard: String,
}

fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

impl ScanReport {
    /// Builds the report from a finished scan.
    pub fn build(space: &ScanSpace, outcome: &Outcome, info: RunInfo) -> ScanReport {
        let hosts = (0..space.hosts.len()).into_par_iter().map(|h| host_report(space, outcome, h)).collect();
        ScanReport {
            portsweep: env!("CARGO_PKG_VERSION").to_string(),
            format_version: FORMAT_VERSION,
            kind: "scan".into(),
            started: rfc3339(outcome.started),
            finished: rfc3339(outcome.finished),
            complete: outcome.complete,
            args: info.args,
            seed: info.seed,
            shard: info.shard,
            ports: space.ports.to_spec(),
            stats: outcome.stats.clone(),
            hosts,
        }
    }

    /// The scanned port list, parsed back.
    pub fn port_list(&self) -> Option<PortList> {
        PortList::parse(&self.ports, Protocol::Tcp).ok()
    }

    /// State and reason of one pair, if the report covers it.
    pub fn lookup(&self, addr: Ipv4Addr, proto: Protocol, port: u16, ports: &PortList) -> Option<(State, Reason)> {
        ports.index_of(proto, port)?;
        let h = &self.hosts[self.hosts.binary_search_by_key(&addr, |h| h.address).ok()?];
        Some(match h.ports.binary_search_by_key(&(proto, port), |p| (p.protocol, p.port)) {
            Ok(i) => (h.ports[i].state, h.ports[i].reason),
            Err(_) => (h.default_state, h.default_reason),
        })
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

fn host_report(space: &ScanSpace, outcome: &Outcome, host: u64) -> HostReport {
    let n = space.port_count() as u64;
    let base = host * n;
    // Count evidence per (protocol, answer) first: 22 buckets, no allocation.
    let mut buckets = [[0u64; 11]; 2];
    for i in 0..n {
        let (proto, _) = space.ports.get(i as usize);
        buckets[proto as usize][outcome.store.get(base + i) as usize] += 1;
    }
    let mut by_class: Vec<((State, Reason), u64)> = Vec::new();
    for (p, proto) in [Protocol::Tcp, Protocol::Udp].into_iter().enumerate() {
        for (a, &count) in buckets[p].iter().enumerate() {
            if count > 0 {
                let class = classify(proto, Answer::from_nibble(a as u8));
                match by_class.iter_mut().find(|(c, _)| *c == class) {
                    Some((_, total)) => *total += count,
                    None => by_class.push((class, count)),
                }
            }
        }
    }
    // Most common class; ties go to the smaller (state, reason) so the
    // choice is reproducible.
    let (default_state, default_reason) = by_class
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(c, _)| *c)
        .unwrap_or((State::Filtered, Reason::NoResponse));
    let up = outcome.store.host_is_up(host);
    let ttl = outcome.store.host_ttl(host);
    let mut ports = Vec::new();
    for i in 0..n {
        let (protocol, port) = space.ports.get(i as usize);
        let (state, reason) = classify(protocol, outcome.store.get(base + i));
        if (state, reason) != (default_state, default_reason) {
            let ttl = matches!(reason, Reason::SynAck | Reason::Rst | Reason::UdpResponse).then_some(ttl).flatten();
            ports.push(PortReport { port, protocol, state, reason, ttl });
        }
    }
    HostReport { address: space.hosts.addr(host), status: if up { HostStatus::Up } else { HostStatus::Down }, default_state, default_reason, ports }
}
