//! `--inventory kube` and `--services kube` against a recorded API server
//! (src/lab/kube_api.rs: HTTPS, its own CA, a bearer token, recorded list
//! responses; no kube-apiserver can be installed here). The inventory and
//! NodePorts read from the API must equal those read from the equivalent
//! kubectl JSON, and every way of failing must say what is wrong. Loopback
//! only, no privileges.
mod common;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use portsweep::inventory::kube::{KubeAccess, KubeApi};
use portsweep::inventory::{parse_services, Inventory, InventoryFormat};
use portsweep::lab::kube_api::{serve, RecordedApi};

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.recorded-service-account-token";

fn start(forbid_services: bool) -> RecordedApi {
    serve(TcpListener::bind("127.0.0.1:0").unwrap(), TOKEN, recorded_api(forbid_services)).unwrap()
}

fn access(api: &RecordedApi, token: &str, dir: &tempfile::TempDir) -> KubeAccess {
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, api.kubeconfig("recorded", token)).unwrap();
    KubeAccess { kubeconfig: Some(path), context: None, timeout: Duration::from_secs(5) }
}

fn summary(inv: &Inventory) -> Vec<String> {
    inv.nodes.iter().map(|n| format!("{} {} {}", n.address, n.name, n.roles.join(","))).collect()
}

#[test]
fn api_and_kubectl_json_give_the_same_inventory_and_nodeports() {
    let server = start(false);
    let dir = tempfile::tempdir().unwrap();
    let api = KubeApi::connect(&access(&server, TOKEN, &dir)).unwrap();
    let from_api = api.nodes().unwrap_or_else(|e| panic!("{e}: {:?}", server.requests()));
    let from_file = Inventory::parse(&kubectl_equivalent("Node", &["nodes-page-1.json", "nodes-page-2.json"]), "nodes.json", InventoryFormat::KubectlJson).unwrap();
    assert_eq!(from_api.nodes, from_file.nodes);
    // 24 nodes, the three control-plane nodes dual-stack: 27 addresses.
    let s = summary(&from_api);
    assert_eq!(s.len(), 27, "{s:#?}");
    for (v4, v6, name) in [("198.19.0.10", "2001:2::a", "cp-1"), ("198.19.0.12", "2001:2::c", "cp-3")] {
        assert!(s.contains(&format!("{v4} {name} control-plane")), "{s:#?}");
        assert!(s.contains(&format!("{v6} {name} control-plane")), "{s:#?}");
    }
    // Role label or none, a worker is a worker; the last page was read.
    assert!(s.contains(&"198.19.1.1 worker-01 worker".to_string()) && s.contains(&"198.19.1.2 worker-02 worker".to_string()));
    assert!(s.contains(&"198.19.1.21 worker-21 worker".to_string()), "{s:#?}");
    let svc_api = api.services().unwrap();
    let svc_file = parse_services(&kubectl_equivalent("Service", &["services.json"]), "svc.json").unwrap();
    assert_eq!(svc_api, svc_file);
    // NodePort and LoadBalancer ports; ClusterIP, SCTP and a LoadBalancer
    // without NodePorts have none; ipFamilies kept; the health check port
    // of a LoadBalancer with externalTrafficPolicy Local (kube-proxy opens
    // it on every node) is one more TCP port of the Service's families.
    let got: Vec<String> = svc_api.iter().map(|s| format!("{}/{:?} {}/{} v4={} v6={}", s.port, s.protocol, s.namespace, s.name, s.families.ipv4, s.families.ipv6)).collect();
    assert_eq!(
        got,
        [
            "30404/Udp media/rtp v4=true v6=true",
            "30555/Tcp shop/metrics-v6 v4=false v6=true",
            "31000/Tcp shop/storefront v4=true v6=false",
            "31500/Tcp shop/checkout v4=true v6=false",
            "32100/Tcp shop/checkout (healthCheckNodePort) v4=true v6=false",
        ]
    );
    // Pagination: limit on every request, the continue token on the second.
    let token = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(fixture("kube/nodes-page-1.json")).unwrap()).unwrap()["metadata"]["continue"].as_str().unwrap().to_string();
    assert_eq!(server.requests(), [format!("/api/v1/nodes?limit=500"), format!("/api/v1/nodes?limit=500&continue={token}"), "/api/v1/services?limit=500".to_string()]);
}

