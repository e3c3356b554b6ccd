//! Probes and matches, in the manner of nmap's service probes: each probe
//! is a request the stage may send (chosen first by the port, then by what
//! the previous answer looked like), each match a test of an answer that,
//! when it holds, names the service and keeps the evidence. Every request
//! is read-only and anonymous: GETs of documented public endpoints, etcd's
//! count-only range read, redis `INFO server` only when it asked for no
//! password, one NTP client packet.
use std::net::SocketAddr;

use serde_json::Value;

use super::conn::{exchange, Budget, End};
use super::http::{Request, Response};
use super::tls::{self, Attempt};
use crate::report::{Auth, Confidence, Service, TlsInfo};

/// Documented anonymous endpoints, first by port (the port a component
/// listens on by default), then for any port.
fn first_request(port: u16) -> Request {
    match port {
        10250 | 10255 => Request { status_only: true, ..Request::get("/pods") },
        10248 | 10256 | 10257 | 10259 => Request::get("/healthz"),
        8080 => Request::get("/"),
        4240 => Request::get("/hello"),
        3000 => Request::get("/api/health"),
        2112 | 9093 | 9962 | 9963 | 9965 | 10249 | 10254 | 2381 => Request::get("/metrics"),
        _ => Request::get("/version"),
    }
}

/// Further anonymous endpoints to try, in order, when the first answer
/// named nothing specific.
const FALLBACK_PATHS: &[&str] = &["/version", "/api/health", "/api/v2.0/ping", "/healthz"];

