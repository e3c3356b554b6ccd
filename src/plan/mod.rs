//! The port plan: which ports a node of each role may answer on, and who may
//! reach them.
//!
//! An audit needs two things per node: the list of ports to probe, and for an
//! answering port, whether answering is allowed from where the scanner stands.
//! The plan gives both. It is data, not code: the built-in plan is
//! `fixtures/plans/k8s.yaml` (compiled in), encoded from the kubeasz-style port
//! table in `shared/seed/k8s-ports.md`, and a user plan in the same format can
//! override or extend it ([`Plan::merge_user`]).
//!
//! Entries that only exist with some cluster setups carry a `when` condition
//! over [`ClusterOptions`]; [`Plan::effective`] keeps the entries whose
//! condition holds. Defaults ([`ClusterOptions::default`]): CNI flannel with
//! the vxlan backend (8472/udp), no in-cluster load balancer, no add-ons.
//!
//! Audiences ([`Audience`]): `all` (every node may reach it), `control-plane`
//! (reached from control-plane nodes), `self` (loopback only: answering from
//! another host is a finding), `peers` (node to node, both directions).
//!
//! The NodePort range (default 30000-32767) is part of the plan
//! (`nodeport_range`); an entry written `port: nodeport` follows it, so a user
//! plan that moves the range moves that entry too. The range's ports are part
//! of what an audit scans ([`EffectivePlan::ports_for_roles`]).
//!
//! Errors name the file, the line and the field: value checks run inside serde
//! visitors so serde_yaml_ng reports the value's own position; checks across
//! entries (duplicates) locate the entry by its index in the `entries:` list.

mod options;
pub(crate) mod serde_util;

pub use options::{
    parse_addons, Addon, ClusterOptions, Cni, Condition, FlannelBackend, LoadBalancer, OptionsError,
};

use serde::de::{self, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_util::{block_item_line, split_yaml_error, Text};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;

/// The built-in plan, compiled in.
pub const BUILTIN_PLAN_YAML: &str = include_str!("../../fixtures/plans/k8s.yaml");

/// Kubernetes' default `--service-node-port-range`.
pub const DEFAULT_NODEPORT_RANGE: PortRange = PortRange {
    start: 30000,
    end: 32767,
};

pub use crate::space::Protocol;

/// Who may reach a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Audience {
    /// Every node (and client) must be able to reach it.
    #[serde(rename = "all")]
    All,
    /// Reached from control-plane nodes (kubelet API, etcd).
    #[serde(rename = "control-plane")]
    ControlPlane,
    /// Loopback only: it must NOT answer from another host.
    #[serde(rename = "self")]
    SelfOnly,
    /// Node to node, both directions (CNI tunnels, health checks).
    #[serde(rename = "peers")]
    Peers,
}

impl Audience {
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::All => "all",
            Audience::ControlPlane => "control-plane",
            Audience::SelfOnly => "self",
            Audience::Peers => "peers",
        }
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a port or port range is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("port {0} is out of range (1-65535)")]
    OutOfRange(i64),
    #[error("range {start}-{end} has start > end")]
    Reversed { start: u16, end: u16 },
    #[error("\"{0}\" is not a port or a port range (e.g. 6443 or 2379-2380)")]
    Syntax(String),
}

/// An inclusive port range; a single port has `start == end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn new(start: u16, end: u16) -> Result<Self, PortRangeError> {
        if start == 0 {
            return Err(PortRangeError::OutOfRange(0));
        }
        if start > end {
            return Err(PortRangeError::Reversed { start, end });
        }
        Ok(PortRange { start, end })
    }

    pub fn single(port: u16) -> Result<Self, PortRangeError> {
        PortRange::new(port, port)
    }

    pub fn contains(&self, port: u16) -> bool {
        (self.start..=self.end).contains(&port)
    }

    /// Number of ports in the range (never 0).
    pub fn len(&self) -> usize {
        usize::from(self.end - self.start) + 1
    }

    /// Always false: a range has at least one port (clippy wants the pair).
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn ports(&self) -> std::ops::RangeInclusive<u16> {
        self.start..=self.end
    }

    fn from_number(n: i64) -> Result<Self, PortRangeError> {
        u16::try_from(n)
            .map_err(|_| PortRangeError::OutOfRange(n))
            .and_then(PortRange::single)
    }
}

