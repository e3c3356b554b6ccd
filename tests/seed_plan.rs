//! The built-in plan checked against the original port table itself
//! (`fixtures/seed/k8s-ports.md`, a copy of the project's seed), read here
//! with a small Markdown reader of its own: a plan that drops, moves or
//! misreads a row fails, whatever the plan code believes.
//!
//! Where the table is silent on which roles a section's rows belong to, the
//! placement below is the README's documented choice, written down here
//! again independently of `fixtures/plans/k8s.yaml`.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use portsweep::plan::{Audience, ClusterOptions, Plan, Protocol};

/// One data row of the seed table.
#[derive(Debug, Clone)]
struct SeedRow {
    section: String,
    protocol: Protocol,
    ports: Vec<u16>,
    user: String,
    purpose: String,
}

fn seed_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/seed/k8s-ports.md")).expect("the seed table is in fixtures/seed")
}

/// Rows of `| proto | direction | ports | user | purpose |` under bold
/// section rows (`| **Flannel** | … |`); the header and rule rows skipped.
fn seed_rows(text: &str) -> Vec<SeedRow> {
    let mut section = String::new();
    let mut rows = Vec::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('|')) {
        let cells: Vec<&str> = line.trim().trim_matches('|').split('|').map(str::trim).collect();
        if let Some(name) = cells[0].strip_prefix("**").and_then(|c| c.strip_suffix("**")) {
            section = name.to_string();
            continue;
        }
        let protocol = match cells[0].to_ascii_lowercase().as_str() {
            "tcp" => Protocol::Tcp,
            "udp" => Protocol::Udp,
            _ => continue, // 协议 header rows and --- rules
        };
        let mut ports = Vec::new();
        for part in cells[2].split(',') {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            ports.extend(a.trim().parse::<u16>().expect("a port")..=b.trim().parse::<u16>().expect("a port"));
        }
        rows.push(SeedRow { section: section.clone(), protocol, ports, user: cells[3].to_string(), purpose: cells[4].to_string() });
    }
    rows
}

const CP: &str = "control-plane";
const WORKER: &str = "worker";
const REGISTRY: &str = "registry";

/// The roles a seed row belongs to under `opts`, or none when the cluster
/// options leave it out: the documented reading of the table.
fn placement(row: &SeedRow, opts: &Opts) -> Vec<&'static str> {
    let both = vec![CP, WORKER];
    let when = |cond: bool, roles: Vec<&'static str>| if cond { roles } else { Vec::new() };
    match row.section.as_str() {
        "离线安装时节点" => vec![REGISTRY],
        "控制平面节点" => vec![CP],
        // kube-proxy and the NodePort range run on control-plane nodes too.
        "工作节点" if row.user == "NodePort Services" || row.user == "kube-proxy" => both,
        "工作节点" if row.user == "ingress-controller" => when(opts.addons.contains("ingress"), vec![WORKER]),
        "工作节点" => vec![WORKER],
        "Flannel" if row.ports == [8285] => when(opts.cni == "flannel" && opts.backend == "udp", both),
        "Flannel" => when(opts.cni == "flannel" && opts.backend == "vxlan", both),
        "Calico" => when(opts.cni == "calico", both),
        "cilium" => when(opts.cni == "cilium", both),
        "load-balancer" => when(opts.lb == "kube-vip", vec![CP]),
        addon @ ("kuboard" | "grafana" | "redis") => when(opts.addons.contains(addon), both),
        other => panic!("a seed section this test does not place: {other}"),
    }
}

/// The one row the plan adds to the seed (README): Cilium's VXLAN tunnel.
fn additions(opts: &Opts) -> Vec<(&'static str, Protocol, u16)> {
    match opts.cni {
        "cilium" => vec![(CP, Protocol::Udp, 8472), (WORKER, Protocol::Udp, 8472)],
        _ => Vec::new(),
    }
}

struct Opts {
    cni: &'static str,
    backend: &'static str,
    lb: &'static str,
    addons: BTreeSet<&'static str>,
}

impl Opts {
    fn flag_text(&self) -> String {
        let addons: Vec<&str> = self.addons.iter().copied().collect();
        let mut s = format!("cni={},flannel-backend={},lb={}", self.cni, self.backend, self.lb);
        if !addons.is_empty() {
            s += &format!(",addons={}", addons.join("+"));
        }
        s
    }
}

