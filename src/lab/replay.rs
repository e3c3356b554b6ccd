//! Responders that replay the documented anonymous answers of components
//! that have no Debian package (kube-apiserver, kubelet, kube-scheduler,
//! kube-controller-manager, kube-proxy, cilium, kube-vip, Grafana, Harbor,
//! ingress-nginx), so identification is tested against their shapes. Each
//! replay cites where its answers come from; the README says which
//! identities were proven on real daemons and which only on replays.
//!
//! A replay is a tiny HTTP/1.1 server (TLS with rustls where the component
//! serves TLS, with the certificate shape it really has) on one listener,
//! one thread, one connection at a time, stopped when dropped. Anything
//! that is not a request line gets a Go-style `400 Bad Request`.
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The certificate a TLS replay serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertShape {
    /// client-go's `GenerateSelfSignedCertKey`, which kube-scheduler,
    /// kube-controller-manager and the kubelet use when given no
    /// certificate: leaf `CN=localhost@<unix time>` signed by
    /// `CN=localhost-ca@<unix time>` (kubernetes/client-go
    /// util/cert/cert.go, GenerateSelfSignedCertKeyWithFixtures).
    LocalhostAt,
    /// ingress-nginx's default certificate, `CN=Kubernetes Ingress
    /// Controller Fake Certificate, O=Acme Co` (kubernetes/ingress-nginx
    /// internal/net/ssl/ssl.go, GetFakeSSLCert).
    IngressFake,
    /// A leaf for the address signed by a CA of this name (kubeadm's
    /// `kubernetes` CA for the apiserver and kubelet).
    SignedBy(&'static str),
}

/// One replayed component: its routes (path → status, content type,
/// body), the rest 404.
#[derive(Debug, Clone, Copy)]
pub struct Replay {
    pub component: &'static str,
    /// Where the answers come from.
    pub source: &'static str,
    pub tls: Option<CertShape>,
    pub routes: &'static [(&'static str, u16, &'static str, &'static str)],
    /// The `Server` header, if the component sends one.
    pub server: Option<&'static str>,
}

/// A running replay; dropping it stops it.
pub struct ReplayServer {
    pub addr: SocketAddr,
    _accepting: AcceptLoop,
}

/// One thread accepting on a listener and handling one connection at a
/// time (each with 2 s read and write deadlines); dropping it stops the
/// loop and joins the thread. The replays and the recorded API server
/// share it.
pub(crate) struct AcceptLoop {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for AcceptLoop {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts the loop: `handle` gets every accepted connection, blocking.
pub(crate) fn accept_loop(listener: TcpListener, handle: impl Fn(TcpStream) + Send + 'static) -> io::Result<AcceptLoop> {
    listener.set_nonblocking(true)?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((s, _)) => {
                    let _ = s.set_nonblocking(false);
                    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
                    handle(s);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(2)),
            }
        }
    });
    Ok(AcceptLoop { stop, thread: Some(thread) })
}

fn tls_config(shape: CertShape, addr: SocketAddr) -> io::Result<Arc<rustls::ServerConfig>> {
    use rcgen::{CertificateParams, DnType, KeyPair, SanType};
    let e = |e: rcgen::Error| io::Error::other(e.to_string());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let key = KeyPair::generate().map_err(e)?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).map_err(e)?;
    leaf.subject_alt_names.push(SanType::IpAddress(addr.ip()));
    let cert = match shape {
        CertShape::IngressFake => {
            leaf.distinguished_name.push(DnType::OrganizationName, "Acme Co");
            leaf.distinguished_name.push(DnType::CommonName, "Kubernetes Ingress Controller Fake Certificate");
            leaf.self_signed(&key).map_err(e)?
        }
        CertShape::LocalhostAt | CertShape::SignedBy(_) => {
            let (ca_cn, leaf_cn) = match shape {
                CertShape::SignedBy(ca) => (ca.to_string(), format!("replay-{}", addr.ip())),
                _ => (format!("localhost-ca@{now}"), format!("localhost@{now}")),
            };
            let (issuer, _) = test_ca(&ca_cn)?;
            leaf.distinguished_name.push(DnType::CommonName, leaf_cn);
            leaf.signed_by(&key, &issuer).map_err(e)?
        }
    };
    server_config(&cert, &key)
}

