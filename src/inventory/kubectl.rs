//! Node and Service objects: `kubectl get nodes -o json` and `kubectl get
//! svc -A -o json` files, and the objects [`super::kube`] lists from the API.
//!
//! Reading the cluster's own view avoids a hand-kept node list going stale.
//! Both sources are read into k8s-openapi's types and turned into nodes and
//! NodePorts by the same two functions ([`inventory_of`], [`services_of`]),
//! so a file and the API give identical inventories.
//! Nodes: the name is `metadata.name`; every `InternalIP` of
//! `status.addresses` is one node (a dual-stack node has one per family);
//! roles come from the labels kubectl's ROLES column
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
//! cannot probe them. A LoadBalancer with `externalTrafficPolicy: Local`
//! also has `spec.healthCheckNodePort`, which kube-proxy opens (TCP) on
//! every node: it is one more port, named `<service> (healthCheckNodePort)`.

use super::{too_many_nodes, Inventory, InventoryError, Node, MAX_NODES};
use crate::plan::Protocol;
use k8s_openapi::api::core::v1 as k8s;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

/// The shape every kubectl output has: a kind, and items for a list.
#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))] // no `T: Default` for `items`
struct Doc<T> {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    items: Vec<T>,
}

/// What is checked of each item before it is read as the API's type: its
/// kind (a Service among Nodes is a wrong file, said as such) and its name
/// (required, so a missing one is placed by serde_json).
#[derive(Deserialize)]
struct ItemHead {
    #[serde(default)]
    kind: String,
    metadata: HeadMeta,
}

