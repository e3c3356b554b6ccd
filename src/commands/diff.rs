//! `portsweep diff BEFORE AFTER`: what changed between two reports.
use portsweep::diff::{diff, render_markdown, render_table, AnyReport, Diff};

use crate::cli::{DiffArgs, DiffFormat};
use crate::Failure;

pub fn run(args: DiffArgs) -> Result<u8, Failure> {
    let destinations = super::destinations("diff", &args.output, args.format, false)?;
    let load = |p: &std::path::Path| -> Result<AnyReport, Failure> { AnyReport::load(p).map_err(Failure::input) };
    let (before, after) = (load(&args.before)?, load(&args.after)?);
    let d = diff(&before, &after, (&args.before.display().to_string(), &args.after.display().to_string()));
    super::write_all(&destinations, |f| render(&d, f))?;
    Ok(if d.is_empty() { 0 } else { 1 })
}

/// A diff in one of its formats.
pub fn render(d: &Diff, format: DiffFormat) -> String {
    match format {
        DiffFormat::Table => render_table(d),
        DiffFormat::Markdown => render_markdown(d),
        DiffFormat::Html => portsweep::render::diff_html(d),
        // Plain data: serialising cannot fail; keep an error path anyway.
        DiffFormat::Json => serde_json::to_string_pretty(d).unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string())) + "\n",
    }
}
