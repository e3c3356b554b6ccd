//! End-to-end: build namespace labs from `fixtures/scenarios`, run the
//! `portsweep` binary inside the scanner namespace, and check every
//! (host, port) of its JSON report against the scenario's ground truth.
//! Needs root and nftables (`.ci/run` installs them).
mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use portsweep::lab::Lab;
use portsweep::report::HostStatus;

#[test]
fn reference_lab_265_hosts_by_2797_ports_is_exact() {
    let _g = lab_lock();
    let s = scenario("cluster-250");
    let lab = Lab::build(&s).expect("lab builds");
    let (report, _) = scan_in_lab(&lab, &s, &["--rate", "max", "--seed", "1"]);
    assert_eq!(report.hosts.len(), 265);
    assert_eq!(report.port_list().unwrap().len(), 2797);
    assert!(report.complete);
    assert_exact(&s, &report);
    assert_eq!(report.stats.invalid_replies, 0);
    let down: Vec<String> = report.hosts.iter().filter(|h| h.status == HostStatus::Down).map(|h| h.address.to_string()).collect();
    assert_eq!(down, ["198.19.0.13", "198.19.1.250", "198.19.1.251", "198.19.1.252", "198.19.1.253", "198.19.1.254"]);
    eprintln!("265×2797: {:.2} s, {:.0} probes/s, {} passes", report.stats.duration_s, report.stats.rate_pps, report.stats.passes);
}

#[test]
fn two_percent_loss_each_way_is_exact_with_default_retries() {
    let _g = lab_lock();
    let s = scenario("cluster-250-loss");
    assert_eq!(s.loss_percent, 2.0);
    let lab = Lab::build(&s).expect("lab builds");
    let (report, _) = scan_in_lab(&lab, &s, &["--rate", "max"]);
    assert_exact(&s, &report);
    assert!(report.stats.retransmissions > 0 && report.stats.passes >= 3, "{:?}", report.stats);
}

#[test]
fn forged_replies_are_counted_and_change_nothing() {
    let _g = lab_lock();
    let s = scenario("strays");
    let lab = Lab::build(&s).expect("lab builds");
    let injector = lab.inject_strays(&s, s.strays, Duration::from_secs(2));
    // 64,000 probes at 20,000/s: the scan spans the injection.
    let (report, _) = scan_in_lab(&lab, &s, &["--rate", "20000"]);
    let injected = injector.join().expect("injector thread").expect("injector sends");
    assert_eq!(injected, s.strays);
    assert_exact(&s, &report);
    assert!(report.stats.invalid_replies >= 1000, "only {} invalid replies seen", report.stats.invalid_replies);
}

#[test]
fn demo_runs_and_matches_ground_truth() {
    let _g = lab_lock();
    let out = Command::new(bin()).args(["demo"]).output().expect("runs demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ground truth: scan 69625/69625 pairs exact; findings 9/9 as expected"), "{stdout}");
    assert!(stdout.contains("9 findings: 8 error, 1 warning"), "{stdout}");
    let left = Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    let mine = format!("psw{}x", std::process::id());
    assert!(!String::from_utf8_lossy(&left.stdout).contains(&mine), "namespaces left behind");
}

#[test]
fn interrupted_scan_writes_a_partial_report() {
    let _g = lab_lock();
    let s = scenario("cluster-250");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("partial.json");
    let mut child = Command::new("ip")
        .args(["netns", "exec", lab.scanner_ns(), bin(), "scan"])
        .args(&s.targets)
        .args(["-p", &s.ports, "--rate", "50000", "--format", "json", "--output"])
        .arg(&out)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    // `ip netns exec` execs the scanner in place: the child's pid is its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let report: portsweep::report::ScanReport = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(!report.complete);
    assert!(report.stats.probes_sent > 10_000 && report.stats.probes_sent < 737_000, "{:?}", report.stats);
    // What it found is right: every open pair reported is open in truth.
    let oracle = s.oracle();
    let opens: Vec<_> = report.hosts.iter().flat_map(|h| h.ports.iter().filter(|p| p.state.as_str() == "open").map(move |p| (h.address, p.port))).collect();
    assert!(!opens.is_empty());
    for (a, p) in opens {
        assert_eq!(oracle.truth(a, portsweep::target::Protocol::Tcp, p).state, "open", "{a}:{p}");
    }
}

#[test]
fn without_cap_net_raw_exit_code_is_3_with_a_hint() {
    // Drop CAP_NET_RAW from the bounding set: the exec'd scanner lacks it
    // even as root. It fails before sending anything (target: loopback).
    let out = Command::new("setpriv").args(["--bounding-set", "-net_raw", "--", bin(), "scan", "127.0.0.1", "-p", "80"]).output().expect("setpriv runs");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CAP_NET_RAW") && err.contains("setcap cap_net_raw,cap_net_admin+ep"), "{err}");
}

#[test]
fn udp_and_tcp_mixed_265_hosts_with_loss_is_exact_with_defaults() {
    let _g = lab_lock();
    let s = scenario("udp-250");
    let lab = Lab::build(&s).expect("lab builds");
    let (report, _) = scan_in_lab(&lab, &s, &["--rate", "max"]);
    assert_exact(&s, &report);
    assert_eq!(report.stats.udp_unresolved, 0);
    eprintln!("udp-250: {:.2} s, {} probes, {} passes, {} ICMP rounds", report.stats.duration_s, report.stats.probes_sent, report.stats.passes, report.stats.icmp_rounds);
}

#[test]
fn icmp_rate_limiting_bites_and_the_rounds_beat_it() {
    let _g = lab_lock();
    let s = scenario("udp-limit");
    let lab = Lab::build(&s).expect("lab builds");
    // Without rounds the kernel's limiter hides most closed ports.
    let (fast, _) = scan_in_lab(&lab, &s, &["--rate", "max", "--icmp-wait", "0s"]);
    let v = portsweep::lab::verify::verify(&s, &fast, true);
    let wrong = v.pairs - v.exact;
    assert!(wrong >= 10, "limiter did not bite: {}", v.summary(3));
    assert_eq!(fast.stats.udp_unresolved, wrong + 1, "the dropped port is unresolved too");
    // With the defaults every closed port is found closed.
    let (report, _) = scan_in_lab(&lab, &s, &[]);
    assert_exact(&s, &report);
    assert!(report.stats.icmp_rounds >= 10, "{:?}", report.stats);
    assert_eq!(report.stats.udp_unresolved, 0);
}
