//! Least privilege, seen from outside: a scan running in the lab holds no
//! capability in any set, on any thread, and cannot regain one, while it
//! still scans exactly. Needs root (it builds a lab).
mod common;

use std::time::{Duration, Instant};

use common::*;
use portsweep::lab::process::StopOnDrop;
use portsweep::lab::Lab;

/// `Key:\tvalue` of a /proc status file.
fn field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':'))).map(str::trim)
}

/// The scanner processes these tests start get 10 s to exit on SIGTERM
/// before SIGKILL; a test that fails leaves none running.
fn guarded(child: std::process::Child) -> StopOnDrop {
    StopOnDrop::new(child, Duration::from_secs(10))
}

/// `/proc/<pid>/status` once `pid` is portsweep with its sender and
/// receive threads running (so past the capability drop, which happens
/// before the engine starts a thread); `Err` with the last status read if
/// that does not happen within 3 s.
fn running_scanner_status(pid: u32) -> Result<String, String> {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let threads: usize = field(&st, "Threads").and_then(|t| t.parse().ok()).unwrap_or(0);
        if field(&st, "Name") == Some("portsweep") && threads >= 3 {
            return Ok(st);
        }
        if Instant::now() > deadline {
            return Err(st);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_running_scan_holds_no_capability_and_stays_exact() {
    let _g = lab_lock();
    let s = scenario("strays");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.json");
    // 64,000 probes at 20,000/s: about 3.2 s of scanning to look at.
    let mut child = guarded(scan_command(&lab, &s, &out, &["--rate", "20000"]).spawn().expect("runs portsweep"));
    // `ip netns exec` execs the scanner in place: the child's pid is its
    // pid. Wait (bounded) until it is portsweep with its receive thread
    // running, i.e. past the drop; the drop sets no_new_privs last, before
    // the engine starts a thread.
    let pid = child.id();
    let status = running_scanner_status(pid).unwrap_or_else(|st| panic!("the scanner did not start its threads within 3 s: {st}"));
    for key in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
        assert_eq!(field(&status, key), Some("0000000000000000"), "{key} of the running scanner:\n{status}");
    }
    assert!(status.contains("NoNewPrivs:\t1\n"), "{status}");
    assert_eq!(field(&status, "Uid"), Some("0\t0\t0\t0"), "the uid stays");
    // Every thread (senders, receiver), not only the main one.
    let mut threads = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task list") {
        let st = std::fs::read_to_string(task.expect("task").path().join("status")).unwrap_or_default();
        if st.is_empty() {
            continue; // the thread ended meanwhile
        }
        threads += 1;
        for key in ["CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"] {
            assert_eq!(field(&st, key), Some("0000000000000000"), "{key} of thread {:?}", field(&st, "Name"));
        }
        assert_eq!(field(&st, "NoNewPrivs"), Some("1"));
    }
    assert!(threads >= 3, "{threads} threads seen");
    assert!(child.wait().expect("scan ends").success());
    let report = read_report(&out);
    assert!(report.complete);
    assert_exact(&s, &report);
    eprintln!("{pid}: CapEff/CapPrm/CapInh/CapBnd/CapAmb 0000000000000000, NoNewPrivs 1, uid 0, {threads} threads; scan exact ({} probes, {:.2} s)", report.stats.probes_sent, report.stats.duration_s);
}

