//! The engine over the simulated network (no sockets, no privileges):
//! every scenario's ground truth must come back exactly, under loss and
//! with forged replies mixed in.
mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use common::*;
use portsweep::engine::{self, ScanConfig, Shard};
use portsweep::lab::{flood, sim, verify::verify, Scenario};
use portsweep::report::{RunInfo, ScanReport};
use portsweep::space::{HostSet, PortList, Protocol, ScanSpace};
use portsweep::wire::payload::PayloadTable;
use portsweep::wire::Cookie;

const SCANNER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn simulate(s: &Scenario, max_retries: u8, seed: u64) -> ScanReport {
    simulate_with(s, max_retries, seed, PayloadTable::builtin(), std::time::Duration::from_secs(30), Vec::new())
}

/// A scan of the simulated network with these payloads and ICMP wait, and
/// `extra` packets mixed in.
fn simulate_with(s: &Scenario, max_retries: u8, seed: u64, payloads: PayloadTable, icmp_wait: std::time::Duration, extra: Vec<Vec<u8>>) -> ScanReport {
    let space = Arc::new(ScanSpace::new(HostSet::parse(&s.targets, &s.exclude).unwrap(), PortList::parse(&s.ports, Protocol::Tcp).unwrap()));
    let (sink, source) = sim::network_with(s, SCANNER, seed, extra);
    let config = ScanConfig { space: space.clone(), source: SCANNER, source6: None, rate: None, max_retries, wait: None, seed, cookie: Cookie::new(seed, 99), shard: Shard::WHOLE, icmp_wait, resume: None, payloads };
    let outcome = engine::run(config, vec![Box::new(sink)], Box::new(source), Arc::new(AtomicBool::new(false)), &mut |_| {}).unwrap();
    ScanReport::build(&space, &outcome, RunInfo { args: vec![], seed, shard_index: 0, shard_count: 1 })
}

#[test]
fn small_cluster_scan_is_exact() {
    let s = scenario("scan-small");
    let r = simulate(&s, 8, 1);
    assert_exact(&s, &r);
    assert_eq!(r.stats.invalid_replies, 0);
    // No loss: one retry pass shows nothing more is coming.
    assert_eq!(r.stats.passes, 2);
}

#[test]
fn loss_is_recovered_by_adaptive_retries() {
    let s = scenario("cluster-250-loss");
    let r = simulate(&s, 8, 2);
    assert_exact(&s, &r);
    assert!(r.stats.passes >= 4, "{:?}", r.stats);
}

#[test]
fn without_retries_loss_shows() {
    // The same lossy network with no retry pass must get pairs wrong: the
    // exactness above comes from the retries, not from a lenient check.
    let s = scenario("cluster-250-loss");
    let r = simulate(&s, 0, 3);
    let v = verify(&s, &r, true);
    assert!(v.exact < v.pairs - 10_000, "{}", v.summary(0));
}

#[test]
fn every_forged_reply_is_rejected() {
    let s = scenario("strays");
    let r = simulate(&s, 8, 4);
    assert_exact(&s, &r);
    assert_eq!(r.stats.invalid_replies, s.strays as u64);
}

#[test]
fn udp_with_per_node_icmp_budgets_and_loss_is_exact() {
    let s = scenario("udp-250");
    let r = simulate(&s, 8, 5);
    assert_exact(&s, &r);
    assert_eq!(r.stats.udp_unresolved, 0);
}

#[test]
fn udp_behind_one_shared_icmp_limiter_is_exact_after_rounds() {
    let s = scenario("udp-limit");
    let r = simulate(&s, 8, 6);
    assert_exact(&s, &r);
    assert!(r.stats.icmp_rounds >= 10, "{:?}", r.stats);
}

#[test]
fn a_plans_payloads_travel_with_its_scan() {
    // NTP answers only a client request: with the built-in table 123/udp is
    // open; with a plan that sends 48 zero bytes there (not a request) it
    // stays silent. Both scans in one process: the table is the scan's
    // value, not process-wide state.
    let s = Scenario::parse(
        "[scan]\ntargets = [\"198.19.5.1\"]\nports = \"U:123,9999\"\n[[hosts]]\naddresses = \"198.19.5.1\"\nopen = \"U:123,9999\"\n",
        "t.toml",
        "t",
    )
    .unwrap();
    let state = |r: &ScanReport, port: u16| {
        let h = &r.hosts[0];
        h.ports.iter().find(|p| p.port == port).map(|p| p.state.as_str()).unwrap_or(h.default_state.as_str()).to_string()
    };
    let builtin = simulate(&s, 2, 11);
    assert_eq!((state(&builtin, 123), state(&builtin, 9999)), ("open".into(), "open".into()));
    let plan = simulate_with(&s, 2, 12, PayloadTable::with_custom([(123, vec![0u8; 48])]), std::time::Duration::from_secs(30), Vec::new());
    assert_eq!((state(&plan, 123), state(&plan, 9999)), ("open|filtered".into(), "open".into()));
    let again = simulate(&s, 2, 13);
    assert_eq!(state(&again, 123), "open");
}

