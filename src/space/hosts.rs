//! Host sets parsed from the forms users type: IPv4 and IPv6 addresses,
//! CIDRs, `a-b` ranges, host names and `@file` lists, minus exclusions.
//! Kept as merged ranges so a /8 costs two addresses, and an address maps to
//! its dense index by binary search over prefix sums. Both families live in
//! one ordered space (IPv4 before IPv6, as `IpAddr` orders them), so a mixed
//! scan has one dense index, one permutation and one result store.
//!
//! An IPv6 network is too large to sweep: a target CIDR or range may hold
//! at most [`HostSet::MAX_V6_TOKEN`] addresses (a /112); longer lists go in
//! an `@file`. Exclusions have no such bound.
//!
//! Host names are collected, not looked up: [`Targets`] holds the parsed
//! tokens with the names still unresolved (and where each was written), so
//! that every name of a run is resolved in one bounded batch
//! ([`crate::resolve`]) before [`Targets::hosts`] builds the set.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use ipnetwork::{Ipv4Network, Ipv6Network};

use crate::resolve::{at, is_host_name, Query, Resolved};

/// A bad target token or target file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error("bad target {token:?}: {reason}")]
    BadToken { token: String, reason: String },
    #[error("{file}:{line}: bad target {token:?}: {reason}")]
    BadLine { file: String, line: usize, token: String, reason: String },
    #[error(transparent)]
    File(#[from] crate::bounded::BoundedError),
    #[error("the target set is empty (after exclusions)")]
    Empty,
    #[error("the target set has {0} addresses; at most {max} are supported", max = HostSet::MAX_HOSTS)]
    TooLarge(u64),
    #[error("{}host name {name:?} was not resolved (addresses only here)", at(origin))]
    Unresolved { origin: String, name: String },
}

/// An inclusive range of addresses of one family.
pub type AddrRange = (IpAddr, IpAddr);

/// Sorted, disjoint, non-adjacent inclusive ranges of addresses, IPv4
/// ranges first; a range never spans the two families.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostSet {
    ranges: Vec<AddrRange>,
    /// `starts[i]` = number of addresses in ranges before `i`.
    starts: Vec<u64>,
}

/// One parsed target token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Range(IpAddr, IpAddr),
    Name(String),
}

/// Target and exclusion tokens, parsed, with host names not yet resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    include: Vec<AddrRange>,
    exclude: Vec<AddrRange>,
    /// (query, excluded?) in the order written.
    names: Vec<(Query, bool)>,
}

impl Targets {
    /// Parses target tokens (address, CIDR, `a-b` range of either family,
    /// host name, `@file`) and the `exclude` tokens (same forms).
    pub fn parse(include: &[String], exclude: &[String]) -> Result<Targets, TargetError> {
        let mut t = Targets::default();
        for tok in include {
            t.collect_token(tok, false)?;
        }
        for tok in exclude {
            t.collect_token(tok, true)?;
        }
        Ok(t)
    }

    /// The host names to resolve, in the order written (targets first).
    pub fn queries(&self) -> Vec<Query> {
        self.names.iter().map(|(q, _)| q.clone()).collect()
    }

    /// The host set: addresses and the addresses of resolved names, less
    /// the exclusions (a name's every address). A name `resolved` lacks is
    /// an error naming it.
    pub fn hosts(&self, resolved: &Resolved) -> Result<HostSet, TargetError> {
        let (mut inc, mut exc) = (self.include.clone(), self.exclude.clone());
        for (q, excluded) in &self.names {
            let addrs = resolved.get(&q.name).ok_or_else(|| TargetError::Unresolved { origin: q.origin.clone(), name: q.name.clone() })?;
            let out = if *excluded { &mut exc } else { &mut inc };
            out.extend(addrs.iter().map(|a| (IpAddr::V4(*a), IpAddr::V4(*a))));
        }
        let set = HostSet::from_ranges(inc).subtract(&HostSet::from_ranges(exc));
        if set.is_empty() {
            return Err(TargetError::Empty);
        }
        if set.len() > HostSet::MAX_HOSTS {
            return Err(TargetError::TooLarge(set.len()));
        }
        Ok(set)
    }

