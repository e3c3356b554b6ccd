//! Helpers for tests that build namespace labs and run the real binary.
#![allow(dead_code)]

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use portsweep::lab::process::StopOnDrop;
use portsweep::lab::{verify::verify, Lab, Scenario};
use portsweep::report::{HostStatus, ScanReport};

/// Lab tests take both cores and time-sensitive resources: one at a time.
static LAB_LOCK: Mutex<()> = Mutex::new(());

pub fn lab_lock() -> MutexGuard<'static, ()> {
    LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_portsweep")
}

pub fn scenario(name: &str) -> Scenario {
    Scenario::load(&fixture(&format!("scenarios/{name}.toml"))).expect("scenario parses")
}

/// `portsweep scan` of the scenario's targets and ports inside the lab's
/// scanner namespace, writing JSON to `out`, with `extra` flags.
pub fn scan_command(lab: &Lab, s: &Scenario, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", lab.scanner_ns(), bin(), "scan"]);
    cmd.args(&s.targets);
    for e in &s.exclude {
        cmd.args(["--exclude", e]);
    }
    cmd.args(["-p", &s.ports, "--format", "json", "--output"]).arg(out).args(extra);
    cmd
}

/// Reads a JSON scan report.
/// Starts `cmd` (a scanner in the lab) guarded: a failing assertion stops
/// it by pid instead of leaving it running in a torn-down namespace.
pub fn spawn_guarded(cmd: &mut Command) -> StopOnDrop {
    StopOnDrop::new(cmd.spawn().expect("starts portsweep"), std::time::Duration::from_secs(10))
}

pub fn read_report(path: &Path) -> ScanReport {
    serde_json::from_str(&std::fs::read_to_string(path).expect("report written")).expect("report is valid JSON")
}

/// Runs `scan_command` to completion, returning the parsed JSON report.
pub fn scan_in_lab(lab: &Lab, s: &Scenario, extra: &[&str]) -> (ScanReport, Output) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("scan.json");
    let output = scan_command(lab, s, &out_path, extra).output().expect("runs portsweep");
    assert!(output.status.success(), "scan failed: {}", String::from_utf8_lossy(&output.stderr));
    (read_report(&out_path), output)
}

/// Asserts the report matches the scenario for every pair (states and reasons).
pub fn assert_exact(s: &Scenario, report: &ScanReport) {
    let v = verify(s, report, true);
    assert!(v.is_exact(), "{}", v.summary(20));
}

/// What a scan of a reference lab (`cluster-250*`: 265 hosts × 2797
/// ports, either family) must show besides exact states.
pub enum Reference<'a> {
    /// No loss, `--seed 1`: no invalid reply, and exactly these hosts down
    /// (the scenario's dead and unused addresses, in report order).
    Clean { down: &'a [&'a str] },
    /// The scenario's 2 % loss each way: exact thanks to retransmissions.
    TwoPercentLoss,
}

/// Builds the reference lab `name`, scans it at `--rate max` and asserts
/// every (host, port) exact against the scenario's ground truth, plus
/// what `expect` says; returns the report and the scanner's output.
pub fn assert_reference_lab_exact(name: &str, expect: Reference) -> (ScanReport, Output) {
    let _g = lab_lock();
    let s = scenario(name);
    let lossy = matches!(expect, Reference::TwoPercentLoss);
    assert_eq!(s.loss_percent, if lossy { 2.0 } else { 0.0 }, "{name}'s loss");
    let lab = Lab::build(&s).expect("lab builds");
    let (report, output) = scan_in_lab(&lab, &s, if lossy { &["--rate", "max"] } else { &["--rate", "max", "--seed", "1"] });
    assert_exact(&s, &report);
    match expect {
        Reference::Clean { down } => {
            assert_eq!(report.hosts.len(), 265);
            assert_eq!(report.port_list().unwrap().len(), 2797);
            assert!(report.complete);
            assert_eq!(report.stats.invalid_replies, 0);
            let seen: Vec<String> = report.hosts.iter().filter(|h| h.status == HostStatus::Down).map(|h| h.address.to_string()).collect();
            assert_eq!(seen, down);
        }
        Reference::TwoPercentLoss => assert!(report.stats.retransmissions > 0 && report.stats.passes >= 3, "{:?}", report.stats),
    }
    eprintln!("{name} 265×2797: {:.2} s, {:.0} probes/s, {} passes", report.stats.duration_s, report.stats.rate_pps, report.stats.passes);
    (report, output)
}

