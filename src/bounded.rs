//! Files from outside, read under limits.
//!
//! Everything portsweep reads from a file was written by someone or
//! something else: target lists, plans, inventories, reports of other runs,
//! checkpoints. Each kind has a documented largest size, checked while the
//! file is read (a file can grow, or be a pipe), so no input makes the
//! process read or allocate without bound; text read line by line also has
//! a longest line. Errors name the file and, for lines, the line.
//!
//! | input | largest file | longest line |
//! |---|---|---|
//! | target list (`@file`), plan, YAML/TOML/INI inventory | [`TEXT_FILE`] | [`MAX_LINE`] |
//! | `kubectl get nodes`/`get svc` JSON | [`KUBECTL_FILE`] | — (JSON may be one line) |
//! | scan or audit report (merge, diff, `audit --scan-report`, matrix) | [`REPORT_FILE`] | — |
//! | checkpoint | its store's size (see `engine::checkpoint`) | header [`CHECKPOINT_HEADER`] |
use std::io::Read;
use std::path::Path;

const MIB: u64 = 1 << 20;
/// Hand-written or generated text: a target list of 4 MiB holds ~300,000
/// addresses one per line; plans and inventories are a few KiB.
pub const TEXT_FILE: u64 = 4 * MIB;
/// `kubectl … -o json`: a node with its image list is ~15 KiB, so 5,000
/// nodes (the largest cluster Kubernetes tests) are ~75 MiB.
pub const KUBECTL_FILE: u64 = 256 * MIB;
/// Reports list only pairs that differ from their host's default: a sweep
/// of 65,536 hosts with 200 such pairs each is ~1 GiB.
pub const REPORT_FILE: u64 = 1024 * MIB;
/// The longest line of line-oriented text (targets, INI, YAML, TOML).
pub const MAX_LINE: usize = 64 * 1024;
/// The longest checkpoint header line (JSON with the target ranges: the
/// most targets a scan takes, 2^24, as 2^23 separate ranges is ~290 MiB).
pub const CHECKPOINT_HEADER: u64 = 512 * MIB;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum BoundedError {
    #[error("cannot read {file}: {reason}")]
    Read { file: String, reason: String },
    #[error("{file}: larger than {}, the most a {what} may be", size(*limit))]
    TooLarge { file: String, limit: u64, what: &'static str },
    #[error("{file}:{line}: line longer than {max} bytes, the most a {what} line may be")]
    LongLine { file: String, line: usize, max: usize, what: &'static str },
}

/// `4 MiB`, `1024 bytes`.
pub fn size(bytes: u64) -> String {
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads at most `limit` bytes of `path` as UTF-8 text; a larger file is
/// an error (`what` names the kind of input in it).
pub fn read_text(path: &Path, limit: u64, what: &'static str) -> Result<String, BoundedError> {
    let file = path.display().to_string();
    let read_err = |reason: String| BoundedError::Read { file: file.clone(), reason };
    let f = std::fs::File::open(path).map_err(|e| read_err(e.to_string()))?;
    let mut bytes = Vec::new();
    f.take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| read_err(e.to_string()))?;
    if bytes.len() as u64 > limit {
        return Err(BoundedError::TooLarge { file, limit, what });
    }
    String::from_utf8(bytes).map_err(|e| read_err(format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to())))
}

/// The first line of `text` longer than `max` bytes, as an error.
pub fn check_lines(text: &str, file: &str, max: usize, what: &'static str) -> Result<(), BoundedError> {
    match text.lines().position(|l| l.len() > max) {
        Some(i) => Err(BoundedError::LongLine { file: file.to_string(), line: i + 1, max, what }),
        None => Ok(()),
    }
}

/// [`read_text`] and [`check_lines`] with the text limits.
pub fn read_text_lines(path: &Path, what: &'static str) -> Result<String, BoundedError> {
    let text = read_text(path, TEXT_FILE, what)?;
    check_lines(&text, &path.display().to_string(), MAX_LINE, what)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        std::fs::write(&p, "abcd\nefgh\n").unwrap();
        assert_eq!(read_text(&p, 10, "list").unwrap(), "abcd\nefgh\n");
        let e = read_text(&p, 9, "list").unwrap_err();
        assert_eq!(e.to_string(), format!("{}: larger than 9 bytes, the most a list may be", p.display()));
        assert_eq!(check_lines("ab\nabcd\n", "f", 3, "list").unwrap_err().to_string(), "f:2: line longer than 3 bytes, the most a list line may be");
        assert_eq!(check_lines("ab\nabc", "f", 3, "list"), Ok(()));
        std::fs::write(&p, b"ok\n\xff").unwrap();
        assert_eq!(read_text(&p, 10, "list").unwrap_err().to_string(), format!("cannot read {}: not UTF-8 text (byte 3)", p.display()));
        assert!(read_text(&dir.path().join("none"), 10, "list").unwrap_err().to_string().starts_with("cannot read"));
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'1'; (TEXT_FILE + 1) as usize]).unwrap();
        assert_eq!(read_text_lines(&big, "target list").unwrap_err().to_string(), format!("{}: larger than 4 MiB, the most a target list may be", big.display()));
        std::fs::write(&big, vec![b'1'; MAX_LINE + 1]).unwrap();
        assert_eq!(read_text_lines(&big, "target list").unwrap_err().to_string(), format!("{}:1: line longer than 65536 bytes, the most a target list line may be", big.display()));
        assert_eq!(size(1024 * MIB), "1024 MiB");
    }
}
