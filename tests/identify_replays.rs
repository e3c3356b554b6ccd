//! Identification of components that have no Debian package, against
//! responders replaying their documented answers (src/lab/replay.rs, each
//! citing its source), bound to lab addresses in a namespace lab and
//! identified from the scanner namespace. The truth is the table below:
//! which component each replay stands for. Needs root and nftables.
mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};

use common::*;
use portsweep::identify::{identify, Settings, Target};
use portsweep::lab::netns::in_netns;
use portsweep::lab::replay::{components as c, serve, Replay};
use portsweep::lab::{Lab, Scenario};
use portsweep::space::Protocol;

#[test]
fn replayed_components_are_named() {
    let _g = lab_lock();
    let s = Scenario::parse("[scan]\ntargets = [\"198.19.3.0/27\"]\nports = \"1\"\n[[hosts]]\naddresses = \"198.19.3.0/27\"\n", "replays", "replays").unwrap();
    let lab = Lab::build(&s).expect("lab builds");
    // (replay, port, name, auth, version)
    let table: &[(Replay, u16, &str, &str, Option<&str>)] = &[
        (c::APISERVER, 6443, "kube-apiserver", "unknown", Some("v1.33.1")),
        (c::APISERVER_NO_ANONYMOUS, 6443, "kube-apiserver", "required", None),
        (c::APISERVER_INSECURE, 8080, "kube-apiserver", "none", None),
        (c::KUBELET_NO_ANONYMOUS, 10250, "kubelet", "required", None),
        (c::KUBELET_ANONYMOUS_FORBIDDEN, 10250, "kubelet", "required", None),
        (c::KUBELET_OPEN, 10250, "kubelet", "none", None),
        (c::KUBELET_READ_ONLY, 10255, "kubelet", "none", None),
        (c::SCHEDULER_OR_CONTROLLER_MANAGER, 10259, "kube-scheduler", "unknown", None),
        (c::SCHEDULER_OR_CONTROLLER_MANAGER, 10257, "kube-controller-manager", "unknown", None),
        (c::KUBE_PROXY, 10256, "kube-proxy", "none", None),
        (c::GRAFANA, 32765, "grafana", "unknown", Some("10.4.2")),
        (c::HARBOR, 443, "harbor", "unknown", None),
        (c::CILIUM_HEALTH, 4240, "cilium-agent", "none", None),
        (c::CILIUM_METRICS, 9962, "cilium-agent", "none", None),
        (c::INGRESS_NGINX, 443, "ingress-nginx", "unknown", None),
        (c::HUBBLE_METRICS, 9965, "hubble", "none", None),
        (c::CILIUM_OPERATOR_METRICS, 9963, "cilium-operator", "none", None),
        (c::KUBE_VIP_METRICS, 2112, "kube-vip", "none", None),
        (c::TYPHA_METRICS, 9093, "calico-typha", "none", None),
    ];
    let addrs: Vec<SocketAddr> = table.iter().enumerate().map(|(i, r)| SocketAddr::new(IpAddr::V4(Ipv4Addr::new(198, 19, 3, i as u8 + 1)), r.1)).collect();
    let servers = in_netns(lab.target_ns(), || addrs.iter().zip(table).map(|(a, r)| serve(TcpListener::bind(a)?, r.0)).collect::<std::io::Result<Vec<_>>>()).unwrap().unwrap();
    let targets: Vec<Target> = addrs.iter().map(|&addr| Target { addr, protocol: Protocol::Tcp }).collect();
    let found = lab.in_scanner(|| identify(&targets, &Settings::default())).unwrap();
    drop(servers);
    for ((r, port, name, auth, version), s) in table.iter().zip(&found) {
        assert_eq!((s.name.as_str(), s.auth.as_str(), s.version.as_deref()), (*name, *auth, *version), "{} on {port} ({}): {s:?}", r.component, r.source);
    }
    // What the audit reads to call anonymous auth on: the 403's words.
    assert!(found[4].evidence.contains("system:anonymous"), "{:?}", found[4]);
    // /pods bodies are never kept: only their status.
    assert!(!found[5].evidence.contains("PodList") && !found[6].evidence.contains("PodList"), "{:?} {:?}", found[5], found[6]);
    // TLS shapes: the localhost@ pair, the fake ingress certificate.
    let sched = found[7].tls.as_ref().unwrap();
    assert!(sched.subject.starts_with("CN=localhost@") && sched.issuer.starts_with("CN=localhost-ca@"), "{sched:?}");
    let fake = &found[14].tls.as_ref().unwrap().subject;
    assert!(fake.contains("CN=Kubernetes Ingress Controller Fake Certificate") && fake.contains("O=Acme Co"), "{fake}");
}
