//! A Kubernetes API server that replays recorded list responses.
//!
//! No kube-apiserver can be installed on these machines (it has no Debian
//! package), so `--inventory kube` and `--services kube` are tested against
//! this: HTTPS with a certificate signed by its own CA (handed out in a
//! kubeconfig, as a cluster's CA is), a bearer token checked on every
//! request (401 `Status` otherwise, as the apiserver's authenticator
//! answers), and a table of request targets (path and query, so the
//! client's `limit` and `continue` are checked exactly) to recorded bodies.
//! Anything else is a 404 `Status`. It listens where the caller's listener
//! is (loopback, or loopback inside a lab's scanner namespace: see
//! [`super::netns::in_netns`]), one connection at a time, and stops when
//! dropped; every request target is logged for the test to read.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use super::replay::{accept_loop, AcceptLoop};

/// One recorded answer: a request target (`/api/v1/nodes?limit=500`), its
/// status and JSON body.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub target: String,
    pub status: u16,
    pub body: String,
}

impl Recorded {
    pub fn new(target: impl Into<String>, status: u16, body: impl Into<String>) -> Recorded {
        Recorded { target: target.into(), status, body: body.into() }
    }
}

/// A running recorded API; dropping it stops it.
pub struct RecordedApi {
    pub addr: SocketAddr,
    ca_pem: String,
    token: String,
    requests: Arc<Mutex<Vec<String>>>,
    _accepting: AcceptLoop,
}

const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;
const NOT_FOUND: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","code":404}"#;

/// A CA and a leaf for `addr` signed by it: the server config and the CA's
/// PEM for clients.
fn tls(addr: SocketAddr) -> io::Result<(Arc<rustls::ServerConfig>, String)> {
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};
    let e = |e: rcgen::Error| io::Error::other(e.to_string());
    let (issuer, ca_pem) = super::replay::test_ca("kubernetes")?;
    let key = KeyPair::generate().map_err(e)?;
    let mut leaf = CertificateParams::new(vec!["kubernetes.default.svc".to_string()]).map_err(e)?;
    leaf.subject_alt_names.push(SanType::IpAddress(addr.ip()));
    leaf.distinguished_name.push(DnType::CommonName, "kube-apiserver");
    let cert = leaf.signed_by(&key, &issuer).map_err(e)?;
    Ok((super::replay::server_config(&cert, &key)?, ca_pem))
}

/// Serves `answers` on `listener` to clients presenting `token`, until
/// dropped.
pub fn serve(listener: TcpListener, token: &str, answers: Vec<Recorded>) -> io::Result<RecordedApi> {
    let addr = listener.local_addr()?;
    let (config, ca_pem) = tls(addr)?;
    let requests = Arc::new(Mutex::new(Vec::new()));
    let (log, want) = (requests.clone(), format!("Bearer {token}"));
    let accepting = accept_loop(listener, move |s| {
        let _ = answer(s, config.clone(), &want, &answers, &log);
    })?;
    Ok(RecordedApi { addr, ca_pem, token: token.to_string(), requests, _accepting: accepting })
}

fn answer(sock: TcpStream, config: Arc<rustls::ServerConfig>, want: &str, answers: &[Recorded], log: &Mutex<Vec<String>>) -> io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(conn, sock);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let target = normalized(head.strip_prefix("GET ").and_then(|r| r.split_whitespace().next()).unwrap_or(""));
    let authorized = head.lines().any(|l| l.split_once(':').is_some_and(|(k, v)| k.eq_ignore_ascii_case("authorization") && v.trim() == want));
    if let Ok(mut log) = log.lock() {
        log.push(target.clone());
    }
    let (status, body) = if !authorized {
        (401, UNAUTHORIZED)
    } else {
        answers.iter().find(|a| a.target == target).map(|a| (a.status, a.body.as_str())).unwrap_or((404, NOT_FOUND))
    };
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Error",
    };
    let head = format!("HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()?;
    stream.conn.send_close_notify();
    let _ = stream.flush();
    Ok(())
}

/// A target with its empty query parameters left out: kube-rs sends
/// `/api/v1/nodes?&limit=500`, which the apiserver reads as `?limit=500`.
fn normalized(target: &str) -> String {
    match target.split_once('?') {
        Some((path, query)) => {
            let params: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
            if params.is_empty() { path.to_string() } else { format!("{path}?{}", params.join("&")) }
        }
        None => target.to_string(),
    }
}

impl RecordedApi {
    /// The request targets served so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// A kubeconfig for this server: its CA, its URL, and `token` as the
    /// user's (the right one, or another to be refused), in context `name`.
    pub fn kubeconfig(&self, name: &str, token: &str) -> String {
        use base64::Engine;
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {name}\nclusters:\n- name: {name}\n  cluster:\n    server: https://{}\n    certificate-authority-data: {ca}\ncontexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\nusers:\n- name: {name}\n  user:\n    token: {token}\n",
            self.addr
        )
    }

    /// The token this server accepts.
    pub fn token(&self) -> &str {
        &self.token
    }
}
