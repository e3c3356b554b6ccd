//! Tests of the plan against known truth: the seed table, and port lists
//! written out by hand per cluster setup.

use super::*;

fn roles(r: &[&str]) -> Vec<String> {
    r.iter().map(|s| s.to_string()).collect()
}

/// `extra` plus every port of 30000-32767, sorted: the TCP list of a role
/// that runs kube-proxy.
fn with_nodeports(extra: &[u16]) -> Vec<u16> {
    let mut v: BTreeSet<u16> = extra.iter().copied().collect();
    v.extend(30000..=32767);
    v.into_iter().collect()
}

fn err(text: &str) -> String {
    Plan::from_str(text, "user.yaml").unwrap_err().to_string()
}

#[test]
fn builtin_has_every_seed_row() {
    // Written out from shared/seed/k8s-ports.md, one tuple per port of a row
    // ("10248,10250" is two entries per role section). The last tuple is not
    // in the seed: Cilium's VXLAN tunnel (see k8s.yaml).
    let mut expected: Vec<(Protocol, &str, &str)> = vec![
        // registry
        (Protocol::Tcp, "38088", "harbor"),
        (Protocol::Tcp, "443", "harbor"),
        (Protocol::Udp, "123", "chrony"),
        // control plane
        (Protocol::Tcp, "6443", "kube-apiserver"),
        (Protocol::Tcp, "2379-2380", "etcd"),
        (Protocol::Tcp, "10248", "kubelet"),
        (Protocol::Tcp, "10250", "kubelet"),
        (Protocol::Tcp, "10251", "kube-scheduler"),
        (Protocol::Tcp, "10259", "kube-scheduler"),
        (Protocol::Tcp, "10252", "kube-controller-manager"),
        (Protocol::Tcp, "10257", "kube-controller-manager"),
        // worker
        (Protocol::Tcp, "80", "ingress-controller"),
        (Protocol::Tcp, "443", "ingress-controller"),
        (Protocol::Tcp, "18443", "ingress-controller"),
        (Protocol::Tcp, "10254", "ingress-controller"),
        (Protocol::Tcp, "10248", "kubelet"),
        (Protocol::Tcp, "10250", "kubelet"),
        (Protocol::Tcp, "30000-32767", "NodePort Services"),
        (Protocol::Tcp, "10256", "kube-proxy"),
        // flannel
        (Protocol::Udp, "8285", "flannel"),
        (Protocol::Udp, "8472", "flannel"),
        // calico
        (Protocol::Tcp, "179", "calico"),
        (Protocol::Tcp, "5473", "calico-typha"),
        // load balancer
        (Protocol::Tcp, "2112", "kube-vip"),
        // cilium
        (Protocol::Tcp, "9234", "cilium-operator"),
        (Protocol::Tcp, "9891", "cilium-operator"),
        (Protocol::Tcp, "9963", "cilium-operator"),
        (Protocol::Tcp, "4240", "cilium-agent"),
        (Protocol::Tcp, "43215", "cilium-agent"),
        (Protocol::Tcp, "6060", "cilium-agent"),
        (Protocol::Tcp, "9879", "cilium-agent"),
        (Protocol::Tcp, "9890", "cilium-agent"),
        (Protocol::Tcp, "9962", "cilium-agent"),
        (Protocol::Tcp, "9965", "cilium-agent"),
        (Protocol::Tcp, "4244", "cilium-agent"),
        // add-ons
        (Protocol::Tcp, "32766", "kuboard"),
        (Protocol::Tcp, "32765", "grafana"),
        (Protocol::Tcp, "32379", "redis"),
        // added (not in the seed)
        (Protocol::Udp, "8472", "cilium-agent"),
    ];
    let plan = Plan::builtin();
    let port_strings: Vec<String> = plan.entries.iter().map(|e| e.port.to_string()).collect();
    let mut got: Vec<(Protocol, &str, &str)> = plan
        .entries
        .iter()
        .zip(&port_strings)
        .map(|(e, p)| (e.protocol, p.as_str(), e.component.as_str()))
        .collect();
    expected.sort();
    got.sort();
    assert_eq!(got, expected);
    assert_eq!(
        plan.nodeport_range,
        PortRange {
            start: 30000,
            end: 32767
        }
    );
    assert_eq!(
        plan.roles().into_iter().collect::<Vec<_>>(),
        roles(&["control-plane", "registry", "worker"])
    );
}

