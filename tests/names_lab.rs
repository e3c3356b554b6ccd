//! Host names in the namespace lab. The demo scenario's `[names]` are the
//! scanner namespace's hosts file (`/etc/netns/NS/hosts`, bound over
//! `/etc/hosts` by `ip netns exec`, with a resolv.conf whose only server is
//! the namespace's own loopback), so every name here resolves inside the lab
//! and nowhere else. Scans and audits by name must say exactly what they say
//! by address. Needs root and nftables.
mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::*;
use portsweep::audit::AuditReport;
use portsweep::lab::verify::{finding_keys, verify_audit, verify_targets};
use portsweep::lab::Lab;
use portsweep::report::ScanReport;

/// `portsweep ARGS` in the lab's scanner namespace.
fn in_lab(lab: &Lab, args: &[&str]) -> Output {
    Command::new("ip").args(["netns", "exec", lab.scanner_ns(), bin()]).args(args).output().expect("runs portsweep")
}

fn ok(o: &Output) {
    assert!(matches!(o.status.code(), Some(0 | 1)), "portsweep failed: {}", String::from_utf8_lossy(&o.stderr));
}

fn read<T: serde::de::DeserializeOwned>(p: &Path) -> T {
    serde_json::from_str(&std::fs::read_to_string(p).expect("report written")).expect("report parses")
}

/// Every pair of `a` has the state and reason it has in `b`, and the hosts
/// are the same, in the same order, with the same status.
fn same_states(a: &ScanReport, b: &ScanReport) {
    assert_eq!(a.ports, b.ports);
    let ports = a.port_list().unwrap();
    assert_eq!(a.hosts.iter().map(|h| (h.address, h.status)).collect::<Vec<_>>(), b.hosts.iter().map(|h| (h.address, h.status)).collect::<Vec<_>>());
    for h in &a.hosts {
        for &(proto, port) in ports.as_slice() {
            assert_eq!(a.lookup(h.address, proto, port, &ports), b.lookup(h.address, proto, port, &ports), "{}:{port}/{proto}", h.address);
        }
    }
}

#[test]
fn scanning_by_name_gives_the_states_of_scanning_by_address() {
    let _g = lab_lock();
    let s = scenario("demo");
    let lab = Lab::build(&s).expect("lab builds");
    let etc = lab.etc_dir().expect("the scanner namespace has /etc files").to_path_buf();
    assert!(std::fs::read_to_string(etc.join("hosts")).unwrap().contains("198.19.0.11 cp-2.lab.test\n"));
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    let ports = "ssh,http,https,2379-2380,6443,10250,10256,10259,30000-32767,U:ntp,8472";
    // Names on the command line, in a target file, and excluded by name.
    std::fs::write(p("nodes.txt"), "cp-1.lab.test cp-2.lab.test\n# workers\nworker-05.lab.test, worker-07.lab.test\nworker-21.lab.test\n").unwrap();
    let by_name = in_lab(&lab, &["scan", "cp-3.lab.test", &format!("@{}", p("nodes.txt")), "worker-09.lab.test", "--exclude", "worker-21.lab.test", "-p", ports, "--seed", "3", "--rate", "max", "-o", &p("by-name.json")]);
    ok(&by_name);
    let by_addr = in_lab(&lab, &["scan", "198.19.0.10-198.19.0.12", "198.19.1.5", "198.19.1.7", "198.19.1.9", "-p", ports, "--seed", "3", "--rate", "max", "-o", &p("by-addr.json")]);
    ok(&by_addr);
    let (named, plain): (ScanReport, ScanReport) = (read(dir.path().join("by-name.json").as_path()), read(dir.path().join("by-addr.json").as_path()));
    same_states(&named, &plain);
    let labels: Vec<String> = named.hosts.iter().map(|h| format!("{} {}", h.address, h.name.as_deref().unwrap_or("-"))).collect();
    assert_eq!(labels, ["198.19.0.10 cp-1.lab.test", "198.19.0.11 cp-2.lab.test", "198.19.0.12 cp-3.lab.test", "198.19.1.5 worker-05.lab.test", "198.19.1.7 worker-07.lab.test", "198.19.1.9 worker-09.lab.test"]);
    assert!(plain.hosts.iter().all(|h| h.name.is_none()));
    // And both are the lab's truth, pair by pair.
    let v = verify_targets(&s, &named, &["198.19.0.10-198.19.0.12", "198.19.1.5", "198.19.1.7", "198.19.1.9"], "22,80,443,2379-2380,6443,10250,10256,10259,30000-32767,U:123,8472", true);
    assert!(v.is_exact() && v.pairs == 6 * (9 + 2 + 2768), "{}", v.summary(10));

    // A name with three A records: each address is scanned.
    let api = in_lab(&lab, &["scan", "api.lab.test", "-p", "ssh,6443,10259", "--rate", "max", "--format", "csv"]);
    ok(&api);
    // cp-2 (198.19.0.11) alone has the scheduler exposed: open is its default.
    assert_eq!(String::from_utf8_lossy(&api.stdout), "address,protocol,port,state,reason,name\n198.19.0.10,tcp,6443,open,syn-ack,api.lab.test\n198.19.0.11,tcp,22,closed,rst,api.lab.test\n198.19.0.12,tcp,6443,open,syn-ack,api.lab.test\n");
    let dry = in_lab(&lab, &["scan", "api.lab.test", "cp-1.lab.test", "-p-", "--dry-run"]);
    ok(&dry);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains("  api.lab.test → 198.19.0.10, 198.19.0.11, 198.19.0.12\n3 hosts × 65535 ports = 196605 probes"), "{text}");

    // An unknown name: exit 2, naming it, at once (no server to wait for).
    let t = Instant::now();
    let unknown = in_lab(&lab, &["scan", "cp-1.lab.test", "cp-9.lab.test", "-p", "22"]);
    let took = t.elapsed();
    assert_eq!(unknown.status.code(), Some(2));
    let err = String::from_utf8_lossy(&unknown.stderr);
    assert!(err.starts_with("portsweep: host name \"cp-9.lab.test\" does not resolve: "), "{err}");
    assert!(took < Duration::from_secs(2), "an unknown name took {took:?}");
    eprintln!("unknown name failed in {took:?}");
    let unknown = in_lab(&lab, &["scan", &format!("@{}", p("nodes.txt")), "--exclude", "gone.lab.test", "-p", "22"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--exclude: host name \"gone.lab.test\" does not resolve"));
    drop(lab);
    assert!(!etc.exists(), "the lab removes its /etc/netns files");
}