/// The pairs of the scenario's dead hosts: nothing can confirm their
/// silence in a UDP-only scan (a dead host and one whose every error was
/// swallowed look the same), so exactly they stay unresolved.
fn dead_pairs(s: &Scenario) -> Vec<(std::net::IpAddr, u16)> {
    let ports = PortList::parse(&s.ports, Protocol::Tcp).unwrap();
    s.dead_hosts().iter().flat_map(|a| ports.as_slice().iter().map(move |&(_, p)| (a, p)).collect::<Vec<_>>()).collect()
}

fn unresolved_pairs(r: &ScanReport) -> Vec<(std::net::IpAddr, u16)> {
    r.hosts.iter().flat_map(|h| h.udp_unresolved.iter().map(move |&p| (h.address, p))).collect()
}

/// Exact, and unresolved exactly where nothing could be established.
fn assert_exact_under_limiter(name: &str, seed: u64) {
    let s = scenario(name);
    let r = simulate(&s, 8, seed);
    assert_exact(&s, &r);
    assert_eq!(unresolved_pairs(&r), dead_pairs(&s), "{name}: {:?}", r.stats);
    assert_eq!(r.stats.udp_unresolved, 15);
    eprintln!("{name}: {:.2} s, {} probes, {} ICMP rounds", r.stats.duration_s, r.stats.probes_sent, r.stats.icmp_rounds);
}

#[test]
fn a_bucket_per_node_at_1_per_s_is_exact() {
    assert_exact_under_limiter("udp-per-node", 11);
}

#[test]
fn a_bucket_per_node_at_10_per_s_is_exact() {
    assert_exact_under_limiter("udp-per-node-10", 12);
}

#[test]
fn one_global_bucket_shared_by_265_addresses_is_exact() {
    assert_exact_under_limiter("udp-global", 13);
}

#[test]
fn per_node_and_global_buckets_at_once_are_exact() {
    assert_exact_under_limiter("udp-per-node-global", 14);
}

#[test]
fn one_slow_bucket_for_everything_is_honest() {
    // 795 pairs behind one bucket of 1/s: most cannot be settled in 5 s,
    // and the report must say so pair by pair instead of guessing.
    let s = scenario("udp-router");
    let r = simulate_with(&s, 8, 15, PayloadTable::builtin(), std::time::Duration::from_secs(5), Vec::new());
    let h = portsweep::lab::verify::verify_honest(&s, &r);
    assert!(h.is_honest(&r), "{} overclaims {:?} status {:?}, listed {} vs {:?}", h.verification.summary(5), &h.overclaims[..h.overclaims.len().min(5)], h.status_overclaims, h.listed_unresolved, r.stats);
    assert!(h.unresolved_wrong > 100, "the limiter did not bite: {}", h.verification.summary(0));
    assert!(h.unresolved_wrong <= r.stats.udp_unresolved);
    assert!(r.stats.icmp_wait_hint_s.is_some_and(|w| w > 5), "{:?}", r.stats);
}

#[test]
fn a_flood_of_malformed_and_forged_packets_is_dropped_by_the_filter_or_counted() {
    // The hostile peer's deck (every category, 500 of each) on top of the
    // scenario's 5,000 strays: what the receive filter passes must be
    // counted as invalid exactly, the rest never seen, and no state change.
    let s = scenario("strays");
    let ports: Vec<u16> = PortList::parse(&s.ports, Protocol::Tcp).unwrap().as_slice().iter().filter(|p| p.0 == Protocol::Tcp).map(|p| p.1).collect();
    let deck = flood::forge_flood(&s.present_hosts(), &ports, SCANNER, 500, &mut sim::Rng::new(14));
    let record = flood::FloodRecord::of(&deck);
    let r = simulate_with(&s, 8, 4, PayloadTable::builtin(), std::time::Duration::from_secs(30), deck.into_iter().map(|p| p.bytes).collect());
    assert_exact(&s, &r);
    eprintln!("{}", record.table());
    assert_eq!(record.total_sent(), 500 * 19);
    assert_eq!(r.stats.invalid_replies, s.strays as u64 + record.total_passing(), "{:?}", r.stats);
    assert_eq!(r.stats.rx_dropped, 0);
}