#[test]
fn builtin_audiences_roles_and_flags() {
    let plan = Plan::builtin();
    let find = |proto: Protocol, port: &str, component: &str| {
        plan.entries
            .iter()
            .find(|e| e.protocol == proto && e.port.to_string() == port && e.component == component)
            .unwrap_or_else(|| panic!("no entry {port}/{proto} {component}"))
    };
    let summary = |e: &PlanEntry| {
        (
            e.roles.join(","),
            e.audience,
            e.legacy,
            e.when.as_ref().map(|c| c.to_string()),
        )
    };
    let t = Protocol::Tcp;
    let cp = "control-plane".to_string();
    let both = "control-plane,worker".to_string();
    assert_eq!(
        summary(find(t, "6443", "kube-apiserver")),
        (cp.clone(), Audience::All, false, None)
    );
    assert_eq!(
        summary(find(t, "2379-2380", "etcd")),
        (cp.clone(), Audience::ControlPlane, false, None)
    );
    assert_eq!(
        summary(find(t, "10251", "kube-scheduler")),
        (cp.clone(), Audience::SelfOnly, true, None)
    );
    assert_eq!(
        summary(find(t, "10252", "kube-controller-manager")),
        (cp.clone(), Audience::SelfOnly, true, None)
    );
    assert_eq!(
        summary(find(t, "10259", "kube-scheduler")),
        (cp.clone(), Audience::SelfOnly, false, None)
    );
    assert_eq!(
        summary(find(t, "10257", "kube-controller-manager")),
        (cp.clone(), Audience::SelfOnly, false, None)
    );
    assert_eq!(
        summary(find(t, "10256", "kube-proxy")),
        (both.clone(), Audience::All, false, None)
    );
    assert_eq!(
        summary(find(t, "18443", "ingress-controller")),
        (
            "worker".to_string(),
            Audience::SelfOnly,
            false,
            Some("addon=ingress".to_string())
        )
    );
    assert_eq!(
        summary(find(Protocol::Udp, "8285", "flannel")),
        (
            both.clone(),
            Audience::Peers,
            false,
            Some("cni=flannel,flannel_backend=udp".to_string())
        )
    );
    assert_eq!(
        summary(find(t, "2112", "kube-vip")),
        (cp, Audience::All, false, Some("lb=kube-vip".to_string()))
    );
    assert_eq!(
        summary(find(t, "32379", "redis")),
        (both, Audience::All, false, Some("addon=redis".to_string()))
    );
    let np = find(t, "30000-32767", "NodePort Services");
    assert!(np.nodeport_range);
    // Both kubelet rows of the table: healthz on loopback, API for the control plane.
    for role in ["control-plane", "worker"] {
        let kubelet: Vec<(String, Audience)> = plan
            .entries
            .iter()
            .filter(|e| e.component == "kubelet" && e.has_role(role))
            .map(|e| (e.port.to_string(), e.audience))
            .collect();
        assert_eq!(
            kubelet,
            vec![
                ("10248".to_string(), Audience::SelfOnly),
                ("10250".to_string(), Audience::ControlPlane)
            ]
        );
    }
}

#[test]
fn effective_defaults_flannel_vxlan() {
    let eff = Plan::builtin().effective(&ClusterOptions::default());
    assert_eq!(
        eff.ports_for_roles(&roles(&["worker"])),
        (with_nodeports(&[10248, 10250, 10256]), vec![8472])
    );
    assert_eq!(
        eff.ports_for_roles(&roles(&["control-plane"])),
        (
            with_nodeports(&[2379, 2380, 6443, 10248, 10250, 10251, 10252, 10256, 10257, 10259]),
            vec![8472]
        )
    );
    assert_eq!(
        eff.ports_for_roles(&roles(&["registry"])),
        (vec![443, 38088], vec![123])
    );
    // A node that is both gets the union, once.
    let (tcp, udp) = eff.ports_for_roles(&roles(&["registry", "worker"]));
    assert_eq!(tcp, with_nodeports(&[443, 10248, 10250, 10256, 38088]));
    assert_eq!(udp, vec![123, 8472]);
    assert_eq!(eff.ports_for_roles(&roles(&["gpu"])), (vec![], vec![]));
    // 8472 is flannel's here, not cilium's.
    let owners: Vec<&str> = eff
        .entries_for_port(Protocol::Udp, 8472, &roles(&["worker"]))
        .map(|e| e.component.as_str())
        .collect();
    assert_eq!(owners, vec!["flannel"]);
}

