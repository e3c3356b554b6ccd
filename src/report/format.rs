//! Rendering reports as table, JSON or CSV, and writing them atomically.
use std::fmt::Write as _;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{HostStatus, ScanReport};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
    /// One self-contained page (rendered by `crate::render`).
    Html,
}

pub fn render_json(report: &ScanReport) -> String {
    // Serialising plain data structs cannot fail; keep the error path anyway.
    let mut s = serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    s
}

/// `address,protocol,port,state,reason,name` for every listed
/// (non-default) port; `name` is the host name the address was given as,
/// empty when it was given as an address (host names hold no commas).
pub fn render_csv(report: &ScanReport) -> String {
    let mut s = String::from("address,protocol,port,state,reason,name\n");
    for h in &report.hosts {
        for p in &h.ports {
            let _ = writeln!(s, "{},{},{},{},{},{}", h.address, p.protocol, p.port, p.state.as_str(), p.reason.as_str(), h.name.as_deref().unwrap_or(""));
        }
    }
    s
}

/// `address (name)`, or the address.
fn host_label(h: &super::HostReport) -> String {
    match &h.name {
        Some(n) => format!("{} ({n})", h.address),
        None => h.address.to_string(),
    }
}

/// Per host, the ports that differ from its default, then a summary line.
pub fn render_table(report: &ScanReport) -> String {
    let mut s = String::new();
    let nports = report.port_list().map(|p| p.len()).unwrap_or(0);
    let width = report.hosts.iter().map(|h| host_label(h).len()).max().unwrap_or(0).max(15);
    for h in &report.hosts {
        let status = match h.status {
            HostStatus::Up => "up",
            HostStatus::Down => "down",
        };
        let _ = writeln!(s, "{:<width$} {:<4} {} ports {} ({}), {} listed", host_label(h), status, nports - h.ports.len(), h.default_state.as_str(), h.default_reason.as_str(), h.ports.len());
        for p in &h.ports {
            let ttl = p.ttl.map(|t| format!("ttl {t}")).unwrap_or_default();
            let _ = writeln!(s, "    {:>5}/{:<3}  {:<13} {:<16} {}", p.port, p.protocol, p.state.as_str(), p.reason.as_str(), ttl);
        }
        if !h.udp_unresolved.is_empty() {
            let ports: Vec<String> = h.udp_unresolved.iter().map(u16::to_string).collect();
            let _ = writeln!(s, "    unresolved UDP (open|filtered, not confirmed): {}", ports.join(","));
        }
    }
    let up = report.hosts.iter().filter(|h| h.status == HostStatus::Up).count();
    let counts = report.state_counts();
    let st = &report.stats;
    let _ = write!(s, "{} hosts ({} up, {} down), {} ports each:", report.hosts.len(), up, report.hosts.len() - up, nports);
    for (state, n) in counts {
        if n > 0 {
            let _ = write!(s, " {n} {}", state.as_str());
        }
    }
    let _ = writeln!(
        s,
        "; {} probes in {:.2} s ({:.0}/s), {} passes, {} replies, {} invalid, {} dropped by the kernel{}",
        st.probes_sent,
        st.duration_s,
        st.rate_pps,
        st.passes,
        st.replies,
        st.invalid_replies,
        st.rx_dropped,
        if report.complete { "" } else { " — INCOMPLETE (interrupted)" }
    );
    if st.udp_unresolved > 0 {
        let _ = write!(s, "{} UDP pairs unresolved: open|filtered, but their silence was not confirmed (ICMP errors may have been rate limited; listed per host as `udp_unresolved` in JSON)", st.udp_unresolved);
        let _ = match st.icmp_wait_hint_s {
            Some(w) => writeln!(s, "; --icmp-wait {w}s would probably resolve them."),
            None => writeln!(s, "; waiting longer would not help: a silence is confirmed only against a known-closed UDP port of the same host, so add one to -p."),
        };
    }
    s
}

/// Writes `text` to `path` atomically (temp file in the same directory,
/// fsync, rename), or to stdout when `path` is `None`.
pub fn write_output(path: Option<&Path>, text: &str) -> io::Result<()> {
    let Some(path) = path else {
        let mut out = io::stdout().lock();
        out.write_all(text.as_bytes())?;
        return out.flush();
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    // A temp file is created 0600; a report gets what an ordinary write
    // would give (0666 less the umask), so a CI user can read what root wrote.
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o666 & !umask()))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The process's umask (read by setting it and setting it back).
fn umask() -> u32 {
    // SAFETY: umask(2) cannot fail; the value is restored at once.
    let mask = unsafe { libc::umask(0o022) };
    unsafe { libc::umask(mask) };
    mask as u32
}
