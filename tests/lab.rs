//! End-to-end: build namespace labs from `fixtures/scenarios`, run the
//! `portsweep` binary inside the scanner namespace, and check every
//! (host, port) of its JSON report against the scenario's ground truth.
//! Needs root and nftables (`.ci/run` installs them).
mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use portsweep::lab::{flood, Lab};
use portsweep::report::ScanReport;

#[test]
fn reference_lab_265_hosts_by_2797_ports_is_exact() {
    let down = ["198.19.0.13", "198.19.1.250", "198.19.1.251", "198.19.1.252", "198.19.1.253", "198.19.1.254"];
    let (report, output) = assert_reference_lab_exact("cluster-250", Reference::Clean { down: &down });
    // The report went to a file: one closing line on stderr says what it holds.
    let counts: Vec<String> = report.state_counts().iter().map(|(st, n)| format!("{n} {}", st.as_str())).collect();
    let closing = format!("portsweep: 265 hosts (259 up, 6 down) × 2797 ports: {} in {:.2} s; report written to ", counts.join(", "), report.stats.duration_s);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.lines().any(|l| l.starts_with(&closing) && l.ends_with("scan.json")), "{stderr}");
}

#[test]
fn two_percent_loss_each_way_is_exact_with_default_retries() {
    assert_reference_lab_exact("cluster-250-loss", Reference::TwoPercentLoss);
}

#[test]
fn forged_replies_are_counted_and_change_nothing() {
    let _g = lab_lock();
    let s = scenario("strays");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.json");
    // 64,000 probes at 20,000/s (3.2 s): the injection, from 0.5 s to
    // 2.5 s, falls wholly inside the scan, so every forged packet reaches
    // a running receiver and must be counted, none more.
    let mut child = spawn_guarded(&mut scan_command(&lab, &s, &out, &["--rate", "20000"]));
    std::thread::sleep(Duration::from_millis(500));
    let injected = lab.inject_strays(&s, s.strays, Duration::from_secs(2)).join().expect("injector thread").expect("injector sends");
    assert!(child.wait().expect("scan ends").success());
    assert_eq!(injected, s.strays);
    let report = read_report(&out);
    assert!(report.stats.duration_s > 2.6, "the scan must outlast the injection: {:?}", report.stats);
    assert_exact(&s, &report);
    assert_eq!((report.stats.invalid_replies, report.stats.rx_dropped), (injected as u64, 0), "{:?}", report.stats);
}

#[test]
fn a_flood_of_malformed_and_forged_packets_changes_nothing_and_is_counted() {
    let _g = lab_lock();
    let s = scenario("strays");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.json");
    let ports: Vec<u16> = portsweep::space::PortList::parse(&s.ports, portsweep::space::Protocol::Tcp).unwrap().as_slice().iter().map(|p| p.1).collect();
    let deck = flood::forge_flood(&s.present_hosts(), &ports, portsweep::lab::netns::SCANNER_ADDR, 64, &mut portsweep::lab::sim::Rng::new(14));
    // 64,000 probes at 20,000/s (3.2 s); the flood, from the target
    // namespace at the highest rate one thread sends, runs from 0.5 s for
    // at most 1.5 s: wholly inside the scan.
    let spawned = std::time::Instant::now();
    let mut child = spawn_guarded(&mut scan_command(&lab, &s, &out, &["--rate", "20000"]));
    std::thread::sleep(Duration::from_millis(500));
    let record = lab.flood(deck, 4_000_000, Duration::from_millis(1500)).expect("flood starts").join().expect("flood thread").expect("flood sends");
    let flood_end = spawned.elapsed().as_secs_f64();
    let status = child.wait().expect("scan ends");
    assert!(status.success(), "the scanner survived the flood: {status:?}");
    let report = read_report(&out);
    let (invalid, dropped, passing) = (report.stats.invalid_replies, report.stats.rx_dropped, record.total_passing());
    eprintln!(
        "{}flood: {} packets in {:.2} s ({:.0}/s), {} passing the filter; scan: invalid_replies {invalid}, rx_dropped {dropped}, {} probes, {} passes, {:.2} s",
        record.table(),
        record.total_sent(),
        record.elapsed.as_secs_f64(),
        record.total_sent() as f64 / record.elapsed.as_secs_f64(),
        passing,
        report.stats.probes_sent,
        report.stats.passes,
        report.stats.duration_s
    );
    // The receiver ran (engine start ≥ spawn) until about duration_s after
    // it started: the flood ended well before.
    assert!(report.stats.duration_s > flood_end + 0.5, "the scan must outlast the flood ({flood_end:.2} s): {:?}", report.stats);
    assert_eq!(record.refused, 0, "the sending kernel refused none");
    assert!(record.total_sent() > 100_000, "a flood, not a trickle: {}", record.total_sent());
    assert_exact(&s, &report);
    // Every packet the filter passes is validated and counted once, and
    // nothing else is invalid here (genuine replies never are): so
    // invalid ≤ passing. A passing packet can only be missing from the
    // count if the kernel dropped it at the full socket, and every such
    // drop is in rx_dropped (genuine replies dropped too, recovered by the
    // retries): passing − invalid ≤ rx_dropped. Backlog drops on the veth
    // are no loss here: the sender gets ENOBUFS and sends again.
    assert!(invalid <= passing, "invalid {invalid} > passing {passing}");
    assert!(passing - invalid <= dropped, "{} passing packets neither counted nor dropped (rx_dropped {dropped})", passing - invalid);
}

