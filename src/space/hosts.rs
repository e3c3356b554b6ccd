//! Host sets parsed from the forms users type: addresses, CIDRs, `a-b`
//! ranges, host names and `@file` lists, minus exclusions. Kept as merged
//! ranges of u32 so a /8 costs two integers, and an address maps to its
//! dense index by binary search over prefix sums.
//!
//! Host names are collected, not looked up: [`Targets`] holds the parsed
//! tokens with the names still unresolved (and where each was written), so
//! that every name of a run is resolved in one bounded batch
//! ([`crate::resolve`]) before [`Targets::hosts`] builds the set.
use std::net::Ipv4Addr;
use std::path::Path;

use ipnetwork::Ipv4Network;

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

/// Sorted, disjoint, non-adjacent inclusive ranges of IPv4 addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostSet {
    ranges: Vec<(u32, u32)>,
    /// `starts[i]` = number of addresses in ranges before `i`.
    starts: Vec<u64>,
}

/// One parsed target token.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Range(u32, u32),
    Name(String),
}

/// Target and exclusion tokens, parsed, with host names not yet resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    include: Vec<(u32, u32)>,
    exclude: Vec<(u32, u32)>,
    /// (query, excluded?) in the order written.
    names: Vec<(Query, bool)>,
}

impl Targets {
    /// Parses target tokens (address, CIDR, `a.b.c.d-e.f.g.h`, host name,
    /// `@file`) and the `exclude` tokens (same forms).
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
            out.extend(addrs.iter().map(|a| (u32::from(*a), u32::from(*a))));
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
        let item = parse_one(token).map_err(|reason| TargetError::BadToken { token: token.to_string(), reason })?;
        self.push(item, if excluded { "--exclude".into() } else { String::new() }, excluded);
        Ok(())
    }

    fn collect_file(&mut self, path: &Path, excluded: bool) -> Result<(), TargetError> {
        let file = path.display().to_string();
        let text = crate::bounded::read_text_lines(path, "target list")?;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("");
            for token in line.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()) {
                let item = parse_one(token).map_err(|reason| TargetError::BadLine { file: file.clone(), line: n + 1, token: token.to_string(), reason })?;
                self.push(item, format!("{file}:{}", n + 1), excluded);
            }
        }
        Ok(())
    }
}

impl HostSet {
    /// Addresses a single scan may cover: a /8 is 16.7 M hosts.
    pub const MAX_HOSTS: u64 = 1 << 24;

    /// Parses target tokens (address, CIDR, `a.b.c.d-e.f.g.h`, `@file`) and
    /// removes the `exclude` tokens (same forms). Host names are refused:
    /// resolving them is [`Targets`]'s job.
    pub fn parse(include: &[String], exclude: &[String]) -> Result<HostSet, TargetError> {
        Targets::parse(include, exclude)?.hosts(&Resolved::default())
    }

    /// Builds a set from arbitrary inclusive ranges (merged and sorted).
    pub fn from_ranges(mut ranges: Vec<(u32, u32)>) -> HostSet {
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if a as u64 <= last.1 as u64 + 1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        let mut starts = Vec::with_capacity(merged.len());
        let mut acc = 0u64;
        for &(a, b) in &merged {
            starts.push(acc);
            acc += (b - a) as u64 + 1;
        }
        HostSet { ranges: merged, starts }
    }

    fn subtract(&self, other: &HostSet) -> HostSet {
        let mut out = Vec::new();
        for &(a, b) in &self.ranges {
            let mut cur = a as u64;
            for &(x, y) in &other.ranges {
                if (y as u64) < cur || x > b {
                    continue;
                }
                if (x as u64) > cur {
                    out.push((cur as u32, x - 1));
                }
                cur = y as u64 + 1;
                if cur > b as u64 {
                    break;
                }
            }
            if cur <= b as u64 {
                out.push((cur as u32, b));
            }
        }
        HostSet::from_ranges(out)
    }

