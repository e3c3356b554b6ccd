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
use portsweep::wire::Cookie;

const SCANNER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);

fn simulate(s: &Scenario, max_retries: u8, seed: u64) -> ScanReport {
    simulate_with(s, max_retries, seed, Vec::new())
}

/// A scan of the simulated network with `extra` packets mixed in.
fn simulate_with(s: &Scenario, max_retries: u8, seed: u64, extra: Vec<Vec<u8>>) -> ScanReport {
    let space = Arc::new(ScanSpace::new(HostSet::parse(&s.targets, &s.exclude).unwrap(), PortList::parse(&s.ports, Protocol::Tcp).unwrap()));
    let (sink, source) = sim::network_with(s, SCANNER, seed, extra);
    let config = ScanConfig { space: space.clone(), source: SCANNER, rate: None, max_retries, wait: None, seed, cookie: Cookie::new(seed, 99), shard: Shard::WHOLE, icmp_wait: std::time::Duration::from_secs(30), resume: None };
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
fn a_flood_of_malformed_and_forged_packets_is_dropped_by_the_filter_or_counted() {
    // The hostile peer's deck (every category, 500 of each) on top of the
    // scenario's 5,000 strays: what the receive filter passes must be
    // counted as invalid exactly, the rest never seen, and no state change.
    let s = scenario("strays");
    let ports: Vec<u16> = PortList::parse(&s.ports, Protocol::Tcp).unwrap().as_slice().iter().filter(|p| p.0 == Protocol::Tcp).map(|p| p.1).collect();
    let deck = flood::forge_flood(&s.present_hosts(), &ports, SCANNER, 500, &mut sim::Rng::new(14));
    let record = flood::FloodRecord::of(&deck);
    let r = simulate_with(&s, 8, 4, deck.into_iter().map(|p| p.bytes).collect());
    assert_exact(&s, &r);
    eprintln!("{}", record.table());
    assert_eq!(record.total_sent(), 500 * 19);
    assert_eq!(r.stats.invalid_replies, s.strays as u64 + record.total_passing(), "{:?}", r.stats);
    assert_eq!(r.stats.rx_dropped, 0);
}
