//! `portsweep audit`: who is which node (inventory), what each role must
//! and must not expose (plan), what the nodes answer (scan), and the
//! findings in between.
use portsweep::wire::payload::PayloadTable;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::anyhow;
use portsweep::audit::{self, AuditReport};
use portsweep::inventory::kube::{KubeApi, KubeError};
use portsweep::inventory::{load_services, Inventory, InventoryError};
use portsweep::metrics::AuditMetrics;
use portsweep::output::{self, first_file};
use portsweep::resolve::Resolved;
use portsweep::space::{HostSet, ScanSpace};

use super::{plan, scan, stop_flag};
use crate::cli::AuditArgs;
use crate::sockets::Sockets;
use crate::Failure;

pub fn run(args: AuditArgs) -> Result<u8, Failure> {
    // Checked before the inventory is read or a packet sent.
    let destinations = super::destinations("audit", &args.output, args.format, args.dry_run)?;
    if !args.dry_run {
        // The node count is known only once the inventory is read: check for
        // the fixed part here (the report of a few hundred nodes is small).
        output::check_space(&destinations, super::estimated_report_bytes(256)).map_err(Failure::input)?;
    }
    let stop = stop_flag()?;
    let metrics = Arc::new(AuditMetrics::new());
    // Bound before the first audit (a port in use is an error at once),
    // served after it (see metrics::MetricsListener).
    let mut listener = match args.metrics_addr.filter(|_| !args.dry_run) {
        Some(addr) => Some(portsweep::metrics::bind(addr).map_err(|e| Failure::input(anyhow!("--metrics-addr {addr}: {e}")))?),
        None => None,
    };
    let mut _server = None;
    // One set of sockets for every round of `--every`: opened by the first
    // scan, which then gives up every privilege for good.
    let mut sockets = Sockets::dropping_privileges();
    let mut code = 0;
    for round in 1u64.. {
        let started = std::time::Instant::now();
        let started_at = std::time::SystemTime::now();
        // The first round fails the command (a wrong flag, file or
        // privilege shows at once); later ones are counted, said and
        // retried at the next interval, as a DaemonSet must.
        let later = round > 1 && args.every.is_some();
        let failed = |failure: Failure, cause: &str| -> Result<(), Failure> {
            if !later {
                return Err(failure);
            }
            eprintln!("portsweep: audit round {round} failed ({cause}): {}", crate::message(&failure.error));
            metrics.record_error(cause);
            Ok(())
        };
        match audit_once(&args, &mut sockets, stop.clone(), first_file(&destinations)) {
            Ok(None) => return Ok(0),
            Ok(Some((report, plan))) => {
                // Recorded before the outputs are written: a full disk
                // must not freeze the metrics of scans that succeed.
                metrics.record_audit(&report, started_at);
                match write_outputs(&args, &report, &plan, &destinations) {
                    Ok(round_code) => code = round_code,
                    Err(failure) => failed(failure, "output")?,
                }
            }
            Err((failure, cause)) => failed(failure, cause)?,
        }
        if let Some(path) = &args.textfile {
            if let Err(e) = portsweep::metrics::write_textfile(path, &metrics.exposition()) {
                failed(Failure::runtime(anyhow!("--textfile {}: {e}", path.display())), "output")?;
            }
        }
        // Served once the first round's outputs, the textfile included, are
        // written: whoever scrapes the first audit finds its files too.
        if let Some(l) = listener.take() {
            let addr = l.local_addr().map_err(|e| Failure::runtime(anyhow!("--metrics-addr: {e}")))?;
            _server = Some(l.serve(metrics.clone()).map_err(|e| Failure::runtime(anyhow!("--metrics-addr {addr}: {e}")))?);
        }
        // `--every`: audit again until stopped (the DaemonSet's mode).
        let Some(every) = args.every else { return Ok(code) };
        while started.elapsed() < every {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(code);
            }
            std::thread::sleep(std::time::Duration::from_millis(200).min(every));
        }
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(code);
        }
    }
    Ok(code)
}

/// One audit: scan and judge. The report and its plan, or `None` for a
/// dry run; a failure with its cause for the metrics (`kube_api`,
/// `input`, `scan`).
fn audit_once(args: &AuditArgs, sockets: &mut Sockets, stop: Arc<AtomicBool>, checkpoint_near: Option<&Path>) -> Result<Option<(AuditReport, portsweep::plan::EffectivePlan)>, (Failure, &'static str)> {
    let (report, plan) = execute(args, sockets, stop, std::env::args().collect(), checkpoint_near).map_err(|f| {
        let cause = if f.error.downcast_ref::<InventoryError>().is_some_and(|e| matches!(e, InventoryError::Kube(_))) {
            "kube_api"
        } else if f.code == 2 {
            "input"
        } else {
            "scan"
        };
        (f, cause)
    })?;
    sockets.idle();
    Ok(report.map(|r| (r, plan)))
}