fn parse_port(s: &str, whole: &str) -> Result<u16, PortRangeError> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortRangeError::Syntax(whole.trim().to_string()));
    }
    match t.parse::<i64>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        Ok(n) => Err(PortRangeError::OutOfRange(n)),
        // More digits than an i64 holds: clearly out of range.
        Err(_) => Err(PortRangeError::OutOfRange(i64::MAX)),
    }
}

impl FromStr for PortRange {
    type Err = PortRangeError;
    fn from_str(s: &str) -> Result<Self, PortRangeError> {
        match s.split_once('-') {
            Some((a, b)) => PortRange::new(parse_port(a, s)?, parse_port(b, s)?),
            None => PortRange::single(parse_port(s, s)?),
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// A single port serializes as a number, a range as `"start-end"`: the same
/// shapes the plan file accepts.
impl Serialize for PortRange {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.start == self.end {
            s.serialize_u16(self.start)
        } else {
            s.collect_str(self)
        }
    }
}

/// What a `port:` value may be: a port, a range, or `nodeport`.
enum PortField {
    Ports(PortRange),
    NodePortRange,
}

struct PortFieldVisitor {
    allow_nodeport: bool,
}

impl<'de> Visitor<'de> for PortFieldVisitor {
    type Value = PortField;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.allow_nodeport {
            f.write_str("a port, a range like 2379-2380, or `nodeport`")
        } else {
            f.write_str("a port range like 30000-32767")
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<PortField, E> {
        let n = i64::try_from(v).unwrap_or(i64::MAX);
        PortRange::from_number(n)
            .map(PortField::Ports)
            .map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<PortField, E> {
        PortRange::from_number(v)
            .map(PortField::Ports)
            .map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<PortField, E> {
        if self.allow_nodeport && v.trim() == "nodeport" {
            return Ok(PortField::NodePortRange);
        }
        v.parse().map(PortField::Ports).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for PortField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PortFieldVisitor {
            allow_nodeport: true,
        })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match d.deserialize_any(PortFieldVisitor {
            allow_nodeport: false,
        })? {
            PortField::Ports(r) => Ok(r),
            // Unreachable: the visitor refuses `nodeport` here.
            PortField::NodePortRange => Err(de::Error::custom("expected a port range")),
        }
    }
}

/// Maps role aliases to the names the plan uses (`master` is the old name of
/// `control-plane`), so plans and inventories agree whatever their vintage.
pub fn canonical_role(role: &str) -> String {
    let r = role.trim();
    if r.eq_ignore_ascii_case("master") || r.eq_ignore_ascii_case("control_plane") {
        "control-plane".to_string()
    } else {
        r.to_string()
    }
}

/// Checks a role name: letters, digits, `-`, `_`, `.`; not empty.
pub fn validate_role(role: &str) -> Result<(), String> {
    if role.is_empty() {
        return Err("a role name must not be empty".to_string());
    }
    if !role
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(format!(
            "role \"{role}\" may only contain letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

/// A non-empty, duplicate-free list of canonical role names.
pub(crate) struct Roles(pub(crate) Vec<String>);

struct RolesVisitor;

impl<'de> Visitor<'de> for RolesVisitor {
    type Value = Roles;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a non-empty list of role names")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Roles, A::Error> {
        let mut out: Vec<String> = Vec::new();
        while let Some(r) = seq.next_element::<String>()? {
            let r = canonical_role(&r);
            validate_role(&r).map_err(de::Error::custom)?;
            if !out.contains(&r) {
                out.push(r);
            }
        }
        if out.is_empty() {
            return Err(de::Error::custom("roles must not be empty"));
        }
        Ok(Roles(out))
    }
}

impl<'de> Deserialize<'de> for Roles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(RolesVisitor)
    }
}

/// One row of the plan: a port (or range) that nodes of `roles` may answer
/// on, and who may reach it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlanEntry {
    pub protocol: Protocol,
    pub port: PortRange,
    /// True when `port` is the plan's NodePort range (`port: nodeport`).
    #[serde(skip_serializing_if = "is_false")]
    pub nodeport_range: bool,
    pub roles: Vec<String>,
    pub component: String,
    pub audience: Audience,
    pub purpose: String,
    #[serde(skip_serializing_if = "is_false")]
    pub legacy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<Condition>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl PlanEntry {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether this entry belongs to a cluster with these options.
    pub fn applies(&self, opts: &ClusterOptions) -> bool {
        self.when.as_ref().is_none_or(|c| c.holds(opts))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    protocol: Protocol,
    port: PortField,
    roles: Roles,
    component: Text,
    audience: Audience,
    purpose: Text,
    #[serde(default)]
    legacy: bool,
    #[serde(default)]
    when: Option<Condition>,
}

/// `version: 1`; checked in a visitor so a wrong version gets its line.
struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("plan format version 1")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                if v == 1 {
                    Ok(Version)
                } else {
                    Err(E::custom(format!(
                        "plan format version {v} is not supported (this portsweep reads version 1)"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                self.visit_u64(u64::try_from(v).unwrap_or(u64::MAX))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[serde(default)]
    #[allow(dead_code)] // only validated
    version: Option<Version>,
    #[serde(default)]
    nodeport_range: Option<PortRange>,
    #[serde(default)]
    entries: Vec<RawEntry>,
    /// UDP probe payloads by port, as hex (extends `wire::payload::TABLE`).
    #[serde(default)]
    udp_payloads: BTreeMap<u16, String>,
}

/// Errors reading a plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read plan file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `source_name:line:column: field: message`, with the parts that are known.
    #[error("{}", located(source_name, *line, *column, field.as_deref(), message))]
    Invalid {
        source_name: String,
        line: Option<usize>,
        column: Option<usize>,
        field: Option<String>,
        message: String,
    },
    #[error(transparent)]
    Bounded(crate::bounded::BoundedError),
}

fn located(
    source_name: &str,
    line: Option<usize>,
    column: Option<usize>,
    field: Option<&str>,
    message: &str,
) -> String {
    let mut s = source_name.to_string();
    if let Some(l) = line {
        s.push_str(&format!(":{l}"));
        if let Some(c) = column {
            s.push_str(&format!(":{c}"));
        }
    }
    s.push_str(": ");
    if let Some(f) = field {
        s.push_str(f);
        s.push_str(": ");
    }
    s.push_str(message);
    s
}

/// A port plan as read from a file: entries in file order, not yet filtered
/// by cluster options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub nodeport_range: PortRange,
    pub entries: Vec<PlanEntry>,
    /// UDP probe payloads by port (bytes), from `udp_payloads:` hex strings.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub udp_payloads: BTreeMap<u16, Vec<u8>>,
    /// Whether the file set `nodeport_range` (a user plan that does not
    /// must not reset the built-in one).
    #[serde(skip)]
    nodeport_range_set: bool,
}

impl Plan {
    /// The built-in plan (`fixtures/plans/k8s.yaml`).
    pub fn builtin() -> Plan {
        static BUILTIN: OnceLock<Plan> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                // Compiled-in data, not user input; the unit tests parse it, so
                // a broken file fails the build's tests, never a user's run.
                Plan::from_str(BUILTIN_PLAN_YAML, "built-in plan k8s.yaml")
                    .unwrap_or_else(|e| panic!("the built-in plan is invalid: {e}"))
            })
            .clone()
    }

    /// Reads a plan file (YAML).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Plan, PlanError> {
        let path = path.as_ref();
        let text = crate::bounded::read_text_lines(path, "plan").map_err(|e| match e {
            crate::bounded::BoundedError::Read { file, reason } => PlanError::Io {
                path: file,
                source: std::io::Error::other(reason),
            },
            other => PlanError::Bounded(other),
        })?;
        Plan::from_str(&text, &path.display().to_string())
    }

    /// Parses plan YAML; `source_name` names it in errors.
    #[allow(clippy::should_implement_trait)] // takes a source name too
    pub fn from_str(text: &str, source_name: &str) -> Result<Plan, PlanError> {
        let file: PlanFile = serde_yaml_ng::from_str(text).map_err(|e| {
            let p = split_yaml_error(&e);
            PlanError::Invalid {
                source_name: source_name.to_string(),
                line: p.line,
                column: p.column,
                field: p.field,
                message: p.message,
            }
        })?;
        let nodeport_range = file.nodeport_range.unwrap_or(DEFAULT_NODEPORT_RANGE);
        let entries: Vec<PlanEntry> = file
            .entries
            .into_iter()
            .map(|raw| {
                let (port, nodeport) = match raw.port {
                    PortField::Ports(r) => (r, false),
                    PortField::NodePortRange => (nodeport_range, true),
                };
                PlanEntry {
                    protocol: raw.protocol,
                    port,
                    nodeport_range: nodeport,
                    roles: raw.roles.0,
                    component: raw.component.0,
                    audience: raw.audience,
                    purpose: raw.purpose.0,
                    legacy: raw.legacy,
                    when: raw.when,
                }
            })
            .collect();
        check_duplicates(&entries, text, source_name)?;
        let mut udp_payloads = BTreeMap::new();
        for (port, hex) in &file.udp_payloads {
            let bytes = crate::wire::payload::parse_hex(hex).map_err(|message| PlanError::Invalid {
                source_name: source_name.to_string(),
                line: text.lines().position(|l| l.trim_start().starts_with(&format!("{port}:"))).map(|i| i + 1),
                column: None,
                field: Some(format!("udp_payloads.{port}")),
                message,
            })?;
            udp_payloads.insert(*port, bytes);
        }
        Ok(Plan {
            nodeport_range,
            entries,
            udp_payloads,
            nodeport_range_set: file.nodeport_range.is_some(),
        })
    }

    /// Applies a user plan on top of this one. A user entry replaces, for each
    /// of its roles, the entries with the same protocol and port (whatever
    /// their condition); other user entries extend the plan. A user
    /// `nodeport_range` replaces this plan's, and `port: nodeport` entries of
    /// both plans follow the final range.
    pub fn merge_user(self, user: Plan) -> Plan {
        let (nodeport_range, nodeport_range_set) = if user.nodeport_range_set {
            (user.nodeport_range, true)
        } else {
            (self.nodeport_range, self.nodeport_range_set)
        };
        let resolve = |mut e: PlanEntry| {
            if e.nodeport_range {
                e.port = nodeport_range;
            }
            e
        };
        let mut entries: Vec<PlanEntry> = self.entries.into_iter().map(resolve).collect();
        let user_entries: Vec<PlanEntry> = user.entries.into_iter().map(resolve).collect();
        for u in &user_entries {
            for e in entries.iter_mut() {
                if e.protocol == u.protocol && e.port == u.port {
                    e.roles.retain(|r| !u.has_role(r));
                }
            }
            entries.retain(|e| !e.roles.is_empty());
        }
        entries.extend(user_entries);
        let mut udp_payloads = self.udp_payloads;
        udp_payloads.extend(user.udp_payloads);
        Plan {
            nodeport_range,
            entries,
            udp_payloads,
            nodeport_range_set,
        }
    }

    /// Every role named by an entry.
    pub fn roles(&self) -> BTreeSet<String> {
        self.entries
            .iter()
            .flat_map(|e| e.roles.iter().cloned())
            .collect()
    }

    /// The entries that hold for a cluster with `opts`, sorted by protocol
    /// and port.
    pub fn effective(&self, opts: &ClusterOptions) -> EffectivePlan {
        let mut entries: Vec<PlanEntry> = self
            .entries
            .iter()
            .filter(|e| e.applies(opts))
            .cloned()
            .collect();
        entries.sort_by(|a, b| {
            (a.protocol, a.port, &a.component).cmp(&(b.protocol, b.port, &b.component))
        });
        EffectivePlan {
            options: opts.clone(),
            nodeport_range: self.nodeport_range,
            entries,
            udp_payloads: self.udp_payloads.clone(),
        }
    }
}

/// Two entries with the same protocol, port, role and condition would say two
/// things about one port: refuse, naming the later entry's line.
fn check_duplicates(entries: &[PlanEntry], text: &str, source_name: &str) -> Result<(), PlanError> {
    let mut seen: HashMap<(Protocol, PortRange, &str, Option<&Condition>), usize> = HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        for r in &e.roles {
            let key = (e.protocol, e.port, r.as_str(), e.when.as_ref());
            if let Some(first) = seen.insert(key, i) {
                return Err(PlanError::Invalid {
                    source_name: source_name.to_string(),
                    line: block_item_line(text, "entries", i),
                    column: None,
                    field: Some(format!("entries[{i}]")),
                    message: format!(
                        "{}/{} for role {} is already planned by entries[{first}]",
                        e.port, e.protocol, r
                    ),
                });
            }
        }
    }
    Ok(())
}

/// The plan for one cluster: only the entries whose condition holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectivePlan {
    pub options: ClusterOptions,
    pub nodeport_range: PortRange,
    pub entries: Vec<PlanEntry>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub udp_payloads: BTreeMap<u16, Vec<u8>>,
}

impl EffectivePlan {
    /// Entries that concern a node with any of `roles`.
    pub fn entries_for_roles<'a: 'r, 'r>(
        &'a self,
        roles: &'r [String],
    ) -> impl Iterator<Item = &'a PlanEntry> + 'r {
        self.entries
            .iter()
            .filter(move |e| roles.iter().any(|r| e.has_role(r)))
    }