    pub fn len(&self) -> u64 {
        match (self.starts.last(), self.ranges.last()) {
            (Some(s), Some(&(a, b))) => s + (b - a) as u64 + 1,
            _ => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// The address with dense index `i` (`i < len()`).
    pub fn addr(&self, i: u64) -> Ipv4Addr {
        let r = self.starts.partition_point(|&s| s <= i) - 1;
        Ipv4Addr::from(self.ranges[r].0 + (i - self.starts[r]) as u32)
    }

    /// The dense index of `addr`, if it is in the set.
    pub fn index_of(&self, addr: Ipv4Addr) -> Option<u64> {
        let a = u32::from(addr);
        let r = self.ranges.partition_point(|&(start, _)| start <= a);
        if r == 0 {
            return None;
        }
        let (start, end) = self.ranges[r - 1];
        (a <= end).then(|| self.starts[r - 1] + (a - start) as u64)
    }

    pub fn iter(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.ranges.iter().flat_map(|&(a, b)| (a..=b).map(Ipv4Addr::from))
    }
}

/// One address, CIDR, dash range or host name.
fn parse_one(token: &str) -> Result<Item, String> {
    if token.is_empty() {
        return Err("empty target".into());
    }
    // A dash after an address is a range (`cp-1.lab` is a name).
    if let Some((a, b)) = token.split_once('-').filter(|(a, _)| a.trim().parse::<Ipv4Addr>().is_ok()) {
        let a: Ipv4Addr = a.trim().parse().map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let b: Ipv4Addr = b.trim().parse().map_err(|_| format!("{b:?} is not an IPv4 address"))?;
        let (a, b) = (u32::from(a), u32::from(b));
        if a > b {
            return Err("range start is after its end".into());
        }
        return Ok(Item::Range(a, b));
    }
    if token.contains('/') {
        let net: Ipv4Network = token.parse().map_err(|e| format!("not a CIDR: {e}"))?;
        if net.network() != net.ip() {
            return Err(format!("host bits set; did you mean {}/{}?", net.network(), net.prefix()));
        }
        return Ok(Item::Range(u32::from(net.network()), u32::from(net.broadcast())));
    }
    if let Ok(a) = token.parse::<Ipv4Addr>() {
        return Ok(Item::Range(u32::from(a), u32::from(a)));
    }
    if is_host_name(token) {
        return Ok(Item::Name(token.to_string()));
    }
    Err("not an IPv4 address, CIDR, a.b.c.d-e.f.g.h range, host name or @file".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn forms_merge_and_index() {
        let set = HostSet::parse(&s(&["198.19.0.8/29", "198.19.0.16", "198.19.1.0-198.19.1.3"]), &[]).unwrap();
        assert_eq!(set.ranges(), &[(u32::from(Ipv4Addr::new(198, 19, 0, 8)), u32::from(Ipv4Addr::new(198, 19, 0, 16))), (u32::from(Ipv4Addr::new(198, 19, 1, 0)), u32::from(Ipv4Addr::new(198, 19, 1, 3)))]);
        assert_eq!(set.len(), 13);
        for i in 0..set.len() {
            assert_eq!(set.index_of(set.addr(i)), Some(i));
        }
        assert_eq!(set.addr(9), Ipv4Addr::new(198, 19, 1, 0));
        assert_eq!(set.index_of(Ipv4Addr::new(198, 19, 0, 17)), None);
        assert_eq!(set.index_of(Ipv4Addr::new(198, 19, 0, 7)), None);
    }

    #[test]
    fn exclusions_split_ranges() {
        let set = HostSet::parse(&s(&["198.19.1.0/24"]), &s(&["198.19.1.10-198.19.1.19", "198.19.1.0", "198.19.1.255"])).unwrap();
        assert_eq!(set.len(), 256 - 12);
        assert_eq!(set.addr(0), Ipv4Addr::new(198, 19, 1, 1));
        assert_eq!(set.addr(9), Ipv4Addr::new(198, 19, 1, 20));
        assert_eq!(set.index_of(Ipv4Addr::new(198, 19, 1, 15)), None);
        assert_eq!(HostSet::parse(&s(&["198.19.1.0/24"]), &s(&["198.19.0.0/16"])), Err(TargetError::Empty));
    }

    #[test]
    fn bad_tokens_are_named() {
        for bad in ["198.19.1.0/33", "198.19.1.300", "198.19.1.9-198.19.1.1", "198.19.1.1/24", "", "1.2.3.4-x", "cp 1", "-cp.lab", "fd00::1"] {
            match HostSet::parse(&s(&[bad]), &[]) {
                Err(TargetError::BadToken { token, .. }) => assert_eq!(token, bad.trim()),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        assert!(matches!(HostSet::parse(&s(&["0.0.0.0/0"]), &[]), Err(TargetError::TooLarge(_))));
    }

    #[test]
    fn files_with_comments_and_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        std::fs::write(&p, "# nodes\n198.19.0.1 198.19.0.2 # two\n\n198.19.2.0/30\n").unwrap();
        let set = HostSet::parse(&[format!("@{}", p.display())], &[]).unwrap();
        assert_eq!(set.len(), 6);
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
