//! Identification: what answers on each open port of a finished scan.
//!
//! One door, [`identify_report`]: it takes a [`ScanReport`], talks to every
//! open TCP port (and to UDP 123 when the sweep got a reply there) and
//! writes a [`Service`] on each. The engine never calls it; the audit reads
//! what it wrote. It is shaped as a pool of blocking workers because the
//! work is a few short conversations per port, each held to deadlines:
//!
//! * **bounds** ([`Settings`]): a global concurrency cap (the worker count)
//!   and a per-host cap, a rate limit on new connections, per port a
//!   connect deadline, a read deadline per read, a total deadline and at
//!   most `max_connections` connections, every read capped in bytes. A port
//!   that accepts and never writes costs at most its total deadline.
//! * **read-only, anonymous**: GETs of documented public endpoints (no
//!   credentials, `Connection: close`, redirects never followed), etcd's
//!   count-only range read, `INFO server` to a redis that asked for no
//!   password, one NTP client packet. Nothing is written, nothing logged in,
//!   no body of a data endpoint kept (kubelet `/pods`: status only).
//!
//! `conn` bounds each conversation, `tls` reads certificates and the
//! client-certificate request, `http` speaks minimal HTTP/1.1, `probes`
//! holds the requests and the matches (nmap's probe/match idea).
mod conn;
mod http;
mod probes;
mod tls;

pub use probes::NTP_CLIENT_REQUEST;

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::report::{PortReport, Reason, ScanReport, Service, State};
use crate::space::Protocol;

/// The stage's bounds. The per-port cost is at most `total` (the deadline
/// cuts every connect and read short), and at most `max_connections`
/// connections of at most `max_bytes` read each.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Ports identified at once over the whole run.
    pub workers: usize,
    /// Ports of one host identified at once.
    pub per_host: usize,
    /// New connections per second over the whole run.
    pub rate: u32,
    pub connect: Duration,
    pub read: Duration,
    /// Everything spent on one port.
    pub total: Duration,
    /// Connections (requests) per port.
    pub max_connections: u8,
    /// Bytes read per answer.
    pub max_bytes: usize,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { workers: 128, per_host: 16, rate: 10_000, connect: Duration::from_secs(1), read: Duration::from_secs(1), total: Duration::from_secs(3), max_connections: 4, max_bytes: 16 * 1024 }
    }
}

/// One port to identify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    pub protocol: Protocol,
}

/// What a run of the stage did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub ports: usize,
    pub named: usize,
    pub duration: Duration,
    /// Hosts that answered on more ports than `MAX_DEFAULT_OPEN_PORTS`
    /// (a SYN proxy or tarpit answers every port): left unidentified.
    pub answer_everything: usize,
}

/// A host whose default state is open gets at most this many ports
/// identified: a tarpit that accepts all 65,535 would otherwise cost hours
/// (65,535 × the per-port deadline / the per-host cap) and fill the report
/// with rows that say nothing.
pub const MAX_DEFAULT_OPEN_PORTS: usize = 256;

/// Identifies `targets` within `settings`; results in the same order.
pub fn identify(targets: &[Target], settings: &Settings) -> Vec<Service> {
    let rate = conn::RateLimit::new(settings.rate);
    let mut results: Vec<Option<Service>> = vec![None; targets.len()];
    let queue = Queue::new(targets, settings.per_host.max(1));
    let out = Mutex::new(&mut results);
    std::thread::scope(|s| {
        for _ in 0..settings.workers.clamp(1, targets.len().max(1)) {
            s.spawn(|| {
                while let Some(i) = queue.take() {
                    let t = targets[i];
                    let mut budget = conn::Budget::new(settings, &rate);
                    let found = match t.protocol {
                        Protocol::Tcp => probes::identify_tcp(t.addr, &mut budget),
                        Protocol::Udp if t.addr.port() == 123 => probes::identify_ntp(t.addr, &budget),
                        Protocol::Udp => Service::unknown("UDP reply to the sweep's probe"),
                    };
                    out.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(found);
                    queue.done(t.addr.ip());
                }
            });
        }
    });
    results.into_iter().map(|r| r.unwrap_or_else(|| Service::unknown("not identified"))).collect()
}

/// Ports grouped by host, handed out round-robin over hosts with fewer
/// than `per_host` ports in progress.
struct Queue {
    state: Mutex<QueueState>,
    freed: Condvar,
    per_host: usize,
}

struct QueueState {
    hosts: Vec<HostQueue>,
    /// Where the round-robin over `hosts` looks first.
    next: usize,
    /// Ports not handed out yet, over all hosts.
    left: usize,
}

/// One host's ports still to identify and how many are in progress.
struct HostQueue {
    ip: IpAddr,
    waiting: VecDeque<usize>,
    in_progress: usize,
}

impl Queue {
    fn new(targets: &[Target], per_host: usize) -> Queue {
        let mut hosts: Vec<HostQueue> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for (i, t) in targets.iter().enumerate() {
            let h = *index.entry(t.addr.ip()).or_insert_with(|| {
                hosts.push(HostQueue { ip: t.addr.ip(), waiting: VecDeque::new(), in_progress: 0 });
                hosts.len() - 1
            });
            hosts[h].waiting.push_back(i);
        }
        Queue { state: Mutex::new(QueueState { hosts, next: 0, left: targets.len() }), freed: Condvar::new(), per_host }
    }

