//! `portsweep report INPUT.json`: a saved report (scan, audit, merged
//! shards, diff, matrix) rendered again in any format its kind has,
//! without scanning. The format follows `--output` and `--format` exactly
//! as in the commands that wrote the report (`output::plan`), checked
//! against the formats of the kind the file turns out to be.
use anyhow::anyhow;
use clap::ValueEnum;
use portsweep::audit::AuditFormat;
use portsweep::render::SavedReport;
use portsweep::report::OutputFormat;

use super::{destinations, write_all};
use crate::cli::{DiffFormat, MatrixFormat, ReportArgs, ReportFormat};
use crate::Failure;

pub fn run(args: ReportArgs) -> Result<u8, Failure> {
    let name = args.input.display().to_string();
    let saved = SavedReport::load(&args.input).map_err(Failure::input)?;
    let kind = saved.kind();
    match saved {
        SavedReport::Scan(report) => {
            let d = destinations(kind, &args.output, format_of::<OutputFormat>(kind, args.format)?, false)?;
            write_all(&d, |f| super::render_scan(&report, f))?;
            super::closing_line(&format!("{name}: scan of {} hosts rendered again", report.hosts.len()), &d);
        }
        SavedReport::Audit(report) => {
            let d = destinations(kind, &args.output, format_of::<AuditFormat>(kind, args.format)?, false)?;
            let plan = super::plan::recorded(&name, &report.options, args.plan.as_deref())?;
            write_all(&d, |f| portsweep::render::audit(&report, &plan, f))?;
            super::closing_line(&format!("{name}: audit of {} nodes, {} findings, rendered again", report.summary.nodes, report.summary.findings), &d);
        }
        SavedReport::Diff(diff) => {
            let d = destinations(kind, &args.output, format_of::<DiffFormat>(kind, args.format)?, false)?;
            write_all(&d, |f| super::diff::render(&diff, f))?;
            super::closing_line(&format!("{name}: diff of {} ports and {} hosts changed, rendered again", diff.ports.len(), diff.hosts.len()), &d);
        }
        SavedReport::Matrix(m) => {
            let d = destinations(kind, &args.output, format_of::<MatrixFormat>(kind, args.format)?, false)?;
            write_all(&d, |f| super::matrix::render(&m, f))?;
            super::closing_line(&format!("{name}: matrix of {} cells rendered again", m.cells.len()), &d);
        }
    }
    Ok(0)
}

/// `--format` as the report kind's own format, or the error naming the
/// formats that kind has.
fn format_of<F: ValueEnum + Copy>(kind: &str, format: Option<ReportFormat>) -> Result<Option<F>, Failure> {
    let Some(format) = format else { return Ok(None) };
    let name = |v: &dyn Fn() -> Option<clap::builder::PossibleValue>| v().map(|p| p.get_name().to_string()).unwrap_or_default();
    let wanted = name(&|| format.to_possible_value());
    if let Some(f) = F::value_variants().iter().copied().find(|f| name(&|| f.to_possible_value()) == wanted) {
        return Ok(Some(f));
    }
    let names: Vec<String> = F::value_variants().iter().map(|f| name(&|| f.to_possible_value())).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Err(Failure::input(anyhow!("--format {wanted}: {kind} reports are written as {}", portsweep::words::one_of(&names))))
}
