//! `portsweep demo`: build a small simulated cluster in network namespaces,
//! audit it (or scan it, for scan-only scenarios) from inside the lab, print
//! the result and how it compares with the lab's ground truth, and tear
//! everything down (also on Ctrl-C).
use portsweep::wire::payload::PayloadTable;
use std::path::Path;

use anyhow::{anyhow, Context};
use clap::Parser;
use portsweep::audit::AuditFormat;
use portsweep::lab::verify::{finding_keys, verify, verify_audit};
use portsweep::lab::{Lab, Scenario};
use portsweep::output::Destination;
use portsweep::report::OutputFormat;

use super::{audit, emit, scan, stop_flag};
use crate::cli::{Cli, Command, DemoArgs, EngineArgs, Rate};
use crate::sockets::Sockets;
use crate::Failure;

const BUILTIN: &str = include_str!("../../fixtures/scenarios/demo.toml");
const BUILTIN_INVENTORY: &str = include_str!("../../fixtures/inventories/lab-cluster.ini");

/// Where the demo's report goes: a scan's or an audit's formats.
enum Outputs {
    Scan(Vec<Destination<OutputFormat>>),
    Audit(Vec<Destination<AuditFormat>>),
}

pub fn run(args: DemoArgs) -> Result<u8, Failure> {
    // The built-in scenario's inventory is compiled in too, so the demo
    // works from any directory; it is written to a temporary file.
    let tmp = tempfile::tempdir().context("creating a temporary directory").map_err(Failure::runtime)?;
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path).map_err(Failure::input)?,
        None => {
            let mut s = Scenario::parse(BUILTIN, "fixtures/scenarios/demo.toml", "demo").map_err(Failure::input)?;
            if let Some(a) = s.audit.as_mut() {
                let inv = tmp.path().join("lab-cluster.ini");
                std::fs::write(&inv, BUILTIN_INVENTORY).context("writing the demo inventory").map_err(Failure::runtime)?;
                a.inventory = inv;
            }
            s
        }
    };
    // The demo prints a table unless told otherwise (checked before building).
    let out = &args.output;
    let table = out.output.is_empty() && out.format.is_none();
    let destinations = match scenario.audit.is_some() {
        true => Outputs::Audit(if table { vec![Destination { path: None, format: AuditFormat::Table }] } else { super::destinations("audit", &out.output, super::audit_format(out.format)?, false)? }),
        false => Outputs::Scan(if table { vec![Destination { path: None, format: OutputFormat::Table }] } else { super::destinations("scan", &out.output, out.format, false)? }),
    };
    let stop = stop_flag()?;
    // A second Ctrl-C exits at once and leaves the namespaces: a later run
    // removes those of processes that are gone.
    let _ = Lab::clean_stale();
    eprintln!("demo: building lab {:?}: {}", scenario.name, scenario.description.trim());
    let lab = Lab::build(&scenario).context("building the lab").map_err(Failure::runtime)?;
    let code = match &destinations {
        Outputs::Audit(d) => run_audit(&scenario, &lab, d, stop),
        Outputs::Scan(d) => run_scan(&scenario, &lab, d, stop),
    };
    drop(lab);
    eprintln!("demo: lab torn down");
    code
}

fn run_scan(scenario: &Scenario, lab: &Lab, destinations: &[Destination<OutputFormat>], stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Result<u8, Failure> {
    let space = scan::parse_space(&scenario.targets, &scenario.exclude, &scenario.ports)?;
    let engine = demo_engine()?;
    eprintln!("demo: scanning {} hosts × {} ports from namespace {}", space.hosts.len(), space.ports.len(), lab.scanner_ns());
    let argv: Vec<String> = std::env::args().collect();
    let report = lab.in_scanner(move || scan::execute(space, &engine, PayloadTable::builtin(), &mut Sockets::keeping_privileges(), stop, argv, None)).map_err(|e| Failure::runtime(anyhow!(e).context("entering the scanner namespace")))??;
    emit(&report, destinations)?;
    let v = verify(scenario, &report, true);
    println!("ground truth: {}", v.summary(10));
    Ok(if !report.complete {
        130
    } else if v.is_exact() {
        0
    } else {
        1
    })
}

/// The engine settings of `portsweep scan` with `--rate max`.
fn demo_engine() -> Result<EngineArgs, Failure> {
    match Cli::try_parse_from(["portsweep", "scan", "198.18.0.1", "-p", "1", "--rate", "max"]) {
        Ok(Cli { command: Command::Scan(a) }) => Ok(EngineArgs { rate: Rate(None), ..a.engine }),
        _ => Err(Failure::runtime(anyhow!("internal: demo engine arguments do not parse"))),
    }
}

fn run_audit(scenario: &Scenario, lab: &Lab, destinations: &[Destination<AuditFormat>], stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Result<u8, Failure> {
    let spec = scenario.audit.as_ref().ok_or_else(|| Failure::runtime(anyhow!("no audit in the scenario")))?;
    let mut argv: Vec<String> = vec!["portsweep".into(), "audit".into(), "--inventory".into(), path(&spec.inventory)];
    if let Some(s) = &spec.services {
        argv.extend(["--services".into(), path(s)]);
    }
    argv.extend(spec.args.iter().cloned());
    argv.extend(["--rate".into(), "max".into()]);
    let audit_args = match Cli::try_parse_from(&argv) {
        Ok(Cli { command: Command::Audit(a) }) => a,
        Ok(_) => return Err(Failure::input(anyhow!("scenario {}: not an audit", scenario.name))),
        Err(e) => return Err(Failure::input(anyhow!("scenario {}: audit arguments: {e}", scenario.name))),
    };
    eprintln!("demo: {} from namespace {}", argv[1..].join(" "), lab.scanner_ns());
    let (report, plan) = lab
        .in_scanner(|| audit::execute(&audit_args, &mut Sockets::keeping_privileges(), stop, argv.clone(), None))
        .map_err(|e| Failure::runtime(anyhow!(e).context("entering the scanner namespace")))??;
    let report = report.ok_or_else(|| Failure::runtime(anyhow!("the audit did not run")))?;
    super::write_all(destinations, |f| portsweep::render::audit(&report, &plan, f))?;
    let v = verify_audit(scenario, &report.scan, true);
    let got = finding_keys(&report);
    let expected_found = got == spec.findings;
    println!("ground truth: scan {}; findings {}", v.summary(10), if expected_found { format!("{}/{} as expected", got.len(), spec.findings.len()) } else { format!("DIFFER\n  expected: {:?}\n  reported: {:?}", spec.findings, got) });
    Ok(if !report.scan.complete {
        130
    } else if v.is_exact() && expected_found {
        0
    } else {
        1
    })
}

fn path(p: &Path) -> String {
    p.display().to_string()
}
