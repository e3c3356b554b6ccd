//! Inventory tests on inline inputs: expansion, merging, and every error
//! with its line. Fixture files are read by tests/plan_inventory.rs.

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn summary(inv: &Inventory) -> Vec<String> {
    inv.nodes
        .iter()
        .map(|n| format!("{} {} {}", n.address, n.name, n.roles.join(",")))
        .collect()
}

/// The addresses of an address, CIDR or range.
fn expand_addresses(spec: &str) -> Result<Vec<IpAddr>, String> {
    match parse_host_spec(spec)? {
        HostSpec::Addresses(a) => Ok(a),
        HostSpec::Name(n) => Err(format!("{n} is a name")),
    }
}

fn err(text: &str, source: &str, format: InventoryFormat) -> String {
    Inventory::parse(text, source, format)
        .unwrap_err()
        .to_string()
}

#[test]
fn cidr_and_range_expansion() {
    assert_eq!(
        expand_addresses("198.19.0.8/30").unwrap(),
        vec![
            ip("198.19.0.8"),
            ip("198.19.0.9"),
            ip("198.19.0.10"),
            ip("198.19.0.11")
        ]
    );
    // Host bits are ignored: the whole network is expanded.
    assert_eq!(
        expand_addresses("10.0.0.5/31").unwrap(),
        vec![ip("10.0.0.4"), ip("10.0.0.5")]
    );
    assert_eq!(
        expand_addresses(" 10.0.0.5/32 ").unwrap(),
        vec![ip("10.0.0.5")]
    );
    assert_eq!(expand_addresses("10.0.0.5").unwrap(), vec![ip("10.0.0.5")]);
    assert_eq!(expand_addresses("10.1.0.0/16").unwrap().len(), 65536);
    assert_eq!(
        expand_addresses("10.0.0.254-10.0.1.1").unwrap(),
        vec![
            ip("10.0.0.254"),
            ip("10.0.0.255"),
            ip("10.0.1.0"),
            ip("10.0.1.1")
        ]
    );
    assert_eq!(
        expand_addresses("10.0.0.1-3").unwrap(),
        vec![ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")]
    );
    assert_eq!(
        expand_addresses("10.0.0.0/15").unwrap_err(),
        "CIDR 10.0.0.0/15 has 131072 addresses; more than a /16 (65536) is refused"
    );
    assert_eq!(
        expand_addresses("0.0.0.0/0").unwrap_err(),
        "CIDR 0.0.0.0/0 has 4294967296 addresses; more than a /16 (65536) is refused"
    );
    assert_eq!(
        expand_addresses("10.0.0.0-10.1.0.0").unwrap_err(),
        "range 10.0.0.0-10.1.0.0 has 65537 addresses; more than a /16 (65536) is refused"
    );
    assert_eq!(
        expand_addresses("10.0.0.9-10.0.0.1").unwrap_err(),
        "range 10.0.0.9-10.0.0.1 ends before it starts"
    );
    assert_eq!(
        expand_addresses("10.0.0.300").unwrap_err(),
        "\"10.0.0.300\" is not an IP address, CIDR, range or host name"
    );
    // IPv6: addresses, CIDRs and ranges up to a /112.
    assert_eq!(expand_addresses("2001:2::1").unwrap(), vec![ip("2001:2::1")]);
    assert_eq!(expand_addresses("2001:2::5/126").unwrap(), vec![ip("2001:2::4"), ip("2001:2::5"), ip("2001:2::6"), ip("2001:2::7")]);
    assert_eq!(expand_addresses("2001:2::fffe-2001:2::1:1").unwrap(), vec![ip("2001:2::fffe"), ip("2001:2::ffff"), ip("2001:2::1:0"), ip("2001:2::1:1")]);
    assert_eq!(expand_addresses("2001:2::/112").unwrap().len(), 65536);
    assert_eq!(
        expand_addresses("2001:2::/111").unwrap_err(),
        "CIDR 2001:2::/111 has 131072 addresses; more than a /112 (65536) is refused"
    );
    assert_eq!(
        expand_addresses("2001:2::/129").unwrap_err(),
        "\"2001:2::/129\": the prefix length must be 0 to 128"
    );
    assert_eq!(
        expand_addresses("2001:2::1-9").unwrap_err(),
        "\"2001:2::1-9\" is not an IP address, CIDR, range or host name"
    );
    assert_eq!(parse_host_spec(" worker-3.lab.test ").unwrap(), HostSpec::Name("worker-3.lab.test".into()));
    assert_eq!(parse_host_spec("worker-3").unwrap(), HostSpec::Name("worker-3".into()));
    assert_eq!(
        expand_addresses("10.0.0.1-x").unwrap_err(),
        "\"10.0.0.1-x\" is not an IP address, CIDR, range or host name"
    );
    assert_eq!(
        expand_addresses("10.0.0.0/33").unwrap_err(),
        "\"10.0.0.0/33\": the prefix length must be 0 to 32"
    );
}

#[test]
fn nodes_are_sorted_and_merged_by_address() {
    let inv = Inventory::from_nodes(vec![
        Node::new("10.0.0.9", ip("10.0.0.9"), &["worker"]),
        Node::new("10.0.0.2", ip("10.0.0.2"), &["worker"]),
        Node::new("cp-1", ip("10.0.0.2"), &["master", "etcd-peer"]),
        Node::new("other-name", ip("10.0.0.2"), &["worker"]),
        Node::new("10.0.0.10", ip("10.0.0.10"), &["registry", "registry"]),
    ]);
    assert_eq!(
        summary(&inv),
        vec![
            "10.0.0.2 cp-1 control-plane,etcd-peer,worker",
            "10.0.0.9 10.0.0.9 worker",
            "10.0.0.10 10.0.0.10 registry",
        ]
    );
    assert_eq!(
        inv.get(ip("10.0.0.9")).map(|n| n.name.as_str()),
        Some("10.0.0.9")
    );
    assert_eq!(inv.get(ip("10.0.0.3")), None);
    assert_eq!(
        inv.roles().into_iter().collect::<Vec<_>>(),
        vec!["control-plane", "etcd-peer", "registry", "worker"]
    );
    let more = Inventory::from_nodes(vec![Node::new("w", ip("10.0.0.9"), &["gpu"])]);
    assert_eq!(summary(&inv.merge(more))[1], "10.0.0.9 w gpu,worker");
}

#[test]
fn cli_flags() {
    // String values, as clap hands them over.
    let cp = ["198.19.0.8/31".to_string()];
    let workers = [
        "198.19.0.16-17, 198.19.0.9".to_string(),
        "198.19.0.20".to_string(),
    ];
    let registry = ["198.19.0.2".to_string()];
    let inv = Inventory::from_cli(&[
        ("control-plane", &cp[..]),
        ("worker", &workers[..]),
        ("registry", &registry[..]),
    ])
    .unwrap();
    assert_eq!(
        summary(&inv),
        vec![
            "198.19.0.2 198.19.0.2 registry",
            "198.19.0.8 198.19.0.8 control-plane",
            "198.19.0.9 198.19.0.9 control-plane,worker",
            "198.19.0.16 198.19.0.16 worker",
            "198.19.0.17 198.19.0.17 worker",
            "198.19.0.20 198.19.0.20 worker",
        ]
    );
    let e = Inventory::from_cli(&[("worker", &["10.0.0.1", "10.0.0.300"][..])]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--worker 10.0.0.300: \"10.0.0.300\" is not an IP address, CIDR, range or host name"
    );
    let e = Inventory::from_cli(&[("control-plane", &["10.0.0.0/8"][..])]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "--control-plane 10.0.0.0/8: CIDR 10.0.0.0/8 has 16777216 addresses; more than a /16 (65536) is refused"
    );
    let empty: &[&str] = &[];
    assert!(Inventory::from_cli(&[("worker", empty)])
        .unwrap()
        .is_empty());
}

#[test]
fn yaml_errors_name_line_and_field() {
    let y = InventoryFormat::Yaml;
    assert_eq!(
        err(
            "roles:\n  worker:\n    - 10.0.0.1\n    - 10.0.0.300\n",
            "inv.yaml",
            y
        ),
        "inv.yaml:4:7: roles.worker[1]: \"10.0.0.300\" is not an IP address, CIDR, range or host name"
    );
    assert_eq!(
        err("roles:\n  worker: 10.0.0.0/8\n", "inv.yaml", y),
        "inv.yaml:2:11: roles.worker: CIDR 10.0.0.0/8 has 16777216 addresses; more than a /16 (65536) is refused"
    );
    assert_eq!(
        err("roles:\n  \"big node\": [10.0.0.1]\n", "inv.yaml", y),
        "inv.yaml:2:3: roles: role \"big node\" may only contain letters, digits, '-', '_' and '.'"
    );
    assert_eq!(
        err(
            "nodes:\n  - name: a\n    address: 10.0.0.0/24\n    roles: [worker]\n",
            "inv.yaml",
            y
        ),
        "inv.yaml:3:14: nodes[0].address: \"10.0.0.0/24\" is not an IP address or host name"
    );
    assert_eq!(
        err(
            "nodes:\n  - name: a\n    address: 10.0.0.1\n    roles: []\n",
            "inv.yaml",
            y
        ),
        "inv.yaml:4:12: nodes[0].roles: roles must not be empty"
    );
    assert_eq!(
        err(
            "nodes:\n  - name: a\n    address: 10.0.0.1\n",
            "inv.yaml",
            y
        ),
        "inv.yaml:2:5: nodes[0]: missing field `roles`"
    );
    assert_eq!(
        err("node:\n  - name: a\n", "inv.yaml", y),
        "inv.yaml:1:1: unknown field `node`, expected `nodes` or `roles`"
    );
    assert_eq!(
        err("roles: {}\n", "inv.yaml", y),
        "inv.yaml: no nodes: give a `nodes:` list or a `roles:` map"
    );
}

#[test]
fn toml_errors_name_the_line() {
    let t = InventoryFormat::Toml;
    assert_eq!(
        err(
            "[roles]\nworker = [\"10.0.0.1\", \"10.0.0.300\"]\n",
            "inv.toml",
            t
        ),
        "inv.toml:2: \"10.0.0.300\" is not an IP address, CIDR, range or host name"
    );
    assert_eq!(
        err(
            "[roles]\nworker = [\"10.0.0.1\"]\n\n[[nodes]]\naddress = \"10.0.0.2\"\nroles = []\n",
            "inv.toml",
            t
        ),
        "inv.toml:6: roles must not be empty"
    );
    assert_eq!(
        err("[roles]\nworker = [\"10.0.0.1\"\n", "inv.toml", t),
        "inv.toml:2: unclosed array, expected `]`"
    );
}

const ONE_NODE: &str = r#"{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "labels": {"node-role.kubernetes.io/control-plane": ""},
                "name": "cp-9"
            },
            "status": {
                "addresses": [
                    {"address": "ADDR", "type": "InternalIP"},
                    {"address": "cp-9", "type": "Hostname"}
                ]
            }
        }
    ],
    "kind": "List",
    "metadata": {"resourceVersion": ""}
}"#;

