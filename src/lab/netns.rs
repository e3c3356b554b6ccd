//! The namespace lab: real hosts for real packets, on this machine only.
//!
//! Two namespaces joined by a veth pair: the scanner's (198.18.0.1, whose
//! only route, 198.18.0.0/15, leads to the target namespace) and the
//! targets' (198.18.0.2), where every IPv4 address the scenario names is
//! made local with an AnyIP route (`ip route add local CIDR dev lo`). A
//! scenario with IPv6 addresses gets the same over 2001:2::/48: scanner
//! 2001:2::1, targets 2001:2::2 (link net 2001:2::/64), but every IPv6 lab
//! address is its own `/128 nodad` on lo, because the kernel sends ICMPv6
//! errors for an AnyIP-only address from the veth's address (a scanner
//! would then see closed UDP ports as filtered); every IPv6 address is
//! `nodad`, or probes are lost for ~2 s while it is tentative, and the
//! target's veth has tx checksum offload off so replies carry complete
//! checksums. Open ports are kernel TCP listeners on the wildcard address;
//! nftables sets of (address . port), one table per family, make each pair
//! behave as the scenario says (drop, admin-prohibited, reset), drop dead
//! hosts, and add random loss. The
//! namespaces are deleted when the `Lab` is dropped, and stale ones left by
//! a killed process can be removed with [`Lab::clean_stale`]. The scanner
//! namespace gets its own `/etc/netns/NS/` files (hosts, resolver; see
//! [`super::etc`]), removed with it.
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, TcpListener};
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use std::collections::{BTreeMap, BTreeSet};

use super::scenario::{Behaviour, Scenario};
use crate::space::Protocol;

pub const SCANNER_ADDR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const TARGET_GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const SCANNER_ADDR6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
pub const TARGET_GATEWAY6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);
const SCANNER_IF: &str = "psw-s";
const TARGET_IF: &str = "psw-t";
const PREFIX: &str = "psw";

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("`{tool}` is needed to build the lab: install it with `apt-get install -y {package}`")]
    MissingTool { tool: &'static str, package: &'static str },
    #[error("building the lab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN): run as root")]
    NotRoot,
    #[error("lab command `{command}` failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("lab: {0}")]
    Io(#[from] io::Error),
}

/// A running lab; dropping it tears it down.
pub struct Lab {
    pub name: String,
    scanner_ns: String,
    target_ns: String,
    listeners: Vec<TcpListener>,
    responder: Option<super::responder::Responder>,
    etc: Option<super::etc::EtcFiles>,
    daemons: Vec<super::daemons::Daemon>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn run(cmd: &mut Command, input: Option<&str>) -> Result<(), LabError> {
    let shown = format!("{cmd:?}").replace('"', "");
    let mut child = cmd
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| LabError::Command { command: shown.clone(), stderr: e.to_string() })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(LabError::Command { command: shown, stderr: String::from_utf8_lossy(&out.stderr).trim().to_string() })
    }
}

fn tool_present(tool: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().any(|d| std::path::Path::new(d).join(tool).exists())
}

/// Runs `f` on a thread that has entered network namespace `ns`. Sockets
/// it creates belong to `ns` for their whole life; threads it spawns start
/// in `ns` too.
pub fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> io::Result<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&path)?;
            // SAFETY: setns on a valid namespace fd; affects this thread only.
            if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(f())
        })
        .join()
        .map_err(|_| io::Error::other("lab thread panicked"))?
    })
}

/// The CIDR blocks that exactly cover an inclusive range.
pub fn cidrs(mut a: u32, b: u32) -> Vec<(Ipv4Addr, u8)> {
    let mut out = Vec::new();
    loop {
        let mut size = if a == 0 { 32 } else { a.trailing_zeros() };
        while size > 0 && (a as u64 + (1u64 << size) - 1) > b as u64 {
            size -= 1;
        }
        out.push((Ipv4Addr::from(a), (32 - size) as u8));
        let next = a as u64 + (1u64 << size);
        if next > b as u64 {
            return out;
        }
        a = next as u32;
    }
}

