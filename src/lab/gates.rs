//! Gates on a benchmark record, so a CI job can fail on a regression:
//! `--require` expressions checked against one run, and a comparison with a
//! saved baseline run. Both look only at figures measured within one run
//! (ratios of median wall times, exactness) or at ratios between runs,
//! never at absolute times, which on shared machines are noise.
//!
//! The grammar of a `--require` expression, spaces allowed anywhere:
//!
//! ```text
//! gate   = value op number
//! value  = tool "/" tool          median wall time of one over the other's
//!        | [tool "."] metric      a figure of one tool (default: portsweep)
//! metric = exact | recall         worst run's fraction of pairs exact / open pairs found (0–1)
//!        | wall | cpu | rss       median wall s, CPU s, peak RSS MiB
//! op     = "<=" | ">=" | "<" | ">"
//! ```
use std::fmt;

use super::bench_record::BenchRecord;

/// The `--tools` names a gate may name.
pub const TOOLS: [&str; 7] = ["portsweep", "floor", "floor-rx", "masscan", "masscan-retries", "nmap", "nmap-udp"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Exact,
    Recall,
    Wall,
    Cpu,
    Rss,
}

const METRICS: [(&str, Metric); 5] = [("exact", Metric::Exact), ("recall", Metric::Recall), ("wall", Metric::Wall), ("cpu", Metric::Cpu), ("rss", Metric::Rss)];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Median wall time of the first tool over the second's.
    Ratio(String, String),
    Figure(String, Metric),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Le,
    Ge,
    Lt,
    Gt,
}

impl Op {
    fn holds(self, value: f64, limit: f64) -> bool {
        match self {
            Op::Le => value <= limit,
            Op::Ge => value >= limit,
            Op::Lt => value < limit,
            Op::Gt => value > limit,
        }
    }
    fn symbol(self) -> &'static str {
        match self {
            Op::Le => "<=",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Gt => ">",
        }
    }
}

/// One parsed `--require` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    /// As the user wrote it, for messages.
    pub text: String,
    pub value: Value,
    pub op: Op,
    pub limit: f64,
}

/// A bad expression, named with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad gate {text:?}: {reason}")]
pub struct GateError {
    pub text: String,
    pub reason: String,
}

fn tool_name(name: &str, text: &str) -> Result<String, GateError> {
    if TOOLS.contains(&name) {
        Ok(name.to_string())
    } else {
        Err(GateError { text: text.into(), reason: format!("unknown tool {name:?} (tools: {})", TOOLS.join(", ")) })
    }
}

impl Gate {
    pub fn parse(text: &str) -> Result<Gate, GateError> {
        let bad = |reason: String| GateError { text: text.into(), reason };
        let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        // Two-character operators first, so `<=` is not read as `<` and `=1`.
        let (at, op, len) = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
            .iter()
            .find_map(|(sym, op)| squeezed.find(sym).map(|at| (at, *op, sym.len())))
            .ok_or_else(|| bad("no comparison (one of <=, >=, <, >), e.g. portsweep/floor<=1.5".into()))?;
        let (lhs, rhs) = (&squeezed[..at], &squeezed[at + len..]);
        if rhs.contains(['<', '>', '=']) {
            return Err(bad("more than one comparison".into()));
        }
        let limit: f64 = rhs.parse().ok().filter(|l: &f64| l.is_finite() && *l >= 0.0).ok_or_else(|| bad(format!("{rhs:?} is not a non-negative number")))?;
        let value = if let Some((a, b)) = lhs.split_once('/') {
            Value::Ratio(tool_name(a, text)?, tool_name(b, text)?)
        } else {
            let (tool, metric) = lhs.split_once('.').unwrap_or(("portsweep", lhs));
            let metric = METRICS
                .iter()
                .find(|(name, _)| *name == metric)
                .map(|(_, m)| *m)
                .ok_or_else(|| bad(format!("{metric:?} is neither TOOL/TOOL nor a figure (exact, recall, wall, cpu, rss)")))?;
            Value::Figure(tool_name(tool, text)?, metric)
        };
        Ok(Gate { text: text.trim().into(), value, op, limit })
    }

