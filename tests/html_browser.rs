//! The HTML reports in a real browser: Debian's `chromium` driven through
//! `chromedriver` (WebDriver, fantoccini), one browser session for every
//! check (start-ups cost seconds).
//!
//! What is checked, against the JSON report read here on its own (not with
//! the renderer's helpers):
//! * the demo's saved audit, rendered by `portsweep report audit.json
//!   --format html -o audit.html` (the README's command), a pre-install
//!   audit, a diff of the two, and a synthetic 2,000-node audit: every
//!   finding element equals the JSON's findings one by one, every matrix
//!   cell the scan's state of its (node, port), and the file holds them all
//!   without the script (counted in the HTML text);
//! * the page makes no network request (chromedriver's performance log has
//!   no request but the page's own file) with the browser's network set
//!   offline;
//! * a click on a severity filter hides exactly the findings of that
//!   severity and the count says so;
//! * a node name and a finding's text carrying `<script>`, `</script>`,
//!   `"onmouseover=`, an `onerror` image and `javascript:` show literally,
//!   and nothing of them runs (hovered too).
//!
//! `html_scale_figures` (ignored; run it with `--ignored --nocapture`)
//! prints the size and paint times of 250- and 2,000-node pages for the
//! README; nothing timed is asserted.
//!
//! Without chromium and chromedriver (scripts/deps installs them) the test
//! says so loudly and passes, except under CI (`CI` set), where it fails.
mod common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{bin, lab_lock};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use portsweep::audit::{AuditReport, Phase, Vantage};
use portsweep::inventory::{Inventory, Node};
use portsweep::plan::{ClusterOptions, Plan};
use portsweep::report::{HostReport, HostStatus, PortReport, Reason, ScanReport, State};
use portsweep::space::Protocol;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

// ---------------------------------------------------------------- browser

/// chromedriver, stopped by pid when dropped.
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A command chromedriver has beyond W3C WebDriver, with a JSON body.
#[derive(Debug)]
struct Extension {
    path: &'static str,
    body: Value,
}

impl WebDriverCompatibleCommand for Extension {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/{}", session.unwrap_or(""), self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.body.to_string()))
    }
}

struct Browser {
    rt: tokio::runtime::Runtime,
    client: Client,
    _driver: Driver,
}

impl Drop for Browser {
    /// Ends the session, which quits chromium: killing chromedriver alone
    /// would leave the browser running.
    fn drop(&mut self) {
        let client = self.client.clone();
        let _ = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
    }
}

/// Why the browser tests cannot run here, or the browser.
fn start_browser() -> Result<Browser, String> {
    for p in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(p).exists() {
            return Err(format!("{p} is missing (scripts/deps installs chromium and chromium-driver)"));
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let child = Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().map_err(|e| format!("starting chromedriver: {e}"))?;
    let driver = Driver { child, port };
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect(("127.0.0.1", driver.port)).is_err() {
        if Instant::now() > deadline {
            return Err("chromedriver did not listen within 15 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": CHROMIUM, "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
            "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps"]},
        "goog:loggingPrefs": {"performance": "ALL"}
    });
    let caps = caps.as_object().cloned().unwrap_or_default();
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), ClientBuilder::new(connector).capabilities(caps).connect(&format!("http://127.0.0.1:{}", driver.port))).await })
        .map_err(|_| "no browser session within 60 s".to_string())?
        .map_err(|e| format!("chromium did not start: {e}"))?;
    let b = Browser { rt, client, _driver: driver };
    // Every fetch would fail, and must not even be tried (the log below).
    b.ext("chromium/network_conditions", json!({"network_conditions": {"offline": true, "latency": 0, "download_throughput": 0, "upload_throughput": 0}}));
    Ok(b)
}

/// The browser, or `None` after a loud message (a failure under CI).
fn browser() -> Option<Browser> {
    match start_browser() {
        Ok(b) => Some(b),
        Err(why) if std::env::var_os("CI").is_some() => panic!("browser tests cannot run under CI: {why}"),
        Err(why) => {
            eprintln!("\n!!!!!!!! SKIPPED: the HTML reports were NOT tested in a browser: {why} !!!!!!!!\n");
            None
        }
    }
}