    fn take(&self) -> Option<usize> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if s.left == 0 {
                return None;
            }
            let n = s.hosts.len();
            for k in 0..n {
                let h = (s.next + k) % n;
                if s.hosts[h].in_progress < self.per_host {
                    if let Some(i) = s.hosts[h].waiting.pop_front() {
                        s.hosts[h].in_progress += 1;
                        s.left -= 1;
                        s.next = (h + 1) % n;
                        return Some(i);
                    }
                }
            }
            s = self.freed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn done(&self, ip: IpAddr) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = s.hosts.iter_mut().find(|h| h.ip == ip) {
            h.in_progress -= 1;
        }
        drop(s);
        self.freed.notify_all();
    }
}

/// The door: identifies every open port of `report` (TCP `open`, UDP that
/// replied) and writes its `service`. A host whose default state is open
/// gets its open ports listed so each can carry one.
pub fn identify_report(report: &mut ScanReport, settings: &Settings) -> Summary {
    let started = Instant::now();
    let ports = report.port_list();
    let mut targets = Vec::new();
    let mut slots = Vec::new();
    let mut answer_everything = 0;
    for (hi, h) in report.hosts.iter_mut().enumerate() {
        if h.default_state == State::Open {
            if ports.as_ref().map_or(true, |list| list.as_slice().len() > MAX_DEFAULT_OPEN_PORTS) {
                answer_everything += 1;
                continue;
            }
            if let Some(list) = &ports {
                let listed: std::collections::BTreeSet<(Protocol, u16)> = h.ports.iter().map(|p| (p.protocol, p.port)).collect();
                for &(protocol, port) in list.as_slice() {
                    if !listed.contains(&(protocol, port)) {
                        h.ports.push(PortReport { port, protocol, state: h.default_state, reason: h.default_reason, ttl: None, service: None });
                    }
                }
                h.ports.sort_by_key(|p| (p.protocol, p.port));
            }
        }
        for (pi, p) in h.ports.iter().enumerate() {
            if p.state == State::Open && matches!(p.reason, Reason::SynAck | Reason::UdpResponse) {
                targets.push(Target { addr: SocketAddr::new(IpAddr::from(h.address), p.port), protocol: p.protocol });
                slots.push((hi, pi));
            }
        }
    }
    let found = identify(&targets, settings);
    let named = found.iter().filter(|s| !matches!(s.name.as_str(), "unknown")).count();
    for ((hi, pi), s) in slots.into_iter().zip(found) {
        report.hosts[hi].ports[pi].service = Some(s);
    }
    Summary { ports: targets.len(), named, duration: started.elapsed(), answer_everything }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A listener that accepts and never writes costs the port its total
    /// deadline and no more.
    #[test]
    fn a_silent_port_costs_at_most_its_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let hold = std::thread::spawn(move || {
            let mut held = Vec::new();
            l.set_nonblocking(true).unwrap();
            let end = Instant::now() + Duration::from_secs(4);
            while Instant::now() < end {
                if let Ok((s, _)) = l.accept() {
                    held.push(s);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let settings = Settings { read: Duration::from_millis(300), total: Duration::from_millis(800), ..Settings::default() };
        let t0 = Instant::now();
        let s = identify(&[Target { addr, protocol: Protocol::Tcp }], &settings);
        let spent = t0.elapsed();
        assert_eq!(s[0].name, "unknown", "{:?}", s[0]);
        assert!(s[0].evidence.contains("silent"), "{:?}", s[0]);
        assert!(spent <= Duration::from_millis(800 + 150), "spent {spent:?}");
        hold.join().unwrap();
    }

    /// A host that answers on every port (a tarpit) is not identified port
    /// by port; up to the bound its ports are listed and identified.
    #[test]
    fn hosts_answering_everything_are_left_alone() {
        use crate::report::{HostReport, HostStatus, Reason, ScanReport};
        // Loopback only; ports nothing here listens on (refused at once).
        let host = |last: u8| HostReport {
            address: IpAddr::from([127, 0, 0, last]),
            name: None,
            status: HostStatus::Up,
            default_state: State::Open,
            default_reason: Reason::SynAck,
            ports: Vec::new(),
            udp_unresolved: Vec::new(),
        };
        let report = |ports: &str| ScanReport::for_test(ports, vec![host(2), host(3)]);
        let mut wide = report("47000-47256");
        let s = identify_report(&mut wide, &Settings::default());
        assert_eq!((s.ports, s.answer_everything), (0, 2));
        assert!(wide.hosts.iter().all(|h| h.ports.is_empty()), "the compact form is kept");
        let mut narrow = report("47000-47255");
        let s = identify_report(&mut narrow, &Settings::default());
        assert_eq!((s.ports, s.answer_everything), (512, 0));
        assert!(narrow.hosts.iter().all(|h| h.ports.len() == 256 && h.ports.iter().all(|p| p.service.is_some())));
    }

    #[test]
    fn per_host_cap_is_kept_and_every_port_is_handed_out_once() {
        let targets: Vec<Target> = (0..50).map(|i| Target { addr: SocketAddr::new(IpAddr::from([198, 18, 0, (i % 3) as u8]), 1000 + i), protocol: Protocol::Tcp }).collect();
        let q = Queue::new(&targets, 2);
        let mut got = Vec::new();
        let mut active = std::collections::HashMap::<IpAddr, usize>::new();
        for _ in 0..6 {
            let i = q.take().unwrap();
            *active.entry(targets[i].addr.ip()).or_default() += 1;
            got.push(i);
        }
        assert!(active.values().all(|&n| n == 2), "{active:?}");
        for &i in &got {
            q.done(targets[i].addr.ip());
        }
        while let Some(i) = { if got.len() < 50 { q.take() } else { None } } {
            got.push(i);
            q.done(targets[i].addr.ip());
        }
        got.sort();
        assert_eq!(got, (0..50).collect::<Vec<_>>());
    }
}