    /// The tools this gate needs in a run.
    pub fn tools(&self) -> Vec<&str> {
        match &self.value {
            Value::Ratio(a, b) => vec![a, b],
            Value::Figure(t, _) => vec![t],
        }
    }

    /// Evaluates the gate on a record.
    pub fn check(&self, record: &BenchRecord) -> Verdict {
        let figure = match &self.value {
            Value::Ratio(a, b) => match (record.tool(a), record.tool(b)) {
                (Some(x), Some(y)) => Ok((x.median.wall_s / y.median.wall_s.max(1e-9), format!("{a} {:.2} s / {b} {:.2} s, median wall", x.median.wall_s, y.median.wall_s))),
                _ => Err(format!("the run has no {}", if record.tool(a).is_none() { a } else { b })),
            },
            Value::Figure(t, metric) => match record.tool(t) {
                None => Err(format!("the run has no {t}")),
                Some(r) => match metric {
                    Metric::Exact | Metric::Recall if record.scenario.sink => Err("a --sink run is not scored".into()),
                    Metric::Exact | Metric::Recall if r.runs.iter().all(|run| run.finished && run.score.is_none()) => Err(format!("{t} is not scored")),
                    Metric::Exact | Metric::Recall => {
                        // A run that left nothing to score counts as nothing right.
                        let each = r.runs.iter().map(|run| if *metric == Metric::Exact { run.exact() } else { run.open_recall() }.unwrap_or(0.0));
                        let worst = each.fold(f64::INFINITY, f64::min);
                        if worst.is_finite() {
                            Ok((worst, format!("worst of {} run(s)", r.runs.len())))
                        } else {
                            Err(format!("{t} has no runs"))
                        }
                    }
                    Metric::Wall => Ok((r.median.wall_s, "median s".into())),
                    Metric::Cpu => Ok((r.median.cpu_s, "median CPU s".into())),
                    Metric::Rss => Ok((r.median.peak_rss_mib, "median peak RSS MiB".into())),
                },
            },
        };
        match figure {
            Ok((value, how)) => Verdict { passed: self.op.holds(value, self.limit), text: format!("{}: {} = {value:.4} ({how}), required {} {}", self.text, self.lhs(), self.op.symbol(), self.limit) },
            Err(why) => Verdict { passed: false, text: format!("{}: {why}", self.text) },
        }
    }

    fn lhs(&self) -> String {
        match &self.value {
            Value::Ratio(a, b) => format!("{a}/{b}"),
            Value::Figure(t, m) => format!("{t}.{}", METRICS.iter().find(|(_, x)| x == m).map(|(n, _)| *n).unwrap_or("?")),
        }
    }
}

/// A gate's outcome, with the figures behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub passed: bool,
    pub text: String,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", if self.passed { "pass" } else { "FAIL" }, self.text)
    }
}

/// Why a baseline cannot be compared with a run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the baseline was measured on {baseline} and this run on {current}: their ratios do not compare")]
pub struct BaselineMismatch {
    pub baseline: String,
    pub current: String,
}

