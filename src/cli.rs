//! Command-line definitions (clap derive). Kept apart from `main` so the
//! same definitions generate the man page and shell completions.
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use portsweep::audit::{AuditFormat, Phase, Severity, Vantage};
use portsweep::engine::Shard;
use portsweep::plan::{Addon, Cni, FlannelBackend, LoadBalancer};
use portsweep::report::OutputFormat;
use portsweep::resolve::ResolveMode;

#[derive(Debug, Parser)]
#[command(name = "portsweep", version, about = "Sweep Kubernetes nodes with raw SYN probes and audit them against the port plan of their roles")]
#[command(after_help = "Exit codes: 0 success, 2 bad input, 3 runtime or privilege error, 130 interrupted (partial report written).")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// SYN-scan targets and report every (host, port) as open, closed or filtered.
    #[command(after_help = "Examples:
  portsweep scan 198.19.0.8/29 198.19.1.0/24 -p 6443,2379-2380,10250,30000-32767 --rate 100000 --format json --output scan.json
  portsweep scan @nodes.txt --exclude 198.19.1.13 -p 22,80,443 --dry-run
  portsweep scan 198.19.1.0/24 -p 30000-32767 --rate max --retries 2 --seed 7 --format csv
  portsweep scan 198.19.0.2 198.19.1.0/24 -p T:6443,10250,U:123,8285,8472
  portsweep scan 198.19.1.1 -p- --dry-run                      # every port, 1-65535 (also -p 1-)
  portsweep scan 198.19.1.1 -p -1024 --dry-run                 # 1-1024; 30000- runs to 65535
  portsweep scan cp-1.example.internal -p ssh,http,https,U:ntp  # host and service names
  portsweep scan 198.19.1.0/28 -p 1-1024 -o scan.json -o scan.csv -o -  # one run, three outputs")]
    Scan(ScanArgs),
    /// Build a small simulated cluster in network namespaces, scan it, print the result, tear it down.
    #[command(after_help = "Examples:
  portsweep demo
  portsweep demo --scenario fixtures/scenarios/cluster-250.toml --format json --output demo.json")]
    Demo(DemoArgs),
    /// Scan every node of an inventory on its plan's ports and report conflicts, gaps and exposures.
    #[command(after_help = "Examples:
  portsweep audit --inventory hosts.ini --phase pre
  portsweep audit --inventory nodes.json --services svc.json --from control-plane --addons ingress,grafana --format junit --output audit.xml
  portsweep audit --control-plane 198.19.0.8/29 --worker 198.19.1.0/24 --registry 198.19.0.2 --cni calico --format markdown
  portsweep audit --inventory nodes.yaml -o audit.json -o audit.xml -o audit.md   # JSON, JUnit, Markdown of one sweep
  portsweep audit --control-plane cp-1.example.internal --worker w-1.example.internal,w-2.example.internal
Inventories: YAML/TOML (nodes or role → CIDR lists), `kubectl get nodes -o json`, Ansible INI (kubeasz, kubespray); addresses or host names.
Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 bad input, 3 runtime or privilege error, 130 interrupted.")]
    Audit(AuditArgs),
    /// Merge shard reports (`--shard I/N`, same --seed; scan or audit reports) into the scan one run would have produced.
    #[command(after_help = "Examples:
  portsweep merge shard-1.json shard-2.json shard-3.json --output sweep.json
  portsweep merge shard-1.json shard-2.json -o sweep.json -o sweep.csv")]
    Merge(MergeArgs),
    /// Node × node reachability from per-node audit reports (the DaemonSet's).
    #[command(after_help = "Examples:
  portsweep matrix --dir /reports
  portsweep matrix node-a.json node-b.json --format json")]
    Matrix(MatrixArgs),
    /// Compare two scan or audit reports (before and after a change).
    #[command(after_help = "Examples:
  portsweep diff before.json after.json
  portsweep diff pre-change.json post-change.json --format markdown >> \"$GITHUB_STEP_SUMMARY\"
  portsweep diff before.json after.json -o changes.json -o changes.md -o -
