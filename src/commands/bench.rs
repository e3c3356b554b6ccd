//! `portsweep lab bench`: portsweep, masscan, nmap (`-sS`, `-sU`) and the kernel's floor
//! on the same lab, the same machine, in one run, each scored against the
//! lab's ground truth; and `portsweep lab floor`, the floor itself.
//!
//! The floor is what the kernel can take: one SYN per pair pushed with
//! `sendmmsg` from two threads, no receive, no bookkeeping. The send +
//! receive floor adds what receiving costs the kernel at the least: the
//! scanner's own packet socket (its filter and ring) on a thread that only
//! counts what arrives, so the distance from it to portsweep is the
//! engine's bookkeeping, not the kernel's work. Every tool runs
//! in the lab's scanner namespace as a child process; wall time is measured
//! around it, CPU time and peak RSS come from `/usr/bin/time`. The figures
//! go into a `BenchRecord` (printed as Markdown or JSON) and are checked
//! against `--require` gates and a `--baseline` run; `--from` does the
//! printing and checking on a saved record without building a lab.
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use portsweep::io::raw::{PacketReceiver, RawSender};
use portsweep::io::{ProbeSink, TxBatch};
use clap::ValueEnum as _;
use portsweep::lab::bench::{parse_masscan_list, parse_nmap_grepable, score, score_report};
use portsweep::lab::bench_record::{BenchRecord, Machine, RunRecord, ScenarioInfo, ToolResult};
use portsweep::lab::gates::{compare_baseline, Gate, Verdict};
use portsweep::lab::scenario::{Rule, RuleText};
use portsweep::lab::{netns, Lab, Scenario};
use portsweep::report::ScanReport;
use portsweep::space::{HostSet, Permutation, PortList, Protocol, ScanSpace};
use portsweep::wire::{Cookie, SynTemplate, SYN_LEN};

use crate::cli::{BenchArgs, BenchFormat, BenchTool, FloorArgs};
use crate::Failure;

/// Runs `args` in the scanner namespace under `/usr/bin/time` (so CPU and
/// peak RSS are the tool's own, not those of `ip`, whose high-water mark
/// would survive its exec); returns wall, CPU s, peak RSS KiB, finished.
fn measure(lab: &Lab, args: &[String], timeout: Duration, stats: &std::path::Path) -> anyhow::Result<(f64, f64, u64, bool)> {
    let _ = std::fs::remove_file(stats);
    let start = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", lab.scanner_ns(), "/usr/bin/time", "-f", "%U %S %M", "-o"])
        .arg(stats)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", args[0]))?;
    let finished = loop {
        if let Some(status) = child.try_wait()? {
            break status.code().is_some_and(|c| c <= 1);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let wall = start.elapsed().as_secs_f64();
    let text = std::fs::read_to_string(stats).unwrap_or_default();
    let f: Vec<f64> = text.lines().last().unwrap_or("").split_whitespace().filter_map(|x| x.parse().ok()).collect();
    match f[..] {
        [user, sys, rss] => Ok((wall, user + sys, rss as u64, finished)),
        _ => Ok((wall, 0.0, 0, false)),
    }
}

fn ensure_tool(tool: &str, package: &str) -> Result<(), Failure> {
    if Command::new("sh").args(["-c", &format!("command -v {tool}")]).stdout(Stdio::null()).status().map(|s| s.success()).unwrap_or(false) {
        return Ok(());
    }
    eprintln!("bench: installing {package} with apt-get");
    let ok = Command::new("sh").args(["-c", &format!("apt-get install -y -qq {package} >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq {package} >/dev/null)")]).status().map(|s| s.success()).unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(Failure::runtime(anyhow!("{tool} is not installed and apt-get could not install {package}")))
    }
}

pub fn run(args: BenchArgs) -> Result<u8, Failure> {
    // Everything a gate needs is read and checked before minutes of lab time.
    let gates = args.require.iter().map(|text| Gate::parse(text)).collect::<Result<Vec<_>, _>>().map_err(Failure::input)?;
    let baseline = args.baseline.as_deref().map(load_record).transpose()?;
    let record = match &args.from {
        Some(path) => load_record(path)?,
        None => {
            if let Some(missing) = gates.iter().flat_map(|g| g.tools()).find(|t| !args.tools.iter().any(|b| tool_key(*b) == *t)) {
                return Err(Failure::input(anyhow!("a --require names {missing}, which --tools does not run")));
            }
            measure_all(&args)?
        }
    };
    let text = match args.format {
        BenchFormat::Markdown => record.to_markdown(),
        BenchFormat::Json => record.to_json(),
    };
    print!("{text}");
    if let Some(path) = &args.output {
        std::fs::File::create(path).and_then(|mut f| f.write_all(text.as_bytes())).with_context(|| format!("writing {}", path.display())).map_err(Failure::runtime)?;
    }
    let mut verdicts: Vec<Verdict> = gates.iter().map(|g| g.check(&record)).collect();
    if let Some(baseline) = &baseline {
        verdicts.extend(compare_baseline(&record, baseline, args.tolerance).map_err(Failure::input)?);
    }
    // Verdicts go to stderr so that stdout stays the table or the JSON.
    for v in &verdicts {
        eprintln!("bench: gate {v}");
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    if failed > 0 {
        eprintln!("bench: {failed} of {} gate(s) failed", verdicts.len());
        return Ok(1);
    }
    Ok(0)
}

fn load_record(path: &std::path::Path) -> Result<BenchRecord, Failure> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display())).map_err(Failure::input)?;
    BenchRecord::from_json(&text).map_err(|e| Failure::input(anyhow!("{}: {e}", path.display())))
}

