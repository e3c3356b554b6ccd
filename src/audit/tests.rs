//! Audit rules against a fake scan whose truth is set port by port: every
//! test states the exact findings (kind, node, port) it expects.

use super::*;
use crate::inventory::Node;
use crate::plan::{ClusterOptions, Plan, PortRange};
use crate::report::{HostReport, PortReport};
use crate::space::Protocol::{Tcp, Udp};

const CP1: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
const W1: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
const W2: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 3));
const W3: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 4));
const REG: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 9));

const OPEN: (State, Reason) = (State::Open, Reason::SynAck);
const RST: (State, Reason) = (State::Closed, Reason::Rst);
const SILENT: (State, Reason) = (State::Filtered, Reason::NoResponse);
const UDP_SILENT: (State, Reason) = (State::OpenFiltered, Reason::NoResponse);
const UDP_CLOSED: (State, Reason) = (State::Closed, Reason::PortUnreach);

fn plan(opts: &str) -> EffectivePlan {
    Plan::builtin().effective(&opts.parse().expect("test options"))
}

fn cluster() -> Inventory {
    Inventory::from_nodes([
        Node::new("cp1", CP1, &["control-plane"]),
        Node::new("w1", W1, &["worker"]),
        Node::new("w2", W2, &["worker"]),
        Node::new("w3", W3, &["worker"]),
        Node::new("reg", REG, &["registry"]),
    ])
}

fn service(port: u16, name: &str) -> NodePortService {
    NodePortService {
        port,
        protocol: crate::plan::Protocol::Tcp,
        namespace: "default".to_string(),
        name: name.to_string(),
        families: crate::inventory::Families::ALL,
    }
}

/// What one host answered on each pair.
type Pairs = BTreeMap<(Protocol, u16), (State, Reason)>;

/// A scan's truth: every host of the inventory (up or not), every pair of
/// the audit's port list set explicitly.
struct Fake {
    ports: PortList,
    hosts: BTreeMap<IpAddr, (bool, Pairs)>,
}

impl Fake {
    /// A cluster as it should look (`plan` made from `opts`, as `plan()`
    /// takes them: the plan gives the ports scanned, the seed what listens). `Pre`:
    /// nothing listens (TCP RST, UDP port unreachable) but the registry's
    /// services. `Post`: what [`seed_listeners`] says for each role;
    /// everything else is closed. The truth is written from the seed table,
    /// not read from the plan, so a misread plan fails these tests.
    fn healthy(plan: &EffectivePlan, opts: &str, inv: &Inventory, phase: Phase) -> Fake {
        let ports = scan_ports(plan);
        let mut hosts = BTreeMap::new();
        for node in &inv.nodes {
            let mut pairs = BTreeMap::new();
            for &(proto, port) in ports.as_slice() {
                pairs.insert((proto, port), if proto == Tcp { RST } else { UDP_CLOSED });
            }
            for role in &node.roles {
                if phase == Phase::Pre && role != REGISTRY_ROLE {
                    continue;
                }
                for (proto, port, seen) in seed_listeners(opts, role) {
                    assert!(ports.index_of(proto, port).is_some(), "{port}/{proto} listens but is not scanned");
                    pairs.insert((proto, port), seen);
                }
            }
            hosts.insert(node.address, (true, pairs));
        }
        Fake { ports, hosts }
    }

    fn set(
        &mut self,
        addr: IpAddr,
        proto: Protocol,
        port: u16,
        seen: (State, Reason),
    ) -> &mut Self {
        let host = self
            .hosts
            .get_mut(&addr)
            .expect("a host of the test inventory");
        assert!(
            host.1.contains_key(&(proto, port)),
            "{port}/{proto} is not in the audit's port list"
        );
        host.1.insert((proto, port), seen);
        self
    }

    fn down(&mut self, addr: IpAddr) -> &mut Self {
        let host = self
            .hosts
            .get_mut(&addr)
            .expect("a host of the test inventory");
        host.0 = false;
        for (&(proto, _), seen) in host.1.iter_mut() {
            *seen = if proto == Tcp { SILENT } else { UDP_SILENT };
        }
        self
    }

    /// The same truth as a scan report (the shape the CLI hands over).
    fn to_report(&self) -> ScanReport {
        let hosts = self
            .hosts
            .iter()
            .map(|(&address, (up, pairs))| HostReport {
                address,
                name: None,
                status: if *up {
                    HostStatus::Up
                } else {
                    HostStatus::Down
                },
                default_state: State::Closed,
                default_reason: Reason::Rst,
                ports: pairs
                    .iter()
                    .filter(|(_, &seen)| seen != RST)
                    .map(|(&(protocol, port), &(state, reason))| PortReport {
                        port,
                        protocol,
                        state,
                        reason,
                        ttl: None,
                        service: None,
                    })
                    .collect(),
                udp_unresolved: Vec::new(),
            })
            .collect();
        ScanReport::for_test(&self.ports.to_spec(), hosts)
    }
}

impl Observations for Fake {
    fn host_up(&self, addr: IpAddr) -> Option<bool> {
        self.hosts.get(&addr).map(|h| h.0)
    }

    fn state(&self, addr: IpAddr, proto: Protocol, port: u16) -> Option<(State, Reason)> {
        self.ports.index_of(proto, port)?;
        self.hosts.get(&addr)?.1.get(&(proto, port)).copied()
    }

    fn open_ports(&self, addr: IpAddr) -> Vec<(Protocol, u16)> {
        self.hosts.get(&addr).map_or_else(Vec::new, |h| {
            h.1.iter()
                .filter(|(_, s)| s.0 == State::Open)
                .map(|(&k, _)| k)
                .collect()
        })
    }
}

/// What answers another host on a healthy node of `role` after the install,
/// from `../shared/seed/k8s-ports.md` and the README's choices (`self` and
/// legacy ports bound to loopback, the NodePort range empty, UDP tunnels
/// silent, chrony answering). `opts` as `plan()` takes them.
fn seed_listeners(opts: &str, role: &str) -> Vec<(Protocol, u16, (State, Reason))> {
    let has = |o: &str| opts.split(',').any(|kv| kv == o || kv.strip_prefix("addons=").is_some_and(|a| a.split('+').any(|x| Some(x) == o.strip_prefix("addon:"))));
    let cni = if has("cni=calico") { "calico" } else if has("cni=cilium") { "cilium" } else { "flannel" };
    let mut tcp: Vec<u16> = Vec::new();
    let mut udp_silent: Vec<u16> = Vec::new();
    match role {
        "registry" => return vec![(Tcp, 443, OPEN), (Tcp, 38088, OPEN), (Udp, 123, (State::Open, Reason::UdpResponse))],
        "control-plane" => tcp.extend([6443, 2379, 2380, 10250, 10256]),
        "worker" => {
            tcp.extend([10250, 10256]);
            if has("addon:ingress") {
                tcp.extend([80, 443]);
            }
        }
        other => panic!("no seed role {other}"),
    }
    match cni {
        "calico" => tcp.extend([179, 5473]),
        "cilium" => {
            tcp.extend([9963, 4240, 9962, 9965, 4244]);
            udp_silent.push(8472);
        }
        _ => udp_silent.push(if has("flannel-backend=udp") { 8285 } else { 8472 }),
    }
    if role == "control-plane" && has("lb=kube-vip") {
        tcp.push(2112);
    }
    for (addon, port) in [("addon:kuboard", 32766), ("addon:grafana", 32765), ("addon:redis", 32379)] {
        if has(addon) {
            tcp.push(port);
        }
    }
    tcp.into_iter().map(|p| (Tcp, p, OPEN)).chain(udp_silent.into_iter().map(|p| (Udp, p, UDP_SILENT))).collect()
}

/// (kind, node, protocol, port) of each finding, in report order.
fn keys(findings: &[Finding]) -> Vec<(FindingKind, &str, Option<Protocol>, u16)> {
    findings
        .iter()
        .map(|f| (f.kind, f.node.as_str(), f.protocol, f.port))
        .collect()
}

use FindingKind::{Blocked, Conflict, Exposed, Missing, Unexpected, Unreachable, Unresolved};

