//! The command line as a user meets it: errors, dry runs, help, man pages.
//! Nothing here sends a packet.
mod common;

use std::process::Command;

use common::*;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(bin()).args(args).output().expect("runs portsweep");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn bad_targets_and_ports_exit_2_naming_the_token() {
    let (code, _, err) = run(&["scan", "198.19.1.0/33", "-p", "80"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("bad target \"198.19.1.0/33\""), "{err}");
    let (code, _, err) = run(&["scan", "198.19.1.0/24", "-p", "80,70000"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("bad port specification \"70000\": port 70000 is above 65535"), "{err}");
    let (code, _, err) = run(&["scan", "198.19.1.0/24", "--exclude", "198.19.0.0/16", "-p", "80"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn target_file_errors_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("nodes.txt");
    std::fs::write(&f, "# control plane\n198.19.0.8/29\n198.19.0.300\n").unwrap();
    let (code, _, err) = run(&["scan", &format!("@{}", f.display()), "-p", "80"]);
    assert_eq!(code, Some(2));
    assert!(err.contains(&format!("{}:3: bad target \"198.19.0.300\"", f.display())), "{err}");
}

#[test]
fn dry_run_counts_probes_and_memory_without_sending() {
    let (code, out, _) = run(&["scan", "198.18.0.0/16", "-p", "1-2784", "--rate", "100000", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("65536 hosts × 2784 ports = 182452224 probes"), "{out}");
    assert!(out.contains("1824.5 s at 100000 packets/s"), "{out}");
    // 4 bits per pair: 182,452,224 / 2 bytes + host bits and TTLs.
    assert!(out.contains("result store 91299840 bytes (87.1 MiB)"), "{out}");
}

#[test]
fn help_has_examples_and_completions_and_man_pages_generate() {
    for sub in ["scan", "demo", "audit", "merge", "matrix", "diff", "plan", "lab", "completions", "man"] {
        let (code, out, _) = run(&[sub, "--help"]);
        assert_eq!(code, Some(0));
        assert!(out.contains("Examples:"), "{sub} --help lacks examples");
    }
    let (code, out, _) = run(&["completions", "bash"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("_portsweep()"));
    let dir = tempfile::tempdir().unwrap();
    let (code, _, _) = run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0));
    let page = std::fs::read_to_string(dir.path().join("portsweep-scan.1")).unwrap();
    assert!(page.contains("\\-\\-rate"), "man page lacks --rate");
}

#[test]
fn ports_are_required() {
    let (code, _, err) = run(&["scan", "127.0.0.1"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--ports"), "{err}");
}

#[test]
fn udp_flag_and_prefixes_count_udp_probes() {
    let (code, out, _) = run(&["scan", "198.18.1.0/30", "-p", "T:6443,U:123", "--udp", "8285,8472", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("4 hosts × 4 ports = 16 probes"), "{out}");
}

/// The dry run's first two lines: the probe count and the port list.
fn dry(args: &[&str]) -> (Option<i32>, String, String) {
    let (code, out, err) = run(&[&["scan", "198.18.1.1"], args, &["--dry-run"]].concat());
    (code, out.lines().take(2).collect::<Vec<_>>().join("\n"), err)
}

#[test]
fn nmap_port_forms_count_their_probes() {
    for (args, want) in [
        (&["-p-"][..], "1 hosts × 65535 ports = 65535 probes in the first pass\nports: T:1-65535"),
        (&["-p", "1-"], "1 hosts × 65535 ports = 65535 probes in the first pass\nports: T:1-65535"),
        (&["-p", "-1024"], "1 hosts × 1024 ports = 1024 probes in the first pass\nports: T:1-1024"),
        (&["-p=-1024"], "1 hosts × 1024 ports = 1024 probes in the first pass\nports: T:1-1024"),
        (&["--ports", "-1024"], "1 hosts × 1024 ports = 1024 probes in the first pass\nports: T:1-1024"),
        (&["-p", "30000-"], "1 hosts × 35536 ports = 35536 probes in the first pass\nports: T:30000-65535"),
        (&["-p", "ssh,http,https"], "1 hosts × 3 ports = 3 probes in the first pass\nports: T:22,80,443"),
        (&["-p", "T:https,U:ntp,domain", "--udp", "-2"], "1 hosts × 5 ports = 5 probes in the first pass\nports: T:443,U:1-2,53,123"),
    ] {
        let (code, out, err) = dry(args);
        assert_eq!((code, out.as_str()), (Some(0), want), "{args:?}: {err}");
    }
    let (code, _, err) = dry(&["-p", "ssh,no-such-service"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("bad port specification \"no-such-service\": \"no-such-service\" is not a port number, and the services database (/etc/services) has no tcp service of that name"), "{err}");
    let (code, _, err) = dry(&["-p", "U:ssh"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("bad port specification \"U:ssh\""), "{err}");
}

#[test]
fn host_names_resolve_before_the_sweep_and_fail_naming_the_name() {
    // Outside a lab namespace only `localhost` is ever resolved.
    let (code, out, err) = run(&["scan", "localhost", "-p", "22", "--dry-run"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("host names: 1 resolved to 1 addresses in "), "{out}");
    assert!(out.contains("\n  localhost → 127.0.0.1\n1 hosts × 1 ports = 1 probes"), "{out}");
    let (code, _, err) = run(&["scan", "localhost", "-p", "22", "--dry-run", "--resolve", "off"]);
    assert_eq!(code, Some(2));
    assert_eq!(err, "portsweep: host name \"localhost\" is not resolved with --resolve off (give its address, or --resolve 4)\n");
    let (code, _, err) = run(&["scan", "127.0.0.1", "-p", "22", "--dry-run", "--resolve", "6"]);
    assert_eq!(code, Some(2));
    assert_eq!(err, "portsweep: --resolve 6: host names are not resolved to IPv6 yet (use --resolve 4, the default, or all; give IPv6 targets as addresses)\n");
    // A name in a target file is named with its file and line (not resolved
    // at all here: --resolve off).
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("nodes.txt");
    std::fs::write(&f, "198.19.0.10\n# by name\ncp-2.lab.test\n").unwrap();
    let (code, _, err) = run(&["scan", &format!("@{}", f.display()), "-p", "22", "--dry-run", "--resolve", "off"]);
    assert_eq!(code, Some(2));
    assert!(err.contains(&format!("{}:3: host name \"cp-2.lab.test\" is not resolved with --resolve off", f.display())), "{err}");
    // Inventories too: a flag value and a file.
    let (code, _, err) = run(&["audit", "--worker", "localhost", "--dry-run", "--resolve", "off"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--worker localhost: host name \"localhost\" is not resolved with --resolve off"), "{err}");
    let (code, out, err) = run(&["audit", "--worker", "localhost", "--dry-run"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("localhost → 127.0.0.1\n1 nodes (worker)"), "{out}");
}

#[test]
fn outputs_are_checked_before_anything_runs() {
    for (args, message) in [
        (&["scan", "198.18.1.1", "-p", "80", "-o", "a.json", "-o", "a.xml"][..], "--output a.xml: .xml means junit; scan reports are written as table, json, csv or html"),
        (&["scan", "198.18.1.1", "-p", "80", "-o", "a.md"], "--output a.md: .md means markdown; scan reports are written as table, json, csv or html"),
        (&["scan", "198.18.1.1", "-p", "80", "--format", "csv", "-o", "a.json"], "--output a.json: its extension means json, but --format is csv (write csv:a.json to force it)"),
        (&["audit", "--worker", "198.19.1.1", "-o", "a.csv"], "--output a.csv: .csv means csv; audit reports are written as table, json, junit, markdown or html"),
        (&["scan", "198.18.1.1", "-p", "80", "-o", "a.json", "-o", "a.json"], "--output a.json is given twice"),
    ] {
        // --dry-run: nothing could be sent even if the check let it through.
        let (code, _, err) = run(&[args, &["--dry-run"]].concat());
        assert_eq!((code, err.as_str()), (Some(2), format!("portsweep: {message}\n").as_str()), "{args:?}");
    }
    let (code, _, err) = run(&["diff", "a.json", "b.json", "-o", "/no/such/dir/d.md"]);
    assert_eq!((code, err.as_str()), (Some(2), "portsweep: --output /no/such/dir/d.md: directory /no/such/dir does not exist\n"));
}

/// A one-host scan report with `port` open.
fn scan_report(port: u16, name: Option<&str>) -> String {
    let name = name.map(|n| format!("\"name\": \"{n}\", ")).unwrap_or_default();
    format!(
        r#"{{"portsweep": "0.1.0", "format_version": 1, "kind": "scan", "started": "", "finished": "", "complete": true, "args": [], "seed": 1, "shard": "1/1", "ports": "T:22,80",
            "stats": {{"probes_sent": 2, "replies": 2, "invalid_replies": 0, "retransmissions": 0, "duration_s": 0.1, "rate_pps": 20.0, "rx_dropped": 0, "passes": 1, "srtt_us": 1}},
            "hosts": [{{"address": "198.19.1.1", {name}"status": "up", "default_state": "closed", "default_reason": "rst", "ports": [{{"port": {port}, "protocol": "tcp", "state": "open", "reason": "syn-ack"}}]}}]}}"#
    )
}

#[test]
fn several_outputs_from_one_diff_and_a_failed_one_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    // An old report without host names against a new one with them.
    std::fs::write(p("before.json"), scan_report(22, None)).unwrap();
    std::fs::write(p("after.json"), scan_report(80, Some("w-1.lab.test"))).unwrap();
    std::fs::create_dir(p("blocked.json")).unwrap();
    let s = |n: &str| p(n).display().to_string();
    // A directory where a file should go is bad input, found before any work.
    let (code, _, err) = run(&["diff", &s("before.json"), &s("after.json"), "-o", &s("d.json"), "-o", &s("blocked.json")]);
    assert_eq!((code, err.trim()), (Some(2), format!("portsweep: --output {} is a directory: name a file in it", s("blocked.json")).as_str()));
    assert!(!p("d.json").exists());
    // A file system that is full when the report is written: the other
    // files are written, the failed one's report is kept in the temp
    // directory, and the error says where (exit 3).
    let full = FullFs::new();
    let lost = full.dir.join("d.json").display().to_string();
    let (code, out, err) = run(&["diff", &s("before.json"), &s("after.json"), "-o", &s("d.json"), "-o", &lost, "-o", &s("d.md"), "-o", &format!("table:{}", s("d.out")), "-o", "-"]);
    assert_eq!(code, Some(3), "a file that cannot be written: runtime error");
    assert!(err.starts_with(&format!("portsweep: writing {lost}: No space left on device")), "{err}");
    let kept = err.split("(the report is kept in ").nth(1).and_then(|r| r.split(')').next()).expect("says where the report is kept");
    assert_eq!(std::fs::read_to_string(kept).unwrap(), std::fs::read_to_string(p("d.json")).unwrap(), "the kept report is the report");
    std::fs::remove_file(kept).unwrap();
    let json = std::fs::read_to_string(p("d.json")).unwrap();
    assert_eq!(out, json, "stdout (not a terminal) gets the JSON too");
    let d: portsweep::diff::Diff = serde_json::from_str(&json).unwrap();
    assert_eq!(d.ports.iter().map(|c| (c.port, c.name.as_deref())).collect::<Vec<_>>(), [(22, Some("w-1.lab.test")), (80, Some("w-1.lab.test"))]);
    assert_eq!(std::fs::read_to_string(p("d.md")).unwrap(), portsweep::diff::render_markdown(&d));
    assert_eq!(std::fs::read_to_string(p("d.out")).unwrap(), portsweep::diff::render_table(&d));
    // All written: ndiff's exit code.
    let (code, _, err) = run(&["diff", &s("before.json"), &s("after.json"), "-o", &s("d2.json"), "-o", &s("d2.md")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(p("d2.json").exists() && p("d2.md").exists());
}

#[test]
fn merge_writes_every_format_of_the_merged_report() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(p("one.json"), scan_report(80, Some("w-1.lab.test"))).unwrap();
    let (code, _, err) = run(&["merge", &p("one.json"), "-o", &p("m.json"), "-o", &p("m.csv"), "-o", &format!("table:{}", p("m"))]);
    assert_eq!(code, Some(0), "{err}");
    let m: portsweep::report::ScanReport = serde_json::from_str(&std::fs::read_to_string(p("m.json")).unwrap()).unwrap();
    assert_eq!(m.hosts[0].name.as_deref(), Some("w-1.lab.test"));
    // The merge rebuilds the host's default: a 1-1 tie goes to open.
    assert_eq!(std::fs::read_to_string(p("m.csv")).unwrap(), "address,protocol,port,state,reason,name\n198.19.1.1,tcp,22,closed,rst,w-1.lab.test\n");
    let table = std::fs::read_to_string(p("m")).unwrap();
    assert!(table.starts_with("198.19.1.1 (w-1.lab.test) up   1 ports open (syn-ack), 1 listed\n"), "{table}");
}

/// A tiny tmpfs, filled to the last byte, unmounted on drop (root only,
/// as the lab tests are).
struct FullFs {
    dir: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

impl FullFs {
    fn new() -> FullFs {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"]).arg(&dir).status().expect("mount runs");
        assert!(ok.success(), "mounting a tmpfs needs root");
        // Fill it: write until the file system says no.
        let mut f = std::fs::File::create(dir.join("filler")).unwrap();
        let block = [0u8; 4096];
        while std::io::Write::write_all(&mut f, &block).is_ok() {}
        FullFs { dir, _tmp: tmp }
    }
}

impl Drop for FullFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
    }
}

#[test]
fn a_bad_or_full_output_is_refused_before_the_first_probe() {
    // Loopback only: had the check not stopped it, nothing would leave
    // the machine. It must stop within a second, before any socket opens.
    let started = std::time::Instant::now();
    let (code, _, err) = run(&["scan", "127.0.0.1", "-p", "1-1000", "-o", "/no/such/dir/r.json"]);
    assert_eq!((code, err.trim()), (Some(2), "portsweep: --output /no/such/dir/r.json: directory /no/such/dir does not exist"));
    let (code, _, err) = run(&["scan", "127.0.0.1", "-p", "1-1000", "-o", "/tmp"]);
    assert_eq!((code, err.trim()), (Some(2), "portsweep: --output /tmp is a directory: name a file in it"));
    let full = FullFs::new();
    let r = full.dir.join("r.json").display().to_string();
    let (code, _, err) = run(&["scan", "127.0.0.1", "-p", "1-1000", "-o", &r]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.starts_with(&format!("portsweep: --output {r}: {} has ", full.dir.display())) && err.contains("bytes free, the report needs about 132096"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
}

#[test]
fn reports_get_the_permissions_of_an_ordinary_write() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n).display().to_string();
    std::fs::write(p("a.json"), scan_report(22, None)).unwrap();
    for (umask, mode) in [("022", 0o644), ("077", 0o600), ("002", 0o664)] {
        let out = Command::new("sh").arg("-c").arg(format!("umask {umask}; exec \"$0\" diff \"$1\" \"$1\" -o \"$2\"", )).arg(bin()).arg(p("a.json")).arg(p(&format!("d{umask}.json"))).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(p(&format!("d{umask}.json"))).unwrap().permissions().mode() & 0o777, mode, "umask {umask}");
    }
}

#[test]
fn mixed_family_dry_runs_count_both_and_source_addresses_are_one_per_family() {
    // 256 IPv4 + a /112 + a 256-address range, less 256 excluded IPv6.
    let (code, out, err) = run(&["scan", "198.19.0.0/24", "2001:2::/112", "2001:2::1:0-2001:2::1:ff", "--exclude", "2001:2::/120", "-p", "80,443", "--dry-run"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("65792 hosts × 2 ports = 131584 probes"), "{out}");
    // One --source-ip per family, each of a family the targets have;
    // refused before any socket is opened.
    let (code, _, err) = run(&["scan", "2001:2::1", "198.19.0.1", "-p", "80", "--source-ip", "2001:2::7", "--source-ip", "2001:2::8"]);
    assert_eq!(code, Some(2));
    assert_eq!(err, "portsweep: --source-ip given twice for IPv6 (2001:2::7 and 2001:2::8): give it at most once per family\n");
    let (code, _, err) = run(&["scan", "198.19.0.1", "-p", "80", "--source-ip", "2001:2::7"]);
    assert_eq!(code, Some(2));
    assert_eq!(err, "portsweep: --source-ip 2001:2::7: no IPv6 target to send from it\n");
    // --family picks the addresses an audit covers.
    let (_, all, _) = run(&["audit", "--worker", "198.19.1.1", "--worker", "2001:2::1", "--dry-run"]);
    let (_, v6, _) = run(&["audit", "--worker", "198.19.1.1", "--worker", "2001:2::1", "--family", "6", "--dry-run"]);
    assert!(all.starts_with("2 nodes (worker)") && v6.starts_with("1 nodes (worker)"), "{all}\n{v6}");
}

/// The saved run `.ci/run` compares with: a real `lab bench --format json`
/// of the small scenario, read here with serde_json alone (not the
/// record's own types), so the figures the gates print are checked against
/// an independent reading of the file.
fn saved_bench() -> (std::path::PathBuf, serde_json::Value) {
    let path = fixture("bench/scan-small.json");
    let value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    (path, value)
}

/// The median wall time of `tool` in a saved run, from its runs.
fn median_wall(run: &serde_json::Value, tool: &str) -> f64 {
    let t = run["tools"].as_array().unwrap().iter().find(|t| t["tool"] == tool).unwrap_or_else(|| panic!("no {tool} in the saved run"));
    let mut walls: Vec<f64> = t["runs"].as_array().unwrap().iter().map(|r| r["wall_s"].as_f64().unwrap()).collect();
    walls.sort_by(f64::total_cmp);
    walls[walls.len() / 2]
}

#[test]
fn bench_gate_broken_on_purpose_exits_1_naming_it_with_its_figures() {
    let (path, saved) = saved_bench();
    let ratio = median_wall(&saved, "portsweep") / median_wall(&saved, "floor");
    // A limit just under the measured ratio: the gate must fail, and the other must pass.
    let limit = format!("{:.2}", ratio - 0.01);
    let broken = format!("portsweep/floor<={limit}");
    let (code, out, err) = run(&["lab", "bench", "--from", path.to_str().unwrap(), "--require", "exact>=1.0", "--require", &broken]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("FAIL {broken}: portsweep/floor = {ratio:.4} (portsweep {:.2} s / floor {:.2} s, median wall), required <= {}", median_wall(&saved, "portsweep"), median_wall(&saved, "floor"), limit.parse::<f64>().unwrap())), "{err}");
    assert!(err.contains("pass exact>=1.0: portsweep.exact = 1.0000"), "{err}");
    assert!(err.contains("bench: 1 of 2 gate(s) failed"), "{err}");
    // The table is still printed, from the saved run.
    assert!(out.contains("| portsweep --rate max |"), "{out}");
    // The same gate with room passes.
    let (code, _, err) = run(&["lab", "bench", "--from", path.to_str().unwrap(), "--require", &format!("portsweep/floor<={:.2}", ratio + 0.01)]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn bench_baseline_fails_when_a_ratio_grew_past_the_tolerance() {
    let (path, saved) = saved_bench();
    // The same run with portsweep 40 % slower in every run.
    let mut slower = saved.clone();
    for t in slower["tools"].as_array_mut().unwrap().iter_mut().filter(|t| t["tool"] == "portsweep") {
        for r in t["runs"].as_array_mut().unwrap() {
            r["wall_s"] = serde_json::json!(r["wall_s"].as_f64().unwrap() * 1.4);
        }
        t["median"]["wall_s"] = serde_json::json!(t["median"]["wall_s"].as_f64().unwrap() * 1.4);
        for v in t["ratio_to"].as_object_mut().unwrap().values_mut() {
            *v = serde_json::json!(v.as_f64().unwrap() * 1.4);
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow.json");
    std::fs::write(&slow, serde_json::to_string(&slower).unwrap()).unwrap();
    let (code, _, err) = run(&["lab", "bench", "--from", slow.to_str().unwrap(), "--baseline", path.to_str().unwrap(), "--tolerance", "0.25"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("FAIL baseline portsweep/floor:") && err.contains("(+40.0 %), allowed up to"), "{err}");
    assert!(err.contains("FAIL baseline portsweep/nmap:"), "{err}");
    // Within a 50 % tolerance it passes; the saved run against itself passes at 0.
    let (code, _, err) = run(&["lab", "bench", "--from", slow.to_str().unwrap(), "--baseline", path.to_str().unwrap(), "--tolerance", "0.5"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = run(&["lab", "bench", "--from", path.to_str().unwrap(), "--baseline", path.to_str().unwrap(), "--tolerance", "0"]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn bench_json_round_trips_and_bad_gates_exit_2() {
    let (path, saved) = saved_bench();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.json");
    let (code, out, err) = run(&["lab", "bench", "--from", path.to_str().unwrap(), "--format", "json", "--output", copy.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out).unwrap(), saved);
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), out);
    let (code, _, err) = run(&["lab", "bench", "--from", path.to_str().unwrap(), "--require", "portsweep/flor<=1.5"]);
    assert_eq!(code, Some(2));
    assert!(err.starts_with("portsweep: bad gate \"portsweep/flor<=1.5\": unknown tool \"flor\""), "{err}");
}

/// Runs `scripts/criterion-gate judge` on a baseline with one benchmark
/// whose change file holds `change` (None: no baseline at all).
fn criterion_judge(change: Option<&str>) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let (base, results) = (dir.path().join("base"), dir.path().join("results"));
    std::fs::create_dir_all(&base).unwrap();
    if let Some(change) = change {
        std::fs::create_dir_all(base.join("grp/bench one/ci")).unwrap();
        std::fs::create_dir_all(results.join("grp/bench one/change")).unwrap();
        std::fs::write(results.join("grp/bench one/change/estimates.json"), change).unwrap();
    }
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/criterion-gate");
    let out = Command::new(script).arg("judge").arg(&base).arg(&results).arg("0.5").output().expect("runs criterion-gate");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// criterion's change file (`change/estimates.json`), as it writes it: one
/// line, no newline at the end.
fn criterion_change(lower: &str, upper: &str, point: &str) -> String {
    format!(r#"{{"mean":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":{lower},"upper_bound":{upper}}},"point_estimate":{point},"standard_error":0.01}},"median":{{"confidence_interval":{{"confidence_level":0.95,"lower_bound":0.0,"upper_bound":0.0}},"point_estimate":0.0,"standard_error":0.0}}}}"#)
}

#[test]
fn criterion_gate_judges_change_files_and_refuses_what_it_cannot_read() {
    let (code, err) = criterion_judge(Some(&criterion_change("0.1", "0.3", "0.2")));
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("ok grp/bench one: mean +20.0 %"), "{err}");
    let (code, err) = criterion_judge(Some(&criterion_change("0.6", "0.8", "0.7")));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("FAIL grp/bench one"), "{err}");
    // A layout the pattern misses (fields reordered) and a value that is
    // not a number: both exit 2 naming the file, never "ok".
    let reordered = r#"{"mean":{"point_estimate":0.9,"confidence_interval":{"lower_bound":0.8,"upper_bound":1.0,"confidence_level":0.95}}}"#;
    for doctored in [reordered.to_string(), criterion_change("null", "0.8", "0.7")] {
        let (code, err) = criterion_judge(Some(&doctored));
        assert_eq!(code, Some(2), "{doctored}: {err}");
        assert!(err.contains("cannot read") && err.contains("grp/bench one/change/estimates.json"), "{err}");
        assert!(!err.contains(": ok "), "{err}");
    }
    let (code, err) = criterion_judge(None);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no benchmark was compared"), "{err}");
}
