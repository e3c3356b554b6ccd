//! `portsweep diff BEFORE AFTER`: what changed between two reports.
use std::io::IsTerminal;

use anyhow::Context;
use portsweep::diff::{diff, render_markdown, render_table, AnyReport};
use portsweep::report::write_output;

use crate::cli::{DiffArgs, DiffFormat};
use crate::Failure;

pub fn run(args: DiffArgs) -> Result<u8, Failure> {
    let load = |p: &std::path::Path| -> Result<AnyReport, Failure> { AnyReport::load(p).map_err(Failure::input) };
    let (before, after) = (load(&args.before)?, load(&args.after)?);
    let d = diff(&before, &after, (&args.before.display().to_string(), &args.after.display().to_string()));
    let format = args.format.unwrap_or(if args.output.is_none() && std::io::stdout().is_terminal() { DiffFormat::Table } else { DiffFormat::Json });
    let text = match format {
        DiffFormat::Table => render_table(&d),
        DiffFormat::Markdown => render_markdown(&d),
        DiffFormat::Json => serde_json::to_string_pretty(&d).context("rendering the diff").map_err(Failure::runtime)? + "\n",
    };
    write_output(args.output.as_deref(), &text).context("writing the diff").map_err(Failure::runtime)?;
    Ok(if d.is_empty() { 0 } else { 1 })
}