Exit codes (ndiff's): 0 no change, 1 changes, 2 error.")]
    Diff(DiffArgs),
    /// Render a saved report again (scan, audit, merged shards, diff, matrix) in another format, without scanning.
    #[command(after_help = "Examples:
  portsweep report audit.json --format html -o audit.html
  portsweep report audit.json -o audit.xml -o audit.md        # JUnit and Markdown, by extension
  portsweep report scan.json -o scan.html -o scan.csv
  portsweep report changes.json --format markdown             # a saved `portsweep diff --format json`
An audit's matrix and JUnit cases come from the plan of its recorded cluster options; give --plan if the audit used one.
Exit codes: 0 written, 2 bad input (not a report, a format the report kind lacks), 3 a file could not be written.")]
    Report(ReportArgs),
    /// Print the effective port plan for the cluster options.
    #[command(after_help = "Examples:
  portsweep plan
  portsweep plan --cni calico --lb kube-vip --addons ingress,grafana --format yaml
  portsweep plan --plan my-plan.yaml --format json")]
    Plan(PlanArgs),
    /// Lab maintenance.
    #[command(after_help = "Examples:\n  portsweep lab clean\n  portsweep lab exec fixtures/scenarios/demo.toml -- portsweep scan 198.19.1.0/28 -p 80")]
    Lab {
        #[command(subcommand)]
        action: LabAction,
    },
    /// Print shell completions.
    #[command(after_help = "Examples:\n  portsweep completions bash > /etc/bash_completion.d/portsweep")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (portsweep.1 and one per subcommand) into a directory.
    #[command(after_help = "Examples:\n  portsweep man --dir /usr/local/share/man/man1")]
    Man {
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
}

/// What the cluster runs, and which plan describes it.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    /// The CNI plugin.
    #[arg(long, default_value = "flannel")]
    pub cni: Cni,
    /// Flannel's backend (vxlan: 8472/udp; udp: 8285/udp).
    #[arg(long, default_value = "vxlan")]
    pub flannel_backend: FlannelBackend,
    /// The control-plane load balancer.
    #[arg(long, default_value = "none")]
    pub lb: LoadBalancer,
    /// Add-ons, comma-separated: ingress, kuboard, grafana, redis.
    #[arg(long, value_delimiter = ',')]
    pub addons: Vec<Addon>,
    /// A plan file that overrides or extends the built-in plan.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
}

/// An address family filter (`--family`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Family {
    #[value(name = "4")]
    V4,
    #[value(name = "6")]
    V6,
    All,
}