#[test]
fn scan_ports_is_the_union_of_all_roles_plus_the_nodeport_range() {
    let list = scan_ports(&plan(""));
    assert_eq!(
        list.to_spec(),
        "T:443,2379-2380,6443,10248,10250-10252,10256-10257,10259,30000-32767,38088,U:123,8472"
    );
    assert_eq!((list.count(Tcp), list.count(Udp)), (12 + 2768, 2));
    let list = scan_ports(&plan("cni=calico,addons=ingress+kuboard"));
    assert_eq!(
        list.to_spec(),
        "T:80,179,443,2379-2380,5473,6443,10248,10250-10252,10254,10256-10257,10259,18443,30000-32767,38088,U:123"
    );
    // A moved NodePort range is scanned where it is, even without an entry.
    let mut p = plan("");
    p.nodeport_range = PortRange::new(40000, 40009).unwrap();
    p.entries.retain(|e| !e.nodeport_range);
    assert_eq!(
        scan_ports(&p).to_spec(),
        "T:443,2379-2380,6443,10248,10250-10252,10256-10257,10259,38088,40000-40009,U:123,8472"
    );
}

#[test]
fn vantage_matrix() {
    let audiences = [
        Audience::All,
        Audience::Peers,
        Audience::ControlPlane,
        Audience::SelfOnly,
    ];
    let row = |v: Vantage| audiences.map(|a| v.must_answer(a));
    assert_eq!(row(Vantage::External), [true, false, false, false]);
    assert_eq!(row(Vantage::Node), [true, true, false, false]);
    assert_eq!(row(Vantage::ControlPlane), [true, true, true, false]);
}

#[test]
fn a_healthy_cluster_has_no_findings_in_either_phase_from_any_vantage() {
    let (p, inv) = (plan(""), cluster());
    for phase in Phase::ALL {
        let fake = Fake::healthy(&p, "", &inv, *phase);
        for from in Vantage::ALL {
            assert_eq!(
                keys(&audit(&p, &inv, &[], *phase, *from, &fake)),
                vec![],
                "{phase} {from}"
            );
        }
    }
    let p = plan("cni=cilium,lb=kube-vip,addons=ingress+kuboard+grafana+redis");
    let fake = Fake::healthy(&p, "cni=cilium,lb=kube-vip,addons=ingress+kuboard+grafana+redis", &inv, Phase::Post);
    assert_eq!(
        keys(&audit(
            &p,
            &inv,
            &[],
            Phase::Post,
            Vantage::ControlPlane,
            &fake
        )),
        vec![]
    );
}

#[test]
fn pre_install_squatters_are_conflicts() {
    let (p, inv) = (plan(""), cluster());
    let mut fake = Fake::healthy(&p, "", &inv, Phase::Pre);
    fake.set(CP1, Tcp, 6443, OPEN) // an old API server
        .set(CP1, Tcp, 10259, OPEN) // planned self port, in use: still a conflict
        .set(W1, Tcp, 30080, OPEN) // a host process in the NodePort range
        .set(W1, Udp, 8472, UDP_SILENT) // silence proves nothing
        .set(W2, Tcp, 2379, OPEN) // etcd on a future worker
        .set(W2, Tcp, 10250, SILENT) // filtered: no judgement before install
        .set(REG, Tcp, 30500, OPEN); // no kube-proxy on the registry host
    for from in Vantage::ALL {
        let findings = audit(&p, &inv, &[], Phase::Pre, *from, &fake);
        assert_eq!(
            keys(&findings),
            vec![
                (Conflict, "cp1", Some(Tcp), 6443),
                (Conflict, "cp1", Some(Tcp), 10259),
                (Conflict, "w1", Some(Tcp), 30080),
                (Unexpected, "w2", Some(Tcp), 2379),
                (Unexpected, "reg", Some(Tcp), 30500),
            ],
            "{from}"
        );
        let sev: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
        use Severity::{Error, Warning};
        assert_eq!(sev, vec![Error, Error, Error, Warning, Warning]);
        let api = &findings[0];
        assert_eq!(
            (
                api.component.as_str(),
                api.observed.as_str(),
                api.reason.as_str(),
                api.expected.as_str()
            ),
            ("kube-apiserver", "open", "syn-ack", "unused before install")
        );
        assert_eq!(
            api.message,
            "6443/tcp is already in use before install: kube-apiserver will fail to bind it."
        );
        assert_eq!(
            findings[2].message,
            "30080/tcp in the NodePort range 30000-32767 is already in use before install: a Service given this NodePort would collide with the process."
        );
        assert_eq!(findings[4].message, "30500/tcp answers in the NodePort range, but the plan gives this node (registry) no NodePorts: it runs no kube-proxy.");
    }
}

/// The findings of [`broken_post`] from a control-plane vantage with the
/// `web` Service known: stated once, asserted by two tests.
fn broken_post_from_control_plane() -> Vec<(FindingKind, &'static str, Option<Protocol>, u16)> {
    let t = Some(Tcp);
    vec![
        (Blocked, "cp1", t, 2379),
        (Exposed, "cp1", t, 10251),
        (Exposed, "cp1", t, 10259),
        (Blocked, "w1", t, 10250),
        (Unexpected, "w1", t, 30080),
        (Unexpected, "w1", t, 30081),
        (Unexpected, "w1", t, 38088),
        (Missing, "w2", Some(Udp), 8472),
        (Unreachable, "w3", None, 0),
    ]
}

/// The broken cluster of the post-install tests.
fn broken_post(p: &EffectivePlan, inv: &Inventory) -> Fake {
    let mut fake = Fake::healthy(p, "", inv, Phase::Post);
    fake.set(W1, Tcp, 10250, SILENT) // kubelet behind a firewall
        .set(CP1, Tcp, 10259, OPEN) // scheduler on 0.0.0.0
        .set(CP1, Tcp, 10251, OPEN) // legacy insecure scheduler port
        .set(CP1, Tcp, 2379, (State::Filtered, Reason::AdminProhibited)) // etcd rejected
        .set(W2, Udp, 8472, UDP_CLOSED) // flannel not running
        .set(W1, Udp, 8472, UDP_SILENT) // healthy VXLAN: silent
        .set(W1, Tcp, 30080, OPEN) // unknown listener in the range
        .set(W1, Tcp, 30081, OPEN) // another one
        .set(W1, Tcp, 38088, OPEN) // the registry's port on a worker
        .down(W3);
    // A real Service NodePort answers on every kube-proxy node.
    for a in [CP1, W1, W2] {
        fake.set(a, Tcp, 30090, OPEN);
    }
    fake
}

#[test]
fn post_install_findings_depend_on_the_vantage() {
    let (p, inv) = (plan(""), cluster());
    let fake = broken_post(&p, &inv);
    let services = [service(30090, "web")];
    let run = |from| audit(&p, &inv, &services, Phase::Post, from, &fake);
    let t = Some(Tcp);
    assert_eq!(
        keys(&run(Vantage::ControlPlane)),
        broken_post_from_control_plane()
    );
    // From a worker: kubelet and etcd serve the control plane only.
    assert_eq!(
        keys(&run(Vantage::Node)),
        vec![
            (Exposed, "cp1", t, 10251),
            (Exposed, "cp1", t, 10259),
            (Unexpected, "w1", t, 30080),
            (Unexpected, "w1", t, 30081),
            (Unexpected, "w1", t, 38088),
            (Missing, "w2", Some(Udp), 8472),
            (Unreachable, "w3", None, 0),
        ]
    );
    // From outside: the tunnel serves the nodes only.
    assert_eq!(
        keys(&run(Vantage::External)),
        vec![
            (Exposed, "cp1", t, 10251),
            (Exposed, "cp1", t, 10259),
            (Unexpected, "w1", t, 30080),
            (Unexpected, "w1", t, 30081),
            (Unexpected, "w1", t, 38088),
            (Unreachable, "w3", None, 0),
        ]
    );
    // Without --services, the Service's NodePort is an unknown listener.
    let bare = audit(&p, &inv, &[], Phase::Post, Vantage::External, &fake);
    let unexplained: Vec<_> = keys(&bare).into_iter().filter(|k| k.3 == 30090).collect();
    assert_eq!(
        unexplained,
        vec![
            (Unexpected, "cp1", t, 30090),
            (Unexpected, "w1", t, 30090),
            (Unexpected, "w2", t, 30090)
        ]
    );
}

