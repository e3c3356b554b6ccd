//! The record of one `portsweep lab bench` run: every run of every tool,
//! the medians, the ratios between tools, and where it was measured. It is
//! the one source both formats are drawn from (the Markdown table a reader
//! reads and the JSON a CI job keeps and gates on, see `gates`), so a saved
//! JSON run renders the same table again and its gates give the same
//! verdict as on the day it was measured.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bench::Score;

/// The `format` field of every record this version writes and reads.
pub const FORMAT: &str = "portsweep-bench/1";

/// A whole benchmark run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRecord {
    pub format: String,
    pub machine: Machine,
    /// The command line that made the figures.
    pub command: String,
    pub scenario: ScenarioInfo,
    /// In the order they ran.
    pub tools: Vec<ToolResult>,
}

/// When and where the figures were made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// RFC 3339, UTC.
    pub measured_at: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub distribution: String,
    /// Version lines of the peers present (masscan, nmap).
    pub peer_versions: Vec<String>,
    pub portsweep_version: String,
}

/// What was scanned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub path: String,
    pub hosts: u64,
    pub ports: u64,
    pub pairs: u64,
    pub loss_percent: f64,
    /// Every target dropped everything (the send path alone; nothing scored).
    pub sink: bool,
}

/// One tool: its runs, their medians and its ratios to every other tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolResult {
    /// The `--tools` name: portsweep, floor, masscan, masscan-retries, nmap, nmap-udp.
    pub tool: String,
    /// How it was run, as the table names it.
    pub label: String,
    pub runs: Vec<RunRecord>,
    pub median: Summary,
    /// This tool's median wall time over each other tool's, by `--tools` name.
    pub ratio_to: BTreeMap<String, f64>,
}

/// One run of one tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub wall_s: f64,
    /// User + system CPU seconds of the tool's process.
    pub cpu_s: f64,
    pub peak_rss_kib: u64,
    pub probes: u64,
    /// False when the run was killed at the timeout or exited with an error.
    pub finished: bool,
    /// Against the lab's ground truth; absent for the floor, in `--sink`
    /// runs, and for a run that left no readable output.
    pub score: Option<Score>,
    /// portsweep's `stats.udp_unresolved`.
    pub udp_unresolved: Option<u64>,
}

impl RunRecord {
    /// Fraction of pairs whose state matched the truth (0–1).
    pub fn exact(&self) -> Option<f64> {
        self.score.map(|s| if s.pairs == 0 { 0.0 } else { s.exact as f64 / s.pairs as f64 })
    }
    pub fn open_recall(&self) -> Option<f64> {
        self.score.map(|s| if s.open_truth == 0 { 1.0 } else { s.open_found as f64 / s.open_truth as f64 })
    }
}

/// Medians over a tool's runs (and the spread of the figures that vary most).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub wall_s: f64,
    pub wall_min_s: f64,
    pub wall_max_s: f64,
    pub cpu_s: f64,
    pub peak_rss_mib: f64,
    pub probes: f64,
    pub probes_per_s: f64,
    pub cpu_s_per_million_probes: f64,
    /// Worst and best run's exact fraction (0–1), when scored.
    pub exact_min: Option<f64>,
    pub exact_max: Option<f64>,
    pub open_recall_min: Option<f64>,
    pub open_recall_max: Option<f64>,
}

/// The middle value (the upper one of an even count); 0 for none.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn min_max(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    v.fold(None, |acc, x| Some(acc.map_or((x, x), |(a, b): (f64, f64)| (a.min(x), b.max(x)))))
}

impl Summary {
    pub fn of(runs: &[RunRecord]) -> Summary {
        let walls: Vec<f64> = runs.iter().map(|r| r.wall_s).collect();
        let (wall_min_s, wall_max_s) = min_max(walls.iter().copied()).unwrap_or((0.0, 0.0));
        let wall_s = median(walls);
        let probes = median(runs.iter().map(|r| r.probes as f64).collect());
        let cpu_s = median(runs.iter().map(|r| r.cpu_s).collect());
        let exact = min_max(runs.iter().filter_map(RunRecord::exact));
        let recall = min_max(runs.iter().filter_map(RunRecord::open_recall));
        Summary {
            wall_s,
            wall_min_s,
            wall_max_s,
            cpu_s,
            peak_rss_mib: median(runs.iter().map(|r| r.peak_rss_kib as f64).collect()) / 1024.0,
            probes,
            probes_per_s: probes / wall_s.max(1e-9),
            cpu_s_per_million_probes: cpu_s / (probes / 1e6).max(1e-9),
            exact_min: exact.map(|e| e.0),
            exact_max: exact.map(|e| e.1),
            open_recall_min: recall.map(|r| r.0),
            open_recall_max: recall.map(|r| r.1),
        }
    }
}

