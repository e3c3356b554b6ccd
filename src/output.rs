//! Where a report goes: stdout, or any number of files (`--output`,
//! repeatable), each in the format its name says, all rendered from the one
//! report of the run.
//!
//! Why it is shaped so:
//! * A sweep is the expensive part and its report is one value, so a user
//!   who wants JSON for a pipeline, JUnit for CI and Markdown for people
//!   names three files, not three runs (nmap's `-oA`).
//! * A file's format is its `FORMAT:` prefix (`junit:out/report`), else its
//!   extension ([`EXTENSIONS`]), else `--format`, else JSON. `--format` so
//!   names the format of stdout and of files whose name says nothing; a
//!   file whose extension says otherwise than an explicit `--format` is an
//!   input error (write `FORMAT:PATH` to force one) rather than a silent
//!   pick of one of the two.
//! * `-` is stdout (`-o report.json -o -`); its format is its prefix, else
//!   `--format`, else a table on a terminal and JSON otherwise. Without
//!   `--output`, stdout is the one destination.
//! * Checked before any work ([`plan`], [`check_directories`]): a format the
//!   report kind lacks (`.csv` for an audit, `.xml` for a scan), a file
//!   named twice or a directory that does not exist is bad input before a
//!   packet is sent (a dry run checks all but the directories: it writes
//!   nothing, and is how manifests meant for another machine are checked).
//! * Checked again once the size of the report is known ([`check_space`]):
//!   the directory must be writable and hold the estimated size, so a long
//!   sweep is not thrown away for a full disk that was full before it began.
//! * Written independently ([`write_all`]): each file atomically (temp
//!   file, fsync, rename, then the permissions an ordinary write would give
//!   under the umask), and a file that cannot be written does not keep the
//!   others from being written; its report is kept in the temp directory
//!   instead and the error says where. Every failure is reported together.
//!
//! Generic over a command's `--format` enum (a clap `ValueEnum`): the names
//! of its values are the names extensions and prefixes map to, so each
//! command writes exactly the formats its `--format` lists.
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use clap::ValueEnum;

use crate::report::write_output;

/// File extensions with the format they mean (case-insensitive).
pub const EXTENSIONS: &[(&str, &str)] = &[("json", "json"), ("csv", "csv"), ("md", "markdown"), ("markdown", "markdown"), ("xml", "junit"), ("html", "html"), ("htm", "html"), ("txt", "table")];

/// Every format some report has or will have, and short names for them,
/// as `FORMAT:` prefixes.
const PREFIXES: &[(&str, &str)] = &[("table", "table"), ("txt", "table"), ("json", "json"), ("csv", "csv"), ("junit", "junit"), ("xml", "junit"), ("markdown", "markdown"), ("md", "markdown"), ("html", "html")];

/// One place a report is written, and in which format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination<F> {
    /// `None` is stdout.
    pub path: Option<PathBuf>,
    pub format: F,
}

impl<F> Destination<F> {
    fn shown(&self) -> String {
        self.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "stdout".into())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("--output {spec}: {why}; {kind} reports are written as {available}")]
    Unsupported { spec: String, why: String, kind: String, available: String },
    #[error("--output {spec}: its extension means {by_name}, but --format is {format} (write {format}:{spec} to force it)")]
    Contradiction { spec: String, by_name: String, format: String },
    #[error("--output {0} is given twice")]
    Twice(String),
    #[error("--output {spec}: directory {dir} does not exist")]
    NoDirectory { spec: String, dir: String },
    #[error("--output {0} names no file after the format")]
    NoPath(String),
    #[error("--output {0} is a directory: name a file in it")]
    IsDirectory(String),
    #[error("--output: cannot write in {dir}: {reason}")]
    NotWritable { dir: String, reason: String },
    #[error("--output {spec}: {dir} has {free} bytes free, the report needs about {needed}")]
    NoSpace { spec: String, dir: String, free: u64, needed: u64 },
}

/// Files that could not be written (the others were).
#[derive(Debug)]
pub struct WriteFailures(pub Vec<(String, io::Error, Option<PathBuf>)>);

impl fmt::Display for WriteFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list: Vec<String> = self
            .0
            .iter()
            .map(|(what, e, kept)| match kept {
                Some(k) => format!("writing {what}: {e} (the report is kept in {})", k.display()),
                None => format!("writing {what}: {e}"),
            })
            .collect();
        f.write_str(&list.join("; "))
    }
}

impl std::error::Error for WriteFailures {}

fn name_of<F: ValueEnum>(f: &F) -> String {
    f.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default()
}

fn by_name<F: ValueEnum + Copy>(name: &str) -> Option<F> {
    F::value_variants().iter().copied().find(|f| name_of(f) == name)
}

