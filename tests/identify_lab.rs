//! Identification against real Debian daemons (etcd plain and with TLS and
//! client certificates, nginx HTTP/HTTPS and on 6443, haproxy, redis with
//! and without `requirepass`, BIRD, chrony) in a namespace lab:
//! fixtures/scenarios/audit-daemons-post.toml. The truth is the scenario's
//! `[[daemons]]` list, read here with `toml` (not the lab's parser), and
//! what each daemon is configured to be; versions come from the installed
//! programs themselves. Needs root, nftables and the packages scripts/deps
//! installs.
mod common;

use std::collections::BTreeMap;
use std::process::Command;

use common::*;
use portsweep::audit::AuditReport;
use portsweep::lab::verify::{finding_keys, verify_audit};
use portsweep::lab::Lab;
use portsweep::report::{ScanReport, Service};

/// The version a program prints of itself (`nginx -v`: `nginx/1.22.1`).
fn program_version(cmd: &str, arg: &str, marker: &str) -> String {
    let o = Command::new(cmd).arg(arg).output().expect("program runs");
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let at = text.find(marker).unwrap_or_else(|| panic!("{cmd} {arg}: no {marker:?} in {text}")) + marker.len();
    text[at..].split(|c: char| c.is_whitespace() || c == ',').next().unwrap_or("").to_string()
}

/// (address, "tcp/port") → (name, auth, version) each daemon must be
/// identified as, from the scenario file.
fn daemon_truth() -> BTreeMap<(String, String), (&'static str, &'static str, Option<String>)> {
    let text = std::fs::read_to_string(fixture("scenarios/audit-daemons-post.toml")).unwrap();
    let doc: toml::Value = toml::from_str(&text).unwrap();
    let etcd = program_version("etcd", "--version", "etcd Version: ");
    let nginx = program_version("nginx", "-v", "nginx/");
    let redis = program_version("redis-server", "--version", "v=");
    let mut out = BTreeMap::new();
    for d in doc["daemons"].as_array().unwrap() {
        let kind = d["kind"].as_str().unwrap();
        let addr = d["address"].as_str().unwrap().to_string();
        let ports: Vec<u16> = d.get("ports").and_then(|p| p.as_array()).map(|a| a.iter().map(|v| v.as_integer().unwrap() as u16).collect()).unwrap_or_default();
        let or = |default: &[u16]| if ports.is_empty() { default.to_vec() } else { ports.clone() };
        let mut put = |proto: &str, port: u16, truth: (&'static str, &'static str, Option<String>)| {
            out.insert((addr.clone(), format!("{proto}/{port}")), truth);
        };
        match kind {
            // The client port answers the count-only read; the peer port
            // serves /version but no v3 API, so its auth stays unknown.
            "etcd" => {
                put("tcp", 2379, ("etcd", "none", Some(etcd.clone())));
                put("tcp", 2380, ("etcd", "unknown", Some(etcd.clone())));
            }
            // Without a client certificate nothing but the handshake: no version.
            "etcd-tls" => {
                put("tcp", 2379, ("etcd", "required", None));
                put("tcp", 2380, ("etcd", "required", None));
            }
            "nginx" => or(&[80]).into_iter().for_each(|p| put("tcp", p, ("nginx", "unknown", Some(nginx.clone())))),
            "nginx-tls" => or(&[443]).into_iter().for_each(|p| put("tcp", p, ("nginx", "unknown", Some(nginx.clone())))),
            "haproxy" => or(&[6443]).into_iter().for_each(|p| put("tcp", p, ("haproxy", "unknown", None))),
            "redis" => or(&[6379]).into_iter().for_each(|p| put("tcp", p, ("redis", "none", Some(redis.clone())))),
            "redis-auth" => or(&[6379]).into_iter().for_each(|p| put("tcp", p, ("redis", "required", None))),
            "bird" => put("tcp", 179, ("bgp", "required", None)),
            "chrony" => put("udp", 123, ("ntp", "none", Some("4".into()))),
            other => panic!("unknown daemon kind {other}"),
        }
    }
    out
}

/// Every open port of the report with its service: (address, "tcp/port").
fn services(scan: &ScanReport) -> BTreeMap<(String, String), Service> {
    let mut out = BTreeMap::new();
    for h in &scan.hosts {
        for p in h.ports.iter().filter(|p| p.state.as_str() == "open") {
            let s = p.service.clone().unwrap_or_else(|| panic!("{} {}/{} open without a service", h.address, p.protocol, p.port));
            out.insert((h.address.to_string(), format!("{}/{}", p.protocol, p.port)), s);
        }
    }
    out
}

