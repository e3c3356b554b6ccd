//! `portsweep demo`: build a small simulated cluster in network namespaces,
//! scan it from inside the lab, print the report and how it compares with
//! the lab's ground truth, and tear everything down (also on Ctrl-C).
use anyhow::{anyhow, Context};
use portsweep::lab::{verify::verify, Lab, Scenario};
use portsweep::report::{render_table, OutputFormat};

use super::{emit, scan, stop_flag};
use crate::cli::{DemoArgs, EngineArgs, Rate};
use crate::Failure;

const BUILTIN: &str = include_str!("../../fixtures/scenarios/demo.toml");

pub fn run(args: DemoArgs) -> Result<u8, Failure> {
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path).map_err(Failure::input)?,
        None => Scenario::parse(BUILTIN, "fixtures/scenarios/demo.toml", "demo").map_err(Failure::input)?,
    };
    let stop = stop_flag()?;
    // A second Ctrl-C exits at once and leaves the namespaces: a later run
    // removes those of processes that are gone.
    let _ = Lab::clean_stale();
    eprintln!("demo: building lab {:?}: {}", scenario.name, scenario.description.trim());
    let lab = Lab::build(&scenario).context("building the lab").map_err(Failure::runtime)?;
    let space = scan::parse_space(&scenario.targets, &scenario.exclude, &scenario.ports)?;
    let engine = EngineArgs { rate: Rate(None), retries: 8, icmp_wait: std::time::Duration::from_secs(30), wait: None, interface: None, source_ip: None, seed: None, senders: None };
    eprintln!("demo: scanning {} hosts × {} ports from namespace {}", space.hosts.len(), space.ports.len(), lab.scanner_ns());
    let argv: Vec<String> = std::env::args().collect();
    let report = lab
        .in_scanner(move || scan::execute(space, &engine, stop, argv))
        .map_err(|e| Failure::runtime(anyhow!(e).context("entering the scanner namespace")))??;
    drop(lab);
    eprintln!("demo: lab torn down");
    match args.output.format {
        None | Some(OutputFormat::Table) if args.output.output.is_none() => print!("{}", render_table(&report)),
        _ => emit(&report, &args.output)?,
    }
    let v = verify(&scenario, &report, true);
    println!("ground truth: {}", v.summary(10));
    Ok(if !report.complete {
        130
    } else if v.is_exact() {
        0
    } else {
        1
    })
}
