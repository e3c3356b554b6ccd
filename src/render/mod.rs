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