#[test]
fn effective_flannel_udp_backend() {
    let opts: ClusterOptions = "cni=flannel,flannel-backend=udp".parse().unwrap();
    let eff = Plan::builtin().effective(&opts);
    assert_eq!(
        eff.ports_for_roles(&roles(&["worker"])),
        (with_nodeports(&[10248, 10250, 10256]), vec![8285])
    );
}

#[test]
fn effective_calico_with_kube_vip() {
    let opts: ClusterOptions = "cni=calico,lb=kube-vip".parse().unwrap();
    let eff = Plan::builtin().effective(&opts);
    assert_eq!(
        eff.ports_for_roles(&roles(&["worker"])),
        (with_nodeports(&[179, 5473, 10248, 10250, 10256]), vec![])
    );
    assert_eq!(
        eff.ports_for_roles(&roles(&["control-plane"])),
        (
            with_nodeports(&[
                179, 2112, 2379, 2380, 5473, 6443, 10248, 10250, 10251, 10252, 10256, 10257, 10259
            ]),
            vec![]
        )
    );
}

#[test]
fn effective_cilium_with_every_addon() {
    let opts: ClusterOptions = "cni=cilium,addons=ingress,kuboard,grafana,redis"
        .parse()
        .unwrap();
    let eff = Plan::builtin().effective(&opts);
    let cilium = [
        4240, 4244, 6060, 9234, 9879, 9890, 9891, 9962, 9963, 9965, 43215,
    ];
    let mut worker: Vec<u16> = vec![80, 443, 10248, 10250, 10254, 10256, 18443];
    worker.extend(cilium);
    assert_eq!(
        eff.ports_for_roles(&roles(&["worker"])),
        (with_nodeports(&worker), vec![8472])
    );
    let mut cp: Vec<u16> = vec![
        2379, 2380, 6443, 10248, 10250, 10251, 10252, 10256, 10257, 10259,
    ];
    cp.extend(cilium);
    assert_eq!(
        eff.ports_for_roles(&roles(&["control-plane"])),
        (with_nodeports(&cp), vec![8472])
    );
    // The add-on NodePorts answer on the control plane too.
    let on_cp: Vec<&str> = eff
        .entries_for_port(Protocol::Tcp, 32766, &roles(&["control-plane"]))
        .map(|e| e.component.as_str())
        .collect();
    assert_eq!(on_cp, vec!["NodePort Services", "kuboard"]);
    let owners: Vec<&str> = eff
        .entries_for_port(Protocol::Udp, 8472, &roles(&["worker"]))
        .map(|e| e.component.as_str())
        .collect();
    assert_eq!(owners, vec!["cilium-agent"]);
}

#[test]
fn effective_entries_are_sorted_by_protocol_and_port() {
    let eff = Plan::builtin().effective(&ClusterOptions::default());
    let order: Vec<String> = eff
        .entries
        .iter()
        .map(|e| format!("{}/{} {}", e.port, e.protocol, e.roles.join(",")))
        .collect();
    let expected = [
        "443/tcp registry",
        "2379-2380/tcp control-plane",
        "6443/tcp control-plane",
        "10248/tcp control-plane",
        "10248/tcp worker",
        "10250/tcp control-plane",
        "10250/tcp worker",
        "10251/tcp control-plane",
        "10252/tcp control-plane",
        "10256/tcp control-plane,worker",
        "10257/tcp control-plane",
        "10259/tcp control-plane",
        "30000-32767/tcp control-plane,worker",
        "38088/tcp registry",
        "123/udp registry",
        "8472/udp control-plane,worker",
    ];
    assert_eq!(order, expected);
}