impl Family {
    pub fn admits(self, addr: std::net::IpAddr) -> bool {
        match self {
            Family::V4 => addr.is_ipv4(),
            Family::V6 => addr.is_ipv6(),
            Family::All => true,
        }
    }
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Inventory file: YAML/TOML, `kubectl get nodes -o json` output or an Ansible INI inventory (repeatable); `kube`: the nodes of the Kubernetes API (a file named kube: ./kube).
    #[arg(long, value_name = "FILE|kube")]
    pub inventory: Vec<PathBuf>,
    /// Control-plane nodes: addresses, CIDRs, ranges or host names (each address one node; repeatable).
    #[arg(long, value_name = "CIDR")]
    pub control_plane: Vec<String>,
    /// Worker nodes (repeatable).
    #[arg(long, value_name = "CIDR")]
    pub worker: Vec<String>,
    /// Offline-install registry nodes (repeatable).
    #[arg(long, value_name = "ADDR")]
    pub registry: Vec<String>,
    /// `kubectl get svc -A -o json` output: the NodePorts really allocated; `kube`: the Services of the Kubernetes API.
    #[arg(long, value_name = "FILE|kube")]
    pub services: Option<PathBuf>,
    #[command(flatten)]
    pub kube: KubeArgs,
    /// Which node addresses to audit: IPv4 (4), IPv6 (6) or every address the inventory gives (all).
    #[arg(long, value_enum, default_value = "all")]
    pub family: Family,
    /// Before the install (ports in use are conflicts) or after it (planned services must answer).
    #[arg(long, value_enum, default_value = "post")]
    pub phase: Phase,
    /// Where the scanner stands: which audiences must answer (see the README's matrix).
    #[arg(long, value_enum, default_value = "external")]
    pub from: Vantage,
    /// Exit 1 when a finding of this severity or worse exists.
    #[arg(long, value_enum, default_value = "error")]
    pub fail_on: Severity,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub resolve: ResolveArgs,
    /// Format of stdout and of --output files whose name says none (default: table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<AuditFormat>,
    /// Write the report here (atomically) instead of stdout; repeatable. Each file's
    /// format: a FORMAT: prefix (json:FILE), else its extension (.json .csv .md .xml
    /// = JUnit .txt = table .html), else --format, else json. `-` is stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Vec<String>,
    /// Print the nodes, ports and probe count, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Judge this scan report (e.g. merged shards) instead of scanning.
    #[arg(long, value_name = "FILE")]
    pub scan_report: Option<PathBuf>,
    /// Where the scanner stands, recorded in the report (the DaemonSet passes its node's name; `portsweep matrix` reads it).
    #[arg(long, value_name = "NODE")]
    pub vantage_node: Option<String>,
    /// Audit again at this interval, rewriting the report each time, until stopped.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub every: Option<Duration>,
    /// With --every: serve Prometheus metrics of the last audit on http://ADDR/metrics (and /healthz).
    #[arg(long, value_name = "ADDR:PORT", requires = "every", value_parser = parse_listen_addr)]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// Write the same metrics to this file after every audit, atomically (node_exporter's textfile collector).
    #[arg(long, value_name = "FILE")]
    pub textfile: Option<PathBuf>,
    /// Identify what answers on every open port (read-only, anonymous; README: Service identification), or `off`.
    #[arg(long, value_enum, default_value = "on", value_name = "on|off")]
    pub identify: Switch,
    /// TLS certificates that expire within this are `insecure` warnings (expired ones: critical).
    #[arg(long, default_value = "30d", value_parser = parse_duration, value_name = "DURATION")]
    pub cert_warn: Duration,
    #[command(flatten)]
    pub identify_tuning: IdentifyTuning,
}

/// Where the Kubernetes API is, for `--inventory kube` and `--services kube`
/// (without --kubeconfig: KUBECONFIG, ~/.kube/config, then the pod's service account).
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// A kubeconfig file for `kube` inventories and services.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Longest wait for the Kubernetes API: connecting, and each list request.
    #[arg(long, default_value = "10s", value_parser = parse_duration, value_name = "DURATION")]
    pub kube_timeout: Duration,
}

impl KubeArgs {
    pub fn access(&self) -> portsweep::inventory::kube::KubeAccess {
        portsweep::inventory::kube::KubeAccess { kubeconfig: self.kubeconfig.clone(), context: self.context.clone(), timeout: self.kube_timeout }
    }
}

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Bounds of the identification stage (README: Service identification).
#[derive(Debug, Args)]
pub struct IdentifyTuning {
    /// Identification: ports identified at once (global cap).
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u16).range(1..=1024), value_name = "N")]
    pub identify_workers: u16,
    /// Identification: ports of one host identified at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=256), value_name = "N")]
    pub identify_per_host: u16,
    /// Identification: the most time spent on one port (connects and reads included).
    #[arg(long, default_value = "3s", value_parser = parse_duration, value_name = "DURATION")]
    pub identify_timeout: Duration,
}

impl IdentifyTuning {
    pub fn settings(&self) -> portsweep::identify::Settings {
        let d = portsweep::identify::Settings::default();
        portsweep::identify::Settings { workers: self.identify_workers as usize, per_host: self.identify_per_host as usize, total: self.identify_timeout, read: d.read.min(self.identify_timeout), connect: d.connect.min(self.identify_timeout), ..d }
    }
}

