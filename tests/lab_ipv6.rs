//! IPv6 end to end: namespace labs over 2001:2::/48 scanned by the real
//! binary (AF_INET6 raw sender, packet socket with the dual-family filter),
//! every (host, port) checked against the scenario's ground truth. Needs
//! root, nftables and ethtool (`scripts/deps` installs them).
mod common;

use std::process::Command;

use common::*;
use portsweep::lab::Lab;
use portsweep::report::HostStatus;

/// A hop limit no kernel default has (64, 255), so the report's TTL can
/// only be it if it is read from the replies.
const TARGET_HOP_LIMIT: u8 = 57;

/// Sets the hop limit on the interface the target namespace's replies
/// leave by (its veth, `psw-t`: per-interface, so `lo`'s would not
/// tell), and reads it back from the namespace.
fn set_hop_limit(lab: &Lab, hops: u8) -> u8 {
    let key = "/proc/sys/net/ipv6/conf/psw-t/hop_limit";
    let set = Command::new("ip").args(["netns", "exec", lab.target_ns(), "sh", "-c", &format!("echo {hops} > {key}")]).status().expect("sets the sysctl");
    assert!(set.success());
    let out = Command::new("ip").args(["netns", "exec", lab.target_ns(), "cat", key]).output().expect("reads the sysctl");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("a hop limit")
}

#[test]
fn ipv6_tcp_and_udp_small_lab_is_exact_with_hop_limits() {
    let _g = lab_lock();
    let s = scenario("ipv6-small");
    let lab = Lab::build(&s).expect("lab builds");
    assert_eq!(set_hop_limit(&lab, TARGET_HOP_LIMIT), TARGET_HOP_LIMIT);
    let (report, _) = scan_in_lab(&lab, &s, &[]);
    assert_exact(&s, &report);
    assert_eq!(report.stats.udp_unresolved, 0, "{:?}", report.stats);
    assert_eq!(report.stats.invalid_replies, 0);
    let down: Vec<String> = report.hosts.iter().filter(|h| h.status == HostStatus::Down).map(|h| h.address.to_string()).collect();
    assert_eq!(down, ["2001:2:0:2::8", "2001:2:0:3::f"], "RFC 5952 form, the unused and the dead address");
    // Every answering port carries the hop limit where IPv4 has the TTL:
    // the veth's, which the replies (SYN-ACK, RST, ICMPv6) leave with.
    let answered: Vec<_> = report.hosts.iter().flat_map(|h| &h.ports).filter(|p| p.ttl.is_some()).collect();
    assert!(!answered.is_empty());
    let ttls: std::collections::BTreeSet<_> = answered.iter().map(|p| p.ttl).collect();
    assert_eq!(ttls, [Some(TARGET_HOP_LIMIT)].into());
}

#[test]
fn ipv6_reference_lab_265_hosts_by_2797_ports_is_exact() {
    let down = ["2001:2:0:2::d", "2001:2:0:3::fa", "2001:2:0:3::fb", "2001:2:0:3::fc", "2001:2:0:3::fd", "2001:2:0:3::fe"];
    assert_reference_lab_exact("cluster-250-v6", Reference::Clean { down: &down });
}

#[test]
fn ipv6_reference_lab_with_two_percent_loss_each_way_is_exact() {
    assert_reference_lab_exact("cluster-250-v6-loss", Reference::TwoPercentLoss);
}

/// A dual-stack cluster from a kubectl nodes file with two InternalIPs
/// per node: every family-specific fault is found at its address (the
/// finding keys name the address of a node that has two), and nothing
/// else, over a scan whose every pair of both families is exact.
#[test]
fn dual_stack_audit_finds_each_family_specific_fault_at_its_address_and_nothing_else() {
    use portsweep::audit::AuditReport;
    use portsweep::lab::verify::{finding_keys, verify_audit};
    let _g = lab_lock();
    let s = scenario("audit-dualstack");
    let spec = s.audit.clone().expect("an audit scenario");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.json");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", lab.scanner_ns(), bin(), "audit", "--inventory"]).arg(&spec.inventory);
    cmd.arg("--services").arg(spec.services.as_ref().expect("services file"));
    cmd.args(&spec.args).args(["--rate", "max", "--format", "json", "--output"]).arg(&out);
    let o = cmd.output().expect("runs portsweep audit");
    assert_eq!(o.status.code(), Some(1), "errors found: {}", String::from_utf8_lossy(&o.stderr));
    let report: AuditReport = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("audit JSON");
    assert_eq!(finding_keys(&report), spec.findings);
    // Each finding's address is of the family the fault was planted in.
    assert!(report.findings.iter().all(|f| f.address.is_ipv6()), "{:?}", report.findings.iter().map(|f| f.address).collect::<Vec<_>>());
    assert_eq!(report.nodes.len(), 8, "4 nodes × 2 addresses");
    let v = verify_audit(&s, &report.scan, true);
    assert!(v.is_exact(), "{}", v.summary(10));
}

