//! The words of a finding: a one-sentence `message` saying what was seen and
//! what it means, and a `hint` saying what to do.
//!
//! Kept apart from the rules so that the rules read as a table and the texts
//! can be tuned without touching them. Hints are specific where the fix is
//! (the flag that binds kube-scheduler to loopback, the service that runs
//! etcd), generic otherwise; messages never name the node, which every
//! output already shows next to them.

use super::{FindingKind, Subject, Vantage};
use crate::plan::Audience;
use crate::report::Reason;
use crate::space::Protocol;
use std::net::IpAddr;

/// Components of a Kubernetes install itself: an open port of theirs before
/// the install is most likely a previous install still running.
const CORE: &[&str] = &[
    "kube-apiserver",
    "etcd",
    "kubelet",
    "kube-scheduler",
    "kube-controller-manager",
    "kube-proxy",
];

const CONTROL_PLANE: &[&str] = &[
    "kube-apiserver",
    "etcd",
    "kube-scheduler",
    "kube-controller-manager",
];

/// `ss -ltnp 'sport = :6443'`: the command that names the process.
fn ss(protocol: Protocol, port: u16) -> String {
    let t = match protocol {
        Protocol::Tcp => "t",
        Protocol::Udp => "u",
    };
    format!("`ss -l{t}np 'sport = :{port}'`")
}

/// `control-plane`, `control-plane and worker`, `a, b and c`.
fn roles_text(roles: &[String]) -> String {
    listed(roles, "and").unwrap_or_else(|| "no role".to_string())
}

fn listed(items: &[String], conjunction: &str) -> Option<String> {
    match items {
        [] => None,
        [one] => Some(one.clone()),
        [init @ .., last] => Some(format!("{} {conjunction} {last}", init.join(", "))),
    }
}

/// Who a port of this audience serves, for "allow it from ...".
fn who(audience: Audience) -> &'static str {
    match audience {
        Audience::All => "every node and client",
        Audience::ControlPlane => "the control-plane nodes",
        Audience::Peers => "every node",
        Audience::SelfOnly => "no other host",
    }
}

/// What a filtered state means, in words.
fn filtered_how(protocol: Protocol, reason: Reason) -> String {
    match (protocol, reason) {
        (Protocol::Tcp, Reason::NoResponse) => "no answer to a SYN".to_string(),
        (Protocol::Udp, Reason::NoResponse) => "no answer".to_string(),
        (_, r) => format!("ICMP {}", r.as_str()),
    }
}

/// (message, hint) for an `unreachable` node.
pub(super) fn unreachable(address: IpAddr) -> (String, String) {
    (
        "The node answered no probe at all: it is down, its inventory address is wrong, or a \
         firewall drops everything from this vantage."
            .to_string(),
        format!(
            "Check that {address} is the node's address and that the node runs; from the \
             scanner, try `ping {address}` and check the routes and firewalls in between."
        ),
    )
}

