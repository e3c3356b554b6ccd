//! Checkpoints: what an interrupted scan had found and where it stopped,
//! so `--resume` continues to the result an uninterrupted run gives.
//!
//! The file is a JSON header line (what was scanned, where the order
//! stopped, the counters so far) followed by the result store's words and
//! the host-up bitmap as little-endian u64s: a /16 × 2,784 ports
//! checkpoint is the store's 87 MiB, written atomically (temp file, fsync,
//! rename) so a crash never leaves a truncated one.
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
        let io_err = |source| CheckpointError::Io { file: file.clone(), source };
        let format = |reason: String| CheckpointError::Format { file: file.clone(), reason };
        let mut r = BufReader::new(std::fs::File::open(path).map_err(io_err)?);
        let mut line = String::new();
        r.read_line(&mut line).map_err(io_err)?;
        if line.trim_end() != MAGIC {
            return Err(format("bad first line".into()));
        }
        line.clear();
        r.read_line(&mut line).map_err(io_err)?;
        let mut cp: Checkpoint = serde_json::from_str(&line).map_err(|e| format(format!("header: {e}")))?;
        line.clear();
        r.read_line(&mut line).map_err(io_err)?;
        let counts: Vec<usize> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
        let [n_store, n_hosts] = counts[..] else {
            return Err(format("bad size line".into()));
        };
        let mut read_words = |n: usize| -> Result<Vec<u64>, CheckpointError> {
            let mut bytes = vec![0u8; n.checked_mul(8).ok_or_else(|| format("size overflows".into()))?];
            r.read_exact(&mut bytes).map_err(|e| format(format!("truncated: {e}")))?;
            Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())).collect())
        };
        cp.store_words = read_words(n_store)?;
        cp.host_up_words = read_words(n_hosts)?;
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
    }
}
