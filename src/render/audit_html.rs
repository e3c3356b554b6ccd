//! The audit page: a header, the node × plan matrix (nodes grouped by
//! role as rows, the plan's ports as columns, with each node's NodePort
//! strip as the last column) and the findings table.
//!
//! A cell's state is what the scan saw of that (node, port); its colour
//! and mark say whether a finding concerns it (the audit's verdict, not
//! judged again here) and what the plan expects, in words in its title.
//! Groups of more than [`OPEN_GROUP`] nodes show their nodes with findings
//! and fold the others into a closed `<details>` (2,000 healthy rows are
//! not what a reader needs first; find-in-page still reaches them).
use std::collections::BTreeMap;

use maud::{html, Markup};

use super::page::{self, legend, severity_label, severity_mark, state_glyph, thousands, FindingAttrs};
use crate::audit::{AuditReport, Finding, FindingKind, NodeStatus, NodeSummary, Phase, Severity};
use crate::plan::{Audience, EffectivePlan, PlanEntry};
use crate::space::{PortList, Protocol};

/// Larger role groups fold their nodes without findings.
const OPEN_GROUP: usize = 100;

/// One matrix column: a planned (protocol, port) and the entries on it.
struct Column<'a> {
    protocol: Protocol,
    port: u16,
    entries: Vec<&'a PlanEntry>,
}

impl Column<'_> {
    fn entry(&self) -> String {
        format!("{}/{}", self.port, self.protocol)
    }

    fn components(&self) -> String {
        let mut c: Vec<&str> = self.entries.iter().map(|e| e.component.as_str()).collect();
        c.dedup();
        c.join(", ")
    }
}

/// Every (protocol, port) some non-range entry plans, in port order.
fn columns(plan: &EffectivePlan) -> Vec<Column<'_>> {
    let mut by_port: BTreeMap<(Protocol, u16), Vec<&PlanEntry>> = BTreeMap::new();
    for e in plan.entries.iter().filter(|e| !e.nodeport_range) {
        for p in e.port.ports() {
            by_port.entry((e.protocol, p)).or_default().push(e);
        }
    }
    let mut cols: Vec<Column> = by_port.into_iter().map(|((protocol, port), entries)| Column { protocol, port, entries }).collect();
    cols.sort_by_key(|c| (c.port, c.protocol));
    cols
}

/// What the plan expects of a port on a node. The page says it in words
/// through the cell's class (`x-…`, worded once in the style sheet and
/// the legend): 44,000 cells of a 2,000-node page cannot each carry it.
#[derive(Clone, Copy)]
enum Expect {
    MustAnswer,
    /// Planned, but its audience does not include this vantage.
    MayAnswer,
    SelfOnly,
    FreeBeforeInstall,
    NotPlanned,
}

impl Expect {
    fn class(self) -> &'static str {
        match self {
            Expect::MustAnswer => "x-must",
            Expect::MayAnswer => "x-may",
            Expect::SelfOnly => "x-self",
            Expect::FreeBeforeInstall => "x-free",
            Expect::NotPlanned => "x-none",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Expect::MustAnswer => "must answer",
            Expect::MayAnswer => "planned, need not answer from this vantage",
            Expect::SelfOnly => "must not answer from another host",
            Expect::FreeBeforeInstall => "free before the install",
            Expect::NotPlanned => "not planned for this node: closed or filtered",
        }
    }

    const ALL: [Expect; 5] = [Expect::MustAnswer, Expect::MayAnswer, Expect::SelfOnly, Expect::FreeBeforeInstall, Expect::NotPlanned];
}

fn expectation(report: &AuditReport, roles: &[String], col: &Column) -> Expect {
    let mine: Vec<&&PlanEntry> = col.entries.iter().filter(|e| roles.iter().any(|r| e.has_role(r))).collect();
    if mine.is_empty() {
        return Expect::NotPlanned;
    }
    let registry = mine.iter().any(|e| e.has_role("registry"));
    if report.phase == Phase::Pre && !registry {
        return Expect::FreeBeforeInstall;
    }
    if mine.iter().all(|e| e.audience == Audience::SelfOnly) {
        return Expect::SelfOnly;
    }
    if mine.iter().any(|e| !e.legacy && report.from.must_answer(e.audience)) {
        return Expect::MustAnswer;
    }
    Expect::MayAnswer
}

