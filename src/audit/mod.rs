//! The audit: what a scan of the cluster's nodes says about each node,
//! judged against the port plan of the node's roles.
//!
//! The logic is pure: it reads the effective plan, the inventory, the known
//! NodePort Services and what the scan saw (through the [`Observations`]
//! trait, so tests use fakes and the CLI uses a [`ScanReport`] via
//! [`ScanObservations`]), and returns [`Finding`]s in a deterministic order
//! (address, protocol, port, kind). Scanning, CLI wiring and output choice
//! live elsewhere.
//!
//! # What is scanned
//!
//! [`scan_ports`]: on every node, the union of the effective plan's ports
//! over ALL roles (TCP and UDP), plus the whole NodePort range (TCP). Every
//! node gets the union on purpose: a port that the plan gives to another
//! role (etcd 2379 on a worker, harbor 38088 on a worker) and answers is how
//! `unexpected` is found; scanning only a node's own plan would never see it.
//! UDP NodePorts of `--services` are outside that list (the range is scanned
//! as TCP only): they are judged only if the scan covered them anyway.
//!
//! # Which audiences must answer from which vantage
//!
//! `--from` says where the scanner stands. A port "must answer" from a
//! vantage when its audience is marked here:
//!
//! | audience        | `external` | `node` | `control-plane` |
//! |-----------------|:----------:|:------:|:---------------:|
//! | `all`           |    yes     |  yes   |       yes       |
//! | `peers`         |     -      |  yes   |       yes       |
//! | `control-plane` |     -      |   -    |       yes       |
//! | `self`          |   never    | never  |      never      |
//!
//! `external` is a scanner outside the cluster, `node` one on a cluster node
//! (the DaemonSet), `control-plane` one on a control-plane node. A port whose
//! audience need not answer from the vantage ("-") is not judged `missing` or
//! `blocked`: whatever its state, the scanner is not one of the hosts the
//! port serves (kubelet 10250 filtered from outside is fine). It still
//! counts as planned, so it is never `unexpected`. A `self` port must answer
//! from no other host, whatever the vantage.
//!
//! # Rules, per (node, port)
//!
//! A node's planned entries are those with any of its roles (several roles:
//! the union). The NodePort range entry (`nodeport_range: true`) plans the
//! range but is never judged port by port: a port in it only answers when a
//! Service uses it. Known NodePorts (an add-on entry of the effective plan,
//! or a `--services` NodePort on a node whose plan has the range, i.e. runs
//! kube-proxy) are judged like any `all` port.
//!
//! | kind          | phase    | when                                                                 | severity |
//! |---------------|----------|----------------------------------------------------------------------|----------|
//! | `unreachable` | both     | the node's host is down: this one finding only, no per-port findings | error    |
//! | `conflict`    | `pre`    | a planned port is `open`; an `open` TCP port in the NodePort range on a node whose plan has the range | error |
//! | `missing`     | `post`   | a must-answer port is `closed` (TCP RST; UDP ICMP port unreachable)  | error    |
//! | `blocked`     | `post`   | a must-answer port is `filtered` (no answer to a SYN, or ICMP unreachable/prohibited) | error |
//! | `exposed`     | `post`   | a `self` port is `open` (legacy 10251/10252 too: insecure HTTP)      | error    |
//! | `unexpected`  | both     | an `open` port that the node's plan does not have; in the NodePort range, an `open` port no add-on entry and no `--services` NodePort explains | warning |
//! | `unresolved`  | `post`   | a must-answer UDP port is `open\|filtered` but the scan could not establish its silence (ICMP errors rate limited: it may be closed) | info |
//!
//! Details that keep the rules exact:
//! * UDP `open|filtered` (silence) is the normal state of a healthy tunnel
//!   (flannel VXLAN 8472 answers nothing): fine for a must-answer UDP port.
//!   Only `closed` is `missing`, `filtered` (an ICMP error other than port
//!   unreachable) `blocked`.
//! * Only `open` is evidence that something listens: `open|filtered` never
//!   makes a `conflict`, `exposed` or `unexpected`.
//! * Legacy entries (10251, 10252) are never `missing`/`blocked`: they were
//!   removed from current releases.
//! * In `pre` nothing is installed yet, so there is no `missing`, `blocked`
//!   or `exposed` — except on the registry's ports (harbor, NTP): the
//!   offline install pulls from them, so they are judged before the install
//!   exactly as after it (and are never a `conflict`). `unexpected` stays a warning there: the scanned ports are
//!   all Kubernetes ports, so one that answers on a node whose roles do not
//!   plan it (6443 on a future worker) is almost surely a leftover of an old
//!   cluster or a wrong role in the inventory, worth fixing before the
//!   install; yet it does not collide with what this node will run, so it
//!   does not fail a preflight that fails on errors.
//! * An open port in the NodePort range on a node whose plan lacks the range
//!   (a registry host, which runs no kube-proxy) collides with no Service:
//!   it is `unexpected`, not `conflict`, in both phases.
//! * Several entries on one port (443 for harbor and ingress on a node with
//!   both roles) are judged once: the port must answer if any of them must,
//!   is `exposed` only if all of them are `self`; the component named is the
//!   first such entry's (entries are sorted by component).
//! * A node the scan did not cover (host not in the report) and a port the
//!   scan did not cover are not judged; the summary counts such nodes.
//! * A `--services` NodePort with `externalTrafficPolicy: Local` answers only
//!   on nodes that run one of its pods; the Service list does not say which,
//!   so such a Service can show as `blocked` on the others.
//!
//! # JSON
//!
//! [`AuditReport`] is the `--format json` document (`format_version`
//! [`FORMAT_VERSION`]). An `unreachable` finding has `"port": 0`, no
//! `protocol` key, `"component": "host"`, `"observed": "down"`,
//! `"reason": "no-response"` and `"expected": "up"`.

