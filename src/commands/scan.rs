//! `portsweep scan`, and the scan runner the other commands share.
use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, Context};
use indicatif::{ProgressBar, ProgressStyle};
use portsweep::engine::checkpoint::Checkpoint;
use portsweep::engine::{self, Progress, ResultStore, ScanConfig, ScanStats};
use std::path::{Path, PathBuf};
use portsweep::io::raw::resolve_sources;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use portsweep::output::{self, first_file};
use portsweep::report::{RunInfo, ScanReport};
use portsweep::space::{HostSet, PortList, Protocol, ScanSpace, Targets};
use portsweep::plan::Plan;
use portsweep::wire::payload::PayloadTable;
use portsweep::wire::Cookie;

use super::stop_flag;
use crate::cli::{EngineArgs, ScanArgs};
use crate::sockets::Sockets;
use crate::Failure;

/// How often a running scan refreshes its checkpoint.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

pub fn run(args: ScanArgs) -> Result<u8, Failure> {
    // Everything that can be wrong with the command line is found before
    // a name is resolved or a packet sent: outputs, ports, target syntax.
    let destinations = super::destinations("scan", &args.output.output, args.output.format, args.dry_run)?;
    // `U:` only: a service name may start with a u (`--udp upnp`).
    let udp = |u: &str| u.strip_prefix("U:").or_else(|| u.strip_prefix("u:")).unwrap_or(u).to_string();
    let ports = match (&args.ports, &args.udp) {
        (Some(p), Some(u)) => format!("{p},U:{}", udp(u)),
        (Some(p), None) => p.clone(),
        (None, Some(u)) => format!("U:{}", udp(u)),
        (None, None) => return Err(Failure::input(anyhow!("give ports with -p and/or --udp"))),
    };
    let ports = PortList::parse(&ports, Protocol::Tcp).map_err(Failure::input)?;
    let targets = Targets::parse(&args.targets, &args.exclude).map_err(Failure::input)?;
    let resolved = super::resolve_names(&targets.queries(), &args.resolve)?;
    let space = ScanSpace::new(targets.hosts(&resolved).map_err(Failure::input)?, ports);
    if args.dry_run {
        print!("{}{}", super::names_summary(&resolved), dry_run(&space, &args.engine));
        return Ok(0);
    }
    output::check_space(&destinations, super::estimated_report_bytes(space.hosts.len())).map_err(Failure::input)?;
    let stop = stop_flag()?;
    let payloads = match &args.plan {
        Some(path) => PayloadTable::with_custom(Plan::from_file(path).map_err(Failure::input)?.udp_payloads),
        None => PayloadTable::builtin(),
    };
    let mut report = execute(space, &args.engine, payloads, &mut Sockets::dropping_privileges(), stop, std::env::args().collect(), first_file(&destinations))?;
    report.name_hosts(&resolved.labels());
    if args.identify && report.complete {
        super::identify_stage(&mut report, &args.identify_tuning.settings());
    }
    super::emit(&report, &destinations)?;
    Ok(if report.complete { 0 } else { 130 })
}

/// The space of address-only targets (lab scenarios).
pub fn parse_space(targets: &[String], exclude: &[String], ports: &str) -> Result<ScanSpace, Failure> {
    let hosts = HostSet::parse(targets, exclude).map_err(Failure::input)?;
    let ports = PortList::parse(ports, Protocol::Tcp).map_err(Failure::input)?;
    Ok(ScanSpace::new(hosts, ports))
}

fn dry_run(space: &ScanSpace, engine: &EngineArgs) -> String {
    let probes = engine.shard.local_len(space.len());
    let store = ResultStore::bytes_for(space.len(), space.hosts.len());
    let timing = probes.div_ceil(256) * 4 * 2;
    let time = match engine.rate.0 {
        Some(r) => format!("{:.1} s at {r} packets/s (first pass; retries add only silent pairs)", probes as f64 / r as f64),
        None => "as fast as the machine sends (--rate max)".into(),
    };
    format!(
        "{} hosts × {} ports = {} probes in the first pass{}\nports: {}\nestimated time: {}\nmemory: result store {} bytes ({:.1} MiB) + send timing {} bytes + receive ring {} bytes ({:.0} MiB)\n",
        space.hosts.len(),
        space.ports.len(),
        probes,
        if engine.shard.count > 1 { format!(" (shard {}/{})", engine.shard.index + 1, engine.shard.count) } else { String::new() },
        space.ports.to_spec(),
        time,
        store,
        store as f64 / (1 << 20) as f64,
        timing,
        portsweep::io::ring::RING_BYTES,
        portsweep::io::ring::RING_BYTES as f64 / (1 << 20) as f64,
    )
}

