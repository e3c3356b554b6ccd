//! Plan and inventory read from the fixture files, as the CLI will: each
//! fixture to its exact node list, and the ports an audit probes per node.

use portsweep::inventory::{load_services, Inventory, NodePortService};
use portsweep::plan::{ClusterOptions, Plan, Protocol};
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/inventories")
        .join(name)
}

fn summary(inv: &Inventory) -> Vec<String> {
    inv.nodes
        .iter()
        .map(|n| format!("{} {} {}", n.address, n.name, n.roles.join(",")))
        .collect()
}

#[test]
fn role_map_yaml_and_toml() {
    let expected = vec![
        "198.19.0.2 198.19.0.2 registry",
        "198.19.0.3 edge-1 ingress,worker",
        "198.19.0.8 cp-1 control-plane",
        "198.19.0.9 198.19.0.9 control-plane",
        "198.19.0.10 198.19.0.10 control-plane",
        "198.19.0.11 198.19.0.11 control-plane",
        "198.19.0.16 198.19.0.16 worker",
        "198.19.0.17 198.19.0.17 worker",
        "198.19.0.18 198.19.0.18 worker",
        "198.19.0.19 198.19.0.19 worker",
        "198.19.1.1 198.19.1.1 worker",
        "198.19.1.2 198.19.1.2 worker",
        "198.19.1.3 198.19.1.3 worker",
    ];
    let yaml = Inventory::load(fixture("roles.yaml")).unwrap();
    assert_eq!(summary(&yaml), expected);
    let toml = Inventory::load(fixture("roles.toml")).unwrap();
    assert_eq!(toml, yaml);
}

#[test]
fn kubectl_nodes() {
    let inv = Inventory::load(fixture("kubectl-nodes.json")).unwrap();
    assert_eq!(
        summary(&inv),
        vec![
            "10.40.0.11 cp-1 control-plane",
            "10.40.0.12 cp-2 control-plane",
            "10.40.0.21 worker-1 worker",
            "10.40.0.22 worker-2 ingress,worker",
            "10.40.0.23 10.40.0.23 worker",
            // worker-2 is dual-stack: its IPv6 InternalIP is a node too.
            "fd00:40::22 worker-2 ingress,worker",
        ]
    );
}

#[test]
fn kubeasz_hosts_without_extension() {
    let inv = Inventory::load(fixture("kubeasz-hosts.multi-node")).unwrap();
    assert_eq!(
        summary(&inv),
        vec![
            "192.168.1.1 master-01 control-plane",
            "192.168.1.2 master-02 control-plane",
            "192.168.1.3 master-03 control-plane",
            "192.168.1.4 worker-01 worker",
            "192.168.1.5 worker-02 worker",
            "192.168.1.8 192.168.1.8 registry",
            "192.168.1.9 192.168.1.9 worker",
        ]
    );
}

#[test]
fn kubespray_inventories() {
    let inv = Inventory::load(fixture("kubespray-inventory.ini")).unwrap();
    assert_eq!(
        summary(&inv),
        vec![
            "10.3.0.1 node1 control-plane",
            "10.3.0.2 node2 control-plane,worker",
            "10.3.0.3 node3 control-plane,worker",
            "10.3.0.4 node4 worker",
            "10.3.0.6 node6 worker",
            // `# ip=10.3.0.5` is a comment: ansible_host is the address.
            "95.54.0.16 node5 worker",
        ]
    );
    let inv = Inventory::load(fixture("kubespray-2.27-inventory.ini")).unwrap();
    assert_eq!(
        summary(&inv),
        vec![
            "10.3.0.1 node1 control-plane",
            "10.3.0.2 node2 control-plane",
            "10.3.0.3 node3 control-plane",
            "10.3.0.4 node4 worker",
            "10.3.0.5 node5 worker",
            "172.18.8.16 node6 worker",
        ]
    );
}

#[test]
fn services_nodeports() {
    let svcs = load_services(fixture("kubectl-services.json")).unwrap();
    let got: Vec<(u16, Protocol, &str, &str)> = svcs
        .iter()
        .map(|s: &NodePortService| (s.port, s.protocol, s.namespace.as_str(), s.name.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                30080,
                Protocol::Tcp,
                "ingress-nginx",
                "ingress-nginx-controller"
            ),
            (
                30443,
                Protocol::Tcp,
                "ingress-nginx",
                "ingress-nginx-controller"
            ),
            (30514, Protocol::Tcp, "logging", "syslog"),
            (30514, Protocol::Udp, "logging", "syslog"),
            (31090, Protocol::Tcp, "monitor", "prometheus"),
            (32379, Protocol::Tcp, "redis", "redis"),
            (32765, Protocol::Tcp, "monitor", "grafana"),
            (32766, Protocol::Tcp, "kube-system", "kuboard"),
        ]
    );
}

#[test]
fn services_file_is_not_a_node_inventory() {
    let e = Inventory::load(fixture("kubectl-services.json")).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:12: items[0] \"kubernetes\" is a Service, not a Node (Services go to --services)",
            fixture("kubectl-services.json").display()
        )
    );
}

#[test]
fn ports_to_probe_per_kubeasz_node() {
    // The CNI is the one the kubeasz fixture's CLUSTER_NETWORK names
    // (calico: 179 and 5473 below); portsweep itself takes it from --cni.
    let text = std::fs::read_to_string(fixture("kubeasz-hosts.multi-node")).unwrap();
    let cni = text.lines().find_map(|l| l.strip_prefix("CLUSTER_NETWORK=")).expect("the fixture names its CNI").trim_matches('"');
    assert_eq!(cni, "calico");
    let inv = Inventory::load(fixture("kubeasz-hosts.multi-node")).unwrap();
    let plan = Plan::builtin().effective(&format!("cni={cni}").parse::<ClusterOptions>().unwrap());
    let nodeports = 30000..=32767u16;
    let expect = |extra: &[u16]| -> Vec<u16> {
        let mut v: Vec<u16> = extra.to_vec();
        v.extend(nodeports.clone());
        v.sort();
        v
    };
    type Ports = (Vec<u16>, Vec<u16>);
    let per_node: Vec<(String, Ports)> = inv
        .nodes
        .iter()
        .map(|n| (n.name.clone(), plan.ports_for_roles(&n.roles)))
        .collect();
    let cp = expect(&[
        179, 2379, 2380, 5473, 6443, 10248, 10250, 10251, 10252, 10256, 10257, 10259,
    ]);
    let worker = expect(&[179, 5473, 10248, 10250, 10256]);
    assert_eq!(
        per_node,
        vec![
            ("master-01".to_string(), (cp.clone(), vec![])),
            ("master-02".to_string(), (cp.clone(), vec![])),
            ("master-03".to_string(), (cp, vec![])),
            ("worker-01".to_string(), (worker.clone(), vec![])),
            ("worker-02".to_string(), (worker.clone(), vec![])),
            ("192.168.1.8".to_string(), (vec![443, 38088], vec![123])),
            ("192.168.1.9".to_string(), (worker, vec![])),
        ]
    );
}
