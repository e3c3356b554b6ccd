//! Target specifications: tokens on the command line (one per input line;
//! lines starting with `!` are `--exclude` tokens), and the same text as
//! an `@file` (written to a temporary file, as a user's list would be).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use portsweep::space::HostSet;

fn check(set: &HostSet) {
    assert!(set.len() >= 1 && set.len() <= HostSet::MAX_HOSTS);
    for i in [0, set.len() / 2, set.len() - 1] {
        assert_eq!(set.index_of(set.addr(i)), Some(i));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (mut include, mut exclude) = (Vec::new(), Vec::new());
    for line in text.lines().take(64) {
        match line.strip_prefix('!') {
            Some(x) => exclude.push(x.to_string()),
            None => include.push(line.to_string()),
        }
    }
    if let Ok(set) = HostSet::parse(&include, &exclude) {
        check(&set);
    }
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temp dir"));
    let path = dir.path().join("targets.txt");
    std::fs::write(&path, data).expect("writes the target file");
    if let Ok(set) = HostSet::parse(&[format!("@{}", path.display())], &[]) {
        check(&set);
    }
});