mod advice;
mod identity;
mod render;
pub mod matrix;

pub use identity::IdentityRules;
pub use render::{render_json, render_junit, render_markdown, render_table, AuditFormat};

use crate::inventory::{Inventory, NodePortService};
use crate::plan::{Audience, EffectivePlan, PlanEntry};
use crate::report::{HostStatus, Reason, ScanReport, State};
use crate::space::{PortList, Protocol};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// Version of the audit JSON document; bumped when a field changes meaning
/// or disappears.
pub const FORMAT_VERSION: u32 = 1;

/// Exit status: no finding at or above `--fail-on`.
pub const EXIT_OK: u8 = 0;
/// Exit status: at least one finding at or above `--fail-on`.
pub const EXIT_FINDINGS: u8 = 1;
/// Exit status: bad input (inventory, plan, options).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status: runtime or privilege error (no raw socket, I/O).
pub const EXIT_RUNTIME: u8 = 3;

/// What an audit scans on every node (see the module doc): the union of the
/// effective plan's ports over all roles, TCP and UDP, plus the whole
/// NodePort range as TCP.
pub fn scan_ports(plan: &EffectivePlan) -> PortList {
    let mut ports: Vec<(Protocol, u16)> = plan
        .entries
        .iter()
        .flat_map(|e| {
            let proto = e.protocol;
            e.port.ports().map(move |p| (proto, p))
        })
        .collect();
    ports.extend(plan.nodeport_range.ports().map(|p| (Protocol::Tcp, p)));
    PortList::from_ports(ports)
}

use crate::words::word_enum;

word_enum!(
    /// Before the install (`pre`: ports must be free) or after it (`post`:
    /// ports must answer as planned).
    Phase, "phase", {
        Pre => "pre",
        Post => "post",
    }
);

word_enum!(
    /// Where the scanner stands; decides which audiences must answer (see
    /// the matrix in the module doc).
    Vantage, "vantage", {
        /// Outside the cluster.
        External => "external",
        /// On a cluster node (e.g. the DaemonSet).
        Node => "node",
        /// On a control-plane node.
        ControlPlane => "control-plane",
    }
);

