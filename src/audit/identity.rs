//! Findings about what answers, from the identification stage's services
//! (`crate::identify`): a planned port answered by another component
//! (`impostor`), and open doors an anonymous client walked through
//! (`insecure`, critical; expiring certificates are `insecure` warnings).
//! Kept apart from the port rules: those judge states, these judge
//! identities, and a report made without identification gets none of them.
use std::time::{Duration, SystemTime};

use super::{make_finding, FindingKind, NodePlan, Observations, Phase, Severity, Subject, Vantage};
use crate::inventory::Inventory;
use crate::plan::EffectivePlan;
use crate::report::{Auth, ClientCert, Confidence, Service, State};
use crate::space::Protocol;

/// Settings of the identity rules.
#[derive(Debug, Clone)]
pub struct IdentityRules {
    /// Certificates expiring within this are `insecure` warnings.
    pub cert_warn: Duration,
    /// The time certificates are judged at.
    pub now: SystemTime,
}

impl Default for IdentityRules {
    fn default() -> IdentityRules {
        IdentityRules { cert_warn: Duration::from_secs(30 * 86_400), now: SystemTime::now() }
    }
}

/// The identities a planned component may answer as. A component the
/// stage cannot recognise yet (flannel, calico's Typha…) answers as itself
/// only, so any *named* other service on its port is an impostor; `http`,
/// `tls` and `unknown` never are.
fn answers_as(component: &str) -> &[&str] {
    match component {
        "chrony" => &["ntp"],
        "ingress-controller" => &["ingress-nginx", "nginx"],
        "calico" => &["bgp"],
        "kube-vip" => &["kube-vip", "kube-apiserver"],
        "cilium-agent" => &["cilium-agent", "hubble"],
        _ => &[],
    }
}

fn compatible(component: &str, name: &str) -> bool {
    component == name || answers_as(component).contains(&name)
}

/// Names that say nothing about which component answered.
pub(crate) fn is_generic(s: &Service) -> bool {
    matches!(s.name.as_str(), "http" | "tls" | "unknown") || s.confidence == Confidence::Guess
}

/// An open door, in words: (message, hint), or `None`.
fn open_door(s: &Service, port: u16) -> Option<(String, String)> {
    let plain = s.tls.is_none();
    let tls_open = s.tls.as_ref().is_some_and(|t| t.client_cert != ClientCert::Required);
    match (s.name.as_str(), s.auth) {
        ("etcd", Auth::None) => Some((
            format!("etcd's client API answered a range read without a client certificate ({}): anyone who reaches the port can read every key, Secrets included.", if plain { "plain HTTP" } else if tls_open { "TLS without client authentication" } else { "TLS" }),
            "Serve etcd over TLS with client authentication: `--client-cert-auth=true --trusted-ca-file=<etcd CA>` (and `--cert-file`/`--key-file`, https:// listen URLs).".into(),
        )),
        ("kubelet", Auth::None) if port == 10255 || plain => Some((
            "The kubelet's read-only port answers without authentication: pods, their specs and environment are readable by anyone who reaches it.".into(),
            "Turn it off: kubelet `--read-only-port=0` (readOnlyPort: 0 in the KubeletConfiguration).".into(),
        )),
        ("kubelet", Auth::None) => Some((
            "The kubelet served /pods to an anonymous client: anyone who reaches the port can list pods and, with the same access, exec into them.".into(),
            "Set kubelet `--anonymous-auth=false --authorization-mode=Webhook` (and `--read-only-port=0`).".into(),
        )),
        ("kubelet", Auth::Required) if s.evidence.contains("system:anonymous") => Some((
            "The kubelet accepts anonymous requests (it answered 403 naming system:anonymous): only authorization stands between an anonymous client and its API.".into(),
            "Set kubelet `--anonymous-auth=false --read-only-port=0`.".into(),
        )),
        ("kube-apiserver", Auth::None) if plain => Some((
            "The API server answers on a plain-HTTP insecure port without authentication: full cluster control for anyone who reaches it.".into(),
            "Remove `--insecure-port`/`--insecure-bind-address` (removed in Kubernetes 1.24; upgrade), or bind it to 127.0.0.1 only.".into(),
        )),
        ("redis", Auth::None) => Some((
            "redis answered `INFO server` without a password: anyone who reaches the port can read and change its data.".into(),
            "Set `requirepass` (or ACL users) in redis.conf, and bind it to the addresses that need it.".into(),
        )),
        _ => None,
    }
}