#[derive(Deserialize)]
struct HeadMeta {
    name: String,
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
fn node_addresses(node: &k8s::Node) -> Result<Vec<IpAddr>, String> {
    let name = object_name(&node.metadata);
    let mut out = Vec::new();
    let addresses = node.status.as_ref().and_then(|s| s.addresses.as_deref()).unwrap_or_default();
    for a in addresses.iter().filter(|a| a.type_ == "InternalIP").map(|a| a.address.trim()) {
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

fn object_name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

/// The inventory of Node objects, from kubectl output or from the API:
/// one node per InternalIP, roles from the labels. `line_of` places an
/// error at the object's name when there is a file to point into.
pub(super) fn inventory_of(items: &[k8s::Node], source_name: &str, line_of: &dyn Fn(&str) -> Option<usize>) -> Result<Inventory, InventoryError> {
    if items.len() as u64 > MAX_NODES {
        return Err(too_many_nodes(source_name, None, items.len() as u64));
    }
    let mut nodes = Vec::new();
    for item in items {
        let name = object_name(&item.metadata);
        let addresses = node_addresses(item).map_err(|m| InventoryError::at(source_name, line_of(name), m))?;
        let roles = node_roles(item.metadata.labels.as_ref().unwrap_or(&BTreeMap::new()));
        nodes.extend(addresses.into_iter().map(|address| Node { name: name.to_string(), address, roles: roles.clone() }));
    }
    Inventory::from_nodes(nodes).non_empty(source_name, "the node list is empty")
}

/// The objects of kubectl JSON output: one object of kind `single`, or a
/// `List`/`<single>List` of them, each of kind `single` (`hint` follows
/// the error for an item of another kind), read as the API's own type.
fn kubectl_items<T: serde::de::DeserializeOwned>(text: &str, source_name: &str, single: &str, what: &str, hint: &dyn Fn(&str) -> &'static str) -> Result<Vec<T>, InventoryError> {
    // The kind alone: the items are skipped, not built.
    let probe: Doc<serde::de::IgnoredAny> =
        serde_json::from_str(text).map_err(|e| json_error(source_name, &e))?;
    let list = format!("{single}List");
    let kind = probe.kind.as_str();
    let heads: Vec<ItemHead> = if kind == single {
        vec![serde_json::from_str(text).map_err(|e| json_error(source_name, &e))?]
    } else if kind == "List" || kind == list {
        let doc: Doc<ItemHead> = serde_json::from_str(text).map_err(|e| json_error(source_name, &e))?;
        if doc.items.len() as u64 > MAX_NODES {
            return Err(too_many_nodes(source_name, None, doc.items.len() as u64));
        }
        doc.items
    } else {
        return Err(InventoryError::at(
            source_name,
            None,
            format!("kind \"{kind}\" is not kubectl {what} output (expected List, {list} or {single})"),
        ));
    };
    for (i, head) in heads.iter().enumerate() {
        if head.kind != single {
            let name = &head.metadata.name;
            return Err(InventoryError::at(
                source_name,
                name_line(text, name),
                format!("items[{i}] \"{name}\" is a {}, not a {single}{}", head.kind, hint(&head.kind)),
            ));
        }
    }
    if kind == single {
        Ok(vec![serde_json::from_str(text).map_err(|e| json_error(source_name, &e))?])
    } else {
        let doc: Doc<T> = serde_json::from_str(text).map_err(|e| json_error(source_name, &e))?;
        Ok(doc.items)
    }
}

/// Parses `kubectl get nodes -o json` (a `List`/`NodeList`) or
/// `kubectl get node NAME -o json` (one `Node`).
pub(super) fn nodes_from_json(text: &str, source_name: &str) -> Result<Inventory, InventoryError> {
    let hint = |kind: &str| if kind == "Service" { " (Services go to --services)" } else { "" };
    let items: Vec<k8s::Node> = kubectl_items(text, source_name, "Node", "node", &hint)?;
    inventory_of(&items, source_name, &|name| name_line(text, name))
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
    let items: Vec<k8s::Service> = kubectl_items(text, source_name, "Service", "service", &|_| "")?;
    services_of(&items, source_name, &|name| name_line(text, name))
}

/// What follows a Service's name for its `spec.healthCheckNodePort`, so
/// the finding's component says whose health check the port is.
pub const HEALTH_CHECK: &str = "(healthCheckNodePort)";

/// Every NodePort of Service objects, from kubectl output or from the API,
/// sorted by port, protocol, namespace, name. `line_of` places an error at
/// the object's name when there is a file to point into.
pub(super) fn services_of(items: &[k8s::Service], source_name: &str, line_of: &dyn Fn(&str) -> Option<usize>) -> Result<Vec<NodePortService>, InventoryError> {
    let mut out = Vec::new();
    for svc in items {
        let name = object_name(&svc.metadata);
        let namespace = svc.metadata.namespace.as_deref().unwrap_or("");
        let bad = |message: String| InventoryError::at(source_name, line_of(name), format!("service \"{namespace}/{name}\": {message}"));
        let Some(spec) = &svc.spec else { continue };
        if !matches!(spec.type_.as_deref(), Some("NodePort" | "LoadBalancer")) {
            continue;
        }
        let families = match spec.ip_families.as_deref().unwrap_or_default() {
            [] => Families::ALL,
            given => {
                let mut f = Families { ipv4: false, ipv6: false };
                for family in given {
                    match family.as_str() {
                        "IPv4" => f.ipv4 = true,
                        "IPv6" => f.ipv6 = true,
                        other => return Err(bad(format!("unknown ipFamilies entry \"{other}\" (expected IPv4 or IPv6)"))),
                    }
                }
                f
            }
        };
        // `externalTrafficPolicy: Local`: kube-proxy also serves the load
        // balancer's health check (TCP, plain HTTP) on every node, even
        // with allocateLoadBalancerNodePorts=false.
        if let Some(port) = spec.health_check_node_port.filter(|&n| n != 0) {
            let Some(port) = u16::try_from(port).ok().filter(|&n| n > 0) else {
                return Err(bad(format!("healthCheckNodePort {port} is not a port number (1-65535)")));
            };
            out.push(NodePortService {
                port,
                protocol: Protocol::Tcp,
                namespace: namespace.to_string(),
                name: format!("{name} {HEALTH_CHECK}"),
                families,
            });
        }
        for p in spec.ports.as_deref().unwrap_or_default() {
            // A LoadBalancer with allocateLoadBalancerNodePorts=false has none.
            let Some(port) = p.node_port.filter(|&n| n != 0) else {
                continue;
            };
            let Some(port) = u16::try_from(port).ok().filter(|&n| n > 0) else {
                return Err(bad(format!("nodePort {port} is not a port number (1-65535)")));
            };
            let protocol = match p.protocol.as_deref().unwrap_or("TCP") {
                "TCP" => Protocol::Tcp,
                "UDP" => Protocol::Udp,
                "SCTP" => continue,
                other => return Err(bad(format!("unknown protocol \"{other}\" (expected TCP, UDP or SCTP)"))),
            };
            out.push(NodePortService {
                port,
                protocol,
                namespace: namespace.to_string(),
                name: name.to_string(),
                families,
            });
        }
    }
    out.sort();
    Ok(out)
}
