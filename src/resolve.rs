//! Host names → IPv4 addresses, resolved once per run, before anything is
//! built from them.
//!
//! Why it is shaped so:
//! * **Once, up front, in one batch.** The probe order, shards, checkpoints
//!   and reports are all keyed on addresses; a name looked up during the
//!   sweep could change the scan space under the engine. So target lists,
//!   exclusions and inventories first collect the names they hold
//!   ([`Query`], with where each came from), [`resolve`] turns all of them
//!   into addresses together, and only then are host sets and inventories
//!   built (`space::Targets::hosts`, `inventory::Inventory::resolve`).
//! * **The system resolver** (`getaddrinfo`, through std): `/etc/hosts`,
//!   DNS, whatever `nsswitch.conf` says, so a name resolves here as it does
//!   for ssh or kubectl on the same machine.
//! * **Bounded.** `getaddrinfo` cannot be cancelled, so each name is looked
//!   up on a worker thread (at most [`WORKERS`] at once) and the batch waits
//!   at most a deadline (`--resolve-timeout`, default
//!   [`DEFAULT_TIMEOUT`]). A name not answered by then is an error naming
//!   it; its thread is left behind (the run stops on that error).
//! * **Every address.** A name with several A records has each of them
//!   scanned (nmap scans only the first): a name that stands for several
//!   nodes — round-robin DNS in front of a control plane — is audited as
//!   all of them, and which one the resolver happened to rotate first would
//!   otherwise decide what the report says.
//! * **IPv4 today.** `--resolve 4` (the default) uses A records; `all` also
//!   asks for AAAA records and reports them as not scanned (host names
//!   stand for their A records only, so far: IPv6 targets are given as
//!   addresses); `6` is refused with that reason; `off` makes any name an
//!   error. A name with no IPv4 address is an error naming it.
//!
//! [`resolve_with`] takes the lookup function, so the deadline and every
//! error are tested without a resolver.
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::words::word_enum;

/// The longest a batch of lookups may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Lookups running at once.
pub const WORKERS: usize = 16;

word_enum!(
    /// Which records a host name stands for (`--resolve`).
    ResolveMode, "resolve mode", {
        /// A records (IPv4).
        V4 => "4",
        /// AAAA records: refused (host names are not resolved to IPv6 yet).
        V6 => "6",
        /// A and AAAA records (AAAA ones are reported as not scanned yet).
        All => "all",
        /// Host names are an error.
        Off => "off",
    }
);

/// A name to resolve and where it was written (`nodes.txt:3`,
/// `--exclude`, `inventory.ini:6`; empty for a command-line target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub name: String,
    pub origin: String,
}

impl Query {
    pub fn new(name: impl Into<String>, origin: impl Into<String>) -> Query {
        Query { name: name.into(), origin: origin.into() }
    }
}

/// `origin: ` when there is one.
pub fn at(origin: &str) -> String {
    if origin.is_empty() {
        String::new()
    } else {
        format!("{origin}: ")
    }
}

/// Whether `s` is a host name as DNS and hosts files write them: dot-
/// separated labels of letters, digits, `-` and `_` (1–63 characters, no
/// `-` at either end), at most 253 characters, one trailing dot allowed.
/// The last label may not be all digits, nor may a four-label name start
/// with three numbers, so a mistyped address (`10.0.0.300`, `10.0.0.x`) is
/// never taken for a name.
pub fn is_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    let label_ok = |l: &str| {
        !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let labels: Vec<&str> = s.split('.').collect();
    let numeric = |l: &&str| l.bytes().all(|b| b.is_ascii_digit());
    let looks_like_address = labels.last().is_some_and(numeric) || (labels.len() == 4 && labels[..3].iter().all(numeric));
    labels.iter().all(|l| label_ok(l)) && !looks_like_address
}

/// Why one name gave no address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// `--resolve off`.
    Off,
    /// The resolver's answer (NXDOMAIN, no server, …).
    NotFound(String),
    /// AAAA records only.
    OnlyV6(Vec<Ipv6Addr>),
    /// No answer within the deadline.
    TimedOut(Duration),
}

/// A name that gave no address, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameFailure {
    pub query: Query,
    pub why: Why,
}