/// A mixed IPv4 + IPv6 lab: three concurrent shards merge into the
/// single-run report pair by pair (both exact against the truth); a scan
/// interrupted at a random point resumes to the exact result; and the diff
/// against a scan of the changed lab lists exactly the pairs whose truth
/// changed, on both families.
#[test]
fn mixed_family_shards_merge_resume_and_diff_exactly() {
    use portsweep::report::ScanReport;
    use std::time::Duration;
    let _g = lab_lock();
    let (s, s2) = (scenario("mixed-small"), scenario("mixed-small-after"));
    let dir = tempfile::tempdir().unwrap();
    let merged_path = dir.path().join("merged.json");
    {
        let lab = Lab::build(&s).expect("lab builds");
        let (single, _) = scan_in_lab(&lab, &s, &["--rate", "max", "--seed", "42"]);
        assert_exact(&s, &single);
        let files: Vec<_> = (1..=3).map(|i| dir.path().join(format!("shard-{i}.json"))).collect();
        let children: Vec<_> = files
            .iter()
            .enumerate()
            .map(|(i, f)| spawn_guarded(&mut scan_command(&lab, &s, f, &["--rate", "max", "--seed", "42", "--shard", &format!("{}/3", i + 1)])))
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success());
        }
        let shards: Vec<ScanReport> = files.iter().map(|f| read_report(f)).collect();
        let first_pass: u64 = shards.iter().map(|r| r.stats.probes_sent - r.stats.retransmissions).sum();
        assert_eq!(first_pass, 50 * 2798, "the first passes partition the pairs");
        let out = Command::new(bin()).arg("merge").args(&files).args(["--format", "json", "--output"]).arg(&merged_path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let merged = read_report(&merged_path);
        assert_exact(&s, &merged);
        let ports = single.port_list().unwrap();
        for h in &single.hosts {
            for &(proto, port) in ports.as_slice() {
                assert_eq!(merged.lookup(h.address, proto, port, &ports), single.lookup(h.address, proto, port, &ports), "{}:{port}", h.address);
            }
        }
        assert_eq!(merged.hosts.iter().map(|h| (h.address, h.status)).collect::<Vec<_>>(), single.hosts.iter().map(|h| (h.address, h.status)).collect::<Vec<_>>());

        // Interrupted at a random point of the ~7 s first pass, resumed.
        let out = dir.path().join("resumed.json");
        let args = |extra: &[&str]| scan_command(&lab, &s, &out, &[&["--rate", "20000", "--seed", "9"], extra].concat());
        let ms = 300 + std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64 % 6000;
        let mut child = spawn_guarded(&mut args(&[]));
        std::thread::sleep(Duration::from_millis(ms));
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        assert_eq!(child.wait().unwrap().code(), Some(130), "interrupted at {ms} ms");
        let checkpoint = dir.path().join("resumed.json.checkpoint");
        assert!(checkpoint.exists(), "no checkpoint after SIGINT at {ms} ms");
        assert_eq!(args(&["--resume", checkpoint.to_str().unwrap()]).status().unwrap().code(), Some(0));
        let resumed = read_report(&out);
        assert!(resumed.complete);
        assert_exact(&s, &resumed);
    }
    let lab = Lab::build(&s2).expect("lab builds");
    let (after, _) = scan_in_lab(&lab, &s2, &["--rate", "max"]);
    assert_exact(&s2, &after);
    let after_path = dir.path().join("after.json");
    std::fs::write(&after_path, serde_json::to_string(&after).unwrap()).unwrap();
    let out = Command::new(bin()).args(["diff", "--format", "json"]).arg(&merged_path).arg(&after_path).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let d: portsweep::diff::Diff = serde_json::from_slice(&out.stdout).unwrap();
    // Ground truth: every pair whose state differs between the scenarios.
    let expected = truth_changes(&s, &s2);
    assert_eq!(diff_changes(&d), expected);
    assert_eq!(expected.len(), 4, "{expected:?}");
}