fn option_sets() -> Vec<Opts> {
    let all_addons: BTreeSet<&str> = ["ingress", "kuboard", "grafana", "redis"].into();
    let mut v = Vec::new();
    for cni in ["flannel", "calico", "cilium"] {
        for backend in ["vxlan", "udp"] {
            for lb in ["none", "kube-vip"] {
                for addons in [BTreeSet::new(), all_addons.clone(), ["ingress"].into(), ["redis", "grafana"].into()] {
                    v.push(Opts { cni, backend, lb, addons });
                }
            }
        }
    }
    v
}

type RolePorts = BTreeMap<&'static str, BTreeSet<(Protocol, u16)>>;

fn expected_ports(rows: &[SeedRow], opts: &Opts) -> RolePorts {
    let mut out: RolePorts = [(CP, BTreeSet::new()), (WORKER, BTreeSet::new()), (REGISTRY, BTreeSet::new())].into();
    for row in rows {
        for role in placement(row, opts) {
            out.entry(role).or_default().extend(row.ports.iter().map(|&p| (row.protocol, p)));
        }
    }
    for (role, proto, port) in additions(opts) {
        out.entry(role).or_default().insert((proto, port));
    }
    out
}

#[test]
fn the_seed_fixture_is_the_shared_seed() {
    // CI lays ../shared beside the clone; where it is, the copy must match.
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed/k8s-ports.md");
    if let Ok(original) = std::fs::read_to_string(&shared) {
        assert_eq!(seed_text(), original, "fixtures/seed/k8s-ports.md differs from {}", shared.display());
    }
    // Every row of the table is read: 3 + 5 + 7 + 2 + 2 + 1 + 11 + 1 + 1 + 1.
    let rows = seed_rows(&seed_text());
    assert_eq!(rows.len(), 34);
    let ports: usize = rows.iter().map(|r| r.ports.len()).sum();
    assert_eq!(ports, 3 + 2 + 2 + 2 + 2 + 1 + 4 + 2 + 2768 + 1 + 2 + 2 + 1 + 11 + 3);
}

#[test]
fn every_seed_row_is_planned_on_its_roles_under_every_option_set() {
    let rows = seed_rows(&seed_text());
    let plan = Plan::builtin();
    let sets = option_sets();
    assert_eq!(sets.len(), 48);
    for opts in &sets {
        let parsed: ClusterOptions = opts.flag_text().parse().expect("options parse");
        let effective = plan.effective(&parsed);
        for (role, want) in expected_ports(&rows, opts) {
            let (tcp, udp) = effective.ports_for_roles(&[role.to_string()]);
            let got: BTreeSet<(Protocol, u16)> = tcp.into_iter().map(|p| (Protocol::Tcp, p)).chain(udp.into_iter().map(|p| (Protocol::Udp, p))).collect();
            let missing: Vec<_> = want.difference(&got).collect();
            let extra: Vec<_> = got.difference(&want).collect();
            assert!(missing.is_empty() && extra.is_empty(), "{} {role}: missing {missing:?}, not in the seed {extra:?}", opts.flag_text());
        }
    }
}

#[test]
fn audiences_follow_the_seed_where_it_says_all_or_self() {
    // The purpose column names who reaches a port; "All" and "Self" are
    // unambiguous (the other readings are the README's documented choices).
    let rows = seed_rows(&seed_text());
    let opts = Opts { cni: "flannel", backend: "vxlan", lb: "kube-vip", addons: ["ingress", "kuboard", "grafana", "redis"].into() };
    let effective = Plan::builtin().effective(&opts.flag_text().parse().expect("options parse"));
    let mut checked = 0;
    for row in rows.iter().filter(|r| !placement(r, &opts).is_empty()) {
        let want = match row.purpose.as_str() {
            "All" => Audience::All,
            "Self" => Audience::SelfOnly,
            _ => continue,
        };
        for &port in &row.ports {
            for role in placement(row, &opts) {
                let roles = [role.to_string()];
                let audiences: Vec<Audience> = effective.entries_for_port(row.protocol, port, &roles).map(|e| e.audience).collect();
                assert!(audiences.contains(&want), "{port}/{:?} on {role}: seed says {}, plan has {audiences:?}", row.protocol, row.purpose);
                checked += 1;
            }
        }
    }
    // 6443; ingress 80, 443 (All) and 18443, 10254 (Self); NodePorts on two
    // roles; 10251, 10259, 10252, 10257 (Self).
    assert_eq!(checked, 1 + 2 + 2 + 2768 * 2 + 4);
}
