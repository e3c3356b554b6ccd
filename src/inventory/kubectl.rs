//! `kubectl get nodes -o json` and `kubectl get svc -A -o json`.
//!
//! Reading the cluster's own view avoids a hand-kept node list going stale.
//! Nodes: the name is `metadata.name`; the addresses are every
//! `InternalIP` of `status.addresses` (a dual-stack node lists one per
//! family, and is audited on each); roles come from the labels kubectl's ROLES column
//! reads, `node-role.kubernetes.io/<role>` and `kubernetes.io/role=<role>`
//! (kubeasz sets the latter). `master` and `etcd` are read as
//! `control-plane` (as the Ansible `etcd` group is), `node` as `worker`; any
//! other role is kept. A node that is neither control-plane nor worker after
//! that is also a `worker`: with no role label at all (how kubeadm leaves
//! workers), or with only custom roles (`ingress`), it still runs kubelet and
//! kube-proxy like one.
//!
//! Services: every `spec.ports[].nodePort` of Services of type NodePort or
//! LoadBalancer, TCP or UDP. SCTP NodePorts are skipped: a TCP/UDP scanner
//! cannot probe them.

use super::{too_many_nodes, Inventory, InventoryError, Node, MAX_NODES};
use crate::plan::Protocol;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))] // no `T: Default` for `items`
struct Doc<T> {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    items: Vec<T>,
}

#[derive(Deserialize)]
struct Meta {
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct KubeNode {
    #[serde(default)]
    kind: String,
    metadata: Meta,
    #[serde(default)]
    status: NodeStatus,
}

#[derive(Deserialize, Default)]
struct NodeStatus {
    #[serde(default)]
    addresses: Vec<NodeAddress>,
}

#[derive(Deserialize)]
struct NodeAddress {
    #[serde(rename = "type")]
    kind: String,
    address: String,
}

fn json_error(source_name: &str, e: &serde_json::Error) -> InventoryError {
    // serde_json appends " at line L column C"; the position goes in front.
    let msg = e.to_string();
    let msg = msg
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .unwrap_or(&msg)
        .to_string();
    InventoryError::Invalid {
        source_name: source_name.to_string(),
        line: (e.line() > 0).then_some(e.line()),
        column: (e.column() > 0).then_some(e.column()),
        message: msg,
    }
}

/// The line of `"name": "<name>"` (kubectl's pretty-printed metadata.name),
/// to place errors found after parsing.
fn name_line(text: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find("\"name\"") {
        let at = from + i;
        let rest = text[at + 6..].trim_start();
        if let Some(rest) = rest.strip_prefix(':') {
            let rest = rest.trim_start();
            if rest
                .strip_prefix('"')
                .and_then(|r| r.strip_prefix(name))
                .is_some_and(|r| r.starts_with('"'))
            {
                return Some(crate::plan::serde_util::line_of_offset(text, at));
            }
        }
        from = at + 6;
    }
    None
}

/// Role of a label, if it is a role label.
fn label_role<'a>(key: &'a str, value: &'a str) -> Option<&'a str> {
    let role = match key.strip_prefix("node-role.kubernetes.io/") {
        Some(r) => r,
        None if key == "kubernetes.io/role" => value,
        None => return None,
    };
    match role.trim() {
        "" => None,
        "master" | "control-plane" | "etcd" => Some("control-plane"),
        "node" | "worker" => Some("worker"),
        other => Some(other),
    }
}

pub(super) fn node_roles(labels: &BTreeMap<String, String>) -> Vec<String> {
    let mut roles: BTreeSet<String> = labels
        .iter()
        .filter_map(|(k, v)| label_role(k, v))
        .filter(|r| crate::plan::validate_role(r).is_ok())
        .map(str::to_string)
        .collect();
    if !roles.contains("control-plane") && !roles.contains("worker") {
        roles.insert("worker".to_string());
    }
    roles.into_iter().collect()
}

/// Every InternalIP of a node: a dual-stack node has one per family, and
/// each is audited.
fn node_addresses(node: &KubeNode) -> Result<Vec<IpAddr>, String> {
    let name = &node.metadata.name;
    let mut out = Vec::new();
    for a in node.status.addresses.iter().filter(|a| a.kind == "InternalIP").map(|a| a.address.trim()) {
        match a.parse::<IpAddr>() {
            Ok(ip) => out.push(ip),
            Err(_) => return Err(format!("node \"{name}\": InternalIP \"{a}\" is not an IP address")),
        }
    }
    if out.is_empty() {
        return Err(format!("node \"{name}\": no InternalIP in status.addresses"));
    }
    Ok(out)
}

/// The objects of kubectl JSON output: one object of kind `single`, or a
/// `List`/`<single>List` of them.
fn kubectl_items<T: serde::de::DeserializeOwned>(text: &str, source_name: &str, single: &str, what: &str) -> Result<Vec<T>, InventoryError> {
    // The kind alone: the items are skipped, not built.
    let probe: Doc<serde::de::IgnoredAny> =
        serde_json::from_str(text).map_err(|e| json_error(source_name, &e))?;
    let list = format!("{single}List");
    let kind = probe.kind.as_str();
    if kind == single {
        Ok(vec![serde_json::from_str(text).map_err(|e| json_error(source_name, &e))?])
    } else if kind == "List" || kind == list {
        let doc: Doc<T> = serde_json::from_str(text).map_err(|e| json_error(source_name, &e))?;
        Ok(doc.items)
    } else {
        Err(InventoryError::at(
            source_name,
            None,
            format!("kind \"{kind}\" is not kubectl {what} output (expected List, {list} or {single})"),
        ))
    }
}

/// Parses `kubectl get nodes -o json` (a `List`/`NodeList`) or
/// `kubectl get node NAME -o json` (one `Node`).
pub(super) fn nodes_from_json(text: &str, source_name: &str) -> Result<Inventory, InventoryError> {
    let items: Vec<KubeNode> = kubectl_items(text, source_name, "Node", "node")?;
    if items.len() as u64 > MAX_NODES {
        return Err(too_many_nodes(source_name, None, items.len() as u64));
    }
    let mut nodes = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let name = &item.metadata.name;
        if item.kind != "Node" {
            let hint = if item.kind == "Service" {
                " (Services go to --services)"
            } else {
                ""
            };
            return Err(InventoryError::at(
                source_name,
                name_line(text, name),
                format!("items[{i}] \"{name}\" is a {}, not a Node{hint}", item.kind),
            ));
        }
        let addresses = node_addresses(item)
            .map_err(|m| InventoryError::at(source_name, name_line(text, name), m))?;
        let roles = node_roles(&item.metadata.labels);
        nodes.extend(addresses.into_iter().map(|address| Node { name: name.clone(), address, roles: roles.clone() }));
    }
    Inventory::from_nodes(nodes).non_empty(source_name, "the node list is empty")
}

