//! `portsweep audit`: who is which node (inventory), what each role must
//! and must not expose (plan), what the nodes answer (scan), and the
//! findings in between.
use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use portsweep::audit::{self, AuditFormat, AuditReport};
use portsweep::inventory::{load_services, Inventory};
use portsweep::report::write_output;
use portsweep::space::{HostSet, ScanSpace};

use super::{plan, scan, stop_flag};
use crate::cli::AuditArgs;
use crate::sockets::Sockets;
use crate::Failure;

pub fn run(args: AuditArgs) -> Result<u8, Failure> {
    let stop = stop_flag()?;
    // One set of sockets for every round of `--every`: opened by the first
    // scan, which then gives up every privilege for good.
    let mut sockets = Sockets::dropping_privileges();
    loop {
        let started = std::time::Instant::now();
        let (report, plan) = execute(&args, &mut sockets, stop.clone(), std::env::args().collect())?;
        sockets.idle();
        let format = args.format.unwrap_or(if args.output.is_none() && std::io::stdout().is_terminal() { AuditFormat::Table } else { AuditFormat::Json });
        let Some(report) = report else { return Ok(0) };
        write_output(args.output.as_deref(), &audit::render(&report, &plan, format))
            .with_context(|| format!("writing {}", args.output.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "to stdout".into())))
            .map_err(Failure::runtime)?;
        let code = if report.scan.complete { report.exit_code(args.fail_on) } else { 130 };
        // `--every`: audit again until stopped (the DaemonSet's mode).
        let Some(every) = args.every else { return Ok(code) };
        while started.elapsed() < every {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(code);
            }
            std::thread::sleep(std::time::Duration::from_millis(200).min(every));
        }
    }
}

/// The inventory from files and flags, merged.
pub fn inventory(args: &AuditArgs) -> Result<Inventory, Failure> {
    let mut inv = Inventory::from_cli(&[("control-plane", &args.control_plane[..]), ("worker", &args.worker[..]), ("registry", &args.registry[..])]).map_err(Failure::input)?;
    for path in &args.inventory {
        inv = inv.merge(Inventory::load(path).map_err(Failure::input)?);
    }
    if inv.is_empty() {
        return Err(Failure::input(anyhow!("no nodes: give --inventory FILE or --control-plane/--worker/--registry")));
    }
    Ok(inv)
}

/// Runs the audit's scan and builds the report; `None` for a dry run
/// (which prints what it would do).
pub fn execute(args: &AuditArgs, sockets: &mut Sockets, stop: Arc<AtomicBool>, argv: Vec<String>) -> Result<(Option<AuditReport>, portsweep::plan::EffectivePlan), Failure> {
    let inventory = inventory(args)?;
    let services = match &args.services {
        Some(path) => load_services(path).map_err(Failure::input)?,
        None => Vec::new(),
    };
    let plan = plan::effective(&args.cluster)?;
    portsweep::wire::payload::register_custom(plan.udp_payloads.iter().map(|(p, b)| (*p, b.clone())).collect());
    let ports = audit::scan_ports(&plan);
    let hosts = HostSet::from_ranges(inventory.nodes.iter().map(|n| (u32::from(n.address), u32::from(n.address))).collect());
    let space = ScanSpace::new(hosts, ports);
    if let Some(path) = &args.scan_report {
        let scan = portsweep::diff::AnyReport::load(path).map_err(Failure::input)?.scan().clone();
        let mut report = AuditReport::build(&plan, &inventory, &services, args.phase, args.from, scan);
        report.vantage_node = args.vantage_node.clone();
        return Ok((Some(report), plan));
    }
    if args.dry_run {
        println!(
            "{} nodes ({}), {} ports each ({}) = {} probes in the first pass",
            inventory.len(),
            inventory.roles().into_iter().collect::<Vec<_>>().join(", "),
            space.ports.len(),
            space.ports.to_spec(),
            space.len()
        );
        return Ok((None, plan));
    }
    let scan = scan::execute(space, &args.engine, sockets, stop, argv, args.output.as_deref())?;
    let mut report = AuditReport::build(&plan, &inventory, &services, args.phase, args.from, scan);
    report.vantage_node = args.vantage_node.clone();
    Ok((Some(report), plan))
}