#[test]
fn demo_runs_and_matches_ground_truth() {
    let _g = lab_lock();
    let out = Command::new(bin()).args(["demo"]).output().expect("runs demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("ground truth: scan 69625/69625 pairs exact; findings 9/9 as expected"), "{stdout}");
    assert!(stdout.contains("9 findings: 0 critical, 8 error, 1 warning"), "{stdout}");
    let left = Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    let mine = format!("psw{}x", std::process::id());
    assert!(!String::from_utf8_lossy(&left.stdout).contains(&mine), "namespaces left behind");
}

#[test]
fn interrupted_scan_writes_a_partial_report() {
    let _g = lab_lock();
    let s = scenario("cluster-250");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("partial.json");
    let mut child = spawn_guarded(&mut scan_command(&lab, &s, &out, &["--rate", "50000"]));
    std::thread::sleep(Duration::from_millis(1500));
    // `ip netns exec` execs the scanner in place: the child's pid is its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let report = read_report(&out);
    assert!(!report.complete);
    assert!(report.stats.probes_sent > 10_000 && report.stats.probes_sent < 737_000, "{:?}", report.stats);
    // What it found is right: every pair is as in truth or still silent
    // (never probed, or its answer not in yet); every host it calls up is up.
    let v = portsweep::lab::verify::verify_interrupted(&s, &report);
    assert!(v.mismatches.is_empty() && v.host_status_errors.is_empty() && v.missing_hosts.is_empty() && v.wrong_ports.is_none(), "{}", v.summary(10));
    assert_eq!((v.pairs, v.exact + v.unanswered), (741_205, 741_205));
    // Pairs silent in truth count as exact; of the others, some were
    // answered (it ran 1.5 s) and some not (it was stopped).
    let (expected, oracle) = (s.expected().unwrap(), s.oracle());
    let silent_in_truth = expected.hosts.iter().flat_map(|&a| expected.ports.iter().map(move |&(p, n)| (a, p, n))).filter(|&(a, p, n)| oracle.truth(a, p, n).reason == "no-response").count() as u64;
    let answered = v.exact - silent_in_truth;
    assert!(answered > 10_000 && v.unanswered > 10_000 && answered <= report.stats.probes_sent, "answered {answered}, {}", v.summary(0));
}

#[test]
fn without_cap_net_raw_exit_code_is_3_with_a_hint() {
    // Drop CAP_NET_RAW from the bounding set: the exec'd scanner lacks it
    // even as root. It fails before sending anything (target: loopback).
    let out = Command::new("setpriv").args(["--bounding-set", "-net_raw", "--", bin(), "scan", "127.0.0.1", "-p", "80"]).output().expect("setpriv runs");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CAP_NET_RAW") && err.contains("setcap cap_net_raw,cap_net_admin+ep"), "{err}");
}

#[test]
fn udp_and_tcp_mixed_265_hosts_with_loss_is_exact_with_defaults() {
    let _g = lab_lock();
    let s = scenario("udp-250");
    let lab = Lab::build(&s).expect("lab builds");
    let (report, _) = scan_in_lab(&lab, &s, &["--rate", "max"]);
    assert_exact(&s, &report);
    assert_eq!(report.stats.udp_unresolved, 0);
    eprintln!("udp-250: {:.2} s, {} probes, {} passes, {} ICMP rounds", report.stats.duration_s, report.stats.probes_sent, report.stats.passes, report.stats.icmp_rounds);
}

#[test]
fn icmp_rate_limiting_bites_and_the_rounds_beat_it() {
    let _g = lab_lock();
    let s = scenario("udp-limit");
    let lab = Lab::build(&s).expect("lab builds");
    // Without rounds the kernel's limiter hides most closed ports.
    let (fast, _) = scan_in_lab(&lab, &s, &["--rate", "max", "--icmp-wait", "0s"]);
    let v = portsweep::lab::verify::verify(&s, &fast, true);
    let wrong = v.pairs - v.exact;
    assert!(wrong >= 10, "limiter did not bite: {}", v.summary(3));
    assert_eq!(fast.stats.udp_unresolved, wrong + 1, "the dropped port is unresolved too");
    // With the defaults every closed port is found closed.
    let (report, _) = scan_in_lab(&lab, &s, &[]);
    assert_exact(&s, &report);
    assert!(report.stats.icmp_rounds >= 10, "{:?}", report.stats);
    assert_eq!(report.stats.udp_unresolved, 0);
}

#[test]
fn diff_of_two_sweeps_lists_exactly_what_changed() {
    let _g = lab_lock();
    let (s1, s2) = (scenario("scan-small"), scenario("scan-small-after"));
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, r: &portsweep::report::ScanReport| {
        let p = dir.path().join(name);
        std::fs::write(&p, serde_json::to_string(r).unwrap()).unwrap();
        p
    };
    let before = {
        let lab = Lab::build(&s1).expect("lab builds");
        let (a, _) = scan_in_lab(&lab, &s1, &["--rate", "max"]);
        let (b, _) = scan_in_lab(&lab, &s1, &["--rate", "max"]);
        // Same lab twice: no change, exit 0.
        let (pa, pb) = (write("a.json", &a), write("b.json", &b));
        let out = Command::new(bin()).args(["diff", "--format", "json"]).arg(&pa).arg(&pb).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
        pa
    };
    let lab = Lab::build(&s2).expect("lab builds");
    let (after, _) = scan_in_lab(&lab, &s2, &["--rate", "max"]);
    let pafter = write("after.json", &after);
    let out = Command::new(bin()).args(["diff", "--format", "json"]).arg(&before).arg(&pafter).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let d: portsweep::diff::Diff = serde_json::from_slice(&out.stdout).unwrap();
    // Ground truth: every pair whose state differs between the scenarios.
    let expected = truth_changes(&s1, &s2);
    assert_eq!(diff_changes(&d), expected);
    // 198.19.1.15 comes up (each of its 2,797 ports leaves `filtered`), and
    // three single ports change.
    assert_eq!(expected.len(), 2797 + 3);
    let ups: Vec<String> = d.hosts.iter().map(|h| format!("{} {}→{}", h.address, h.before, h.after)).collect();
    assert_eq!(ups, ["198.19.1.15 down→up"]);
}

#[test]
fn three_concurrent_shards_merge_into_the_single_run_report() {
    let _g = lab_lock();
    let s = scenario("cluster-250");
    let lab = Lab::build(&s).expect("lab builds");
    let (single, _) = scan_in_lab(&lab, &s, &["--rate", "max", "--seed", "42"]);
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = (1..=3).map(|i| dir.path().join(format!("shard-{i}.json"))).collect();
    let children: Vec<_> = files
        .iter()
        .enumerate()
        .map(|(i, f)| spawn_guarded(&mut scan_command(&lab, &s, f, &["--rate", "max", "--seed", "42", "--shard", &format!("{}/3", i + 1)])))
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let shards: Vec<ScanReport> = files.iter().map(|f| read_report(f)).collect();
    // The first passes partition the pairs: none twice, none missing.
    let first_pass: u64 = shards.iter().map(|r| r.stats.probes_sent - r.stats.retransmissions).sum();
    assert_eq!(first_pass, 265 * 2797);
    let merged_path = dir.path().join("merged.json");
    let out = Command::new(bin()).arg("merge").args(&files).args(["--format", "json", "--output"]).arg(&merged_path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let merged = read_report(&merged_path);
    assert_exact(&s, &merged);
    // Pair by pair, the merge says what the single run said.
    let ports = single.port_list().unwrap();
    for h in &single.hosts {
        for &(proto, port) in ports.as_slice() {
            assert_eq!(merged.lookup(h.address, proto, port, &ports), single.lookup(h.address, proto, port, &ports), "{}:{port}", h.address);
        }
    }
    assert_eq!(merged.hosts.iter().map(|h| h.status).collect::<Vec<_>>(), single.hosts.iter().map(|h| h.status).collect::<Vec<_>>());
}

#[test]
fn sigint_at_a_random_point_then_resume_gives_the_exact_result() {
    let _g = lab_lock();
    let s = scenario("cluster-250");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.json");
    let args = |extra: &[&str]| scan_command(&lab, &s, &out, &[&["--rate", "100000", "--seed", "9"], extra].concat());
    // A random point of the ~7.5 s first pass (the clock's nanoseconds).
    let ms = 500 + std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64 % 5000;
    let mut child = spawn_guarded(&mut args(&[]));
    std::thread::sleep(Duration::from_millis(ms));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130), "interrupted at {ms} ms");
    let checkpoint = dir.path().join("scan.json.checkpoint");
    assert!(checkpoint.exists(), "no checkpoint after SIGINT at {ms} ms");
    let partial = read_report(&out);
    assert!(!partial.complete);
    // A checkpoint of another scan is refused.
    let other = Command::new("ip")
        .args(["netns", "exec", lab.scanner_ns(), bin(), "scan", "198.19.1.0/24", "-p", "80", "--resume"])
        .arg(&checkpoint)
        .output()
        .unwrap();
    assert_eq!(other.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&other.stderr).contains("the checkpoint is of another scan"));
    let status = args(&["--resume", checkpoint.to_str().unwrap()]).status().unwrap();
    assert_eq!(status.code(), Some(0));
    let report = read_report(&out);
    assert!(report.complete);
    assert_exact(&s, &report);
    // Resuming re-sends nothing the first run had sent in its first pass.
    assert!(report.stats.probes_sent - report.stats.retransmissions <= 265 * 2797 + 256, "{:?} after {ms} ms", report.stats);
    assert!(!checkpoint.exists(), "a finished scan removes its checkpoint");
}