/// The certificate's expiry: (severity, message, hint) when expired or
/// expiring within `cert_warn`.
fn expiry(s: &Service, rules: &IdentityRules) -> Option<(Severity, String, String)> {
    let t = s.tls.as_ref()?;
    let not_after = humantime::parse_rfc3339(&t.not_after).ok()?;
    let hint = format!("Renew the certificate of {} (kubeadm: `kubeadm certs check-expiration`, `kubeadm certs renew`).", s.name);
    if not_after <= rules.now {
        return Some((Severity::Critical, format!("Its TLS certificate ({}) expired on {}: clients refuse it.", t.subject, t.not_after), hint));
    }
    let left = not_after.duration_since(rules.now).unwrap_or_default();
    (left <= rules.cert_warn).then(|| (Severity::Warning, format!("Its TLS certificate ({}) expires on {} (in {} days).", t.subject, t.not_after, left.as_secs() / 86_400), hint))
}

/// Identity findings of every up node of the inventory.
pub(super) fn judge(plan: &EffectivePlan, inventory: &Inventory, phase: Phase, from: Vantage, obs: &dyn Observations, rules: &IdentityRules) -> Vec<super::Finding> {
    let mut out = Vec::new();
    for node in &inventory.nodes {
        if obs.host_up(node.address) != Some(true) {
            continue;
        }
        let np = NodePlan::new(plan, &node.roles);
        for (proto, port) in obs.open_ports(node.address) {
            let (Some(service), Some((state, reason))) = (obs.service(node.address, proto, port), obs.state(node.address, proto, port)) else { continue };
            if state != State::Open {
                continue;
            }
            let entries = np.ports.get(&(proto, port));
            let component = entries.and_then(|e| e.first()).map_or(service.name.as_str(), |e| e.component.as_str());
            let subject = Subject {
                protocol: proto,
                port,
                component,
                entry: entries.and_then(|e| e.first()).copied(),
                planned_roles: Vec::new(),
                node_roles: &node.roles,
                state,
                reason,
                in_nodeport_range: proto == Protocol::Tcp && plan.nodeport_range.contains(port),
                node_has_range: np.has_range,
                nodeport_range: plan.nodeport_range,
                service: None,
            };
            let mut push = |kind: FindingKind, severity: Severity, expected: String, message: String, hint: String| {
                let mut f = make_finding(node, kind, &subject, from);
                f.severity = severity;
                f.expected = expected;
                f.message = message;
                f.hint = hint;
                f.service = Some(service.clone());
                out.push(f);
            };
            // A planned port that another component answers, once the
            // install is done (before it, the `conflict` names the holder).
            if let (Phase::Post, Some(entries)) = (phase, entries) {
                if !is_generic(&service) && !entries.iter().any(|e| compatible(&e.component, &service.name)) {
                    let planned: Vec<&str> = entries.iter().map(|e| e.component.as_str()).collect();
                    push(
                        FindingKind::Impostor,
                        FindingKind::Impostor.severity(),
                        format!("{} answering", planned.join(" or ")),
                        format!("{port}/{proto} belongs to {} but {} answers ({}).", planned.join(" or "), service.label(), service.evidence),
                        format!("Find the process with `ss -ltnp 'sport = :{port}'`, stop or move it, and start {} on this port.", planned.join(" or ")),
                    );
                }
            }
            if let Some((message, hint)) = open_door(&service, port) {
                push(FindingKind::Insecure, Severity::Critical, "authentication required".into(), message, hint);
            }
            if let Some((severity, message, hint)) = expiry(&service, rules) {
                push(FindingKind::Insecure, severity, "a valid certificate".into(), message, hint);
            }
        }
    }
    out
}

