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

/// `portsweep merge`: shard reports into one. Scan shards give the scan
/// one run would have produced; audit shards give the audit (findings
/// judged again over the merged scan, with the nodes, phase, vantage and
/// cluster options the shards recorded).
fn merge(args: crate::cli::MergeArgs) -> Result<u8, Failure> {
    use portsweep::diff::AnyReport;
    let mut scans = Vec::new();
    let mut audits = Vec::new();
    for p in &args.reports {
        let name = p.display().to_string();
        match AnyReport::load(p).map_err(Failure::input)? {
            AnyReport::Scan(s) => scans.push((name, *s)),
            AnyReport::Audit(a) => {
                scans.push((name.clone(), a.scan.clone()));
                audits.push((name, a));
            }
        }
    }
    let merged = portsweep::report::merge::merge(&scans).map_err(Failure::input)?;
    if audits.is_empty() {
        emit(&merged, &args.output)?;
        return Ok(if merged.complete { 0 } else { 130 });
    }
    if audits.len() != scans.len() {
        return Err(Failure::input(anyhow::anyhow!("mixed scan and audit reports: merge one kind at a time")));
    }
    let (first_name, first) = &audits[0];
    for (name, a) in &audits[1..] {
        if (a.phase, a.from, &a.options) != (first.phase, first.from, &first.options) || a.nodes.iter().map(|n| (&n.name, n.address, &n.roles)).ne(first.nodes.iter().map(|n| (&n.name, n.address, &n.roles))) {
            return Err(Failure::input(anyhow::anyhow!("{name}: phase, vantage, cluster options or nodes differ from {first_name}'s")));
        }
    }
    let options: portsweep::plan::ClusterOptions = first.options.parse().map_err(|e| Failure::input(anyhow::anyhow!("{first_name}: options {:?}: {e}", first.options)))?;
    let mut plan = portsweep::plan::Plan::builtin();
    if let Some(p) = &args.plan {
        plan = plan.merge_user(portsweep::plan::Plan::from_file(p).map_err(Failure::input)?);
    }
    let plan = plan.effective(&options);
    let inventory = portsweep::inventory::Inventory::from_nodes(first.nodes.iter().map(|n| portsweep::inventory::Node { name: n.name.clone(), address: n.address, roles: n.roles.clone() }));
    let services = match &args.services {
        Some(p) => portsweep::inventory::load_services(p).map_err(Failure::input)?,
        None => Vec::new(),
    };
    let mut report = portsweep::audit::AuditReport::build(&plan, &inventory, &services, first.phase, first.from, merged);
    report.vantage_node = first.vantage_node.clone();
    let format = match args.output.format {
        Some(OutputFormat::Table) => portsweep::audit::AuditFormat::Table,
        Some(_) => portsweep::audit::AuditFormat::Json,
        None if args.output.output.is_none() && std::io::stdout().is_terminal() => portsweep::audit::AuditFormat::Table,
        None => portsweep::audit::AuditFormat::Json,
    };
    write_output(args.output.output.as_deref(), &portsweep::audit::render(&report, &plan, format)).context("writing the merged audit").map_err(Failure::runtime)?;
    Ok(if report.scan.complete { 0 } else { 130 })
}