#[test]
fn kubectl_dual_stack_node_is_audited_on_each_address() {
    let text = ONE_NODE.replace(
        r#"{"address": "ADDR", "type": "InternalIP"},"#,
        r#"{"address": "2001:2::9", "type": "InternalIP"}, {"address": "198.19.0.9", "type": "InternalIP"},"#,
    );
    let inv = Inventory::parse(&text, "nodes.json", InventoryFormat::KubectlJson).unwrap();
    assert_eq!(summary(&inv), ["198.19.0.9 cp-9 control-plane", "2001:2::9 cp-9 control-plane"]);
    // An IPv6-only node is a node too (it was refused before dual-stack).
    let inv = Inventory::parse(&ONE_NODE.replace("ADDR", "2001:2:0:0::a"), "nodes.json", InventoryFormat::KubectlJson).unwrap();
    assert_eq!(summary(&inv), ["2001:2::a cp-9 control-plane"]);
}

#[test]
fn kubectl_node_errors() {
    let k = InventoryFormat::KubectlJson;
    assert_eq!(
        err(&ONE_NODE.replace("ADDR", "10.0.0.300"), "nodes.json", k),
        "nodes.json:9: node \"cp-9\": InternalIP \"10.0.0.300\" is not an IP address"
    );
    assert_eq!(
        err(
            &ONE_NODE.replace("InternalIP", "ExternalIP"),
            "nodes.json",
            k
        ),
        "nodes.json:9: node \"cp-9\": no InternalIP in status.addresses"
    );
    assert_eq!(
        err(
            &ONE_NODE.replace("\"kind\": \"Node\"", "\"kind\": \"Service\""),
            "nodes.json",
            k
        ),
        "nodes.json:9: items[0] \"cp-9\" is a Service, not a Node (Services go to --services)"
    );
    assert_eq!(
        err(
            &ONE_NODE.replace("\"name\": \"cp-9\"", "\"nam\": \"cp-9\""),
            "nodes.json",
            k
        ),
        "nodes.json:10:13: missing field `name`"
    );
    assert_eq!(
        err(
            &ONE_NODE.replace("\"kind\": \"List\"", "\"kind\": \"Pod\""),
            "nodes.json",
            k
        ),
        "nodes.json: kind \"Pod\" is not kubectl node output (expected List, NodeList or Node)"
    );
    assert_eq!(
        err(
            "{\n  \"kind\": \"List\",\n  \"items\": [\n",
            "nodes.json",
            k
        ),
        "nodes.json:4: EOF while parsing a list"
    );
    let ok = Inventory::parse(&ONE_NODE.replace("ADDR", "10.0.0.9"), "nodes.json", k).unwrap();
    assert_eq!(summary(&ok), vec!["10.0.0.9 cp-9 control-plane"]);
    assert_eq!(
        err(
            &ONE_NODE
                .replace("ADDR", "10.0.0.9")
                .replace("\"items\": [", "\"items\": [], \"x\": ["),
            "nodes.json",
            k
        ),
        "nodes.json: no nodes: the node list is empty"
    );
}