impl ToolResult {
    /// Summarises `runs`; `ratio_to` is filled by [`BenchRecord::new`].
    pub fn new(tool: &str, label: &str, runs: Vec<RunRecord>) -> ToolResult {
        ToolResult { tool: tool.into(), label: label.into(), median: Summary::of(&runs), runs, ratio_to: BTreeMap::new() }
    }
}

/// How the headline names a peer.
fn peer_phrase(tool: &str) -> &str {
    match tool {
        "floor" => "the send-only floor",
        "floor-rx" => "the send + receive floor",
        "masscan-retries" => "masscan --retries 2",
        "nmap" => "nmap -sS",
        "nmap-udp" => "nmap -sU",
        "portsweep-v6" => "portsweep over IPv6",
        "nmap-v6" => "nmap -6 -sS",
        other => other,
    }
}

impl BenchRecord {
    /// Assembles a record and fills every tool's ratios to the others.
    pub fn new(machine: Machine, command: String, scenario: ScenarioInfo, mut tools: Vec<ToolResult>) -> BenchRecord {
        let medians: Vec<(String, f64)> = tools.iter().map(|t| (t.tool.clone(), t.median.wall_s)).collect();
        for t in &mut tools {
            t.ratio_to = medians.iter().filter(|(name, _)| *name != t.tool).map(|(name, wall)| (name.clone(), t.median.wall_s / wall.max(1e-9))).collect();
        }
        BenchRecord { format: FORMAT.into(), machine, command, scenario, tools }
    }

    pub fn tool(&self, name: &str) -> Option<&ToolResult> {
        self.tools.iter().find(|t| t.tool == name)
    }

    /// Reads a saved JSON record, refusing other formats by name.
    pub fn from_json(text: &str) -> Result<BenchRecord, String> {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(FORMAT) => serde_json::from_value(value).map_err(|e| format!("not a {FORMAT} record: {e}")),
            Some(other) => Err(format!("format {other:?} is not {FORMAT:?}")),
            None => Err(format!("no \"format\" field: not a {FORMAT} record")),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a record of numbers and strings serialises") + "\n"
    }

