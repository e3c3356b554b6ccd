//! One function per subcommand; shared plumbing for running a scan.
mod audit;
mod bench;
mod demo;
mod diff;
mod matrix;
mod plan;
mod report;
mod scan;

use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;
use clap::CommandFactory;
use portsweep::audit::AuditFormat;
use portsweep::output::{self, Destination};
use portsweep::report::{render_csv, render_json, render_table, OutputFormat, ScanReport};
use portsweep::resolve::{self, Query, Resolved};

use crate::cli::{Cli, Command, LabAction, ResolveArgs};
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
        Command::Report(args) => report::run(args),
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

/// Where a report of `kind` goes, from `--output` and `--format`; checked
/// before any work (bad input: exit 2), directories too unless `dry_run`.
pub fn destinations<F: clap::ValueEnum + Copy + PartialEq>(kind: &str, specs: &[String], format: Option<F>, dry_run: bool) -> Result<Vec<Destination<F>>, Failure> {
    let destinations = output::plan(kind, specs, format, std::io::stdout().is_terminal()).map_err(Failure::input)?;
    if !dry_run {
        output::check_directories(&destinations).map_err(Failure::input)?;
    }
    Ok(destinations)
}

/// Writes a report to every destination; a file that fails does not stop
/// the others, and all failures make one runtime error (exit 3).
pub fn write_all<F: Copy + PartialEq>(destinations: &[Destination<F>], render: impl FnMut(F) -> String) -> Result<(), Failure> {
    output::write_all(destinations, render).map_err(Failure::runtime)
}

/// Writes a scan report to every destination, then the closing line.
pub fn emit(report: &ScanReport, destinations: &[Destination<OutputFormat>]) -> Result<(), Failure> {
    write_all(destinations, |f| render_scan(report, f))?;
    let up = report.hosts.iter().filter(|h| h.status == portsweep::report::HostStatus::Up).count();
    // A shard probes only its share of the pairs: its counts would mix
    // them with the defaults of pairs it never probed.
    let states: Vec<String> = match report.shard.as_str() {
        "1/1" => report.state_counts().iter().map(|(s, n)| format!("{n} {}", s.as_str())).collect(),
        shard => vec![format!("shard {shard} (merge the shards for the counts)")],
    };
    closing_line(
        &format!(
            "{} hosts ({up} up, {} down) × {} ports: {} in {:.2} s{}",
            report.hosts.len(),
            report.hosts.len() - up,
            report.port_list().map(|p| p.len()).unwrap_or(0),
            states.join(", "),
            report.stats.duration_s,
            if report.complete { "" } else { " (interrupted)" }
        ),
        destinations,
    );
    Ok(())
}

/// A scan report in one of its formats.
pub fn render_scan(report: &ScanReport, format: OutputFormat) -> String {
    match format {
        OutputFormat::Table => render_table(report),
        OutputFormat::Json => render_json(report),
        OutputFormat::Csv => render_csv(report),
        OutputFormat::Html => portsweep::render::scan_html(report),
    }
}

/// When a report went to files, one line on stderr says what it holds and
/// where it went (nmap's "Nmap done"): stdout may be a pipe or nothing.
pub fn closing_line<F>(summary: &str, destinations: &[Destination<F>]) {
    let files: Vec<String> = destinations.iter().filter_map(|d| d.path.as_ref()).map(|p| p.display().to_string()).collect();
    if !files.is_empty() {
        eprintln!("portsweep: {summary}; report written to {}", files.join(", "));
    }
}

/// The size a report's files are checked for before the work starts: a
/// generous allowance per host (a host's line, its listed ports, names) on
/// top of a fixed part.
pub fn estimated_report_bytes(hosts: u64) -> u64 {
    64 * 1024 + hosts * 512
}

/// `--format` of a command whose report may be an audit (merge, demo):
/// the scan formats an audit has too.
pub fn audit_format(format: Option<OutputFormat>) -> Result<Option<AuditFormat>, Failure> {
    match format {
        None => Ok(None),
        Some(OutputFormat::Table) => Ok(Some(AuditFormat::Table)),
        Some(OutputFormat::Json) => Ok(Some(AuditFormat::Json)),
        Some(OutputFormat::Html) => Ok(Some(AuditFormat::Html)),
        Some(OutputFormat::Csv) => Err(Failure::input(anyhow::anyhow!("--format csv: audit reports are written as table, json, junit, markdown or html (by --output's extension)"))),
    }
}