impl fmt::Display for NameFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (at, name) = (at(&self.query.origin), &self.query.name);
        match &self.why {
            Why::Off => write!(f, "{at}host name {name:?} is not resolved with --resolve off (give its address, or --resolve 4)"),
            Why::NotFound(reason) => write!(f, "{at}host name {name:?} does not resolve: {reason}"),
            Why::OnlyV6(v6) => {
                let list: Vec<String> = v6.iter().map(|a| a.to_string()).collect();
                write!(f, "{at}host name {name:?} has no IPv4 address (only {}): host names are not resolved to IPv6 yet (give the IPv6 address)", list.join(", "))
            }
            Why::TimedOut(d) => write!(f, "{at}host name {name:?} did not resolve within {} (--resolve-timeout)", humantime::format_duration(*d)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("--resolve 6: host names are not resolved to IPv6 yet (use --resolve 4, the default, or all; give IPv6 targets as addresses)")]
    V6Unsupported,
    /// Every name that failed, in the order given.
    #[error("{}", names_message(.0))]
    Names(Vec<NameFailure>),
}

fn names_message(failures: &[NameFailure]) -> String {
    match failures {
        [one] => one.to_string(),
        many => format!("{} host names did not resolve:\n  {}", many.len(), many.iter().map(|f| f.to_string()).collect::<Vec<_>>().join("\n  ")),
    }
}

/// The addresses of every name of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolved {
    /// Name → its IPv4 addresses, sorted, deduplicated, never empty.
    addrs: BTreeMap<String, Vec<Ipv4Addr>>,
    /// The names in the order they were asked for.
    order: Vec<String>,
    /// AAAA answers not scanned (`--resolve all`), per name.
    pub ipv6_skipped: Vec<(String, Ipv6Addr)>,
    /// How long the batch took.
    pub elapsed: Duration,
}

impl Resolved {
    /// The IPv4 addresses of `name`, if it was resolved.
    pub fn get(&self, name: &str) -> Option<&[Ipv4Addr]> {
        self.addrs.get(name).map(Vec::as_slice)
    }

    /// Names resolved.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Distinct addresses over all names.
    pub fn address_count(&self) -> usize {
        self.addrs.values().flatten().collect::<HashSet<_>>().len()
    }

    /// The name a report shows next to each address: the first name, in
    /// the order given, that resolved to it.
    pub fn labels(&self) -> BTreeMap<IpAddr, String> {
        let mut out = BTreeMap::new();
        for name in &self.order {
            for a in self.get(name).unwrap_or(&[]) {
                out.entry(IpAddr::V4(*a)).or_insert_with(|| name.clone());
            }
        }
        out
    }
}

/// A resolver: a name's addresses, or the error that says why there are
/// none.
pub type Lookup = Arc<dyn Fn(&str) -> io::Result<Vec<IpAddr>> + Send + Sync>;

/// The system resolver (`getaddrinfo`, A and AAAA).
pub fn system_lookup(name: &str) -> io::Result<Vec<IpAddr>> {
    Ok((name, 0u16).to_socket_addrs()?.map(|a| a.ip()).collect())
}

/// Resolves every query with the system resolver within `within`.
pub fn resolve(queries: &[Query], mode: ResolveMode, within: Duration) -> Result<Resolved, ResolveError> {
    resolve_with(queries, mode, within, Arc::new(system_lookup))
}

/// [`resolve`] with the given lookup function.
pub fn resolve_with(queries: &[Query], mode: ResolveMode, within: Duration, lookup: Lookup) -> Result<Resolved, ResolveError> {
    if mode == ResolveMode::V6 {
        return Err(ResolveError::V6Unsupported);
    }
    let started = Instant::now();
    let mut seen = HashSet::new();
    let unique: Vec<&Query> = queries.iter().filter(|q| seen.insert(q.name.as_str())).collect();
    if unique.is_empty() {
        return Ok(Resolved::default());
    }
    if mode == ResolveMode::Off {
        return Err(ResolveError::Names(unique.into_iter().map(|q| NameFailure { query: q.clone(), why: Why::Off }).collect()));
    }
    let answers = lookup_all(unique.iter().map(|q| q.name.clone()).collect(), within, lookup);
    let mut resolved = Resolved::default();
    let mut failures = Vec::new();
    for (q, answer) in unique.iter().zip(answers) {
        let fail = |why| NameFailure { query: (*q).clone(), why };
        let ips = match answer {
            None => {
                failures.push(fail(Why::TimedOut(within)));
                continue;
            }
            Some(Err(e)) => {
                let text = e.to_string();
                let reason = text.strip_prefix("failed to lookup address information: ").unwrap_or(&text).to_string();
                failures.push(fail(Why::NotFound(reason)));
                continue;
            }
            Some(Ok(ips)) => ips,
        };
        let mut v4: Vec<Ipv4Addr> = ips.iter().filter_map(|ip| if let IpAddr::V4(a) = ip { Some(*a) } else { None }).collect();
        let mut v6: Vec<Ipv6Addr> = ips.iter().filter_map(|ip| if let IpAddr::V6(a) = ip { Some(*a) } else { None }).collect();
        v4.sort_unstable();
        v4.dedup();
        v6.sort_unstable();
        v6.dedup();
        if v4.is_empty() {
            failures.push(fail(if v6.is_empty() { Why::NotFound("no addresses".into()) } else { Why::OnlyV6(v6) }));
            continue;
        }
        if mode == ResolveMode::All {
            resolved.ipv6_skipped.extend(v6.into_iter().map(|a| (q.name.clone(), a)));
        }
        resolved.order.push(q.name.clone());
        resolved.addrs.insert(q.name.clone(), v4);
    }
    if !failures.is_empty() {
        return Err(ResolveError::Names(failures));
    }
    resolved.elapsed = started.elapsed();
    Ok(resolved)
}

