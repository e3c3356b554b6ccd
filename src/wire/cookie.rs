//! Stateless probe validation: what a probe carries so that its reply can be
//! recognised without remembering the probe.
//!
//! A keyed SipHash of (our address, target address, protocol, target port)
//! — 4-byte addresses for IPv4, 16-byte ones for IPv6 —
//! gives the TCP sequence number (echoed back as `ack - 1` by SYN-ACK and RST,
//! and quoted verbatim in ICMP errors) and 10 bits of the source port. The
//! other 4 source-port bits carry the attempt number, so a reply also says
//! which transmission it answers (for RTT samples) without weakening the
//! check: a forged reply must guess 42 keyed bits.
use std::hash::Hasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use siphasher::sip::SipHasher13;

/// An address the cookie covers, fed to the hash whole: 4 bytes for IPv4
/// (an `IpAddr::V4` hashes as its `Ipv4Addr`), 16 for IPv6.
pub trait CookieAddr: Copy {
    fn feed(self, h: &mut SipHasher13);
}

impl CookieAddr for Ipv4Addr {
    #[inline]
    fn feed(self, h: &mut SipHasher13) {
        h.write_u32(u32::from(self));
    }
}

impl CookieAddr for Ipv6Addr {
    #[inline]
    fn feed(self, h: &mut SipHasher13) {
        h.write_u128(u128::from(self));
    }
}

impl CookieAddr for IpAddr {
    #[inline]
    fn feed(self, h: &mut SipHasher13) {
        match self {
            IpAddr::V4(a) => a.feed(h),
            IpAddr::V6(a) => a.feed(h),
        }
    }
}

/// Lowest source port we use; the 16,384 ports above it are ours.
pub const SPORT_BASE: u16 = 49152;
/// Attempts are numbered modulo this (the low source-port bits).
pub const ATTEMPT_SLOTS: u8 = 16;

/// The per-scan secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cookie {
    k0: u64,
    k1: u64,
}

/// What one probe carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeTag {
    pub sport: u16,
    pub seq: u32,
    /// The whole keyed hash, for payload fields that echo more bits (the
    /// NTP transmit timestamp).
    pub token: u64,
}

impl Cookie {
    pub fn new(k0: u64, k1: u64) -> Cookie {
        Cookie { k0, k1 }
    }

    /// A cookie with a fresh random key.
    pub fn random() -> Cookie {
        let mut b = [0u8; 16];
        // getrandom only fails where the OS has no entropy source at all;
        // a time-derived key still keeps strays out, so fall back to it.
        if getrandom::fill(&mut b).is_err() {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
            b = (t ^ (std::process::id() as u128) << 64).to_le_bytes();
        }
        let (a, c) = b.split_at(8);
        Cookie::new(u64::from_le_bytes(a.try_into().unwrap_or_default()), u64::from_le_bytes(c.try_into().unwrap_or_default()))
    }

    #[inline]
    fn hash<A: CookieAddr>(&self, src: A, dst: A, proto: u8, dport: u16) -> u64 {
        let mut h = SipHasher13::new_with_keys(self.k0, self.k1);
        src.feed(&mut h);
        dst.feed(&mut h);
        h.write_u32(((proto as u32) << 16) | dport as u32);
        h.finish()
    }

    /// The tag for attempt `attempt` of a probe from `src` to `dst:dport`.
    #[inline]
    pub fn tag<A: CookieAddr>(&self, src: A, dst: A, proto: u8, dport: u16, attempt: u8) -> ProbeTag {
        let h = self.hash(src, dst, proto, dport);
        let port_bits = ((h >> 32) & 0x3FF) as u16;
        ProbeTag { sport: SPORT_BASE + (port_bits << 4) + (attempt % ATTEMPT_SLOTS) as u16, seq: h as u32, token: h }
    }

    /// Checks that `sport` and `seq` are those we put in a probe from `src`
    /// to `dst:dport`; returns the attempt slot they carry.
    #[inline]
    pub fn check<A: CookieAddr>(&self, src: A, dst: A, proto: u8, dport: u16, sport: u16, seq: u32) -> Option<u8> {
        if sport < SPORT_BASE {
            return None;
        }
        let attempt = ((sport - SPORT_BASE) & 0xF) as u8;
        let tag = self.tag(src, dst, proto, dport, attempt);
        (tag.sport == sport && tag.seq == seq).then_some(attempt)
    }