    /// The provenance, the table and the headline ratios.
    pub fn to_markdown(&self) -> String {
        let m = &self.machine;
        let runs = self.tools.iter().map(|t| t.runs.len()).max().unwrap_or(0);
        let mut text = format!(
            "Measured {} on {} cores, {:.0} GiB, Linux {}, {}{}; portsweep {}.\nCommand: `{}`\n\n",
            m.measured_at,
            m.cores,
            m.memory_gib,
            m.kernel,
            m.distribution,
            if m.peer_versions.is_empty() { String::new() } else { format!("; {}", m.peer_versions.join("; ")) },
            m.portsweep_version,
            self.command
        );
        text += &format!(
            "| tool | wall s (median; min–max of {runs}) | probes/s | exact % | open recall % | UDP unresolved | CPU s | CPU s per M probes | peak RSS MiB | × floor | × floor-rx |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
        );
        let range = |v: Option<(f64, f64)>| match v {
            None => "—".to_string(),
            Some((a, b)) if (a - b).abs() < 1e-9 => format!("{a:.3}"),
            Some((a, b)) => format!("{a:.3}–{b:.3}"),
        };
        for t in &self.tools {
            let s = &t.median;
            let percent = |lo: Option<f64>, hi: Option<f64>| range(lo.zip(hi).map(|(a, b)| (a * 100.0, b * 100.0)));
            let unresolved = match min_max(t.runs.iter().filter_map(|r| r.udp_unresolved.map(|u| u as f64))) {
                Some((a, b)) if a == b => format!("{a}"),
                Some((a, b)) => format!("{a}–{b}"),
                None => "—".into(),
            };
            let ratio = |peer: &str| if t.tool == peer { Some(1.0) } else { t.ratio_to.get(peer).copied() };
            let cell = |r: Option<f64>| r.map(|f| format!("{f:.2}")).unwrap_or_else(|| "—".into());
            text += &format!(
                "| {} | {:.2} ({:.2}–{:.2}) | {:.0} | {} | {} | {unresolved} | {:.2} | {:.2} | {:.1} | {} | {} |\n",
                t.label,
                s.wall_s,
                s.wall_min_s,
                s.wall_max_s,
                s.probes_per_s,
                percent(s.exact_min, s.exact_max),
                percent(s.open_recall_min, s.open_recall_max),
                s.cpu_s,
                s.cpu_s_per_million_probes,
                s.peak_rss_mib,
                cell(ratio("floor")),
                cell(ratio("floor-rx")),
            );
        }
        // The headline is the ratios (they hold across machines); the
        // absolute times are this run's, on this machine, on this day.
        if let Some(ps) = self.tool("portsweep") {
            let ratios: Vec<String> = self.tools.iter().filter(|t| t.tool != "portsweep").filter_map(|t| ps.ratio_to.get(&t.tool).map(|r| format!("{r:.2} × {}", peer_phrase(&t.tool)))).collect();
            if !ratios.is_empty() {
                text += &format!("\nportsweep's median wall time = {}.\n", ratios.join(", "));
            }
        }
        // The same shape over IPv6: each family's tool against its IPv4 run.
        let v6: Vec<String> = [("portsweep-v6", "portsweep"), ("nmap-v6", "nmap")]
            .iter()
            .filter_map(|(v6, v4)| self.tool(v6)?.ratio_to.get(*v4).map(|r| format!("{} {r:.2} × its IPv4 run", peer_phrase(v6))))
            .collect();
        if !v6.is_empty() {
            text += &format!("IPv6 / IPv4 median wall time: {}.\n", v6.join(", "));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(wall_s: f64, exact: u64) -> RunRecord {
        RunRecord { wall_s, cpu_s: 1.0, peak_rss_kib: 2048, probes: 1000, finished: true, score: Some(Score { pairs: 1000, exact, open_truth: 10, open_found: 10 }), udp_unresolved: None }
    }

    #[test]
    fn medians_ratios_and_round_trip() {
        let machine = Machine { measured_at: "2026-11-28T05:00:00Z".into(), cores: 2, memory_gib: 24.0, kernel: "6.18".into(), distribution: "Debian".into(), peer_versions: vec![], portsweep_version: "0.1.0".into() };
        let scenario = ScenarioInfo { path: "s.toml".into(), hosts: 10, ports: 100, pairs: 1000, loss_percent: 0.0, sink: false };
        let floor = ToolResult::new("floor", "floor", vec![RunRecord { score: None, ..run(2.0, 0) }]);
        let ps = ToolResult::new("portsweep", "portsweep --rate max", vec![run(3.0, 1000), run(5.0, 999), run(4.0, 1000)]);
        let r = BenchRecord::new(machine, "portsweep lab bench".into(), scenario, vec![floor, ps]);
        let ps = r.tool("portsweep").unwrap();
        assert_eq!((ps.median.wall_s, ps.median.wall_min_s, ps.median.wall_max_s), (4.0, 3.0, 5.0));
        assert_eq!((ps.median.exact_min, ps.median.exact_max), (Some(0.999), Some(1.0)));
        assert_eq!(ps.ratio_to.get("floor"), Some(&2.0));
        assert_eq!(r.tool("floor").unwrap().ratio_to.get("portsweep"), Some(&0.5));
        assert_eq!(BenchRecord::from_json(&r.to_json()), Ok(r.clone()));
        let md = r.to_markdown();
        assert!(md.contains("| portsweep --rate max | 4.00 (3.00–5.00) | 250 | 99.900–100.000 | 100.000 | — | 1.00 | 1000.00 | 2.0 | 2.00 |"), "{md}");
        assert!(md.ends_with("\nportsweep's median wall time = 2.00 × the send-only floor.\n"), "{md}");
    }

    #[test]
    fn ipv6_runs_are_set_against_their_ipv4_twins() {
        let machine = Machine { measured_at: "2026-11-28T05:00:00Z".into(), cores: 2, memory_gib: 24.0, kernel: "6.18".into(), distribution: "Debian".into(), peer_versions: vec![], portsweep_version: "0.1.0".into() };
        let scenario = ScenarioInfo { path: "s.toml".into(), hosts: 10, ports: 100, pairs: 1000, loss_percent: 0.0, sink: false };
        let tools = vec![
            ToolResult::new("portsweep", "portsweep --rate max", vec![run(4.0, 1000)]),
            ToolResult::new("portsweep-v6", "portsweep --rate max (IPv6)", vec![run(4.4, 1000)]),
            ToolResult::new("nmap", "nmap -sS -n -Pn", vec![run(30.0, 1000)]),
            ToolResult::new("nmap-v6", "nmap -6 -sS -n -Pn", vec![run(36.0, 1000)]),
        ];
        let md = BenchRecord::new(machine, "portsweep lab bench".into(), scenario, tools).to_markdown();
        assert!(md.ends_with("IPv6 / IPv4 median wall time: portsweep over IPv6 1.10 × its IPv4 run, nmap -6 -sS 1.20 × its IPv4 run.\n"), "{md}");
    }

    #[test]
    fn other_formats_are_refused_by_name() {
        assert_eq!(BenchRecord::from_json(r#"{"format":"portsweep-bench/9"}"#), Err("format \"portsweep-bench/9\" is not \"portsweep-bench/1\"".into()));
        assert!(BenchRecord::from_json(r#"{"hosts":[]}"#).unwrap_err().starts_with("no \"format\" field"));
        assert!(BenchRecord::from_json("| tool |").unwrap_err().starts_with("not JSON"));
    }
}
