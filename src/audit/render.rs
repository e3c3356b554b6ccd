//! Rendering an [`AuditReport`]: a table for a terminal, JSON for tools,
//! JUnit XML for CI test views, Markdown for CI job summaries (HTML, and
//! the door to all five, is `crate::render`).
//!
//! All four render the same report; only JUnit needs the plan too, because
//! its test cases are the node's planned entries (one per entry, port or
//! range), and the report lists findings, not what passed.
//!
//! JUnit is written with `quick-junit` (escaping, counts and the schema's
//! attribute order are its job). Each test case carries at most ONE `<failure>`, listing
//! every finding of the case in its text: the common JUnit schemas allow one
//! failure per case, and Jenkins, Azure DevOps and GitHub report actions
//! show only the first of several. A case has several findings only for a
//! range entry (etcd 2379-2380, the NodePort range).

use super::{AuditReport, Finding, FindingKind, NodeStatus, NodeSummary, Severity};
use crate::plan::{EffectivePlan, PlanEntry};
use std::fmt::Write as _;

/// The output formats of `portsweep audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    Junit,
    Markdown,
    /// One self-contained page (`crate::render`).
    Html,
}

/// The report as pretty JSON, newline-terminated.
pub fn render_json(report: &AuditReport) -> String {
    // Plain data (string keys, no non-finite floats reach here in practice);
    // keep an error path rather than panic.
    let mut s = serde_json::to_string_pretty(report)
        .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()));
    s.push('\n');
    s
}

fn findings_of<'a>(
    report: &'a AuditReport,
    node: &'a NodeSummary,
) -> impl Iterator<Item = &'a Finding> + 'a {
    report
        .findings
        .iter()
        .filter(move |f| f.address == node.address)
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn count(map: &std::collections::BTreeMap<String, u64>, key: &str) -> u64 {
    map.get(key).copied().unwrap_or(0)
}

/// Per node: a header line, then its findings grouped by severity (most
/// severe first), each with its message and hint; then the summary lines.
pub fn render_table(report: &AuditReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "portsweep audit: phase {}, from {}, {}",
        report.phase, report.from, report.options
    );
    // Nodes without findings are named on one line at the end: on a
    // 250-node cluster the table should show the problems, not the roll call.
    let mut clean = Vec::new();
    for node in &report.nodes {
        let findings: Vec<&Finding> = findings_of(report, node).collect();
        if findings.is_empty() {
            clean.push(node.name.as_str());
            continue;
        }
        let _ = writeln!(
            s,
            "\n{} ({}) [{}] {}: {}",
            node.name,
            node.address,
            node.roles.join(","),
            node.status.as_str(),
            plural(findings.len() as u64, "finding", "findings")
        );
        for sev in Severity::ALL.iter().rev() {
            let group: Vec<&&Finding> = findings.iter().filter(|f| f.severity == *sev).collect();
            if group.is_empty() {
                continue;
            }
            let _ = writeln!(s, "  {sev}:");
            for f in group {
                let _ = writeln!(
                    s,
                    "    {:<11} {:<11} {:<24} {:<28} expected {}",
                    f.kind.as_str(),
                    f.port_label(),
                    f.component,
                    f.observed_label(),
                    f.expected
                );
                let _ = writeln!(s, "        {}", f.message);
                let _ = writeln!(s, "        hint: {}", f.hint);
            }
        }
    }
    if !clean.is_empty() {
        let _ = writeln!(s, "\nno findings on {}: {}", plural(clean.len() as u64, "node", "nodes"), clean.join(", "));
    }
    let sum = &report.summary;
    let _ = writeln!(
        s,
        "\n{} ({} up, {} down, {} not scanned), {} checked",
        plural(sum.nodes, "node", "nodes"),
        sum.nodes_up,
        sum.nodes_down,
        sum.nodes_not_scanned,
        plural(sum.ports_checked, "port", "ports")
    );
    let sev: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|v| format!("{} {v}", count(&sum.findings_by_severity, v.as_str())))
        .collect();
    let kinds: Vec<String> = FindingKind::ALL
        .iter()
        .map(|k| format!("{k} {}", count(&sum.findings_by_kind, k.as_str())))
        .collect();
    let _ = writeln!(
        s,
        "{}: {}; {}",
        plural(sum.findings, "finding", "findings"),
        sev.join(", "),
        kinds.join(", ")
    );
    s
}