#[test]
fn auditing_an_inventory_of_names_gives_the_findings_of_addresses() {
    let _g = lab_lock();
    let s = scenario("demo");
    let spec = s.audit.clone().unwrap();
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let audit = |inventory: &Path, out: &Path| {
        let mut args: Vec<String> = vec!["audit".into(), "--inventory".into(), inventory.display().to_string()];
        args.extend(spec.args.iter().cloned());
        args.extend(["--rate", "max", "--seed", "5", "--output"].map(String::from));
        args.push(out.display().to_string());
        let o = in_lab(&lab, &args.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(o.status.code(), Some(1), "findings: {}", String::from_utf8_lossy(&o.stderr));
        read::<AuditReport>(out)
    };
    let by_addr = audit(&spec.inventory, &dir.path().join("by-addr.json"));
    let by_name = audit(&fixture("inventories/lab-cluster-names.yaml"), &dir.path().join("by-name.json"));
    assert_eq!(finding_keys(&by_name), spec.findings);
    assert_eq!(finding_keys(&by_addr), spec.findings);
    assert_eq!(by_name.findings, by_addr.findings, "every field of every finding");
    assert_eq!(by_name.nodes, by_addr.nodes, "names, addresses, roles, status");
    assert_eq!(by_name.summary, by_addr.summary);
    same_states(&by_name.scan, &by_addr.scan);
    let w5 = by_name.scan.hosts.iter().find(|h| h.address.to_string() == "198.19.1.5").unwrap();
    assert_eq!(w5.name.as_deref(), Some("worker-05.lab.test"), "the scan carries the DNS names");
    let v = verify_audit(&s, &by_name.scan, true);
    assert!(v.is_exact(), "{}", v.summary(10));

    // Flags take names too; a name with three A records is three nodes
    // (plus worker-01 and 198.19.1.2).
    let dry = in_lab(&lab, &["audit", "--control-plane", "api.lab.test", "--worker", "worker-01.lab.test,198.19.1.2", "--dry-run"]);
    ok(&dry);
    assert!(String::from_utf8_lossy(&dry.stdout).contains("5 nodes (control-plane, worker)"), "{}", String::from_utf8_lossy(&dry.stdout));
    // An unknown name in an inventory: exit 2, naming the file and the name.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "nodes:\n  - {name: w-99, address: worker-99.lab.test, roles: [worker]}\n  - {address: worker-01.lab.test, roles: [worker]}\n").unwrap();
    let o = in_lab(&lab, &["audit", "--inventory", bad.to_str().unwrap(), "--dry-run"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with(&format!("portsweep: {}: host name \"worker-99.lab.test\" does not resolve: ", bad.display())), "{err}");
}