    /// Checks only the source-port bits (a UDP reply carries nothing else
    /// of ours unless its payload echoes a field); returns the attempt and
    /// the tag, so the caller can check payload fields against it.
    #[inline]
    pub fn check_port<A: CookieAddr>(&self, src: A, dst: A, proto: u8, dport: u16, sport: u16) -> Option<(u8, ProbeTag)> {
        if sport < SPORT_BASE {
            return None;
        }
        let attempt = ((sport - SPORT_BASE) & 0xF) as u8;
        let tag = self.tag(src, dst, proto, dport, attempt);
        (tag.sport == sport).then_some((attempt, tag))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(198, 19, 1, 7);

    #[test]
    fn round_trips_and_carries_the_attempt() {
        let c = Cookie::new(1, 2);
        for attempt in 0..16 {
            let t = c.tag(A, B, 6, 6443, attempt);
            assert!(t.sport >= SPORT_BASE);
            assert_eq!(c.check(A, B, 6, 6443, t.sport, t.seq), Some(attempt));
        }
        assert_eq!(c.tag(A, B, 6, 6443, 0).seq, c.tag(A, B, 6, 6443, 5).seq);
    }

    #[test]
    fn ipv6_cookies_cover_all_sixteen_bytes() {
        let c = Cookie::new(1, 2);
        let a: Ipv6Addr = "2001:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:2:0:1::7".parse().unwrap();
        let t = c.tag(a, b, 6, 6443, 3);
        assert_eq!(c.check(a, b, 6, 6443, t.sport, t.seq), Some(3));
        assert_eq!(c.check(IpAddr::V6(a), IpAddr::V6(b), 6, 6443, t.sport, t.seq), Some(3));
        // Any one bit of either address changes the tag (high and low
        // halves both: an address hashed as 4 or 8 bytes would not).
        for bit in [0, 63, 64, 127] {
            let flip = |x: Ipv6Addr| Ipv6Addr::from(u128::from(x) ^ (1u128 << bit));
            assert_eq!(c.check(flip(a), b, 6, 6443, t.sport, t.seq), None, "src bit {bit}");
            assert_eq!(c.check(a, flip(b), 6, 6443, t.sport, t.seq), None, "dst bit {bit}");
        }
        // An IpAddr::V4 hashes as its Ipv4Addr: IPv4 tags are unchanged.
        assert_eq!(c.tag(IpAddr::V4(A), IpAddr::V4(B), 17, 53, 2), c.tag(A, B, 17, 53, 2));
    }

    #[test]
    fn rejects_anything_else() {
        let c = Cookie::new(1, 2);
        let t = c.tag(A, B, 6, 6443, 1);
        assert_eq!(c.check(A, B, 6, 6443, t.sport, t.seq ^ 1), None);
        assert_eq!(c.check(A, B, 6, 6444, t.sport, t.seq), None);
        assert_eq!(c.check(A, B, 17, 6443, t.sport, t.seq), None);
        assert_eq!(c.check(B, A, 6, 6443, t.sport, t.seq), None);
        assert_eq!(c.check(A, B, 6, 6443, t.sport ^ 0x10, t.seq), None);
        assert_eq!(c.check(A, B, 6, 6443, 1000, t.seq), None);
        assert_eq!(Cookie::new(1, 3).check(A, B, 6, 6443, t.sport, t.seq), None);
    }

    #[test]
    fn port_bits_come_from_the_hash_and_attempts_wrap() {
        let c = Cookie::new(1, 2);
        // 10 keyed bits: over 256 ports the source ports take many values.
        let sports: std::collections::BTreeSet<u16> = (1..=256).map(|p| c.tag(A, B, 6, p, 0).sport).collect();
        assert!(sports.len() > 200, "{} distinct source ports", sports.len());
        assert!(sports.iter().all(|s| (s - SPORT_BASE) & 0xF == 0), "attempt 0 in the low bits");
        assert_eq!(c.tag(A, B, 6, 80, 17), c.tag(A, B, 6, 80, 1), "attempts are modulo 16");
        // The lowest source port we use is ours: find a pair whose keyed
        // bits are 0, so its attempt-0 probe leaves from SPORT_BASE itself.
        let p = (1..=u16::MAX).find(|&p| c.tag(A, B, 17, p, 0).sport == SPORT_BASE).expect("1 in 1024 ports");
        let t = c.tag(A, B, 17, p, 0);
        assert_eq!(c.check(A, B, 17, p, SPORT_BASE, t.seq), Some(0));
        assert_eq!(c.check_port(A, B, 17, p, SPORT_BASE), Some((0, t)));
    }

    #[test]
    fn udp_replies_are_checked_by_their_port_bits() {
        let c = Cookie::new(5, 6);
        for attempt in [0, 3, 15] {
            let t = c.tag(A, B, 17, 8472, attempt);
            assert_eq!(c.check_port(A, B, 17, 8472, t.sport), Some((attempt, t)));
        }
        let t = c.tag(A, B, 17, 8472, 3);
        assert_eq!(c.check_port(A, B, 17, 8472, t.sport ^ 0x10), None, "another keyed bit");
        assert_eq!(c.check_port(A, B, 17, 8472, SPORT_BASE - 1), None);
        assert_eq!(c.check_port(A, B, 17, 8472, 123), None);
    }

    #[test]
    fn random_keys_are_whole_keys() {
        // 64 random keys: every one distinct in both halves, and every bit
        // of both halves both set and clear somewhere. A key from a clock,
        // a counter, or a half-filled buffer fails (the chance that a fair
        // bit is the same in all 64 keys is 2^-63 per bit).
        let keys: Vec<Cookie> = (0..64).map(|_| Cookie::random()).collect();
        for half in [|c: &Cookie| c.k0, |c: &Cookie| c.k1] {
            let words: std::collections::BTreeSet<u64> = keys.iter().map(half).collect();
            assert_eq!(words.len(), 64);
            let (ors, ands) = keys.iter().map(half).fold((0u64, u64::MAX), |(o, a), w| (o | w, a & w));
            assert_eq!((ors, ands), (u64::MAX, 0), "a bit never varies");
        }
        assert_ne!(keys[0].k0, keys[0].k1);
    }
}