#[test]
fn a_forbidden_list_names_the_verb_and_resource() {
    let server = start(true);
    let dir = tempfile::tempdir().unwrap();
    let api = KubeApi::connect(&access(&server, TOKEN, &dir)).unwrap();
    assert!(api.nodes().is_ok());
    let e = api.services().unwrap_err().to_string();
    let url = format!("https://{}", server.addr);
    assert_eq!(
        e,
        format!("the Kubernetes API at {url} forbids listing services (403 Forbidden): the account needs the verb \"list\" on the resource \"services\" at the cluster scope (deploy/kubernetes/rbac.yaml grants get and list on nodes and services); the server said: services is forbidden: User \"system:serviceaccount:portsweep:portsweep\" cannot list resource \"services\" in API group \"\" at the cluster scope")
    );
}

#[test]
fn refused_credentials_unreachable_and_silent_servers_are_told_apart() {
    let server = start(false);
    let dir = tempfile::tempdir().unwrap();
    let e = KubeApi::connect(&access(&server, "wrong-token", &dir)).unwrap().nodes().unwrap_err().to_string();
    assert!(e.starts_with(&format!("the Kubernetes API at https://{} refused the credentials (401 Unauthorized) while listing nodes", server.addr)), "{e}");
    // Nothing listens on a port just freed.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let kc = dir.path().join("closed");
    std::fs::write(&kc, server.kubeconfig("recorded", TOKEN).replace(&server.addr.to_string(), &closed.to_string())).unwrap();
    let e = KubeApi::connect(&KubeAccess { kubeconfig: Some(kc), context: None, timeout: Duration::from_secs(5) }).unwrap().nodes().unwrap_err().to_string();
    assert!(e.starts_with(&format!("cannot reach the Kubernetes API at https://{closed}: ")), "{e}");
    assert!(e.to_lowercase().contains("refused"), "{e}");
    // A listener that never answers: bounded by the timeout.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let kc = dir.path().join("silent");
    std::fs::write(&kc, server.kubeconfig("recorded", TOKEN).replace(&server.addr.to_string(), &silent.local_addr().unwrap().to_string())).unwrap();
    let t = Instant::now();
    let e = KubeApi::connect(&KubeAccess { kubeconfig: Some(kc), context: None, timeout: Duration::from_secs(1) }).unwrap().nodes().unwrap_err().to_string();
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    assert_eq!(e, format!("the Kubernetes API at https://{} did not answer within 1s (--kube-timeout) while listing nodes", silent.local_addr().unwrap()));
}

#[test]
fn the_command_line_reads_kubeconfig_context_and_environment() {
    let server = start(false);
    let dir = tempfile::tempdir().unwrap();
    // Two contexts: the current one points at nothing, --context picks the server.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let good = server.kubeconfig("recorded", TOKEN);
    let bad = server.kubeconfig("stale", TOKEN).replace(&server.addr.to_string(), &closed.to_string());
    let merged = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: stale\nclusters:\n{}{}contexts:\n{}{}users:\n{}{}",
        section(&good, "clusters:", "contexts:"), section(&bad, "clusters:", "contexts:"),
        section(&good, "contexts:", "users:"), section(&bad, "contexts:", "users:"),
        section(&good, "users:", ""), section(&bad, "users:", "")
    );
    let kc = dir.path().join("config");
    std::fs::write(&kc, merged).unwrap();
    let run = |args: &[&str], env: Option<&std::path::Path>| {
        let mut c = Command::new(bin());
        c.args(["audit", "--inventory", "kube", "--services", "kube", "--registry", "198.19.0.2", "--dry-run"]).args(args).env_remove("KUBECONFIG");
        if let Some(p) = env {
            c.env("KUBECONFIG", p);
        }
        c.output().unwrap()
    };
    let o = run(&["--kubeconfig", kc.to_str().unwrap(), "--context", "recorded"], None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("28 nodes (control-plane, registry, worker)"), "{}", String::from_utf8_lossy(&o.stdout));
    // KUBECONFIG, with the same context choice.
    let o = run(&["--context", "recorded"], Some(&kc));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The current context (stale) cannot be reached: exit 3, said so.
    let o = run(&[], Some(&kc));
    assert_eq!(o.status.code(), Some(3));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.starts_with(&format!("portsweep: cannot reach the Kubernetes API at https://{closed}")), "{e}");
    // An unknown context is bad input.
    let o = run(&["--context", "nope"], Some(&kc));
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).starts_with("portsweep: no Kubernetes API configuration: --context nope: "), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The lines of a kubeconfig between two top-level keys.
fn section(text: &str, from: &str, to: &str) -> String {
    let start = text.find(&format!("\n{from}\n")).unwrap() + from.len() + 2;
    let end = if to.is_empty() { text.len() } else { text[start..].find(&format!("\n{to}\n")).map(|i| start + i + 1).unwrap() };
    text[start..end].to_string()
}
