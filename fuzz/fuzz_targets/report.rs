//! Reports read back (merge, diff, `audit --scan-report`, `report`):
//! parsed, then, when parsing succeeds, merged as a single shard, diffed
//! with itself and rendered as HTML (the page of any kind `portsweep
//! report` reads). Merging costs time in proportion to the hosts × ports
//! the report claims (legitimately: a real report of that size needs it),
//! so it is skipped here above 2^16 pairs to keep every run within the
//! time limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portsweep::diff::{diff, AnyReport};
use portsweep::render::SavedReport;
use portsweep::report::merge::merge;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(saved) = SavedReport::from_json(text, "fuzz") {
        let _ = match &saved {
            SavedReport::Scan(s) => portsweep::render::scan_html(s),
            SavedReport::Audit(a) => match a.options.parse() {
                Ok(options) => portsweep::render::audit_html(a, &portsweep::plan::Plan::builtin().effective(&options)),
                Err(_) => String::new(),
            },
            SavedReport::Diff(d) => portsweep::render::diff_html(d),
            SavedReport::Matrix(_) => String::new(),
        };
    }
    let Ok(report) = AnyReport::from_json(text, "fuzz") else { return };
    let d = diff(&report, &report, ("a", "b"));
    let _ = portsweep::render::diff_html(&d);
    let scan = report.scan();
    let pairs = scan.port_list().map(|p| p.len() as u64).unwrap_or(0) * scan.hosts.len() as u64;
    if pairs <= 1 << 16 {
        let _ = merge(&[("a".to_string(), scan.clone())]);
    }
});
