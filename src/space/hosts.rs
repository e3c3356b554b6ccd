//! Host sets parsed from the forms users type: addresses, CIDRs, `a-b`
//! ranges and `@file` lists, minus exclusions. Kept as merged ranges of u32 so
//! a /8 costs two integers, and an address maps to its dense index by binary
//! search over prefix sums.
use std::net::Ipv4Addr;
use std::path::Path;

use ipnetwork::Ipv4Network;

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
}

/// Sorted, disjoint, non-adjacent inclusive ranges of IPv4 addresses.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostSet {
    ranges: Vec<(u32, u32)>,
    /// `starts[i]` = number of addresses in ranges before `i`.
    starts: Vec<u64>,
}

impl HostSet {
    /// Addresses a single scan may cover: a /8 is 16.7 M hosts.
    pub const MAX_HOSTS: u64 = 1 << 24;

    /// Parses target tokens (address, CIDR, `a.b.c.d-e.f.g.h`, `@file`) and
    /// removes the `exclude` tokens (same forms).
    pub fn parse(include: &[String], exclude: &[String]) -> Result<HostSet, TargetError> {
        let mut inc = Vec::new();
        for t in include {
            collect_token(t, &mut inc)?;
        }
        let mut exc = Vec::new();
        for t in exclude {
            collect_token(t, &mut exc)?;
        }
        let set = HostSet::from_ranges(inc).subtract(&HostSet::from_ranges(exc));
        if set.is_empty() {
            return Err(TargetError::Empty);
        }
        if set.len() > Self::MAX_HOSTS {
            return Err(TargetError::TooLarge(set.len()));
        }
        Ok(set)
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

fn collect_token(token: &str, out: &mut Vec<(u32, u32)>) -> Result<(), TargetError> {
    let token = token.trim();
    if let Some(path) = token.strip_prefix('@') {
        return collect_file(Path::new(path), out);
    }
    parse_one(token)
        .map(|r| out.push(r))
        .map_err(|reason| TargetError::BadToken { token: token.to_string(), reason })
}

fn collect_file(path: &Path, out: &mut Vec<(u32, u32)>) -> Result<(), TargetError> {
    let file = path.display().to_string();
    let text = crate::bounded::read_text_lines(path, "target list")?;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        for token in line.split(|c: char| c.is_whitespace() || c == ',').filter(|t| !t.is_empty()) {
            let r = parse_one(token).map_err(|reason| TargetError::BadLine {
                file: file.clone(),
                line: n + 1,
                token: token.to_string(),
                reason,
            })?;
            out.push(r);
        }
    }
    Ok(())
}

/// One address, CIDR or dash range as an inclusive u32 range.
pub(crate) fn parse_one(token: &str) -> Result<(u32, u32), String> {
    if token.is_empty() {
        return Err("empty target".into());
    }
    if let Some((a, b)) = token.split_once('-') {
        let a: Ipv4Addr = a.trim().parse().map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let b: Ipv4Addr = b.trim().parse().map_err(|_| format!("{b:?} is not an IPv4 address"))?;
        let (a, b) = (u32::from(a), u32::from(b));
        if a > b {
            return Err("range start is after its end".into());
        }
        return Ok((a, b));
    }
    if token.contains('/') {
        let net: Ipv4Network = token.parse().map_err(|e| format!("not a CIDR: {e}"))?;
        if net.network() != net.ip() {
            return Err(format!("host bits set; did you mean {}/{}?", net.network(), net.prefix()));
        }
        return Ok((u32::from(net.network()), u32::from(net.broadcast())));
    }
    let a: Ipv4Addr = token
        .parse()
        .map_err(|_| "not an IPv4 address, CIDR, a.b.c.d-e.f.g.h range or @file".to_string())?;
    Ok((u32::from(a), u32::from(a)))
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
        for bad in ["198.19.1.0/33", "198.19.1.300", "198.19.1.9-198.19.1.1", "198.19.1.1/24", "", "host", "1.2.3.4-x"] {
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
}