impl Lab {
    /// Builds the lab a scenario describes.
    pub fn build(scenario: &Scenario) -> Result<Lab, LabError> {
        // ethtool only turns off the veth's checksum offload for IPv6.
        let ethtool = scenario.has_ipv6().then_some(("ethtool", "ethtool"));
        for (tool, package) in [("ip", "iproute2"), ("nft", "nftables")].into_iter().chain(ethtool) {
            if !tool_present(tool) {
                return Err(LabError::MissingTool { tool, package });
            }
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err(LabError::NotRoot);
        }
        let name = format!("{PREFIX}{}x{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut lab = Lab { scanner_ns: format!("{name}s"), target_ns: format!("{name}t"), name, listeners: Vec::new(), responder: None, etc: None, daemons: Vec::new() };
        // On any error below, dropping `lab` deletes what was made.
        lab.etc = Some(super::etc::EtcFiles::write(&lab.name, &lab.scanner_ns, &scenario.names)?);
        lab.build_network(scenario)?;
        lab.apply_firewall(scenario)?;
        super::daemons::check_installed(scenario.daemons.iter().map(|d| d.kind))?;
        lab.start_listeners(scenario)?;
        for spec in &scenario.daemons {
            let d = super::daemons::start(&lab.target_ns, spec)?;
            lab.daemons.push(d);
        }
        Ok(lab)
    }

    pub fn scanner_ns(&self) -> &str {
        &self.scanner_ns
    }

    pub fn target_ns(&self) -> &str {
        &self.target_ns
    }

    fn build_network(&mut self, scenario: &Scenario) -> Result<(), LabError> {
        let (s, t) = (self.scanner_ns.clone(), self.target_ns.clone());
        run(Command::new("ip").args(["netns", "add", &s]), None)?;
        run(Command::new("ip").args(["netns", "add", &t]), None)?;
        let mut script = String::new();
        let _ = writeln!(script, "link add {SCANNER_IF} type veth peer name {TARGET_IF} netns {t}");
        let _ = writeln!(script, "addr add {SCANNER_ADDR}/30 dev {SCANNER_IF}");
        let _ = writeln!(script, "link set lo up");
        let _ = writeln!(script, "link set {SCANNER_IF} up");
        let _ = writeln!(script, "route add 198.18.0.0/15 via {TARGET_GATEWAY}");
        let ipv6 = scenario.has_ipv6();
        if ipv6 {
            let _ = writeln!(script, "addr add {SCANNER_ADDR6}/64 dev {SCANNER_IF} nodad");
            let _ = writeln!(script, "route add 2001:2::/48 via {TARGET_GATEWAY6}");
        }
        run(Command::new("ip").args(["-n", &s, "-batch", "-"]), Some(&script))?;
        let mut script = String::new();
        let _ = writeln!(script, "addr add {TARGET_GATEWAY}/30 dev {TARGET_IF}");
        let _ = writeln!(script, "link set lo up");
        let _ = writeln!(script, "link set {TARGET_IF} up");
        for (a, b) in scenario.present_hosts().v4_ranges() {
            for (net, prefix) in cidrs(a, b) {
                let _ = writeln!(script, "route add local {net}/{prefix} dev lo");
            }
        }
        if ipv6 {
            let _ = writeln!(script, "addr add {TARGET_GATEWAY6}/64 dev {TARGET_IF} nodad");
            // An address that is no host must be silent, as in IPv4; without
            // this route the kernel answers ICMPv6 no-route (code 0) for it.
            let _ = writeln!(script, "route add blackhole 2001:2::/48");
            for addr in scenario.present_hosts().iter().filter(IpAddr::is_ipv6) {
                let _ = writeln!(script, "addr add {addr}/128 dev lo nodad");
            }
        }
        run(Command::new("ip").args(["-n", &t, "-batch", "-"]), Some(&script))?;
        if ipv6 {
            // Without it, SYN-ACKs over the veth carry partial checksums.
            run(Command::new("ip").args(["netns", "exec", &t, "ethtool", "-K", TARGET_IF, "tx", "off"]), None)?;
        }
        // Deep SYN and accept queues (listeners never accept). Unless the
        // scenario asks for the kernel's own ICMP limiter, lift it: one
        // namespace answers for every node, and real nodes each have their
        // own budget (modelled per address by nftables, see `ruleset`).
        let icmp = scenario.icmp.namespace_sysctls();
        in_netns(&t, || -> io::Result<()> {
            let mut keys = vec![("net/ipv4/tcp_max_syn_backlog", "65536".to_string()), ("net/core/somaxconn", "65535".to_string())];
            if let Some((ratelimit, per_sec, burst)) = icmp {
                // ICMPv6 has its own per-destination limiter (the global
                // one is shared by both families).
                keys.extend([("net/ipv4/icmp_ratelimit", ratelimit.to_string()), ("net/ipv6/icmp/ratelimit", ratelimit.to_string()), ("net/ipv4/icmp_msgs_per_sec", per_sec.to_string()), ("net/ipv4/icmp_msgs_burst", burst.to_string())]);
            }
            for (key, value) in keys {
                // Some keys are global on older kernels: best effort.
                let _ = std::fs::write(format!("/proc/sys/{key}"), value);
            }
            Ok(())
        })??;
        let mac = in_netns(&t, || std::fs::read_to_string(format!("/sys/class/net/{TARGET_IF}/address")))?;
        // A permanent neighbour entry: no ARP on the hot path.
        if let Ok(mac) = mac {
            run(Command::new("ip").args(["-n", &s, "neigh", "replace", &TARGET_GATEWAY.to_string(), "lladdr", mac.trim(), "dev", SCANNER_IF, "nud", "permanent"]), None)?;
            if ipv6 {
                run(Command::new("ip").args(["-n", &s, "neigh", "replace", &TARGET_GATEWAY6.to_string(), "lladdr", mac.trim(), "dev", SCANNER_IF, "nud", "permanent"]), None)?;
            }
        }
        Ok(())
    }

    /// The nftables ruleset for the scenario (public for inspection/tests):
    /// a `table ip psw` for the IPv4 addresses and, when the scenario has
    /// IPv6 ones, a `table ip6 psw6` for those.
    pub fn ruleset(scenario: &Scenario) -> String {
        let mut out = Self::table(scenario, &IPV4_WORDS);
        if scenario.has_ipv6() {
            out.push_str(&Self::table(scenario, &IPV6_WORDS));
        }
        out
    }

    /// One family's table.
    fn table(scenario: &Scenario, w: &FamilyWords) -> String {
        let mut sets: BTreeMap<(Protocol, Behaviour), Vec<String>> = Default::default();
        let mut listen_ports = BTreeSet::new();
        let family = |a: &IpAddr| a.is_ipv6() == w.ipv6;
        // The wildcard listeners take both families: every table resets
        // every port some address of either family listens on.
        for addr in scenario.present_hosts().iter() {
            for (port_range, behaviour) in pair_behaviours(scenario, addr, Protocol::Tcp) {
                if behaviour == Behaviour::Open {
                    listen_ports.extend(port_range.0..=port_range.1);
                }
            }
        }
        for addr in scenario.present_hosts().iter().filter(family) {
            for proto in [Protocol::Tcp, Protocol::Udp] {
                for (port_range, behaviour) in pair_behaviours(scenario, addr, proto) {
                    if behaviour != Behaviour::Closed {
                        let ports = if port_range.0 == port_range.1 { port_range.0.to_string() } else { format!("{}-{}", port_range.0, port_range.1) };
                        sets.entry((proto, behaviour)).or_default().push(format!("{addr} . {ports}"));
                    }
                }
            }
        }
        let dead: Vec<String> = if w.ipv6 {
            scenario.dead_hosts().ranges().iter().filter(|r| family(&r.0)).map(|&(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") }).collect()
        } else {
            scenario.dead_hosts().v4_ranges().flat_map(|(a, b)| cidrs(a, b)).map(|(n, p)| format!("{n}/{p}")).collect()
        };
        let loss = (scenario.loss_percent * 10.0).round() as u32;
        let mut out = format!("table {} {{\n", w.table);
        let set = |out: &mut String, name: &str, ty: &str, elements: &[String]| {
            let _ = writeln!(out, "  set {name} {{\n    type {ty}; flags interval;");
            if !elements.is_empty() {
                let _ = writeln!(out, "    elements = {{ {} }}", elements.join(", "));
            }
            out.push_str("  }\n");
        };
        set(&mut out, "dead", w.addr_type, &dead);
        let pairs = format!("{} . inet_service", w.addr_type);
        for (proto, prefix) in [(Protocol::Tcp, ""), (Protocol::Udp, "udp_")] {
            for (b, name) in [(Behaviour::Drop, "drop_pairs"), (Behaviour::Prohibit, "prohibit_pairs"), (Behaviour::Open, "open_pairs")] {
                set(&mut out, &format!("{prefix}{name}"), &pairs, sets.get(&(proto, b)).map(Vec::as_slice).unwrap_or(&[]));
            }
        }
        let ports: Vec<String> = listen_ports.iter().map(u16::to_string).collect();
        set(&mut out, "listen_ports", "inet_service", &ports);
        let per_node = scenario.icmp.per_node_rate();
        if per_node.is_some() {
            let _ = writeln!(out, "  set icmp_budget {{\n    type {}; flags dynamic; timeout 10m;\n  }}", w.addr_type);
        }
        let _ = writeln!(out, "  chain input {{\n    type filter hook input priority 0; policy accept;\n    iifname != \"{TARGET_IF}\" accept");
        if loss > 0 {
            let _ = writeln!(out, "    numgen random mod 1000 < {loss} drop");
        }
        let (daddr, icmp) = (w.daddr, w.icmp);
        let _ = write!(
            out,
            "    {daddr} @dead drop\n\
             \x20   {daddr} . tcp dport @drop_pairs drop\n\
             \x20   {daddr} . tcp dport @prohibit_pairs reject with {icmp} type admin-prohibited\n\
             \x20   {daddr} . tcp dport @open_pairs accept\n\
             \x20   tcp dport @listen_ports reject with tcp reset\n\
             \x20   {daddr} . udp dport @udp_drop_pairs drop\n\
             \x20   {daddr} . udp dport @udp_prohibit_pairs reject with {icmp} type admin-prohibited\n\
             \x20   {daddr} . udp dport @udp_open_pairs accept\n",
        );
        if let Some(rate) = per_node {
            // Linux's per-destination limiter (burst 6, then `rate`/s), kept
            // per lab address as a real node keeps it.
            let _ = writeln!(out, "    meta l4proto udp add @icmp_budget {{ {daddr} limit rate {rate}/second burst 6 packets }} reject with {icmp} type port-unreachable");
            out.push_str("    meta l4proto udp drop\n");
        }
        out.push_str("  }\n");
        if loss > 0 {
            let _ = writeln!(out, "  chain output {{\n    type filter hook output priority 0; policy accept;\n    oifname \"{TARGET_IF}\" numgen random mod 1000 < {loss} drop\n  }}");
        }
        out.push_str("}\n");
        out
    }

    fn apply_firewall(&self, scenario: &Scenario) -> Result<(), LabError> {
        run(Command::new("ip").args(["netns", "exec", &self.target_ns, "nft", "-f", "-"]), Some(&Self::ruleset(scenario)))
    }

    fn start_listeners(&mut self, scenario: &Scenario) -> Result<(), LabError> {
        let mut ports = BTreeSet::new();
        let mut udp_pairs = Vec::new();
        // Pairs a real daemon serves are left to it; on a port a daemon
        // binds, the other addresses get listeners of their own (a wildcard
        // listener would take the port from the daemon).
        let daemon_pairs: BTreeSet<(Protocol, std::net::IpAddr, u16)> = scenario.daemons.iter().flat_map(|d| d.ports.iter().map(move |&p| (if d.kind.udp() { Protocol::Udp } else { Protocol::Tcp }, d.address, p))).collect();
        let daemon_ports: BTreeSet<u16> = daemon_pairs.iter().filter(|d| d.0 == Protocol::Tcp).map(|d| d.2).collect();
        let mut pair_listeners = Vec::new();
        for addr in scenario.present_hosts().iter() {
            for proto in [Protocol::Tcp, Protocol::Udp] {
                for ((lo, hi), b) in pair_behaviours(scenario, addr, proto) {
                    for p in lo..=hi {
                        if b != Behaviour::Open || daemon_pairs.contains(&(proto, addr, p)) {
                            continue;
                        }
                        match proto {
                            Protocol::Tcp if daemon_ports.contains(&p) => pair_listeners.push((addr, p)),
                            Protocol::Tcp => {
                                ports.insert(p);
                            }
                            Protocol::Udp => udp_pairs.push((addr, p)),
                        }
                    }
                }
            }
        }
        raise_fd_limit(ports.len() as u64 + udp_pairs.len() as u64 + 1024);
        let ipv6 = scenario.has_ipv6();
        if !udp_pairs.is_empty() {
            let sockets = in_netns(&self.target_ns, || udp_pairs.iter().map(|&(a, p)| std::net::UdpSocket::bind((a, p))).collect::<io::Result<Vec<_>>>())??;
            self.responder = Some(super::responder::Responder::start(sockets)?);
        }
        let listeners = in_netns(&self.target_ns, || -> io::Result<Vec<TcpListener>> {
            let mut v = Vec::with_capacity(ports.len());
            // `[::]` takes IPv4 too (v4-mapped): one listener per port
            // either way, as a second wildcard on the port would collide.
            let any = if ipv6 { IpAddr::V6(Ipv6Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::UNSPECIFIED) };
            let wildcard = ports.iter().map(|&p| (any, p));
            for (addr, port) in wildcard.chain(pair_listeners.iter().copied()) {
                let l = TcpListener::bind((addr, port))?;
                // SAFETY: re-listen on our own socket to deepen its backlog.
                unsafe { libc::listen(l.as_raw_fd(), 65535) };
                v.push(l);
            }
            Ok(v)
        })??;
        self.listeners = listeners;
        Ok(())
    }

    /// Runs `f` inside the scanner namespace (threads it starts stay there).
    pub fn in_scanner<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        in_netns(&self.scanner_ns, f)
    }

    /// Sends `count` forged replies (bad cookies) to the scanner from the
    /// target namespace, spread over `over`, on a thread; returns its handle.
    pub fn inject_strays(&self, scenario: &Scenario, count: u32, over: Duration) -> std::thread::JoinHandle<io::Result<u32>> {
        let ns = self.target_ns.clone();
        let hosts = scenario.present_hosts();
        std::thread::spawn(move || in_netns(&ns, move || super::sim::send_strays(&hosts, count, over))?)
    }

    /// Floods the scanner from the target namespace with `deck` (see
    /// [`super::flood`]) through a packet socket on the target's end of the
    /// veth, so every byte arrives as forged: at most `max_packets`, for at
    /// most `max_time`, on a thread; returns its handle.
    pub fn flood(&self, deck: Vec<super::flood::FloodPacket>, max_packets: u64, max_time: Duration) -> io::Result<std::thread::JoinHandle<io::Result<super::flood::FloodRecord>>> {
        let mac = self.scanner_mac()?;
        let ns = self.target_ns.clone();
        Ok(std::thread::spawn(move || {
            in_netns(&ns, move || {
                let mut sink = crate::io::raw::RawSender::open_link(TARGET_IF, mac, 256)?;
                let mut record = super::flood::send_flood(&deck, &mut sink, max_packets, max_time)?;
                record.refused = sink.skipped();
                Ok(record)
            })?
        }))
    }

    /// The link address of the scanner's end of the veth.
    fn scanner_mac(&self) -> io::Result<[u8; 6]> {
        let out = Command::new("ip").args(["-n", &self.scanner_ns, "-o", "link", "show", SCANNER_IF]).output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mac = text.split_whitespace().skip_while(|w| *w != "link/ether").nth(1).unwrap_or("");
        let octets: Vec<u8> = mac.split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
        octets.try_into().map_err(|_| io::Error::other(format!("no link address for {SCANNER_IF} in `ip link` output: {text}")))
    }

    /// Deletes lab namespaces (and their `/etc/netns` files) whose
    /// creating process is gone.
    pub fn clean_stale() -> Result<Vec<String>, LabError> {
        let stale = |name: &str| -> bool {
            let Some((pid, _)) = name.strip_prefix(PREFIX).and_then(|rest| rest.split_once('x')) else { return false };
            pid.parse::<u32>().is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
        };
        let out = Command::new("ip").args(["netns", "list"]).output()?;
        let mut removed = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if stale(name) {
                run(Command::new("ip").args(["netns", "del", name]), None)?;
                removed.push(name.to_string());
            }
        }
        if let Ok(entries) = std::fs::read_dir(super::etc::NETNS_ETC) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if stale(&name) {
                    std::fs::remove_dir_all(e.path())?;
                    if !removed.contains(&name) {
                        removed.push(name);
                    }
                }
            }
        }
        Ok(removed)
    }

    /// The scanner namespace's `/etc/netns/NS/` (hosts, resolv.conf).
    pub fn etc_dir(&self) -> Option<&std::path::Path> {
        self.etc.as_ref().map(|e| e.dir())
    }
}

