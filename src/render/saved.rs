//! Any saved report, read back by its `kind`: a scan, an audit (merged
//! shards are one or the other), a diff or a node × node matrix.
use crate::audit::matrix::Matrix;
use crate::audit::AuditReport;
use crate::diff::{AnyReport, Diff, DiffError};
use crate::report::ScanReport;

/// A report file of any kind `portsweep` writes as JSON.
pub enum SavedReport {
    Scan(Box<ScanReport>),
    Audit(Box<AuditReport>),
    Diff(Box<Diff>),
    Matrix(Box<Matrix>),
}

#[derive(serde::Deserialize)]
struct Kind {
    kind: Option<String>,
}

impl SavedReport {
    /// Reads a report file of at most [`crate::bounded::REPORT_FILE`];
    /// errors name the file (and the line of a JSON error).
    pub fn load(path: &std::path::Path) -> Result<SavedReport, DiffError> {
        let text = crate::bounded::read_text(path, crate::bounded::REPORT_FILE, "report")?;
        SavedReport::from_json(&text, &path.display().to_string())
    }

    pub fn from_json(text: &str, file: &str) -> Result<SavedReport, DiffError> {
        let err = |e: serde_json::Error| DiffError::Parse { file: file.into(), message: format!("line {}: {e}", e.line()) };
        let kind: Kind = serde_json::from_str(text).map_err(err)?;
        Ok(match kind.kind.as_deref() {
            Some("diff") => SavedReport::Diff(Box::new(serde_json::from_str(text).map_err(err)?)),
            Some("matrix") => SavedReport::Matrix(Box::new(serde_json::from_str(text).map_err(err)?)),
            _ => match AnyReport::from_json(text, file)? {
                AnyReport::Scan(s) => SavedReport::Scan(s),
                AnyReport::Audit(a) => SavedReport::Audit(a),
            },
        })
    }

    /// `scan`, `audit`, `diff` or `matrix`.
    pub fn kind(&self) -> &'static str {
        match self {
            SavedReport::Scan(_) => "scan",
            SavedReport::Audit(_) => "audit",
            SavedReport::Diff(_) => "diff",
            SavedReport::Matrix(_) => "matrix",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_and_others_are_named() {
        let diff = r#"{"portsweep": "0.1.0", "kind": "diff", "before": "a.json", "after": "b.json", "hosts": [], "ports": [],
            "summary": {"pairs_compared": 1, "ports_changed": 0, "hosts_changed": 0, "pairs_only_before": 0, "pairs_only_after": 0, "findings_appeared": 0, "findings_disappeared": 0, "findings_severity_changed": 0}}"#;
        assert_eq!(SavedReport::from_json(diff, "d.json").unwrap().kind(), "diff");
        let matrix = r#"{"kind": "matrix", "sources": ["a"], "targets": ["b"], "cells": [{"from": "a", "to": "b", "ok": true, "problems": []}]}"#;
        assert_eq!(SavedReport::from_json(matrix, "m.json").unwrap().kind(), "matrix");
        let e = |t: &str| SavedReport::from_json(t, "x.json").err().unwrap().to_string();
        assert_eq!(e(r#"{"kind": "List", "items": []}"#), "x.json: not a portsweep report (kind \"List\")");
        assert_eq!(e(r#"{"items": []}"#), "x.json: not a portsweep report (kind \"none\")");
        assert!(e("{\"kind\": \"diff\",\n\"before\": 1}").starts_with("x.json: line 2: "), "{}", e("{\"kind\": \"diff\",\n\"before\": 1}"));
    }
}