word_enum!(
    /// The fixed vocabulary of findings (documented in the module doc).
    FindingKind, "finding kind", {
        Conflict => "conflict",
        Missing => "missing",
        Blocked => "blocked",
        Exposed => "exposed",
        Unexpected => "unexpected",
        Unreachable => "unreachable",
        Unresolved => "unresolved",
        /// A planned port answered by another component (identification).
        Impostor => "impostor",
        /// An open door: a service that let an anonymous client in, or a
        /// certificate expired or expiring (identification).
        Insecure => "insecure",
    }
);

word_enum!(
    /// How bad a finding is. Declared from least to most severe so that
    /// `severity >= fail_on` selects what fails a run.
    Severity, "severity", {
        Info => "info",
        Warning => "warning",
        Error => "error",
        /// Secrets or control open to anyone who reaches the port.
        Critical => "critical",
    }
);

impl Vantage {
    /// Whether a port of `audience` must answer a scanner at this vantage
    /// (the matrix of the module doc). `self` never must.
    pub fn must_answer(self, audience: Audience) -> bool {
        match audience {
            Audience::All => true,
            Audience::Peers => matches!(self, Vantage::Node | Vantage::ControlPlane),
            Audience::ControlPlane => self == Vantage::ControlPlane,
            Audience::SelfOnly => false,
        }
    }
}

impl FindingKind {
    /// The severity every finding of this kind gets (module doc).
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::Unexpected => Severity::Warning,
            FindingKind::Unresolved => Severity::Info,
            FindingKind::Insecure => Severity::Critical,
            _ => Severity::Error,
        }
    }
}

/// One thing wrong with one node (and port).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub node: String,
    pub address: IpAddr,
    pub roles: Vec<String>,
    /// Absent for `unreachable`, which concerns the whole node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// 0 for `unreachable`.
    pub port: u16,
    pub component: String,
    /// The observed state (`open`, `closed`, `filtered`, `open|filtered`,
    /// or `down` for a host).
    pub observed: String,
    /// Why the scan says so (`syn-ack`, `rst`, `no-response`, ...).
    pub reason: String,
    pub expected: String,
    pub kind: FindingKind,
    pub severity: Severity,
    pub message: String,
    pub hint: String,
    /// What answered on the port (reports made with identification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<crate::report::Service>,
}

impl Finding {
    /// `6443/tcp`, or `-` for a whole-node finding.
    pub fn port_label(&self) -> String {
        match self.protocol {
            Some(p) => format!("{}/{}", self.port, p),
            None => "-".to_string(),
        }
    }

    /// `open (syn-ack)`.
    pub fn observed_label(&self) -> String {
        format!("{} ({})", self.observed, self.reason)
    }

    /// The deterministic order of findings: address, protocol, port, kind.
    fn sort_key(&self) -> (IpAddr, Option<Protocol>, u16, FindingKind) {
        (self.address, self.protocol, self.port, self.kind)
    }
}

/// What the scan saw. `None` means "not scanned", which is never judged.
pub trait Observations {
    /// Whether the host answered anything at all; `None` if not scanned.
    fn host_up(&self, addr: IpAddr) -> Option<bool>;
    /// State and reason of one pair; `None` if the pair was not scanned.
    fn state(&self, addr: IpAddr, proto: Protocol, port: u16) -> Option<(State, Reason)>;
    /// Every scanned (protocol, port) of the host whose state is `open`,
    /// sorted. Empty if the host was not scanned.
    fn open_ports(&self, addr: IpAddr) -> Vec<(Protocol, u16)>;
    /// Whether a UDP pair's `open|filtered` is unresolved: its silence was
    /// not established, it may be closed with its ICMP error rate limited.
    fn unresolved(&self, _addr: IpAddr, _proto: Protocol, _port: u16) -> bool {
        false
    }
    /// What the identification stage found on an open port, if it ran.
    fn service(&self, _addr: IpAddr, _proto: Protocol, _port: u16) -> Option<crate::report::Service> {
        None
    }
}