/// What differs between the IPv4 and the IPv6 nftables table.
struct FamilyWords {
    ipv6: bool,
    table: &'static str,
    addr_type: &'static str,
    daddr: &'static str,
    icmp: &'static str,
}

const IPV4_WORDS: FamilyWords = FamilyWords { ipv6: false, table: "ip psw", addr_type: "ipv4_addr", daddr: "ip daddr", icmp: "icmp" };
const IPV6_WORDS: FamilyWords = FamilyWords { ipv6: true, table: "ip6 psw6", addr_type: "ipv6_addr", daddr: "ip6 daddr", icmp: "icmpv6" };

/// Behaviour of each port range of `addr` that differs from "closed",
/// resolved over the rules in order (later rules win).
fn pair_behaviours(scenario: &Scenario, addr: IpAddr, proto: Protocol) -> Vec<((u16, u16), Behaviour)> {
    // Every port some rule names for this host starts an interval and the
    // port after it ends one, so each interval has a single behaviour.
    let mut edges = std::collections::BTreeSet::new();
    let rules: Vec<_> = scenario.rules.iter().filter(|r| r.hosts.index_of(addr).is_some()).collect();
    for r in &rules {
        for (list, _) in &r.ports {
            for &(_, p) in list.as_slice().iter().filter(|(pr, _)| *pr == proto) {
                edges.insert(p as u32);
                edges.insert(p as u32 + 1);
            }
        }
    }
    let edges: Vec<u32> = edges.into_iter().collect();
    let mut out: Vec<((u16, u16), Behaviour)> = Vec::new();
    for w in edges.windows(2) {
        let (lo, hi) = (w[0] as u16, (w[1] - 1) as u16);
        let b = scenario.behaviour(addr, proto, lo);
        if b == Behaviour::Closed {
            continue;
        }
        match out.last_mut() {
            Some((r, prev)) if *prev == b && r.1 as u32 + 1 == lo as u32 => r.1 = hi,
            _ => out.push(((lo, hi), b)),
        }
    }
    out
}