    fn push(&mut self, item: Item, origin: String, excluded: bool) {
        match item {
            Item::Range(a, b) => if excluded { &mut self.exclude } else { &mut self.include }.push((a, b)),
            Item::Name(name) => self.names.push((Query { name, origin }, excluded)),
        }
    }

    fn collect_token(&mut self, token: &str, excluded: bool) -> Result<(), TargetError> {
        let token = token.trim();
        if let Some(path) = token.strip_prefix('@') {
            return self.collect_file(Path::new(path), excluded);
        }
        let item = parse_one(token, excluded).map_err(|reason| TargetError::BadToken { token: token.to_string(), reason })?;
        self.push(item, if excluded { "--exclude".into() } else { String::new() }, excluded);
        Ok(())
    }

    fn collect_file(&mut self, path: &Path, excluded: bool) -> Result<(), TargetError> {
        let file = path.display().to_string();
        let text = crate::bounded::read_text_lines(path, "target list")?;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("");
            for token in line.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()) {
                let item = parse_one(token, excluded).map_err(|reason| TargetError::BadLine { file: file.clone(), line: n + 1, token: token.to_string(), reason })?;
                self.push(item, format!("{file}:{}", n + 1), excluded);
            }
        }
        Ok(())
    }
}

/// An address as a number within its family.
fn number(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The address `offset` after `a`, in `a`'s family (the caller keeps it
/// inside a range of that family).
#[inline]
fn offset(a: IpAddr, offset: u128) -> IpAddr {
    match a {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a).wrapping_add(offset as u32))),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a).wrapping_add(offset))),
    }
}

/// Addresses in an inclusive range (saturating: an excluded /0 of IPv6
/// has 2^128).
fn count(a: IpAddr, b: IpAddr) -> u128 {
    (number(b) - number(a)).saturating_add(1)
}

impl HostSet {
    /// Addresses a single scan may cover: a /8 is 16.7 M hosts.
    pub const MAX_HOSTS: u64 = 1 << 24;
    /// Addresses one IPv6 target CIDR or range may cover: a /112.
    pub const MAX_V6_TOKEN: u128 = 1 << 16;

    /// Parses target tokens (address, CIDR, `a-b` range, `@file`) and
    /// removes the `exclude` tokens (same forms). Host names are refused:
    /// resolving them is [`Targets`]'s job.
    pub fn parse(include: &[String], exclude: &[String]) -> Result<HostSet, TargetError> {
        Targets::parse(include, exclude)?.hosts(&Resolved::default())
    }

    /// Builds a set from single addresses.
    pub fn from_addrs(addrs: impl IntoIterator<Item = IpAddr>) -> HostSet {
        HostSet::from_ranges(addrs.into_iter().map(|a| (a, a)).collect())
    }

    /// Builds a set from arbitrary inclusive ranges of one family each
    /// (merged and sorted).
    pub fn from_ranges(mut ranges: Vec<AddrRange>) -> HostSet {
        ranges.retain(|(a, b)| a.is_ipv4() == b.is_ipv4() && a <= b);
        ranges.sort_unstable();
        let mut merged: Vec<AddrRange> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if last.1.is_ipv4() == a.is_ipv4() && number(a) <= number(last.1).saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        let mut starts = Vec::with_capacity(merged.len());
        let mut acc = 0u64;
        for &(a, b) in &merged {
            starts.push(acc);
            acc = acc.saturating_add(u64::try_from(count(a, b)).unwrap_or(u64::MAX));
        }
        HostSet { ranges: merged, starts }
    }

    fn subtract(&self, other: &HostSet) -> HostSet {
        let mut out = Vec::new();
        for &(a, b) in &self.ranges {
            // `cur` is the first address of [a, b] not yet covered; None
            // once the range is used up.
            let mut cur = Some(a);
            for &(x, y) in &other.ranges {
                let Some(c) = cur else { break };
                if x.is_ipv4() != a.is_ipv4() || y < c || x > b {
                    continue;
                }
                if x > c {
                    out.push((c, offset(x, u128::MAX)));
                }
                cur = (y < b).then(|| offset(y, 1));
            }
            if let Some(c) = cur {
                out.push((c, b));
            }
        }
        HostSet::from_ranges(out)
    }