const USER_PLAN: &str = "\
nodeport_range: 30000-30999
entries:
  # override: the kubelet API is scraped from every node here
  - protocol: tcp
    port: 10250
    roles: [worker]
    component: kubelet
    audience: all
    purpose: kubelet API, scraped by metrics agents on every node
  # extend: a new port and a new role
  - protocol: tcp
    port: 9100
    roles: [worker, monitoring]
    component: node-exporter
    audience: all
    purpose: Prometheus node exporter
  - protocol: udp
    port: nodeport
    roles: [master, worker]
    component: UDP NodePorts
    audience: all
    purpose: UDP NodePort Services
";

#[test]
fn user_plan_overrides_and_extends() {
    let user = Plan::from_str(USER_PLAN, "user.yaml").unwrap();
    // `master` is read as control-plane; `port: nodeport` follows the range.
    assert_eq!(user.entries[2].roles, roles(&["control-plane", "worker"]));
    assert_eq!(
        user.entries[2].port,
        PortRange {
            start: 30000,
            end: 30999
        }
    );
    let merged = Plan::builtin().merge_user(user);
    assert_eq!(
        merged.nodeport_range,
        PortRange {
            start: 30000,
            end: 30999
        }
    );
    assert_eq!(
        merged.roles().into_iter().collect::<Vec<_>>(),
        roles(&["control-plane", "monitoring", "registry", "worker"])
    );
    let eff = merged.effective(&ClusterOptions::default());
    let range: Vec<u16> = (30000..=30999).collect();
    let mut worker_tcp = vec![9100, 10248, 10250, 10256];
    worker_tcp.extend(&range);
    let mut worker_udp = vec![8472];
    worker_udp.extend(&range);
    assert_eq!(
        eff.ports_for_roles(&roles(&["worker"])),
        (worker_tcp, worker_udp.clone())
    );
    let mut cp_tcp = vec![
        2379, 2380, 6443, 10248, 10250, 10251, 10252, 10256, 10257, 10259,
    ];
    cp_tcp.extend(&range);
    assert_eq!(
        eff.ports_for_roles(&roles(&["control-plane"])),
        (cp_tcp, worker_udp)
    );
    assert_eq!(
        eff.ports_for_roles(&roles(&["monitoring"])),
        (vec![9100], vec![])
    );
    // The worker's 10250 is the user's entry now; the control plane's is not.
    let kubelet = |role: &str| -> Vec<(Audience, String)> {
        eff.entries_for_port(Protocol::Tcp, 10250, &roles(&[role]))
            .map(|e| (e.audience, e.purpose.clone()))
            .collect()
    };
    assert_eq!(
        kubelet("worker"),
        vec![(
            Audience::All,
            "kubelet API, scraped by metrics agents on every node".to_string()
        )]
    );
    assert_eq!(
        kubelet("control-plane"),
        vec![(
            Audience::ControlPlane,
            "kubelet API (Controlplane)".to_string()
        )]
    );
    // The built-in worker-only 10250 entry lost its only role and is gone.
    assert_eq!(
        merged
            .entries
            .iter()
            .filter(|e| e.port.start == 10250)
            .map(|e| (e.roles.join(","), e.audience))
            .collect::<Vec<_>>(),
        vec![
            ("control-plane".to_string(), Audience::ControlPlane),
            ("worker".to_string(), Audience::All)
        ]
    );
}

#[test]
fn user_plan_without_range_keeps_the_base_range() {
    let base = Plan::from_str(
        "nodeport_range: 31000-31002\nentries:\n  - {protocol: tcp, port: nodeport, roles: [worker], component: np, audience: all, purpose: p}\n",
        "base.yaml",
    )
    .unwrap();
    let user = Plan::from_str(
        "entries:\n  - {protocol: tcp, port: 22, roles: [worker], component: sshd, audience: all, purpose: ssh}\n",
        "user.yaml",
    )
    .unwrap();
    assert_eq!(user.nodeport_range, DEFAULT_NODEPORT_RANGE);
    let eff = base.merge_user(user).effective(&ClusterOptions::default());
    assert_eq!(
        eff.nodeport_range,
        PortRange {
            start: 31000,
            end: 31002
        }
    );
    assert_eq!(
        eff.ports_for_roles(&roles(&["worker"])),
        (vec![22, 31000, 31001, 31002], vec![])
    );
}