/// Runs `lookup` for every name on up to [`WORKERS`] threads; the answers
/// in the order of `names`, `None` for those not answered within `within`.
fn lookup_all(names: Vec<String>, within: Duration, lookup: Lookup) -> Vec<Option<io::Result<Vec<IpAddr>>>> {
    let deadline = Instant::now() + within;
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<(usize, String)>();
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let n = names.len();
    for job in names.into_iter().enumerate() {
        // The receiver is alive: this cannot fail.
        let _ = job_tx.send(job);
    }
    drop(job_tx);
    let mut answers: Vec<Option<io::Result<Vec<IpAddr>>>> = (0..n).map(|_| None).collect();
    let mut workers = Vec::new();
    for _ in 0..n.min(WORKERS) {
        let (jobs, done, lookup) = (job_rx.clone(), done_tx.clone(), lookup.clone());
        let spawned = std::thread::Builder::new().name("resolve".into()).spawn(move || {
            for (i, name) in jobs.iter() {
                if done.send((i, lookup(&name))).is_err() {
                    return; // the batch gave up waiting
                }
            }
        });
        workers.extend(spawned);
    }
    drop(done_tx);
    if workers.is_empty() {
        // No thread could start: look up here, unbounded, rather than fail.
        for (i, name) in job_rx.iter() {
            answers[i] = Some(lookup(&name));
        }
        return answers;
    }
    let mut left = n;
    while left > 0 {
        match done_rx.recv_deadline(deadline) {
            Ok((i, answer)) => {
                answers[i] = Some(answer);
                left -= 1;
            }
            Err(_) => break, // deadline, or every worker gone
        }
    }
    if left == 0 {
        // Every name answered: the workers are at the end of the job list.
        // Wait for them, so that no thread outlives the batch (capabilities
        // are dropped per thread, and only from a single-threaded process).
        for w in workers {
            let _ = w.join();
        }
    }
    answers
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(names: &[&str]) -> Vec<Query> {
        names.iter().map(|n| Query::new(*n, "")).collect()
    }

    /// A resolver from a table; `slow.*` names never answer in time.
    fn table() -> Lookup {
        Arc::new(|name: &str| {
            if name.starts_with("slow.") {
                std::thread::sleep(Duration::from_secs(30));
            }
            let ips: Vec<IpAddr> = match name {
                "cp-1.lab.test" => vec!["198.19.0.10".parse().unwrap()],
                "api.lab.test" => vec!["198.19.0.12".parse().unwrap(), "198.19.0.10".parse().unwrap(), "198.19.0.11".parse().unwrap(), "198.19.0.10".parse().unwrap()],
                "dual.lab.test" => vec!["198.19.0.20".parse().unwrap(), "2001:db8::20".parse().unwrap()],
                "v6.lab.test" => vec!["2001:db8::6".parse().unwrap()],
                _ => return Err(io::Error::other("failed to lookup address information: Name or service not known")),
            };
            Ok(ips)
        })
    }

    #[test]
    fn host_name_syntax() {
        for ok in ["cp-1", "cp-1.lab.test", "cp-1.lab.test.", "a_b.example", "1node.example", "x", "1.example", "10.0.0.x.example"] {
            assert!(is_host_name(ok), "{ok}");
        }
        for bad in ["", "10.0.0.300", "10.0.0.x", "1.2.3", "-cp.lab", "cp-.lab", "a..b", "cp 1", "fd00::1", "198.19.0.0/24", "a/b", &"a".repeat(64)] {
            assert!(!is_host_name(bad), "{bad}");
        }
    }

    #[test]
    fn every_a_record_sorted_and_labels_follow_the_order_given() {
        let r = resolve_with(&q(&["cp-1.lab.test", "api.lab.test", "cp-1.lab.test"]), ResolveMode::V4, Duration::from_secs(5), table()).unwrap();
        assert_eq!(r.get("api.lab.test").unwrap(), &["198.19.0.10".parse::<Ipv4Addr>().unwrap(), "198.19.0.11".parse().unwrap(), "198.19.0.12".parse().unwrap()]);
        assert_eq!((r.len(), r.address_count()), (2, 3));
        let labels: Vec<String> = r.labels().iter().map(|(a, n)| format!("{a} {n}")).collect();
        assert_eq!(labels, ["198.19.0.10 cp-1.lab.test", "198.19.0.11 api.lab.test", "198.19.0.12 api.lab.test"]);
    }

    #[test]
    fn modes() {
        let dual = q(&["dual.lab.test"]);
        let r = resolve_with(&dual, ResolveMode::V4, Duration::from_secs(5), table()).unwrap();
        assert_eq!((r.get("dual.lab.test").unwrap(), r.ipv6_skipped.len()), (&["198.19.0.20".parse::<Ipv4Addr>().unwrap()][..], 0));
        let r = resolve_with(&dual, ResolveMode::All, Duration::from_secs(5), table()).unwrap();
        assert_eq!(r.ipv6_skipped, [("dual.lab.test".to_string(), "2001:db8::20".parse().unwrap())]);
        assert_eq!(resolve_with(&dual, ResolveMode::V6, Duration::from_secs(5), table()), Err(ResolveError::V6Unsupported));
        assert_eq!(
            resolve_with(&[Query::new("cp-1.lab.test", "nodes.txt:3")], ResolveMode::Off, Duration::from_secs(5), table()).unwrap_err().to_string(),
            "nodes.txt:3: host name \"cp-1.lab.test\" is not resolved with --resolve off (give its address, or --resolve 4)"
        );
        // No names: nothing to refuse.
        assert_eq!(resolve_with(&[], ResolveMode::Off, Duration::from_secs(5), table()).unwrap().len(), 0);
    }

    #[test]
    fn failures_name_each_name_and_where_it_was_written() {
        let e = resolve_with(&[Query::new("nope.lab.test", "inventory.ini:6"), Query::new("cp-1.lab.test", ""), Query::new("v6.lab.test", "--exclude")], ResolveMode::All, Duration::from_secs(5), table()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "2 host names did not resolve:\n  inventory.ini:6: host name \"nope.lab.test\" does not resolve: Name or service not known\n  --exclude: host name \"v6.lab.test\" has no IPv4 address (only 2001:db8::6): host names are not resolved to IPv6 yet (give the IPv6 address)"
        );
    }

    #[test]
    fn the_deadline_bounds_the_batch_and_names_the_slow_name() {
        let t = Instant::now();
        let e = resolve_with(&q(&["cp-1.lab.test", "slow.lab.test"]), ResolveMode::V4, Duration::from_millis(300), table()).unwrap_err();
        let took = t.elapsed();
        assert_eq!(e.to_string(), "host name \"slow.lab.test\" did not resolve within 300ms (--resolve-timeout)");
        assert!(took >= Duration::from_millis(300) && took < Duration::from_secs(3), "{took:?}");
    }

    #[test]
    fn many_names_resolve_concurrently() {
        // 64 names that each take 100 ms: 16 at a time is 0.4 s, one at a
        // time would be 6.4 s.
        let slow: Lookup = Arc::new(|_| {
            std::thread::sleep(Duration::from_millis(100));
            Ok(vec!["198.19.1.1".parse().unwrap()])
        });
        let names: Vec<Query> = (0..64).map(|i| Query::new(format!("n{i}.lab.test"), "")).collect();
        let t = Instant::now();
        let r = resolve_with(&names, ResolveMode::V4, Duration::from_secs(5), slow).unwrap();
        assert_eq!(r.len(), 64);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn localhost_through_the_system_resolver() {
        // The one name a test may resolve outside a lab namespace.
        let r = resolve(&q(&["localhost"]), ResolveMode::V4, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(r.get("localhost").unwrap(), &[Ipv4Addr::LOCALHOST]);
    }
}