impl Browser {
    fn ext(&self, path: &'static str, body: Value) -> Value {
        self.rt.block_on(self.client.issue_cmd(Extension { path, body })).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Opens a file and returns the network requests it made (performance
    /// log entries), the page's own document excepted.
    fn open(&self, file: &Path) -> Vec<String> {
        self.ext("se/log", json!({"type": "performance"})); // drop what came before
        let url = format!("file://{}", file.canonicalize().unwrap().display());
        self.rt.block_on(self.client.goto(&url)).unwrap_or_else(|e| panic!("opening {url}: {e}"));
        let log = self.ext("se/log", json!({"type": "performance"}));
        let mut requests = Vec::new();
        for entry in log.as_array().into_iter().flatten() {
            let Some(msg) = entry["message"].as_str().and_then(|m| serde_json::from_str::<Value>(m).ok()) else { continue };
            let method = msg["message"]["method"].as_str().unwrap_or("");
            if method.starts_with("Network.requestWillBeSent") || method == "Network.webSocketCreated" {
                let u = msg["message"]["params"]["request"]["url"].as_str().or(msg["message"]["params"]["url"].as_str()).unwrap_or("?").to_string();
                if u != url {
                    requests.push(u);
                }
            }
        }
        requests
    }

    fn js(&self, script: &str) -> Value {
        self.rt.block_on(self.client.execute(script, vec![])).unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    fn click(&self, css: &str) {
        self.rt.block_on(async { self.client.find(fantoccini::Locator::Css(css)).await?.click().await }).unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    fn hover(&self, css: &str) {
        self.rt
            .block_on(async {
                let e = self.client.find(fantoccini::Locator::Css(css)).await?;
                use fantoccini::actions::InputSource;
                let actions = fantoccini::actions::MouseActions::new("mouse".into()).then(fantoccini::actions::PointerAction::MoveToElement { element: e, duration: None, x: 0.0, y: 0.0 });
                self.client.perform_actions(actions).await
            })
            .unwrap_or_else(|e| panic!("hover {css}: {e}"));
    }

    fn screenshot(&self, to: &Path) {
        let png = self.rt.block_on(self.client.screenshot()).expect("screenshot");
        std::fs::write(to, png).unwrap();
    }
}

// ------------------------------------------------------- what the DOM says

/// Every finding element: kind, severity, node, address, protocol, port.
fn dom_findings(b: &Browser) -> Vec<Vec<String>> {
    strings(b.js("return Array.from(document.querySelectorAll('[data-finding]')).map(e => [e.dataset.kind, e.dataset.severity, e.dataset.node, e.dataset.address, e.dataset.protocol, e.dataset.port, e.dataset.change || ''])"))
}

/// Every matrix cell: node, entry, state.
fn dom_cells(b: &Browser) -> Vec<Vec<String>> {
    strings(b.js("return Array.from(document.querySelectorAll('[data-cell]')).map(e => [e.dataset.node, e.dataset.entry, e.dataset.state])"))
}

fn strings(v: Value) -> Vec<Vec<String>> {
    v.as_array().into_iter().flatten().map(|row| row.as_array().into_iter().flatten().map(|x| x.as_str().unwrap_or("?").to_string()).collect()).collect()
}

// ------------------------------------------------- what the JSON report says

/// A finding of the JSON as the DOM contract lists it.
fn json_finding(f: &Value, change: &str) -> Vec<String> {
    let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
    vec![s("kind"), s("severity"), s("node"), s("address"), s("protocol"), f["port"].to_string(), change.to_string()]
}

/// The state the JSON scan gives a pair: its listed entry, else its
/// host's default; `not-scanned` for a host or port it lacks.
fn json_state(scan: &Value, address: &str, protocol: &str, port: u16, covered: &[(Protocol, u16)]) -> String {
    let proto = if protocol == "udp" { Protocol::Udp } else { Protocol::Tcp };
    let Some(h) = scan["hosts"].as_array().into_iter().flatten().find(|h| h["address"] == address) else { return "not-scanned".into() };
    if !covered.contains(&(proto, port)) {
        return "not-scanned".into();
    }
    let listed = h["ports"].as_array().into_iter().flatten().find(|p| p["protocol"] == protocol && p["port"] == port);
    listed.unwrap_or(h).get(if listed.is_some() { "state" } else { "default_state" }).and_then(Value::as_str).unwrap_or("?").to_string()
}

/// The matrix an audit's page must show: every node × every port some
/// entry of the recorded options' plan names (the NodePort range itself
/// is the strip), each with the scan's state.
fn expected_cells(audit: &Value) -> Vec<Vec<String>> {
    let options: ClusterOptions = audit["options"].as_str().unwrap().parse().unwrap();
    let plan = Plan::builtin().effective(&options);
    let mut cols: Vec<(u16, Protocol)> = plan.entries.iter().filter(|e| !e.nodeport_range).flat_map(|e| e.port.ports().map(move |p| (p, e.protocol))).collect();
    cols.sort();
    cols.dedup();
    let covered = portsweep::space::PortList::parse(audit["scan"]["ports"].as_str().unwrap(), Protocol::Tcp).unwrap().as_slice().to_vec();
    let mut rows = Vec::new();
    for n in audit["nodes"].as_array().unwrap() {
        for &(port, proto) in &cols {
            let name = n["name"].as_str().unwrap().to_string();
            rows.push(vec![name, format!("{port}/{proto}"), json_state(&audit["scan"], n["address"].as_str().unwrap(), &proto.to_string(), port, &covered)]);
        }
    }
    rows
}

/// Checks an audit page against its JSON, one by one; returns the page's
/// text for further checks.
fn check_audit_page(b: &Browser, json_path: &Path, html_path: &Path) -> Value {
    let audit: Value = serde_json::from_str(&std::fs::read_to_string(json_path).unwrap()).unwrap();
    let html = std::fs::read_to_string(html_path).unwrap();
    let requests = b.open(html_path);
    assert!(requests.is_empty(), "{}: the page fetched {requests:?}", html_path.display());
    let findings = audit["findings"].as_array().unwrap();
    let want: Vec<Vec<String>> = findings.iter().map(|f| json_finding(f, "")).collect();
    assert_eq!(dom_findings(b), want, "{}: findings", html_path.display());
    let mut cells = dom_cells(b);
    let mut want_cells = expected_cells(&audit);
    cells.sort();
    want_cells.sort();
    assert_eq!(cells.len(), want_cells.len(), "{}: cell count", html_path.display());
    assert!(cells == want_cells, "{}: cells differ, first: {:?}", html_path.display(), cells.iter().zip(&want_cells).find(|(a, b)| a != b));
    // Everything is in the file itself, not made by the script.
    assert_eq!(html.matches(" data-finding=").count(), findings.len());
    assert_eq!(html.matches(" data-cell ").count(), want_cells.len());
    eprintln!("{}: {} findings and {} cells as in the JSON, no request", html_path.display(), findings.len(), want_cells.len());
    audit
}

// ------------------------------------------------------------ the reports

fn run(args: &[&str], dir: &Path) -> std::process::Output {
    let o = Command::new(bin()).args(args).current_dir(dir).output().expect("runs portsweep");
    assert!(o.status.success(), "portsweep {}: {}", args.join(" "), String::from_utf8_lossy(&o.stderr));
    o
}

/// `portsweep demo` of a scenario, saving its audit as JSON in `dir`.
fn demo_audit(scenario: Option<&str>, dir: &Path, name: &str) -> PathBuf {
    let _g = lab_lock();
    let mut args = vec!["demo", "-o", name];
    let s;
    if let Some(sc) = scenario {
        s = common::fixture(&format!("scenarios/{sc}.toml")).display().to_string();
        args.extend(["--scenario", &s]);
    }
    let o = Command::new(bin()).args(&args).current_dir(dir).output().expect("runs portsweep demo");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("as expected"), "demo {scenario:?}: {out}\n{}", String::from_utf8_lossy(&o.stderr));
    dir.join(name)
}

/// A deterministic pseudo-random sequence (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// An audit of `nodes` nodes (3 control-plane, the rest workers, behind a
/// registry) with the full plan (calico, kube-vip, every add-on), healthy
/// but for seeded faults: closed, filtered and exposed planned ports,
/// squatters in the NodePort range, down nodes. `name_of` names node i.
// `.into()` on addresses: node addresses become `IpAddr` with IPv6.
#[allow(clippy::useless_conversion)]
fn synthetic_audit(nodes: usize, seed: u64, name_of: impl Fn(usize) -> String) -> AuditReport {
    let options: ClusterOptions = "cni=calico,lb=kube-vip,addons=ingress+kuboard+grafana+redis".parse().unwrap();
    let plan = Plan::builtin().effective(&options);
    let ports = portsweep::audit::scan_ports(&plan);
    let mut inv = Vec::new();
    for i in 0..nodes {
        let role = match i {
            0 => "registry",
            1..=3 => "control-plane",
            _ => "worker",
        };
        let addr = Ipv4Addr::new(198, 18 + (i / 65536) as u8 + 1, (i / 256 % 256) as u8, (i % 256) as u8);
        inv.push(Node::new(name_of(i), addr.into(), &[role]));
    }
    let inventory = Inventory::from_nodes(inv.clone());
    let mut rng = Rng(seed | 1);
    let mut hosts: Vec<HostReport> = inv
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mut listed: Vec<PortReport> = Vec::new();
            let down = rng.below(200) == 0 && i != 5;
            for e in plan.entries_for_roles(&n.roles).filter(|e| !e.nodeport_range && e.audience != portsweep::plan::Audience::SelfOnly) {
                for port in e.port.ports() {
                    let (state, reason) = match (e.protocol, rng.below(100)) {
                        (_, 0) => (State::Closed, Reason::Rst),
                        (Protocol::Tcp, 1) => (State::Filtered, Reason::NoResponse),
                        (Protocol::Tcp, _) => (State::Open, Reason::SynAck),
                        (Protocol::Udp, _) => (State::OpenFiltered, Reason::NoResponse),
                    };
                    listed.push(PortReport { port, protocol: e.protocol, state, reason, ttl: None, service: None });
                }
            }
            for _ in 0..rng.below(3) {
                let port = 30000 + rng.below(2768) as u16;
                listed.push(PortReport { port, protocol: Protocol::Tcp, state: State::Open, reason: Reason::SynAck, ttl: None, service: None });
            }
            // The sixth node always has one: its scheduler port answers.
            if rng.below(50) == 0 || i == 5 {
                listed.push(PortReport { port: 10259, protocol: Protocol::Tcp, state: State::Open, reason: Reason::SynAck, ttl: None, service: None });
            }
            listed.retain(|p| p.state != State::Closed || p.reason != Reason::Rst);
            listed.sort_by_key(|p| (p.protocol, p.port));
            listed.dedup_by_key(|p| (p.protocol, p.port));
            if down {
                listed.clear();
            }
            HostReport {
                address: n.address,
                name: None,
                status: if down { HostStatus::Down } else { HostStatus::Up },
                default_state: if down { State::Filtered } else { State::Closed },
                default_reason: if down { Reason::NoResponse } else { Reason::Rst },
                ports: listed.into_iter().filter(|p| ports.index_of(p.protocol, p.port).is_some()).collect(),
                udp_unresolved: Vec::new(),
            }
        })
        .collect();
    hosts.sort_by_key(|h| h.address);
    let scan = ScanReport {
        portsweep: "0.1.0".into(),
        format_version: 1,
        kind: "scan".into(),
        started: "2026-11-28T00:00:00.000Z".into(),
        finished: "2026-11-28T00:00:09.000Z".into(),
        complete: true,
        args: vec!["portsweep".into(), "audit".into(), "(synthetic)".into()],
        seed,
        shard: "1/1".into(),
        ports: ports.to_spec(),
        stats: Default::default(),
        hosts,
    };
    AuditReport::build(&plan, &inventory, &[], Phase::Post, Vantage::ControlPlane, scan)
}

fn write_json(report: &AuditReport, path: &Path) {
    std::fs::write(path, portsweep::audit::render_json(report)).unwrap();
}

// ------------------------------------------------------------------ tests

#[test]
fn html_reports_in_chromium() {
    let Some(b) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // The README's command on the demo's saved audit.
    let post = demo_audit(None, d, "audit.json");
    run(&["report", "audit.json", "--format", "html", "-o", "audit.html"], d);
    let audit = check_audit_page(&b, &post, &d.join("audit.html"));
    let n = audit["findings"].as_array().unwrap().len();
    assert_eq!(n, 9, "the demo's nine findings");
    let visible = "return Array.from(document.querySelectorAll('tr[data-finding]')).filter(r => r.offsetParent !== null).length";
    assert_eq!(b.js(visible), json!(n));
    // One click on the `error` filter hides exactly the errors.
    let errors = audit["findings"].as_array().unwrap().iter().filter(|f| f["severity"] == "error").count();
    assert!(errors > 0 && errors < n);
    b.click("input[name=severity][value=error]");
    assert_eq!(b.js(visible), json!(n - errors));
    assert_eq!(b.js("return document.getElementById('shown').textContent"), json!(format!("{} of {n} findings shown", n - errors)));
    b.click("input[name=severity][value=error]");
    assert_eq!(b.js(visible), json!(n));
    // Sorting by node puts the rows in node order (then JSON order).
    b.click("th button[data-sort=node]");
    let mut by_node: Vec<(String, usize)> = audit["findings"].as_array().unwrap().iter().enumerate().map(|(i, f)| (f["node"].as_str().unwrap().to_string(), i)).collect();
    by_node.sort();
    let order: Vec<String> = by_node.iter().map(|(_, i)| i.to_string()).collect();
    assert_eq!(b.js("return Array.from(document.querySelectorAll('tr[data-finding]')).map(r => r.dataset.finding)"), json!(order));
    // The matrix is shown: the exposed scheduler's cell on cp-2 is visible.
    assert_eq!(b.js("const c = document.querySelector('[data-cell][data-node=\"cp-2\"][data-entry=\"10259/tcp\"]'); return [c.dataset.state, c.offsetParent !== null, c.textContent]"), json!(["open", true, "●✗"]));

    // The scan inside the audit, as a scan page: its listed ports, one by one.
    std::fs::write(d.join("scan.json"), audit["scan"].to_string()).unwrap();
    run(&["report", "scan.json", "--format", "html", "-o", "scan.html"], d);
    assert!(b.open(&d.join("scan.html")).is_empty());
    let mut want: Vec<Vec<String>> = Vec::new();
    for h in audit["scan"]["hosts"].as_array().unwrap() {
        let label = h["name"].as_str().or(h["address"].as_str()).unwrap().to_string();
        for p in h["ports"].as_array().unwrap() {
            want.push(vec![label.clone(), format!("{}/{}", p["port"], p["protocol"].as_str().unwrap()), p["state"].as_str().unwrap().to_string()]);
        }
    }
    assert!(!want.is_empty());
    assert_eq!(dom_cells(&b), want, "scan page cells");

    // A pre-install audit, then the diff from it to the demo's.
    let pre = demo_audit(Some("audit-flannel-pre"), d, "pre.json");
    run(&["report", "pre.json", "-o", "pre.html"], d);
    check_audit_page(&b, &pre, &d.join("pre.html"));
    let o = Command::new(bin()).args(["diff", "pre.json", "audit.json", "-o", "diff.json"]).current_dir(d).output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    run(&["report", "diff.json", "-o", "diff.html"], d);
    let diff: Value = serde_json::from_str(&std::fs::read_to_string(d.join("diff.json")).unwrap()).unwrap();
    assert!(b.open(&d.join("diff.html")).is_empty());
    let f = &diff["findings"];
    let mut want: Vec<Vec<String>> = Vec::new();
    want.extend(f["appeared"].as_array().unwrap().iter().map(|x| json_finding(x, "appeared")));
    want.extend(f["disappeared"].as_array().unwrap().iter().map(|x| json_finding(x, "disappeared")));
    want.extend(f["severity_changed"].as_array().unwrap().iter().map(|x| json_finding(&x["finding"], "severity-changed")));
    assert!(!want.is_empty());
    assert_eq!(dom_findings(&b), want, "diff findings");
    let ports = b.js("return Array.from(document.querySelectorAll('[data-port-change]')).map(e => [e.dataset.address, e.dataset.protocol, e.dataset.port, e.dataset.before, e.dataset.after].join(' '))");
    let want_ports: Vec<String> = diff["ports"].as_array().unwrap().iter().map(|p| format!("{} {} {} {} {}", p["address"].as_str().unwrap(), p["protocol"].as_str().unwrap(), p["port"], p["before"]["state"].as_str().unwrap(), p["after"]["state"].as_str().unwrap())).collect();
    assert_eq!(ports, json!(want_ports));

    // 2,000 nodes: every cell and finding still there.
    let big = synthetic_audit(2000, 7, |i| format!("node-{i:04}"));
    assert!(big.findings.len() > 100, "{} findings", big.findings.len());
    write_json(&big, &d.join("big.json"));
    let started = Instant::now();
    run(&["report", "big.json", "-o", "big.html"], d);
    let render = started.elapsed();
    check_audit_page(&b, &d.join("big.json"), &d.join("big.html"));
    let size = std::fs::metadata(d.join("big.html")).unwrap().len();
    let paint = b.js("const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : -1");
    eprintln!("2,000-node audit page: {size} bytes, rendered in {render:?}, first contentful paint {paint} ms (figures, not asserted)");

    // 250 nodes with the full plan: at most 2 MB.
    let mid = synthetic_audit(250, 3, |i| format!("node-{i:03}"));
    write_json(&mid, &d.join("mid.json"));
    run(&["report", "mid.json", "-o", "mid.html"], d);
    let size = std::fs::metadata(d.join("mid.html")).unwrap().len();
    assert!(size <= 2 * 1024 * 1024, "250 nodes: {size} bytes");

    hostile_values_stay_text(&b, d);
}

/// Markup and script in a node name and a finding's text show as text and
/// never run.
fn hostile_values_stay_text(b: &Browser, d: &Path) {
    let evil = r#"<script>window.__pwned=1</script></script>"onmouseover="window.__pwned=2" '><img src=x onerror="window.__pwned=3">javascript:window.__pwned=4"#;
    let mut report = synthetic_audit(6, 11, |i| if i == 5 { format!("w{evil}") } else { format!("n{i}") });
    let target = report.findings.iter().position(|f| f.node.starts_with('w')).expect("the hostile node's finding");
    report.findings[target].message = format!("evidence: {evil}");
    report.findings[target].hint = evil.to_string();
    report.findings[target].component = evil.to_string();
    write_json(&report, &d.join("evil.json"));
    run(&["report", "evil.json", "-o", "evil.html"], d);
    assert!(b.open(&d.join("evil.html")).is_empty());
    b.hover("tr[data-finding] td:nth-child(3)");
    b.hover(&format!("tr[data-finding=\"{target}\"] td.msg"));
    b.hover("th.node");
    b.click("summary");
    let page = b.js("return [window.__pwned === undefined, document.querySelectorAll('script').length, document.querySelectorAll('img').length, document.body.innerText]");
    assert_eq!(page[0], json!(true), "an injected script ran");
    assert_eq!(page[1], json!(2), "only the page's own two scripts (data and code)");
    assert_eq!(page[2], json!(0), "no element was injected");
    let text = page[3].as_str().unwrap();
    assert!(text.contains(&format!("evidence: {evil}")), "the message shows literally");
    let node = b.js(&format!("return document.querySelector('tr[data-finding=\"{target}\"]').dataset.node"));
    assert_eq!(node, json!(report.findings[target].node), "the node name is the attribute's value, unchanged");
    let cells = b.js("return Array.from(document.querySelectorAll('[data-cell]')).filter(c => c.dataset.node.startsWith('w<script>')).length");
    assert!(cells.as_u64().unwrap_or(0) > 0, "the hostile node's row is there");
}

/// Size and paint figures for the README (prints; asserts nothing timed).
#[test]
#[ignore]
fn html_scale_figures() {
    let Some(b) = browser() else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for nodes in [250usize, 2000] {
        let report = synthetic_audit(nodes, 7, |i| format!("node-{i:04}"));
        write_json(&report, &d.join("a.json"));
        let mut renders = Vec::new();
        let mut paints = Vec::new();
        let mut loads = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            run(&["report", "a.json", "-o", "a.html"], d);
            renders.push(t.elapsed().as_secs_f64() * 1000.0);
            b.open(&d.join("a.html"));
            let v = b.js("const p = performance.getEntriesByName('first-contentful-paint')[0]; const n = performance.getEntriesByType('navigation')[0]; return [p ? p.startTime : -1, n.loadEventEnd]");
            paints.push(v[0].as_f64().unwrap_or(-1.0));
            loads.push(v[1].as_f64().unwrap_or(-1.0));
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(|a, b| a.total_cmp(b));
            v[v.len() / 2]
        };
        let size = std::fs::metadata(d.join("a.html")).unwrap().len();
        println!(
            "{nodes} nodes ({} findings, {} cells): {size} bytes ({:.2} MiB); portsweep report {:.0} ms; first contentful paint {:.0} ms; load event {:.0} ms (medians of 5)",
            report.findings.len(),
            nodes * b.js("return document.querySelector('table.matrix thead tr').cells.length - 2").as_u64().unwrap_or(0) as usize,
            size as f64 / 1048576.0,
            median(&mut renders),
            median(&mut paints),
            median(&mut loads)
        );
        if std::env::var_os("PORTSWEEP_SCREENSHOTS").is_some() && nodes == 250 {
            b.screenshot(&d.join("scale.png"));
        }
    }
}
