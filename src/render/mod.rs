//! Rendering reports for people: the self-contained HTML page of a scan,
//! an audit or a diff, the one door every audit format goes through
//! (`portsweep audit`, `merge`, `demo` and `report` call [`audit`]), and
//! [`SavedReport`], any report file read back to be rendered again.
//!
//! Why it is shaped so:
//! * It sits above `report`, `audit` and `diff` (it reads all three and
//!   none of them reads it), so `portsweep report` can render any saved
//!   report again without each kind growing its own HTML.
//! * The page is built with maud, whose templates escape every value by
//!   default: node names, inventory fields and (once identification lands)
//!   banners come from files and the network. Nothing is concatenated
//!   into markup by hand; data for the script is JSON with `<`, `>`, `&`
//!   and the line separators escaped ([`page::json_for_script`]).
//! * One file that fetches nothing: the style and the script are inline and
//!   allowed by their SHA-256 in a Content-Security-Policy whose
//!   `default-src 'none'` forbids every fetch, so a hostile value that
//!   escaped the templates still could not load or send anything.
//! * Everything is in the HTML; the script only filters, sorts and opens
//!   groups for printing, so the page reads the same without JavaScript.
//! * A DOM contract for tests and tools (README, "The HTML report"): every
//!   finding element carries `data-finding`, `data-kind`, `data-severity`,
//!   `data-node`, `data-address`, `data-protocol`, `data-port`; every
//!   matrix cell `data-cell`, `data-node`, `data-entry`, `data-state`.
mod audit_html;
mod diff_html;
mod page;
mod saved;
mod scan_html;

use crate::audit::{AuditFormat, AuditReport};
use crate::plan::EffectivePlan;

pub use audit_html::audit as audit_html;
pub use diff_html::diff as diff_html;
pub use saved::SavedReport;
pub use scan_html::scan as scan_html;

/// Renders an audit report in `format` (`plan` is read by JUnit and the
/// HTML matrix: the report records findings, not what passed).
pub fn audit(report: &AuditReport, plan: &EffectivePlan, format: AuditFormat) -> String {
    match format {
        AuditFormat::Table => crate::audit::render_table(report),
        AuditFormat::Json => crate::audit::render_json(report),
        AuditFormat::Junit => crate::audit::render_junit(report, plan),
        AuditFormat::Markdown => crate::audit::render_markdown(report),
        AuditFormat::Html => audit_html(report, plan),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Phase, Vantage};
    use crate::inventory::{Inventory, Node};
    use crate::plan::Plan;
    use crate::report::{HostReport, HostStatus, PortReport, Reason, ScanReport, State};
    use crate::space::Protocol;

    const EVIL: &str = r#"<script>window.__pwned=1</script></script>"onmouseover="x" '><img src=x onerror=y>javascript:z&amp;"#;

    /// One worker named `EVIL`, healthy (kube-proxy open, VXLAN silent)
    /// but for its kubelet, firewalled (`blocked`), and a squatter on
    /// 31000 (`unexpected`).
    fn hostile_audit() -> (AuditReport, EffectivePlan) {
        let plan = Plan::builtin().effective(&"cni=flannel,lb=none,addons=none".parse().unwrap());
        let address = std::net::Ipv4Addr::new(198, 19, 1, 1).into();
        let inventory = Inventory::from_nodes([Node::new(EVIL, address, &["worker"])]);
        let ports = crate::audit::scan_ports(&plan);
        let host = HostReport {
            address,
            name: None,
            status: HostStatus::Up,
            default_state: State::Closed,
            default_reason: Reason::Rst,
            ports: vec![
                PortReport { port: 10250, protocol: Protocol::Tcp, state: State::Filtered, reason: Reason::NoResponse, ttl: None, service: None },
                PortReport { port: 10256, protocol: Protocol::Tcp, state: State::Open, reason: Reason::SynAck, ttl: None, service: None },
                PortReport { port: 31000, protocol: Protocol::Tcp, state: State::Open, reason: Reason::SynAck, ttl: None, service: None },
                PortReport { port: 8472, protocol: Protocol::Udp, state: State::OpenFiltered, reason: Reason::NoResponse, ttl: None, service: None },
            ],
            udp_unresolved: Vec::new(),
        };
        let mut scan = ScanReport::for_test(&ports.to_spec(), vec![host]);
        scan.args = vec![EVIL.into()];
        let mut report = AuditReport::build(&plan, &inventory, &[], Phase::Post, Vantage::ControlPlane, scan);
        report.findings[0].message = EVIL.into();
        (report, plan)
    }

    #[test]
    fn hostile_values_are_escaped_text() {
        let (report, plan) = hostile_audit();
        assert_eq!(report.findings.len(), 2, "{:?}", report.findings);
        let page = audit(&report, &plan, AuditFormat::Html);
        assert_eq!(page.matches("<script").count(), 2, "only the data and the code");
        assert!(!page.contains("<img") && !page.contains("<script>window") && !page.contains("\"onmouseover=\"x\""));
        assert!(page.contains("&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;/script&gt;&quot;onmouseover=&quot;x&quot; '&gt;&lt;img src=x onerror=y&gt;javascript:z&amp;amp;"), "the name and message as text");
        assert_eq!(page.matches(" data-finding=").count(), 2);
        // The firewalled kubelet's cell and the squatter in the strip.
        assert!(page.contains(r#"data-entry="10250/tcp" data-state="filtered" class="x-must sev-error""#), "kubelet must answer the control plane");
        assert!(page.contains(r#"data-nodeports="31000""#));
    }

    #[test]
    fn every_audit_format_goes_through_one_door() {
        let (report, plan) = hostile_audit();
        assert_eq!(audit(&report, &plan, AuditFormat::Table), crate::audit::render_table(&report));
        assert_eq!(audit(&report, &plan, AuditFormat::Json), crate::audit::render_json(&report));
        assert_eq!(audit(&report, &plan, AuditFormat::Junit), crate::audit::render_junit(&report, &plan));
        assert_eq!(audit(&report, &plan, AuditFormat::Markdown), crate::audit::render_markdown(&report));
        assert!(audit(&report, &plan, AuditFormat::Html).starts_with("<!DOCTYPE html>"));
    }

    #[test]
    fn a_scan_page_lists_every_listed_port_as_a_cell() {
        let (report, _) = hostile_audit();
        let page = scan_html(&report.scan);
        assert_eq!(page.matches(" data-cell ").count(), 4);
        assert!(page.contains(r#"data-entry="31000/tcp" data-state="open""#));
    }

    /// An identified port shows its service, evidence and all, as text.
    #[test]
    fn a_scan_page_names_the_service_that_answered() {
        use crate::report::{Auth, Confidence, Service};
        let (mut report, _) = hostile_audit();
        let squatter = Service { name: "nginx".into(), product: Some(EVIL.into()), version: Some("1.22.1".into()), confidence: Confidence::Certain, evidence: EVIL.into(), auth: Auth::Unknown, tls: None };
        report.scan.hosts[0].ports[2].service = Some(squatter);
        let page = scan_html(&report.scan);
        assert_eq!(page.matches(r#"<small class="service""#).count(), 1);
        assert!(page.contains("nginx [&lt;script&gt;window.__pwned=1"), "the product as text");
        assert!(!page.contains("<img") && !page.contains("<script>window"));
    }
}