/// A [`ScanReport`] as [`Observations`], with its port list parsed once
/// (the report stores it as nmap text).
pub struct ScanObservations<'a> {
    report: &'a ScanReport,
    ports: Option<PortList>,
}

impl<'a> ScanObservations<'a> {
    pub fn new(report: &'a ScanReport) -> Self {
        ScanObservations {
            report,
            ports: report.port_list(),
        }
    }

    fn host(&self, addr: IpAddr) -> Option<&'a crate::report::HostReport> {
        let hosts = &self.report.hosts;
        hosts
            .binary_search_by_key(&addr, |h| h.address)
            .ok()
            .and_then(|i| hosts.get(i))
    }
}

impl Observations for ScanObservations<'_> {
    fn service(&self, addr: IpAddr, proto: Protocol, port: u16) -> Option<crate::report::Service> {
        let h = self.host(addr)?;
        let i = h.ports.binary_search_by_key(&(proto, port), |p| (p.protocol, p.port)).ok()?;
        h.ports[i].service.clone()
    }

    fn unresolved(&self, addr: IpAddr, proto: Protocol, port: u16) -> bool {
        self.report.is_unresolved(addr, proto, port)
    }

    fn host_up(&self, addr: IpAddr) -> Option<bool> {
        self.host(addr).map(|h| h.status == HostStatus::Up)
    }

    fn state(&self, addr: IpAddr, proto: Protocol, port: u16) -> Option<(State, Reason)> {
        let ports = self.ports.as_ref()?;
        self.host(addr)?;
        self.report.lookup(addr, proto, port, ports)
    }

    fn open_ports(&self, addr: IpAddr) -> Vec<(Protocol, u16)> {
        let (Some(h), Some(ports)) = (self.host(addr), self.ports.as_ref()) else {
            return Vec::new();
        };
        if h.default_state == State::Open {
            // Unlisted pairs are open too: walk the whole list.
            ports
                .as_slice()
                .iter()
                .copied()
                .filter(|&(pr, p)| {
                    matches!(
                        self.report.lookup(addr, pr, p, ports),
                        Some((State::Open, _))
                    )
                })
                .collect()
        } else {
            let mut out: Vec<(Protocol, u16)> = h
                .ports
                .iter()
                .filter(|p| p.state == State::Open && ports.index_of(p.protocol, p.port).is_some())
                .map(|p| (p.protocol, p.port))
                .collect();
            out.sort_unstable();
            out
        }
    }
}

/// Everything the rules need about one node's plan, looked up once.
struct NodePlan<'a> {
    /// Non-range planned entries by (protocol, port), in plan order.
    ports: BTreeMap<(Protocol, u16), Vec<&'a PlanEntry>>,
    /// The node runs kube-proxy: its plan has the NodePort range.
    has_range: bool,
}

impl<'a> NodePlan<'a> {
    fn new(plan: &'a EffectivePlan, roles: &[String]) -> NodePlan<'a> {
        let mut ports: BTreeMap<(Protocol, u16), Vec<&'a PlanEntry>> = BTreeMap::new();
        let mut has_range = false;
        for e in plan.entries_for_roles(roles) {
            if e.nodeport_range {
                has_range = true;
                continue;
            }
            for p in e.port.ports() {
                ports
                    .entry((e.protocol, p))
                    .or_default()
                    .push(e);
            }
        }
        NodePlan { ports, has_range }
    }
}

/// Facts about one (node, port) that the advice texts need.
pub(crate) struct Subject<'a> {
    pub protocol: Protocol,
    pub port: u16,
    pub component: &'a str,
    /// The entry judged, if the port is planned for the node.
    pub entry: Option<&'a PlanEntry>,
    /// For an unplanned port: the roles the plan gives it to.
    pub planned_roles: Vec<String>,
    pub node_roles: &'a [String],
    pub state: State,
    pub reason: Reason,
    pub in_nodeport_range: bool,
    /// The node's plan has the NodePort range (it runs kube-proxy).
    pub node_has_range: bool,
    pub nodeport_range: crate::plan::PortRange,
    /// A `--services` NodePort, when that is what the port is.
    pub service: Option<&'a NodePortService>,
}