#[derive(Debug, Args)]
pub struct MatrixArgs {
    /// Audit reports made with `--from node --vantage-node NAME`.
    pub reports: Vec<PathBuf>,
    /// Read every `*.json` of this directory too.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: MatrixFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MatrixFormat {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard reports (JSON), one per shard: all scan reports, or all audit reports.
    #[arg(required = true)]
    pub reports: Vec<PathBuf>,
    /// Audits: the plan file the shards used, if any (reports record the cluster options, not a user plan).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// Audits: the `kubectl get svc -A -o json` the shards used, if any.
    #[arg(long, value_name = "FILE")]
    pub services: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    Table,
    Json,
    Markdown,
    Html,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The report before the change (JSON, scan or audit).
    pub before: PathBuf,
    /// The report after it.
    pub after: PathBuf,
    /// Format of stdout and of --output files whose name says none (default: table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<DiffFormat>,
    /// Write the diff here (atomically) instead of stdout; repeatable. Each file's
    /// format: a FORMAT: prefix (json:FILE), else its extension (.json .csv .md .xml
    /// = JUnit .txt = table .html), else --format, else json. `-` is stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Vec<String>,
}

/// Every format some report kind has; `portsweep report` checks that the
/// saved report's kind has the one asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
    Junit,
    Markdown,
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A report portsweep wrote as JSON: scan, audit, merge, diff or matrix.
    pub input: PathBuf,
    /// Format of stdout and of --output files whose name says none (default: table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<ReportFormat>,
    /// Write the report here (atomically) instead of stdout; repeatable. Each file's
    /// format: a FORMAT: prefix (html:FILE), else its extension (.json .csv .md .xml
    /// = JUnit .txt = table .html), else --format, else json. `-` is stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Vec<String>,
    /// Audits: the plan file the audit used, if any (a report records the cluster options, not a user plan).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanFormat {
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[arg(long, value_enum, default_value = "table")]
    pub format: PlanFormat,
}