#[test]
fn post_install_finding_fields() {
    let (p, inv) = (plan(""), cluster());
    let fake = broken_post(&p, &inv);
    let findings = audit(
        &p,
        &inv,
        &[service(30090, "web")],
        Phase::Post,
        Vantage::ControlPlane,
        &fake,
    );
    let find = |node: &str, port: u16| {
        findings
            .iter()
            .find(|f| f.node == node && f.port == port)
            .expect("finding")
    };
    assert_eq!(
        find("cp1", 10259),
        &Finding {
            node: "cp1".to_string(),
            address: CP1,
            roles: vec!["control-plane".to_string()],
            protocol: Some(Tcp),
            port: 10259,
            component: "kube-scheduler".to_string(),
            observed: "open".to_string(),
            reason: "syn-ack".to_string(),
            expected: "not open from another host".to_string(),
            kind: Exposed,
            severity: Severity::Error,
            message: "kube-scheduler (10259/tcp) answers from another host: it is bound to a non-loopback address.".to_string(),
            hint: "Bind it to 127.0.0.1 (--bind-address=127.0.0.1) or firewall it.".to_string(),
            service: None,
        }
    );
    let legacy = find("cp1", 10251);
    assert_eq!(legacy.message, "kube-scheduler (10251/tcp) answers from another host: the legacy insecure HTTP port (no authentication) is enabled and reachable.");
    assert_eq!(legacy.hint, "Disable the insecure port (--port=0) or upgrade to Kubernetes 1.23+; firewall it meanwhile.");
    let kubelet = find("w1", 10250);
    assert_eq!(
        (
            kubelet.component.as_str(),
            kubelet.observed.as_str(),
            kubelet.reason.as_str(),
            kubelet.expected.as_str(),
            kubelet.severity
        ),
        (
            "kubelet",
            "filtered",
            "no-response",
            "open",
            Severity::Error
        )
    );
    assert_eq!(kubelet.message, "kubelet (10250/tcp) is filtered from the control-plane vantage (no answer to a SYN): a firewall or security group drops or rejects it.");
    assert_eq!(kubelet.hint, "Without it the API server cannot exec, fetch logs or scrape metrics: allow 10250/tcp from the control-plane nodes in the node's firewall (firewalld, ufw, nftables) and in any cloud security group.");
    let etcd = find("cp1", 2379);
    assert_eq!(
        (etcd.observed.as_str(), etcd.reason.as_str()),
        ("filtered", "admin-prohibited")
    );
    assert!(
        etcd.message.contains("(ICMP admin-prohibited)"),
        "{}",
        etcd.message
    );
    let tunnel = find("w2", 8472);
    assert_eq!(
        (
            tunnel.component.as_str(),
            tunnel.observed.as_str(),
            tunnel.reason.as_str(),
            tunnel.expected.as_str()
        ),
        ("flannel", "closed", "port-unreach", "open or open|filtered")
    );
    let harbor = find("w1", 38088);
    assert_eq!(
        (
            harbor.component.as_str(),
            harbor.severity,
            harbor.expected.as_str()
        ),
        ("harbor", Severity::Warning, "closed or filtered")
    );
    assert_eq!(harbor.message, "harbor (38088/tcp) answers, but the plan gives it to registry nodes and this node is worker.");
    let squat = find("w1", 30080);
    assert_eq!(squat.component, "unknown");
    assert!(
        squat.message.starts_with(
            "An unknown listener answers on 30080/tcp in the NodePort range 30000-32767"
        ),
        "{}",
        squat.message
    );
    let dead = find("w3", 0);
    assert_eq!(
        (
            dead.protocol,
            dead.component.as_str(),
            dead.observed.as_str(),
            dead.reason.as_str(),
            dead.expected.as_str()
        ),
        (None, "host", "down", "no-response", "up")
    );
    assert_eq!(dead.port_label(), "-");
    // Every finding says something and suggests something.
    assert!(findings
        .iter()
        .all(|f| f.message.ends_with('.') && f.hint.ends_with('.')));
}

#[test]
fn vxlan_silence_is_healthy_closed_is_missing_prohibited_is_blocked() {
    let (p, inv) = (plan(""), cluster());
    for (seen, want) in [
        (UDP_SILENT, None),
        ((State::Open, Reason::UdpResponse), None),
        (UDP_CLOSED, Some(Missing)),
        ((State::Filtered, Reason::HostProhibited), Some(Blocked)),
    ] {
        let mut fake = Fake::healthy(&p, "", &inv, Phase::Post);
        fake.set(W2, Udp, 8472, seen);
        let findings = audit(&p, &inv, &[], Phase::Post, Vantage::Node, &fake);
        let got = keys(&findings);
        let want: Vec<_> = want
            .into_iter()
            .map(|k| (k, "w2", Some(Udp), 8472))
            .collect();
        assert_eq!(got, want, "{seen:?}");
    }
}

#[test]
fn ingress_addon_ports_must_answer_and_its_self_ports_must_not() {
    let (p, inv) = (plan("addons=ingress"), cluster());
    let mut fake = Fake::healthy(&p, "addons=ingress", &inv, Phase::Post);
    fake.set(W1, Tcp, 80, RST).set(W2, Tcp, 10254, OPEN);
    let findings = audit(&p, &inv, &[], Phase::Post, Vantage::External, &fake);
    assert_eq!(
        keys(&findings),
        vec![
            (Missing, "w1", Some(Tcp), 80),
            (Exposed, "w2", Some(Tcp), 10254)
        ]
    );
    assert_eq!(findings[0].component, "ingress-controller");
    assert_eq!(
        findings[0].message,
        "ingress-controller (80/tcp) is closed (the node answered RST): nothing listens on it."
    );
    assert!(
        findings[0].hint.contains("hostNetwork"),
        "{}",
        findings[0].hint
    );
    // Without the add-on, port 80 is not scanned at all: nothing to judge.
    let p = plan("");
    assert_eq!(scan_ports(&p).index_of(Tcp, 80), None);
}

#[test]
fn known_nodeports_must_answer_on_kube_proxy_nodes_unknown_ones_must_not() {
    let (p, inv) = (plan("addons=kuboard"), cluster());
    let mut fake = Fake::healthy(&p, "addons=kuboard", &inv, Phase::Post);
    for a in [CP1, W1, W2, W3] {
        fake.set(a, Tcp, 30090, OPEN);
    }
    fake.set(CP1, Tcp, 30090, RST)
        .set(W1, Tcp, 30090, SILENT)
        .set(W2, Tcp, 32766, RST) // kuboard's NodePort, from the plan
        .set(W2, Tcp, 32765, OPEN) // grafana's, but grafana is not installed
        .set(W3, Tcp, 30091, OPEN); // no Service has it
    let findings = audit(
        &p,
        &inv,
        &[service(30090, "web")],
        Phase::Post,
        Vantage::External,
        &fake,
    );
    let t = Some(Tcp);
    assert_eq!(
        keys(&findings),
        vec![
            (Missing, "cp1", t, 30090),
            (Blocked, "w1", t, 30090),
            (Unexpected, "w2", t, 32765),
            (Missing, "w2", t, 32766),
            (Unexpected, "w3", t, 30091),
        ]
    );
    assert_eq!(findings[0].component, "Service default/web");
    assert!(
        findings[0]
            .hint
            .starts_with("Check that Service default/web still has NodePort 30090"),
        "{}",
        findings[0].hint
    );
    assert_eq!(findings[3].component, "kuboard");
    assert!(
        findings[3].hint.starts_with("Check the kuboard add-on"),
        "{}",
        findings[3].hint
    );
    // The range itself is never judged port by port: all of it closed or
    // filtered is fine from every vantage.
    let mut quiet = Fake::healthy(&p, "addons=kuboard", &inv, Phase::Post);
    for port in 30000..=30100 {
        quiet.set(W1, Tcp, port, SILENT);
    }
    for from in Vantage::ALL {
        assert_eq!(
            keys(&audit(&p, &inv, &[], Phase::Post, *from, &quiet)),
            vec![]
        );
    }
}