/// Where a checkpoint goes: `--checkpoint`, else next to the first output
/// file.
pub fn checkpoint_path(engine: &EngineArgs, output: Option<&Path>) -> PathBuf {
    match (&engine.checkpoint, output) {
        (Some(p), _) => p.clone(),
        (None, Some(o)) => PathBuf::from(format!("{}.checkpoint", o.display())),
        (None, None) => PathBuf::from("portsweep.checkpoint"),
    }
}

/// The source address of each family the targets have (`--source-ip` is
/// given at most once per family, each of the family of some target).
fn sources(space: &ScanSpace, explicit: &[IpAddr]) -> Result<(Option<Ipv4Addr>, Option<Ipv6Addr>), Failure> {
    for v6 in [false, true] {
        let given: Vec<&IpAddr> = explicit.iter().filter(|a| a.is_ipv6() == v6).collect();
        let family = if v6 { "IPv6" } else { "IPv4" };
        if given.len() > 1 {
            return Err(Failure::input(anyhow!("--source-ip given twice for {family} ({} and {}): give it at most once per family", given[0], given[1])));
        }
        if let Some(a) = given.first().filter(|_| !space.hosts.ranges().iter().any(|r| r.0.is_ipv6() == v6)) {
            return Err(Failure::input(anyhow!("--source-ip {a}: no {family} target to send from it")));
        }
    }
    let first = |v6: bool| space.hosts.ranges().iter().map(|r| r.0).find(|a| a.is_ipv6() == v6);
    let first4 = first(false).and_then(|a| if let IpAddr::V4(a) = a { Some(a) } else { None });
    let first6 = first(true).and_then(|a| if let IpAddr::V6(a) = a { Some(a) } else { None });
    resolve_sources(explicit, first4, first6)
        .with_context(|| format!("finding the source address for {} (use --source-ip)", first4.map(IpAddr::V4).into_iter().chain(first6.map(IpAddr::V6)).map(|a| a.to_string()).collect::<Vec<_>>().join(" and ")))
        .map_err(Failure::runtime)
}

fn ranges(space: &ScanSpace) -> Vec<String> {
    space.hosts.ranges().iter().map(|&(a, b)| format!("{a}-{b}")).collect()
}

/// Reads `--resume`'s checkpoint and checks it is the same scan.
fn load_resume(path: &Path, space: &ScanSpace, engine: &EngineArgs) -> Result<Checkpoint, Failure> {
    let cp = Checkpoint::read(path).map_err(Failure::input)?;
    let shard = format!("{}/{}", engine.shard.index + 1, engine.shard.count);
    let differs = |what: &str, was: &str, now: &str| Failure::input(anyhow!("{}: the checkpoint is of another scan: {what} was {was}, is now {now}", path.display()));
    if cp.ports != space.ports.to_spec() {
        return Err(differs("ports", &cp.ports, &space.ports.to_spec()));
    }
    if cp.targets != ranges(space) {
        return Err(differs("targets", &cp.targets.join(","), &ranges(space).join(",")));
    }
    if cp.shard != shard {
        return Err(differs("shard", &cp.shard, &shard));
    }
    if let Some(seed) = engine.seed.filter(|s| *s != cp.seed) {
        return Err(differs("seed", &cp.seed.to_string(), &seed.to_string()));
    }
    Ok(cp)
}