#[test]
fn a_second_ctrl_c_exits_at_once_and_the_periodic_checkpoint_resumes() {
    let _g = lab_lock();
    let s = scenario("cluster-250");
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scan.json");
    let args = |extra: &[&str]| scan_command(&lab, &s, &out, &[&["--rate", "40000", "--seed", "3"], extra].concat());
    // ~18.5 s of first pass; a checkpoint is refreshed every 10 s.
    let mut child = spawn_guarded(&mut args(&[]));
    std::thread::sleep(Duration::from_millis(11_500));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let checkpoint = dir.path().join("scan.json.checkpoint");
    let cp = portsweep::engine::checkpoint::Checkpoint::read(&checkpoint).expect("a checkpoint survives the second Ctrl-C");
    assert_eq!((cp.seed, cp.pass), (3, 0));
    assert!(cp.next_chunk > 0);
    let status = args(&["--resume", checkpoint.to_str().unwrap()]).status().unwrap();
    assert_eq!(status.code(), Some(0));
    let report = read_report(&out);
    assert!(report.complete);
    assert_exact(&s, &report);
    assert!(!checkpoint.exists(), "a finished scan removes its checkpoint");
}

#[test]
fn lab_clean_removes_the_etc_files_of_killed_runs() {
    let _g = lab_lock();
    // A lab of a process that cannot exist (above any pid_max).
    let stale = std::path::Path::new(portsweep::lab::etc::NETNS_ETC).join("psw4294967290x0s");
    struct Remove<'a>(&'a std::path::Path);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.0);
        }
    }
    let _guard = Remove(&stale);
    std::fs::create_dir_all(&stale).unwrap();
    std::fs::write(stale.join("hosts"), "127.0.0.1 localhost\n").unwrap();
    let removed = Lab::clean_stale().expect("clean runs");
    assert!(removed.contains(&"psw4294967290x0s".to_string()), "{removed:?}");
    assert!(!stale.exists());
}