/// etcd's v3 JSON gateway: how many keys there are ("\0" to "\0" is the
/// whole key space), never a value.
pub(crate) const ETCD_COUNT_ONLY: Request = Request { method: "POST", path: "/v3/kv/range", body: Some(r#"{"key":"AA==","range_end":"AA==","count_only":true}"#), status_only: false };

/// Prometheus metric name prefixes that name their component.
const METRIC_PREFIXES: &[(&str, &str)] = &[
    ("cilium_operator_", "cilium-operator"),
    ("cilium_", "cilium-agent"),
    ("hubble_", "hubble"),
    ("kube_vip_", "kube-vip"),
    ("nginx_ingress_controller_", "ingress-nginx"),
    ("etcd_", "etcd"),
    ("kubeproxy_", "kube-proxy"),
    ("typha_", "calico-typha"),
];

/// What the probes learned so far about one port.
struct Seen {
    port: u16,
    tls: Option<TlsInfo>,
    evidence: Vec<String>,
}

/// A named service with no evidence yet: here (and in `Service::unknown("")`)
/// the evidence is what `Seen` gathered, which `identify_tcp` writes last.
fn service(name: &str, confidence: Confidence, auth: Auth) -> Service {
    Service { name: name.into(), product: None, version: None, confidence, evidence: String::new(), auth, tls: None }
}

fn clip(text: &str, n: usize) -> String {
    let t: String = text.chars().filter(|c| !c.is_control() || *c == ' ').take(n).collect();
    if text.chars().count() > n { format!("{t}…") } else { t }
}

fn printable(bytes: &[u8]) -> String {
    clip(&String::from_utf8_lossy(bytes).replace(['\r', '\n'], " "), 60)
}

/// Identifies one open TCP port within `budget`.
pub(crate) fn identify_tcp(addr: SocketAddr, budget: &mut Budget) -> Service {
    let mut seen = Seen { port: addr.port(), tls: None, evidence: Vec::new() };
    let first = first_request(addr.port());
    let mut found = match tls::attempt(budget, addr, &first) {
        Attempt::Tls { info, answer, refusal } => {
            seen.tls = Some(info);
            seen.evidence.push(format!("TLS: {}", seen.tls.as_ref().map_or(String::new(), |t| t.subject.clone())));
            match (refusal, answer) {
                (Some(r), _) => {
                    seen.evidence.push(format!("{} {}: refused without a client certificate ({r})", first.method, first.path));
                    by_certificate(&seen).unwrap_or_else(|| service("tls", Confidence::Certain, Auth::Required))
                }
                (None, answer) => http_conversation(addr, budget, &mut seen, true, first, answer),
            }
        }
        Attempt::NotTls(bytes) => not_tls(addr, budget, &mut seen, "TLS hello", &bytes),
        Attempt::Closed => {
            seen.evidence.push("closed on a TLS hello".into());
            after_silence(addr, budget, &mut seen, true)
        }
        Attempt::Silent => {
            seen.evidence.push("silent after a TLS hello".into());
            after_silence(addr, budget, &mut seen, false)
        }
        Attempt::Failed(e) => {
            seen.evidence.push(format!("connect: {e}"));
            Service::unknown("")
        }
    };
    found.tls = seen.tls.take();
    found.evidence = seen.evidence.join("; ");
    found
}

/// A non-TLS answer to the TLS hello: BGP's OPEN, a RESP error, an HTTP
/// 400, or a banner.
fn not_tls(addr: SocketAddr, budget: &mut Budget, seen: &mut Seen, what: &str, bytes: &[u8]) -> Service {
    if let Some(s) = bgp_open(bytes) {
        seen.evidence.push(format!("{what}: a BGP OPEN"));
        return s;
    }
    if matches!(bytes.first(), Some(b'-' | b'+' | b'$' | b'*' | b':')) {
        seen.evidence.push(format!("{what}: {}", printable(bytes)));
        return redis(addr, budget, seen, bytes);
    }
    if Response::parse(bytes).is_some() {
        seen.evidence.push(format!("{what}: plain HTTP {}", printable(bytes.get(..12).unwrap_or(bytes))));
        return http_conversation(addr, budget, seen, false, first_request(addr.port()), None);
    }
    seen.evidence.push(format!("{what}: banner {}", printable(bytes)));
    let mut s = Service::unknown("");
    s.product = String::from_utf8_lossy(bytes).split_whitespace().next().map(|w| clip(w, 40));
    s
}

/// The TLS hello got nothing. `PING` next: RESP's inline command (redis
/// speaks only when spoken to), which any HTTP server answers with a 400;
/// then plain HTTP. A port that accepts and closes every time is BGP's way
/// with a stranger on 179; one silent to both the hello and `PING` is left
/// `unknown` (it has had two read deadlines).
fn after_silence(addr: SocketAddr, budget: &mut Budget, seen: &mut Seen, closed: bool) -> Service {
    let cap = budget.settings.max_bytes;
    match exchange(budget, addr, b"PING\r\n", cap, |b| b.ends_with(b"\r\n") && !b.starts_with(b"HTTP/")) {
        Ok((bytes, _)) if Response::parse(&bytes).is_some() => {
            seen.evidence.push("PING: plain HTTP".into());
            return http_conversation(addr, budget, seen, false, first_request(addr.port()), None);
        }
        Ok((bytes, _)) if !bytes.is_empty() => return not_tls(addr, budget, seen, "PING", &bytes),
        Ok((_, End::Closed)) => seen.evidence.push("PING: closed".into()),
        Ok(_) if !closed => {
            seen.evidence.push("PING: silent".into());
            return Service::unknown("");
        }
        Ok(_) => seen.evidence.push("PING: silent".into()),
        Err(e) => {
            seen.evidence.push(format!("PING: {e}"));
            return Service::unknown("");
        }
    }
    let req = first_request(addr.port());
    match exchange(budget, addr, &req.bytes(addr), cap, headers_done(&req)) {
        Ok((bytes, _)) if Response::parse(&bytes).is_some() => {
            seen.evidence.push(format!("{} {}: plain HTTP", req.method, req.path));
            http_conversation(addr, budget, seen, false, req, Some(bytes))
        }
        Ok((bytes, _)) if !bytes.is_empty() => not_tls(addr, budget, seen, "GET", &bytes),
        Ok((_, End::Closed)) if closed && addr.port() == 179 => {
            seen.evidence.push("closed again without an OPEN (BGP refuses unknown peers)".into());
            service("bgp", Confidence::Likely, Auth::Required)
        }
        Ok((_, end)) => {
            seen.evidence.push(format!("plain HTTP: {}", if end == End::Closed { "closed" } else { "silent" }));
            Service::unknown("")
        }
        Err(e) => {
            seen.evidence.push(format!("plain HTTP: {e}"));
            Service::unknown("")
        }
    }
}

fn headers_done(req: &Request) -> impl Fn(&[u8]) -> bool {
    let req = *req;
    move |b: &[u8]| super::http::enough(&req, b)
}

/// One request over a fresh connection (TLS when the port spoke TLS).
fn request(addr: SocketAddr, budget: &mut Budget, tls_port: bool, req: &Request) -> Option<Response> {
    let bytes = if tls_port {
        match tls::attempt(budget, addr, req) {
            Attempt::Tls { answer, .. } => answer?,
            _ => return None,
        }
    } else {
        exchange(budget, addr, &req.bytes(addr), budget.settings.max_bytes, headers_done(req)).ok()?.0
    };
    Some(parse_kept(req, &bytes)?)
}

/// The answer as kept: never the body of a status-only request's 2xx.
fn parse_kept(req: &Request, bytes: &[u8]) -> Option<Response> {
    let mut r = Response::parse(bytes)?;
    if req.status_only && (200..300).contains(&r.status) {
        r.body.clear();
    }
    Some(r)
}

/// HTTP(S): the first answer (already read over TLS, or read now), then
/// more anonymous endpoints until one names the service or the port's
/// request allowance is spent.
fn http_conversation(addr: SocketAddr, budget: &mut Budget, seen: &mut Seen, tls_port: bool, first: Request, answer: Option<Vec<u8>>) -> Service {
    let mut tried: Vec<&'static str> = Vec::new();
    let mut response = match answer {
        Some(bytes) => parse_kept(&first, &bytes),
        None => request(addr, budget, tls_port, &first),
    };
    let mut req = first;
    let mut generic: Option<Service> = None;
    loop {
        tried.push(req.path);
        if let Some(r) = &response {
            seen.evidence.push(format!("{} {}: {}{}", req.method, req.path, r.summary(), body_hint(r)));
            if let Some(s) = match_http(addr, budget, seen, tls_port, &req, r) {
                return s;
            }
            generic.get_or_insert_with(|| weak_http(r).unwrap_or_else(|| generic_http(r)));
        } else {
            seen.evidence.push(format!("{} {}: no HTTP answer", req.method, req.path));
        }
        let Some(next) = FALLBACK_PATHS.iter().find(|p| !tried.contains(p)) else { break };
        if !budget.can_connect() {
            break;
        }
        req = Request::get(next);
        response = request(addr, budget, tls_port, &req);
    }
    if let Some(s) = by_certificate(seen) {
        return s;
    }
    generic.unwrap_or_else(|| service(if tls_port { "tls" } else { "unknown" }, Confidence::Certain, Auth::Unknown))
}

/// What a body showed, for the evidence. An error body (401, 403, 404…)
/// is the server's message and is kept, clipped; a 2xx body is data that
/// may hold secrets, so only its shape is kept: a JSON object's top-level
/// keys, else its length.
fn body_hint(r: &Response) -> String {
    let body = r.body.trim();
    if body.is_empty() {
        return String::new();
    }
    if !(200..300).contains(&r.status) {
        return format!(" {}", clip(body, 80));
    }
    match r.json() {
        Some(serde_json::Value::Object(map)) => format!(" {{{}}}", clip(&map.keys().map(String::as_str).collect::<Vec<_>>().join(","), 80)),
        _ => format!(" ({} bytes)", body.len()),
    }
}

/// The plain fallback: HTTP, named by its Server header where it has one.
fn generic_http(r: &Response) -> Service {
    let mut s = service("http", Confidence::Certain, auth_of_status(r.status));
    if let Some(server) = &r.server {
        let (product, version) = server.split_once('/').map_or((server.as_str(), None), |(p, v)| (p, Some(v.split_whitespace().next().unwrap_or(v).to_string())));
        s.product = Some(product.to_string());
        s.version = version;
    }
    s
}

/// Servers that front others (nginx, haproxy) answer for whatever they
/// proxy: named by their own words only when no anonymous endpoint named
/// something more specific.
fn weak_http(r: &Response) -> Option<Service> {
    if let Some(server) = r.server.as_deref().filter(|s| s.to_ascii_lowercase().starts_with("nginx")) {
        let version = server.split_once('/').map(|(_, v)| v);
        return Some(versioned(service("nginx", Confidence::Certain, Auth::Unknown), Some("nginx"), version));
    }
    let text = r.body.trim();
    if text.contains("No server is available to handle this request") || (r.server.is_none() && text.starts_with("<html><body><h1>") && text.contains("</h1>\n")) {
        return Some(versioned(service("haproxy", Confidence::Likely, Auth::Unknown), Some("haproxy"), None));
    }
    None
}

fn auth_of_status(status: u16) -> Auth {
    match status {
        401 | 403 => Auth::Required,
        200..=299 => Auth::None,
        _ => Auth::Unknown,
    }
}

fn versioned(mut s: Service, product: Option<&str>, version: Option<&str>) -> Service {
    s.product = product.map(str::to_string);
    s.version = version.map(str::to_string);
    s
}

/// Matches over one HTTP answer; may send the follow-up a match calls for
/// (etcd's count-only read). `None`: nothing specific yet.
fn match_http(addr: SocketAddr, budget: &mut Budget, seen: &mut Seen, tls_port: bool, req: &Request, r: &Response) -> Option<Service> {
    let json = r.json();
    let field = |k: &str| json.as_ref().and_then(|j| j.get(k)).and_then(Value::as_str);
    // etcd: /version names both the server and the cluster version.
    if let (Some(server), Some(_)) = (field("etcdserver"), field("etcdcluster")) {
        let mut s = versioned(service("etcd", Confidence::Certain, Auth::Unknown), Some("etcd"), Some(server));
        if budget.can_connect() {
            match request(addr, budget, tls_port, &ETCD_COUNT_ONLY) {
                Some(c) if c.status == 200 && c.json().is_some_and(|j| j.get("header").is_some()) => {
                    seen.evidence.push("v3 count-only range read answered without a client certificate".into());
                    s.auth = Auth::None;
                }
                Some(c) => {
                    seen.evidence.push(format!("v3 count-only range read: {}", c.status));
                    s.auth = if c.status == 401 || c.status == 403 { Auth::Required } else { Auth::Unknown };
                }
                None => seen.evidence.push("v3 count-only range read: no answer".into()),
            }
        }
        return Some(s);
    }
    // kube-apiserver: /version's gitVersion; the legacy insecure port's
    // `{"paths": [...]}` index.
    if let (Some(v), Some(_)) = (field("gitVersion"), field("major")) {
        let name = cert_component(seen).unwrap_or("kube-apiserver");
        return Some(versioned(service(name, Confidence::Certain, Auth::Unknown), Some("kubernetes"), Some(v)));
    }
    if let Some(paths) = json.as_ref().and_then(|j| j.get("paths")).and_then(Value::as_array) {
        if paths.iter().any(|p| p.as_str() == Some("/api")) {
            seen.evidence.push("API index served anonymously".into());
            return Some(service("kube-apiserver", Confidence::Certain, Auth::None));
        }
    }
    // kubelet: its own 401/403 texts (the apiserver answers JSON Status).
    let text = r.body.trim();
    if req.path == "/pods" || seen.port == 10250 || seen.port == 10255 {
        match r.status {
            200 if req.path == "/pods" => {
                seen.evidence.push("pods listed anonymously (body not read)".into());
                return Some(service("kubelet", Confidence::Likely, Auth::None));
            }
            401 if text.starts_with("Unauthorized") || r.content_type.as_deref().is_some_and(|c| c.starts_with("text/plain")) => {
                return Some(service("kubelet", Confidence::Likely, Auth::Required));
            }
            403 if text.starts_with("Forbidden (user=") => {
                // Anonymous auth on: the kubelet knows the caller as
                // system:anonymous and only authorization stops it.
                return Some(service("kubelet", Confidence::Certain, Auth::Required));
            }
            _ => {}
        }
    }
    if r.status == 403 && text.starts_with("Forbidden (user=") {
        return Some(service("kubelet", Confidence::Certain, Auth::Required));
    }
    // kube-proxy /healthz: JSON with lastUpdated and currentTime.
    if field("lastUpdated").is_some() && field("currentTime").is_some() {
        return Some(service("kube-proxy", Confidence::Certain, Auth::None));
    }
    // Grafana /api/health, Harbor /api/v2.0/ping, cilium-health /hello.
    if req.path == "/api/health" && field("database").is_some() {
        // Public by design: says nothing of the rest of its API.
        return Some(versioned(service("grafana", Confidence::Certain, Auth::Unknown), Some("grafana"), field("version")));
    }
    if req.path == "/api/v2.0/ping" && r.status == 200 && text.trim_matches('"') == "Pong" {
        return Some(service("harbor", Confidence::Certain, Auth::Unknown));
    }
    if req.path == "/hello" && r.status == 200 && seen.port == 4240 {
        return Some(service("cilium-agent", Confidence::Likely, Auth::None));
    }
    // Prometheus metric names.
    if req.path == "/metrics" && r.status == 200 {
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some((_, name)) = METRIC_PREFIXES.iter().find(|(p, _)| line.starts_with(p)) {
                seen.evidence.push(format!("metrics: {}", clip(line.split(['{', ' ']).next().unwrap_or(""), 60)));
                return Some(service(name, Confidence::Likely, Auth::None));
            }
        }
    }
    // Kubernetes Status objects (401/403 JSON) from a component whose
    // certificate says which one; else the apiserver.
    if text.contains("\"kind\":\"Status\"") || text.contains("\"kind\": \"Status\"") {
        let name = cert_component(seen).unwrap_or("kube-apiserver");
        return Some(service(name, Confidence::Likely, auth_of_status(r.status)));
    }
    // /healthz "ok" from a component with a self-signed localhost@ cert.
    if let Some(name) = cert_component(seen) {
        if r.status == 200 || r.status == 401 || r.status == 403 {
            // /healthz is an always-allowed path: a 200 proves nothing
            // about authentication.
            let auth = if r.status == 200 { Auth::Unknown } else { Auth::Required };
            return Some(service(name, Confidence::Likely, auth));
        }
    }
    // ingress-nginx's default certificate.
    if seen.tls.as_ref().is_some_and(|t| t.subject.contains("Kubernetes Ingress Controller Fake Certificate")) {
        return Some(service("ingress-nginx", Confidence::Certain, Auth::Unknown));
    }
    None
}

/// kube-scheduler and kube-controller-manager serve a self-signed
/// `localhost@<unix time>` certificate unless given one.
fn cert_component(seen: &Seen) -> Option<&'static str> {
    let t = seen.tls.as_ref()?;
    if !(t.subject.contains("CN=localhost@") && t.issuer.contains("CN=localhost-ca@")) {
        return None;
    }
    match seen.port {
        10259 | 10251 => Some("kube-scheduler"),
        10257 | 10252 => Some("kube-controller-manager"),
        _ => None,
    }
}

