//! Ansible INI inventories, as kubeasz (`example/hosts.multi-node`) and
//! kubespray (`inventory/sample/inventory.ini`) write them.
//!
//! The clusters this tool audits were often installed from such a file, so
//! it is the most faithful record of who is what. Groups map to roles:
//!
//! | group                                                  | role            |
//! |--------------------------------------------------------|-----------------|
//! | `kube_control_plane`, `kube_master`, `kube_controlplane` | `control-plane` |
//! | `etcd` (etcd members sit on the control plane in the plan) | `control-plane` |
//! | `kube_node`                                            | `worker`        |
//! | `harbor`                                               | `registry`      |
//!
//! `-` and `_` are the same in group names (older releases wrote
//! `kube-master`, `kube-node`). Other groups (`ex_lb`, `chrony`,
//! `calico_rr`, `bastion`, ...) give no role; a host with no role is left
//! out. `[group:children]` sections expand (recursively); `[group:vars]` and
//! `[all:vars]` are skipped (they hold installer settings, not hosts).
//!
//! A host line is `host [key=value ...]`, values may be quoted, and `#` at
//! the start of a word begins a comment (kubespray's sample has
//! `ansible_host=95.54.0.12  # ip=10.3.0.1`). The host's address is its `ip`
//! variable (kubespray binds Kubernetes to it, it is the node's InternalIP),
//! else `ansible_host`, else `ansible_ssh_host`, else the host name itself
//! (kubeasz writes addresses there). `ansible_host`, `ansible_ssh_host` and
//! the host name may be DNS names, as Ansible connects to them: such a node
//! is resolved by the command; `ip` must be an address. The node name is kubeasz's
//! `k8s_nodename` when set, else the host name. Host patterns with a numeric
//! or letter range (`node[01:03]`, `10.0.0.[1:3]`) expand as in Ansible.

use super::{too_many_nodes, Inventory, InventoryError, NamedNode, Node, MAX_EXPANSION, MAX_NODES};
use crate::resolve::is_host_name;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;

/// Most host entries (a host named in a group, once per line that names it)
/// in one file: four per node of the largest inventory, bounding the memory
/// patterns and repeated lines can ask for.
const MAX_ENTRIES: u64 = 4 * MAX_NODES;

/// The role of an (normalized) group name.
fn group_role(group: &str) -> Option<&'static str> {
    match group {
        "kube_control_plane" | "kube_master" | "kube_controlplane" | "etcd" => {
            Some("control-plane")
        }
        "kube_node" => Some("worker"),
        "harbor" => Some("registry"),
        _ => None,
    }
}

fn normalize_group(g: &str) -> String {
    g.trim().to_ascii_lowercase().replace('-', "_")
}

#[derive(Default)]
struct Host {
    /// The lines that named this host, in file order: their variables are
    /// the host's (kept once per line, however many hosts a pattern names).
    lines: Vec<usize>,
    first_line: usize,
}

impl Host {
    /// The last definition of `key` on the host's lines, and its line.
    fn var<'a>(&self, key: &str, vars: &'a HashMap<usize, Vec<(String, String)>>) -> Option<(&'a str, usize)> {
        self.lines.iter().rev().find_map(|l| {
            vars.get(l)?
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| (v.as_str(), *l))
        })
    }
}

#[derive(Default)]
struct Group {
    hosts: Vec<String>,
    children: Vec<String>,
}

enum Section {
    Hosts(String),
    Children(String),
    Vars,
}

/// Splits a host line into words: quotes group, backslash escapes, `#` at the
/// start of a word ends the line.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            } else if c == '\\' && q == '"' {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                in_word = true;
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(format!("unterminated {q} quote"));
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// Expands Ansible host ranges: `node[01:03]` → node01 node02 node03,
/// `10.0.0.[1:3]`, `db-[a:c]`, with an optional stride `[1:9:2]`.
fn expand_pattern(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('[') else {
        return Ok(vec![pattern.to_string()]);
    };
    let bad = || format!("host pattern \"{pattern}\" has a malformed [start:end] range");
    let close = pattern[open..]
        .find(']')
        .map(|i| open + i)
        .ok_or_else(bad)?;
    let (head, inner, tail) = (
        &pattern[..open],
        &pattern[open + 1..close],
        &pattern[close + 1..],
    );
    let parts: Vec<&str> = inner.split(':').collect();
    let (a, b, step) = match parts.as_slice() {
        [a, b] => (*a, *b, 1usize),
        [a, b, s] => (
            *a,
            *b,
            s.parse::<usize>().ok().filter(|&s| s > 0).ok_or_else(bad)?,
        ),
        _ => return Err(bad()),
    };
    let mut middles = Vec::new();
    if let (Ok(x), Ok(y)) = (a.parse::<u64>(), b.parse::<u64>()) {
        if x > y {
            return Err(bad());
        }
        if (y - x) / step as u64 + 1 > MAX_EXPANSION {
            return Err(format!(
                "host pattern \"{pattern}\" expands to more than 65536 hosts"
            ));
        }
        // A leading zero means zero padding to the width of the start.
        let width = if a.len() > 1 && a.starts_with('0') {
            a.len()
        } else {
            0
        };
        let mut n = x;
        while n <= y {
            middles.push(format!("{n:0width$}"));
            n += step as u64;
        }
    } else {
        let (mut ca, mut cb) = (a.chars(), b.chars());
        match (ca.next(), ca.next(), cb.next(), cb.next()) {
            (Some(x), None, Some(y), None)
                if x.is_ascii_alphabetic() && y.is_ascii_alphabetic() && x <= y =>
            {
                middles.extend((x..=y).step_by(step).map(String::from));
            }
            _ => return Err(bad()),
        }
    }
    let tails = expand_pattern(tail)?;
    if middles.len() as u64 * tails.len() as u64 > MAX_EXPANSION {
        return Err(format!(
            "host pattern \"{pattern}\" expands to more than 65536 hosts"
        ));
    }
    let mut out = Vec::new();
    for m in &middles {
        for t in &tails {
            out.push(format!("{head}{m}{t}"));
        }
    }
    Ok(out)
}