/// Opens the raw sockets and runs a scan of `space`, with a progress bar on
/// a terminal. Returns the report (marked incomplete if `stop` was set).
pub fn execute(space: ScanSpace, engine: &EngineArgs, payloads: PayloadTable, sockets: &mut Sockets, stop: Arc<AtomicBool>, args: Vec<String>, output: Option<&Path>) -> Result<ScanReport, Failure> {
    let resume = match &engine.resume {
        Some(p) => Some(Arc::new(load_resume(p, &space, engine)?)),
        None => None,
    };
    let (source, source6) = sources(&space, &engine.source_ip)?;
    if engine.shard.count > 1 && engine.seed.is_none() && resume.is_none() {
        return Err(Failure::input(anyhow!("--shard needs --seed: every shard must walk the same order")));
    }
    let seed = engine.seed.or(resume.as_ref().map(|c| c.seed)).unwrap_or_else(|| {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        u64::from_le_bytes(b)
    });
    // Opened on the first scan, then every privilege is given up.
    let (sinks, receiver) = sockets.for_scan(engine)?;
    let space = Arc::new(space);
    let config = ScanConfig {
        space: space.clone(),
        source: source.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
        source6,
        rate: engine.rate.0,
        max_retries: engine.retries,
        wait: engine.wait,
        seed,
        cookie: Cookie::random(),
        shard: engine.shard,
        icmp_wait: engine.icmp_wait,
        resume,
        payloads,
    };
    let bar = progress_bar(space.len());
    let checkpoint_file = checkpoint_path(engine, output);
    let cp_base = |pass: u32, next_chunk: u64, stats: ScanStats, store: &ResultStore| {
        let (store_words, host_up_words) = store.words();
        Checkpoint {
            seed,
            ports: space.ports.to_spec(),
            targets: ranges(&space),
            shard: format!("{}/{}", engine.shard.index + 1, engine.shard.count),
            pass,
            next_chunk,
            stats,
            store_words,
            host_up_words,
        }
    };
    // A checkpoint every CHECKPOINT_EVERY, so that even a second Ctrl-C
    // (which exits at once) or a kill leaves one to resume from.
    let mut last_checkpoint = std::time::Instant::now();
    let mut wrote_periodic = false;
    let mut on_tick = |p: &Progress| {
        if let Some(bar) = &bar {
            bar.set_position(p.probes_sent.min(p.first_pass_probes));
            let pps = p.probes_sent as f64 / p.elapsed.as_secs_f64().max(1e-3);
            bar.set_message(format!("pass {} · {} replies · {:.0} pps · {} open", p.pass + 1, p.replies, pps, p.open_found));
        }
        if last_checkpoint.elapsed() >= CHECKPOINT_EVERY {
            let stats = ScanStats { probes_sent: p.probes_sent, replies: p.replies, retransmissions: p.retransmissions, invalid_replies: p.invalid_replies, duration_s: p.elapsed.as_secs_f64(), passes: p.pass, ..Default::default() };
            if cp_base(p.resume_at.0, p.resume_at.1, stats, p.store).write(&checkpoint_file).is_ok() {
                wrote_periodic = true;
            }
            last_checkpoint = std::time::Instant::now();
        }
    };
    let outcome = engine::run(config, sinks, receiver, stop, &mut on_tick).context("scanning").map_err(Failure::runtime)?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let (false, Some((pass, next_chunk))) = (outcome.complete, outcome.stopped_at) {
        cp_base(pass, next_chunk, outcome.stats.clone(), &outcome.store).write(&checkpoint_file).map_err(Failure::runtime)?;
        eprintln!("portsweep: interrupted; checkpoint written to {} (continue with the same command and --resume {})", checkpoint_file.display(), checkpoint_file.display());
    } else if outcome.complete && (wrote_periodic || engine.resume.as_ref() == Some(&checkpoint_file)) {
        // Finished: a checkpoint left behind would only mislead.
        let _ = std::fs::remove_file(&checkpoint_file);
    }
    Ok(ScanReport::build(&space, &outcome, RunInfo { args, seed, shard_index: engine.shard.index, shard_count: engine.shard.count }))
}

fn progress_bar(total: u64) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} sent · ETA {eta} · {msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    Some(bar)
}