#[test]
fn user_entry_with_every_role_replaces_the_builtin_entry() {
    let user = Plan::from_str(
        "entries:\n  - protocol: tcp\n    port: 10256\n    roles: [worker, control-plane]\n    component: kube-proxy\n    audience: self\n    purpose: healthz bound to 127.0.0.1 here\n",
        "user.yaml",
    )
    .unwrap();
    let merged = Plan::builtin().merge_user(user);
    let e: Vec<(String, Audience)> = merged
        .entries
        .iter()
        .filter(|e| e.port.start == 10256)
        .map(|e| (e.roles.join(","), e.audience))
        .collect();
    assert_eq!(
        e,
        vec![("worker,control-plane".to_string(), Audience::SelfOnly)]
    );
}

fn entry_with(field: &str, value: &str) -> String {
    let mut fields = [
        ("protocol", "tcp"),
        ("port", "9100"),
        ("roles", "[worker]"),
        ("component", "node-exporter"),
        ("audience", "all"),
        ("purpose", "metrics"),
    ];
    for f in fields.iter_mut() {
        if f.0 == field {
            f.1 = value;
        }
    }
    let mut s = String::from("entries:\n");
    for (i, (k, v)) in fields.iter().enumerate() {
        s.push_str(if i == 0 { "  - " } else { "    " });
        s.push_str(&format!("{k}: {v}\n"));
    }
    s
}

#[test]
fn malformed_plans_name_file_line_and_field() {
    assert_eq!(
        err(&entry_with("audience", "everyone")),
        "user.yaml:6:15: entries[0].audience: unknown variant `everyone`, expected one of `all`, `control-plane`, `self`, `peers`"
    );
    assert_eq!(
        err(&entry_with("port", "0")),
        "user.yaml:3:11: entries[0].port: port 0 is out of range (1-65535)"
    );
    assert_eq!(
        err(&entry_with("port", "70000")),
        "user.yaml:3:11: entries[0].port: port 70000 is out of range (1-65535)"
    );
    assert_eq!(
        err(&entry_with("port", "2380-2379")),
        "user.yaml:3:11: entries[0].port: range 2380-2379 has start > end"
    );
    assert_eq!(
        err(&entry_with("port", "ssh")),
        "user.yaml:3:11: entries[0].port: \"ssh\" is not a port or a port range (e.g. 6443 or 2379-2380)"
    );
    assert_eq!(
        err(&entry_with("protocol", "sctp")),
        "user.yaml:2:15: entries[0].protocol: unknown protocol \"sctp\" (expected tcp or udp)"
    );
    assert_eq!(
        err(&entry_with("roles", "[]")),
        "user.yaml:4:12: entries[0].roles: roles must not be empty"
    );
    assert_eq!(
        err(&entry_with("roles", "[\"worker node\"]")),
        "user.yaml:4:12: entries[0].roles: role \"worker node\" may only contain letters, digits, '-', '_' and '.'"
    );
    assert_eq!(
        err(&entry_with("component", "\"\"")),
        "user.yaml:5:16: entries[0].component: must not be empty"
    );
    assert_eq!(
        err(&entry_with("purpose", "metrics\n    audiance: all")),
        "user.yaml:8:5: entries[0]: unknown field `audiance`, expected one of `protocol`, `port`, `roles`, `component`, `audience`, `purpose`, `legacy`, `when`"
    );
    assert_eq!(
        err("entries:\n  - protocol: tcp\n    port: 22\n"),
        "user.yaml:2:5: entries[0]: missing field `roles`"
    );
    assert_eq!(
        err(&entry_with("purpose", "metrics\n    when: {cni: calico, flannel_backend: udp}")),
        "user.yaml:8:11: entries[0].when: flannel_backend can only hold with cni: flannel, not cni: calico"
    );
    assert_eq!(
        err(&entry_with("purpose", "metrics\n    when: {addon: prometheus}")),
        "user.yaml:8:19: entries[0].when.addon: unknown variant `prometheus`, expected one of `ingress`, `kuboard`, `grafana`, `redis`"
    );
    assert_eq!(
        err("version: 2\nentries: []\n"),
        "user.yaml:1:10: version: plan format version 2 is not supported (this portsweep reads version 1)"
    );
    assert_eq!(
        err("nodeport_range: nodeport\n"),
        "user.yaml:1:17: nodeport_range: \"nodeport\" is not a port or a port range (e.g. 6443 or 2379-2380)"
    );
    assert_eq!(
        err("entrys: []\n"),
        "user.yaml:1:1: unknown field `entrys`, expected one of `version`, `nodeport_range`, `entries`, `udp_payloads`"
    );
}