/// What the cell classes mean (the style sheet shows the same words on
/// hover and focus).
fn expectation_legend() -> Markup {
    html! {
        div.legend aria-label="what the plan expects" {
            @for x in Expect::ALL { span { b class=(x.class()) { "\u{a0}" } "expected: " (x.words()) } }
        }
    }
}

/// Findings by (address, protocol, port), as text keys.
type FindingIndex<'a> = BTreeMap<(String, String, u16), Vec<&'a Finding>>;

fn index(findings: &[Finding]) -> FindingIndex<'_> {
    let mut m: FindingIndex = BTreeMap::new();
    for f in findings {
        m.entry((f.address.to_string(), f.protocol.map(|p| p.to_string()).unwrap_or_default(), f.port)).or_default().push(f);
    }
    m
}

fn worst(fs: &[&Finding]) -> Option<Severity> {
    fs.iter().map(|f| f.severity).max()
}

/// The page of an audit report.
pub fn audit(report: &AuditReport, plan: &EffectivePlan) -> String {
    let cols = columns(plan);
    let found = index(&report.findings);
    let ports = report.scan.port_list().unwrap_or_else(|| PortList::from_ports(Vec::new()));
    let title = format!("portsweep audit: {} findings, {} nodes ({}, from {})", report.summary.findings, report.summary.nodes, report.phase, report.from);
    let data = serde_json::json!({"kind": "audit", "findings": report.findings.len(), "nodes": report.nodes.len(), "columns": cols.len()});
    page::page(&title, header(report), html! {
        section #matrix aria-labelledby="matrix-h" {
            h2 #matrix-h { "Nodes × plan" }
            p.muted { "Rows: nodes by role. Columns: every port of the plan (" (cols.len()) "), then the NodePort range " (plan.nodeport_range.start) "-" (plan.nodeport_range.end) ". A cell shows what the scan saw; a marked cell has a finding (below). Hover or focus a cell for what the plan expects." }
            (legend())
            (expectation_legend())
            (groups(report, plan, &cols, &found, &ports))
        }
        (findings(report))
    }, data)
}

fn header(report: &AuditReport) -> Markup {
    let s = &report.summary;
    let scan = &report.scan;
    html! {
        h1 { "portsweep audit " span.badge class=(if scan.complete { "complete" } else { "interrupted" }) { (if scan.complete { "complete" } else { "interrupted: partial results" }) } }
        dl.meta {
            dt { "Cluster options" } dd { code { (report.options) } }
            dt { "Phase" } dd { (report.phase) }
            dt { "Vantage" } dd { (report.from) @if let Some(v) = &report.vantage_node { " (node " (v) ")" } }
            dt { "Started" } dd { (scan.started) }
            dt { "Finished" } dd { (scan.finished) }
            dt { "Duration" } dd { (format!("{:.2} s", scan.stats.duration_s)) ", " (thousands(scan.stats.probes_sent)) " probes, " (scan.stats.passes) " passes" }
            dt { "Nodes" } dd { (s.nodes) " (" (s.nodes_up) " up, " (s.nodes_down) " down, " (s.nodes_not_scanned) " not scanned), " (thousands(s.ports_checked)) " ports checked" }
            dt { "Command" } dd { code { (scan.args.join(" ")) } }
            dt { "Scanner" } dd { "portsweep " (report.portsweep) ", report format " (report.format_version) }
        }
        div.counts aria-label="findings by severity" {
            span { b { (s.findings) } " findings" }
            @for (sev, n) in Severity::ALL.iter().rev().map(|v| (v.as_str(), s.findings_by_severity.get(v.as_str()).copied().unwrap_or(0))) {
                span class=(format!("sev-{sev}")) { (severity_mark(sev)) " " (sev) ": " b { (n) } }
            }
        }
        div.counts aria-label="findings by kind" {
            @for (kind, n) in &s.findings_by_kind {
                span { (kind) ": " b { (n) } }
            }
        }
    }
}

