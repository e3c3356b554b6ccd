//! The scan page: the run in a header, then one row per host with its
//! default state and every listed (non-default) port as a cell of the DOM
//! contract, so the page holds the whole report, losslessly.
use maud::{html, Markup};

use super::page::{self, legend, state_glyph, thousands};
use crate::report::{HostStatus, ScanReport};

/// The page of a scan report.
pub fn scan(report: &ScanReport) -> String {
    let up = report.hosts.iter().filter(|h| h.status == HostStatus::Up).count();
    let title = format!("portsweep scan: {} hosts ({up} up), ports {}", report.hosts.len(), report.ports);
    let data = serde_json::json!({"kind": "scan", "hosts": report.hosts.len()});
    page::page(&title, header(report, up), hosts(report), data)
}

pub(super) fn scan_meta(report: &ScanReport) -> Markup {
    let st = &report.stats;
    html! {
        dt { "Ports" } dd { code { (report.ports) } }
        dt { "Started" } dd { (report.started) }
        dt { "Finished" } dd { (report.finished) }
        dt { "Duration" } dd { (format!("{:.2} s", st.duration_s)) ", " (thousands(st.probes_sent)) " probes, " (st.passes) " passes, " (thousands(st.replies)) " replies, " (st.invalid_replies) " invalid" }
        dt { "Seed, shard" } dd { (report.seed) ", " (report.shard) }
        dt { "Command" } dd { code { (report.args.join(" ")) } }
        dt { "Scanner" } dd { "portsweep " (report.portsweep) ", report format " (report.format_version) }
    }
}

fn header(report: &ScanReport, up: usize) -> Markup {
    html! {
        h1 { "portsweep scan " span.badge class=(if report.complete { "complete" } else { "interrupted" }) { (if report.complete { "complete" } else { "interrupted: partial results" }) } }
        dl.meta {
            dt { "Hosts" } dd { (report.hosts.len()) " (" (up) " up, " (report.hosts.len() - up) " down)" }
            (scan_meta(report))
        }
        div.counts aria-label="pairs by state" {
            @for (s, n) in report.state_counts() { span { (state_glyph(s.as_str())) " " (s.as_str()) ": " b { (thousands(n)) } } }
            @if report.stats.udp_unresolved > 0 { span { "UDP unresolved: " b { (report.stats.udp_unresolved) } } }
        }
    }
}

fn hosts(report: &ScanReport) -> Markup {
    html! {
        section aria-labelledby="hosts-h" {
            h2 #hosts-h { "Hosts" }
            (legend())
            table.hosts {
                thead { tr { th scope="col" { "Address" } th scope="col" { "Name" } th scope="col" { "Status" } th scope="col" { "Every other port" } th scope="col" { "Listed ports" } } }
                tbody {
                    @for h in &report.hosts {
                        @let address = h.address.to_string();
                        @let label = h.name.clone().unwrap_or_else(|| address.clone());
                        tr data-node=(label) data-address=(address) {
                            th.mono scope="row" { (address) }
                            td { @if let Some(n) = &h.name { (n) } }
                            td { @if h.status == HostStatus::Up { "up" } @else { b { "down" } } }
                            td { (state_glyph(h.default_state.as_str())) " " (h.default_state.as_str()) " (" (h.default_reason.as_str()) ")" }
                            td { div.chips {
                                @for p in &h.ports {
                                    span data-cell data-node=(label) data-entry=(format!("{}/{}", p.port, p.protocol)) data-state=(p.state.as_str()) class=(format!("state-{}", p.state.as_str().replace('|', "-"))) title=(format!("{}/{} {} ({})", p.port, p.protocol, p.state.as_str(), p.reason.as_str())) {
                                        (state_glyph(p.state.as_str())) " " (p.port) "/" (p.protocol)
                                        @if h.udp_unresolved.binary_search(&p.port).is_ok() && p.protocol == crate::space::Protocol::Udp { " (unresolved)" }
                                        @if let Some(service) = &p.service { " " small.service title=(service.evidence) { (service.label()) } }
                                    }
                                }
                            } }
                        }
                    }
                }
            }
        }
    }
}