/// (message, hint) for a per-port finding.
pub(super) fn advice(kind: FindingKind, s: &Subject, from: Vantage) -> (String, String) {
    let label = format!("{} ({}/{})", s.component, s.port, s.protocol);
    match kind {
        FindingKind::Conflict => conflict(s),
        FindingKind::Missing => (missing_message(s, &label), missing_hint(s)),
        FindingKind::Blocked => blocked(s, &label, from),
        FindingKind::Exposed => exposed(s, &label),
        FindingKind::Unexpected => unexpected(s, &label),
        // Whole-node findings are built by `unreachable`, identity findings
        // by `identity` (which words them itself); kept total anyway.
        FindingKind::Unreachable => unreachable(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        FindingKind::Impostor | FindingKind::Insecure => (format!("{label}: see the service that answered."), String::new()),
        FindingKind::Unresolved => (
            format!(
                "{label} was silent, but the scan could not confirm the silence: the node's ICMP \
                 errors were rate limited, so the port may be closed (missing) as well as healthy."
            ),
            format!(
                "Scan again with a longer --icmp-wait (the scan report suggests one), or check on the \
                 node with {}.",
                ss(s.protocol, s.port)
            ),
        ),
    }
}

fn conflict(s: &Subject) -> (String, String) {
    let find = ss(s.protocol, s.port);
    if s.entry.is_none() && s.in_nodeport_range {
        return (
            format!(
                "{}/{} in the NodePort range {} is already in use before install: a Service \
                 given this NodePort would collide with the process.",
                s.port, s.protocol, s.nodeport_range
            ),
            format!(
                "Stop or move the process shown by {find} on the node, or set a \
                 --service-node-port-range that avoids it."
            ),
        );
    }
    let message = format!(
        "{}/{} is already in use before install: {} will fail to bind it.",
        s.port, s.protocol, s.component
    );
    let hint = if CORE.contains(&s.component) {
        format!(
            "A previous Kubernetes install probably still runs here: `kubeadm reset` (or kubeasz \
             `ezctl destroy`), or stop the process shown by {find}."
        )
    } else if [
        "flannel",
        "calico",
        "calico-typha",
        "cilium-agent",
        "cilium-operator",
    ]
    .contains(&s.component)
    {
        format!(
            "A CNI from a previous install may still run: remove it (and its interfaces), or stop \
             the process shown by {find}."
        )
    } else {
        format!("Stop or move the process shown by {find} on the node before installing.")
    };
    (message, hint)
}

fn missing_message(s: &Subject, label: &str) -> String {
    match s.protocol {
        Protocol::Tcp => {
            format!("{label} is closed (the node answered RST): nothing listens on it.")
        }
        Protocol::Udp => format!(
            "{label} is closed (the node answered ICMP port unreachable): nothing listens on it."
        ),
    }
}

fn missing_hint(s: &Subject) -> String {
    let (port, proto) = (s.port, s.protocol);
    if let Some(svc) = s.service {
        return format!(
            "Check that Service {ns}/{name} still has NodePort {port} and ready endpoints \
             (`kubectl -n {ns} get endpoints {name}`); with externalTrafficPolicy: Local only \
             nodes running its pods answer.",
            ns = svc.namespace,
            name = svc.name
        );
    }
    if let Some(addon) = s.entry.and_then(|e| e.when.as_ref()).and_then(|w| w.addon) {
        if addon != crate::plan::Addon::Ingress {
            return format!(
                "Check the {addon} add-on: its Service must keep NodePort {port} and have ready \
                 pods (`kubectl get svc -A | grep {port}`)."
            );
        }
    }
    match s.component {
        "kube-apiserver" => "Check the kube-apiserver static pod or service (`crictl ps -a --name \
             kube-apiserver`, `journalctl -u kube-apiserver`) and its --secure-port and \
             --bind-address."
            .to_string(),
        "etcd" => "Check etcd (`systemctl status etcd` or its static pod) and that \
             --listen-client-urls and --listen-peer-urls include the node's address, not only \
             127.0.0.1."
            .to_string(),
        "kubelet" => "Check kubelet (`systemctl status kubelet`, `journalctl -u kubelet`) and its \
             --port and --address settings."
            .to_string(),
        "kube-proxy" => "Check the kube-proxy pod or service on the node and its \
             --healthz-bind-address (default 0.0.0.0:10256)."
            .to_string(),
        "ingress-controller" => format!(
            "Check that the ingress controller runs on this node with hostNetwork or hostPort \
             {port} (`kubectl -n ingress-nginx get pods -o wide`)."
        ),
        "flannel" => format!(
            "Check the kube-flannel pod on this node and its backend (`ip -d link show \
             flannel.1` for VXLAN): it should listen on {port}/udp."
        ),
        "calico" => "Check calico-node on this node (`calicoctl node status`): BGP must listen on \
             179/tcp."
            .to_string(),
        "calico-typha" => "Check the calico-typha pods: Typha runs on a few nodes only, so a node \
             without one does not listen on 5473/tcp."
            .to_string(),
        "cilium-agent" => format!(
            "Check the Cilium agent on this node (`cilium status`, `kubectl -n kube-system get \
             pods -l k8s-app=cilium -o wide`) and the option that enables {port}/{proto}."
        ),
        "cilium-operator" => "Check the cilium-operator pods (`kubectl -n kube-system get pods -l \
             name=cilium-operator -o wide`): the operator runs on a few nodes only."
            .to_string(),
        "kube-vip" => "Check the kube-vip pod on this node and that its Prometheus listener \
             (prometheus_server, :2112) is on."
            .to_string(),
        "harbor" => format!(
            "Check harbor on the registry host (`docker compose ps` in its install directory) \
             and that it publishes {port}/tcp."
        ),
        "chrony" => "Check chronyd on the registry host (`chronyc tracking`) and that chrony.conf \
             has an `allow` line for the node network."
            .to_string(),
        c => format!("Check that {c} runs on this node and listens on {port}/{proto}."),
    }
}

fn blocked(s: &Subject, label: &str, from: Vantage) -> (String, String) {
    let message = format!(
        "{label} is filtered from the {from} vantage ({}): a firewall or security group drops \
         or rejects it.",
        filtered_how(s.protocol, s.reason)
    );
    let audience = s.entry.map_or(Audience::All, |e| e.audience);
    let (port, proto) = (s.port, s.protocol);
    let allow = format!(
        "allow {port}/{proto} from {} in the node's firewall (firewalld, ufw, nftables) and in \
         any cloud security group",
        who(audience)
    );
    let hint = match s.component {
        "kubelet" => {
            format!("Without it the API server cannot exec, fetch logs or scrape metrics: {allow}.")
        }
        "etcd" => format!("etcd members and kube-apiserver talk on it: {allow}."),
        "kube-apiserver" => format!("Every kubelet and client needs it: {allow}."),
        "flannel" => format!(
            "It is flannel's tunnel, pod traffic between nodes needs it: {allow}; on clouds, \
             check that the network passes UDP between nodes."
        ),
        "calico" => {
            format!("It is Calico's BGP peering: {allow}; with IP-in-IP, allow IP protocol 4 too.")
        }
        _ => {
            let mut h = allow;
            if let Some(first) = h.get(..1) {
                let upper = first.to_ascii_uppercase();
                h.replace_range(..1, &upper);
            }
            h.push('.');
            h
        }
    };
    (message, hint)
}

fn exposed(s: &Subject, label: &str) -> (String, String) {
    let legacy = s.entry.is_some_and(|e| e.legacy);
    let message = if legacy {
        format!(
            "{label} answers from another host: the legacy insecure HTTP port (no \
             authentication) is enabled and reachable."
        )
    } else {
        format!("{label} answers from another host: it is bound to a non-loopback address.")
    };
    let port = s.port;
    let hint = match (s.component, legacy) {
        ("kube-scheduler", true) => "Disable the insecure port (--port=0) or upgrade to \
             Kubernetes 1.23+; firewall it meanwhile."
            .to_string(),
        ("kube-controller-manager", true) => "Disable the insecure port (--port=0) or upgrade to \
             Kubernetes 1.22+; firewall it meanwhile."
            .to_string(),
        ("kube-scheduler" | "kube-controller-manager", false) => {
            "Bind it to 127.0.0.1 (--bind-address=127.0.0.1) or firewall it.".to_string()
        }
        ("kubelet", true) => "Disable the kubelet's read-only port (readOnlyPort: 0, \
             --read-only-port=0) or firewall it."
            .to_string(),
        ("kubelet", false) if port == 10248 => "Set the kubelet's healthzBindAddress to \
             127.0.0.1 (--healthz-bind-address) or firewall it."
            .to_string(),
        ("ingress-controller", _) => format!(
            "hostNetwork exposes every port of the ingress pod: bind its status and metrics \
             port to 127.0.0.1 or firewall {port}/tcp."
        ),
        ("cilium-agent" | "cilium-operator", _) => format!(
            "Keep it on localhost (Cilium's default: check --pprof-address, --gops-port and \
             the health options) or firewall {port}/tcp."
        ),
        (_, true) => "Disable the legacy insecure port or firewall it.".to_string(),
        (_, false) => "Bind it to 127.0.0.1 or firewall it.".to_string(),
    };
    (message, hint)
}

fn unexpected(s: &Subject, label: &str) -> (String, String) {
    let find = ss(s.protocol, s.port);
    let node_roles = roles_text(s.node_roles);
    if s.in_nodeport_range && s.planned_roles.is_empty() {
        return if s.node_has_range {
            (
                format!(
                    "An unknown listener answers on {}/{} in the NodePort range {}: no add-on or \
                     known Service uses it, so a host process squats a port the API server may \
                     allocate to a Service.",
                    s.port, s.protocol, s.nodeport_range
                ),
                format!(
                    "Find it with {find} on the node and stop or move it; if it is a Service's \
                     NodePort, pass --services (kubectl get svc -A -o json) so the audit knows it."
                ),
            )
        } else {
            (
                format!(
                    "{}/{} answers in the NodePort range, but the plan gives this node \
                     ({node_roles}) no NodePorts: it runs no kube-proxy.",
                    s.port, s.protocol
                ),
                format!("Find it with {find} on the node and stop it, or firewall the port."),
            )
        };
    }
    if s.planned_roles.is_empty() {
        return (
            format!(
                "{}/{} answers, but the plan gives this port to no role of this node \
                 ({node_roles}).",
                s.port, s.protocol
            ),
            format!(
                "Find it with {find} and stop it or firewall the port; if it belongs here, add it \
                 to a user plan."
            ),
        );
    }
    let planned = roles_text(&s.planned_roles);
    let message = format!(
        "{label} answers, but the plan gives it to {planned} nodes and this node is {node_roles}."
    );
    let hint = match s.component {
        "etcd" => format!(
            "An etcd on a {node_roles} node is a leftover or a misplaced member: stop it, or give \
             the node the control-plane role in the inventory if it is one."
        ),
        "harbor" | "chrony" => format!(
            "If this node is the registry host, add the registry role to it in the inventory; \
             otherwise stop the service shown by {find}."
        ),
        c if CONTROL_PLANE.contains(&c) => format!(
            "A control-plane component runs on a node the inventory does not list as \
             control-plane: fix the node's roles, or stop the leftover (`kubeadm reset`, or {find})."
        ),
        c => format!(
            "If this node should have the role {}, fix the inventory; otherwise stop {c} \
             here (see {find}) or firewall {}/{}.",
            listed(&s.planned_roles, "or").unwrap_or_default(),
            s.port, s.protocol
        ),
    };
    (message, hint)
}