fn lookup(table: &[(&str, &'static str)], key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// The destinations `specs` (the `--output` values) name for a report of
/// `kind` ("scan", "audit", "diff"), with `format` the `--format` given and
/// `terminal` whether stdout is one.
pub fn plan<F: ValueEnum + Copy + PartialEq>(kind: &str, specs: &[String], format: Option<F>, terminal: bool) -> Result<Vec<Destination<F>>, OutputError> {
    let stdout_default = || format.or_else(|| by_name(if terminal { "table" } else { "json" })).or_else(|| F::value_variants().first().copied());
    if specs.is_empty() {
        return Ok(stdout_default().map(|format| Destination { path: None, format }).into_iter().collect());
    }
    let available = crate::words::one_of(&F::value_variants().iter().map(name_of).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>());
    let mut out: Vec<Destination<F>> = Vec::new();
    for spec in specs {
        let unsupported = |why: String| OutputError::Unsupported { spec: spec.clone(), why, kind: kind.to_string(), available: available.clone() };
        let pick = |name: &str, why: String| -> Result<F, OutputError> {
            if let Some(f) = by_name::<F>(name) {
                return Ok(f);
            }
            Err(unsupported(format!("{why} {name}")))
        };
        let (path, chosen) = match spec.split_once(':').and_then(|(p, rest)| Some((lookup(PREFIXES, p)?, rest))) {
            Some((name, rest)) => {
                if rest.is_empty() {
                    return Err(OutputError::NoPath(spec.clone()));
                }
                (rest, pick(name, "the prefix asks for".into())?)
            }
            None => {
                let ext = Path::new(spec).extension().and_then(|e| e.to_str()).and_then(|e| Some((e, lookup(EXTENSIONS, e)?)));
                match (ext, format) {
                    _ if spec == "-" => (spec.as_str(), stdout_default().ok_or_else(|| unsupported("no format".into()))?),
                    (Some((_, name)), Some(f)) if name_of(&f) != name => {
                        return Err(OutputError::Contradiction { spec: spec.clone(), by_name: name.to_string(), format: name_of(&f) });
                    }
                    (Some((ext, name)), _) => (spec.as_str(), pick(name, format!(".{ext} means"))?),
                    (None, Some(f)) => (spec.as_str(), f),
                    (None, None) => (spec.as_str(), pick("json", "the default is".into())?),
                }
            }
        };
        let path = (path != "-").then(|| PathBuf::from(path));
        if out.iter().any(|d| d.path == path) {
            return Err(OutputError::Twice(spec.clone()));
        }
        out.push(Destination { path, format: chosen });
    }
    Ok(out)
}

/// Checks that every file's directory exists (a run that will write: a
/// dry run writes nothing, so it checks only [`plan`]'s rules).
pub fn check_directories<F>(destinations: &[Destination<F>]) -> Result<(), OutputError> {
    for p in destinations.iter().filter_map(|d| d.path.as_deref()) {
        let dir = directory_of(p);
        if !dir.is_dir() {
            return Err(OutputError::NoDirectory { spec: p.display().to_string(), dir: dir.display().to_string() });
        }
        if p.is_dir() {
            return Err(OutputError::IsDirectory(p.display().to_string()));
        }
        // Writable: the atomic write creates a temp file there.
        if let Err(e) = tempfile::NamedTempFile::new_in(dir) {
            return Err(OutputError::NotWritable { dir: dir.display().to_string(), reason: e.to_string() });
        }
    }
    Ok(())
}

/// Checks that every file's file system has room for `estimated` bytes
/// (twice over: the temp file and the old report may coexist).
pub fn check_space<F>(destinations: &[Destination<F>], estimated: u64) -> Result<(), OutputError> {
    for p in destinations.iter().filter_map(|d| d.path.as_deref()) {
        let dir = directory_of(p);
        if let Some(free) = free_bytes(dir) {
            if free < estimated.saturating_mul(2) {
                return Err(OutputError::NoSpace { spec: p.display().to_string(), dir: dir.display().to_string(), free, needed: estimated.saturating_mul(2) });
            }
        }
    }
    Ok(())
}

fn directory_of(path: &Path) -> &Path {
    path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))
}

/// Bytes an unprivileged writer may still use on `dir`'s file system.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a valid out-pointer.
    (unsafe { libc::statvfs(c.as_ptr(), &mut st) } == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
}

/// Where a report that could not be written to `path` is kept instead.
fn fallback_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "report".into());
    std::env::temp_dir().join(format!("portsweep-{}-{name}", std::process::id()))
}

