//! The inventory: which address is which node, and which roles it has.
//!
//! The audit compares each node with the plan of its roles, so it needs an
//! address → roles map. Clusters already describe themselves in several
//! shapes, and the inventory reads them as they are rather than asking for a
//! new file:
//!
//! * a YAML or TOML file: a `nodes:` list (name, address, roles) and/or a
//!   `roles:` map from role to addresses, CIDRs (`198.19.0.8/29`) and ranges
//!   (`198.19.1.1-198.19.1.9`, or `198.19.1.1-9`); each address of a CIDR or
//!   range is one node, named by its address, network and broadcast
//!   addresses included (as a scanner's target list does);
//! * CLI flag values ([`Inventory::from_cli`]): `--control-plane CIDR…`;
//! * `kubectl get nodes -o json` ([`kubectl`]);
//! * an Ansible INI inventory of kubeasz or kubespray ([`ansible`]);
//! * and, for NodePorts, `kubectl get svc -A -o json` ([`parse_services`]);
//! * the Kubernetes API itself, nodes and Services ([`kube`]).
//!
//! Nodes may be given by host name wherever an address goes (a `nodes:`
//! address, a `roles:` value, `ansible_host=`, an Ansible host named by its
//! DNS name, a flag value). Parsing does not resolve them: such a node is
//! kept in [`Inventory::unresolved`] with where it was written, the command
//! resolves every name of the run in one bounded batch
//! ([`crate::resolve`]), and [`Inventory::resolve`] turns each into one node
//! per address, named as the inventory names it, else by its host name.
//!
//! [`Inventory::load`] picks the format from the extension, else from the
//! content. Whatever the source, the result is one shape: nodes sorted by
//! address, one node per address (roles merged; a real name wins over a name
//! that is just the address), roles sorted, `master` read as `control-plane`.
//! Only IPv4 is scanned; a CIDR or range larger than a /16 (65536 addresses)
//! is refused, as it is almost surely a typo for a node list, and so is an
//! inventory of more than [`MAX_NODES`] nodes in all. Files are read under
//! the limits of [`crate::bounded`] (kubectl JSON up to its larger size, the
//! other formats as text with a longest line).
//!
//! Errors name the file, the line and what is wrong; nothing panics on input.

pub mod ansible;
mod file;
pub mod kube;
pub mod kubectl;

pub use kubectl::{load_services, parse_services, Families, NodePortService};

use crate::plan::{canonical_role, validate_role};
use crate::resolve::{is_host_name, Query, Resolved};
use serde::Serialize;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

/// Largest CIDR or range expanded into nodes: a /16.
pub const MAX_EXPANSION: u64 = 1 << 16;
/// Most nodes (and, for flags and files, addresses named) in one
/// inventory: 13 times the largest cluster Kubernetes supports.
pub const MAX_NODES: u64 = 1 << 16;

/// One node: the address the audit probes, a name for the report, roles for
/// the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub name: String,
    pub address: IpAddr,
    pub roles: Vec<String>,
}