/// The matrix, one `<details>` per role group (two for large groups).
fn groups(report: &AuditReport, plan: &EffectivePlan, cols: &[Column], found: &FindingIndex, ports: &PortList) -> Markup {
    let mut by_role: BTreeMap<String, Vec<&NodeSummary>> = BTreeMap::new();
    for n in &report.nodes {
        by_role.entry(n.roles.join(", ")).or_default().push(n);
    }
    let has_findings = |n: &NodeSummary| report.findings.iter().any(|f| f.address == n.address);
    html! {
        @for (role, nodes) in &by_role {
            @let (bad, good): (Vec<&NodeSummary>, Vec<&NodeSummary>) = nodes.iter().partition(|n| has_findings(n));
            @if nodes.len() > OPEN_GROUP {
                @if !bad.is_empty() {
                    (group(&format!("{role}: {} of {} nodes with findings", bad.len(), nodes.len()), true, &bad, report, plan, cols, found, ports))
                }
                @if !good.is_empty() {
                    (group(&format!("{role}: {} nodes without findings", good.len()), false, &good, report, plan, cols, found, ports))
                }
            } @else {
                (group(&format!("{role}: {} nodes, {} with findings", nodes.len(), bad.len()), true, nodes, report, plan, cols, found, ports))
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn group(label: &str, open: bool, nodes: &[&NodeSummary], report: &AuditReport, plan: &EffectivePlan, cols: &[Column], found: &FindingIndex, ports: &PortList) -> Markup {
    html! {
        details.group open[open] {
            summary { (label) }
            table.matrix {
                thead {
                    tr {
                        th scope="col" { "node" }
                        @for c in cols {
                            th.col scope="col" title=(c.entries.iter().map(|e| format!("{} ({}): {}", e.component, e.audience, e.purpose)).collect::<Vec<_>>().join("; ")) {
                                (c.entry()) " " small { (c.components()) }
                            }
                        }
                        th scope="col" { "NodePorts open" }
                    }
                }
                tbody {
                    @for n in nodes {
                        (row(n, report, plan, cols, found, ports))
                    }
                }
            }
        }
    }
}

fn row(n: &NodeSummary, report: &AuditReport, plan: &EffectivePlan, cols: &[Column], found: &FindingIndex, ports: &PortList) -> Markup {
    let address = n.address.to_string();
    let node_findings = found.get(&(address.clone(), String::new(), 0));
    html! {
        tr data-node=(n.name) data-address=(address) data-status=(n.status.as_str()) {
            th.node scope="row" {
                (n.name) " " span.muted.mono { (address) }
                @if n.status != NodeStatus::Up { " " span.down { "(" (n.status.as_str()) ")" } }
                @if let Some(fs) = node_findings { @for f in fs { " " (severity_label(f.severity.as_str())) " " (f.kind) } }
            }
            @for c in cols {
                (cell(n, &address, c, report, found, ports))
            }
            (strip(n, report, plan, ports))
        }
    }
}

fn cell(n: &NodeSummary, address: &str, c: &Column, report: &AuditReport, found: &FindingIndex, ports: &PortList) -> Markup {
    let seen = report.scan.lookup(n.address, c.protocol, c.port, ports);
    let state = seen.map(|(s, _)| s.as_str()).unwrap_or("not-scanned");
    let observed = seen.map(|(s, r)| format!("{} ({})", s.as_str(), r.as_str())).unwrap_or_else(|| "not scanned".into());
    let expected = expectation(report, &n.roles, c);
    let fs = found.get(&(address.to_string(), c.protocol.to_string(), c.port));
    let worst = fs.and_then(|fs| worst(fs));
    let class = match worst {
        Some(s) => format!("{} sev-{s}", expected.class()),
        None => expected.class().to_string(),
    };
    // A cell with a finding says everything in its title (hover, focus,
    // assistive technology); the others' words come from their class.
    let title = fs.map(|fs| {
        let mut t = format!("{} {}: expected {}; observed {observed}", n.name, c.entry(), expected.words());
        for f in fs {
            t.push_str(&format!("; {} ({}): {}", f.kind, f.severity, f.message));
        }
        t
    });
    html! {
        td data-cell data-node=(n.name) data-entry=(c.entry()) data-state=(state) class=(class) title=[title] tabindex=[worst.map(|_| 0)] {
            (state_glyph(state)) @if let Some(s) = worst { (severity_mark(s.as_str())) }
        }
    }
}

/// Which ports of the NodePort range answer on a node: a strip with a
/// tick per open run, and the ports as text.
fn strip(n: &NodeSummary, report: &AuditReport, plan: &EffectivePlan, ports: &PortList) -> Markup {
    let range = plan.nodeport_range;
    let mut runs: Vec<(u16, u16)> = Vec::new();
    let mut scanned = 0u32;
    for p in range.ports() {
        match report.scan.lookup(n.address, Protocol::Tcp, p, ports) {
            Some((crate::report::State::Open, _)) => match runs.last_mut() {
                Some((_, end)) if *end + 1 == p => *end = p,
                _ => runs.push((p, p)),
            },
            Some(_) => {}
            None => continue,
        }
        scanned += 1;
    }
    let open: u32 = runs.iter().map(|(a, b)| (*b - *a) as u32 + 1).sum();
    let text = runs.iter().map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect::<Vec<_>>().join(",");
    let width = range.len();
    let label = if scanned == 0 { "NodePort range not scanned".to_string() } else if open == 0 { format!("none of {scanned} NodePorts open") } else { format!("{open} of {scanned} NodePorts open: {text}") };
    html! {
        td.strip-cell data-nodeports=(text) {
            svg.strip viewBox=(format!("0 0 {width} 10")) preserveAspectRatio="none" role="img" aria-label=(label) {
                title { (label) }
                @for (a, b) in &runs {
                    rect x=(a - range.start) width=(((b - a) as usize + 1).max(width / 200)) height="10" {}
                }
            }
            small { @if open == 0 { "none" } @else { (open) " open" @if runs.len() <= 4 { ": " (text) } } }
        }
    }
}

fn findings(report: &AuditReport) -> Markup {
    let mut roles: Vec<&str> = report.nodes.iter().flat_map(|n| n.roles.iter().map(String::as_str)).collect();
    roles.sort_unstable();
    roles.dedup();
    let mut components: Vec<&str> = report.findings.iter().map(|f| f.component.as_str()).collect();
    components.sort_unstable();
    components.dedup();
    html! {
        section #findings-section aria-labelledby="findings-h" {
            h2 #findings-h { "Findings (" (report.findings.len()) ")" }
            form #filters hidden aria-label="filter findings" {
                fieldset { legend { "Severity" }
                    @for s in Severity::ALL.iter().rev() { label { input type="checkbox" name="severity" value=(s) checked; " " (s) } }
                }
                fieldset { legend { "Kind" }
                    @for k in FindingKind::ALL { label { input type="checkbox" name="kind" value=(k) checked; " " (k) } }
                }
                label { "Node or address " input type="search" name="node" size="14"; }
                label { "Role " select name="role" { option value="" { "any" } @for r in &roles { option value=(r) { (r) } } } }
                label { "Component " select name="component" { option value="" { "any" } @for c in &components { option value=(c) { (c) } } } }
                button type="reset" { "Show all" }
            }
            p #shown aria-live="polite" { (report.findings.len()) " findings" }
            @if report.findings.is_empty() {
                p { "No findings." }
            }
            table #findings .findings {
                caption.muted { "Sorted by address, protocol, port; the column buttons sort (with JavaScript)." }
                thead { tr {
                    th scope="col" { button type="button" data-sort="severity" { "Severity" } }
                    th scope="col" { button type="button" data-sort="kind" { "Kind" } }
                    th scope="col" { button type="button" data-sort="node" { "Node" } }
                    th scope="col" { button type="button" data-sort="address" { "Address" } }
                    th scope="col" { button type="button" data-sort="role" { "Roles" } }
                    th scope="col" { button type="button" data-sort="port" { "Port" } }
                    th scope="col" { button type="button" data-sort="component" { "Component" } }
                    th scope="col" { "Observed" }
                    th scope="col" { "Expected" }
                    th scope="col" { "Explanation" }
                } }
                tbody {
                    @for (i, f) in report.findings.iter().enumerate() {
                        @let a = FindingAttrs::of(f);
                        tr data-finding=(i) data-kind=(f.kind) data-severity=(f.severity) data-node=(f.node) data-address=(a.address) data-protocol=(a.protocol) data-port=(a.port) data-roles=(a.roles) data-component=(f.component) {
                            td { (severity_label(f.severity.as_str())) }
                            td { (f.kind) }
                            td { (f.node) }
                            td.mono { (a.address) }
                            td { (a.roles) }
                            td.port { (f.port_label()) }
                            td { (f.component) }
                            td { (f.observed_label()) }
                            td { (f.expected) }
                            td.msg { (f.message) br; span.hint { (f.hint) } }
                        }
                    }
                }
            }
        }
    }
}