#[test]
fn kubectl_roles_from_labels() {
    let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let roles = |pairs: &[(&str, &str)]| kubectl_roles(&labels(pairs));
    assert_eq!(roles(&[]), vec!["worker"]);
    assert_eq!(roles(&[("kubernetes.io/hostname", "x")]), vec!["worker"]);
    assert_eq!(
        roles(&[("node-role.kubernetes.io/master", "")]),
        vec!["control-plane"]
    );
    assert_eq!(
        roles(&[
            ("node-role.kubernetes.io/etcd", "true"),
            ("node-role.kubernetes.io/control-plane", "true")
        ]),
        vec!["control-plane"]
    );
    assert_eq!(
        roles(&[("kubernetes.io/role", "master")]),
        vec!["control-plane"]
    );
    assert_eq!(roles(&[("kubernetes.io/role", "node")]), vec!["worker"]);
    // A custom role alone still runs kubelet and kube-proxy: also a worker.
    assert_eq!(
        roles(&[("node-role.kubernetes.io/ingress", "")]),
        vec!["ingress", "worker"]
    );
    assert_eq!(
        roles(&[
            ("node-role.kubernetes.io/ingress", ""),
            ("node-role.kubernetes.io/control-plane", "")
        ]),
        vec!["control-plane", "ingress"]
    );
}