/// Compares portsweep's ratio to every peer present in both runs with the
/// baseline's: a ratio that grew by more than `tolerance` (0.25 = 25 %)
/// fails. Ratios that shrank (portsweep got relatively faster) pass.
pub fn compare_baseline(current: &BenchRecord, baseline: &BenchRecord, tolerance: f64) -> Result<Vec<Verdict>, BaselineMismatch> {
    let describe = |r: &BenchRecord| format!("{} ({} pairs, {} % loss{})", r.scenario.path, r.scenario.pairs, r.scenario.loss_percent, if r.scenario.sink { ", sink" } else { "" });
    let (a, b) = (&current.scenario, &baseline.scenario);
    if a.pairs != b.pairs || a.loss_percent != b.loss_percent || a.sink != b.sink {
        return Err(BaselineMismatch { baseline: describe(baseline), current: describe(current) });
    }
    let (Some(now), Some(then)) = (current.tool("portsweep"), baseline.tool("portsweep")) else {
        return Ok(vec![Verdict { passed: false, text: "baseline: portsweep is missing from the run or the baseline".into() }]);
    };
    let mut verdicts = Vec::new();
    for (peer, &ratio) in &now.ratio_to {
        let Some(&was) = then.ratio_to.get(peer) else { continue };
        let limit = was * (1.0 + tolerance);
        verdicts.push(Verdict {
            passed: ratio <= limit,
            text: format!("baseline portsweep/{peer}: {ratio:.4} now, {was:.4} in the baseline ({:+.1} %), allowed up to {limit:.4} (+{:.0} %)", (ratio / was.max(1e-9) - 1.0) * 100.0, tolerance * 100.0),
        });
    }
    if verdicts.is_empty() {
        verdicts.push(Verdict { passed: false, text: "baseline: no peer of portsweep is in both the run and the baseline".into() });
    }
    Ok(verdicts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::bench::Score;
    use crate::lab::bench_record::{Machine, RunRecord, ScenarioInfo, ToolResult};

    fn run(wall_s: f64, exact: Option<u64>) -> RunRecord {
        RunRecord { wall_s, cpu_s: 2.0, peak_rss_kib: 6144, probes: 1000, finished: true, score: exact.map(|e| Score { pairs: 1000, exact: e, open_truth: 4, open_found: 4 }), udp_unresolved: None, replies: None, rx_dropped: None }
    }

    /// floor 2 s, portsweep 3 s (one run 999/1000 exact), nmap 30 s.
    fn record(portsweep_walls: [f64; 3]) -> BenchRecord {
        let machine = Machine { measured_at: "2026-11-28T05:00:00Z".into(), cores: 2, memory_gib: 24.0, kernel: "6.18".into(), distribution: "Debian".into(), peer_versions: vec![], portsweep_version: "0.1.0".into() };
        let scenario = ScenarioInfo { path: "s.toml".into(), hosts: 10, ports: 100, pairs: 1000, loss_percent: 0.0, sink: false };
        let [a, b, c] = portsweep_walls;
        BenchRecord::new(
            machine,
            "portsweep lab bench".into(),
            scenario,
            vec![
                ToolResult::new("floor", "floor", vec![run(2.0, None), run(2.0, None), run(2.0, None)]),
                ToolResult::new("portsweep", "portsweep", vec![run(a, Some(1000)), run(b, Some(999)), run(c, Some(1000))]),
                ToolResult::new("nmap", "nmap", vec![run(30.0, Some(1000))]),
            ],
        )
    }

    #[test]
    fn parses_each_form() {
        let g = Gate::parse("portsweep/floor<=1.5").unwrap();
        assert_eq!((g.value, g.op, g.limit), (Value::Ratio("portsweep".into(), "floor".into()), Op::Le, 1.5));
        let g = Gate::parse(" exact >= 1.0 ").unwrap();
        assert_eq!((g.text.as_str(), g.value, g.op, g.limit), ("exact >= 1.0", Value::Figure("portsweep".into(), Metric::Exact), Op::Ge, 1.0));
        let g = Gate::parse("nmap-udp.recall>0.9").unwrap();
        assert_eq!((g.value, g.op), (Value::Figure("nmap-udp".into(), Metric::Recall), Op::Gt));
        assert_eq!(Gate::parse("rss<64").unwrap().value, Value::Figure("portsweep".into(), Metric::Rss));
        assert_eq!(Gate::parse("masscan-retries/nmap<2").unwrap().tools(), ["masscan-retries", "nmap"]);
    }

    #[test]
    fn bad_expressions_are_named_with_the_reason() {
        let err = |t: &str| Gate::parse(t).unwrap_err().to_string();
        assert_eq!(err("portsweep/flor<=1.5"), "bad gate \"portsweep/flor<=1.5\": unknown tool \"flor\" (tools: portsweep, floor, floor-rx, masscan, masscan-retries, nmap, nmap-udp)");
        assert_eq!(err("portsweep/floor=1.5"), "bad gate \"portsweep/floor=1.5\": no comparison (one of <=, >=, <, >), e.g. portsweep/floor<=1.5");
        assert_eq!(err("exact>=one"), "bad gate \"exact>=one\": \"one\" is not a non-negative number");
        assert_eq!(err("exact>=-1"), "bad gate \"exact>=-1\": \"-1\" is not a non-negative number");
        assert_eq!(err("exact>="), "bad gate \"exact>=\": \"\" is not a non-negative number");
        assert_eq!(err("speed<=2"), "bad gate \"speed<=2\": \"speed\" is neither TOOL/TOOL nor a figure (exact, recall, wall, cpu, rss)");
        assert_eq!(err("1<portsweep/floor<2"), "bad gate \"1<portsweep/floor<2\": more than one comparison");
    }

    #[test]
    fn gates_pass_and_fail_on_the_figures() {
        let r = record([3.0, 3.2, 2.9]);
        let check = |t: &str| Gate::parse(t).unwrap().check(&r);
        // portsweep's median is 3.0 s, floor 2.0 s, nmap 30.0 s.
        assert_eq!(check("portsweep/floor<=1.5"), Verdict { passed: true, text: "portsweep/floor<=1.5: portsweep/floor = 1.5000 (portsweep 3.00 s / floor 2.00 s, median wall), required <= 1.5".into() });
        assert!(!check("portsweep/floor<1.5").passed);
        assert!(!check("portsweep/floor<=1.49").passed);
        assert!(check("portsweep/nmap<=0.1").passed);
        assert!(!check("portsweep/nmap<=0.09").passed);
        // One run has 999 of 1000 pairs exact: the worst run counts.
        assert_eq!(check("exact>=1.0"), Verdict { passed: false, text: "exact>=1.0: portsweep.exact = 0.9990 (worst of 3 run(s)), required >= 1".into() });
        assert!(check("exact>=0.999").passed);
        assert!(check("nmap.exact>=1").passed);
        assert!(check("rss<=6").passed && !check("rss<6").passed);
        assert_eq!(check("portsweep/masscan<=1"), Verdict { passed: false, text: "portsweep/masscan<=1: the run has no masscan".into() });
        assert_eq!(check("floor.exact>=1"), Verdict { passed: false, text: "floor.exact>=1: floor is not scored".into() });
    }

    #[test]
    fn a_run_left_unscored_counts_as_nothing_exact() {
        let mut r = record([3.0, 3.0, 3.0]);
        r.tools[1].runs[0].score = None;
        r.tools[1].runs[0].finished = false;
        assert_eq!(Gate::parse("exact>=0.5").unwrap().check(&r).text, "exact>=0.5: portsweep.exact = 0.0000 (worst of 3 run(s)), required >= 0.5");
    }

    #[test]
    fn baseline_fails_on_a_ratio_grown_past_the_tolerance() {
        let baseline = record([3.0, 3.0, 3.0]); // 1.5 × floor, 0.1 × nmap
        let grown = record([3.9, 3.9, 3.9]); // 1.95 × floor (+30 %), 0.13 × nmap (+30 %)
        let v = compare_baseline(&grown, &baseline, 0.25).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0], Verdict { passed: false, text: "baseline portsweep/floor: 1.9500 now, 1.5000 in the baseline (+30.0 %), allowed up to 1.8750 (+25 %)".into() });
        assert!(!v[1].passed && v[1].text.starts_with("baseline portsweep/nmap: 0.1300 now, 0.1000 in the baseline (+30.0 %)"), "{}", v[1].text);
        assert!(compare_baseline(&grown, &baseline, 0.30).unwrap().iter().all(|v| v.passed));
        // Faster than the baseline passes whatever the tolerance.
        assert!(compare_baseline(&baseline, &grown, 0.0).unwrap().iter().all(|v| v.passed));
        let mut other = record([3.0, 3.0, 3.0]);
        other.scenario.pairs = 2000;
        assert_eq!(
            compare_baseline(&other, &baseline, 0.25).unwrap_err().to_string(),
            "the baseline was measured on s.toml (1000 pairs, 0 % loss) and this run on s.toml (2000 pairs, 0 % loss): their ratios do not compare"
        );
    }
}