#[test]
fn broken_yaml_names_the_line() {
    assert_eq!(
        err("entries:\n  - protocol: tcp\n    port: 9100: 22\n"),
        "user.yaml:3:15: mapping values are not allowed in this context"
    );
    assert_eq!(
        err("entries:\n  - protocol: \"tcp\n"),
        "user.yaml:3:1: found unexpected end of stream, while scanning a quoted scalar at line 2 column 15"
    );
    assert_eq!(
        err("entries:\n  - protocol: tcp\n\tport: 9100\n"),
        "user.yaml:3:1: found a tab character that violates indentation, while scanning a plain scalar at line 2 column 15"
    );
}

#[test]
fn duplicate_entries_name_the_later_entry() {
    let text = "\
entries:
  - protocol: tcp
    port: 443
    roles: [worker]
    component: ingress
    audience: all
    purpose: https

  # the same port again, for another and the same role
  - protocol: tcp
    port: 443
    roles: [registry, worker]
    component: harbor
    audience: all
    purpose: harbor
";
    assert_eq!(
        err(text),
        "user.yaml:10: entries[1]: 443/tcp for role worker is already planned by entries[0]"
    );
    // Same port and role under exclusive conditions is fine (flannel and
    // cilium both use 8472/udp in the built-in plan).
    let ok = "\
entries:
  - {protocol: udp, port: 8472, roles: [worker], component: a, audience: peers, purpose: x, when: {cni: flannel}}
  - {protocol: udp, port: 8472, roles: [worker], component: b, audience: peers, purpose: x, when: {cni: cilium}}
";
    assert_eq!(Plan::from_str(ok, "ok.yaml").unwrap().entries.len(), 2);
}

#[test]
fn missing_plan_file_is_an_io_error() {
    let e = Plan::from_file("/nonexistent/portsweep/plan.yaml").unwrap_err();
    assert!(matches!(e, PlanError::Io { .. }));
    assert_eq!(
        e.to_string(),
        "cannot read plan file /nonexistent/portsweep/plan.yaml: No such file or directory (os error 2)"
    );
}

#[test]
fn plan_file_round_trip_through_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("user.yaml");
    std::fs::write(&path, USER_PLAN).unwrap();
    let from_file = Plan::from_file(&path).unwrap();
    assert_eq!(from_file, Plan::from_str(USER_PLAN, "user.yaml").unwrap());
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, entry_with("port", "0")).unwrap();
    assert_eq!(
        Plan::from_file(&bad).unwrap_err().to_string(),
        format!(
            "{}:3:11: entries[0].port: port 0 is out of range (1-65535)",
            bad.display()
        )
    );
}

const SMALL_PLAN: &str = "\
entries:
  - {protocol: udp, port: 8472, roles: [control-plane, worker], component: flannel, audience: peers, purpose: 收发封装数据包 tunnel}
  - {protocol: tcp, port: 10251, roles: [control-plane], component: kube-scheduler, audience: self, legacy: true, purpose: old port}
  - {protocol: tcp, port: 2379-2380, roles: [control-plane], component: etcd, audience: control-plane, purpose: etcd}
  - {protocol: tcp, port: 80, roles: [worker], component: ingress, audience: all, purpose: http, when: {addon: ingress}}
";

#[test]
fn table_is_aligned() {
    let eff = Plan::from_str(SMALL_PLAN, "small.yaml")
        .unwrap()
        .effective(&ClusterOptions::default());
    let expected = "\
PROTO  PORT       ROLES                 COMPONENT       AUDIENCE       LEGACY  PURPOSE
tcp    2379-2380  control-plane         etcd            control-plane          etcd
tcp    10251      control-plane         kube-scheduler  self           legacy  old port
udp    8472       control-plane,worker  flannel         peers                  收发封装数据包 tunnel
";
    assert_eq!(eff.to_table(), expected);
    assert_eq!(display_width("收发 x"), 6);
}