/// The role whose planned services must answer before the install too.
pub const REGISTRY_ROLE: &str = "registry";

/// Judges every node of the inventory (module doc); findings sorted by
/// address, protocol, port, kind.
pub fn audit(
    plan: &EffectivePlan,
    inventory: &Inventory,
    services: &[NodePortService],
    phase: Phase,
    from: Vantage,
    obs: &dyn Observations,
) -> Vec<Finding> {
    let known_services = services_by_port(services);
    let mut findings = Vec::new();
    for node in &inventory.nodes {
        match obs.host_up(node.address) {
            None => continue,
            Some(false) => {
                findings.push(unreachable_finding(node));
                continue;
            }
            Some(true) => {}
        }
        let judge = NodeJudge {
            plan,
            np: NodePlan::new(plan, &node.roles),
            node,
            known_services: &known_services,
            phase,
            from,
            obs,
        };
        let mut push = |kind: FindingKind, subject: &Subject| {
            findings.push(make_finding(node, kind, subject, from));
        };
        judge.planned_ports(&mut push);
        judge.service_nodeports(&mut push);
        judge.unplanned_open_ports(&mut push);
    }
    // No pair gets two findings: the first step judges planned ports, the
    // second only unplanned Service ports that are not open, the third only
    // unplanned ports that are open.
    findings.sort_by_key(Finding::sort_key);
    findings
}

/// `--services` NodePorts by (protocol, port), the first of each kept.
fn services_by_port(services: &[NodePortService]) -> BTreeMap<(Protocol, u16), &NodePortService> {
    let mut known: BTreeMap<(Protocol, u16), &NodePortService> = BTreeMap::new();
    for s in services {
        known.entry((s.protocol, s.port)).or_insert(s);
    }
    known
}

/// One node's judgement: the audit's settings, the node's plan and what
/// the scan saw of it. Each step pushes the findings of one kind of port.
struct NodeJudge<'a> {
    plan: &'a EffectivePlan,
    np: NodePlan<'a>,
    node: &'a crate::inventory::Node,
    known_services: &'a BTreeMap<(Protocol, u16), &'a NodePortService>,
    phase: Phase,
    from: Vantage,
    obs: &'a dyn Observations,
}

type Push<'p> = dyn FnMut(FindingKind, &Subject) + 'p;

impl<'a> NodeJudge<'a> {
    /// A subject of this node with what every step fills in alike.
    fn subject<'s>(&'s self, protocol: Protocol, port: u16, component: &'s str, state: State, reason: Reason) -> Subject<'s> {
        let range = self.plan.nodeport_range;
        Subject {
            protocol,
            port,
            component,
            entry: None,
            planned_roles: Vec::new(),
            node_roles: &self.node.roles,
            state,
            reason,
            in_nodeport_range: protocol == Protocol::Tcp && range.contains(port),
            node_has_range: self.np.has_range,
            nodeport_range: range,
            service: None,
        }
    }

    /// Planned ports of the node: conflicts before the install, exposed
    /// `self` ports, and ports that must answer but do not.
    fn planned_ports(&self, push: &mut Push) {
        let addr = self.node.address;
        for (&(proto, port), entries) in &self.np.ports {
            let (Some((state, reason)), Some(&first)) =
                (self.obs.state(addr, proto, port), entries.first())
            else {
                continue;
            };
            let must: Vec<&&PlanEntry> = entries
                .iter()
                .filter(|e| !e.legacy && self.from.must_answer(e.audience))
                .collect();
            let all_self = entries.iter().all(|e| e.audience == Audience::SelfOnly);
            // The registry's services (harbor, NTP) serve the install
            // itself: before it they must already answer, like after it.
            let prerequisite = entries.iter().any(|e| e.roles.iter().any(|r| r == REGISTRY_ROLE));
            let judged = match (self.phase, must.first(), all_self) {
                (Phase::Pre, _, _) if !prerequisite => {
                    (state == State::Open).then_some((FindingKind::Conflict, first))
                }
                (_, _, true) => (state == State::Open).then_some((FindingKind::Exposed, first)),
                (_, Some(e), false) => answer_problem(state, self.obs.unresolved(addr, proto, port)).map(|k| (k, **e)),
                (_, None, false) => None,
            };
            if let Some((kind, entry)) = judged {
                let subject = Subject { entry: Some(entry), ..self.subject(proto, port, &entry.component, state, reason) };
                push(kind, &subject);
            }
        }
    }