/// The pairs of the scenario's dead hosts (UDP-only scans: nothing can
/// establish their silence, so exactly they stay unresolved).
fn dead_pairs(s: &portsweep::lab::Scenario) -> Vec<(std::net::IpAddr, u16)> {
    let ports = portsweep::space::PortList::parse(&s.ports, portsweep::space::Protocol::Tcp).unwrap();
    s.dead_hosts().iter().flat_map(|a| ports.as_slice().iter().map(move |&(_, p)| (a, p)).collect::<Vec<_>>()).collect()
}

fn unresolved_pairs(r: &ScanReport) -> Vec<(std::net::IpAddr, u16)> {
    r.hosts.iter().flat_map(|h| h.udp_unresolved.iter().map(move |&p| (h.address, p))).collect()
}

/// 265 addresses × U:123,8285,8472 with default settings behind one ICMP
/// limiter model: every pair exact, and unresolved exactly the dead hosts'.
fn exact_under_limiter(name: &str) {
    let _g = lab_lock();
    let s = scenario(name);
    let lab = Lab::build(&s).expect("lab builds");
    let (report, _) = scan_in_lab(&lab, &s, &[]);
    assert_exact(&s, &report);
    assert_eq!(unresolved_pairs(&report), dead_pairs(&s), "{:?}", report.stats);
    assert_eq!(report.stats.udp_unresolved, 15);
    eprintln!("{name}: {:.2} s, {} probes, {} ICMP rounds", report.stats.duration_s, report.stats.probes_sent, report.stats.icmp_rounds);
}