fn kubectl_roles(labels: &BTreeMap<String, String>) -> Vec<String> {
    kubectl::node_roles(labels)
}

#[test]
fn service_errors() {
    let text = r#"{
    "apiVersion": "v1",
    "items": [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "ports": [{"nodePort": 70000, "port": 80, "protocol": "TCP"}],
                "type": "NodePort"
            }
        }
    ],
    "kind": "List"
}"#;
    assert_eq!(
        parse_services(text, "svc.json").unwrap_err().to_string(),
        "svc.json:7: service \"default/web\": nodePort 70000 is not a port number (1-65535)"
    );
    let text = text
        .replace("70000", "30080")
        .replace("\"TCP\"", "\"QUIC\"");
    assert_eq!(
        parse_services(&text, "svc.json").unwrap_err().to_string(),
        "svc.json:7: service \"default/web\": unknown protocol \"QUIC\" (expected TCP, UDP or SCTP)"
    );
    let text = text.replace("\"QUIC\"", "\"UDP\"");
    assert_eq!(
        parse_services(&text, "svc.json").unwrap(),
        vec![NodePortService {
            port: 30080,
            protocol: crate::plan::Protocol::Udp,
            namespace: "default".to_string(),
            name: "web".to_string(),
            families: Families::ALL,
        }]
    );
    // The single-object form (`kubectl get svc web -o json`).
    let single = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "x"},
        "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "nodePort": 31000}]}}"#;
    assert_eq!(
        parse_services(single, "svc.json").unwrap(),
        vec![NodePortService {
            port: 31000,
            protocol: crate::plan::Protocol::Tcp,
            namespace: "x".to_string(),
            name: "web".to_string(),
            families: Families::ALL,
        }]
    );
    // ipFamilies: the families kube-proxy opens the NodePort on.
    let families = |given: &str| {
        let text = single.replace(r#""type": "LoadBalancer","#, &format!(r#""type": "NodePort", "ipFamilies": [{given}],"#));
        parse_services(&text, "svc.json").map(|s| s[0].families).map_err(|e| e.to_string())
    };
    assert_eq!(families(r#""IPv4""#), Ok(Families { ipv4: true, ipv6: false }));
    assert_eq!(families(r#""IPv6""#), Ok(Families { ipv4: false, ipv6: true }));
    assert_eq!(families(r#""IPv6", "IPv4""#), Ok(Families::ALL));
    assert_eq!(families(r#""IPv5""#), Err("svc.json:1: service \"x/web\": unknown ipFamilies entry \"IPv5\" (expected IPv4 or IPv6)".to_string()));
}

const INI: &str = "\
[kube_control_plane]
node1 ansible_host=10.0.0.1
node2 ansible_host=10.0.0.2

[kube_node]
node3 ansible_host=10.0.0.300
";

#[test]
fn ansible_errors_name_line_and_host() {
    let a = InventoryFormat::AnsibleIni;
    assert_eq!(
        err(INI, "inventory.ini", a),
        "inventory.ini:6: host \"node3\": ansible_host \"10.0.0.300\" is not an IP address or host name"
    );
    assert_eq!(
        err(
            &INI.replace(
                "node3 ansible_host=10.0.0.300",
                "node3 ip=10.3.0.x ansible_host=10.0.0.3"
            ),
            "inventory.ini",
            a
        ),
        "inventory.ini:6: host \"node3\": ip \"10.3.0.x\" is not an IP address"
    );
    assert_eq!(
        err(&INI.replace("node3 ansible_host=10.0.0.300", "node3 ansible_host=-bad-"), "inventory.ini", a),
        "inventory.ini:6: host \"node3\": ansible_host \"-bad-\" is not an IP address or host name"
    );
    assert_eq!(
        err(&INI.replace("node3 ansible_host=10.0.0.300", "node3 ip=node3.lab.test"), "inventory.ini", a),
        "inventory.ini:6: host \"node3\": ip \"node3.lab.test\" is not an IP address"
    );
    assert_eq!(
        err(&INI.replace("[kube_node]", "[kube_node:hosts]"), "inventory.ini", a),
        "inventory.ini:5: section \"[kube_node:hosts]\": unknown suffix \":hosts\" (expected :children or :vars)"
    );
    assert_eq!(
        err(
            &INI.replace("[kube_node]", "[kube_node"),
            "inventory.ini",
            a
        ),
        "inventory.ini:5: section header \"[kube_node\" has no closing ]"
    );
    assert_eq!(
        err(
            &INI.replace("node2 ansible_host=10.0.0.2", "node2 ansible_host 10.0.0.2"),
            "inventory.ini",
            a
        ),
        "inventory.ini:3: host \"node2\": expected key=value, found \"ansible_host\""
    );
    assert_eq!(
        err(
            &INI.replace("node2 ansible_host=10.0.0.2", "node2 k8s_nodename='x"),
            "inventory.ini",
            a
        ),
        "inventory.ini:3: unterminated ' quote"
    );
    assert_eq!(
        err("[ex_lb]\n10.0.0.1\n\n[kube_node]\n# 10.0.0.2\n", "hosts", a),
        "hosts: no nodes: no host is in a Kubernetes group (kube_control_plane, kube_master, etcd, kube_node, harbor)"
    );
}

#[test]
fn ansible_groups_children_and_old_names() {
    let text = "\
; older kubeasz wrote dashes
10.0.0.99
[kube-master]
10.0.0.1
[kube-node]
10.0.0.[4:5] NODE_NAME=x
[cluster:children]
kube-master
kube-node
[harbor:children]
registry_hosts
[registry_hosts]
10.0.0.8:2222
[loop_a:children]
loop_b
[loop_b:children]
loop_a
[kube_node:children]
loop_a
[loop_b]
10.0.0.7
[cluster:vars]
ansible_host=1.2.3.4
";
    let inv = Inventory::parse(text, "hosts", InventoryFormat::AnsibleIni).unwrap();
    assert_eq!(
        summary(&inv),
        vec![
            "10.0.0.1 10.0.0.1 control-plane",
            "10.0.0.4 10.0.0.4 worker",
            "10.0.0.5 10.0.0.5 worker",
            "10.0.0.7 10.0.0.7 worker",
            "10.0.0.8 10.0.0.8 registry",
        ]
    );
}

#[test]
fn format_detection() {
    let d = |p: Option<&str>, t: &str| detect_format(p.map(Path::new), t);
    assert_eq!(d(Some("x.yml"), "[a]"), InventoryFormat::Yaml);
    assert_eq!(d(Some("x.YAML"), ""), InventoryFormat::Yaml);
    assert_eq!(d(Some("x.toml"), ""), InventoryFormat::Toml);
    assert_eq!(
        d(Some("inventory.ini"), "roles = 1"),
        InventoryFormat::AnsibleIni
    );
    assert_eq!(
        d(Some("nodes.json"), "{\"kind\": \"List\"}"),
        InventoryFormat::KubectlJson
    );
    assert_eq!(
        d(Some("nodes.json"), "{\"nodes\": []}"),
        InventoryFormat::Yaml
    );
    assert_eq!(
        d(None, "  {\"kind\": \"List\"}"),
        InventoryFormat::KubectlJson
    );
    assert_eq!(
        d(Some("hosts.multi-node"), "# x\n[etcd]\n10.0.0.1\n"),
        InventoryFormat::AnsibleIni
    );
    assert_eq!(
        d(Some("hosts"), "[roles]\nworker = []\n"),
        InventoryFormat::Toml
    );
    assert_eq!(d(Some("hosts"), "[[nodes]]\n"), InventoryFormat::Toml);
    assert_eq!(
        d(None, "roles = { worker = [\"10.0.0.1\"] }\n"),
        InventoryFormat::Toml
    );
    assert_eq!(
        d(None, "roles:\n  worker: [10.0.0.1]\n"),
        InventoryFormat::Yaml
    );
}

#[test]
fn load_reports_io_errors_with_the_path() {
    let e = Inventory::load("/nonexistent/portsweep/hosts").unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot read /nonexistent/portsweep/hosts: No such file or directory (os error 2)"
    );
}

#[test]
fn host_names_in_every_form_wait_for_resolution() {
    use crate::resolve::{resolve_with, Lookup, ResolveMode};
    let yaml = Inventory::parse(
        "nodes:\n  - {name: cp-1, address: cp-1.lab.test, roles: [control-plane]}\n  - {address: cp-2.lab.test, roles: [master]}\nroles:\n  worker: [198.19.1.1, w-2.lab.test]\n",
        "names.yaml",
        InventoryFormat::Yaml,
    )
    .unwrap();
    let toml = Inventory::parse("[roles]\nregistry = \"registry.lab.test\"\n", "names.toml", InventoryFormat::Toml).unwrap();
    let ini = Inventory::parse(
        "[kube_node]\nworker-03 ansible_host=w-3.lab.test\nw-4.lab.test k8s_nodename=worker-04\n198.19.1.1 k8s_nodename=worker-01\n",
        "hosts.ini",
        InventoryFormat::AnsibleIni,
    )
    .unwrap();
    let flags = Inventory::from_cli(&[("worker", &["w-5.lab.test,198.19.1.6"][..])]).unwrap();
    let inv = yaml.merge(toml).merge(ini).merge(flags);
    assert_eq!(summary(&inv), ["198.19.1.1 worker-01 worker", "198.19.1.6 198.19.1.6 worker"], "names are not nodes yet");
    let pending: Vec<String> = inv.unresolved.iter().map(|n| format!("{} {} {} {}", n.origin, n.host, n.name, n.roles.join(","))).collect();
    assert_eq!(
        pending,
        [
            "names.yaml cp-1.lab.test cp-1 control-plane",
            "names.yaml cp-2.lab.test cp-2.lab.test control-plane",
            "names.yaml w-2.lab.test w-2.lab.test worker",
            "names.toml registry.lab.test registry.lab.test registry",
            "hosts.ini:2 w-3.lab.test worker-03 worker",
            "hosts.ini:3 w-4.lab.test worker-04 worker",
            "--worker w-5.lab.test,198.19.1.6 w-5.lab.test w-5.lab.test worker",
        ]
    );
    assert_eq!(
        inv.clone().resolve(&crate::resolve::Resolved::default()).unwrap_err().to_string(),
        "names.yaml: host name \"cp-1.lab.test\" was not resolved"
    );
    let table: Lookup = std::sync::Arc::new(|n: &str| {
        let ips: &[&str] = match n {
            "cp-1.lab.test" => &["198.19.0.10"],
            "cp-2.lab.test" => &["198.19.0.11"],
            "w-2.lab.test" => &["198.19.1.2"],
            "registry.lab.test" => &["198.19.0.2"],
            "w-3.lab.test" => &["198.19.1.3"],
            // Two A records: two nodes of that name.
            "w-4.lab.test" => &["198.19.1.4", "198.19.1.40"],
            // Already in the inventory by address: one node, the real name wins.
            "w-5.lab.test" => &["198.19.1.6"],
            _ => &[],
        };
        Ok(ips.iter().map(|a| a.parse().unwrap()).collect())
    });
    let r = resolve_with(&inv.queries(), ResolveMode::V4, std::time::Duration::from_secs(5), table).unwrap();
    let inv = inv.resolve(&r).unwrap();
    assert!(inv.unresolved.is_empty());
    assert_eq!(
        summary(&inv),
        [
            "198.19.0.2 registry.lab.test registry",
            "198.19.0.10 cp-1 control-plane",
            "198.19.0.11 cp-2.lab.test control-plane",
            "198.19.1.1 worker-01 worker",
            "198.19.1.2 w-2.lab.test worker",
            "198.19.1.3 worker-03 worker",
            "198.19.1.4 worker-04 worker",
            "198.19.1.6 w-5.lab.test worker",
            "198.19.1.40 worker-04 worker",
        ]
    );
}

#[test]
fn node_counts_are_bounded_before_anything_is_expanded() {
    use InventoryFormat::*;
    // Two /16s in a few bytes: 131,072 nodes, refused before expansion.
    let yaml = "roles:\n  worker: [10.0.0.0/16, 10.1.0.0/16]\n";
    assert_eq!(err(yaml, "big.yaml", Yaml), "big.yaml: 131072 nodes or more; an inventory may have at most 65536");
    let toml = "[roles]\nworker = [\"10.0.0.0/16\", \"10.1.0.0/16\"]\n";
    assert_eq!(err(toml, "big.toml", Toml), "big.toml: 131072 nodes or more; an inventory may have at most 65536");
    // Exactly the limit is fine.
    assert_eq!(Inventory::parse("roles:\n  worker: 10.0.0.0/16\n", "ok.yaml", Yaml).unwrap().len(), 65536);
    // Ansible: nested ranges multiply; lines add up; both bounded.
    assert_eq!(
        err("[kube_node]\nh[0:255][0:255][0:1]\n", "hosts", AnsibleIni),
        "hosts:2: host pattern \"h[0:255][0:255][0:1]\" expands to more than 65536 hosts"
    );
    assert_eq!(
        err("[kube_node]\na[0:65535]\nb[0:1]\n", "hosts", AnsibleIni),
        "hosts:3: 65538 nodes or more; an inventory may have at most 65536"
    );
    let repeated = format!("[kube_node]\n{}", "h[0:65535] ip=10.0.0.1\n".repeat(5));
    assert_eq!(err(&repeated, "hosts", AnsibleIni), "hosts:6: more than 262144 host entries in all; an inventory may have at most 65536 nodes");
    // Flags too.
    let e = Inventory::from_cli(&[("worker", &["10.0.0.0/16", "10.1.0.0/31"][..])]).unwrap_err();
    assert_eq!(e.to_string(), "--worker 10.1.0.0/31: more than 65536 nodes in all; an inventory may have at most 65536");
}

#[test]
fn variables_of_a_pattern_line_are_kept_once_and_the_last_definition_wins() {
    let text = "[kube_node]\nn[1:3] ansible_host=10.0.0.9\n[kube_node]\nn2 ip=10.0.0.2 k8s_nodename=two\nn3 ansible_host=10.0.0.3\n";
    let inv = Inventory::parse(text, "hosts", InventoryFormat::AnsibleIni).unwrap();
    assert_eq!(summary(&inv), ["10.0.0.2 two worker", "10.0.0.3 n3 worker", "10.0.0.9 n1 worker"]);
}

#[test]
fn oversized_and_long_lined_files_are_refused_with_their_limit() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("hosts.ini");
    std::fs::write(&p, format!("[kube_node]\n10.0.0.1 x={}\n", "y".repeat(70_000))).unwrap();
    assert_eq!(Inventory::load(&p).unwrap_err().to_string(), format!("{}:2: line longer than 65536 bytes, the most a YAML, TOML or INI inventory line may be", p.display()));
    std::fs::write(&p, format!("[kube_node]\n{}", "10.0.0.1\n".repeat(500_000))).unwrap();
    assert_eq!(Inventory::load(&p).unwrap_err().to_string(), format!("{}: larger than 4 MiB, the most a YAML, TOML or INI inventory may be", p.display()));
}

#[test]
fn dual_stack_nodes_in_yaml_toml_and_ansible() {
    // A node listed once per address (one name): one node per address.
    let yaml = "nodes:\n  - name: cp-1\n    address: 198.19.0.10\n    roles: [control-plane]\n  - name: cp-1\n    address: 2001:2::10\n    roles: [control-plane]\nroles:\n  worker: [\"2001:2::20/127\"]\n";
    let inv = Inventory::parse(yaml, "inv.yaml", InventoryFormat::Yaml).unwrap();
    assert_eq!(summary(&inv), ["198.19.0.10 cp-1 control-plane", "2001:2::10 cp-1 control-plane", "2001:2::20 2001:2::20 worker", "2001:2::21 2001:2::21 worker"]);
    let toml = "[[nodes]]\nname = \"cp-1\"\naddress = \"2001:2::10\"\nroles = [\"control-plane\"]\n";
    assert_eq!(summary(&Inventory::parse(toml, "inv.toml", InventoryFormat::Toml).unwrap()), ["2001:2::10 cp-1 control-plane"]);
    let ini = "[kube_control_plane]\ncp-1 ansible_host=2001:2::10\n[kube_node]\nw-1 ip=2001:2::21\n";
    assert_eq!(summary(&Inventory::parse(ini, "hosts.ini", InventoryFormat::AnsibleIni).unwrap()), ["2001:2::10 cp-1 control-plane", "2001:2::21 w-1 worker"]);
}
