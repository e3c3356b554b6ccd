//! `portsweep matrix`: node × node reachability from per-node audits.
use anyhow::Context;
use portsweep::audit::matrix::{matrix, render_table, Matrix};
use portsweep::audit::AuditReport;

use crate::cli::{MatrixArgs, MatrixFormat};
use crate::Failure;

pub fn run(args: MatrixArgs) -> Result<u8, Failure> {
    let mut files = args.reports.clone();
    if let Some(dir) = &args.dir {
        let entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display())).map_err(Failure::input)?;
        let mut found: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
        found.sort();
        files.extend(found);
    }
    let mut reports = Vec::new();
    for f in &files {
        let text = portsweep::bounded::read_text(f, portsweep::bounded::REPORT_FILE, "report").map_err(Failure::input)?;
        match serde_json::from_str::<AuditReport>(&text) {
            Ok(r) => reports.push(r),
            Err(e) => return Err(Failure::input(anyhow::anyhow!("{}: not an audit report: {e}", f.display()))),
        }
    }
    if reports.is_empty() {
        return Err(Failure::input(anyhow::anyhow!("no audit reports given")));
    }
    let m = matrix(&reports);
    print!("{}", render(&m, args.format));
    Ok(if m.cells.iter().all(|c| c.ok) { 0 } else { 1 })
}

/// The matrix in one of its formats.
pub fn render(m: &Matrix, format: MatrixFormat) -> String {
    match format {
        MatrixFormat::Table => render_table(m),
        // Plain data: serialising cannot fail; keep an error path anyway.
        MatrixFormat::Json => serde_json::to_string_pretty(m).unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string())) + "\n",
    }
}