    pub fn len(&self) -> u64 {
        match (self.starts.last(), self.ranges.last()) {
            (Some(s), Some(&(a, b))) => s.saturating_add(u64::try_from(count(a, b)).unwrap_or(u64::MAX)),
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn ranges(&self) -> &[AddrRange] {
        &self.ranges
    }

    /// The IPv4 ranges as integers (the lab builds IPv4 routes from them).
    pub fn v4_ranges(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.ranges.iter().filter_map(|r| match *r {
            (IpAddr::V4(a), IpAddr::V4(b)) => Some((u32::from(a), u32::from(b))),
            _ => None,
        })
    }

    /// Whether some address is IPv4 / IPv6.
    pub fn has_v4(&self) -> bool {
        self.ranges.first().is_some_and(|r| r.0.is_ipv4())
    }

    pub fn has_v6(&self) -> bool {
        self.ranges.last().is_some_and(|r| r.0.is_ipv6())
    }

    /// The address with dense index `i` (`i < len()`).
    #[inline]
    pub fn addr(&self, i: u64) -> IpAddr {
        let r = self.starts.partition_point(|&s| s <= i) - 1;
        offset(self.ranges[r].0, (i - self.starts[r]) as u128)
    }

    /// The dense index of `addr`, if it is in the set.
    #[inline]
    pub fn index_of(&self, addr: IpAddr) -> Option<u64> {
        let r = self.ranges.partition_point(|&(start, _)| start <= addr);
        if r == 0 {
            return None;
        }
        let (start, end) = self.ranges[r - 1];
        (addr <= end && start.is_ipv4() == addr.is_ipv4()).then(|| self.starts[r - 1] + (number(addr) - number(start)) as u64)
    }

    pub fn iter(&self) -> impl Iterator<Item = IpAddr> + '_ {
        (0..self.len()).map(|i| self.addr(i))
    }
}

/// An address of either family; IPv4-mapped IPv6 addresses are refused
/// (they name an IPv4 host: write it as one).
fn parse_addr(s: &str) -> Result<IpAddr, String> {
    let s = s.trim();
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) if a.to_ipv4_mapped().is_some() => Err(format!("{s:?} is an IPv4-mapped IPv6 address; write it as {}", a.to_ipv4_mapped().map(|v| v.to_string()).unwrap_or_default())),
        Ok(a) => Ok(a),
        Err(_) => Err(format!("{s:?} is not an IP address")),
    }
}

/// The error for an IPv6 target token larger than a /112.
fn too_wide(what: String, addresses: u128) -> String {
    format!("{what} has {addresses} addresses; an IPv6 target may cover at most a /112 (65536): list the addresses to scan in an @file")
}