/// A Markdown table cell: `|` escaped, line breaks and HTML brackets made
/// harmless, so a value can never break the table.
fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' | '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A heading, a summary table, a findings-by-kind table and a findings
/// table (one row per finding), for `$GITHUB_STEP_SUMMARY` and the like.
pub fn render_markdown(report: &AuditReport) -> String {
    let sum = &report.summary;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## portsweep audit: {} (phase `{}`, from `{}`)\n",
        plural(sum.findings, "finding", "findings"),
        report.phase,
        report.from
    );
    let _ = writeln!(s, "Cluster options: `{}`\n", md(&report.options));
    s.push_str("| Nodes | Up | Down | Not scanned | Ports checked | Errors | Warnings | Info |\n");
    s.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
        sum.nodes,
        sum.nodes_up,
        sum.nodes_down,
        sum.nodes_not_scanned,
        sum.ports_checked,
        count(&sum.findings_by_severity, "error"),
        count(&sum.findings_by_severity, "warning"),
        count(&sum.findings_by_severity, "info")
    );
    s.push_str("| Kind | Findings |\n|---|---:|\n");
    for k in FindingKind::ALL {
        let _ = writeln!(s, "| {k} | {} |", count(&sum.findings_by_kind, k.as_str()));
    }
    s.push_str("\n### Findings\n\n");
    if report.findings.is_empty() {
        s.push_str("No findings.\n");
        return s;
    }
    s.push_str(
        "| Severity | Kind | Node | Address | Port | Component | Observed | Expected | Message | Hint |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|\n");
    for f in &report.findings {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.severity,
            f.kind,
            md(&f.node),
            f.address,
            f.port_label(),
            md(&f.component),
            md(&f.observed_label()),
            md(&f.expected),
            md(&f.message),
            md(&f.hint)
        );
    }
    s
}

/// Text for the JUnit document: quick-junit drops C0 controls and ANSI
/// escapes; the two non-characters XML 1.0 also forbids are dropped here.
fn xml(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, '\u{FFFE}' | '\u{FFFF}')).collect()
}

/// One `<testcase>` before writing: its name and what happened.
struct Case<'a> {
    name: String,
    outcome: Outcome<'a>,
}

enum Outcome<'a> {
    Passed,
    Skipped(&'static str),
    Failed(Vec<&'a Finding>),
}

/// Which of the node's planned entries a finding concerns: an entry
/// covering its port, preferably one of the same component.
fn entry_of(entries: &[&PlanEntry], f: &Finding) -> Option<usize> {
    let proto = f.protocol?;
    let covers = |e: &&PlanEntry| e.protocol == proto && e.port.contains(f.port);
    entries
        .iter()
        .position(|e| covers(e) && e.component == f.component)
        .or_else(|| entries.iter().position(covers))
}

fn node_cases<'a>(
    report: &'a AuditReport,
    plan: &'a EffectivePlan,
    node: &'a NodeSummary,
) -> Vec<Case<'a>> {
    let entries: Vec<&PlanEntry> = plan.entries_for_roles(&node.roles).collect();
    let mut per_entry: Vec<Vec<&Finding>> = vec![Vec::new(); entries.len()];
    let mut unreachable = Vec::new();
    let mut unplanned = Vec::new();
    for f in findings_of(report, node) {
        if f.kind == FindingKind::Unreachable {
            unreachable.push(f);
        } else if let Some(i) = entry_of(&entries, f) {
            per_entry[i].push(f);
        } else {
            unplanned.push(f);
        }
    }
    let skip = match node.status {
        NodeStatus::Up => None,
        NodeStatus::Down => Some("the node is unreachable"),
        NodeStatus::NotScanned => Some("the node was not scanned"),
    };
    let mut cases = vec![Case {
        name: "node answers".to_string(),
        outcome: match (node.status, unreachable.is_empty()) {
            (_, false) => Outcome::Failed(unreachable),
            (NodeStatus::NotScanned, true) => Outcome::Skipped("the node was not scanned"),
            _ => Outcome::Passed,
        },
    }];
    for (e, found) in entries.iter().zip(per_entry) {
        cases.push(Case {
            name: format!("{}/{} {} ({})", e.port, e.protocol, e.component, e.audience),
            outcome: match (found.is_empty(), skip) {
                (false, _) => Outcome::Failed(found),
                (true, Some(why)) => Outcome::Skipped(why),
                (true, None) => Outcome::Passed,
            },
        });
    }
    for f in unplanned {
        cases.push(Case {
            name: format!(
                "{} {} (not planned for this node)",
                f.port_label(),
                f.component
            ),
            outcome: Outcome::Failed(vec![f]),
        });
    }
    cases
}

