//! Checkpoints: what an interrupted scan had found and where it stopped,
//! so `--resume` continues to the result an uninterrupted run gives.
//!
//! The file is a JSON header line (what was scanned, where the order
//! stopped, the counters so far) followed by the result store's words and
//! the host-up bitmap as little-endian u64s: a /16 × 2,784 ports
//! checkpoint is the store's 87 MiB, written atomically (temp file, fsync,
//! rename) so a crash never leaves a truncated one.
//!
//! Reading one allocates only for bytes that are really there: the header
//! line is bounded ([`crate::bounded::CHECKPOINT_HEADER`]), the words are
//! read as they come rather than into a buffer of the size line's claim,
//! and a file with fewer or more bytes than that line says is refused.
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ScanStats;

const MAGIC: &str = "portsweep-checkpoint 1";

/// Where a scan stopped and what it knew.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seed: u64,
    /// The scanned ports (nmap syntax) and targets (inclusive ranges).
    pub ports: String,
    pub targets: Vec<String>,
    /// 1-based shard and count.
    pub shard: String,
    /// The pass to continue and the first chunk of it not yet sent.
    pub pass: u32,
    pub next_chunk: u64,
    pub stats: ScanStats,
    #[serde(skip)]
    pub store_words: Vec<u64>,
    #[serde(skip)]
    pub host_up_words: Vec<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{file}: {source}")]
    Io { file: String, source: io::Error },
    #[error("{file}: not a portsweep checkpoint ({reason})")]
    Format { file: String, reason: String },
}

impl Checkpoint {
    pub fn write(&self, path: &Path) -> Result<(), CheckpointError> {
        let file = path.display().to_string();
        let io_err = |source| CheckpointError::Io { file: file.clone(), source };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io_err)?;
        {
            let mut w = io::BufWriter::new(tmp.as_file_mut());
            let header = serde_json::to_string(self).map_err(|e| io_err(io::Error::other(e)))?;
            writeln!(w, "{MAGIC}").map_err(io_err)?;
            writeln!(w, "{header}").map_err(io_err)?;
            writeln!(w, "{} {}", self.store_words.len(), self.host_up_words.len()).map_err(io_err)?;
            for word in self.store_words.iter().chain(&self.host_up_words) {
                w.write_all(&word.to_le_bytes()).map_err(io_err)?;
            }
            w.flush().map_err(io_err)?;
        }
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(path).map_err(|e| io_err(e.error))?;
        Ok(())
    }

    pub fn read(path: &Path) -> Result<Checkpoint, CheckpointError> {
        let file = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|source| CheckpointError::Io { file: file.clone(), source })?;
        Checkpoint::from_reader(BufReader::new(f), &file)
    }

    /// Reads a checkpoint from `r`; `file` names it in errors.
    pub fn from_reader(mut r: impl BufRead, file: &str) -> Result<Checkpoint, CheckpointError> {
        let io_err = |source| CheckpointError::Io { file: file.to_string(), source };
        let format = |reason: String| CheckpointError::Format { file: file.to_string(), reason };
        // One line of at most `limit` bytes (newline included).
        let mut line = |limit: u64, what: &str| -> Result<String, CheckpointError> {
            let mut bytes = Vec::new();
            (&mut r).take(limit + 1).read_until(b'\n', &mut bytes).map_err(io_err)?;
            if bytes.len() as u64 > limit {
                return Err(format(format!("the {what} line is longer than {}", crate::bounded::size(limit))));
            }
            String::from_utf8(bytes).map_err(|_| format(format!("the {what} line is not UTF-8")))
        };
        if line(64, "first")?.trim_end() != MAGIC {
            return Err(format("bad first line".into()));
        }
        let mut cp: Checkpoint = serde_json::from_str(&line(crate::bounded::CHECKPOINT_HEADER, "header")?).map_err(|e| format(format!("header: {e}")))?;
        let counts: Vec<u64> = line(64, "size")?.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        let [n_store, n_hosts] = counts[..] else {
            return Err(format("bad size line".into()));
        };
        let mut read_words = |n: u64| -> Result<Vec<u64>, CheckpointError> {
            let want = n.checked_mul(8).ok_or_else(|| format("size overflows".into()))?;
            let mut bytes = Vec::new();
            (&mut r).take(want).read_to_end(&mut bytes).map_err(io_err)?;
            if (bytes.len() as u64) < want {
                return Err(format(format!("truncated: {} of {want} bytes", bytes.len())));
            }
            Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect())
        };
        cp.store_words = read_words(n_store)?;
        cp.host_up_words = read_words(n_hosts)?;
        let mut rest = [0u8; 1];
        if r.read(&mut rest).map_err(io_err)? != 0 {
            return Err(format("bytes after the store".into()));
        }
        Ok(cp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c");
        let cp = Checkpoint {
            seed: 7,
            ports: "T:1-10".into(),
            targets: vec!["198.19.1.0-198.19.1.9".into()],
            shard: "1/1".into(),
            pass: 1,
            next_chunk: 3,
            stats: ScanStats { probes_sent: 42, ..Default::default() },
            store_words: vec![1, 2, u64::MAX],
            host_up_words: vec![5],
        };
        cp.write(&p).unwrap();
        assert_eq!(Checkpoint::read(&p).unwrap(), Checkpoint { ..cp.clone() });
        let back = Checkpoint::read(&p).unwrap();
        assert_eq!((back.store_words, back.host_up_words), (vec![1, 2, u64::MAX], vec![5]));
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        assert!(Checkpoint::read(&p).unwrap_err().to_string().contains("truncated"));
        std::fs::write(&p, "hello\n").unwrap();
        assert!(Checkpoint::read(&p).unwrap_err().to_string().contains("not a portsweep checkpoint"));
        // Bytes after the store, and a size line claiming more than is there
        // (no buffer of the claimed size is made: 2^60 words would abort).
        std::fs::write(&p, [&bytes[..], b"x"].concat()).unwrap();
        assert_eq!(Checkpoint::read(&p).unwrap_err().to_string(), format!("{}: not a portsweep checkpoint (bytes after the store)", p.display()));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let header_end = text.match_indices('\n').nth(1).unwrap().0 + 1;
        let claim = [&bytes[..header_end], b"1152921504606846976 0\n", &[7u8; 16][..]].concat();
        assert_eq!(Checkpoint::from_reader(&claim[..], "c").unwrap_err().to_string(), "c: not a portsweep checkpoint (truncated: 16 of 9223372036854775808 bytes)");
        let claim = [&bytes[..header_end], b"18446744073709551615 0\n"].concat();
        assert_eq!(Checkpoint::from_reader(&claim[..], "c").unwrap_err().to_string(), "c: not a portsweep checkpoint (size overflows)");
        let long = [b"portsweep-checkpoint 1\n{".as_slice(), &vec![b' '; 100][..]].concat();
        assert!(Checkpoint::from_reader(&long[..], "c").unwrap_err().to_string().contains("header"));
        assert_eq!(Checkpoint::from_reader(&vec![b'p'; 100][..], "c").unwrap_err().to_string(), "c: not a portsweep checkpoint (the first line is longer than 64 bytes)");
    }
}