#[test]
fn serializes_to_json_and_yaml() {
    let opts: ClusterOptions = "addons=ingress".parse().unwrap();
    let eff = Plan::from_str(SMALL_PLAN, "small.yaml")
        .unwrap()
        .effective(&opts);
    let json = serde_json::to_string(&eff.entries[2..4]).unwrap();
    assert_eq!(
        json,
        r#"[{"protocol":"tcp","port":10251,"roles":["control-plane"],"component":"kube-scheduler","audience":"self","purpose":"old port","legacy":true},{"protocol":"udp","port":8472,"roles":["control-plane","worker"],"component":"flannel","audience":"peers","purpose":"收发封装数据包 tunnel"}]"#
    );
    let yaml = serde_yaml_ng::to_string(&eff.entries[..2]).unwrap();
    assert_eq!(
        yaml,
        "\
- protocol: tcp
  port: 80
  roles:
  - worker
  component: ingress
  audience: all
  purpose: http
  when:
    addon: ingress
- protocol: tcp
  port: 2379-2380
  roles:
  - control-plane
  component: etcd
  audience: control-plane
  purpose: etcd
"
    );
    let head = serde_json::to_string(&(&eff.options, &eff.nodeport_range)).unwrap();
    assert_eq!(
        head,
        r#"[{"cni":"flannel","flannel_backend":"vxlan","lb":"none","addons":["ingress"]},"30000-32767"]"#
    );
}

#[test]
fn port_range_parsing() {
    assert_eq!(
        "2379-2380".parse(),
        Ok(PortRange {
            start: 2379,
            end: 2380
        })
    );
    assert_eq!(
        " 6443 ".parse(),
        Ok(PortRange {
            start: 6443,
            end: 6443
        })
    );
    assert_eq!("1-65535".parse::<PortRange>().map(|r| r.len()), Ok(65535));
    assert_eq!("0".parse::<PortRange>(), Err(PortRangeError::OutOfRange(0)));
    assert_eq!(
        "65536".parse::<PortRange>(),
        Err(PortRangeError::OutOfRange(65536))
    );
    assert_eq!(
        "99999999999999999999".parse::<PortRange>(),
        Err(PortRangeError::OutOfRange(i64::MAX))
    );
    assert_eq!(
        "10-9".parse::<PortRange>(),
        Err(PortRangeError::Reversed { start: 10, end: 9 })
    );
    assert_eq!(
        "-5".parse::<PortRange>(),
        Err(PortRangeError::Syntax("-5".to_string()))
    );
    assert_eq!(
        "1-2-3".parse::<PortRange>(),
        Err(PortRangeError::Syntax("1-2-3".to_string()))
    );
    let r = PortRange::new(8, 10).unwrap();
    assert!(r.contains(8) && r.contains(10) && !r.contains(11) && !r.contains(7));
    assert_eq!(r.ports().collect::<Vec<_>>(), vec![8, 9, 10]);
    assert_eq!(r.to_string(), "8-10");
}

#[test]
fn protocol_text_forms() {
    assert_eq!(Protocol::Tcp.to_string(), "tcp");
    assert_eq!("UDP".parse::<Protocol>(), Ok(Protocol::Udp));
    assert_eq!(
        "sctp".parse::<Protocol>(),
        Err("unknown protocol \"sctp\" (expected tcp or udp)".to_string())
    );
    // The seed table writes TCP in capitals; plan files may too.
    let p = Plan::from_str(&entry_with("protocol", "TCP"), "x.yaml").unwrap();
    assert_eq!(p.entries[0].protocol, Protocol::Tcp);
}

#[test]
fn user_plans_extend_the_udp_payload_table() {
    let user = Plan::from_str("udp_payloads:\n  9999: \"de ad be ef\"\n", "user.yaml").unwrap();
    let plan = Plan::builtin().merge_user(user).effective(&ClusterOptions::default());
    assert_eq!(plan.udp_payloads.get(&9999), Some(&vec![0xDE, 0xAD, 0xBE, 0xEF]));
    let err = Plan::from_str("udp_payloads:\n  9999: \"xyz\"\n", "user.yaml").unwrap_err().to_string();
    assert_eq!(err, "user.yaml:2: udp_payloads.9999: odd number of hex digits");
}
