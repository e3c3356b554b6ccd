//! Metrics of `portsweep audit --every` with real parts (Debian's
//! prometheus package): `promtool check metrics` on the exposition and the
//! textfile, and a real Prometheus scraping a running audit of the demo lab,
//! its `portsweep_findings` series read back through Prometheus's HTTP API
//! and compared, node by node and kind by kind, with the audit's JSON report
//! and with the scenario's own findings. Both processes run inside the
//! lab's scanner namespace, on its loopback; the test talks to them from a
//! thread in that namespace. Needs root, nftables and prometheus.
mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use portsweep::audit::AuditReport;
use portsweep::lab::verify::finding_keys;
use portsweep::lab::process::StopOnDrop;
use portsweep::lab::Lab;

const METRICS: &str = "127.0.0.1:19468";
const PROMETHEUS: &str = "127.0.0.1:19090";

/// The processes these tests start (the audit loop, Prometheus) get 10 s
/// to exit on SIGTERM before SIGKILL.
const GRACE: Duration = Duration::from_secs(10);

fn start_in(lab: &Lab, args: &[&std::ffi::OsStr], log: &Path) -> StopOnDrop {
    let log = std::fs::File::create(log).unwrap();
    let child = Command::new("ip")
        .args(["netns", "exec", lab.scanner_ns()])
        .args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starts");
    StopOnDrop::new(child, GRACE)
}

/// `GET path` on `addr` from inside the scanner namespace: status and body.
fn get(lab: &Lab, addr: &str, path: &str) -> Option<(u16, String)> {
    lab.in_scanner(|| -> std::io::Result<(u16, String)> {
        let mut s = std::net::TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
        let mut text = String::new();
        s.read_to_string(&mut text)?;
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        Ok((status, body.to_string()))
    })
    .ok()?
    .ok()
}