    /// Entries covering `port`/`protocol` on a node with any of `roles`: what
    /// a report looks up for an answering port.
    pub fn entries_for_port<'a: 'r, 'r>(
        &'a self,
        protocol: Protocol,
        port: u16,
        roles: &'r [String],
    ) -> impl Iterator<Item = &'a PlanEntry> + 'r {
        self.entries_for_roles(roles)
            .filter(move |e| e.protocol == protocol && e.port.contains(port))
    }

    /// What an audit must probe on a node with `roles`: (tcp, udp) ports,
    /// sorted and deduplicated, every port of a range included (so the whole
    /// NodePort range for roles that run kube-proxy).
    pub fn ports_for_roles(&self, roles: &[String]) -> (Vec<u16>, Vec<u16>) {
        let mut tcp = BTreeSet::new();
        let mut udp = BTreeSet::new();
        for e in self.entries_for_roles(roles) {
            let set = match e.protocol {
                Protocol::Tcp => &mut tcp,
                Protocol::Udp => &mut udp,
            };
            set.extend(e.port.ports());
        }
        (tcp.into_iter().collect(), udp.into_iter().collect())
    }

    /// Every role named by an entry.
    pub fn roles(&self) -> BTreeSet<&str> {
        self.entries
            .iter()
            .flat_map(|e| e.roles.iter().map(String::as_str))
            .collect()
    }

    /// Aligned text columns: protocol, port(s), roles, component, audience,
    /// legacy flag, purpose. Purpose is last because it is free text (some
    /// of it Chinese, two columns wide per character): nothing after it
    /// needs aligning.
    pub fn to_table(&self) -> String {
        let header = [
            "PROTO",
            "PORT",
            "ROLES",
            "COMPONENT",
            "AUDIENCE",
            "LEGACY",
            "PURPOSE",
        ];
        let rows: Vec<[String; 7]> = self
            .entries
            .iter()
            .map(|e| {
                [
                    e.protocol.to_string(),
                    e.port.to_string(),
                    e.roles.join(","),
                    e.component.clone(),
                    e.audience.to_string(),
                    if e.legacy { "legacy" } else { "" }.to_string(),
                    e.purpose.clone(),
                ]
            })
            .collect();
        let mut widths = header.map(display_width);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(display_width(cell));
            }
        }
        let mut out = String::new();
        let header = header.map(str::to_string);
        for row in std::iter::once(&header).chain(&rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - display_width(cell) + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Terminal width of a string: East Asian wide characters take two columns.
fn display_width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            let wide = (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c)
                || (0x20000..=0x3FFFD).contains(&c);
            if wide {
                2
            } else {
                1
            }
        })
        .sum()
}

#[cfg(test)]
mod tests;
