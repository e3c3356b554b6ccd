//! Audits of lab clusters (fixtures/scenarios/audit-*.toml and demo.toml):
//! each runs `portsweep audit` in the scanner namespace and must report
//! exactly the scenario's findings — no more, no fewer — over a scan whose
//! every pair matches the lab's truth. Needs root and nftables.
mod common;

use std::process::Command;

use common::*;
use portsweep::audit::AuditReport;
use portsweep::lab::verify::{finding_keys, verify_audit};
use portsweep::lab::{Lab, Scenario};

/// Runs the scenario's audit with `extra` flags; returns the report, the
/// exit code and the text written with `--format`.
fn audit_in_lab(lab: &Lab, s: &Scenario, format: &str, extra: &[&str]) -> (Option<i32>, String) {
    let spec = s.audit.as_ref().expect("an audit scenario");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.out");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", lab.scanner_ns(), bin(), "audit", "--inventory"]).arg(&spec.inventory);
    cmd.args(&spec.args).args(["--rate", "max", "--format", format, "--output"]).arg(&out).args(extra);
    let o = cmd.output().expect("runs portsweep audit");
    assert!(matches!(o.status.code(), Some(0 | 1)), "audit failed: {}", String::from_utf8_lossy(&o.stderr));
    (o.status.code(), std::fs::read_to_string(&out).expect("report written"))
}

fn check(name: &str) {
    let _g = lab_lock();
    let s = scenario(name);
    let spec = s.audit.clone().unwrap();
    let lab = Lab::build(&s).expect("lab builds");
    let (code, text) = audit_in_lab(&lab, &s, "json", &[]);
    let report: AuditReport = serde_json::from_str(&text).expect("audit JSON parses");
    assert_eq!(finding_keys(&report), spec.findings, "{name}: findings");
    let v = verify_audit(&s, &report.scan, true);
    assert!(v.is_exact(), "{name}: {}", v.summary(10));
    let errors = report.findings.iter().any(|f| f.severity.as_str() == "error");
    assert_eq!(code, Some(errors as i32), "{name}: exit code follows --fail-on error");
}

#[test]
fn flannel_post_install_demo_cluster() {
    check("demo");
}

#[test]
fn flannel_pre_install() {
    check("audit-flannel-pre");
}

#[test]
fn calico_post_install_from_a_node() {
    check("audit-calico-post");
}

#[test]
fn calico_pre_install() {
    check("audit-calico-pre");
}

#[test]
fn cilium_post_install_from_outside() {
    check("audit-cilium-post");
}

#[test]
fn cilium_pre_install() {
    check("audit-cilium-pre");
}

#[test]
fn junit_and_markdown_from_a_real_run() {
    let _g = lab_lock();
    let s = scenario("audit-calico-pre");
    let lab = Lab::build(&s).expect("lab builds");
    let (code, junit) = audit_in_lab(&lab, &s, "junit", &[]);
    assert_eq!(code, Some(1));
    assert!(junit.starts_with("<?xml"), "{junit}");
    assert_eq!(junit.matches("<failure").count(), 2, "{junit}");
    assert_eq!(junit.matches("<testsuite ").count(), 25, "one suite per node");
    let (_, md) = audit_in_lab(&lab, &s, "markdown", &[]);
    assert_eq!(md.lines().filter(|l| l.starts_with("| error | conflict |")).count(), 2, "{md}");
    assert!(md.contains("worker-05") && md.contains("179"), "{md}");
}