/// `host:port` → `host` (Ansible allows an SSH port after the name).
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p))
            if !h.contains(':') && !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        _ => host,
    }
}

/// Parses an Ansible INI inventory.
pub(super) fn from_ini_str(text: &str, source_name: &str) -> Result<Inventory, InventoryError> {
    let err = |line: usize, m: String| InventoryError::at(source_name, Some(line), m);
    let mut hosts: HashMap<String, Host> = HashMap::new();
    let mut host_order: Vec<String> = Vec::new();
    let mut groups: HashMap<String, Group> = HashMap::new();
    let mut vars_of_line: HashMap<usize, Vec<(String, String)>> = HashMap::new();
    let mut entries = 0u64;
    // Hosts before any header are Ansible's `ungrouped`.
    let mut section = Section::Hosts("ungrouped".to_string());

    for (i, raw) in text.lines().enumerate() {
        let lineno = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some((inner, after)) = rest.split_once(']') else {
                return Err(err(
                    lineno,
                    format!("section header \"{line}\" has no closing ]"),
                ));
            };
            let after = after.trim();
            if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
                return Err(err(
                    lineno,
                    format!("unexpected \"{after}\" after section header"),
                ));
            }
            let (name, kind) = match inner.split_once(':') {
                None => (inner, None),
                Some((g, k)) => (g, Some(k.trim())),
            };
            let name = name.trim();
            if name.is_empty() || name.contains(char::is_whitespace) {
                return Err(err(
                    lineno,
                    format!("\"[{inner}]\" is not a valid group name"),
                ));
            }
            let group = normalize_group(name);
            section = match kind {
                None => {
                    groups.entry(group.clone()).or_default();
                    Section::Hosts(group)
                }
                Some("children") => {
                    groups.entry(group.clone()).or_default();
                    Section::Children(group)
                }
                Some("vars") => Section::Vars,
                Some(other) => {
                    return Err(err(
                        lineno,
                        format!("section \"[{inner}]\": unknown suffix \":{other}\" (expected :children or :vars)"),
                    ))
                }
            };
            continue;
        }
        match &section {
            Section::Vars => {}
            Section::Children(group) => {
                let words = split_words(line).map_err(|m| err(lineno, m))?;
                if let Some(child) = words.first() {
                    let child = normalize_group(child);
                    groups
                        .entry(group.clone())
                        .or_default()
                        .children
                        .push(child);
                }
            }
            Section::Hosts(group) => {
                let words = split_words(line).map_err(|m| err(lineno, m))?;
                let Some((pattern, vars)) = words.split_first() else {
                    continue;
                };
                let mut parsed_vars = Vec::new();
                for w in vars {
                    let Some((k, v)) = w.split_once('=') else {
                        return Err(err(
                            lineno,
                            format!("host \"{pattern}\": expected key=value, found \"{w}\""),
                        ));
                    };
                    parsed_vars.push((k.to_string(), v.to_string()));
                }
                vars_of_line.insert(lineno, parsed_vars);
                let names = expand_pattern(strip_port(pattern)).map_err(|m| err(lineno, m))?;
                entries += names.len() as u64;
                if entries > MAX_ENTRIES {
                    return Err(err(lineno, format!("more than {MAX_ENTRIES} host entries in all; an inventory may have at most {MAX_NODES} nodes")));
                }
                for name in names {
                    let host = hosts.entry(name.clone()).or_insert_with(|| {
                        host_order.push(name.clone());
                        Host {
                            first_line: lineno,
                            ..Host::default()
                        }
                    });
                    host.lines.push(lineno);
                    groups.entry(group.clone()).or_default().hosts.push(name);
                }
                if hosts.len() as u64 > MAX_NODES {
                    return Err(too_many_nodes(source_name, Some(lineno), hosts.len() as u64));
                }
            }
        }
    }

    // Roles per host, through children.
    let mut roles_of: HashMap<&str, BTreeSet<&'static str>> = HashMap::new();
    let mut group_names: Vec<&String> = groups.keys().collect();
    group_names.sort();
    for g in group_names {
        let Some(role) = group_role(g) else { continue };
        for h in members(g, &groups) {
            if let Some((name, _)) = hosts.get_key_value(h.as_str()) {
                roles_of.entry(name.as_str()).or_default().insert(role);
            }
        }
    }

    let mut nodes = Vec::new();
    let mut named = Vec::new();
    for name in &host_order {
        let Some(roles) = roles_of.get(name.as_str()) else {
            continue;
        };
        let Some(host) = hosts.get(name) else {
            continue;
        };
        let node_name = match host.var("k8s_nodename", &vars_of_line) {
            Some((n, _)) if !n.trim().is_empty() => n.trim().to_string(),
            _ => name.clone(),
        };
        let roles = roles.iter().map(|r| r.to_string()).collect();
        match host_address(name, host, &vars_of_line).map_err(|(line, m)| err(line, m))? {
            (Address::Ip(address), _) => nodes.push(Node { name: node_name, address, roles }),
            (Address::Name(dns), line) => named.push(NamedNode { name: node_name, host: dns, roles, origin: format!("{source_name}:{line}") }),
        }
    }
    Inventory::from_nodes(nodes).with_named(named).non_empty(
        source_name,
        "no host is in a Kubernetes group (kube_control_plane, kube_master, etcd, kube_node, harbor)",
    )
}