/// One address, CIDR, dash range or host name. `excluded` tokens may be
/// any size.
fn parse_one(token: &str, excluded: bool) -> Result<Item, String> {
    if token.is_empty() {
        return Err("empty target".into());
    }
    // A dash after an address is a range (`cp-1.lab` is a name).
    if let Some((a, b)) = token.split_once('-').filter(|(a, _)| a.trim().parse::<IpAddr>().is_ok()) {
        let (a, b) = (parse_addr(a)?, parse_addr(b)?);
        if a.is_ipv4() != b.is_ipv4() {
            return Err("range ends are of different address families".into());
        }
        if a > b {
            return Err("range start is after its end".into());
        }
        if a.is_ipv6() && !excluded && count(a, b) > HostSet::MAX_V6_TOKEN {
            return Err(too_wide("the range".into(), count(a, b)));
        }
        return Ok(Item::Range(a, b));
    }
    if let Some((addr, _)) = token.split_once('/') {
        if addr.contains(':') {
            let net: Ipv6Network = token.parse().map_err(|e| format!("not a CIDR: {e}"))?;
            if net.network() != net.ip() {
                return Err(format!("host bits set; did you mean {}/{}?", net.network(), net.prefix()));
            }
            let size = 1u128.checked_shl(128 - net.prefix() as u32).unwrap_or(u128::MAX);
            if !excluded && size > HostSet::MAX_V6_TOKEN {
                return Err(too_wide(format!("a /{}", net.prefix()), size));
            }
            return Ok(Item::Range(IpAddr::V6(net.network()), IpAddr::V6(net.broadcast())));
        }
        let net: Ipv4Network = token.parse().map_err(|e| format!("not a CIDR: {e}"))?;
        if net.network() != net.ip() {
            return Err(format!("host bits set; did you mean {}/{}?", net.network(), net.prefix()));
        }
        return Ok(Item::Range(IpAddr::V4(net.network()), IpAddr::V4(net.broadcast())));
    }
    if token.parse::<IpAddr>().is_ok() {
        let a = parse_addr(token)?;
        return Ok(Item::Range(a, a));
    }
    if is_host_name(token) {
        return Ok(Item::Name(token.to_string()));
    }
    Err("not an IPv4 or IPv6 address, CIDR, a-b range, host name or @file".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    fn ip(a: &str) -> IpAddr {
        a.parse().unwrap()
    }

    #[test]
    fn forms_merge_and_index() {
        let set = HostSet::parse(&s(&["198.19.0.8/29", "198.19.0.16", "198.19.1.0-198.19.1.3"]), &[]).unwrap();
        assert_eq!(set.ranges(), &[(ip("198.19.0.8"), ip("198.19.0.16")), (ip("198.19.1.0"), ip("198.19.1.3"))]);
        assert_eq!(set.len(), 13);
        for i in 0..set.len() {
            assert_eq!(set.index_of(set.addr(i)), Some(i));
        }
        assert_eq!(set.addr(9), ip("198.19.1.0"));
        assert_eq!(set.index_of(ip("198.19.0.17")), None);
        assert_eq!(set.index_of(ip("198.19.0.7")), None);
    }

    #[test]
    fn exclusions_split_ranges() {
        let set = HostSet::parse(&s(&["198.19.1.0/24"]), &s(&["198.19.1.10-198.19.1.19", "198.19.1.0", "198.19.1.255"])).unwrap();
        assert_eq!(set.len(), 256 - 12);
        assert_eq!(set.addr(0), ip("198.19.1.1"));
        assert_eq!(set.addr(9), ip("198.19.1.20"));
        assert_eq!(set.index_of(ip("198.19.1.15")), None);
        assert_eq!(HostSet::parse(&s(&["198.19.1.0/24"]), &s(&["198.19.0.0/16"])), Err(TargetError::Empty));
    }

    #[test]
    fn bad_tokens_are_named() {
        for bad in ["198.19.1.0/33", "198.19.1.300", "198.19.1.9-198.19.1.1", "198.19.1.1/24", "", "1.2.3.4-x", "cp 1", "-cp.lab", "fd00::1/64", "2001:2::/111", "2001:2::-2001:2::1:0", "2001:2::1-198.19.0.1", "::ffff:198.19.0.1", "2001:2::9-2001:2::1", "2001:2::1/112", "fe80::1%eth0"] {
            match HostSet::parse(&s(&[bad]), &[]) {
                Err(TargetError::BadToken { token, .. }) => assert_eq!(token, bad.trim()),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        assert!(matches!(HostSet::parse(&s(&["0.0.0.0/0"]), &[]), Err(TargetError::TooLarge(_))));
    }

    #[test]
    fn ipv6_and_ipv4_share_one_ordered_space() {
        // Mixed tokens, v6 written first: IPv4 still indexes first, as
        // `IpAddr` orders them, and every address round-trips.
        let set = HostSet::parse(&s(&["2001:2::1:0/126", "2001:2::1-2001:2::3", "198.19.0.1", "2001:2::2"]), &s(&["2001:2::1:1"])).unwrap();
        let all: Vec<String> = set.iter().map(|a| a.to_string()).collect();
        assert_eq!(all, ["198.19.0.1", "2001:2::1", "2001:2::2", "2001:2::3", "2001:2::1:0", "2001:2::1:2", "2001:2::1:3"]);
        assert!(set.has_v4() && set.has_v6());
        for i in 0..set.len() {
            assert_eq!(set.index_of(set.addr(i)), Some(i));
        }
        // An IPv4 number never matches an IPv6 range, nor the reverse.
        assert_eq!(set.index_of(ip("::1")), None);
        assert_eq!(set.index_of(ip("0.0.0.1")), None);
        assert_eq!(set.index_of(ip("2001:2::1:1")), None);
        // The bound is a /112 for targets, none for exclusions.
        assert_eq!(HostSet::parse(&s(&["2001:2::/112"]), &[]).unwrap().len(), 65536);
        let set = HostSet::parse(&s(&["2001:2::/112", "198.19.0.0/30"]), &s(&["2001:2::/64", "198.19.0.0/31"])).unwrap();
        assert_eq!(set.iter().map(|a| a.to_string()).collect::<Vec<_>>(), ["198.19.0.2", "198.19.0.3"]);
        match HostSet::parse(&s(&["2001:2::/64"]), &[]) {
            Err(TargetError::BadToken { reason, .. }) => assert_eq!(reason, "a /64 has 18446744073709551616 addresses; an IPv6 target may cover at most a /112 (65536): list the addresses to scan in an @file"),
            other => panic!("{other:?}"),
        }
        // Excluding everything of one family leaves the other.
        let set = HostSet::parse(&s(&["2001:2::ffff:ffff:ffff:fffe-2001:2::ffff:ffff:ffff:ffff", "198.19.0.9"]), &s(&["::/0"])).unwrap();
        assert_eq!(set.iter().collect::<Vec<_>>(), [ip("198.19.0.9")]);
        // The top of the IPv6 space: no overflow at ffff…ffff.
        let set = HostSet::parse(&s(&["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124"]), &s(&["ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff8"])).unwrap();
        assert_eq!(set.len(), 15);
        assert_eq!(set.addr(14), ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
    }

    #[test]
    fn files_with_comments_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        std::fs::write(&p, "# nodes\n198.19.0.1 198.19.0.2 # two\n\n198.19.2.0/30\n2001:2::1, 2001:2::a:0/127\n").unwrap();
        let set = HostSet::parse(&[format!("@{}", p.display())], &[]).unwrap();
        assert_eq!(set.len(), 9);
        std::fs::write(&p, format!("198.19.0.1\n{}\n", "#".repeat(70_000))).unwrap();
        let err = HostSet::parse(&[format!("@{}", p.display())], &[]).unwrap_err();
        assert_eq!(err.to_string(), format!("{}:2: line longer than 65536 bytes, the most a target list line may be", p.display()));
        std::fs::write(&p, "198.19.0.1\n198.19.0.x\n").unwrap();
        let err = HostSet::parse(&[format!("@{}", p.display())], &[]).unwrap_err();
        assert!(matches!(err, TargetError::BadLine { line: 2, .. }), "{err:?}");
        assert!(err.to_string().contains(":2: bad target \"198.19.0.x\""), "{err}");
    }

    #[test]
    fn names_are_collected_then_resolved_and_excluded() {
        use crate::resolve::{resolve_with, ResolveMode};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nodes.txt");
        std::fs::write(&p, "# by name\ncp-1.lab.test, 198.19.0.11\napi.lab.test\n").unwrap();
        let t = Targets::parse(&s(&["worker-1.lab.test", &format!("@{}", p.display()), "198.19.1.0/30"]), &s(&["198.19.1.0", "api-old.lab.test"])).unwrap();
        let queries: Vec<String> = t.queries().iter().map(|q| format!("{}{}", crate::resolve::at(&q.origin), q.name)).collect();
        let f = p.display();
        assert_eq!(queries, ["worker-1.lab.test".to_string(), format!("{f}:2: cp-1.lab.test"), format!("{f}:3: api.lab.test"), "--exclude: api-old.lab.test".to_string()]);
        // Without resolution, a name is an error naming it and its line.
        assert_eq!(t.hosts(&Resolved::default()).unwrap_err().to_string(), "host name \"worker-1.lab.test\" was not resolved (addresses only here)");
        let table: crate::resolve::Lookup = std::sync::Arc::new(|n: &str| {
            let ips: &[&str] = match n {
                "worker-1.lab.test" => &["198.19.1.1"],
                "cp-1.lab.test" => &["198.19.0.10"],
                "api.lab.test" => &["198.19.0.10", "198.19.0.12", "198.19.0.13"],
                "api-old.lab.test" => &["198.19.0.13"],
                _ => &[],
            };
            Ok(ips.iter().map(|a| a.parse().unwrap()).collect())
        });
        let r = resolve_with(&t.queries(), ResolveMode::V4, std::time::Duration::from_secs(5), table).unwrap();
        let set = t.hosts(&r).unwrap();
        let got: Vec<String> = set.iter().map(|a| a.to_string()).collect();
        assert_eq!(got, ["198.19.0.10", "198.19.0.11", "198.19.0.12", "198.19.1.1", "198.19.1.2", "198.19.1.3"]);
    }
}
