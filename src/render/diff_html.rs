//! The diff page: hosts that went up or down, ports whose state changed
//! (before and after side by side) and, for audits, the findings that
//! appeared, disappeared or changed severity, in three columns.
use maud::{html, Markup};

use super::page::{self, severity_label, FindingAttrs};
use crate::audit::Finding;
use crate::diff::Diff;

/// The page of a diff.
pub fn diff(d: &Diff) -> String {
    let m = &d.summary;
    let title = format!("portsweep diff: {} → {}", d.before, d.after);
    let f = d.findings.as_ref();
    let data = serde_json::json!({"kind": "diff", "findings": f.map(|f| f.appeared.len() + f.disappeared.len() + f.severity_changed.len()).unwrap_or(0)});
    let header = html! {
        h1 { "portsweep diff" }
        dl.meta {
            dt { "Before" } dd { code { (d.before) } }
            dt { "After" } dd { code { (d.after) } }
            dt { "Compared" } dd { (m.pairs_compared) " pairs: " (m.ports_changed) " ports changed, " (m.hosts_changed) " hosts changed" }
            @if m.pairs_only_before + m.pairs_only_after > 0 { dt { "Not compared" } dd { (m.pairs_only_before) " pairs only before, " (m.pairs_only_after) " only after" } }
            @if f.is_some() { dt { "Findings" } dd { "+" (m.findings_appeared) " appeared, −" (m.findings_disappeared) " disappeared, ~" (m.findings_severity_changed) " changed severity" } }
            dt { "Scanner" } dd { "portsweep " (d.portsweep) }
        }
        @if d.is_empty() { p { b { "No change." } } }
    };
    let main = html! {
        @if let Some(f) = f {
            section aria-labelledby="findings-h" {
                h2 #findings-h { "Findings" }
                div.diff-cols {
                    (column("Appeared", "appeared", f.appeared.iter().map(|x| (x, None))))
                    (column("Disappeared", "disappeared", f.disappeared.iter().map(|x| (x, None))))
                    (column("Severity changed", "severity-changed", f.severity_changed.iter().map(|x| (&x.finding, Some(x.before.as_str())))))
                }
            }
        }
        section aria-labelledby="hosts-h" {
            h2 #hosts-h { "Hosts (" (d.hosts.len()) ")" }
            @if d.hosts.is_empty() { p.muted { "No host went up or down." } } @else {
                table { thead { tr { th scope="col" { "Address" } th scope="col" { "Name" } th scope="col" { "Before" } th scope="col" { "After" } } }
                    tbody { @for h in &d.hosts { tr data-host-change data-address=(h.address.to_string()) { th.mono scope="row" { (h.address.to_string()) } td { @if let Some(n) = &h.name { (n) } } td { (h.before) } td { (h.after) } } } }
                }
            }
        }
        section aria-labelledby="ports-h" {
            h2 #ports-h { "Ports (" (d.ports.len()) ")" }
            @if d.ports.is_empty() { p.muted { "No port changed state." } } @else {
                table { thead { tr { th scope="col" { "Address" } th scope="col" { "Name" } th scope="col" { "Port" } th scope="col" { "Before" } th scope="col" { "After" } } }
                    tbody { @for p in &d.ports {
                        tr data-port-change data-address=(p.address.to_string()) data-protocol=(p.protocol) data-port=(p.port) data-before=(p.before.state.as_str()) data-after=(p.after.state.as_str()) {
                            th.mono scope="row" { (p.address.to_string()) } td { @if let Some(n) = &p.name { (n) } } td.port { (p.port) "/" (p.protocol) }
                            td { (p.before.state.as_str()) " (" (p.before.reason.as_str()) ")" } td { "→ " (p.after.state.as_str()) " (" (p.after.reason.as_str()) ")" }
                        }
                    } }
                }
            }
        }
    };
    page::page(&title, header, main, data)
}

fn column<'a>(title: &str, change: &str, items: impl ExactSizeIterator<Item = (&'a Finding, Option<&'a str>)>) -> Markup {
    html! {
        div {
            h3 { (title) " (" (items.len()) ")" }
            ul {
                @for (f, before) in items {
                    @let a = FindingAttrs::of(f);
                    li class=(change) data-finding data-change=(change) data-kind=(f.kind) data-severity=(f.severity) data-node=(f.node) data-address=(a.address) data-protocol=(a.protocol) data-port=(a.port) data-component=(f.component) {
                        (severity_label(f.severity.as_str()))
                        @if let Some(b) = before { " (was " (b) ")" }
                        " " b { (f.kind) } " " (f.node) " " span.mono { (a.address) " " (f.port_label()) } " " (f.component)
                        br; span.muted { (f.message) }
                    }
                }
            }
        }
    }
}