/// When the only evidence is the certificate.
fn by_certificate(seen: &Seen) -> Option<Service> {
    let t = seen.tls.as_ref()?;
    if t.subject.contains("Kubernetes Ingress Controller Fake Certificate") {
        return Some(service("ingress-nginx", Confidence::Certain, Auth::Unknown));
    }
    if let Some(name) = cert_component(seen) {
        return Some(service(name, Confidence::Likely, Auth::Unknown));
    }
    // A CertificateRequest naming etcd's or the cluster's CA.
    if t.client_cas.iter().any(|c| c.contains("CN=etcd-ca")) {
        return Some(service("etcd", Confidence::Likely, Auth::Required));
    }
    None
}

/// A BGP OPEN: 16 marker bytes of 0xff, type 1; version and AS.
fn bgp_open(b: &[u8]) -> Option<Service> {
    if b.len() < 29 || b[..16].iter().any(|&x| x != 0xff) || b[18] != 1 {
        return None;
    }
    let mut s = versioned(service("bgp", Confidence::Certain, Auth::Unknown), Some("bgp"), Some(&b[19].to_string()));
    s.product = Some(format!("bgp AS {}", u16::from_be_bytes([b[20], b[21]])));
    Some(s)
}

/// Whether `b` holds one whole RESP reply: a simple string or error line,
/// or a bulk string (`$<len>\r\n<len bytes>\r\n`; `$-1` is nil). Waiting
/// for the peer to close instead would cost every redis a read deadline.
fn resp_complete(b: &[u8]) -> bool {
    let Some(line_end) = b.windows(2).position(|w| w == b"\r\n") else { return false };
    match b.first() {
        Some(b'-' | b'+' | b':') => true,
        Some(b'$') => match std::str::from_utf8(&b[1..line_end]).ok().and_then(|n| n.parse::<i64>().ok()) {
            Some(n) if n < 0 => true,
            Some(n) => usize::try_from(n).ok().and_then(|n| n.checked_add(line_end + 4)).is_some_and(|whole| b.len() >= whole),
            None => true, // not RESP: nothing more worth waiting for
        },
        _ => true,
    }
}

