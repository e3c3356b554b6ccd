//! The README's claims that a machine can check: each test first finds the
//! claim in README.md (so editing the text away is noticed too), then checks
//! it against the real binary.
mod common;

use std::process::Command;

use common::{bin, README_SCAN};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md")
}

/// README text with line breaks and runs of spaces folded to one space.
fn folded(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn help(path: &[&str]) -> String {
    let out = Command::new(bin()).args(path).arg("--help").output().expect("runs portsweep");
    assert!(out.status.success(), "{path:?} --help: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The subcommands a `--help` lists under `Commands:` (without `help`).
fn subcommands(help_text: &str) -> Vec<String> {
    help_text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter(|l| !l.starts_with("   ")) // wrapped descriptions
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(String::from)
        .collect()
}

#[test]
fn every_subcommand_help_has_examples_as_the_readme_says() {
    assert!(folded(&readme()).contains("every subcommand's `--help` has examples"));
    let mut stack: Vec<Vec<String>> = subcommands(&help(&[])).into_iter().map(|c| vec![c]).collect();
    let mut seen = Vec::new();
    while let Some(path) = stack.pop() {
        let args: Vec<&str> = path.iter().map(String::as_str).collect();
        let text = help(&args);
        assert!(text.contains("\nExamples:\n  portsweep "), "`portsweep {} --help` has no examples:\n{text}", path.join(" "));
        for sub in subcommands(&text) {
            stack.push(path.iter().cloned().chain([sub]).collect());
        }
        seen.push(path.join(" "));
    }
    seen.sort();
    assert_eq!(seen, ["audit", "completions", "demo", "diff", "lab", "lab bench", "lab clean", "lab exec", "man", "matrix", "merge", "plan", "report", "scan"]);
}


#[test]
fn junit_is_as_the_readme_describes() {
    let text = folded(&readme());
    assert!(text.contains("`--format junit` (one suite per node; one test case per planned port or range, and one per finding on a port the plan lacks; a case with findings fails once, its `<failure>` listing every finding of the case"), "the README's JUnit sentence changed");
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.json");
    std::fs::write(&scan, README_SCAN).unwrap();
    let out = Command::new(bin())
        .args(["audit", "--control-plane", "198.19.0.10", "--worker", "198.19.1.1", "--from", "control-plane", "--format", "junit", "--scan-report"])
        .arg(&scan)
        .output()
        .expect("runs portsweep audit");
    assert_eq!(out.status.code(), Some(1), "findings of severity error: exit 1\n{}", String::from_utf8_lossy(&out.stderr));
    let xml = String::from_utf8_lossy(&out.stdout);
    // Four findings (exposed 10259, blocked 2379 and 2380, blocked 10250)
    // in three failing cases: etcd's two ports are one planned entry.
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 3, "{xml}");
    assert!(xml.contains("failures=\"3\""), "{xml}");
    let etcd = xml.split("<testcase ").find(|c| c.contains("2379-2380")).expect("an etcd case");
    assert!(etcd.contains("message=\"2 findings\"") && etcd.contains("blocked 2379/tcp") && etcd.contains("blocked 2380/tcp"), "{etcd}");
    for (case, kind) in [("10259", "exposed"), ("10250", "blocked")] {
        let c = xml.split("<testcase ").filter(|c| c.contains(&format!("{case}/tcp"))).find(|c| c.contains("<failure")).expect("a failing case");
        assert!(c.contains(&format!("type=\"{kind}\"")), "{c}");
    }
}