/// Every output of one audit and its closing line; the exit code.
fn write_outputs(args: &AuditArgs, report: &AuditReport, plan: &portsweep::plan::EffectivePlan, destinations: &[output::Destination<portsweep::audit::AuditFormat>]) -> Result<u8, Failure> {
    // Every format from the one report of this sweep.
    super::write_all(destinations, |f| portsweep::render::audit(report, plan, f))?;
    let s = &report.summary;
    let severities: Vec<String> = s.findings_by_severity.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {k}")).collect();
    super::closing_line(
        &format!(
            "audit of {} nodes ({} up, {} down): {} findings{} in {:.2} s{}",
            s.nodes,
            s.nodes_up,
            s.nodes_down,
            s.findings,
            if severities.is_empty() { String::new() } else { format!(" ({})", severities.join(", ")) },
            report.scan.stats.duration_s,
            if report.scan.complete { "" } else { " (interrupted)" }
        ),
        destinations,
    );
    Ok(if report.scan.complete { report.exit_code(args.fail_on) } else { 130 })
}

/// `kube` in place of a file: the Kubernetes API (a file named kube is
/// `./kube`).
fn is_api(path: &Path) -> bool {
    path.as_os_str() == "kube"
}

/// A failure reading the API: its configuration is bad input, the rest
/// (unreachable, refused, forbidden) a runtime error.
fn kube_failure(e: InventoryError) -> Failure {
    match e {
        InventoryError::Kube(KubeError::Config(_)) => Failure::input(e),
        InventoryError::Kube(_) => Failure::runtime(e),
        other => Failure::input(other),
    }
}

/// The API client of this round, built once if `--inventory kube` or
/// `--services kube` asks for it.
fn kube_api(args: &AuditArgs) -> Result<Option<KubeApi>, Failure> {
    let wanted = args.inventory.iter().any(|p| is_api(p)) || args.services.as_deref().is_some_and(is_api);
    if !wanted {
        return Ok(None);
    }
    KubeApi::connect(&args.kube.access()).map(Some).map_err(|e| kube_failure(e.into()))
}

/// The inventory from files, the API and flags, merged, its host names
/// resolved (with what they resolved to).
pub fn inventory(args: &AuditArgs, api: Option<&KubeApi>) -> Result<(Inventory, Resolved), Failure> {
    let mut inv = Inventory::from_cli(&[("control-plane", &args.control_plane[..]), ("worker", &args.worker[..]), ("registry", &args.registry[..])]).map_err(Failure::input)?;
    for path in &args.inventory {
        let more = match api.filter(|_| is_api(path)) {
            Some(api) => api.nodes().map_err(kube_failure)?,
            None => Inventory::load(path).map_err(Failure::input)?,
        };
        inv = inv.merge(more);
    }
    if inv.is_empty() {
        return Err(Failure::input(anyhow!("no nodes: give --inventory FILE or --control-plane/--worker/--registry")));
    }
    let resolved = super::resolve_names(&inv.queries(), &args.resolve)?;
    let mut inv = inv.resolve(&resolved).map_err(Failure::input)?;
    inv.nodes.retain(|n| args.family.admits(n.address));
    if inv.nodes.is_empty() {
        let (flag, family) = if args.family == crate::cli::Family::V4 { (4, "IPv4") } else { (6, "IPv6") };
        return Err(Failure::input(anyhow!("--family {flag}: no node has an {family} address")));
    }
    Ok((inv, resolved))
}

/// Runs the audit's scan and builds the report; `None` for a dry run
/// (which prints what it would do). A checkpoint goes next to
/// `checkpoint_near` unless `--checkpoint` says otherwise.
pub fn execute(args: &AuditArgs, sockets: &mut Sockets, stop: Arc<AtomicBool>, argv: Vec<String>, checkpoint_near: Option<&Path>) -> Result<(Option<AuditReport>, portsweep::plan::EffectivePlan), Failure> {
    let api = kube_api(args)?;
    let (inventory, resolved) = inventory(args, api.as_ref())?;
    let services = match (&args.services, &api) {
        (Some(path), Some(api)) if is_api(path) => api.services().map_err(kube_failure)?,
        (Some(path), _) => load_services(path).map_err(Failure::input)?,
        (None, _) => Vec::new(),
    };
    drop(api);
    let plan = plan::effective(&args.cluster)?;
    let ports = audit::scan_ports(&plan);
    let hosts = HostSet::from_addrs(inventory.nodes.iter().map(|n| n.address));
    let space = ScanSpace::new(hosts, ports);
    if let Some(path) = &args.scan_report {
        let mut scan = portsweep::diff::AnyReport::load(path).map_err(Failure::input)?.scan().clone();
        scan.name_hosts(&resolved.labels());
        let mut report = AuditReport::build_with(&plan, &inventory, &services, args.phase, args.from, scan, &audit::IdentityRules { cert_warn: args.cert_warn, now: std::time::SystemTime::now() });
        report.vantage_node = args.vantage_node.clone();
        return Ok((Some(report), plan));
    }
    if args.dry_run {
        print!("{}", super::names_summary(&resolved));
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
    let payloads = PayloadTable::with_custom(plan.udp_payloads.clone());
    let mut scan = scan::execute(space, &args.engine, payloads, sockets, stop, argv, checkpoint_near)?;
    scan.name_hosts(&resolved.labels());
    if args.identify == crate::cli::Switch::On && scan.complete {
        super::identify_stage(&mut scan, &args.identify_tuning.settings());
    }
    let mut report = AuditReport::build_with(&plan, &inventory, &services, args.phase, args.from, scan, &audit::IdentityRules { cert_warn: args.cert_warn, now: std::time::SystemTime::now() });
    report.vantage_node = args.vantage_node.clone();
    Ok((Some(report), plan))
}