    /// Known Service NodePorts on kube-proxy nodes, after install: they
    /// must answer like an `all` port (unless an entry already judged it).
    fn service_nodeports(&self, push: &mut Push) {
        let range = self.plan.nodeport_range;
        if !(self.phase == Phase::Post && self.np.has_range && self.from.must_answer(Audience::All)) {
            return;
        }
        for (&(proto, port), svc) in self.known_services {
            if !range.contains(port) || self.np.ports.contains_key(&(proto, port)) || !svc.families.serves(self.node.address) {
                continue;
            }
            let Some((state, reason)) = self.obs.state(self.node.address, proto, port) else {
                continue;
            };
            if let Some(kind) = answer_problem(state, self.obs.unresolved(self.node.address, proto, port)) {
                let component = format!("Service {}/{}", svc.namespace, svc.name);
                let subject = Subject {
                    in_nodeport_range: true,
                    service: Some(*svc),
                    ..self.subject(proto, port, &component, state, reason)
                };
                push(kind, &subject);
            }
        }
    }

    /// Open ports the node's plan does not have: in the NodePort range of a
    /// kube-proxy node, unexplained listeners (conflicts before the
    /// install); elsewhere, services of other roles or of nobody.
    fn unplanned_open_ports(&self, push: &mut Push) {
        let (plan, addr) = (self.plan, self.node.address);
        for (proto, port) in self.obs.open_ports(addr) {
            if self.np.ports.contains_key(&(proto, port)) {
                continue;
            }
            let in_range = proto == Protocol::Tcp && plan.nodeport_range.contains(port);
            let Some((state, reason)) = self.obs.state(addr, proto, port) else {
                continue;
            };
            if in_range && self.np.has_range {
                let explained = self.known_services.get(&(proto, port)).is_some_and(|s| s.families.serves(addr))
                    || plan.entries.iter().any(|e| {
                        !e.nodeport_range
                            && e.protocol == proto
                            && e.port.contains(port)
                    });
                let kind = match self.phase {
                    Phase::Pre => FindingKind::Conflict,
                    Phase::Post if explained => continue,
                    Phase::Post => FindingKind::Unexpected,
                };
                push(kind, &self.subject(proto, port, "unknown", state, reason));
                continue;
            }
            // Planned for other roles (or not at all): name what it would be.
            let others: Vec<&PlanEntry> = plan
                .entries
                .iter()
                .filter(|e| {
                    e.protocol == proto && e.port.contains(port) && !e.nodeport_range
                })
                .collect();
            let component = others.first().map_or("unknown", |e| e.component.as_str());
            let planned_roles: BTreeSet<String> = others
                .iter()
                .flat_map(|e| e.roles.iter().cloned())
                .collect();
            let subject = Subject {
                planned_roles: planned_roles.into_iter().collect(),
                ..self.subject(proto, port, component, state, reason)
            };
            push(FindingKind::Unexpected, &subject);
        }
    }
}

/// `missing`/`blocked` for a port that must answer, from its state;
/// `unresolved` for an `open|filtered` whose silence was not established.
fn answer_problem(state: State, unresolved: bool) -> Option<FindingKind> {
    match state {
        State::OpenFiltered if unresolved => Some(FindingKind::Unresolved),
        State::Open | State::OpenFiltered => None,
        State::Closed => Some(FindingKind::Missing),
        State::Filtered => Some(FindingKind::Blocked),
    }
}

