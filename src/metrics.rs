//! Prometheus metrics of `portsweep audit --every`: what the last
//! completed audit found, how it ran, and what went wrong since the start.
//!
//! The one door is [`AuditMetrics`]: the audit loop records each finished
//! audit ([`AuditMetrics::record_audit`]) or failed round
//! ([`AuditMetrics::record_error`]); [`AuditMetrics::exposition`] renders
//! the Prometheus text format (0.0.4) with the prometheus-client crate,
//! [`serve`] answers `/metrics` and `/healthz` over HTTP (hyper) and
//! [`write_textfile`] writes the same text atomically for node_exporter's
//! textfile collector.
//!
//! It keeps plain figures, not live metric objects, and builds a fresh
//! registry for every rendering: `portsweep_findings` then holds exactly
//! the series of the last audit (a finding that disappeared takes its
//! series with it), and a scrape never sees half of an update.

use crate::audit::AuditReport;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The labels of one `portsweep_findings` series.
#[derive(Debug, Clone, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
struct FindingLabels {
    node: String,
    kind: String,
    severity: String,
    component: String,
    protocol: String,
    port: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabels {
    cause: String,
}

/// The figures of the last completed audit.
#[derive(Debug, Clone, Default)]
struct LastAudit {
    findings: BTreeMap<FindingLabels, i64>,
    started: f64,
    duration_s: f64,
    probes: u64,
    replies: u64,
    complete: bool,
    nodes: u64,
    nodes_up: u64,
}

#[derive(Debug, Default)]
struct State {
    last: Option<LastAudit>,
    last_success: Option<f64>,
    audits: u64,
    errors: BTreeMap<String, u64>,
}

/// Every cause of `portsweep_audit_errors_total`, exported at 0 until it
/// happens.
pub const ERROR_CAUSES: [&str; 4] = ["kube_api", "input", "scan", "output"];

/// The metrics of an audit loop; shared between the loop and the server.
#[derive(Debug, Default)]
pub struct AuditMetrics {
    state: Mutex<State>,
}

fn unix_seconds(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

impl AuditMetrics {
    pub fn new() -> AuditMetrics {
        AuditMetrics::default()
    }

    /// A finished audit (complete or interrupted) that started at
    /// `started`: its findings replace the previous audit's.
    pub fn record_audit(&self, report: &AuditReport, started: SystemTime) {
        let mut findings = BTreeMap::new();
        for f in &report.findings {
            let labels = FindingLabels {
                node: f.node.clone(),
                kind: f.kind.to_string(),
                severity: f.severity.to_string(),
                component: f.component.clone(),
                protocol: f.protocol.map(|p| p.to_string()).unwrap_or_default(),
                port: f.protocol.map(|_| f.port.to_string()).unwrap_or_default(),
            };
            *findings.entry(labels).or_insert(0) += 1;
        }
        let stats = &report.scan.stats;
        let last = LastAudit {
            findings,
            started: unix_seconds(started),
            duration_s: started.elapsed().map(|d| d.as_secs_f64()).unwrap_or(stats.duration_s),
            probes: stats.probes_sent,
            replies: stats.replies,
            complete: report.scan.complete,
            nodes: report.summary.nodes as u64,
            nodes_up: report.summary.nodes_up as u64,
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.audits += 1;
        if last.complete {
            state.last_success = Some(unix_seconds(SystemTime::now()));
        }
        state.last = Some(last);
    }

    /// A round that failed, by cause (`kube_api`, `input`, `scan`,
    /// `output`); the last audit's figures stay.
    pub fn record_error(&self, cause: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state.errors.entry(cause.to_string()).or_insert(0) += 1;
    }

    /// The Prometheus text exposition (format 0.0.4) of the current state.
    pub fn exposition(&self) -> String {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut registry = Registry::with_prefix("portsweep");
        let findings = Family::<FindingLabels, Gauge>::default();
        registry.register("findings", "Findings of the last completed audit, by node, kind, severity, component, protocol and port", findings.clone());
        let gauge_f = |registry: &mut Registry, name: &str, help: &str, value: f64| {
            let g = Gauge::<f64, AtomicU64>::default();
            g.set(value);
            registry.register(name, help, g);
        };
        let gauge_i = |registry: &mut Registry, name: &str, help: &str, value: i64| {
            let g = Gauge::<i64>::default();
            g.set(value);
            registry.register(name, help, g);
        };
        if let Some(last) = &state.last {
            for (labels, n) in &last.findings {
                findings.get_or_create(labels).set(*n);
            }
            gauge_f(&mut registry, "audit_last_start_timestamp_seconds", "When the last completed audit started (Unix time)", last.started);
            gauge_f(&mut registry, "audit_last_duration_seconds", "How long the last completed audit took, inventory to report", last.duration_s);
            gauge_i(&mut registry, "audit_last_probes", "Probes the last completed audit sent", last.probes as i64);
            gauge_i(&mut registry, "audit_last_replies", "Replies the last completed audit received", last.replies as i64);
            gauge_i(&mut registry, "audit_last_complete", "1 if the last audit's scan completed, 0 if it was interrupted", last.complete as i64);
            gauge_i(&mut registry, "audit_last_nodes", "Node addresses the last completed audit covered", last.nodes as i64);
            gauge_i(&mut registry, "audit_last_nodes_up", "Node addresses that answered in the last completed audit", last.nodes_up as i64);
        }
        if let Some(t) = state.last_success {
            gauge_f(&mut registry, "audit_last_success_timestamp_seconds", "When the last audit with a complete scan finished (Unix time)", t);
        }
        let audits = Counter::<u64>::default();
        audits.inc_by(state.audits);
        registry.register("audits", "Audits finished since the start", audits);
        let errors = Family::<CauseLabels, Counter>::default();
        // Every cause from the start, at 0: `increase()` sees a series's
        // first failure only if the series existed before it.
        for cause in ERROR_CAUSES {
            // Creating the series is the point; the read guard is not needed.
            drop(errors.get_or_create(&CauseLabels { cause: cause.to_string() }));
        }
        for (cause, n) in &state.errors {
            errors.get_or_create(&CauseLabels { cause: cause.clone() }).inc_by(*n);
        }
        registry.register("audit_errors", "Audit rounds that failed since the start, by cause", errors);
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
        text
    }
}

/// Writes `text` to `path` atomically (a temporary file in the same
/// directory, then a rename), as node_exporter's textfile collector needs.
pub fn write_textfile(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new().prefix(".portsweep-metrics").tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    // World-readable, like any textfile collector input.
    std::fs::set_permissions(tmp.path(), std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The HTTP server of `--metrics-addr`; dropping it stops it.
pub struct MetricsServer {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Longest a connection may stay open: a scrape is one small request.
const CONNECTION_TIME: Duration = Duration::from_secs(10);

/// Connections served at once; more are closed at once (a node has a
/// scraper or two, not dozens).
const MAX_CONNECTIONS: usize = 32;

/// The pause after a failed accept (out of file descriptors).
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// The bound listener of `--metrics-addr`, not yet served.
///
/// Bound before the first audit, so a port in use is an error at once;
/// served ([`MetricsListener::serve`]) only after the first audit opened
/// its raw sockets: the scanner gives up its capabilities then, which it
/// can do only while it is the process's one thread.
pub struct MetricsListener(std::net::TcpListener);

/// Binds `addr` for [`MetricsListener::serve`].
pub fn bind(addr: SocketAddr) -> std::io::Result<MetricsListener> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    Ok(MetricsListener(listener))
}

impl MetricsListener {
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.0.local_addr()
    }

    /// Serves `GET /metrics` (the exposition) and `GET /healthz` from a
    /// thread of its own, until the server is dropped.
    pub fn serve(self, metrics: Arc<AuditMetrics>) -> std::io::Result<MetricsServer> {
        serve_on(self.0, metrics)
    }
}

fn serve_on(listener: std::net::TcpListener, metrics: Arc<AuditMetrics>) -> std::io::Result<MetricsServer> {
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new().name("metrics".into()).spawn(move || {
        runtime.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else { return };
            // One clone per open connection: its count is the number open.
            let open = Arc::new(());
            while !flag.load(Ordering::Relaxed) {
                let Ok(accepted) = tokio::time::timeout(Duration::from_millis(200), listener.accept()).await else { continue };
                let Ok((stream, _)) = accepted else {
                    // EMFILE, ENFILE, ENOBUFS persist: retrying at once
                    // would spin a core until they clear.
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                };
                if Arc::strong_count(&open) > MAX_CONNECTIONS {
                    drop(stream); // scrapers retry; a flood gets no file descriptors
                    continue;
                }
                let held = open.clone();
                let metrics = metrics.clone();
                tokio::spawn(async move {
                    let _held = held;
                    let service = hyper::service::service_fn(move |req| {
                        let metrics = metrics.clone();
                        async move { Ok::<_, std::convert::Infallible>(respond(&req, &metrics)) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                    let _ = tokio::time::timeout(CONNECTION_TIME, conn).await;
                });
            }
        })
    })?;
    Ok(MetricsServer { addr, stop, thread: Some(thread) })
}

fn respond<B>(req: &hyper::Request<B>, metrics: &AuditMetrics) -> hyper::Response<http_body_util::Full<hyper::body::Bytes>> {
    use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
    let (status, ctype, body) = match (req.method() == hyper::Method::GET, req.uri().path()) {
        (true, "/metrics") => (200, CONTENT_TYPE, metrics.exposition()),
        (true, "/healthz") => (200, "text/plain; charset=utf-8", "ok\n".to_string()),
        (false, "/metrics" | "/healthz") => (405, "text/plain; charset=utf-8", "method not allowed\n".to_string()),
        _ => (404, "text/plain; charset=utf-8", "not found: /metrics and /healthz are served\n".to_string()),
    };
    let mut resp = hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from(body)));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    if let Ok(v) = hyper::header::HeaderValue::from_str(ctype) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditReport, Phase, Vantage};
    use crate::inventory::{Inventory, Node};
    use crate::plan::Plan;
    use crate::report::{HostReport, HostStatus, Reason, ScanReport, State};

    /// Two nodes that answered nothing: one `unreachable` finding each.
    fn report() -> AuditReport {
        let plan = Plan::builtin().effective(&"cni=flannel".parse().expect("options"));
        let inv = Inventory::from_nodes([Node::new("cp-1", "198.19.0.10".parse().unwrap(), &["control-plane"]), Node::new("worker-01", "198.19.1.1".parse().unwrap(), &["worker"])]);
        let down = |a: &str| HostReport { address: a.parse().unwrap(), name: None, status: HostStatus::Down, default_state: State::Filtered, default_reason: Reason::NoResponse, ports: Vec::new(), udp_unresolved: Vec::new() };
        AuditReport::build(&plan, &inv, &[], Phase::Post, Vantage::External, ScanReport::for_test("T:6443", vec![down("198.19.0.10"), down("198.19.1.1")]))
    }

    fn samples(text: &str, name: &str) -> Vec<String> {
        let mut lines: Vec<String> = text.lines().filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' '])).map(str::to_string).collect();
        lines.sort();
        lines
    }

    #[test]
    fn findings_of_the_last_audit_only_and_errors_since_the_start() {
        let m = AuditMetrics::new();
        let text = m.exposition();
        assert!(samples(&text, "portsweep_findings").is_empty(), "{text}");
        assert_eq!(samples(&text, "portsweep_audits_total"), ["portsweep_audits_total 0"]);
        assert_eq!(
            samples(&text, "portsweep_audit_errors_total"),
            [
                r#"portsweep_audit_errors_total{cause="input"} 0"#,
                r#"portsweep_audit_errors_total{cause="kube_api"} 0"#,
                r#"portsweep_audit_errors_total{cause="output"} 0"#,
                r#"portsweep_audit_errors_total{cause="scan"} 0"#,
            ],
            "every cause exists before its first error: {text}"
        );
        let full = report();
        assert_eq!(full.findings.len(), 2);
        m.record_audit(&full, SystemTime::now());
        let text = m.exposition();
        assert_eq!(
            samples(&text, "portsweep_findings"),
            [
                r#"portsweep_findings{node="cp-1",kind="unreachable",severity="error",component="host",protocol="",port=""} 1"#,
                r#"portsweep_findings{node="worker-01",kind="unreachable",severity="error",component="host",protocol="",port=""} 1"#,
            ],
            "{text}"
        );
        assert_eq!(samples(&text, "portsweep_audit_last_complete"), ["portsweep_audit_last_complete 1"]);
        // worker-01 came back: its series goes, cp-1's stays.
        let mut fewer = full.clone();
        fewer.findings.retain(|f| f.node == "cp-1");
        m.record_error("kube_api");
        m.record_audit(&fewer, SystemTime::now());
        m.record_error("kube_api");
        let text = m.exposition();
        assert_eq!(samples(&text, "portsweep_findings").len(), 1, "{text}");
        assert!(samples(&text, "portsweep_findings")[0].contains("cp-1"));
        assert_eq!(samples(&text, "portsweep_audits_total"), ["portsweep_audits_total 2"]);
        assert_eq!(
            samples(&text, "portsweep_audit_errors_total"),
            [
                r#"portsweep_audit_errors_total{cause="input"} 0"#,
                r#"portsweep_audit_errors_total{cause="kube_api"} 2"#,
                r#"portsweep_audit_errors_total{cause="output"} 0"#,
                r#"portsweep_audit_errors_total{cause="scan"} 0"#,
            ]
        );
        // An interrupted audit is no success: the timestamp stays.
        let before = samples(&text, "portsweep_audit_last_success_timestamp_seconds");
        let mut cut = fewer.clone();
        cut.scan.complete = false;
        std::thread::sleep(Duration::from_millis(20));
        m.record_audit(&cut, SystemTime::now());
        let text = m.exposition();
        assert_eq!(samples(&text, "portsweep_audit_last_success_timestamp_seconds"), before);
        assert_eq!(samples(&text, "portsweep_audit_last_complete"), ["portsweep_audit_last_complete 0"]);
    }

    #[test]
    fn connections_beyond_the_cap_are_closed_and_scrapes_go_on() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let server = serve_on(listener, Arc::new(AuditMetrics::new())).unwrap();
        // Idle connections (no request yet), each served by a task.
        let idle: Vec<std::net::TcpStream> = (0..MAX_CONNECTIONS).map(|_| std::net::TcpStream::connect(server.addr).unwrap()).collect();
        let mut one_more = std::net::TcpStream::connect(server.addr).unwrap();
        one_more.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(one_more.read(&mut buf).unwrap(), 0, "connection {} was served", MAX_CONNECTIONS + 1);
        drop(idle);
        // Their tasks end: a scrape is served again (bounded retries).
        let until = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let mut s = std::net::TcpStream::connect(server.addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n").unwrap();
            let mut text = String::new();
            let _ = s.read_to_string(&mut text);
            if text.ends_with("\r\n\r\nok\n") {
                break;
            }
            assert!(std::time::Instant::now() < until, "no scrape served after the idle connections closed: {text:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn the_textfile_is_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portsweep.prom");
        write_textfile(&path, "a 1\n").unwrap();
        write_textfile(&path, "b 2\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "b 2\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [std::ffi::OsString::from("portsweep.prom")], "no temporary file left");
    }
}