fn raise_fd_limit(want: u64) {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut r: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 && r.rlim_cur < want {
            r.rlim_cur = want.min(r.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.daemons.clear();
        self.listeners.clear();
        self.responder = None;
        let deadline = Instant::now() + Duration::from_secs(5);
        for ns in [&self.scanner_ns, &self.target_ns] {
            // Deleting can race with sockets still closing: retry briefly.
            while run(Command::new("ip").args(["netns", "del", ns]), None).is_err() && Instant::now() < deadline {
                if !std::path::Path::new(&format!("/run/netns/{ns}")).exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.etc = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_cover_is_exact() {
        let c = |a: [u8; 4], b: [u8; 4]| cidrs(u32::from(Ipv4Addr::from(a)), u32::from(Ipv4Addr::from(b)));
        assert_eq!(c([198, 19, 1, 0], [198, 19, 1, 255]), vec![(Ipv4Addr::new(198, 19, 1, 0), 24)]);
        assert_eq!(c([198, 19, 1, 1], [198, 19, 1, 4]), vec![(Ipv4Addr::new(198, 19, 1, 1), 32), (Ipv4Addr::new(198, 19, 1, 2), 31), (Ipv4Addr::new(198, 19, 1, 4), 32)]);
        assert_eq!(c([255, 255, 255, 255], [255, 255, 255, 255]), vec![(Ipv4Addr::new(255, 255, 255, 255), 32)]);
    }

    #[test]
    fn ruleset_encodes_the_scenario() {
        let s = Scenario::parse(
            r#"
            loss_percent = 2.0
            [scan]
            targets = ["198.19.1.0/30"]
            ports = "1-100"
            [[hosts]]
            addresses = "198.19.1.0/31"
            open = "80,81,82"
            drop = "10-20"
            [[hosts]]
            addresses = "198.19.1.1"
            prohibit = "81"
            closed = "15"
            [[hosts]]
            addresses = "198.19.1.3"
            dead = true
            "#,
            "t",
            "t",
        )
        .unwrap();
        let r = Lab::ruleset(&s);
        assert!(r.contains("elements = { 198.19.1.0 . 10-20, 198.19.1.1 . 10-14, 198.19.1.1 . 16-20 }"), "{r}");
        assert!(r.contains("elements = { 198.19.1.1 . 81 }"), "{r}");
        assert!(r.contains("elements = { 198.19.1.0 . 80-82, 198.19.1.1 . 80, 198.19.1.1 . 82 }"), "{r}");
        assert!(r.contains("elements = { 80, 81, 82 }"), "{r}");
        assert!(r.contains("elements = { 198.19.1.3/32 }"), "{r}");
        assert_eq!(r.matches("numgen random mod 1000 < 20 drop").count(), 2, "{r}");
        assert!(!r.contains("table ip6"), "an IPv4-only lab has no ip6 table: {r}");
    }

    /// IPv6 targets of which no rule names one (every IPv6 host absent)
    /// still get the `ip6` table (and, in `build_network`, the route and
    /// the blackhole that keep absent addresses silent).
    #[test]
    fn ipv6_targets_that_are_all_absent_still_get_ipv6() {
        let s = Scenario::parse(
            r#"
            [scan]
            targets = ["198.19.1.0/30", "2001:2:0:1::/126"]
            ports = "1-100"
            [[hosts]]
            addresses = "198.19.1.0/31"
            open = "80"
            "#,
            "t",
            "t",
        )
        .unwrap();
        assert!(!s.present_hosts().has_v6());
        assert!(s.has_ipv6());
        assert!(Lab::ruleset(&s).contains("table ip6 psw6"), "{}", Lab::ruleset(&s));
    }
}
