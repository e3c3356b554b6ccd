//! The YAML and TOML inventory format: one schema, two syntaxes.
//!
//! ```yaml
//! nodes:                       # explicit nodes
//!   - {name: master-01, address: 198.19.0.8, roles: [control-plane]}
//! roles:                       # or role -> addresses, CIDRs, ranges
//!   control-plane: ["198.19.0.8/29"]
//!   worker: ["198.19.0.16/28", "198.19.1.1-198.19.1.9"]
//!   registry: "198.19.0.2"     # a single value needs no list
//! ```
//!
//! An address may be a host name instead (`address: cp-1.example.internal`,
//! `worker: [w-1.example.internal]`): the node is named by it unless `name:`
//! says otherwise, and resolved by the command (see the module above).
//!
//! Every value is checked inside serde so a bad address is reported at its
//! own line, by serde_yaml_ng (line, column, field path) or toml (span).

use super::{too_many_nodes, AddrSpec, HostSpec, Inventory, InventoryError, NamedNode, Node, MAX_NODES};
use crate::plan::serde_util::{line_of_offset, split_yaml_error, StrVisitor, Text};
use crate::plan::{canonical_role, validate_role, Roles};
use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    #[serde(default)]
    nodes: Vec<FileNode>,
    #[serde(default)]
    roles: BTreeMap<RoleName, AddrList>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileNode {
    #[serde(default)]
    name: Option<Text>,
    address: Addr,
    roles: Roles,
}

/// A single IP address (either family) or a host name (a `nodes:` entry is one node, not
/// a CIDR).
enum Addr {
    Ip(IpAddr),
    Name(String),
}

impl FromStr for Addr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(a) = s.parse() {
            return Ok(Addr::Ip(a));
        }
        if crate::resolve::is_host_name(s) {
            return Ok(Addr::Name(s.to_string()));
        }
        Err(format!("\"{s}\" is not an IP address or host name"))
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("an IP address or host name"))
    }
}

impl<'de> Deserialize<'de> for AddrSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("an IPv4 address, CIDR, range or host name"))
    }
}

/// A role name used as a map key; checked where it stands.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct RoleName(String);

impl FromStr for RoleName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let r = canonical_role(s);
        validate_role(&r)?;
        Ok(RoleName(r))
    }
}

impl<'de> Deserialize<'de> for RoleName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(StrVisitor::new("a role name"))
    }
}

/// One spec or a list of specs.
struct AddrList(Vec<HostSpec>);

struct AddrListVisitor;

impl<'de> Visitor<'de> for AddrListVisitor {
    type Value = AddrList;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an address, CIDR, range or host name, or a list of them")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<AddrList, E> {
        v.parse::<AddrSpec>()
            .map(|s| AddrList(vec![s.0]))
            .map_err(E::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AddrList, A::Error> {
        let mut out = Vec::new();
        while let Some(spec) = seq.next_element::<AddrSpec>()? {
            out.push(spec.0);
        }
        Ok(AddrList(out))
    }
}

impl<'de> Deserialize<'de> for AddrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AddrListVisitor)
    }
}

fn build(file: InventoryFile, source_name: &str) -> Result<Inventory, InventoryError> {
    let named = file.nodes.len() as u64
        + file
            .roles
            .values()
            .flat_map(|l| l.0.iter())
            .map(|spec| match spec {
                HostSpec::Addresses(a) => a.len() as u64,
                HostSpec::Name(_) => 1,
            })
            .sum::<u64>();
    if named > MAX_NODES {
        return Err(too_many_nodes(source_name, None, named));
    }
    let mut nodes = Vec::new();
    let mut named = Vec::new();
    for n in file.nodes {
        match n.address {
            Addr::Ip(address) => nodes.push(Node {
                name: n.name.map_or_else(|| address.to_string(), |t| t.0),
                address,
                roles: n.roles.0,
            }),
            Addr::Name(host) => named.push(NamedNode {
                name: n.name.map_or_else(|| host.clone(), |t| t.0),
                host,
                roles: n.roles.0,
                origin: source_name.to_string(),
            }),
        }
    }
    for (role, specs) in file.roles {
        for spec in specs.0 {
            match spec {
                HostSpec::Addresses(addrs) => nodes.extend(addrs.into_iter().map(|address| Node {
                    name: address.to_string(),
                    address,
                    roles: vec![role.0.clone()],
                })),
                HostSpec::Name(host) => named.push(NamedNode {
                    name: host.clone(),
                    host,
                    roles: vec![role.0.clone()],
                    origin: source_name.to_string(),
                }),
            }
        }
    }
    Inventory::from_nodes(nodes).with_named(named).non_empty(source_name, "give a `nodes:` list or a `roles:` map")
}

pub(super) fn from_yaml_str(text: &str, source_name: &str) -> Result<Inventory, InventoryError> {
    let file: InventoryFile = serde_yaml_ng::from_str(text).map_err(|e| {
        let p = split_yaml_error(&e);
        InventoryError::Invalid {
            source_name: source_name.to_string(),
            line: p.line,
            column: p.column,
            message: match p.field {
                Some(f) => format!("{f}: {}", p.message),
                None => p.message,
            },
        }
    })?;
    build(file, source_name)
}

pub(super) fn from_toml_str(text: &str, source_name: &str) -> Result<Inventory, InventoryError> {
    let file: InventoryFile = toml::from_str(text).map_err(|e| {
        InventoryError::at(
            source_name,
            e.span().map(|s| line_of_offset(text, s.start)),
            e.message().trim_end(),
        )
    })?;
    build(file, source_name)
}