#[test]
fn a_dead_node_gets_exactly_one_finding() {
    let (p, inv) = (plan(""), cluster());
    for phase in Phase::ALL {
        let mut fake = Fake::healthy(&p, "", &inv, *phase);
        fake.down(CP1);
        let findings = audit(&p, &inv, &[], *phase, Vantage::ControlPlane, &fake);
        assert_eq!(
            keys(&findings),
            vec![(Unreachable, "cp1", None, 0)],
            "{phase}"
        );
        let json = serde_json::to_value(&findings[0]).expect("json");
        assert_eq!(json.get("protocol"), None);
        assert_eq!(json["port"], 0);
        assert_eq!(json["kind"], "unreachable");
        assert_eq!(json["severity"], "error");
        let back: Finding = serde_json::from_value(json).expect("parse back");
        assert_eq!(back, findings[0]);
    }
}

#[test]
fn nodes_and_ports_the_scan_did_not_cover_are_not_judged() {
    let (p, inv) = (plan(""), cluster());
    let mut fake = broken_post(&p, &inv);
    fake.hosts.remove(&W1);
    fake.hosts.remove(&W3);
    // 6443 left out of the scan's list: a closed 6443 is not seen.
    fake.set(CP1, Tcp, 6443, RST);
    fake.ports = PortList::from_ports(
        fake.ports
            .as_slice()
            .iter()
            .copied()
            .filter(|&pp| pp != (Tcp, 6443))
            .collect(),
    );
    let findings = audit(&p, &inv, &[], Phase::Post, Vantage::ControlPlane, &fake);
    assert_eq!(
        keys(&findings),
        vec![
            (Blocked, "cp1", Some(Tcp), 2379),
            (Exposed, "cp1", Some(Tcp), 10251),
            (Exposed, "cp1", Some(Tcp), 10259),
            (Unexpected, "cp1", Some(Tcp), 30090),
            (Unexpected, "w2", Some(Tcp), 30090),
            (Missing, "w2", Some(Udp), 8472),
        ]
    );
    let status: Vec<NodeStatus> = node_summaries(&inv, &fake)
        .iter()
        .map(|n| n.status)
        .collect();
    use NodeStatus::{NotScanned, Up};
    assert_eq!(status, vec![Up, NotScanned, Up, NotScanned, Up]);
}

#[test]
fn several_roles_get_the_union_and_one_finding_per_port() {
    let p = plan("addons=ingress");
    let inv = Inventory::from_nodes([
        Node::new("edge", W1, &["registry", "worker"]),
        Node::new("all", CP1, &["control-plane", "worker"]),
    ]);
    let mut fake = Fake::healthy(&p, "addons=ingress", &inv, Phase::Post);
    // 443 is both harbor's and the ingress's: judged once.
    fake.set(W1, Tcp, 443, RST)
        .set(W1, Tcp, 38088, RST) // registry role
        .set(W1, Tcp, 80, SILENT) // worker role
        .set(CP1, Tcp, 6443, RST) // control-plane role
        .set(CP1, Tcp, 80, RST) // worker role
        .set(CP1, Tcp, 38088, OPEN); // neither
    let findings = audit(&p, &inv, &[], Phase::Post, Vantage::ControlPlane, &fake);
    let t = Some(Tcp);
    assert_eq!(
        keys(&findings),
        vec![
            (Missing, "all", t, 80),
            (Missing, "all", t, 6443),
            (Unexpected, "all", t, 38088),
            (Blocked, "edge", t, 80),
            (Missing, "edge", t, 443),
            (Missing, "edge", t, 38088),
        ]
    );
    assert_eq!(findings[4].component, "harbor");
    // In JUnit the finding fails the case of its own component, not the
    // other entry on the same port.
    let report = AuditReport::build(&p, &inv, &[], Phase::Post, Vantage::ControlPlane, fake.to_report());
    let xml_text = render_junit(&report, &p);
    let events = read_xml(&xml_text).unwrap_or_else(|e| panic!("{e}"));
    let failing: Vec<&str> = xml_text.split("<testcase ").filter(|c| c.contains("<failure")).filter_map(|c| c.split("name=\"").nth(1)?.split('"').next()).collect();
    assert!(failing.contains(&"443/tcp harbor (all)") && !failing.contains(&"443/tcp ingress-controller (all)"), "{failing:?}");
    assert!(!starts(&events, "failure").is_empty());
}

#[test]
fn an_open_port_planned_only_for_other_roles_in_the_range_is_explained() {
    // A user plan puts 31000 on control-plane nodes only: answering on a
    // worker after the install, it is in the range and planned elsewhere,
    // so it is no unknown listener (while 31001, planned nowhere, is).
    let user = Plan::from_str(
        "entries:\n  - {protocol: tcp, port: 31000, roles: [control-plane], component: metrics-gw, audience: all, purpose: test}\n",
        "user.yaml",
    )
    .expect("user plan");
    let p = Plan::builtin().merge_user(user).effective(&ClusterOptions::default());
    let inv = cluster();
    let mut fake = Fake::healthy(&p, "", &inv, Phase::Post);
    fake.set(CP1, Tcp, 31000, OPEN).set(W1, Tcp, 31000, OPEN).set(W1, Tcp, 31001, OPEN);
    let findings = audit(&p, &inv, &[], Phase::Post, Vantage::External, &fake);
    assert_eq!(keys(&findings), vec![(Unexpected, "w1", Some(Tcp), 31001)]);
}

#[test]
fn words_parse_print_and_serialize_alike() {
    for (p, s) in [(Phase::Pre, "pre"), (Phase::Post, "post")] {
        assert_eq!(p.to_string(), s);
        assert_eq!(s.parse::<Phase>(), Ok(p));
        assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{s}\""));
    }
    for (v, s) in [
        (Vantage::External, "external"),
        (Vantage::Node, "node"),
        (Vantage::ControlPlane, "control-plane"),
    ] {
        assert_eq!(v.to_string(), s);
        assert_eq!(s.parse::<Vantage>(), Ok(v));
        assert_eq!(serde_json::to_string(&v).unwrap(), format!("\"{s}\""));
        assert_eq!(
            serde_json::from_str::<Vantage>(&format!("\"{s}\"")).unwrap(),
            v
        );
    }
    assert_eq!(
        " Control-Plane ".parse::<Vantage>(),
        Ok(Vantage::ControlPlane)
    );
    assert_eq!(
        "inside".parse::<Vantage>().map_err(|e| e.to_string()),
        Err("unknown vantage \"inside\" (expected external, node or control-plane)".to_string())
    );
    let kinds: Vec<String> = FindingKind::ALL
        .iter()
        .map(|k| serde_json::to_string(k).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "\"conflict\"",
            "\"missing\"",
            "\"blocked\"",
            "\"exposed\"",
            "\"unexpected\"",
            "\"unreachable\"",
            "\"unresolved\"",
            "\"impostor\"",
            "\"insecure\""
        ]
    );
    assert!(Severity::Critical > Severity::Error && Severity::Error > Severity::Warning && Severity::Warning > Severity::Info);
    assert_eq!("warning".parse::<Severity>(), Ok(Severity::Warning));
}

#[test]
fn exit_code_counts_findings_at_or_above_fail_on() {
    let (p, inv) = (plan(""), cluster());
    let mut fake = Fake::healthy(&p, "", &inv, Phase::Post);
    fake.set(W1, Tcp, 38088, OPEN); // one warning
    let warn = audit(&p, &inv, &[], Phase::Post, Vantage::External, &fake);
    assert_eq!(keys(&warn), vec![(Unexpected, "w1", Some(Tcp), 38088)]);
    assert_eq!(exit_code(&warn, Severity::Error), 0);
    assert_eq!(exit_code(&warn, Severity::Warning), 1);
    assert_eq!(exit_code(&warn, Severity::Info), 1);
    assert_eq!(exit_code(&[], Severity::Info), 0);
    fake.set(W1, Tcp, 10256, SILENT); // plus an error
    let err = audit(&p, &inv, &[], Phase::Post, Vantage::External, &fake);
    assert_eq!(exit_code(&err, Severity::Error), 1);
    // The report's own exit code is the same rule.
    let report = |fake: &Fake| AuditReport::build(&p, &inv, &[], Phase::Post, Vantage::External, fake.to_report());
    let mut fake = Fake::healthy(&p, "", &inv, Phase::Post);
    assert_eq!(report(&fake).exit_code(Severity::Info), 0, "a healthy cluster");
    fake.set(W1, Tcp, 38088, OPEN);
    assert_eq!((report(&fake).exit_code(Severity::Error), report(&fake).exit_code(Severity::Warning)), (0, 1));
}