/// Every finding about a port carries the service that answered there;
/// a `conflict` or `unexpected` names it in its message too.
pub(super) fn annotate(findings: &mut [super::Finding], obs: &dyn Observations) {
    for f in findings.iter_mut().filter(|f| f.service.is_none()) {
        let Some(proto) = f.protocol else { continue };
        let Some(s) = obs.service(f.address, proto, f.port) else { continue };
        if matches!(f.kind, FindingKind::Conflict | FindingKind::Unexpected) {
            // Name the holder first: the component column is the plan's.
            f.message = format!("{} answers on {}/{}. {}", s.label(), f.port, proto, f.message);
        }
        f.service = Some(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TlsInfo;

    fn service(name: &str, auth: Auth, evidence: &str, tls: Option<TlsInfo>) -> Service {
        Service { name: name.into(), product: None, version: None, confidence: Confidence::Certain, evidence: evidence.into(), auth, tls }
    }

    fn tls(not_after: &str, client_cert: ClientCert) -> TlsInfo {
        TlsInfo { subject: "CN=kubelet".into(), issuer: "CN=kubernetes".into(), sans: Vec::new(), not_after: not_after.into(), client_cert, client_cas: Vec::new() }
    }

    /// The hint of an open door, or "" when the door is shut.
    fn door_hint(s: &Service, port: u16) -> String {
        open_door(s, port).map(|(_, hint)| hint).unwrap_or_default()
    }

    #[test]
    fn kubelet_doors_each_name_their_own_fix() {
        // The read-only port answering at all is the finding.
        let read_only = service("kubelet", Auth::None, "GET /pods 200", None);
        assert!(door_hint(&read_only, 10255).contains("--read-only-port=0"));
        // A 10255 that refused the anonymous client is no open door.
        assert_eq!(open_door(&service("kubelet", Auth::Required, "GET /pods 401", None), 10255), None);
        // /pods served to an anonymous TLS client.
        let anonymous = service("kubelet", Auth::None, "GET /pods 200", Some(tls("2099-01-01T00:00:00Z", ClientCert::Requested)));
        assert!(door_hint(&anonymous, 10250).contains("--anonymous-auth=false --authorization-mode=Webhook"));
        // 403 naming system:anonymous: anonymous auth is on.
        let forbidden = service("kubelet", Auth::Required, "GET /pods 403 Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource=proxy)", Some(tls("2099-01-01T00:00:00Z", ClientCert::Requested)));
        assert_eq!(door_hint(&forbidden, 10250), "Set kubelet `--anonymous-auth=false --read-only-port=0`.");
        // 401: anonymous auth off, nothing to report.
        let shut = service("kubelet", Auth::Required, "GET /pods 401 Unauthorized", Some(tls("2099-01-01T00:00:00Z", ClientCert::Requested)));
        assert_eq!(open_door(&shut, 10250), None);
    }

    #[test]
    fn only_a_plain_anonymous_apiserver_is_an_open_door() {
        let insecure_port = service("kube-apiserver", Auth::None, "GET / 200 {\"paths\":[…]}", None);
        assert!(door_hint(&insecure_port, 8080).contains("--insecure-port"));
        // Anonymous over TLS (e.g. /version is public by design) is not.
        let tls_anonymous = service("kube-apiserver", Auth::None, "GET /version 200", Some(tls("2099-01-01T00:00:00Z", ClientCert::Requested)));
        assert_eq!(open_door(&tls_anonymous, 6443), None);
        let tls_required = service("kube-apiserver", Auth::Required, "GET /api 401", Some(tls("2099-01-01T00:00:00Z", ClientCert::Requested)));
        assert_eq!(open_door(&tls_required, 6443), None);
        // Services without an anonymous-access rule never are.
        assert_eq!(open_door(&service("nginx", Auth::None, "Server: nginx", None), 80), None);
        assert_eq!(open_door(&service("redis", Auth::Required, "-NOAUTH", None), 6379), None);
        assert_eq!(open_door(&service("etcd", Auth::Required, "tls alert", Some(tls("2099-01-01T00:00:00Z", ClientCert::Required))), 2379), None);
    }

    #[test]
    fn certificates_are_judged_against_the_warning_window() {
        let now = humantime::parse_rfc3339("2026-11-28T00:00:00Z").expect("a valid time");
        let rules = IdentityRules { cert_warn: Duration::from_secs(30 * 86_400), now };
        let with = |not_after: &str| service("etcd", Auth::Required, "tls", Some(tls(not_after, ClientCert::Required)));
        let judged = |not_after: &str| expiry(&with(not_after), &rules).map(|(severity, message, _)| (severity, message));
        assert_eq!(judged("2026-11-27T23:59:59Z"), Some((Severity::Critical, "Its TLS certificate (CN=kubelet) expired on 2026-11-27T23:59:59Z: clients refuse it.".into())));
        // Expiring exactly now is expired.
        assert_eq!(judged("2026-11-28T00:00:00Z").map(|j| j.0), Some(Severity::Critical));
        assert_eq!(judged("2026-12-08T00:00:00Z"), Some((Severity::Warning, "Its TLS certificate (CN=kubelet) expires on 2026-12-08T00:00:00Z (in 10 days).".into())));
        // The window's edge is inside it; one second beyond is not.
        assert_eq!(judged("2026-12-28T00:00:00Z").map(|j| j.0), Some(Severity::Warning));
        assert_eq!(judged("2026-12-28T00:00:01Z"), None);
        // An unreadable date, or no TLS, says nothing.
        assert_eq!(judged("next tuesday"), None);
        assert_eq!(expiry(&service("redis", Auth::None, "+PONG", None), &rules), None);
    }
}
