//! Reports read back (merge, diff, `audit --scan-report`): parsed, then,
//! when parsing succeeds, merged as a single shard and diffed with itself.
//! Merging costs time in proportion to the hosts × ports the report
//! claims (legitimately: a real report of that size needs it), so it is
//! skipped here above 2^16 pairs to keep every run within the time limit.
#![no_main]
use libfuzzer_sys::fuzz_target;
use portsweep::diff::{diff, AnyReport};
use portsweep::report::merge::merge;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(report) = AnyReport::from_json(text, "fuzz") else { return };
    let _ = diff(&report, &report, ("a", "b"));
    let scan = report.scan();
    let pairs = scan.port_list().map(|p| p.len() as u64).unwrap_or(0) * scan.hosts.len() as u64;
    if pairs <= 1 << 16 {
        let _ = merge(&[("a".to_string(), scan.clone())]);
    }
});