#[test]
fn conflicts_name_the_component_or_the_range_and_the_command_that_finds_the_process() {
    // kuboard's planned NodePort is in the range, but it is a planned
    // entry: its own message, not the range's; a UDP squatter gets the UDP
    // form of the `ss` command.
    let (p, inv) = (plan("addons=kuboard"), cluster());
    let mut fake = Fake::healthy(&p, "addons=kuboard", &inv, Phase::Pre);
    fake.set(W1, Tcp, 32766, OPEN)
        .set(W2, Udp, 8472, (State::Open, Reason::UdpResponse))
        .set(W3, Tcp, 30001, OPEN);
    let findings = audit(&p, &inv, &[], Phase::Pre, Vantage::External, &fake);
    assert_eq!(
        keys(&findings),
        vec![(Conflict, "w1", Some(Tcp), 32766), (Conflict, "w2", Some(Udp), 8472), (Conflict, "w3", Some(Tcp), 30001)]
    );
    let text: Vec<(&str, &str)> = findings.iter().map(|f| (f.message.as_str(), f.hint.as_str())).collect();
    assert_eq!(
        text,
        vec![
            (
                "32766/tcp is already in use before install: kuboard will fail to bind it.",
                "Stop or move the process shown by `ss -ltnp 'sport = :32766'` on the node before installing."
            ),
            (
                "8472/udp is already in use before install: flannel will fail to bind it.",
                "A CNI from a previous install may still run: remove it (and its interfaces), or stop the process shown by `ss -lunp 'sport = :8472'`."
            ),
            (
                "30001/tcp in the NodePort range 30000-32767 is already in use before install: a Service given this NodePort would collide with the process.",
                "Stop or move the process shown by `ss -ltnp 'sport = :30001'` on the node, or set a --service-node-port-range that avoids it."
            ),
        ]
    );
}

/// Three hosts: mostly closed, down, mostly open (default `open`).
fn small_scan() -> ScanReport {
    let port = |port, protocol, (state, reason): (State, Reason)| PortReport {
        port,
        protocol,
        state,
        reason,
        ttl: None,
        service: None,
    };
    let mut r = Fake {
        ports: PortList::parse("T:22,80,443,U:53", Tcp).unwrap(),
        hosts: BTreeMap::new(),
    }
    .to_report();
    r.hosts = vec![
        HostReport {
            address: CP1,
            name: None,
            status: HostStatus::Up,
            default_state: State::Closed,
            default_reason: Reason::Rst,
            ports: vec![port(80, Tcp, OPEN), port(53, Udp, UDP_SILENT)],
            udp_unresolved: Vec::new(),
        },
        HostReport {
            address: W1,
            name: None,
            status: HostStatus::Down,
            default_state: State::Filtered,
            default_reason: Reason::NoResponse,
            ports: vec![port(53, Udp, UDP_SILENT)],
            udp_unresolved: Vec::new(),
        },
        HostReport {
            address: W2,
            name: None,
            status: HostStatus::Up,
            default_state: State::Open,
            default_reason: Reason::SynAck,
            ports: vec![port(22, Tcp, RST), port(53, Udp, UDP_CLOSED)],
            udp_unresolved: Vec::new(),
        },
    ];
    r
}

#[test]
fn a_scan_report_answers_as_observations() {
    let scan = small_scan();
    let obs = ScanObservations::new(&scan);
    assert_eq!(
        [CP1, W1, W2, REG].map(|a| obs.host_up(a)),
        [Some(true), Some(false), Some(true), None]
    );
    assert_eq!(obs.state(CP1, Tcp, 80), Some(OPEN));
    assert_eq!(obs.state(CP1, Tcp, 22), Some(RST));
    assert_eq!(obs.state(CP1, Udp, 53), Some(UDP_SILENT));
    assert_eq!(obs.state(CP1, Tcp, 8080), None, "not scanned");
    assert_eq!(obs.state(CP1, Udp, 80), None, "not scanned over UDP");
    assert_eq!(obs.state(REG, Tcp, 80), None, "host not scanned");
    assert_eq!(obs.state(W2, Tcp, 443), Some(OPEN));
    assert_eq!(obs.open_ports(CP1), vec![(Tcp, 80)]);
    assert_eq!(obs.open_ports(W1), vec![]);
    assert_eq!(obs.open_ports(W2), vec![(Tcp, 80), (Tcp, 443)]);
    assert_eq!(obs.open_ports(REG), vec![]);
}

#[test]
fn the_report_agrees_with_the_fake_and_round_trips_through_json() {
    let (p, inv) = (plan(""), cluster());
    let fake = broken_post(&p, &inv);
    let services = [service(30090, "web")];
    let report = AuditReport::build(
        &p,
        &inv,
        &services,
        Phase::Post,
        Vantage::ControlPlane,
        fake.to_report(),
    );
    // The same findings as the observations give, stated exactly (not by
    // calling `audit` again: a shared bug would agree with itself).
    assert_eq!(
        keys(&report.findings),
        broken_post_from_control_plane()
    );
    assert_eq!(
        (report.kind.as_str(), report.format_version),
        ("audit", FORMAT_VERSION)
    );
    assert_eq!(
        report.options,
        "cni=flannel,flannel-backend=vxlan,lb=none,addons=none"
    );
    let s = &report.summary;
    assert_eq!(
        (
            s.nodes,
            s.nodes_up,
            s.nodes_down,
            s.nodes_not_scanned,
            s.ports_checked,
            s.findings
        ),
        (5, 4, 1, 0, 4 * 2782, 9)
    );
    let by_kind: Vec<(&str, u64)> = s
        .findings_by_kind
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        by_kind,
        vec![
            ("blocked", 2),
            ("conflict", 0),
            ("exposed", 2),
            ("impostor", 0),
            ("insecure", 0),
            ("missing", 1),
            ("unexpected", 3),
            ("unreachable", 1),
            ("unresolved", 0)
        ]
    );
    let by_sev: Vec<(&str, u64)> = s
        .findings_by_severity
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(by_sev, vec![("critical", 0), ("error", 6), ("info", 0), ("warning", 3)]);
    assert_eq!(report.exit_code(Severity::Error), 1);

    let json = render_json(&report);
    let back: AuditReport = serde_json::from_str(&json).expect("the JSON parses back");
    assert_eq!(back, report);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    // Keys in document order (serde_json's Value sorts them): top-level keys
    // are the lines indented by two spaces.
    let top: Vec<&str> = json
        .lines()
        .filter_map(|l| l.strip_prefix("  \"")?.split_once("\":").map(|k| k.0))
        .collect();
    assert_eq!(
        top,
        [
            "portsweep",
            "format_version",
            "kind",
            "phase",
            "from",
            "options",
            "nodes",
            "findings",
            "summary",
            "scan"
        ]
    );
    let mut f0: Vec<&str> = v["findings"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    f0.sort_unstable();
    let mut want = [
        "node",
        "address",
        "roles",
        "protocol",
        "port",
        "component",
        "observed",
        "reason",
        "expected",
        "kind",
        "severity",
        "message",
        "hint",
    ];
    want.sort_unstable();
    assert_eq!(f0, want);
    assert_eq!(
        (v["phase"].as_str(), v["from"].as_str()),
        (Some("post"), Some("control-plane"))
    );
    assert_eq!(
        v["nodes"][3],
        serde_json::json!({"name": "w3", "address": "10.0.0.4", "roles": ["worker"], "status": "down"})
    );
    assert_eq!(v["scan"]["kind"], "scan");
}

