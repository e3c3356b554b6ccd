//! Node × node reachability from per-node audits (the DaemonSet's: each
//! node audits all the others with `--from node --vantage-node NAME`): a
//! cell says whether every port that must answer from a node did, and if
//! not, which ports failed how. The diagonal is left out.
use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{AuditReport, FindingKind};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cell {
    pub from: String,
    pub to: String,
    pub ok: bool,
    /// `"179/tcp blocked"`, `"unreachable"`, …
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    pub kind: String,
    pub sources: Vec<String>,
    pub targets: Vec<String>,
    pub cells: Vec<Cell>,
}

/// Builds the matrix; reports without a vantage node are named `?N`.
pub fn matrix(reports: &[AuditReport]) -> Matrix {
    let mut cells = Vec::new();
    let mut sources = Vec::new();
    let mut targets = BTreeSet::new();
    for (k, r) in reports.iter().enumerate() {
        let from = r.vantage_node.clone().unwrap_or_else(|| format!("?{}", k + 1));
        sources.push(from.clone());
        for node in &r.nodes {
            if node.name == from {
                continue;
            }
            targets.insert(node.name.clone());
            let problems: Vec<String> = r
                .findings
                .iter()
                .filter(|f| f.node == node.name && matches!(f.kind, FindingKind::Missing | FindingKind::Blocked | FindingKind::Unreachable))
                .map(|f| match f.protocol {
                    Some(p) => format!("{}/{} {}", f.port, p, f.kind),
                    None => f.kind.to_string(),
                })
                .collect();
            cells.push(Cell { from: from.clone(), to: node.name.clone(), ok: problems.is_empty(), problems });
        }
    }
    Matrix { kind: "matrix".into(), sources, targets: targets.into_iter().collect(), cells }
}

/// One line per source: `ok` count, then each failing cell.
pub fn render_table(m: &Matrix) -> String {
    let mut s = String::new();
    for src in &m.sources {
        let mine: Vec<&Cell> = m.cells.iter().filter(|c| &c.from == src).collect();
        let ok = mine.iter().filter(|c| c.ok).count();
        let _ = writeln!(s, "{src} → {ok}/{} nodes reachable on every port that must answer", mine.len());
        for c in mine.iter().filter(|c| !c.ok) {
            let _ = writeln!(s, "    ✗ {}: {}", c.to, c.problems.join(", "));
        }
    }
    let bad = m.cells.iter().filter(|c| !c.ok).count();
    let _ = writeln!(s, "{} sources × {} targets: {} cells, {} with problems", m.sources.len(), m.targets.len(), m.cells.len(), bad);
    s
}