/// The `--tools` name, which is what the record and the gates call a tool.
fn tool_key(tool: BenchTool) -> String {
    tool.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
}

/// Builds the lab, runs every tool `--runs` times, and scores each run.
fn measure_all(args: &BenchArgs) -> Result<BenchRecord, Failure> {
    let mut scenario = Scenario::load(&args.scenario).map_err(Failure::input)?;
    if let Some(loss) = args.loss {
        scenario.loss_percent = loss;
    }
    let hosts = HostSet::parse(&scenario.targets, &scenario.exclude).map_err(Failure::input)?;
    if args.sink {
        // Every target exists and answers nothing: the send path alone.
        scenario.rules.push(Rule { hosts: hosts.clone(), ports: Vec::new(), dead: true, text: RuleText { addresses: scenario.targets.join(","), ..Default::default() } });
    }
    let ports = PortList::parse(&scenario.ports, Protocol::Tcp).map_err(Failure::input)?;
    let pairs = hosts.len() * ports.len() as u64;
    let port_spec = ports.to_spec().replace("T:", "");
    let targets = scenario.targets.clone();
    ensure_tool("/usr/bin/time", "time")?;
    for t in &args.tools {
        match t {
            BenchTool::Masscan | BenchTool::MasscanRetries => ensure_tool("masscan", "masscan")?,
            BenchTool::Nmap | BenchTool::NmapUdp | BenchTool::NmapV6 => ensure_tool("nmap", "nmap")?,
            _ => {}
        }
    }
    // The IPv6 tools run in a second lab, the IPv6 twin of the first (same
    // shape), built beside it only when asked for.
    let ipv6 = args.tools.iter().any(|t| matches!(t, BenchTool::PortsweepV6 | BenchTool::NmapV6));
    let twin = if ipv6 {
        let mut s6 = Scenario::load(&args.scenario6).map_err(Failure::input)?;
        if let Some(loss) = args.loss {
            s6.loss_percent = loss;
        }
        if args.sink {
            let hosts6 = HostSet::parse(&s6.targets, &s6.exclude).map_err(Failure::input)?;
            s6.rules.push(Rule { hosts: hosts6, ports: Vec::new(), dead: true, text: RuleText { addresses: s6.targets.join(","), ..Default::default() } });
        }
        let lab6 = Lab::build(&s6).context("building the IPv6 lab").map_err(Failure::runtime)?;
        let pairs6 = HostSet::parse(&s6.targets, &s6.exclude).map_err(Failure::input)?.len() * PortList::parse(&s6.ports, Protocol::Tcp).map_err(Failure::input)?.len() as u64;
        eprintln!("bench: IPv6 twin {}: {pairs6} pairs", args.scenario6.display());
        Some((s6, lab6, pairs6))
    } else {
        None
    };
    let lab = Lab::build(&scenario).context("building the lab").map_err(Failure::runtime)?;
    let me = std::env::current_exe().context("finding the portsweep binary").map_err(Failure::runtime)?;
    let dir = tempfile::tempdir().map_err(Failure::runtime)?;
    let out = dir.path().join("out");
    let out_s = out.display().to_string();
    let me_s = me.display().to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<String>>();
    eprintln!(
        "bench: {} hosts × {} ports = {pairs} pairs, loss {} % each way{}, {} run(s) per tool",
        hosts.len(),
        ports.len(),
        scenario.loss_percent,
        if args.sink { ", sink (everything dropped)" } else { "" },
        args.runs
    );
    // Round-robin: run i of every tool, then run i + 1. The lab and the
    // machine drift (a run after six others can be 8 % slower than the same
    // run first), and a ratio is only as good as the runs it divides being
    // made under the same conditions.
    let mut runs: Vec<Vec<RunRecord>> = args.tools.iter().map(|_| Vec::new()).collect();
    let mut labels = vec![""; args.tools.len()];
    for i in 0..args.runs {
        for (k, tool) in args.tools.iter().enumerate() {
            let _ = std::fs::remove_file(&out);
            let (name, cmd): (&str, Vec<String>) = match tool {
                BenchTool::Portsweep => {
                    let mut c = vec![me_s.clone(), "scan".into()];
                    c.extend(targets.iter().cloned());
                    c.extend(s(&["-p", &port_spec, "--rate", "max", "--format", "json", "--output", &out_s]));
                    if args.sink {
                        c.extend(s(&["--retries", "0", "--wait", "1ms"]));
                    }
                    ("portsweep --rate max", c)
                }
                BenchTool::Floor => {
                    let mut c = vec![me_s.clone(), "lab".into(), "floor".into()];
                    c.extend(targets.iter().cloned());
                    c.extend(s(&["-p", &port_spec]));
                    ("floor (sendmmsg ×2, no receive)", c)
                }
                BenchTool::FloorRx => {
                    let mut c = vec![me_s.clone(), "lab".into(), "floor".into(), "--receive".into()];
                    c.extend(targets.iter().cloned());
                    c.extend(s(&["-p", &port_spec]));
                    ("floor + receive (sendmmsg ×2, ring counts replies)", c)
                }
                BenchTool::Masscan | BenchTool::MasscanRetries => {
                    let mut c = s(&["masscan", &targets.join(","), "-p", &port_spec, "--adapter", "psw-s", "--adapter-ip", &netns::SCANNER_ADDR.to_string(), "--router-ip", &netns::TARGET_GATEWAY.to_string(), "-oL", &out_s, "--show", "closed"]);
                    if *tool == BenchTool::Masscan {
                        c.extend(s(&["--rate", "10000000", "--wait", if args.sink { "0" } else { "1" }]));
                        ("masscan --rate 10000000 --wait 1", c)
                    } else {
                        c.extend(s(&["--rate", "100000", "--retries", "2", "--wait", "1"]));
                        ("masscan --retries 2 --rate 100000", c)
                    }
                }
                BenchTool::Nmap => {
                    let mut c = s(&["nmap", "-sS", "-n", "-Pn", "-p", &port_spec, "-oG", &out_s]);
                    c.extend(targets.iter().cloned());
                    ("nmap -sS -n -Pn", c)
                }
                BenchTool::NmapUdp => {
                    let mut c = s(&["nmap", "-sU", "-n", "-Pn", "-p", &port_spec, "-oG", &out_s]);
                    c.extend(targets.iter().cloned());
                    ("nmap -sU -n -Pn", c)
                }
                BenchTool::PortsweepV6 | BenchTool::NmapV6 => {
                    let (s6, _, _) = twin.as_ref().expect("built for the IPv6 tools");
                    let spec6 = PortList::parse(&s6.ports, Protocol::Tcp).map_err(Failure::input)?.to_spec().replace("T:", "");
                    let mut c = if *tool == BenchTool::PortsweepV6 {
                        let mut c = vec![me_s.clone(), "scan".into()];
                        c.extend(s6.targets.iter().cloned());
                        c.extend(s(&["-p", &spec6, "--rate", "max", "--format", "json", "--output", &out_s]));
                        c
                    } else {
                        s(&["nmap", "-6", "-sS", "-n", "-Pn", "-p", &spec6, "-oG", &out_s])
                    };
                    if *tool == BenchTool::PortsweepV6 {
                        ("portsweep --rate max (IPv6)", c)
                    } else {
                        c.extend(s6.targets.iter().cloned());
                        ("nmap -6 -sS -n -Pn", c)
                    }
                }
            };
            labels[k] = name;
            let run_lab = match (tool, &twin) {
                (BenchTool::PortsweepV6 | BenchTool::NmapV6, Some((_, lab6, _))) => lab6,
                _ => &lab,
            };
            let (wall, cpu, rss_kib, finished) = measure(run_lab, &cmd, args.timeout, &dir.path().join("time")).map_err(Failure::runtime)?;
            let text = std::fs::read_to_string(&out).unwrap_or_default();
            let mut unresolved = None;
            let (probes, sc) = match tool {
                BenchTool::Portsweep => match serde_json::from_str::<ScanReport>(&text) {
                    Ok(r) => {
                        unresolved = Some(r.stats.udp_unresolved);
                        (r.stats.probes_sent, (!args.sink).then(|| score_report(&scenario, &r)))
                    }
                    Err(_) => (0, None),
                },
                BenchTool::Floor | BenchTool::FloorRx => (pairs, None),
                BenchTool::Masscan | BenchTool::MasscanRetries => {
                    let t = parse_masscan_list(&text);
                    let tries = if *tool == BenchTool::MasscanRetries { 3 } else { 1 };
                    (pairs * tries, (!args.sink).then(|| score(&scenario, |a, proto, p| t.state(a, proto, p).to_string())))
                }
                BenchTool::Nmap | BenchTool::NmapUdp => {
                    let t = parse_nmap_grepable(&text);
                    (pairs, (!args.sink).then(|| score(&scenario, |a, proto, p| t.state(a, proto, p).to_string())))
                }
                BenchTool::PortsweepV6 => {
                    let (s6, _, _) = twin.as_ref().expect("built for the IPv6 tools");
                    match serde_json::from_str::<ScanReport>(&text) {
                        Ok(r) => {
                            unresolved = Some(r.stats.udp_unresolved);
                            (r.stats.probes_sent, (!args.sink).then(|| score_report(s6, &r)))
                        }
                        Err(_) => (0, None),
                    }
                }
                BenchTool::NmapV6 => {
                    let (s6, _, pairs6) = twin.as_ref().expect("built for the IPv6 tools");
                    let t = parse_nmap_grepable(&text);
                    (*pairs6, (!args.sink).then(|| score(s6, |a, proto, p| t.state(a, proto, p).to_string())))
                }
            };
            let sc = if finished { sc } else { None };
            eprintln!(
                "bench: {name} run {}: {wall:.2} s{}{}{}",
                i + 1,
                sc.map(|s| format!(", {:.3} % exact", s.exact_percent())).unwrap_or_default(),
                unresolved.map(|u| format!(", {u} UDP unresolved")).unwrap_or_default(),
                if finished { "" } else { " (killed at the timeout)" }
            );
            runs[k].push(RunRecord { wall_s: wall, cpu_s: cpu, peak_rss_kib: rss_kib, probes, finished, score: sc, udp_unresolved: unresolved });
        }
    }
    let tools: Vec<ToolResult> = args.tools.iter().zip(labels).zip(runs).map(|((tool, label), runs)| ToolResult::new(&tool_key(*tool), label, runs)).collect();
    drop(lab);
    drop(twin);
    let info = ScenarioInfo { path: args.scenario.display().to_string(), hosts: hosts.len(), ports: ports.len() as u64, pairs, loss_percent: scenario.loss_percent, sink: args.sink };
    let mut argv: Vec<String> = std::env::args().collect();
    if let Some(first) = argv.first_mut() {
        *first = "portsweep".into();
    }
    Ok(BenchRecord::new(machine(), argv.join(" "), info, tools))
}