#[derive(Debug, Subcommand)]
pub enum LabAction {
    /// Delete lab namespaces left behind by killed processes.
    #[command(after_help = "Examples:\n  portsweep lab clean\nOnly namespaces named psw<pid>x… whose process <pid> is gone are removed.")]
    Clean,
    /// Benchmark portsweep, masscan, nmap and the kernel's floor side by side on a scenario's lab.
    #[command(after_help = "Examples:
  portsweep lab bench --runs 3
  portsweep lab bench --loss 2 --tools portsweep,masscan,masscan-retries
  portsweep lab bench --sink --tools portsweep,masscan,floor
  portsweep lab bench --format json --output bench.json --require 'portsweep/floor<=1.5' --require 'exact>=1.0'
  portsweep lab bench --from fixtures/bench/scan-small.json --require 'portsweep/nmap<=0.05'")]
    Bench(BenchArgs),
    /// The kernel's floor: one SYN per pair from N threads with sendmmsg, no receive, or with --receive a packet ring that counts replies (run it in a lab).
    #[command(hide = true)]
    Floor(FloorArgs),
    /// Build a scenario's lab, run a command inside its scanner namespace, tear the lab down.
    #[command(after_help = "Examples:
  portsweep lab exec fixtures/scenarios/cluster-250.toml -- portsweep scan 198.19.1.0/24 -p 1-1000 --rate max
  portsweep lab exec fixtures/scenarios/demo.toml -- nmap -sS -n -Pn -p 80,443 198.19.1.0/28")]
    Exec {
        /// Scenario file describing the lab.
        scenario: PathBuf,
        /// The command and its arguments.
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchTool {
    Portsweep,
    Floor,
    /// The floor plus a receiver that only counts replies (`lab floor --receive`).
    FloorRx,
    Masscan,
    MasscanRetries,
    Nmap,
    /// `nmap -sU -n -Pn`: UDP, scored like the others.
    NmapUdp,
    /// portsweep on the IPv6 twin of the lab (`--scenario6`), same shape.
    #[value(name = "portsweep-v6")]
    PortsweepV6,
    /// `nmap -6 -sS -n -Pn` on the IPv6 twin of the lab.
    #[value(name = "nmap-v6")]
    NmapV6,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenario of the lab (default: the reference lab).
    #[arg(long, default_value = "fixtures/scenarios/cluster-250.toml")]
    pub scenario: PathBuf,
    /// The IPv6 lab of the same shape, for the portsweep-v6 and nmap-v6 tools (built beside --scenario's).
    #[arg(long, default_value = "fixtures/scenarios/cluster-250-v6.toml")]
    pub scenario6: PathBuf,
    /// Runs per tool (medians are reported).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Tools to run, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "floor,portsweep,masscan,nmap")]
    pub tools: Vec<BenchTool>,
    /// Random loss in each direction, percent (overrides the scenario).
    #[arg(long)]
    pub loss: Option<f64>,
    /// Make every target drop everything: measures the send path alone.
    #[arg(long)]
    pub sink: bool,
    /// Kill a tool run after this long.
    #[arg(long, default_value = "600s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// What to print: the Markdown table, or the JSON record (every run of every tool, medians, ratios, machine).
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: BenchFormat,
    /// Also write what is printed (in --format) to this file.
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Fail (exit 1) unless EXPR holds, e.g. 'portsweep/floor<=1.5', 'portsweep/nmap<=0.15', 'exact>=1.0' (repeatable; see the README).
    #[arg(long = "require", value_name = "EXPR")]
    pub require: Vec<String>,
    /// Fail (exit 1) when a ratio of portsweep to a peer grew by more than --tolerance over this saved JSON run.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// How much a ratio may grow over the baseline's (0.25 = 25 %).
    #[arg(long, default_value_t = 0.25, value_parser = parse_tolerance)]
    pub tolerance: f64,
    /// Read a saved JSON run instead of running the lab: re-print it and check --require and --baseline on it.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["scenario", "scenario6", "runs", "tools", "loss", "sink", "timeout"])]
    pub from: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchFormat {
    Markdown,
    Json,
}

fn parse_tolerance(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!("{s:?} is not a non-negative fraction (0.25 = 25 %)")),
    }
}

#[derive(Debug, Args)]
pub struct FloorArgs {
    #[arg(required = true)]
    pub targets: Vec<String>,
    #[arg(short, long)]
    pub ports: String,
    #[arg(long, default_value_t = 2)]
    pub threads: u8,
    /// Also receive: the scanner's packet socket, filter and ring, counting replies until they stop.
    #[arg(long)]
    pub receive: bool,
}

/// Packets per second, or `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate(pub Option<u64>);

fn parse_rate(s: &str) -> Result<Rate, String> {
    if s.eq_ignore_ascii_case("max") {
        return Ok(Rate(None));
    }
    match s.replace('_', "").parse::<u64>() {
        Ok(0) => Err("rate must be at least 1 packet/s, or `max`".into()),
        Ok(n) => Ok(Rate(Some(n))),
        Err(_) => Err(format!("{s:?} is not a number of packets/s or `max`")),
    }
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let bad = || format!("{s:?} is not a shard I/N with 1 <= I <= N (e.g. 2/4), or job/N");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    // `job/N`: a Kubernetes Indexed Job's pod, whose 0-based index is in
    // JOB_COMPLETION_INDEX.
    let i = if i.trim() == "job" {
        let v = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| format!("--shard {s}: JOB_COMPLETION_INDEX is not set (it is in an Indexed Job's pods)"))?;
        v.trim().parse::<u64>().map_err(|_| format!("--shard {s}: JOB_COMPLETION_INDEX={v:?} is not a number"))? + 1
    } else {
        i.trim().parse::<u64>().map_err(|_| bad())?
    };
    let n = n.trim().parse::<u64>().map_err(|_| bad())?;
    if i == 0 || i > n {
        return Err(bad());
    }
    Ok(Shard { index: i - 1, count: n })
}