/// JUnit XML: one `<testsuite>` per node; in it a "node answers" case, one
/// case per planned entry of the node's roles (a port or a range), and one
/// per finding on a port the node's plan lacks. A case fails when findings
/// concern it (one `<failure>` listing them all, see the module doc); the
/// entries of a down or unscanned node are skipped.
pub fn render_junit(report: &AuditReport, plan: &EffectivePlan) -> String {
    let mut junit = quick_junit::Report::new(xml(&format!("portsweep audit ({} from {})", report.phase, report.from)));
    for node in &report.nodes {
        junit.add_test_suite(suite(node, &node_cases(report, plan, node)));
    }
    // Serialising to memory fails only on an I/O error of the writer.
    let mut s = junit.to_string().unwrap_or_else(|e| format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- {} -->\n", xml(&e.to_string()).replace("--", "- -")));
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

/// One node's `<testsuite>`: its properties and a case per planned port.
fn suite(node: &NodeSummary, cases: &[Case]) -> quick_junit::TestSuite {
    let mut suite = quick_junit::TestSuite::new(xml(&format!("{} ({})", node.name, node.address)));
    suite.add_property(quick_junit::Property::new("roles", xml(&node.roles.join(","))));
    suite.add_property(quick_junit::Property::new("status", node.status.as_str()));
    let classname = xml(&format!("portsweep.audit.{}", node.name));
    suite.add_test_cases(cases.iter().map(|c| test_case(&classname, c)));
    suite
}

/// One `<testcase>`: passed, skipped with why, or failed once listing
/// every finding of the case.
fn test_case(classname: &str, case: &Case) -> quick_junit::TestCase {
    use quick_junit::{NonSuccessKind, TestCaseStatus};
    let status = match &case.outcome {
        Outcome::Passed => TestCaseStatus::success(),
        Outcome::Skipped(why) => {
            let mut st = TestCaseStatus::skipped();
            st.set_message(*why);
            st
        }
        Outcome::Failed(found) => {
            let mut kinds: Vec<&str> = found.iter().map(|f| f.kind.as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            let message = match found.as_slice() {
                [one] => one.message.clone(),
                many => format!("{} findings", many.len()),
            };
            let body: Vec<String> = found
                .iter()
                .map(|f| format!("[{}] {} {} {}: {} Observed {}, expected {}. Hint: {}", f.severity, f.kind, f.port_label(), f.component, f.message, f.observed_label(), f.expected, f.hint))
                .collect();
            let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
            st.set_type(xml(&kinds.join(","))).set_message(xml(&message)).set_description(xml(&body.join("\n")));
            st
        }
    };
    let mut tc = quick_junit::TestCase::new(xml(&case.name), status);
    tc.set_classname(classname);
    tc
}