/// A RESP reply (to `PING` or to the TLS hello): `-NOAUTH` means a
/// password is set; otherwise `INFO server` (read-only) gives the version.
fn redis(addr: SocketAddr, budget: &mut Budget, seen: &mut Seen, first: &[u8]) -> Service {
    let text = String::from_utf8_lossy(first);
    if text.contains("NOAUTH") || text.contains("-WRONGPASS") {
        return versioned(service("redis", Confidence::Certain, Auth::Required), Some("redis"), None);
    }
    let mut s = versioned(service("redis", Confidence::Likely, Auth::Unknown), Some("redis"), None);
    if let Ok((reply, _)) = exchange(budget, addr, b"INFO server\r\n", budget.settings.max_bytes, resp_complete) {
        let reply = String::from_utf8_lossy(&reply);
        if reply.contains("NOAUTH") {
            seen.evidence.push("INFO server: -NOAUTH".into());
            s.auth = Auth::Required;
            s.confidence = Confidence::Certain;
        } else if let Some(v) = reply.lines().find_map(|l| l.strip_prefix("redis_version:")) {
            seen.evidence.push(format!("INFO server answered without a password: redis_version:{}", v.trim()));
            s.version = Some(v.trim().to_string());
            s.auth = Auth::None;
            s.confidence = Confidence::Certain;
        }
    }
    s
}

