//! Merging shard reports into the report one run would have produced.
//!
//! Shard I of N probed the positions ≡ I-1 (mod N) of the order the seed
//! defines, so the owner of every pair can be recomputed from the seed, the
//! host list and the port list: each pair's state is taken from its owner's
//! report, and the hosts are rebuilt (defaults and listed ports) as a single
//! run builds them. Reports from different seeds, ports or target sets, or a
//! set of shards that is not exactly 1..N, are refused. Host names (the
//! names targets were given as) come from the first report.
use rayon::prelude::*;

use super::{build_host, HostStatus, ScanReport};
use crate::space::{HostSet, Permutation, PortList, Protocol};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MergeError {
    #[error("nothing to merge")]
    Empty,
    #[error("{file}: {message}")]
    Mismatch { file: String, message: String },
    #[error("the shards are {found:?}; a merge needs each of 1..{count} exactly once")]
    Shards { found: Vec<String>, count: u64 },
}

fn parse_shard(s: &str) -> Option<(u64, u64)> {
    let (i, n) = s.split_once('/')?;
    let (i, n) = (i.parse::<u64>().ok()?, n.parse::<u64>().ok()?);
    (i >= 1 && i <= n).then_some((i, n))
}

/// Merges `reports` (each with the file it came from, for errors).
pub fn merge(reports: &[(String, ScanReport)]) -> Result<ScanReport, MergeError> {
    let (first_file, first) = reports.first().ok_or(MergeError::Empty)?;
    let mismatch = |file: &str, message: String| MergeError::Mismatch { file: file.to_string(), message };
    let addresses: Vec<_> = first.hosts.iter().map(|h| h.address).collect();
    let mut owners: Vec<Option<usize>> = Vec::new();
    let mut count = 0;
    for (k, (file, r)) in reports.iter().enumerate() {
        if r.kind != "scan" {
            return Err(mismatch(file, format!("a {} report; merge takes scan reports", r.kind)));
        }
        if r.seed != first.seed {
            return Err(mismatch(file, format!("seed {} differs from {}'s {}: shards must share --seed", r.seed, first_file, first.seed)));
        }
        if r.ports != first.ports {
            return Err(mismatch(file, format!("ports {} differ from {}'s", r.ports, first_file)));
        }
        if r.hosts.len() != addresses.len() || r.hosts.iter().zip(&addresses).any(|(h, a)| h.address != *a) {
            return Err(mismatch(file, format!("its targets differ from {first_file}'s")));
        }
        let (i, n) = parse_shard(&r.shard).ok_or_else(|| mismatch(file, format!("bad shard {:?}", r.shard)))?;
        if count == 0 {
            count = n;
            owners = vec![None; n as usize];
        }
        if n != count || owners[(i - 1) as usize].is_some() {
            return Err(MergeError::Shards { found: reports.iter().map(|(_, r)| r.shard.clone()).collect(), count });
        }
        owners[(i - 1) as usize] = Some(k);
    }
    if owners.iter().any(Option::is_none) {
        return Err(MergeError::Shards { found: reports.iter().map(|(_, r)| r.shard.clone()).collect(), count });
    }
    let owners: Vec<usize> = owners.into_iter().flatten().collect();
    let ports = PortList::parse(&first.ports, Protocol::Tcp).map_err(|e| mismatch(first_file, e.to_string()))?;
    let hosts = HostSet::from_addrs(addresses.iter().copied());
    let n = ports.len() as u64;
    let perm = Permutation::new(hosts.len() * n, first.seed);
    let merged_hosts = (0..hosts.len())
        .into_par_iter()
        .map(|h| {
            let addr = hosts.addr(h);
            let up = reports.iter().any(|(_, r)| r.hosts[h as usize].status == HostStatus::Up);
            let name = first.hosts[h as usize].name.clone();
            let owner_of = |i: usize| &reports[owners[(perm.position_of(h * n + i as u64) % count) as usize]].1;
            // Each UDP pair is unresolved if its owner says so.
            let unresolved: Vec<u16> = (0..ports.len())
                .filter(|&i| {
                    let (proto, port) = ports.get(i);
                    proto == Protocol::Udp && owner_of(i).hosts[h as usize].udp_unresolved.binary_search(&port).is_ok()
                })
                .map(|i| ports.get(i).1)
                .collect();
            let mut merged = build_host(addr, &ports, up, |i| {
                let owner = owner_of(i);
                let host = &owner.hosts[h as usize];
                let (proto, port) = ports.get(i);
                Some(match host.ports.binary_search_by_key(&(proto, port), |p| (p.protocol, p.port)) {
                    Ok(j) => (host.ports[j].state, host.ports[j].reason, host.ports[j].ttl),
                    Err(_) => (host.default_state, host.default_reason, None),
                })
            });
            merged.udp_unresolved = unresolved;
            merged.name = name;
            merged
        })
        .collect();
    let mut stats = first.stats.clone();
    for (_, r) in &reports[1..] {
        let s = &r.stats;
        stats.probes_sent += s.probes_sent;
        stats.replies += s.replies;
        stats.invalid_replies += s.invalid_replies;
        stats.retransmissions += s.retransmissions;
        stats.rx_dropped += s.rx_dropped;
        stats.icmp_rounds = stats.icmp_rounds.max(s.icmp_rounds);
        stats.udp_unresolved += s.udp_unresolved;
        stats.icmp_wait_hint_s = stats.icmp_wait_hint_s.max(s.icmp_wait_hint_s);
        stats.passes = stats.passes.max(s.passes);
        stats.duration_s = stats.duration_s.max(s.duration_s);
    }
    stats.rate_pps = if stats.duration_s > 0.0 { stats.probes_sent as f64 / stats.duration_s } else { 0.0 };
    Ok(ScanReport {
        portsweep: env!("CARGO_PKG_VERSION").to_string(),
        format_version: first.format_version,
        kind: "scan".into(),
        started: reports.iter().map(|(_, r)| r.started.clone()).min().unwrap_or_default(),
        finished: reports.iter().map(|(_, r)| r.finished.clone()).max().unwrap_or_default(),
        complete: reports.iter().all(|(_, r)| r.complete),
        args: first.args.clone(),
        seed: first.seed,
        shard: "1/1".into(),
        ports: first.ports.clone(),
        stats,
        hosts: merged_hosts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ScanStats;
    use crate::report::{HostReport, Reason, State};

    fn shard(i: u64, n: u64, seed: u64) -> (String, ScanReport) {
        let host = HostReport { address: "198.19.1.1".parse().unwrap(), name: Some("w-1.lab.test".into()), status: HostStatus::Up, default_state: State::Closed, default_reason: Reason::Rst, ports: vec![], udp_unresolved: vec![] };
        let r = ScanReport {
            started: format!("t{i}"),
            finished: format!("t{i}"),
            seed,
            shard: format!("{i}/{n}"),
            stats: ScanStats { probes_sent: 5, ..Default::default() },
            ..ScanReport::for_test("T:1-10", vec![host])
        };
        (format!("s{i}.json"), r)
    }

    #[test]
    fn refuses_mismatched_or_incomplete_shard_sets() {
        assert_eq!(merge(&[]), Err(MergeError::Empty));
        let e = merge(&[shard(1, 2, 7), shard(2, 2, 8)]).unwrap_err().to_string();
        assert!(e.starts_with("s2.json: seed 8 differs"), "{e}");
        assert!(matches!(merge(&[shard(1, 3, 7), shard(2, 3, 7)]), Err(MergeError::Shards { .. })));
        assert!(matches!(merge(&[shard(1, 2, 7), shard(1, 2, 7)]), Err(MergeError::Shards { .. })));
        let mut other = shard(2, 2, 7);
        other.1.ports = "T:1-11".into();
        assert!(merge(&[shard(1, 2, 7), other]).unwrap_err().to_string().contains("ports T:1-11 differ"));
    }

    #[test]
    fn merges_stats_and_marks_the_whole() {
        let m = merge(&[shard(2, 2, 7), shard(1, 2, 7)]).unwrap();
        assert_eq!((m.shard.as_str(), m.stats.probes_sent, m.started.as_str(), m.finished.as_str()), ("1/1", 10, "t1", "t2"));
        assert_eq!(m.hosts[0].default_state, State::Closed);
        assert_eq!(m.hosts[0].name.as_deref(), Some("w-1.lab.test"));
    }
}