#[test]
fn udp_265_behind_a_bucket_per_node_at_1_per_s_is_exact() {
    exact_under_limiter("udp-per-node");
}

#[test]
fn udp_265_behind_a_bucket_per_node_at_10_per_s_is_exact() {
    exact_under_limiter("udp-per-node-10");
}

#[test]
fn udp_265_behind_one_global_bucket_is_exact() {
    exact_under_limiter("udp-global");
}

#[test]
fn udp_265_behind_per_node_and_global_buckets_is_exact() {
    exact_under_limiter("udp-per-node-global");
}

#[test]
fn udp_265_behind_one_bucket_for_everything_is_honest() {
    let _g = lab_lock();
    let s = scenario("udp-router");
    let lab = Lab::build(&s).expect("lab builds");
    // A short --icmp-wait keeps the test short; honesty holds at any wait.
    let (report, _) = scan_in_lab(&lab, &s, &["--icmp-wait", "5s"]);
    let h = portsweep::lab::verify::verify_honest(&s, &report);
    assert!(h.is_honest(&report), "{} overclaims {:?} status {:?}, listed {} vs {:?}", h.verification.summary(5), &h.overclaims[..h.overclaims.len().min(5)], h.status_overclaims, h.listed_unresolved, report.stats);
    assert!(h.unresolved_wrong > 100, "the limiter did not bite: {}", h.verification.summary(0));
    assert!(h.unresolved_wrong <= report.stats.udp_unresolved);
    assert!(report.stats.icmp_wait_hint_s.is_some(), "{:?}", report.stats);
}

/// A socket error is the receiver's error, not an endless run of empty
/// batches: the packet socket bound to an interface that goes down gets
/// `ENETDOWN`, and `recv` returns it (as `recvmmsg` did before the ring).
/// Runs in a network namespace of its own, unshared by one thread (gone
/// with it): nothing but its loopback is touched.
#[test]
fn receiver_reports_enetdown_when_its_interface_goes_down() {
    use portsweep::io::raw::PacketReceiver;
    use portsweep::io::{ReplySource, RxBatch};
    let outcome = std::thread::spawn(|| -> Result<Vec<String>, String> {
        // SAFETY: unshare affects this thread only; it owns the namespace.
        if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
            return Err(format!("unshare: {}", std::io::Error::last_os_error()));
        }
        let ip = |state: &str| {
            let st = Command::new("ip").args(["link", "set", "lo", state]).status().map_err(|e| e.to_string())?;
            if st.success() { Ok(()) } else { Err(format!("ip link set lo {state}: {st}")) }
        };
        ip("up")?;
        let mut rx = PacketReceiver::open(Some("lo")).map_err(|e| format!("open: {e}"))?;
        let mut batch = RxBatch::new(64);
        rx.recv(&mut batch).map_err(|e| format!("recv while up: {e}"))?;
        ip("down")?;
        let mut seen = Vec::new();
        for _ in 0..100 {
            match rx.recv(&mut batch) {
                Ok(()) => seen.push(format!("ok, {} frames", batch.len())),
                Err(e) => {
                    seen.push(format!("error {:?}", e.raw_os_error()));
                    break;
                }
            }
        }
        Ok(seen)
    })
    .join()
    .expect("thread");
    let seen = outcome.expect("namespace and receiver");
    assert_eq!(seen.last().map(String::as_str), Some(format!("error {:?}", Some(libc::ENETDOWN)).as_str()), "{seen:?}");
    assert!(seen.len() <= 2, "the error comes at the first empty wait: {seen:?}");
}