/// Events of a minimal XML reader: enough to prove the document is
/// well-formed (balanced tags, one root, quoted attributes, only the five
/// predefined entities, no stray `<` or `&`) and to count elements.
#[derive(Debug)]
enum Xml {
    Start(String, BTreeMap<String, String>),
    End,
}

fn check_entities(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..]
            .find(';')
            .ok_or(format!("unterminated entity in {text:?}"))?;
        out.push(match &rest[i..i + end + 1] {
            "&amp;" => '&',
            "&lt;" => '<',
            "&gt;" => '>',
            "&quot;" => '"',
            "&apos;" => '\'',
            e => return Err(format!("unknown entity {e}")),
        });
        rest = &rest[i + end + 1..];
    }
    out.push_str(rest);
    if out
        .chars()
        .any(|c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err("control character".to_string());
    }
    Ok(out)
}

fn read_xml(doc: &str) -> Result<Vec<Xml>, String> {
    let body = doc
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .ok_or("no XML declaration")?;
    let mut events = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..lt];
        if text.contains('>') {
            return Err(format!("stray > in {text:?}"));
        }
        check_entities(text)?;
        if stack.is_empty() && !text.trim().is_empty() {
            return Err("text outside the root".to_string());
        }
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        // A tag ends at the first '>' (attribute values escape '>').
        let gt = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            match stack.pop() {
                Some(open) if open == name => events.push(Xml::End),
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            continue;
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(t) => (t, true),
            None => (tag, false),
        };
        let (name, mut attrs_text) = tag.split_once(' ').unwrap_or((tag, ""));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(format!("bad element name {name:?}"));
        }
        let mut attrs = BTreeMap::new();
        loop {
            attrs_text = attrs_text.trim_start();
            if attrs_text.is_empty() {
                break;
            }
            let (key, after) = attrs_text
                .split_once("=\"")
                .ok_or(format!("bad attribute in <{tag}>"))?;
            let close = after.find('"').ok_or("unterminated attribute")?;
            let value = &after[..close];
            if value.contains('<') {
                return Err(format!("< in attribute {key}"));
            }
            if attrs
                .insert(key.to_string(), check_entities(value)?)
                .is_some()
            {
                return Err(format!("duplicate attribute {key}"));
            }
            attrs_text = &after[close + 1..];
        }
        if stack.is_empty() {
            roots += 1;
        }
        events.push(Xml::Start(name.to_string(), attrs));
        if empty {
            events.push(Xml::End);
        } else {
            stack.push(name.to_string());
        }
    }
    if !stack.is_empty() || roots != 1 {
        return Err(format!("unclosed {stack:?} or {roots} roots"));
    }
    Ok(events)
}

fn starts<'a>(events: &'a [Xml], name: &str) -> Vec<&'a BTreeMap<String, String>> {
    events
        .iter()
        .filter_map(|e| match e {
            Xml::Start(n, a) if n == name => Some(a),
            _ => None,
        })
        .collect()
}

#[test]
fn the_xml_reader_rejects_what_it_should() {
    let decl = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    assert!(read_xml(&format!("{decl}<a><b/></a>\n")).is_ok());
    for bad in [
        "<a><b></a>",
        "<a>x & y</a>",
        "<a x=\"1\" x=\"2\"/>",
        "<a/><b/>",
        "<a x=\"<\"/>",
        "<a>&nbsp;</a>",
        "<a>",
        "<a>1 > 0</a>",
    ] {
        assert!(read_xml(&format!("{decl}{bad}")).is_err(), "{bad}");
    }
}