/// The smallest NTP client request: LI 0, version 4, mode 3 (client), the
/// rest zero (no timestamps: nothing about this host is sent).
pub const NTP_CLIENT_REQUEST: [u8; 48] = {
    let mut req = [0u8; 48];
    req[0] = 0x23;
    req
};

/// NTP over UDP: one client packet (mode 3) on a connected socket, so only
/// the asked address can answer; mode, stratum and leap from the reply.
pub(crate) fn identify_ntp(addr: SocketAddr, budget: &Budget) -> Service {
    let mut s = Service::unknown("");
    let bind: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0".parse().unwrap_or(addr) } else { "[::]:0".parse().unwrap_or(addr) };
    let reply = (|| -> std::io::Result<Vec<u8>> {
        let sock = std::net::UdpSocket::bind(bind)?;
        sock.connect(addr)?;
        // None means "no time left" here, but "block forever" to the socket.
        let wait = budget.read_timeout().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::TimedOut, "port budget spent"))?;
        sock.set_read_timeout(Some(wait))?;
        sock.send(&NTP_CLIENT_REQUEST)?;
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf)?;
        Ok(buf[..n].to_vec())
    })();
    match reply {
        Ok(r) if r.len() >= 48 && matches!(r[0] & 7, 4 | 5) => {
            let (leap, version, mode, stratum) = (r[0] >> 6, (r[0] >> 3) & 7, r[0] & 7, r[1]);
            s = versioned(service("ntp", Confidence::Certain, Auth::None), Some("ntp"), Some(&version.to_string()));
            s.evidence = format!("NTP reply: mode {mode}, stratum {stratum}, leap {leap}");
        }
        Ok(r) => s.evidence = format!("UDP reply to an NTP request: {} bytes, not NTP", r.len()),
        Err(e) => s.evidence = format!("NTP request: {e}"),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_keeps_error_messages_and_only_the_shape_of_data() {
        let hint = |raw: &[u8]| body_hint(&Response::parse(raw).expect("a response"));
        assert_eq!(hint(b"HTTP/1.1 200 OK\r\n\r\n{\"token\":\"s3cret\",\"user\":\"admin\"}"), " {token,user}");
        assert_eq!(hint(b"HTTP/1.1 200 OK\r\n\r\npassword=s3cret"), " (15 bytes)");
        assert_eq!(hint(b"HTTP/1.1 200 OK\r\n\r\n[\"s3cret\"]"), " (10 bytes)");
        assert_eq!(hint(b"HTTP/1.1 403 Forbidden\r\n\r\nForbidden (user=system:anonymous, verb=get)"), " Forbidden (user=system:anonymous, verb=get)");
        assert_eq!(hint(b"HTTP/1.1 200 OK\r\n\r\n"), "");
    }

    #[test]
    fn a_resp_reply_is_whole_when_its_announced_length_arrived() {
        assert!(resp_complete(b"-NOAUTH Authentication required.\r\n"));
        assert!(resp_complete(b"+PONG\r\n"));
        assert!(resp_complete(b"$-1\r\n"));
        assert!(resp_complete(b"$5\r\nhello\r\n"));
        assert!(!resp_complete(b"$5\r\nhel"));
        assert!(!resp_complete(b"$5\r\nhello"));
        assert!(!resp_complete(b"$5"));
        // A peer's absurd length never overflows: it is just never whole.
        assert!(!resp_complete(b"$9223372036854775807\r\nabc"));
        assert!(resp_complete(b"$x\r\n"));
    }

    #[test]
    fn bgp_open_gives_version_and_as() {
        let mut b = vec![0xffu8; 16];
        b.extend([0, 29, 1, 4, 0xfd, 0xe8, 0, 90, 198, 18, 0, 10, 0]);
        let s = bgp_open(&b).unwrap();
        assert_eq!((s.name.as_str(), s.version.as_deref(), s.product.as_deref()), ("bgp", Some("4"), Some("bgp AS 65000")));
        assert!(bgp_open(&b[..20]).is_none());
    }
}