/// A port that kube-proxy opens on every node for a Service, on the
/// node addresses of the Service's families (kube-proxy runs one proxier
/// per family: a single-stack IPv4 Service has no NodePort on the node's
/// IPv6 address).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct NodePortService {
    pub port: u16,
    pub protocol: Protocol,
    pub namespace: String,
    pub name: String,
    pub families: Families,
}

/// The address families of a Service (`spec.ipFamilies`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Families {
    pub ipv4: bool,
    pub ipv6: bool,
}

impl Families {
    /// Both families: what a Service without `ipFamilies` (kubectl output
    /// from before 1.20) is taken to have, as it was judged before.
    pub const ALL: Families = Families { ipv4: true, ipv6: true };

    /// Whether the Service's NodePort is open on `addr`.
    pub fn serves(self, addr: std::net::IpAddr) -> bool {
        if addr.is_ipv4() { self.ipv4 } else { self.ipv6 }
    }
}

#[derive(Deserialize)]
struct KubeService {
    #[serde(default)]
    kind: String,
    metadata: Meta,
    #[serde(default)]
    spec: ServiceSpec,
}

#[derive(Deserialize, Default)]
struct ServiceSpec {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    ports: Vec<ServicePort>,
    #[serde(rename = "ipFamilies", default)]
    ip_families: Vec<String>,
}

#[derive(Deserialize)]
struct ServicePort {
    #[serde(default)]
    protocol: Option<String>,
    #[serde(rename = "nodePort", default)]
    node_port: Option<u16>,
}

/// Reads `kubectl get svc -A -o json` output from a file.
pub fn load_services(path: impl AsRef<Path>) -> Result<Vec<NodePortService>, InventoryError> {
    let path = path.as_ref();
    let text = crate::bounded::read_text(path, crate::bounded::KUBECTL_FILE, "kubectl services JSON")
        .map_err(super::bounded_error)?;
    parse_services(&text, &path.display().to_string())
}

/// Every NodePort of `kubectl get svc -A -o json` output (or of one
/// Service), sorted by port, protocol, namespace, name.
pub fn parse_services(
    text: &str,
    source_name: &str,
) -> Result<Vec<NodePortService>, InventoryError> {
    let items: Vec<KubeService> = kubectl_items(text, source_name, "Service", "service")?;
    let mut out = Vec::new();
    for (i, svc) in items.iter().enumerate() {
        let name = &svc.metadata.name;
        if svc.kind != "Service" {
            return Err(InventoryError::at(
                source_name,
                name_line(text, name),
                format!("items[{i}] \"{name}\" is a {}, not a Service", svc.kind),
            ));
        }
        if svc.spec.kind != "NodePort" && svc.spec.kind != "LoadBalancer" {
            continue;
        }
        let families = match &svc.spec.ip_families[..] {
            [] => Families::ALL,
            given => {
                let mut f = Families { ipv4: false, ipv6: false };
                for family in given {
                    match family.as_str() {
                        "IPv4" => f.ipv4 = true,
                        "IPv6" => f.ipv6 = true,
                        other => {
                            return Err(InventoryError::at(
                                source_name,
                                name_line(text, name),
                                format!("service \"{}/{name}\": unknown ipFamilies entry \"{other}\" (expected IPv4 or IPv6)", svc.metadata.namespace),
                            ))
                        }
                    }
                }
                f
            }
        };
        for p in &svc.spec.ports {
            // A LoadBalancer with allocateLoadBalancerNodePorts=false has none.
            let Some(port) = p.node_port.filter(|&n| n > 0) else {
                continue;
            };
            let protocol = match p.protocol.as_deref().unwrap_or("TCP") {
                "TCP" => Protocol::Tcp,
                "UDP" => Protocol::Udp,
                "SCTP" => continue,
                other => {
                    return Err(InventoryError::at(
                        source_name,
                        name_line(text, name),
                        format!(
                            "service \"{}/{name}\": unknown protocol \"{other}\" (expected TCP, UDP or SCTP)",
                            svc.metadata.namespace
                        ),
                    ))
                }
            };
            out.push(NodePortService {
                port,
                protocol,
                namespace: svc.metadata.namespace.clone(),
                name: name.clone(),
                families,
            });
        }
    }
    out.sort();
    Ok(out)
}
