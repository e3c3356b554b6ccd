//! Helpers for tests that build namespace labs and run the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

use portsweep::lab::{verify::verify, Lab, Scenario};
use portsweep::report::ScanReport;

/// Lab tests take both cores and time-sensitive resources: one at a time.
static LAB_LOCK: Mutex<()> = Mutex::new(());

pub fn lab_lock() -> MutexGuard<'static, ()> {
    LAB_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_portsweep")
}

pub fn scenario(name: &str) -> Scenario {
    Scenario::load(&fixture(&format!("scenarios/{name}.toml"))).expect("scenario parses")
}

/// Runs `portsweep scan` on the scenario's targets and ports inside the
/// lab's scanner namespace, returning the parsed JSON report.
pub fn scan_in_lab(lab: &Lab, s: &Scenario, extra: &[&str]) -> (ScanReport, Output) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("scan.json");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", lab.scanner_ns(), bin(), "scan"]);
    cmd.args(&s.targets);
    for e in &s.exclude {
        cmd.args(["--exclude", e]);
    }
    cmd.args(["-p", &s.ports, "--format", "json", "--output"]).arg(&out_path).args(extra);
    let output = cmd.output().expect("runs portsweep");
    assert!(output.status.success(), "scan failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&out_path).expect("report written");
    (serde_json::from_str(&text).expect("report is valid JSON"), output)
}

/// Asserts the report matches the scenario for every pair (states and reasons).
pub fn assert_exact(s: &Scenario, report: &ScanReport) {
    let v = verify(s, report, true);
    assert!(v.pairs > 0);
    assert!(v.is_exact(), "{}", v.summary(20));
}