#[test]
fn per_node_audits_make_a_node_by_node_matrix() {
    let _g = lab_lock();
    let s = scenario("audit-calico-post");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for node in ["cp-1", "worker-02"] {
        let (_, text) = audit_in_lab(&lab, &s, "json", &["--vantage-node", node]);
        let f = dir.path().join(format!("node-{node}.json"));
        std::fs::write(&f, text).unwrap();
        files.push(f);
    }
    let out = Command::new(bin()).args(["matrix", "--format", "json", "--dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let m: portsweep::audit::matrix::Matrix = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(m.sources, ["cp-1", "worker-02"]);
    assert_eq!(m.cells.len(), 2 * 24, "25 nodes less the source itself");
    let bad: Vec<String> = m.cells.iter().filter(|c| !c.ok).map(|c| format!("{}→{}: {}", c.from, c.to, c.problems.join(","))).collect();
    // From a node: BGP blocked on worker-04, kube-proxy missing on worker-06,
    // harbor missing on the registry, worker-21 down — from both vantages.
    let mut expected = Vec::new();
    for from in ["cp-1", "worker-02"] {
        expected.push(format!("{from}→registry: 38088/tcp missing"));
        expected.push(format!("{from}→worker-04: 179/tcp blocked"));
        expected.push(format!("{from}→worker-06: 10256/tcp missing"));
        expected.push(format!("{from}→worker-21: unreachable"));
    }
    let mut bad_sorted = bad.clone();
    bad_sorted.sort();
    expected.sort();
    assert_eq!(bad_sorted, expected);
}

#[test]
fn sharded_audit_merged_and_judged_gives_the_single_run_findings() {
    // The Indexed Job flow: N shard audits, `merge`, `audit --scan-report`.
    let _g = lab_lock();
    let s = scenario("audit-calico-post");
    let spec = s.audit.clone().unwrap();
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let mut shards = Vec::new();
    for i in 1..=2 {
        let (_, text) = audit_in_lab(&lab, &s, "json", &["--seed", "5", "--shard", &format!("{i}/2")]);
        let f = dir.path().join(format!("shard-{i}.json"));
        std::fs::write(&f, text).unwrap();
        shards.push(f);
    }
    let merged = dir.path().join("merged-scan.json");
    let out = Command::new(bin()).arg("merge").args(&shards).args(["--format", "json", "--output"]).arg(&merged).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(bin())
        .args(["audit", "--inventory"])
        .arg(&spec.inventory)
        .args(&spec.args)
        .args(["--format", "json", "--scan-report"])
        .arg(&merged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let report: AuditReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(finding_keys(&report), spec.findings);
    // Or in one step: merging audit shards judges the merged scan again.
    let out = Command::new(bin()).arg("merge").args(&shards).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merged: AuditReport = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(finding_keys(&merged), spec.findings);
    assert_eq!(merged.scan.shard, "1/1");
}

#[test]
fn one_sweep_writes_json_junit_and_markdown_that_agree() {
    // `-o a.json -o a.xml -o a.md`: the JUnit and Markdown files are exactly
    // what the JSON report renders to, so all three are one report.
    let _g = lab_lock();
    let s = scenario("demo");
    let spec = s.audit.clone().unwrap();
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", lab.scanner_ns(), bin(), "audit", "--inventory"]).arg(&spec.inventory).args(&spec.args).args(["--rate", "max"]);
    for f in ["a.json", "a.xml", "a.md"] {
        cmd.arg("-o").arg(p(f));
    }
    let o = cmd.output().expect("runs portsweep audit");
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(o.stdout.is_empty(), "files only: nothing on stdout");
    let report: AuditReport = serde_json::from_str(&std::fs::read_to_string(p("a.json")).unwrap()).unwrap();
    assert_eq!(finding_keys(&report), spec.findings);
    let options: portsweep::plan::ClusterOptions = report.options.parse().unwrap();
    let plan = portsweep::plan::Plan::builtin().effective(&options);
    let junit = std::fs::read_to_string(p("a.xml")).unwrap();
    assert_eq!(junit, portsweep::audit::render_junit(&report, &plan));
    assert_eq!(junit.matches("<failure").count(), 8, "9 findings, etcd's two in one range case");
    let md = std::fs::read_to_string(p("a.md")).unwrap();
    assert_eq!(md, portsweep::audit::render_markdown(&report));
    assert!(md.starts_with("## portsweep audit: 9 findings"), "{md}");
}

/// `--inventory kube --services kube` in a real audit: the recorded API
/// (fixtures/kube: the demo cluster's 24 Kubernetes nodes, cp-1..3 dual-stack,
/// and its Services) listens on loopback inside the scanner's namespace,
/// where the audit runs; the registry is no Kubernetes node and comes from
/// --registry. The audit must find exactly what the same audit finds from
/// the equivalent kubectl JSON files, and the scenario's own findings with
/// the one the `shop/storefront` Service changes: its NodePort 31000 makes
/// worker-11's listener expected there, and its absence on the other nodes
/// (the scenario opens 31000 on worker-11 only) `missing`.
#[test]
fn kube_api_audit_finds_what_the_kubectl_files_find() {
    let _g = lab_lock();
    let s = scenario("demo");
    let spec = s.audit.clone().unwrap();
    let lab = Lab::build(&s).expect("lab builds");
    const TOKEN: &str = "recorded-service-account-token";
    let listener = lab.in_scanner(|| std::net::TcpListener::bind("127.0.0.1:0")).unwrap().unwrap();
    let api = portsweep::lab::kube_api::serve(listener, TOKEN, recorded_api(false)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig("lab", TOKEN)).unwrap();
    let nodes = dir.path().join("nodes.json");
    std::fs::write(&nodes, kubectl_equivalent("Node", &["nodes-page-1.json", "nodes-page-2.json"])).unwrap();
    let services = dir.path().join("svc.json");
    std::fs::write(&services, kubectl_equivalent("Service", &["services.json"])).unwrap();
    let audit = |source: &[&std::ffi::OsStr], out: &str| -> AuditReport {
        let out = dir.path().join(out);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", lab.scanner_ns(), bin(), "audit"]).args(source);
        cmd.args(["--registry", "198.19.0.2", "--family", "4"]).args(&spec.args).args(["--rate", "max", "--format", "json", "--output"]).arg(&out);
        let o = cmd.output().expect("runs portsweep audit");
        assert_eq!(o.status.code(), Some(1), "audit failed: {}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("audit JSON parses")
    };
    let from_api = audit(&["--inventory".as_ref(), "kube".as_ref(), "--services".as_ref(), "kube".as_ref(), "--kubeconfig".as_ref(), kubeconfig.as_os_str()], "api.json");
    assert_eq!(api.requests().len(), 3, "two pages of nodes, one of services: {:?}", api.requests());
    let from_files = audit(&["--inventory".as_ref(), nodes.as_os_str(), "--services".as_ref(), services.as_os_str()], "files.json");
    assert_eq!(serde_json::to_value(&from_api.findings).unwrap(), serde_json::to_value(&from_files.findings).unwrap());
    assert_eq!(serde_json::to_value(&from_api.nodes).unwrap(), serde_json::to_value(&from_files.nodes).unwrap());
    // The scenario's findings, with 31000 explained by the Service.
    let mut expected: Vec<String> = spec.findings.iter().filter(|f| *f != "unexpected worker-11 tcp/31000").cloned().collect();
    let kube_nodes: Vec<String> = (1..=3).map(|i| format!("cp-{i}")).chain((1..=21).map(|i| format!("worker-{i:02}"))).collect();
    expected.extend(kube_nodes.iter().filter(|n| !["worker-11", "worker-21"].contains(&n.as_str())).map(|n| format!("missing {n} tcp/31000")));
    // shop/checkout (a LoadBalancer, externalTrafficPolicy Local): its
    // NodePort and its health check port must answer on every node, and
    // the scenario opens neither.
    for port in [31500, 32100] {
        expected.extend(kube_nodes.iter().filter(|n| *n != "worker-21").map(|n| format!("missing {n} tcp/{port}")));
    }
    expected.sort();
    assert_eq!(finding_keys(&from_api), expected);
    let v = verify_audit(&s, &from_api.scan, true);
    assert!(v.is_exact(), "{}", v.summary(10));
}