/// The vector a Prometheus instant query returns: labels and value.
fn query(lab: &Lab, q: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let Some((200, body)) = get(lab, PROMETHEUS, &format!("/api/v1/query?query={q}")) else { return Vec::new() };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["data"]["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    let labels = s["metric"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
                    (labels, s["value"][1].as_str().unwrap().parse().unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The value of the sample `series` (name and labels, as written) of an
/// exposition.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// `GET /metrics` on loopback of the test's own namespace.
fn scrape(addr: std::net::SocketAddr) -> Option<String> {
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    Some(text.split_once("\r\n\r\n")?.1.to_string())
}

/// Audits of a recorded scan report (`--scan-report`: no packets, no
/// privileges) every second: an output that cannot be written in a later
/// round is counted as `output` while the audits' own figures go on, and
/// a textfile that cannot be written then does not end the loop; in the
/// first round it does.
#[test]
fn a_failed_output_in_a_later_round_is_counted_and_the_metrics_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("scan.json");
    std::fs::write(&scan, README_SCAN).unwrap();
    let (out_dir, text_dir) = (dir.path().join("out"), dir.path().join("text"));
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::create_dir(&text_dir).unwrap();
    let textfile = text_dir.join("portsweep.prom");
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let audit = |textfile: &Path, extra: &[&str]| {
        let mut c = Command::new(bin());
        c.args(["audit", "--control-plane", "198.19.0.10", "--worker", "198.19.1.1", "--from", "control-plane", "--every", "1s", "--format", "json"]);
        c.arg("--scan-report").arg(&scan).arg("--output").arg(out_dir.join("audit.json")).arg("--textfile").arg(textfile).args(extra);
        c
    };
    // Round 1: a textfile that cannot be written ends the command.
    let o = audit(&dir.path().join("absent/portsweep.prom"), &[]).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--textfile"), "{}", String::from_utf8_lossy(&o.stderr));

    let log = std::fs::File::create(dir.path().join("audit.log")).unwrap();
    let child = audit(&textfile, &["--metrics-addr", &addr.to_string()]).stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
    let mut running = StopOnDrop::new(child, GRACE);
    let log = || std::fs::read_to_string(dir.path().join("audit.log")).unwrap_or_default();
    // Until `predicate` holds of the exposition (bounded), the audit alive.
    let mut wait_for = |what: &str, predicate: &dyn Fn(f64, f64) -> bool| -> (f64, f64) {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(running.try_wait().unwrap().is_none(), "the audit ended waiting for {what}: {}", log());
            if let Some(text) = scrape(addr) {
                let audits = sample(&text, "portsweep_audits_total").unwrap();
                let output_errors = sample(&text, r#"portsweep_audit_errors_total{cause="output"}"#).unwrap();
                if predicate(audits, output_errors) {
                    return (audits, output_errors);
                }
            }
            assert!(Instant::now() < until, "no {what} within 30 s: {}", log());
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let (audits, _) = wait_for("a first audit", &|audits, errors| audits >= 1.0 && errors == 0.0);
    assert!(out_dir.join("audit.json").exists() && textfile.exists());
    // The report's directory goes: every round fails to write it, and
    // every round's audit is still counted.
    std::fs::remove_dir_all(&out_dir).unwrap();
    let (later, errors) = wait_for("two output errors", &|_, errors| errors >= 2.0);
    assert!(later >= audits + errors, "{later} audits, {errors} output errors after {audits} audits: the metrics froze");
    assert!(log().contains("failed (output)"), "{}", log());
    // The textfile's directory goes too: two output errors a round, and
    // the loop goes on.
    std::fs::remove_dir_all(&text_dir).unwrap();
    let (_, before) = wait_for("the textfile error", &|_, e| e >= errors + 1.0);
    let (audits_then, _) = wait_for("more rounds", &|_, e| e >= before + 4.0);
    assert!(audits_then >= later + 2.0, "{audits_then} audits");
    assert!(log().contains("--textfile"), "{}", log());
}

fn promtool_check_metrics(text: &str) {
    let mut p = Command::new("promtool").args(["check", "metrics"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("promtool (Debian package prometheus)");
    p.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = p.wait_with_output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(), "promtool check metrics: {}{}\n{text}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}

/// The alert rules of deploy/kubernetes/monitoring.yaml (the
/// PrometheusRule's spec) as a Prometheus rules file.
fn rules_file(dir: &Path) -> std::path::PathBuf {
    use serde::Deserialize;
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes/monitoring.yaml")).unwrap();
    let rule = serde_yaml_ng::Deserializer::from_str(&text).map(|d| serde_yaml_ng::Value::deserialize(d).unwrap()).find(|d| d["kind"].as_str() == Some("PrometheusRule")).expect("a PrometheusRule");
    let path = dir.join("rules.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&rule["spec"]).unwrap()).unwrap();
    path
}

#[test]
fn prometheus_scrapes_the_findings_of_a_running_audit() {
    let _g = lab_lock();
    let s = scenario("demo");
    let spec = s.audit.clone().unwrap();
    let lab = Lab::build(&s).expect("lab builds");
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("audit.json");
    let textfile = dir.path().join("portsweep.prom");
    let mut audit: Vec<std::ffi::OsString> = vec![bin().into(), "audit".into(), "--inventory".into(), spec.inventory.clone().into_os_string()];
    audit.extend(spec.args.iter().map(Into::into));
    audit.extend(["--rate", "max", "--every", "10s", "--metrics-addr", METRICS, "--textfile"].map(Into::into));
    audit.push(textfile.clone().into_os_string());
    audit.extend(["--format", "json", "--output"].map(Into::into));
    audit.push(report_path.clone().into_os_string());
    let audit: Vec<&std::ffi::OsStr> = audit.iter().map(|a| a.as_os_str()).collect();
    let _audit = start_in(&lab, &audit, &dir.path().join("audit.log"));
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: [{}]\nscrape_configs:\n  - job_name: portsweep-node-audit\n    static_configs:\n      - targets: ['{METRICS}']\n", rules_file(dir.path()).display())).unwrap();
    let data = dir.path().join("data");
    let prom_args: Vec<std::ffi::OsString> = vec![
        "prometheus".into(),
        format!("--config.file={}", config.display()).into(),
        format!("--storage.tsdb.path={}", data.display()).into(),
        format!("--web.listen-address={PROMETHEUS}").into(),
    ];
    let prom_args: Vec<&std::ffi::OsStr> = prom_args.iter().map(|a| a.as_os_str()).collect();
    let _prometheus = start_in(&lab, &prom_args, &dir.path().join("prometheus.log"));

    // Until Prometheus holds the first audit's series (bounded).
    let until = Instant::now() + Duration::from_secs(90);
    let series = loop {
        let series = query(&lab, "portsweep_findings");
        if !series.is_empty() && report_path.exists() {
            break series;
        }
        assert!(Instant::now() < until, "no portsweep_findings in Prometheus after 90 s; audit log: {}\nprometheus log: {}", std::fs::read_to_string(dir.path().join("audit.log")).unwrap_or_default(), std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(500));
    };
    let report: AuditReport = serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
    // The report is the scenario's truth…
    assert_eq!(finding_keys(&report), spec.findings);
    // …and Prometheus holds it, node by node and kind by kind.
    let mut from_prometheus: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (labels, value) in &series {
        assert_eq!(labels["job"], "portsweep-node-audit");
        *from_prometheus.entry((labels["node"].clone(), labels["kind"].clone())).or_default() += value;
    }
    let mut from_report: BTreeMap<(String, String), f64> = BTreeMap::new();
    for f in &report.findings {
        *from_report.entry((f.node.clone(), f.kind.to_string())).or_default() += 1.0;
    }
    assert_eq!(from_prometheus, from_report);
    // Every series names its port as the finding does.
    // (Prometheus drops empty labels: an unreachable node has no port.)
    let mut ports: Vec<String> = series.iter().map(|(l, _)| match (l.get("protocol"), l.get("port")) {
        (Some(p), Some(n)) => format!("{} {} {p}/{n}", l["kind"], l["node"]),
        _ => format!("{} {}", l["kind"], l["node"]),
    }).collect();
    ports.sort();
    assert_eq!(ports, spec.findings);
    let audits = query(&lab, "portsweep_audits_total");
    assert!(audits.len() == 1 && audits[0].1 >= 1.0, "{audits:?}");
    let complete = query(&lab, "portsweep_audit_last_complete");
    assert_eq!(complete.iter().map(|s| s.1).collect::<Vec<_>>(), [1.0]);
    // The figures of the report's own round: the report was read before
    // this exposition, and a round records its metrics before writing its
    // report, so one audit counted means the report is of that audit.
    let (status, body) = get(&lab, METRICS, "/metrics").expect("metrics answer");
    assert_eq!(status, 200);
    assert_eq!(sample(&body, "portsweep_audits_total"), Some(1.0), "a second round ran before the report was read:\n{body}");
    assert_eq!(sample(&body, "portsweep_audit_last_probes"), Some(report.scan.stats.probes_sent as f64), "{body}");
    assert_eq!(sample(&body, "portsweep_audit_last_replies"), Some(report.scan.stats.replies as f64), "{body}");
    assert!(report.scan.stats.probes_sent > 0 && report.scan.stats.replies > 0);

    // The exposition and the textfile pass promtool's checks.
    let (status, body) = get(&lab, METRICS, "/metrics").expect("metrics answer");
    assert_eq!(status, 200);
    promtool_check_metrics(&body);
    let text = std::fs::read_to_string(&textfile).unwrap();
    promtool_check_metrics(&text);
    let findings_of = |t: &str| {
        let mut lines: Vec<String> = t.lines().filter(|l| l.starts_with("portsweep_findings{")).map(str::to_string).collect();
        lines.sort();
        lines
    };
    assert_eq!(findings_of(&text), findings_of(&body));
    assert_eq!(get(&lab, METRICS, "/healthz"), Some((200, "ok\n".to_string())));
    assert_eq!(get(&lab, METRICS, "/nope").map(|r| r.0), Some(404));

    // The alert rules evaluate on these series: every error finding's
    // series is a pending PortsweepErrorFinding (it waits 15 minutes).
    let until = Instant::now() + Duration::from_secs(30);
    let want = series.iter().filter(|(l, _)| l["severity"] == "error").count();
    loop {
        let pending = query(&lab, "ALERTS%7Balertname%3D%22PortsweepErrorFinding%22%7D");
        if pending.len() == want {
            assert!(pending.iter().all(|(l, _)| l["alertstate"] == "pending"), "{pending:?}");
            break;
        }
        assert!(Instant::now() < until, "{} PortsweepErrorFinding alerts, {want} expected: {pending:?}", pending.len());
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(query(&lab, "ALERTS%7Balertname%3D%22PortsweepCriticalFinding%22%7D").is_empty(), "the demo has no critical finding");
}