/// A throw-away CA named `cn`: its issuer, to sign leaves with, and its
/// certificate's PEM, for clients that should trust it.
pub(crate) fn test_ca(cn: &str) -> io::Result<(rcgen::Issuer<'static, rcgen::KeyPair>, String)> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let e = |e: rcgen::Error| io::Error::other(e.to_string());
    let ca_key = KeyPair::generate().map_err(e)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
    ca.distinguished_name.push(DnType::CommonName, cn);
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let pem = ca.self_signed(&ca_key).map_err(e)?.pem();
    Ok((rcgen::Issuer::new(ca, ca_key), pem))
}

/// A rustls server config presenting `cert` with `key`, no client auth.
pub(crate) fn server_config(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> io::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .map_err(io::Error::other)?;
    Ok(Arc::new(config))
}

/// Serves `replay` on `listener` until dropped.
pub fn serve(listener: TcpListener, replay: Replay) -> io::Result<ReplayServer> {
    let addr = listener.local_addr()?;
    let tls = replay.tls.map(|shape| tls_config(shape, addr)).transpose()?;
    let accepting = accept_loop(listener, move |s| {
        let _ = answer(s, &replay, tls.clone());
    })?;
    Ok(ReplayServer { addr, _accepting: accepting })
}

fn answer(sock: TcpStream, replay: &Replay, tls: Option<Arc<rustls::ServerConfig>>) -> io::Result<()> {
    match tls {
        Some(cfg) => {
            let conn = rustls::ServerConnection::new(cfg).map_err(io::Error::other)?;
            let mut stream = rustls::StreamOwned::new(conn, sock);
            respond(&mut stream, replay)
        }
        None => {
            let mut s = sock;
            respond(&mut s, replay)
        }
    }
}