fn unreachable_finding(node: &crate::inventory::Node) -> Finding {
    let (message, hint) = advice::unreachable(node.address);
    Finding {
        node: node.name.clone(),
        address: node.address,
        roles: node.roles.clone(),
        protocol: None,
        port: 0,
        component: "host".to_string(),
        observed: "down".to_string(),
        reason: Reason::NoResponse.as_str().to_string(),
        expected: "up".to_string(),
        kind: FindingKind::Unreachable,
        severity: FindingKind::Unreachable.severity(),
        message,
        hint,
        service: None,
    }
}

fn make_finding(
    node: &crate::inventory::Node,
    kind: FindingKind,
    s: &Subject,
    from: Vantage,
) -> Finding {
    let expected = match kind {
        FindingKind::Conflict => "unused before install",
        FindingKind::Missing | FindingKind::Blocked => match s.protocol {
            Protocol::Tcp => "open",
            Protocol::Udp => "open or open|filtered",
        },
        FindingKind::Exposed => "not open from another host",
        FindingKind::Unexpected => "closed or filtered",
        FindingKind::Unreachable => "up",
        FindingKind::Unresolved => "open or open|filtered (confirmed)",
        FindingKind::Impostor => "the planned component",
        FindingKind::Insecure => "authentication required",
    };
    let (message, hint) = advice::advice(kind, s, from);
    Finding {
        node: node.name.clone(),
        address: node.address,
        roles: node.roles.clone(),
        protocol: Some(s.protocol),
        port: s.port,
        component: s.component.to_string(),
        observed: s.state.as_str().to_string(),
        reason: s.reason.as_str().to_string(),
        expected: expected.to_string(),
        kind,
        severity: kind.severity(),
        message,
        hint,
        service: None,
    }
}

/// Whether any finding is at or above `fail_on`: [`EXIT_FINDINGS`] (1) if
/// so, else [`EXIT_OK`] (0).
pub fn exit_code(findings: &[Finding], fail_on: Severity) -> u8 {
    if findings.iter().any(|f| f.severity >= fail_on) {
        EXIT_FINDINGS
    } else {
        EXIT_OK
    }
}

/// A node's scan status in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeStatus {
    Up,
    Down,
    /// In the inventory, not in the scan (e.g. another shard's).
    NotScanned,
}

impl NodeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Up => "up",
            NodeStatus::Down => "down",
            NodeStatus::NotScanned => "not-scanned",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSummary {
    pub name: String,
    pub address: IpAddr,
    pub roles: Vec<String>,
    pub status: NodeStatus,
}

/// Counts for the summary. The maps always hold every kind and severity
/// (zero included), so consumers need no defaulting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSummary {
    pub nodes: u64,
    pub nodes_up: u64,
    pub nodes_down: u64,
    pub nodes_not_scanned: u64,
    /// (node, protocol, port) pairs of up nodes that the scan covered.
    pub ports_checked: u64,
    pub findings: u64,
    pub findings_by_kind: BTreeMap<String, u64>,
    pub findings_by_severity: BTreeMap<String, u64>,
}

impl AuditSummary {
    pub fn new(nodes: &[NodeSummary], ports_checked: u64, findings: &[Finding]) -> AuditSummary {
        let count = |s: NodeStatus| nodes.iter().filter(|n| n.status == s).count() as u64;
        let mut by_kind: BTreeMap<String, u64> = FindingKind::ALL
            .iter()
            .map(|k| (k.to_string(), 0))
            .collect();
        let mut by_severity: BTreeMap<String, u64> =
            Severity::ALL.iter().map(|s| (s.to_string(), 0)).collect();
        for f in findings {
            *by_kind.entry(f.kind.to_string()).or_default() += 1;
            *by_severity.entry(f.severity.to_string()).or_default() += 1;
        }
        AuditSummary {
            nodes: nodes.len() as u64,
            nodes_up: count(NodeStatus::Up),
            nodes_down: count(NodeStatus::Down),
            nodes_not_scanned: count(NodeStatus::NotScanned),
            ports_checked,
            findings: findings.len() as u64,
            findings_by_kind: by_kind,
            findings_by_severity: by_severity,
        }
    }
}

