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