#[test]
fn junit_has_one_case_per_node_and_planned_entry() {
    let (p, inv) = (plan(""), cluster());
    let report = AuditReport::build(
        &p,
        &inv,
        &[service(30090, "web")],
        Phase::Post,
        Vantage::ControlPlane,
        broken_post(&p, &inv).to_report(),
    );
    let xml_text = render_junit(&report, &p);
    let events = read_xml(&xml_text).unwrap_or_else(|e| panic!("{e}\n{xml_text}"));
    // Cases: "node answers" + the entries of the node's roles (+ unplanned):
    // cp1 1+11, w1 1+5+1 (38088), w2 1+5, w3 1+5, reg 1+3.
    let suites = starts(&events, "testsuite");
    let per_suite: Vec<(&str, &str, &str, &str)> = suites
        .iter()
        .map(|a| {
            (
                a["name"].as_str(),
                a["tests"].as_str(),
                a["failures"].as_str(),
                a["skipped"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        per_suite,
        vec![
            ("cp1 (10.0.0.1)", "12", "3", "0"),
            ("w1 (10.0.0.2)", "7", "3", "0"),
            ("w2 (10.0.0.3)", "6", "1", "0"),
            ("w3 (10.0.0.4)", "6", "1", "5"),
            ("reg (10.0.0.9)", "4", "0", "0"),
        ]
    );
    assert_eq!(starts(&events, "testcase").len(), 35);
    assert_eq!(starts(&events, "failure").len(), 8);
    assert_eq!(starts(&events, "skipped").len(), 5);
    let root = &starts(&events, "testsuites")[0];
    assert_eq!(
        (
            root["tests"].as_str(),
            root["failures"].as_str(),
            root["skipped"].as_str()
        ),
        ("35", "8", "5")
    );
    let failures: Vec<(&str, &str)> = starts(&events, "failure")
        .iter()
        .map(|a| (a["type"].as_str(), a["message"].as_str()))
        .collect();
    assert_eq!(failures[0], ("blocked", "etcd (2379/tcp) is filtered from the control-plane vantage (ICMP admin-prohibited): a firewall or security group drops or rejects it."));
    // Both squatters of w1 land in the NodePort range's one case.
    assert_eq!(failures[4], ("unexpected", "2 findings"));
    assert!(xml_text.contains("name=\"30000-32767/tcp NodePort Services (all)\""));
    assert!(xml_text.contains("name=\"38088/tcp harbor (not planned for this node)\""));
    assert!(xml_text.contains("[warning] unexpected 30081/tcp unknown:"));
}

#[test]
fn junit_escapes_what_it_writes() {
    let inv = Inventory::from_nodes([Node::new("a<&>\"'\u{1}b\u{FFFF}\u{FFFE}", W1, &["worker"])]);
    let p = plan("");
    let mut fake = Fake::healthy(&p, "", &inv, Phase::Post);
    fake.set(W1, Tcp, 10250, RST);
    let mut report = AuditReport::build(
        &p,
        &inv,
        &[],
        Phase::Post,
        Vantage::ControlPlane,
        fake.to_report(),
    );
    assert_eq!(report.findings.len(), 1);
    report.findings[0].message = "x < y & \"z\"".to_string();
    let xml_text = render_junit(&report, &p);
    let events = read_xml(&xml_text).unwrap_or_else(|e| panic!("{e}\n{xml_text}"));
    assert_eq!(
        starts(&events, "testsuite")[0]["name"],
        "a<&>\"'b (10.0.0.2)"
    );
    assert_eq!(starts(&events, "failure")[0]["message"], "x < y & \"z\"");
}

#[test]
fn markdown_has_the_summary_and_one_row_per_finding() {
    let (p, inv) = (plan(""), cluster());
    let mut report = AuditReport::build(
        &p,
        &inv,
        &[service(30090, "web")],
        Phase::Post,
        Vantage::ControlPlane,
        broken_post(&p, &inv).to_report(),
    );
    report.findings[0].component = "etcd|peer".to_string();
    let md_text = render_markdown(&report);
    let lines: Vec<&str> = md_text.lines().collect();
    assert_eq!(
        lines[0],
        "## portsweep audit: 9 findings (phase `post`, from `control-plane`)"
    );
    assert!(
        lines.contains(&"| 5 | 4 | 1 | 0 | 11128 | 0 | 6 | 3 | 0 |"),
        "{md_text}"
    );
    assert!(lines.contains(&"| unexpected | 3 |"));
    let rows: Vec<&&str> = lines
        .iter()
        .filter(|l| l.starts_with("| error |") || l.starts_with("| warning |"))
        .collect();
    assert_eq!(rows.len(), 9);
    assert_eq!(
        *rows[2],
        "| error | exposed | cp1 | 10.0.0.1 | 10259/tcp | kube-scheduler | open (syn-ack) | not open from another host | kube-scheduler (10259/tcp) answers from another host: it is bound to a non-loopback address. | Bind it to 127.0.0.1 (--bind-address=127.0.0.1) or firewall it. |  |"
    );
    // An escaped pipe keeps the row at eleven cells.
    assert!(rows[0].starts_with("| error | blocked | cp1 | 10.0.0.1 | 2379/tcp | etcd\\|peer | filtered (admin-prohibited) |"), "{}", rows[0]);
    assert_eq!(rows[0].replace("\\|", "").matches('|').count(), 12);
    assert_eq!(*rows[8], "| error | unreachable | w3 | 10.0.0.4 | - | host | down (no-response) | up | The node answered no probe at all: it is down, its inventory address is wrong, or a firewall drops everything from this vantage. | Check that 10.0.0.4 is the node's address and that the node runs; from the scanner, try `ping 10.0.0.4` and check the routes and firewalls in between. |  |");
}

#[test]
fn table_groups_by_node_then_severity_and_ends_with_the_summary() {
    let (p, inv) = (plan(""), cluster());
    let report = AuditReport::build(
        &p,
        &inv,
        &[service(30090, "web")],
        Phase::Post,
        Vantage::ControlPlane,
        broken_post(&p, &inv).to_report(),
    );
    let table = render_table(&report);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "portsweep audit: phase post, from control-plane, cni=flannel,flannel-backend=vxlan,lb=none,addons=none");
    let heads: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .collect();
    assert_eq!(
        heads,
        vec![
            lines[0],
            "cp1 (10.0.0.1) [control-plane] up: 3 findings",
            "w1 (10.0.0.2) [worker] up: 4 findings",
            "w2 (10.0.0.3) [worker] up: 1 finding",
            "w3 (10.0.0.4) [worker] down: 1 finding",
            "no findings on 1 node: reg",
            "5 nodes (4 up, 1 down, 0 not scanned), 11128 ports checked",
            "9 findings: 0 critical, 6 error, 3 warning, 0 info; conflict 0, missing 1, blocked 2, exposed 2, unexpected 3, unreachable 1, unresolved 0, impostor 0, insecure 0",
        ]
    );
    // w1: its error before its warnings.
    let w1 = lines.iter().position(|l| l.starts_with("w1 ")).unwrap();
    let groups: Vec<&str> = lines[w1 + 1..]
        .iter()
        .copied()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .collect();
    assert_eq!(groups, vec!["  error:", "  warning:"]);
    assert_eq!(
        lines[w1 + 2],
        "    blocked     10250/tcp   kubelet                  filtered (no-response)       expected open"
    );
}

#[test]
fn legacy_ports_are_never_missing_only_exposed() {
    // A user plan keeps a removed `all` port (cAdvisor's old 4194) and a
    // removed `self` one: neither may be required any more.
    let user = Plan::from_str(
        "version: 1\nentries:\n  - {protocol: tcp, port: 4194, roles: [worker], component: cadvisor, audience: all, legacy: true, purpose: old cAdvisor port}\n  - {protocol: tcp, port: 10255, roles: [worker], component: kubelet, audience: self, legacy: true, purpose: read-only port}\n",
        "user.yaml",
    )
    .expect("user plan");
    let p = Plan::builtin()
        .merge_user(user)
        .effective(&ClusterOptions::default());
    let inv = cluster();
    let mut fake = Fake::healthy(&p, "", &inv, Phase::Post);
    assert_eq!(fake.state(W1, Tcp, 4194), Some(RST));
    for from in Vantage::ALL {
        assert_eq!(
            keys(&audit(&p, &inv, &[], Phase::Post, *from, &fake)),
            vec![],
            "{from}"
        );
    }
    fake.set(W1, Tcp, 4194, OPEN).set(W2, Tcp, 10255, OPEN);
    let findings = audit(&p, &inv, &[], Phase::Post, Vantage::ControlPlane, &fake);
    assert_eq!(keys(&findings), vec![(Exposed, "w2", Some(Tcp), 10255)]);
    assert_eq!(findings[0].message, "kubelet (10255/tcp) answers from another host: the legacy insecure HTTP port (no authentication) is enabled and reachable.");
    assert_eq!(findings[0].hint, "Disable the kubelet's read-only port (readOnlyPort: 0, --read-only-port=0) or firewall it.");
    // The healthz port keeps its own advice.
    fake.set(W2, Tcp, 10248, OPEN);
    let findings = audit(&p, &inv, &[], Phase::Post, Vantage::External, &fake);
    assert_eq!(
        keys(&findings),
        vec![
            (Exposed, "w2", Some(Tcp), 10248),
            (Exposed, "w2", Some(Tcp), 10255)
        ]
    );
    assert_eq!(findings[0].hint, "Set the kubelet's healthzBindAddress to 127.0.0.1 (--healthz-bind-address) or firewall it.");
}


#[test]
fn node_by_node_matrix_from_per_node_reports() {
    let (p, inv) = (plan(""), cluster());
    let services = [service(30090, "web")];
    let mut from_cp = AuditReport::build(&p, &inv, &services, Phase::Post, Vantage::ControlPlane, broken_post(&p, &inv).to_report());
    from_cp.vantage_node = Some("cp1".into());
    // The healthy cluster has no Service on 30090: judged without --services.
    let mut from_w1 = AuditReport::build(&p, &inv, &[], Phase::Post, Vantage::Node, Fake::healthy(&p, "", &inv, Phase::Post).to_report());
    from_w1.vantage_node = Some("w1".into());
    let unnamed = AuditReport::build(&p, &inv, &[], Phase::Post, Vantage::Node, Fake::healthy(&p, "", &inv, Phase::Post).to_report());
    let m = matrix::matrix(&[from_cp, from_w1, unnamed]);
    assert_eq!(m.sources, ["cp1", "w1", "?3"]);
    assert_eq!(m.targets, ["cp1", "reg", "w1", "w2", "w3"]);
    let cells: Vec<(&str, &str, bool, String)> = m.cells.iter().map(|c| (c.from.as_str(), c.to.as_str(), c.ok, c.problems.join("; "))).collect();
    let ok = |from, to| (from, to, true, String::new());
    assert_eq!(
        cells,
        vec![
            // cp1's own findings (exposed, blocked etcd) are the diagonal:
            // left out; exposed and unexpected are not reachability.
            ("cp1", "w1", false, "10250/tcp blocked".to_string()),
            ("cp1", "w2", false, "8472/udp missing".to_string()),
            ("cp1", "w3", false, "unreachable".to_string()),
            ok("cp1", "reg"),
            ok("w1", "cp1"),
            ok("w1", "w2"),
            ok("w1", "w3"),
            ok("w1", "reg"),
            ok("?3", "cp1"),
            ok("?3", "w1"),
            ok("?3", "w2"),
            ok("?3", "w3"),
            ok("?3", "reg"),
        ]
    );
    assert_eq!(
        matrix::render_table(&m),
        "cp1 → 1/4 nodes reachable on every port that must answer\n    ✗ w1: 10250/tcp blocked\n    ✗ w2: 8472/udp missing\n    ✗ w3: unreachable\n\
         w1 → 4/4 nodes reachable on every port that must answer\n\
         ?3 → 5/5 nodes reachable on every port that must answer\n\
         3 sources × 5 targets: 13 cells, 3 with problems\n"
    );
}

#[test]
fn unknown_nodeport_listeners_after_install_are_named_as_such() {
    let (p, inv) = (plan(""), cluster());
    let mut fake = Fake::healthy(&p, "", &inv, Phase::Post);
    fake.set(W1, Tcp, 30080, OPEN);
    let findings = audit(&p, &inv, &[], Phase::Post, Vantage::External, &fake);
    assert_eq!(keys(&findings), vec![(Unexpected, "w1", Some(Tcp), 30080)]);
    assert_eq!(
        (findings[0].component.as_str(), findings[0].message.as_str(), findings[0].hint.as_str()),
        (
            "unknown",
            "An unknown listener answers on 30080/tcp in the NodePort range 30000-32767: no add-on or known Service uses it, so a host process squats a port the API server may allocate to a Service.",
            "Find it with `ss -ltnp 'sport = :30080'` on the node and stop or move it; if it is a Service's NodePort, pass --services (kubectl get svc -A -o json) so the audit knows it."
        )
    );
}

#[test]
fn a_known_service_on_a_planned_port_is_judged_once() {
    // kuboard's NodePort is planned (the add-on) and also a Service in
    // --services: down on w1, it is one finding, the plan's.
    let (p, inv) = (plan("addons=kuboard"), cluster());
    let mut fake = Fake::healthy(&p, "addons=kuboard", &inv, Phase::Post);
    fake.set(W1, Tcp, 32766, RST);
    let findings = audit(&p, &inv, &[service(32766, "kuboard")], Phase::Post, Vantage::External, &fake);
    assert_eq!(keys(&findings), vec![(Missing, "w1", Some(Tcp), 32766)]);
    assert_eq!(findings[0].component, "kuboard");
}

#[test]
fn hints_name_the_component_specific_fix() {
    let adm = (State::Filtered, Reason::AdminProhibited);
    // (plan options, vantage, node, pair, observed, kind, what the hint or message says)
    let cases: Vec<(&str, Vantage, IpAddr, (Protocol, u16), (State, Reason), FindingKind, &str)> = vec![
        ("", Vantage::ControlPlane, CP1, (Tcp, 2379), SILENT, Blocked, "etcd members and kube-apiserver talk on it: allow 2379/tcp"),
        ("", Vantage::External, CP1, (Tcp, 6443), SILENT, Blocked, "Every kubelet and client needs it: allow 6443/tcp"),
        ("", Vantage::Node, W1, (Udp, 8472), adm, Blocked, "It is flannel's tunnel, pod traffic between nodes needs it: allow 8472/udp"),
        ("cni=calico", Vantage::Node, W1, (Tcp, 179), SILENT, Blocked, "It is Calico's BGP peering: allow 179/tcp"),
        ("", Vantage::External, W1, (Tcp, 10248), OPEN, Exposed, "Set the kubelet's healthzBindAddress to 127.0.0.1"),
        ("", Vantage::External, W1, (Tcp, 6443), OPEN, Unexpected, "A control-plane component runs on a node the inventory does not list as control-plane"),
        ("cni=calico", Vantage::External, REG, (Tcp, 5473), OPEN, Unexpected, "If this node should have the role control-plane or worker, fix the inventory; otherwise stop calico-typha here"),
    ];
    for (opts, from, node, (proto, port), seen, kind, says) in cases {
        let p = plan(opts);
        let inv = cluster();
        let mut fake = Fake::healthy(&p, opts, &inv, Phase::Post);
        fake.set(node, proto, port, seen);
        let findings = audit(&p, &inv, &[], Phase::Post, from, &fake);
        let f = findings.iter().find(|f| f.port == port && f.protocol == Some(proto)).unwrap_or_else(|| panic!("{port}/{proto}: {:?}", keys(&findings)));
        assert_eq!(f.kind, kind, "{port}/{proto}");
        assert!(f.hint.starts_with(says) || f.message.contains(says), "{port}/{proto}: {} / {}", f.message, f.hint);
    }
    // kuboard's NodePort answering on the registry: planned for other
    // roles, so it is named as kuboard, not as an unknown range listener.
    let p = plan("addons=kuboard");
    let inv = cluster();
    let mut fake = Fake::healthy(&p, "addons=kuboard", &inv, Phase::Post);
    fake.set(REG, Tcp, 32766, OPEN);
    let findings = audit(&p, &inv, &[], Phase::Post, Vantage::External, &fake);
    assert_eq!(keys(&findings), vec![(Unexpected, "reg", Some(Tcp), 32766)]);
    assert_eq!(findings[0].component, "kuboard");
    assert!(findings[0].message.contains("answers, but the plan gives it to control-plane and worker nodes and this node is registry"), "{}", findings[0].message);
}

#[test]
fn an_unresolved_silence_of_a_must_answer_udp_port_is_info_not_healthy_nor_missing() {
    let (p, inv) = (plan(""), cluster());
    let fake = Fake::healthy(&p, "", &inv, Phase::Post);
    assert_eq!(fake.state(W1, Udp, 8472), Some(UDP_SILENT), "healthy VXLAN is silent");
    let mut report = fake.to_report();
    let scan = ScanObservations::new(&report);
    assert!(audit(&p, &inv, &[], Phase::Post, Vantage::Node, &scan).is_empty(), "confirmed silence: healthy");
    let w1 = report.hosts.iter_mut().find(|h| h.address == W1).unwrap();
    w1.udp_unresolved = vec![8472];
    let scan = ScanObservations::new(&report);
    assert!(scan.unresolved(W1, Udp, 8472) && !scan.unresolved(W1, Tcp, 8472));
    let findings = audit(&p, &inv, &[], Phase::Post, Vantage::Node, &scan);
    assert_eq!(keys(&findings), vec![(Unresolved, "w1", Some(Udp), 8472)]);
    assert_eq!((findings[0].severity, findings[0].observed.as_str(), findings[0].reason.as_str()), (Severity::Info, "open|filtered", "no-response"));
    assert_eq!(exit_code(&findings, Severity::Warning), 0);
}

/// A dual-stack cluster: each node twice (an IPv4 and an IPv6 address,
/// one name), each address judged on its own; every finding names the
/// address and so the family it is about.
#[test]
fn dual_stack_nodes_are_judged_per_address_and_services_per_family() {
    let v6 = |last: u16| IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, last));
    let (cp1_6, w1_6, w2_6) = (v6(1), v6(2), v6(3));
    let inv = Inventory::from_nodes([
        Node::new("cp1", CP1, &["control-plane"]),
        Node::new("cp1", cp1_6, &["control-plane"]),
        Node::new("w1", W1, &["worker"]),
        Node::new("w1", w1_6, &["worker"]),
        Node::new("w2", W2, &["worker"]),
        Node::new("w2", w2_6, &["worker"]),
    ]);
    let p = plan("");
    let mut fake = Fake::healthy(&p, "", &inv, Phase::Post);
    // A single-stack IPv4 Service: its NodePort answers on the IPv4
    // addresses only (kube-proxy's IPv6 proxier does not know it); a
    // dual-stack Service answers on both.
    let mut v4_only = service(30090, "web-v4");
    v4_only.families = crate::inventory::Families { ipv4: true, ipv6: false };
    let both = service(30091, "web-dual");
    for a in [CP1, W1, W2] {
        fake.set(a, Tcp, 30090, OPEN);
    }
    for a in [CP1, W1, W2, cp1_6, w1_6, w2_6] {
        fake.set(a, Tcp, 30091, OPEN);
    }
    // Family-specific faults: w1's kubelet firewalled on IPv6 only (ip6
    // table drop), the dual-stack NodePort dropped on w2's IPv6 only.
    fake.set(w1_6, Tcp, 10250, SILENT);
    fake.set(w2_6, Tcp, 30091, SILENT);
    let found: Vec<(FindingKind, String, IpAddr, u16)> = audit(&p, &inv, &[v4_only.clone(), both.clone()], Phase::Post, Vantage::ControlPlane, &fake)
        .into_iter()
        .map(|f| (f.kind, f.node, f.address, f.port))
        .collect();
    assert_eq!(
        found,
        vec![
            (FindingKind::Blocked, "w1".to_string(), w1_6, 10250),
            (FindingKind::Blocked, "w2".to_string(), w2_6, 30091),
        ]
    );
    // The same IPv4-only Service open on an IPv6 address is a listener
    // nobody explains there.
    fake.set(w1_6, Tcp, 10250, OPEN).set(w2_6, Tcp, 30091, OPEN).set(cp1_6, Tcp, 30090, OPEN);
    let found: Vec<(FindingKind, IpAddr, u16)> =
        audit(&p, &inv, &[v4_only, both], Phase::Post, Vantage::ControlPlane, &fake).into_iter().map(|f| (f.kind, f.address, f.port)).collect();
    assert_eq!(found, vec![(FindingKind::Unexpected, cp1_6, 30090)]);
}