/// Every host of `group`, its children's included; cycles are cut.
fn members(group: &str, groups: &HashMap<String, Group>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut stack = vec![group.to_string()];
    while let Some(g) = stack.pop() {
        if !seen.insert(g.clone()) {
            continue;
        }
        if let Some(grp) = groups.get(&g) {
            out.extend(grp.hosts.iter().cloned());
            stack.extend(grp.children.iter().cloned());
        }
    }
    out
}

/// Where a host is: an address, or a DNS name to resolve.
enum Address {
    Ip(IpAddr),
    Name(String),
}

/// The host's address and the line that gave it.
fn host_address(name: &str, host: &Host, vars: &HashMap<usize, Vec<(String, String)>>) -> Result<(Address, usize), (usize, String)> {
    for key in ["ip", "ansible_host", "ansible_ssh_host"] {
        if let Some((value, line)) = host.var(key, vars) {
            let value = value.trim();
            if let Ok(a) = value.parse() {
                return Ok((Address::Ip(a), line));
            }
            if key != "ip" && is_host_name(value) {
                return Ok((Address::Name(value.to_string()), line));
            }
            let what = if key == "ip" { "an IP address" } else { "an IP address or host name" };
            return Err((line, format!("host \"{name}\": {key} \"{value}\" is not {what}")));
        }
    }
    if let Ok(a) = name.parse() {
        return Ok((Address::Ip(a), host.first_line));
    }
    if is_host_name(name) {
        return Ok((Address::Name(name.to_string()), host.first_line));
    }
    Err((
        host.first_line,
        format!("host \"{name}\": no IPv4 address (set ansible_host=IP or ip=IP, or name the host by its address or DNS name)"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_quotes_and_comments() {
        assert_eq!(
            split_words("node1 ansible_host=95.54.0.12  # ip=10.3.0.1").unwrap(),
            vec!["node1", "ansible_host=95.54.0.12"]
        );
        assert_eq!(
            split_words("10.0.0.1 k8s_nodename='master 01' a=\"x\\\"y\" b=c#d").unwrap(),
            vec!["10.0.0.1", "k8s_nodename=master 01", "a=x\"y", "b=c#d"]
        );
        assert_eq!(split_words("h a='x").unwrap_err(), "unterminated ' quote");
    }

    #[test]
    fn host_patterns() {
        assert_eq!(
            expand_pattern("node[01:03]").unwrap(),
            vec!["node01", "node02", "node03"]
        );
        assert_eq!(
            expand_pattern("10.0.0.[8:12:2]").unwrap(),
            vec!["10.0.0.8", "10.0.0.10", "10.0.0.12"]
        );
        assert_eq!(
            expand_pattern("db-[a:b]-[1:2]").unwrap(),
            vec!["db-a-1", "db-a-2", "db-b-1", "db-b-2"]
        );
        assert_eq!(expand_pattern("plain").unwrap(), vec!["plain"]);
        assert_eq!(
            expand_pattern("n[3:1]").unwrap_err(),
            "host pattern \"n[3:1]\" has a malformed [start:end] range"
        );
        assert_eq!(strip_port("node1:2222"), "node1");
        assert_eq!(strip_port("10.0.0.1:22"), "10.0.0.1");
        assert_eq!(strip_port("node1"), "node1");
    }
}