impl Node {
    pub fn new(name: impl Into<String>, address: IpAddr, roles: &[&str]) -> Node {
        Node {
            name: name.into(),
            address,
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A node given by host name, until [`Inventory::resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedNode {
    /// The node's name in the report (the inventory's, else `host`).
    pub name: String,
    /// The host name to resolve.
    pub host: String,
    pub roles: Vec<String>,
    /// Where it was written (`inv.yaml`, `hosts.ini:7`, `--worker …`).
    pub origin: String,
}

/// The nodes of a cluster, sorted by address, one per address; and nodes
/// given by host name, not yet resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    pub nodes: Vec<Node>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unresolved: Vec<NamedNode>,
}

/// What an address field holds: addresses, or a host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostSpec {
    Addresses(Vec<IpAddr>),
    Name(String),
}

/// The formats [`Inventory::load`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InventoryFormat {
    Yaml,
    Toml,
    KubectlJson,
    AnsibleIni,
}

impl fmt::Display for InventoryFormat {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            InventoryFormat::Yaml => "YAML",
            InventoryFormat::Toml => "TOML",
            InventoryFormat::KubectlJson => "kubectl JSON",
            InventoryFormat::AnsibleIni => "Ansible INI",
        })
    }
}

/// Errors reading an inventory.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `source_name:line[:column]: message`.
    #[error("{}", located(source_name, *line, *column, message))]
    Invalid {
        source_name: String,
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    /// A bad command-line value: `--worker 10.0.0.300: ...`.
    #[error("--{role} {value}: {message}")]
    Arg {
        role: String,
        value: String,
        message: String,
    },
    /// A host name the batch did not resolve.
    #[error("{}host name {host:?} was not resolved", crate::resolve::at(origin))]
    Unresolved { origin: String, host: String },
    #[error(transparent)]
    Bounded(crate::bounded::BoundedError),
    /// The Kubernetes API could not be read ([`kube`]).
    #[error(transparent)]
    Kube(#[from] kube::KubeError),
}

/// The error for an inventory naming more than [`MAX_NODES`] addresses.
pub(crate) fn too_many_nodes(source_name: &str, line: Option<usize>, count: u64) -> InventoryError {
    InventoryError::at(
        source_name,
        line,
        format!("{count} nodes or more; an inventory may have at most {MAX_NODES}"),
    )
}

/// Maps a bounded-read error: a read failure stays an I/O error.
fn bounded_error(e: crate::bounded::BoundedError) -> InventoryError {
    match e {
        crate::bounded::BoundedError::Read { file, reason } => InventoryError::Io {
            path: file,
            source: std::io::Error::other(reason),
        },
        other => InventoryError::Bounded(other),
    }
}

fn located(source_name: &str, line: Option<usize>, column: Option<usize>, message: &str) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("{source_name}:{l}:{c}: {message}"),
        (Some(l), None) => format!("{source_name}:{l}: {message}"),
        _ => format!("{source_name}: {message}"),
    }
}

impl InventoryError {
    pub(crate) fn at(source_name: &str, line: Option<usize>, message: impl Into<String>) -> Self {
        InventoryError::Invalid {
            source_name: source_name.to_string(),
            line,
            column: None,
            message: message.into(),
        }
    }
}

/// An address, a CIDR or a range expanded into addresses, in order; or a
/// host name ([`is_host_name`]).
///
/// `a.b.c.d`, `a.b.c.d/nn` (host bits are ignored, as a scanner does), and
/// `a.b.c.d-e.f.g.h` or `a.b.c.d-h` (last octet); IPv6 the same way
/// (`2001:db8::1`, `2001:db8::/120`, `2001:db8::1-2001:db8::9`); a dash
/// after an address makes a range, so `10.0.0.1-3` is one and `worker-3` a
/// name. More than [`MAX_EXPANSION`] addresses is refused.
pub fn parse_host_spec(spec: &str) -> Result<HostSpec, String> {
    let s = spec.trim();
    let not_addr = || format!("\"{s}\" is not an IP address, CIDR, range or host name");
    let expand = |lo: IpAddr, count: u128| -> Vec<IpAddr> {
        (0..count)
            .map(|i| match lo {
                IpAddr::V4(a) => IpAddr::V4((u32::from(a) + i as u32).into()),
                IpAddr::V6(a) => IpAddr::V6((u128::from(a) + i).into()),
            })
            .collect()
    };
    let number = |a: IpAddr| match a {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    };
    if let Some((net, prefix)) = s.split_once('/') {
        let addr: IpAddr = net.trim().parse().map_err(|_| not_addr())?;
        let bits: u32 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u32 = match prefix.trim().parse() {
            Ok(p) if p <= bits => p,
            _ => return Err(format!("\"{s}\": the prefix length must be 0 to {bits}")),
        };
        let count = 1u128.checked_shl(bits - prefix).unwrap_or(u128::MAX);
        if count > MAX_EXPANSION as u128 {
            let largest = if addr.is_ipv4() { "/16" } else { "/112" };
            return Err(format!("CIDR {s} has {count} addresses; more than a {largest} (65536) is refused"));
        }
        // count <= 2^16, so the prefix is long enough for these shifts.
        let base = number(addr) & !(count - 1);
        let base = match addr {
            IpAddr::V4(_) => IpAddr::V4((base as u32).into()),
            IpAddr::V6(_) => IpAddr::V6(base.into()),
        };
        return Ok(HostSpec::Addresses(expand(base, count)));
    }
    if let Some((a, b)) = s.split_once('-').filter(|(a, _)| a.trim().parse::<IpAddr>().is_ok()) {
        let start: IpAddr = a.trim().parse().map_err(|_| not_addr())?;
        let b = b.trim();
        let end: IpAddr = match (start, b.parse::<IpAddr>()) {
            (_, Ok(end)) if end.is_ipv4() == start.is_ipv4() => end,
            (IpAddr::V4(start), Err(_)) => {
                let last: u8 = b.parse().map_err(|_| not_addr())?;
                let [o1, o2, o3, _] = start.octets();
                IpAddr::V4(std::net::Ipv4Addr::new(o1, o2, o3, last))
            }
            _ => return Err(not_addr()),
        };
        let (lo, hi) = (number(start), number(end));
        if lo > hi {
            return Err(format!("range {s} ends before it starts"));
        }
        let count = (hi - lo).saturating_add(1);
        if count > MAX_EXPANSION as u128 {
            let largest = if start.is_ipv4() { "/16" } else { "/112" };
            return Err(format!("range {s} has {count} addresses; more than a {largest} (65536) is refused"));
        }
        return Ok(HostSpec::Addresses(expand(start, count)));
    }
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok(HostSpec::Addresses(vec![a]));
    }
    if is_host_name(s) {
        return Ok(HostSpec::Name(s.to_string()));
    }
    Err(not_addr())
}

/// A node's address given as a name (`10.0.0.5`) — the default name of a node
/// when nothing better is known.
fn is_address_name(node: &Node) -> bool {
    node.name == node.address.to_string()
}

impl Inventory {
    /// Normalizes nodes: canonical, sorted, deduplicated roles; one node per
    /// address (roles merged, the first real name kept); sorted by address.
    pub fn from_nodes(nodes: impl IntoIterator<Item = Node>) -> Inventory {
        let mut by_addr: BTreeMap<IpAddr, Node> = BTreeMap::new();
        for mut node in nodes {
            match by_addr.entry(node.address) {
                Entry::Vacant(v) => {
                    node.roles = normalize_roles(node.roles);
                    v.insert(node);
                }
                Entry::Occupied(mut o) => {
                    let known = o.get_mut();
                    if is_address_name(known) && !is_address_name(&node) {
                        known.name = node.name;
                    }
                    let mut roles = std::mem::take(&mut known.roles);
                    roles.extend(node.roles);
                    known.roles = normalize_roles(roles);
                }
            }
        }
        Inventory {
            nodes: by_addr.into_values().collect(),
            unresolved: Vec::new(),
        }
    }

    /// Adds nodes given by host name (roles normalized).
    pub fn with_named(mut self, named: impl IntoIterator<Item = NamedNode>) -> Inventory {
        self.unresolved.extend(named.into_iter().map(|n| NamedNode { roles: normalize_roles(n.roles), ..n }));
        self
    }

    /// Both inventories' nodes, normalized (e.g. a file plus CLI flags).
    pub fn merge(self, other: Inventory) -> Inventory {
        Inventory::from_nodes(self.nodes.into_iter().chain(other.nodes)).with_named(self.unresolved.into_iter().chain(other.unresolved))
    }

    /// The host names to resolve, with where each was written.
    pub fn queries(&self) -> Vec<Query> {
        self.unresolved.iter().map(|n| Query::new(n.host.clone(), n.origin.clone())).collect()
    }

    /// Every node given by host name becomes one node per address of
    /// `resolved` (merged with the others by address, as any node is).
    pub fn resolve(self, resolved: &Resolved) -> Result<Inventory, InventoryError> {
        let mut nodes = self.nodes;
        for n in self.unresolved {
            let addrs = resolved.get(&n.host).ok_or_else(|| InventoryError::Unresolved { origin: n.origin.clone(), host: n.host.clone() })?;
            nodes.extend(addrs.iter().map(|&address| Node { name: n.name.clone(), address: IpAddr::V4(address), roles: n.roles.clone() }));
        }
        Ok(Inventory::from_nodes(nodes))
    }

    /// Reads an inventory file in any supported format (see
    /// [`detect_format`]). An inventory without nodes is an error: it is
    /// almost surely the wrong file, or a sample with every host commented.
    pub fn load(path: impl AsRef<Path>) -> Result<Inventory, InventoryError> {
        use crate::bounded;
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = bounded::read_text(path, bounded::KUBECTL_FILE, "kubectl JSON inventory").map_err(bounded_error)?;
        let format = detect_format(Some(path), &text);
        if format != InventoryFormat::KubectlJson {
            let what = "YAML, TOML or INI inventory";
            if text.len() as u64 > bounded::TEXT_FILE {
                return Err(InventoryError::Bounded(bounded::BoundedError::TooLarge { file: name, limit: bounded::TEXT_FILE, what }));
            }
            bounded::check_lines(&text, &name, bounded::MAX_LINE, what).map_err(InventoryError::Bounded)?;
        }
        Inventory::parse(&text, &name, format)
    }

    /// Parses inventory text of a known format; `source_name` names it in
    /// errors.
    pub fn parse(
        text: &str,
        source_name: &str,
        format: InventoryFormat,
    ) -> Result<Inventory, InventoryError> {
        match format {
            InventoryFormat::Yaml => file::from_yaml_str(text, source_name),
            InventoryFormat::Toml => file::from_toml_str(text, source_name),
            InventoryFormat::KubectlJson => kubectl::nodes_from_json(text, source_name),
            InventoryFormat::AnsibleIni => ansible::from_ini_str(text, source_name),
        }
    }

    /// Builds an inventory from CLI flag values: `(role, values)` pairs, each
    /// value an address, CIDR, range or host name, or several joined by
    /// commas (`--worker 10.0.0.1,10.0.0.2`).
    pub fn from_cli<R: AsRef<str>, S: AsRef<str>>(
        groups: &[(R, &[S])],
    ) -> Result<Inventory, InventoryError> {
        let mut nodes = Vec::new();
        let mut named = Vec::new();
        for (role, values) in groups {
            let role = role.as_ref();
            let canonical = canonical_role(role);
            for value in values.iter().map(AsRef::as_ref) {
                let arg_err = |message: String| InventoryError::Arg {
                    role: role.to_string(),
                    value: value.to_string(),
                    message,
                };
                validate_role(&canonical).map_err(arg_err)?;
                for spec in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match parse_host_spec(spec).map_err(arg_err)? {
                        HostSpec::Addresses(addrs) => nodes.extend(addrs.into_iter().map(|address| Node {
                            name: address.to_string(),
                            address,
                            roles: vec![canonical.clone()],
                        })),
                        HostSpec::Name(host) => named.push(NamedNode {
                            name: host.clone(),
                            host,
                            roles: vec![canonical.clone()],
                            origin: format!("--{role} {value}"),
                        }),
                    }
                    if (nodes.len() + named.len()) as u64 > MAX_NODES {
                        return Err(arg_err(format!("more than {MAX_NODES} nodes in all; an inventory may have at most {MAX_NODES}")));
                    }
                }
            }
        }
        Ok(Inventory::from_nodes(nodes).with_named(named))
    }

    /// Nodes, not counting those given by host name until resolved.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// No node at all, resolved or not.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty() && self.unresolved.is_empty()
    }

    /// The node at `address`.
    pub fn get(&self, address: IpAddr) -> Option<&Node> {
        self.nodes
            .binary_search_by_key(&address, |n| n.address)
            .ok()
            .map(|i| &self.nodes[i])
    }

    /// Every role some node has.
    pub fn roles(&self) -> BTreeSet<&str> {
        self.nodes
            .iter()
            .flat_map(|n| n.roles.iter().map(String::as_str))
            .collect()
    }

    pub(crate) fn non_empty(self, source_name: &str, what: &str) -> Result<Self, InventoryError> {
        if self.is_empty() {
            Err(InventoryError::at(
                source_name,
                None,
                format!("no nodes: {what}"),
            ))
        } else {
            Ok(self)
        }
    }
}

fn normalize_roles(roles: Vec<String>) -> Vec<String> {
    roles
        .iter()
        .map(|r| canonical_role(r))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Picks the format: by extension (`.yaml/.yml`, `.toml`, `.ini`, `.json`),
/// else by content. Content rules: JSON with a `"kind"` is kubectl output;
/// `[[x]]`, `[roles]` or `[nodes]` or a top-level `roles =`/`nodes =` is
/// TOML; any other `[section]` is Ansible INI (kubeasz's `hosts` has no
/// extension); the rest is YAML.
pub fn detect_format(path: Option<&Path>, text: &str) -> InventoryFormat {
    let ext = path
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let looks_kubectl = || text.trim_start().starts_with('{') && text.contains("\"kind\"");
    match ext.as_deref() {
        Some("yaml" | "yml") => return InventoryFormat::Yaml,
        Some("toml") => return InventoryFormat::Toml,
        Some("ini") => return InventoryFormat::AnsibleIni,
        Some("json") => {
            return if looks_kubectl() {
                InventoryFormat::KubectlJson
            } else {
                InventoryFormat::Yaml // JSON is YAML
            };
        }
        _ => {}
    }
    if text.trim_start().starts_with('{') {
        return if looks_kubectl() {
            InventoryFormat::KubectlJson
        } else {
            InventoryFormat::Yaml
        };
    }
    let mut saw_section = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("[[") {
            return InventoryFormat::Toml;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest.split(']').next().unwrap_or("").trim();
            if name == "roles" || name == "nodes" || name.starts_with("roles.") {
                return InventoryFormat::Toml;
            }
            saw_section = true;
        }
    }
    if saw_section {
        return InventoryFormat::AnsibleIni;
    }
    let toml_key = text.lines().any(|l| {
        ["roles", "nodes"].iter().any(|k| {
            l.strip_prefix(k)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    });
    if toml_key {
        InventoryFormat::Toml
    } else {
        InventoryFormat::Yaml
    }
}

/// An address, CIDR, range or host name; parsed inside serde so errors
/// carry the value's position.
pub(crate) struct AddrSpec(pub HostSpec);

impl FromStr for AddrSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        parse_host_spec(s).map(AddrSpec)
    }
}

#[cfg(test)]
mod tests;