fn audit(lab: &Lab, extra: &[&str]) -> (Option<i32>, AuditReport) {
    let s = scenario("audit-daemons-post");
    let spec = s.audit.as_ref().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.json");
    let o = Command::new("ip")
        .args(["netns", "exec", lab.scanner_ns(), bin(), "audit", "--inventory"])
        .arg(&spec.inventory)
        .args(&spec.args)
        .args(["--rate", "max", "--format", "json", "--output"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(matches!(o.status.code(), Some(0 | 1)), "audit failed: {}", String::from_utf8_lossy(&o.stderr));
    (o.status.code(), serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap())
}

#[test]
fn real_daemons_are_named_and_judged_exactly() {
    let _g = lab_lock();
    let s = scenario("audit-daemons-post");
    let spec = s.audit.clone().unwrap();
    let lab = Lab::build(&s).expect("lab with daemons builds");
    let (code, report) = audit(&lab, &[]);
    assert!(verify_audit(&s, &report.scan, true).is_exact(), "{}", verify_audit(&s, &report.scan, true).summary(10));
    assert_eq!(finding_keys(&report), spec.findings, "findings");
    assert_eq!(code, Some(1), "errors and criticals fail --fail-on error");

    // Each open port is what its daemon is; every other open port is a lab
    // listener that accepts and never speaks: unknown.
    let truth = daemon_truth();
    let got = services(&report.scan);
    assert_eq!(got.len(), 23, "open ports of the scenario: {:?}", got.keys());
    for (key, s) in &got {
        let (name, auth, version) = truth.get(key).cloned().unwrap_or(("unknown", "unknown", None));
        assert_eq!((s.name.as_str(), s.auth.as_str(), s.version.clone()), (name, auth, version), "{key:?}: {s:?}");
    }
    // The TLS etcd names its CA in the CertificateRequest and refuses a
    // client without a certificate; the plain etcd has no TLS at all.
    let tls_etcd = got[&("198.19.2.11".to_string(), "tcp/2379".to_string())].tls.clone().expect("TLS etcd has tls");
    assert!(tls_etcd.client_cas.iter().any(|c| c == "CN=etcd-ca"), "{tls_etcd:?}");
    assert_eq!(tls_etcd.client_cert.as_str(), "required");
    assert!(tls_etcd.sans.contains(&"198.19.2.11".to_string()), "{tls_etcd:?}");
    assert!(got[&("198.19.2.10".to_string(), "tcp/2379".to_string())].tls.is_none());
    let https = got[&("198.19.2.21".to_string(), "tcp/443".to_string())].tls.clone().expect("nginx HTTPS has tls");
    assert_eq!((https.client_cert.as_str(), https.issuer.as_str()), ("none", "CN=lab-nginx-ca"));

    // Severities: insecure is critical, impostor an error, and both carry
    // the service; `--fail-on critical` still fails.
    for f in &report.findings {
        let want = match f.kind.as_str() {
            "insecure" => "critical",
            "impostor" => "error",
            _ => "warning",
        };
        assert_eq!(f.severity.as_str(), want, "{f:?}");
        assert!(f.service.is_some(), "finding about a port carries its service: {f:?}");
    }
    let impostor = report.findings.iter().find(|f| f.kind.as_str() == "impostor").unwrap();
    assert_eq!(impostor.service.as_ref().unwrap().name, "nginx");
    assert!(report.findings.iter().any(|f| f.kind.as_str() == "insecure" && f.hint.contains("--client-cert-auth=true --trusted-ca-file")));
    assert!(report.findings.iter().any(|f| f.kind.as_str() == "insecure" && f.hint.contains("requirepass")));
    let (code, _) = audit(&lab, &["--fail-on", "critical"]);
    assert_eq!(code, Some(1));

    // `--identify off`: states only, no services, no identity findings.
    let (_, off) = audit(&lab, &["--identify", "off"]);
    assert!(off.scan.hosts.iter().all(|h| h.ports.iter().all(|p| p.service.is_none())));
    assert_eq!(finding_keys(&off), ["unexpected worker-02 tcp/6443"]);

    // `scan --identify` writes the same services into a scan report.
    let mut s2 = s.clone();
    s2.targets = vec!["198.19.2.10".into(), "198.19.2.21".into()];
    s2.ports = "T:179,2379,6443,32379".into();
    let (scan, _) = scan_in_lab(&lab, &s2, &["--identify", "--rate", "max"]);
    let named: Vec<(String, String)> = services(&scan).into_iter().map(|((a, p), s)| (format!("{a} {p}"), s.name)).collect();
    assert_eq!(named, [("198.19.2.10 tcp/2379".into(), "etcd".into()), ("198.19.2.10 tcp/32379".into(), "unknown".into()), ("198.19.2.10 tcp/6443".into(), "nginx".into()), ("198.19.2.21 tcp/179".into(), "bgp".into()), ("198.19.2.21 tcp/32379".into(), "redis".into())]);
}