fn respond(stream: &mut impl ReadWrite, replay: &Replay) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if !buf.starts_with(b"GET ") && !buf.starts_with(b"POST ") && buf.len() >= 4 {
            break;
        }
    }
    let line = String::from_utf8_lossy(&buf);
    let path = line.split_whitespace().nth(1).filter(|_| line.starts_with("GET ") || line.starts_with("POST "));
    let (status, ctype, body) = match path {
        None => (400, "text/plain; charset=utf-8", "400 Bad Request"),
        Some(p) => replay.routes.iter().find(|r| r.0 == p).map(|r| (r.1, r.2, r.3)).unwrap_or((404, "text/plain; charset=utf-8", "404 page not found\n")),
    };
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        _ => "Not Found",
    };
    let server = replay.server.map(|s| format!("Server: {s}\r\n")).unwrap_or_default();
    let head = format!("HTTP/1.1 {status} {reason}\r\n{server}Content-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes())?;
    stream.write_all(body.as_bytes())?;
    stream.flush()
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
/// Prometheus text exposition format 0.0.4.
const METRICS: &str = "text/plain; version=0.0.4";

/// The replays, by what they stand for.
pub mod components {
    use super::{CertShape, Replay, JSON, METRICS, TEXT};

    /// kube-apiserver with anonymous requests allowed to /version (the
    /// default `system:public-info-viewer` binding). Source: the `Info`
    /// struct of k8s.io/apimachinery pkg/version/types.go, served at
    /// /version (https://kubernetes.io/docs/reference/using-api/health-checks/
    /// for /livez, /readyz).
    pub const APISERVER: Replay = Replay {
        component: "kube-apiserver",
        source: "k8s.io/apimachinery pkg/version/types.go; kubernetes.io/docs/reference/using-api/health-checks/",
        tls: Some(CertShape::SignedBy("kubernetes")),
        routes: &[
            ("/version", 200, JSON, r#"{"major":"1","minor":"33","gitVersion":"v1.33.1","gitCommit":"8adc0f041b8e7ad1d30e29cc59c6ae7a15e19828","gitTreeState":"clean","buildDate":"2025-05-15T08:19:08Z","goVersion":"go1.24.2","compiler":"gc","platform":"linux/amd64"}"#),
            ("/livez", 200, TEXT, "ok"),
            ("/healthz", 200, TEXT, "ok"),
        ],
        server: None,
    };

    /// kube-apiserver with `--anonymous-auth=false`: a `Status` 401 for
    /// everything. Source: k8s.io/apiserver pkg/endpoints/handlers/
    /// responsewriters (Unauthorized → metav1.Status, reason Unauthorized).
    pub const APISERVER_NO_ANONYMOUS: Replay = Replay {
        component: "kube-apiserver",
        source: "k8s.io/apiserver pkg/endpoints/handlers/responsewriters/errors.go",
        tls: Some(CertShape::SignedBy("kubernetes")),
        routes: &[
            ("/version", 401, JSON, r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#),
            ("/api/health", 401, JSON, r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#),
        ],
        server: None,
    };

    /// The legacy insecure port (8080, removed in 1.24): the API index to
    /// anyone. Source: kube-apiserver `GET /` (k8s.io/apiserver
    /// pkg/server/routes/index.go, `metav1.RootPaths`).
    pub const APISERVER_INSECURE: Replay = Replay {
        component: "kube-apiserver",
        source: "k8s.io/apiserver pkg/server/routes/index.go (RootPaths)",
        tls: None,
        routes: &[("/", 200, JSON, r#"{"paths":["/api","/api/v1","/apis","/apis/apps","/healthz","/livez","/metrics","/readyz","/version"]}"#)],
        server: None,
    };

    /// kubelet `--anonymous-auth=false`: 401 with the text "Unauthorized".
    /// Source: kubernetes pkg/kubelet/server/auth.go and server.go (the
    /// filter answers `http.Error(w, "Unauthorized", 401)`);
    /// https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/
    pub const KUBELET_NO_ANONYMOUS: Replay = Replay {
        component: "kubelet",
        source: "kubernetes pkg/kubelet/server/server.go (InstallAuthFilter); kubernetes.io kubelet-authn-authz",
        tls: Some(CertShape::LocalhostAt),
        routes: &[("/pods", 401, TEXT, "Unauthorized\n")],
        server: None,
    };

    /// kubelet with anonymous auth on and Webhook authorization: 403 naming
    /// system:anonymous. Source: kubernetes pkg/kubelet/server/server.go
    /// (InstallAuthFilter: "Forbidden (user=%s, verb=%s, resource=%s,
    /// subresource=%s)").
    pub const KUBELET_ANONYMOUS_FORBIDDEN: Replay = Replay {
        component: "kubelet",
        source: "kubernetes pkg/kubelet/server/server.go (InstallAuthFilter)",
        tls: Some(CertShape::LocalhostAt),
        routes: &[("/pods", 403, TEXT, "Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=proxy)\n")],
        server: None,
    };

    /// kubelet with anonymous auth and `AlwaysAllow`: /pods to anyone (the
    /// body is a PodList; only its status is read). Source: kubelet API
    /// `/pods` (pkg/kubelet/server/server.go, getPods).
    pub const KUBELET_OPEN: Replay = Replay {
        component: "kubelet",
        source: "kubernetes pkg/kubelet/server/server.go (getPods)",
        tls: Some(CertShape::LocalhostAt),
        routes: &[("/pods", 200, JSON, r#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}"#)],
        server: None,
    };

    /// The kubelet read-only port 10255: plain HTTP, /pods to anyone.
    /// Source: kubelet `--read-only-port` (pkg/kubelet/server/server.go,
    /// ListenAndServeKubeletReadOnlyServer).
    pub const KUBELET_READ_ONLY: Replay = Replay {
        component: "kubelet",
        source: "kubernetes pkg/kubelet/server/server.go (ListenAndServeKubeletReadOnlyServer)",
        tls: None,
        routes: &[("/pods", 200, JSON, r#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}"#), ("/healthz", 200, TEXT, "ok")],
        server: None,
    };

    /// kube-scheduler (10259) and kube-controller-manager (10257): the
    /// self-signed localhost@ certificate and an anonymous /healthz
    /// (always-allowed path). Source: client-go util/cert/cert.go; the
    /// components' `--authorization-always-allow-paths` default
    /// (/healthz,/readyz,/livez).
    pub const SCHEDULER_OR_CONTROLLER_MANAGER: Replay = Replay {
        component: "kube-scheduler / kube-controller-manager",
        source: "client-go util/cert/cert.go; k8s.io/apiserver DelegatingAuthorizationOptions AlwaysAllowPaths",
        tls: Some(CertShape::LocalhostAt),
        routes: &[("/healthz", 200, TEXT, "ok")],
        server: None,
    };

    /// kube-proxy's health server (10256): JSON with lastUpdated and
    /// currentTime. Source: kubernetes pkg/proxy/healthcheck/
    /// proxy_health.go (ServeHTTP).
    pub const KUBE_PROXY: Replay = Replay {
        component: "kube-proxy",
        source: "kubernetes pkg/proxy/healthcheck/proxy_health.go",
        tls: None,
        routes: &[("/healthz", 200, JSON, r#"{"lastUpdated": "2026-11-28 04:00:00.000000000 +0000 UTC m=+100.0","currentTime": "2026-11-28 04:00:01.000000000 +0000 UTC m=+101.0"}"#)],
        server: None,
    };

    /// Grafana's health API. Source:
    /// https://grafana.com/docs/grafana/latest/developers/http_api/other/#health-api
    pub const GRAFANA: Replay = Replay {
        component: "grafana",
        source: "grafana.com/docs/grafana/latest/developers/http_api/other/#health-api",
        tls: None,
        routes: &[("/api/health", 200, JSON, r#"{"commit":"087143285","database":"ok","version":"10.4.2"}"#)],
        server: None,
    };

    /// Harbor's ping. Source: goharbor/harbor api/v2.0/swagger.yaml
    /// (`/ping`: 200, "Pong"), behind Harbor's nginx.
    pub const HARBOR: Replay = Replay {
        component: "harbor",
        source: "goharbor/harbor api/v2.0/swagger.yaml (/ping)",
        tls: Some(CertShape::SignedBy("harbor-ca")),
        routes: &[("/api/v2.0/ping", 200, TEXT, "Pong")],
        server: Some("nginx"),
    };

    /// cilium-health's responder (4240): 200 on /hello, 404 elsewhere.
    /// Source: cilium/cilium pkg/health/probe/responder/responder.go.
    pub const CILIUM_HEALTH: Replay = Replay {
        component: "cilium-agent",
        source: "cilium/cilium pkg/health/probe/responder/responder.go",
        tls: None,
        routes: &[("/hello", 200, TEXT, "")],
        server: None,
    };

    /// Prometheus endpoints named by their metric prefixes: cilium-agent
    /// (9962). Source: https://docs.cilium.io/en/stable/observability/metrics/
    pub const CILIUM_METRICS: Replay = Replay {
        component: "cilium-agent",
        source: "docs.cilium.io/en/stable/observability/metrics/",
        tls: None,
        routes: &[("/metrics", 200, METRICS, "# HELP cilium_bpf_map_ops_total Total operations on map\n# TYPE cilium_bpf_map_ops_total counter\ncilium_bpf_map_ops_total{map_name=\"lb4_services_v2\",operation=\"lookup\",outcome=\"success\"} 3\n")],
        server: None,
    };

    // Real pages list the Go runtime's `go_` metrics before `hubble_`,
    // `kube_vip_` and `typha_` names: those replays start with one, so the
    // match must read past it.

    /// Hubble's metrics server (9965, `hubble_` names). Source:
    /// https://docs.cilium.io/en/stable/observability/metrics/ (Hubble
    /// Exported Metrics: `hubble_flows_processed_total`).
    pub const HUBBLE_METRICS: Replay = Replay {
        component: "hubble",
        source: "docs.cilium.io/en/stable/observability/metrics/ (Hubble Exported Metrics)",
        tls: None,
        routes: &[("/metrics", 200, METRICS, concat!("# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines 42\n", "# HELP hubble_flows_processed_total Total number of flows processed\n# TYPE hubble_flows_processed_total counter\nhubble_flows_processed_total{protocol=\"TCP\",subtype=\"to-endpoint\",type=\"Trace\",verdict=\"FORWARDED\"} 17\n"))],
        server: None,
    };

    /// cilium-operator's metrics (9963, namespace `cilium_operator`).
    /// Source: https://docs.cilium.io/en/stable/observability/metrics/
    /// (cilium-operator: "All metrics are exported under the
    /// cilium_operator_ Prometheus namespace"; `cilium_operator_ipam_ips`).
    pub const CILIUM_OPERATOR_METRICS: Replay = Replay {
        component: "cilium-operator",
        source: "docs.cilium.io/en/stable/observability/metrics/ (cilium-operator)",
        tls: None,
        routes: &[("/metrics", 200, METRICS, "# HELP cilium_operator_ipam_ips Number of IPs allocated\n# TYPE cilium_operator_ipam_ips gauge\ncilium_operator_ipam_ips{type=\"available\"} 250\n")],
        server: None,
    };

    /// kube-vip's Prometheus server (`prometheus_server: :2112`), metrics in
    /// namespace `kube_vip`. Source: kube-vip/kube-vip pkg/manager
    /// (CountServiceWatchEvent: Namespace "kube_vip", Subsystem "manager",
    /// Name "all_services_events").
    pub const KUBE_VIP_METRICS: Replay = Replay {
        component: "kube-vip",
        source: "kube-vip/kube-vip pkg/manager (kube_vip_manager_all_services_events)",
        tls: None,
        routes: &[("/metrics", 200, METRICS, concat!("# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines 42\n", "# HELP kube_vip_manager_all_services_events Count all events fired by the service watcher categorised by event type\n# TYPE kube_vip_manager_all_services_events counter\nkube_vip_manager_all_services_events{type=\"ADDED\"} 3\n"))],
        server: None,
    };

    /// calico-typha's Prometheus metrics (typhaPrometheusMetricsPort, 9093
    /// by default; `typha_` names). Source:
    /// https://docs.tigera.io/calico/latest/reference/typha/prometheus
    /// (`typha_connections_active`).
    pub const TYPHA_METRICS: Replay = Replay {
        component: "calico-typha",
        source: "docs.tigera.io/calico/latest/reference/typha/prometheus",
        tls: None,
        routes: &[("/metrics", 200, METRICS, concat!("# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines 42\n", "# HELP typha_connections_active Number of open client connections.\n# TYPE typha_connections_active gauge\ntypha_connections_active 4\n"))],
        server: None,
    };

    /// ingress-nginx without a default certificate: its fake certificate
    /// and nginx's 404. Source: kubernetes/ingress-nginx
    /// internal/net/ssl/ssl.go (GetFakeSSLCert).
    pub const INGRESS_NGINX: Replay = Replay {
        component: "ingress-nginx",
        source: "kubernetes/ingress-nginx internal/net/ssl/ssl.go",
        tls: Some(CertShape::IngressFake),
        routes: &[],
        server: Some("nginx"),
    };
}