/// Writes every destination, rendering each format once; returns the
/// destinations that failed (the others are written).
pub fn write_all<F: Copy + PartialEq>(destinations: &[Destination<F>], mut render: impl FnMut(F) -> String) -> Result<(), WriteFailures> {
    let mut rendered: Vec<(F, String)> = Vec::new();
    let mut failures = Vec::new();
    for d in destinations {
        let text = match rendered.iter().find(|(f, _)| *f == d.format) {
            Some((_, t)) => t,
            None => {
                rendered.push((d.format, render(d.format)));
                &rendered[rendered.len() - 1].1
            }
        };
        if let Err(e) = write_output(d.path.as_deref(), text) {
            // Never lose a result: keep the report where it can be written.
            let kept = d.path.as_deref().map(fallback_path).filter(|f| write_output(Some(f), text).is_ok());
            failures.push((d.shown(), e, kept));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(WriteFailures(failures))
    }
}

/// The first file destination (a checkpoint goes next to it).
pub fn first_file<F>(destinations: &[Destination<F>]) -> Option<&Path> {
    destinations.iter().find_map(|d| d.path.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
    enum Fmt {
        Table,
        Json,
        Junit,
        Markdown,
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn shown(d: &[Destination<Fmt>]) -> Vec<String> {
        d.iter().map(|d| format!("{} {:?}", d.shown(), d.format)).collect()
    }

    #[test]
    fn formats_follow_prefix_then_extension_then_format() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n).display().to_string();
        let d = plan::<Fmt>("audit", &[p("a.json"), p("a.XML"), p("a.md"), format!("markdown:{}", p("summary")), p("a.txt"), p("no-extension"), "-".into()], None, false).unwrap();
        let want: Vec<String> = [("a.json", "Json"), ("a.XML", "Junit"), ("a.md", "Markdown"), ("summary", "Markdown"), ("a.txt", "Table"), ("no-extension", "Json")].iter().map(|(f, k)| format!("{} {k}", p(f))).chain(["stdout Json".to_string()]).collect();
        assert_eq!(shown(&d), want);
        // --format: stdout, and files whose name says nothing.
        let d = plan("audit", &[p("a.out"), "-".into(), p("b.xml")], Some(Fmt::Junit), true).unwrap();
        assert_eq!(shown(&d), [format!("{} Junit", p("a.out")), "stdout Junit".into(), format!("{} Junit", p("b.xml"))]);
        // No --output: stdout, table on a terminal, JSON otherwise.
        assert_eq!(shown(&plan::<Fmt>("audit", &[], None, true).unwrap()), ["stdout Table"]);
        assert_eq!(shown(&plan::<Fmt>("audit", &[], None, false).unwrap()), ["stdout Json"]);
        assert_eq!(shown(&plan("audit", &[], Some(Fmt::Markdown), true).unwrap()), ["stdout Markdown"]);
    }

    #[test]
    fn bad_outputs_are_refused_before_any_work() {
        let e = |specs: &[&str], format: Option<Fmt>| plan("audit", &s(specs), format, false).unwrap_err().to_string();
        assert_eq!(e(&["a.csv"], None), "--output a.csv: .csv means csv; audit reports are written as table, json, junit or markdown");
        assert_eq!(e(&["csv:a.out"], None), "--output csv:a.out: the prefix asks for csv; audit reports are written as table, json, junit or markdown");
        assert_eq!(e(&["a.json", "a.xml"], Some(Fmt::Json)), "--output a.xml: its extension means junit, but --format is json (write json:a.xml to force it)");
        assert_eq!(e(&["a.json", "b.md", "a.json"], None), "--output a.json is given twice");
        assert_eq!(e(&["-", "json:-"], None), "--output json:- is given twice");
        let d = plan::<Fmt>("audit", &s(&["no/such/dir/a.json", "a.md"]), None, false).unwrap();
        assert_eq!(check_directories(&d).unwrap_err().to_string(), "--output no/such/dir/a.json: directory no/such/dir does not exist");
        assert_eq!(check_directories(&d[1..]), Ok(()));
        assert_eq!(e(&["json:"], None), "--output json: names no file after the format");
        // A colon that is no known format is part of the file name.
        let d = plan::<Fmt>("audit", &s(&["weird:name.md"]), None, false).unwrap();
        assert_eq!(shown(&d), ["weird:name.md Markdown"]);
    }

    #[test]
    fn one_failure_keeps_the_others_and_each_format_renders_once() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("is-a-dir.json");
        std::fs::create_dir(&blocker).unwrap();
        let d = plan::<Fmt>("audit", &[dir.path().join("a.json").display().to_string(), blocker.display().to_string(), dir.path().join("b.json").display().to_string(), dir.path().join("a.md").display().to_string()], None, false).unwrap();
        let mut renders = Vec::new();
        let e = write_all(&d, |f| {
            renders.push(f);
            format!("{f:?}\n")
        })
        .unwrap_err();
        assert_eq!(renders, [Fmt::Json, Fmt::Markdown]);
        assert_eq!(e.0.len(), 1);
        assert!(e.to_string().starts_with(&format!("writing {}: ", blocker.display())), "{e}");
        assert_eq!(std::fs::read_to_string(dir.path().join("a.json")).unwrap(), "Json\n");
        assert_eq!(std::fs::read_to_string(dir.path().join("b.json")).unwrap(), "Json\n");
        assert_eq!(std::fs::read_to_string(dir.path().join("a.md")).unwrap(), "Markdown\n");
        assert_eq!(first_file(&d), Some(dir.path().join("a.json").as_path()));
    }
}