/// `ADDR:PORT`; an IPv6 address with or without brackets (`[fd00::1]:9468`,
/// or `fd00::1:9468` as a pod's `$(POD_IP):9468` gives it).
fn parse_listen_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    let bad = || format!("{s:?} is not ADDR:PORT (e.g. 0.0.0.0:9468, [::1]:9468)");
    let (ip, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let ip: std::net::IpAddr = ip.parse().map_err(|_| bad())?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok(std::net::SocketAddr::new(ip, port))
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e} (e.g. 500ms, 2s)"))
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Targets: addresses, CIDRs, a.b.c.d-e.f.g.h ranges, host names (every A record), @file (one or more per line, # comments).
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    /// Ports in nmap syntax: 22,80,30000-32767; - or 1- (1-65535), -1024 (1-1024), 30000- (to 65535);
    /// service names (ssh,https) from /etc/services; `T:`/`U:` switch protocol (T:6443,U:ntp,8472). Duplicates merge.
    #[arg(short, long, value_name = "PORTS", required_unless_present = "udp", allow_hyphen_values = true)]
    pub ports: Option<String>,
    /// UDP ports (like nmap -sU with -p U:…): 123,8285,8472, same forms as --ports.
    #[arg(long, value_name = "PORTS", allow_hyphen_values = true)]
    pub udp: Option<String>,
    /// Targets to leave out (same forms as TARGET).
    #[arg(long, value_name = "TARGET")]
    pub exclude: Vec<String>,
    /// A plan file whose `udp_payloads` the UDP probes carry (the plan's ports are not scanned: give them with -p).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub resolve: ResolveArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Print the probe count, the estimated time at the rate and the memory, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// After the sweep, identify what answers on every open port (read-only, anonymous; README: Service identification).
    #[arg(long)]
    pub identify: bool,
    #[command(flatten)]
    pub identify_tuning: IdentifyTuning,
}

#[derive(Debug, Args)]
pub struct EngineArgs {
    /// Packets per second over all senders, or `max`. The default, 100000,
    /// is about 45 Mbit/s of SYNs; spread over hundreds of nodes by the
    /// permutation it is a few hundred packets/s per node.
    #[arg(long, default_value = "100000", value_parser = parse_rate)]
    pub rate: Rate,
    /// Most retry passes over still-silent pairs. Passes stop earlier once
    /// the loss measured so far says no pair is likely still lost.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u8).range(0..=14))]
    pub retries: u8,
    /// Longest time spent after the passes re-probing silent UDP ports on
    /// hosts whose ICMP errors are rate limited. Scans with a few UDP ports
    /// per host finish their rounds in about 2-7 s, depending on how the
    /// targets limit ICMP errors (README: UDP probes and ICMP rate limits);
    /// pairs still unsettled then are reported as unresolved.
    #[arg(long, default_value = "30s", value_parser = parse_duration, value_name = "DURATION")]
    pub icmp_wait: Duration,
    /// Fixed wait for late replies after each pass (default: derived from the measured RTT).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub wait: Option<Duration>,
    /// Send and receive on this interface only.
    #[arg(long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// Source address of the probes, at most once per family (default: the kernel's route to the family's first target).
    #[arg(long, value_name = "ADDR")]
    pub source_ip: Vec<IpAddr>,
    /// Seed of the probe order (reproducible order; random when absent).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Probe only shard I of N of the seeded order (1-based; needs --seed). `portsweep merge` combines the N reports.
    #[arg(long, value_name = "I/N", value_parser = parse_shard, default_value = "1/1")]
    pub shard: Shard,
    /// Where an interrupted scan writes its checkpoint (default: the output file + `.checkpoint`, else `portsweep.checkpoint`).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    /// Continue the interrupted scan of this checkpoint (same targets, ports, seed and shard on the command line).
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// Sender threads (default: 1 at rates up to 150000/s, else one per core, at most 4).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=16))]
    pub senders: Option<u8>,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Format of stdout and of --output files whose name says none (default: table on a terminal, json otherwise).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write the report here (atomically) instead of stdout; repeatable. Each file's
    /// format: a FORMAT: prefix (json:FILE), else its extension (.json .csv .md .xml
    /// = JUnit .txt = table .html), else --format, else json. `-` is stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Vec<String>,
}

/// How host names among the targets and in inventories are resolved.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// Which records a host name stands for: 4 (A records), all (A and AAAA; AAAA are
    /// not scanned: names resolve to IPv4 only so far), 6 (refused, as yet), off (names are an error).
    #[arg(long, value_enum, default_value = "4", value_name = "4|6|all|off")]
    pub resolve: ResolveMode,
    /// Longest time for resolving every host name of the run (all at once, before the sweep).
    #[arg(long, default_value = "5s", value_parser = parse_duration, value_name = "DURATION")]
    pub resolve_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Scenario file to build instead of the built-in demo cluster.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}