#[test]
fn audit_every_scans_again_on_the_sockets_it_opened_before_dropping_privileges() {
    use std::os::unix::fs::MetadataExt;
    let _g = lab_lock();
    let s = scenario("demo");
    let spec = s.audit.clone().expect("an audit scenario");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("audit.json");
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", lab.scanner_ns(), bin(), "audit", "--inventory"]).arg(&spec.inventory);
    cmd.args(&spec.args).args(["--rate", "max", "--every", "8s", "--format", "json", "--output"]).arg(&out);
    let mut child = guarded(cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().expect("runs portsweep audit"));
    // Each round replaces the report (temp file + rename: a new inode).
    // A second round could only scan on the first round's sockets: the
    // process has had no CAP_NET_RAW since then.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut inodes = Vec::new();
    let second = loop {
        if let Ok(m) = std::fs::metadata(&out) {
            if inodes.last() != Some(&m.ino()) {
                inodes.push(m.ino());
                if inodes.len() == 2 {
                    break std::fs::read_to_string(&out).expect("second report");
                }
            }
        }
        if Instant::now() > deadline || child.try_wait().expect("wait").is_some() {
            let _ = child.kill();
            panic!("no second round within 60 s (exit {:?}; reports seen: {})", child.wait().ok().and_then(|s| s.code()), inodes.len());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    drop(child); // stopped: SIGTERM, and reaped
    assert!(status.contains("CapPrm:\t0000000000000000") && status.contains("NoNewPrivs:\t1"), "{status}");
    let report: portsweep::audit::AuditReport = serde_json::from_str(&second).expect("the second report parses");
    assert!(report.scan.complete);
    assert_eq!(portsweep::lab::verify::finding_keys(&report), spec.findings);
    let v = portsweep::lab::verify::verify_audit(&s, &report.scan, true);
    assert!(v.is_exact(), "{}", v.summary(10));
}

#[test]
fn a_non_root_scanner_with_a_file_capability_gives_it_up_too() {
    // The container image's case: uid 65534, CAP_NET_RAW from the binary's
    // file capability (`setcap cap_net_raw+ep`). Without CAP_SETPCAP the
    // bounding set cannot be cleared; with the permitted set empty and
    // no_new_privs set that leaves no privilege, so the scan runs.
    let _g = lab_lock();
    let s = scenario("strays");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let (bin_dir, out_dir) = (dir.path().join("bin"), dir.path().join("out"));
    std::fs::create_dir(&bin_dir).unwrap();
    std::fs::create_dir(&out_dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for (d, mode) in [(dir.path(), 0o755), (bin_dir.as_path(), 0o755), (out_dir.as_path(), 0o777)] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let copy = bin_dir.join("portsweep");
    std::fs::copy(bin(), &copy).unwrap();
    let setcap = std::process::Command::new("setcap").arg("cap_net_raw+ep").arg(&copy).output().expect("setcap runs (libcap2-bin: scripts/deps)");
    assert!(setcap.status.success(), "{}", String::from_utf8_lossy(&setcap.stderr));
    let out = out_dir.join("scan.json");
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", lab.scanner_ns(), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(&copy).arg("scan");
    cmd.args(&s.targets).args(["-p", &s.ports, "--rate", "20000", "--format", "json", "--output"]).arg(&out);
    let mut child = guarded(cmd.stderr(std::process::Stdio::piped()).spawn().expect("runs portsweep as nobody"));
    // `setpriv` execs the scanner in place too.
    let pid = child.id();
    let status = match running_scanner_status(pid) {
        Ok(st) => st,
        Err(st) => {
            let _ = child.kill();
            let o = child.wait_with_output().expect("scan output");
            panic!("the scanner did not start its threads within 3 s: {st}\n{}", String::from_utf8_lossy(&o.stderr));
        }
    };
    for key in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(field(&status, key), Some("0000000000000000"), "{key}:\n{status}");
    }
    assert_ne!(field(&status, "CapBnd"), Some("0000000000000000"), "without CAP_SETPCAP the bounding set stays:\n{status}");
    assert!(status.contains("NoNewPrivs:\t1\n"), "{status}");
    assert_eq!(field(&status, "Uid"), Some("65534\t65534\t65534\t65534"));
    let o = child.wait_with_output().expect("scan ends");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report = read_report(&out);
    assert_exact(&s, &report);
    eprintln!("uid 65534 with cap_net_raw+ep: CapEff/CapPrm/CapInh/CapAmb 0000000000000000, CapBnd {} (kept: no CAP_SETPCAP), NoNewPrivs 1; scan exact", field(&status, "CapBnd").unwrap_or("?"));
}