/// Every pair whose ground-truth state differs between the scenarios
/// `before` and `after`, over `before`'s targets and ports as `lab::truth`
/// reads them (not the scanner's parsers), in a diff's order (hosts
/// ascending, TCP before UDP, ports ascending): address, port, state
/// before, state after.
pub fn truth_changes(before: &Scenario, after: &Scenario) -> Vec<(IpAddr, u16, String, String)> {
    let (o1, o2) = (before.oracle(), after.oracle());
    let pairs = before.expected().expect("the scenario's targets and ports read");
    let mut changes = Vec::new();
    for &a in &pairs.hosts {
        for &(proto, port) in &pairs.ports {
            let (t1, t2) = (o1.truth(a, proto, port), o2.truth(a, proto, port));
            if t1.state != t2.state {
                changes.push((a, port, t1.state.to_string(), t2.state.to_string()));
            }
        }
    }
    changes
}

/// The port rows of a `portsweep diff --format json`, in the shape of
/// [`truth_changes`].
pub fn diff_changes(d: &portsweep::diff::Diff) -> Vec<(IpAddr, u16, String, String)> {
    d.ports.iter().map(|p| (p.address, p.port, p.before.state.as_str().to_string(), p.after.state.as_str().to_string())).collect()
}

/// The recorded API answers of fixtures/kube: nodes in two pages (the
/// second asked with the first's continue token), services in one, or a
/// 403 for services when `forbid_services`.
pub fn recorded_api(forbid_services: bool) -> Vec<portsweep::lab::kube_api::Recorded> {
    use portsweep::lab::kube_api::Recorded;
    let read = |name: &str| std::fs::read_to_string(fixture(&format!("kube/{name}"))).unwrap();
    let page1 = read("nodes-page-1.json");
    let token: serde_json::Value = serde_json::from_str(&page1).unwrap();
    let token = token["metadata"]["continue"].as_str().unwrap().to_string();
    let services = if forbid_services { Recorded::new("/api/v1/services?limit=500", 403, read("forbidden-services.json")) } else { Recorded::new("/api/v1/services?limit=500", 200, read("services.json")) };
    vec![
        Recorded::new("/api/v1/nodes?limit=500", 200, page1),
        Recorded::new(format!("/api/v1/nodes?limit=500&continue={token}"), 200, read("nodes-page-2.json")),
        services,
    ]
}

/// What `kubectl get nodes -o json` / `kubectl get svc -A -o json` prints
/// for the recorded pages: one `List` of their items, each with its kind
/// (the API leaves it out of list items; kubectl puts it back).
pub fn kubectl_equivalent(kind: &str, pages: &[&str]) -> String {
    let mut items = Vec::new();
    for page in pages {
        let text = std::fs::read_to_string(fixture(&format!("kube/{page}"))).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        for mut item in doc["items"].as_array().unwrap().clone() {
            item["apiVersion"] = "v1".into();
            item["kind"] = kind.into();
            items.push(item);
        }
    }
    serde_json::to_string_pretty(&serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items})).unwrap()
}

/// A scan report as the README's JSON contract describes it: a control-plane
/// node with kube-scheduler exposed and etcd (one entry, 2379-2380) rejected,
/// and a worker whose kubelet is silently firewalled.
pub const README_SCAN: &str = r#"{"portsweep": "0.1.0", "format_version": 1, "kind": "scan",
 "started": "2026-11-27T05:01:49.120Z", "finished": "2026-11-27T05:01:49.480Z",
 "complete": true, "args": ["portsweep", "scan"], "seed": 1, "shard": "1/1",
 "ports": "T:443,2379-2380,6443,10248,10250-10252,10256-10257,10259,30000-32767,38088,U:123,8472",
 "stats": {"probes_sent": 5570, "replies": 5566, "invalid_replies": 0, "retransmissions": 0,
           "duration_s": 0.1, "rate_pps": 55700.0, "rx_dropped": 0, "passes": 2, "srtt_us": 310},
 "hosts": [
  {"address": "198.19.0.10", "status": "up", "default_state": "closed", "default_reason": "rst", "ports": [
    {"port": 2379, "protocol": "tcp", "state": "filtered", "reason": "admin-prohibited"},
    {"port": 2380, "protocol": "tcp", "state": "filtered", "reason": "admin-prohibited"},
    {"port": 6443, "protocol": "tcp", "state": "open", "reason": "syn-ack", "ttl": 64},
    {"port": 10250, "protocol": "tcp", "state": "open", "reason": "syn-ack", "ttl": 64},
    {"port": 10256, "protocol": "tcp", "state": "open", "reason": "syn-ack", "ttl": 64},
    {"port": 10259, "protocol": "tcp", "state": "open", "reason": "syn-ack", "ttl": 64},
    {"port": 8472, "protocol": "udp", "state": "open|filtered", "reason": "no-response"}]},
  {"address": "198.19.1.1", "status": "up", "default_state": "closed", "default_reason": "rst", "ports": [
    {"port": 10250, "protocol": "tcp", "state": "filtered", "reason": "no-response"},
    {"port": 10256, "protocol": "tcp", "state": "open", "reason": "syn-ack", "ttl": 64},
    {"port": 8472, "protocol": "udp", "state": "open|filtered", "reason": "no-response"}]}]}"#;
