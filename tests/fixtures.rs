//! Every fixture file parses: scenarios (with their targets in the lab
//! range, or an audit whose inventory loads) and inventories.
mod common;

use common::fixture;
use portsweep::inventory::Inventory;
use portsweep::lab::Scenario;

#[test]
fn every_scenario_parses_and_is_runnable() {
    let mut n = 0;
    for entry in std::fs::read_dir(fixture("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
        match &s.audit {
            Some(a) => {
                let inv = Inventory::load(&a.inventory).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(!inv.is_empty());
                assert!(!a.findings.is_empty() || s.name.contains("healthy"), "{}: no expected findings", path.display());
            }
            None => assert!(!s.targets.is_empty() && !s.ports.is_empty(), "{}: nothing to scan", path.display()),
        }
        n += 1;
    }
    assert!(n >= 12, "only {n} scenarios");
}

/// The numbers a scenario's description states ("265 addresses", "2,797
/// ports", "741,205 pairs", "64 workers on 1,000 TCP ports", "5,000 forged
/// replies") are those of its scan, counted from the file by the
/// independent reader.
#[test]
fn counts_in_scenario_descriptions_are_true() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixture("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        let s = Scenario::load(&path).unwrap();
        let Ok(e) = s.expected() else { continue };
        let words: Vec<&str> = s.description.split_whitespace().collect();
        for w in words.windows(2) {
            let Ok(n) = w[0].trim_start_matches('(').replace(',', "").parse::<u64>() else { continue };
            let unit = w[1].trim_end_matches([',', ')', '.']);
            let actual = match unit {
                "addresses" => e.hosts.len() as u64,
                "ports" => e.ports.len() as u64,
                "pairs" => e.pairs(),
                "forged" => s.strays as u64,
                _ => continue,
            };
            assert_eq!(n, actual, "{}: the description says {n} {unit}", path.display());
            checked += 1;
        }
    }
    assert!(checked >= 7, "only {checked} counts checked");
}
