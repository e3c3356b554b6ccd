//! One function per subcommand; shared plumbing for running a scan.
mod audit;
mod bench;
mod demo;
mod diff;
mod matrix;
mod plan;
mod scan;

use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use clap::CommandFactory;
use portsweep::report::{render_csv, render_json, render_table, write_output, OutputFormat, ScanReport};

use crate::cli::{Cli, Command, LabAction, OutputArgs};
use crate::Failure;

pub fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Merge(args) => merge(args),
        Command::Matrix(args) => matrix::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Lab { action: LabAction::Clean } => {
            let removed = portsweep::lab::Lab::clean_stale().map_err(Failure::runtime)?;
            println!("removed {} stale lab namespace(s){}", removed.len(), if removed.is_empty() { String::new() } else { format!(": {}", removed.join(", ")) });
            Ok(0)
        }
        Command::Lab { action: LabAction::Exec { scenario, command } } => lab_exec(&scenario, &command),
        Command::Lab { action: LabAction::Bench(args) } => bench::run(args),
        Command::Lab { action: LabAction::Floor(args) } => bench::floor(args),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "portsweep", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man { dir } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display())).map_err(Failure::runtime)?;
            clap_mangen::generate_to(Cli::command(), &dir).with_context(|| format!("writing man pages to {}", dir.display())).map_err(Failure::runtime)?;
            println!("man pages written to {}", dir.display());
            Ok(0)
        }
    }
}

/// SIGINT/SIGTERM set the returned flag (the scan stops and writes what it
/// has); a second signal exits at once.
pub fn stop_flag() -> Result<Arc<AtomicBool>, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone()).map_err(Failure::runtime)?;
        signal_hook::flag::register(sig, stop.clone()).map_err(Failure::runtime)?;
    }
    Ok(stop)
}

/// Renders and writes a report as the output flags ask.
pub fn emit(report: &ScanReport, out: &OutputArgs) -> Result<(), Failure> {
    let format = out.format.unwrap_or(if out.output.is_none() && std::io::stdout().is_terminal() { OutputFormat::Table } else { OutputFormat::Json });
    let text = match format {
        OutputFormat::Table => render_table(report),
        OutputFormat::Json => render_json(report),
        OutputFormat::Csv => render_csv(report),
    };
    write_output(out.output.as_deref(), &text)
        .with_context(|| match &out.output {
            Some(p) => format!("writing {}", p.display()),
            None => "writing to stdout".into(),
        })
        .map_err(Failure::runtime)
}

/// Builds the lab, runs `command` in its scanner namespace, tears it down
/// (also when the command fails or SIGINT arrives), and returns its code.
fn lab_exec(scenario: &std::path::Path, command: &[String]) -> Result<u8, Failure> {
    let scenario = portsweep::lab::Scenario::load(scenario).map_err(Failure::input)?;
    // While the command runs, SIGINT goes to it (same process group); we
    // only need to survive it to clean up.
    let _stop = stop_flag()?;
    let lab = portsweep::lab::Lab::build(&scenario).context("building the lab").map_err(Failure::runtime)?;
    eprintln!("lab {} ({}): scanner namespace {}", lab.name, scenario.name, lab.scanner_ns());
    let status = std::process::Command::new("ip")
        .args(["netns", "exec", lab.scanner_ns()])
        .args(command)
        .status()
        .with_context(|| format!("running {}", command.join(" ")))
        .map_err(Failure::runtime)?;
    drop(lab);
    Ok(status.code().map(|c| c as u8).unwrap_or(1))
}

/// `portsweep merge`: shard reports into one.
fn merge(args: crate::cli::MergeArgs) -> Result<u8, Failure> {
    let mut reports = Vec::new();
    for p in &args.reports {
        let name = p.display().to_string();
        let text = std::fs::read_to_string(p).with_context(|| format!("reading {name}")).map_err(Failure::input)?;
        // An audit report carries its scan: shards of an audit merge too.
        let r = portsweep::diff::AnyReport::from_json(&text, &name).map_err(Failure::input)?.scan().clone();
        reports.push((name, r));
    }
    let merged = portsweep::report::merge::merge(&reports).map_err(Failure::input)?;
    emit(&merged, &args.output)?;
    Ok(if merged.complete { 0 } else { 130 })
}