/// Resolves the host names of a run as `--resolve` and
/// `--resolve-timeout` say (a name that gives no address: exit 2), and
/// warns about AAAA records that are not scanned.
pub fn resolve_names(queries: &[Query], args: &ResolveArgs) -> Result<Resolved, Failure> {
    let resolved = resolve::resolve(queries, args.resolve, args.resolve_timeout).map_err(Failure::input)?;
    for (name, a) in &resolved.ipv6_skipped {
        eprintln!("portsweep: {name}: {a} not scanned: host names are not resolved to IPv6 yet (give the IPv6 address as a target)");
    }
    Ok(resolved)
}

/// The dry-run lines about host names: how many, to how many addresses,
/// how long it took, and the first few.
pub fn names_summary(resolved: &Resolved) -> String {
    if resolved.is_empty() {
        return String::new();
    }
    let labels = resolved.labels();
    let mut s = format!("host names: {} resolved to {} addresses in {} ms\n", resolved.len(), resolved.address_count(), resolved.elapsed.as_millis());
    let mut by_name: Vec<(&String, Vec<String>)> = Vec::new();
    for (a, n) in &labels {
        match by_name.iter_mut().find(|(m, _)| *m == n) {
            Some((_, v)) => v.push(a.to_string()),
            None => by_name.push((n, vec![a.to_string()])),
        }
    }
    for (n, addrs) in by_name.iter().take(10) {
        s += &format!("  {n} → {}\n", addrs.join(", "));
    }
    if by_name.len() > 10 {
        s += &format!("  … and {} more\n", by_name.len() - 10);
    }
    s
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
        let destinations = destinations("scan", &args.output.output, args.output.format, false)?;
        emit(&merged, &destinations)?;
        return Ok(if merged.complete { 0 } else { 130 });
    }
    if audits.len() != scans.len() {
        return Err(Failure::input(anyhow::anyhow!("mixed scan and audit reports: merge one kind at a time")));
    }
    let destinations = destinations("audit", &args.output.output, audit_format(args.output.format)?, false)?;
    let (first_name, first) = &audits[0];
    for (name, a) in &audits[1..] {
        if (a.phase, a.from, &a.options) != (first.phase, first.from, &first.options) || a.nodes.iter().map(|n| (&n.name, n.address, &n.roles)).ne(first.nodes.iter().map(|n| (&n.name, n.address, &n.roles))) {
            return Err(Failure::input(anyhow::anyhow!("{name}: phase, vantage, cluster options or nodes differ from {first_name}'s")));
        }
    }
    let plan = plan::recorded(first_name, &first.options, args.plan.as_deref())?;
    let inventory = portsweep::inventory::Inventory::from_nodes(first.nodes.iter().map(|n| portsweep::inventory::Node { name: n.name.clone(), address: n.address, roles: n.roles.clone() }));
    let services = match &args.services {
        Some(p) => portsweep::inventory::load_services(p).map_err(Failure::input)?,
        None => Vec::new(),
    };
    let mut report = portsweep::audit::AuditReport::build(&plan, &inventory, &services, first.phase, first.from, merged);
    report.vantage_node = first.vantage_node.clone();
    write_all(&destinations, |f| portsweep::render::audit(&report, &plan, f))?;
    Ok(if report.scan.complete { 0 } else { 130 })
}

/// The identification stage after a sweep, with one line on stderr saying
/// what it did (the report itself carries the services).
pub fn identify_stage(report: &mut portsweep::report::ScanReport, settings: &portsweep::identify::Settings) {
    let s = portsweep::identify::identify_report(report, settings);
    if s.ports > 0 {
        eprintln!("portsweep: identified {} of {} open ports in {:.2} s", s.named, s.ports, s.duration.as_secs_f64());
    }
    if s.answer_everything > 0 {
        eprintln!(
            "portsweep: {} host(s) answered on most of the scanned ports (a SYN proxy or tarpit?): not identified, more than {} open ports",
            s.answer_everything,
            portsweep::identify::MAX_DEFAULT_OPEN_PORTS
        );
    }
}