/// When, where and with what the figures were made: the date, the machine
/// (cores, memory, kernel, distribution) and the tools' versions.
fn machine() -> Machine {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let mem_kib: u64 = read("/proc/meminfo").lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    let version = |cmd: &str, arg: &str| {
        std::process::Command::new(cmd).arg(arg).output().ok().and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines().find(|l| l.to_ascii_lowercase().contains("version")).map(|l| l.split(" (").next().unwrap_or(l).trim().to_string())
        })
    };
    Machine {
        measured_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        memory_gib: mem_kib as f64 / (1 << 20) as f64,
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        distribution: read("/etc/os-release").lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).unwrap_or("").trim_matches('"').to_string(),
        peer_versions: [version("masscan", "--version"), version("nmap", "--version")].into_iter().flatten().collect(),
        portsweep_version: env!("CARGO_PKG_VERSION").to_string(),
    }
}

/// After the senders are done, the send + receive floor stops counting
/// once no reply came for this long (ten block timeouts of the ring;
/// portsweep waits at least 20 ms for the last replies too) …
const FLOOR_QUIET_MS: i32 = 20;
/// … or this long after the senders are done, whatever still arrives.
const FLOOR_RECEIVE_LIMIT: Duration = Duration::from_secs(5);

/// `portsweep lab floor`: one SYN per pair from two threads; with
/// `--receive`, also a thread counting replies on the scanner's packet
/// socket until they stop (the count goes to stderr).
pub fn floor(args: FloorArgs) -> Result<u8, Failure> {
    let hosts = HostSet::parse(&args.targets, &[]).map_err(Failure::input)?;
    let ports = PortList::parse(&args.ports, Protocol::Tcp).map_err(Failure::input)?;
    let space = Arc::new(ScanSpace::new(hosts, ports));
    let (std::net::IpAddr::V4(first), false) = (space.hosts.addr(0), space.hosts.has_v6()) else {
        return Err(Failure::input(anyhow!("lab floor sends IPv4 SYNs only")));
    };
    let std::net::IpAddr::V4(source) = portsweep::io::route::source_for(first.into()).map_err(Failure::runtime)? else {
        return Err(Failure::runtime(anyhow!("the route to {first} has no IPv4 source")));
    };
    let perm = Arc::new(Permutation::new(space.len(), 1));
    let cookie = Cookie::new(1, 2);
    let threads = args.threads.max(1) as u64;
    let sent = Arc::new(AtomicBool::new(false));
    let receiver = match args.receive {
        false => None,
        true => {
            let socket = PacketReceiver::open(None).map_err(Failure::runtime)?;
            let sent = sent.clone();
            Some(std::thread::spawn(move || -> std::io::Result<usize> {
                let mut replies = 0;
                let mut done_at: Option<Instant> = None;
                loop {
                    let n = socket.count(FLOOR_QUIET_MS)?;
                    replies += n;
                    if let Some(at) = done_at {
                        if n == 0 || at.elapsed() > FLOOR_RECEIVE_LIMIT {
                            return Ok(replies);
                        }
                    } else if sent.load(Relaxed) {
                        done_at = Some(Instant::now());
                    }
                }
            }))
        }
    };
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (space, perm) = (space.clone(), perm.clone());
            std::thread::spawn(move || -> std::io::Result<()> {
                let mut sink = RawSender::open(None, 256)?;
                let mut batch = TxBatch::new(256);
                let template = SynTemplate::new();
                let mut pos = t;
                while pos < space.len() {
                    let (dst, _, dport) = space.pair(perm.at(pos));
                    let std::net::IpAddr::V4(dst) = dst else { break }; // refused above
                    let tag = cookie.tag(source, dst, 6, dport, 0);
                    batch.push_with(dst, |slot| {
                        let out: &mut [u8; SYN_LEN] = (&mut slot[..SYN_LEN]).try_into().expect("slot holds a SYN");
                        template.emit(out, source, dst, dport, tag, 0);
                        SYN_LEN
                    });
                    if batch.is_full() {
                        sink.send(&batch)?;
                        batch.clear();
                    }
                    pos += threads;
                }
                sink.send(&batch)
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| Failure::runtime(anyhow!("floor thread panicked")))?.map_err(Failure::runtime)?;
    }
    sent.store(true, Relaxed);
    if let Some(r) = receiver {
        let replies = r.join().map_err(|_| Failure::runtime(anyhow!("floor receiver panicked")))?.map_err(Failure::runtime)?;
        eprintln!("floor: {replies} replies");
    }
    Ok(0)
}