/// The audit document (`--format json`; the other formats render it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// The portsweep version that wrote it.
    pub portsweep: String,
    pub format_version: u32,
    /// Always `"audit"` (a scan report says `"scan"`).
    pub kind: String,
    pub phase: Phase,
    pub from: Vantage,
    /// The cluster options of the effective plan, as `--options` text.
    pub options: String,
    pub nodes: Vec<NodeSummary>,
    pub findings: Vec<Finding>,
    pub summary: AuditSummary,
    /// The scan the findings come from.
    pub scan: ScanReport,
    /// The node the scan ran from, when given (`--vantage-node`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vantage_node: Option<String>,
}

impl AuditReport {
    /// Runs the audit over `scan` and wraps it with its context.
    pub fn build(
        plan: &EffectivePlan,
        inventory: &Inventory,
        services: &[NodePortService],
        phase: Phase,
        from: Vantage,
        scan: ScanReport,
    ) -> AuditReport {
        Self::build_with(plan, inventory, services, phase, from, scan, &IdentityRules::default())
    }

    /// [`AuditReport::build`], with the identity rules' settings (the
    /// identity findings come from the services the scan report carries).
    pub fn build_with(
        plan: &EffectivePlan,
        inventory: &Inventory,
        services: &[NodePortService],
        phase: Phase,
        from: Vantage,
        scan: ScanReport,
        rules: &IdentityRules,
    ) -> AuditReport {
        let (nodes, findings, summary) = {
            let obs = ScanObservations::new(&scan);
            let mut findings = audit(plan, inventory, services, phase, from, &obs);
            identity::annotate(&mut findings, &obs);
            findings.extend(identity::judge(plan, inventory, phase, from, &obs, rules));
            findings.sort_by_key(Finding::sort_key);
            let nodes = node_summaries(inventory, &obs);
            let checked = ports_checked(plan, &nodes, &obs);
            let summary = AuditSummary::new(&nodes, checked, &findings);
            (nodes, findings, summary)
        };
        AuditReport {
            portsweep: env!("CARGO_PKG_VERSION").to_string(),
            format_version: FORMAT_VERSION,
            kind: "audit".to_string(),
            phase,
            from,
            options: plan.options.to_string(),
            nodes,
            findings,
            summary,
            scan,
            vantage_node: None,
        }
    }

    /// [`exit_code`] of this report's findings.
    pub fn exit_code(&self, fail_on: Severity) -> u8 {
        exit_code(&self.findings, fail_on)
    }
}

/// Each inventory node with its scan status.
pub fn node_summaries(inventory: &Inventory, obs: &dyn Observations) -> Vec<NodeSummary> {
    inventory
        .nodes
        .iter()
        .map(|n| NodeSummary {
            name: n.name.clone(),
            address: n.address,
            roles: n.roles.clone(),
            status: match obs.host_up(n.address) {
                Some(true) => NodeStatus::Up,
                Some(false) => NodeStatus::Down,
                None => NodeStatus::NotScanned,
            },
        })
        .collect()
}

/// (node, protocol, port) pairs of up nodes that the scan covered, out of
/// [`scan_ports`].
pub fn ports_checked(plan: &EffectivePlan, nodes: &[NodeSummary], obs: &dyn Observations) -> u64 {
    let list = scan_ports(plan);
    nodes
        .iter()
        .filter(|n| n.status == NodeStatus::Up)
        .map(|n| {
            list.as_slice()
                .iter()
                .filter(|&&(pr, p)| obs.state(n.address, pr, p).is_some())
                .count() as u64
        })
        .sum()
}

#[cfg(test)]
mod tests;
