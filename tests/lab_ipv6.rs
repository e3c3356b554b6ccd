//! IPv6 end to end: namespace labs over 2001:2::/48 scanned by the real
//! binary (AF_INET6 raw sender, packet socket with the dual-family filter),
//! every (host, port) checked against the scenario's ground truth. Needs
//! root, nftables and ethtool (`scripts/deps` installs them).
mod common;

use std::process::Command;

use common::*;
use portsweep::lab::Lab;
use portsweep::report::HostStatus;

/// The hop limit the target namespace's kernel puts on what it sends,
/// read from the namespace itself (what the report must call the TTL).
fn hop_limit(lab: &Lab) -> u8 {
    let out = Command::new("ip").args(["netns", "exec", lab.target_ns(), "cat", "/proc/sys/net/ipv6/conf/lo/hop_limit"]).output().expect("reads the sysctl");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a hop limit")
}

#[test]
fn ipv6_tcp_and_udp_small_lab_is_exact_with_hop_limits() {
    let _g = lab_lock();
    let s = scenario("ipv6-small");
    let lab = Lab::build(&s).expect("lab builds");
    let (report, _) = scan_in_lab(&lab, &s, &[]);
    assert_exact(&s, &report);
    assert_eq!(report.stats.udp_unresolved, 0, "{:?}", report.stats);
    assert_eq!(report.stats.invalid_replies, 0);
    let down: Vec<String> = report.hosts.iter().filter(|h| h.status == HostStatus::Down).map(|h| h.address.to_string()).collect();
    assert_eq!(down, ["2001:2:0:2::8", "2001:2:0:3::f"], "RFC 5952 form, the unused and the dead address");
    // Every answering port carries the hop limit where IPv4 has the TTL.
    let hops = hop_limit(&lab);
    let answered: Vec<_> = report.hosts.iter().flat_map(|h| &h.ports).filter(|p| p.ttl.is_some()).collect();
    assert!(!answered.is_empty());
    assert!(answered.iter().all(|p| p.ttl == Some(hops)), "hop limit {hops}");
}

#[test]
fn ipv6_reference_lab_265_hosts_by_2797_ports_is_exact() {
    let _g = lab_lock();
    let s = scenario("cluster-250-v6");
    let lab = Lab::build(&s).expect("lab builds");
    let (report, _) = scan_in_lab(&lab, &s, &["--rate", "max", "--seed", "1"]);
    assert_eq!(report.hosts.len(), 265);
    assert_eq!(report.port_list().unwrap().len(), 2797);
    assert!(report.complete);
    assert_exact(&s, &report);
    assert_eq!(report.stats.invalid_replies, 0);
    let down: Vec<String> = report.hosts.iter().filter(|h| h.status == HostStatus::Down).map(|h| h.address.to_string()).collect();
    assert_eq!(down, ["2001:2:0:2::d", "2001:2:0:3::fa", "2001:2:0:3::fb", "2001:2:0:3::fc", "2001:2:0:3::fd", "2001:2:0:3::fe"]);
    eprintln!("IPv6 265×2797: {:.2} s, {:.0} probes/s, {} passes", report.stats.duration_s, report.stats.rate_pps, report.stats.passes);
}

#[test]
fn ipv6_reference_lab_with_two_percent_loss_each_way_is_exact() {
    let _g = lab_lock();
    let s = scenario("cluster-250-v6-loss");
    assert_eq!(s.loss_percent, 2.0);
    let lab = Lab::build(&s).expect("lab builds");
    let (report, _) = scan_in_lab(&lab, &s, &["--rate", "max"]);
    assert_exact(&s, &report);
    assert!(report.stats.retransmissions > 0 && report.stats.passes >= 3, "{:?}", report.stats);
}
