//! The result store: four bits per (host, port), written by the receiver
//! thread and read by senders (to skip answered pairs on retries) and by the
//! report builder, all without locks.
//!
//! The nibble records what answered the pair first; classification into
//! open/closed/filtered happens later and depends on the protocol, so the
//! store keeps evidence, not verdicts. A /16 × 2,784 ports (182 M pairs) takes
//! 87 MiB.
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};

/// What answered a probe, as stored (fits in 4 bits; 0 = nothing yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Answer {
    None = 0,
    SynAck = 1,
    Rst = 2,
    /// ICMP destination unreachable, by code.
    NetUnreach = 3,
    HostUnreach = 4,
    ProtoUnreach = 5,
    PortUnreach = 6,
    NetProhibited = 7,
    HostProhibited = 8,
    AdminProhibited = 9,
    /// A datagram came back from the probed UDP port.
    UdpReply = 10,
}

impl Answer {
    const ALL: [Answer; 11] = [
        Answer::None,
        Answer::SynAck,
        Answer::Rst,
        Answer::NetUnreach,
        Answer::HostUnreach,
        Answer::ProtoUnreach,
        Answer::PortUnreach,
        Answer::NetProhibited,
        Answer::HostProhibited,
        Answer::AdminProhibited,
        Answer::UdpReply,
    ];

    #[inline]
    pub fn from_nibble(n: u8) -> Answer {
        Self::ALL.get(n as usize).copied().unwrap_or(Answer::None)
    }

    /// The answer an ICMP destination-unreachable code stands for, if it is
    /// one nmap counts (0, 1, 2, 3, 9, 10, 13).
    pub fn from_icmp_code(code: u8) -> Option<Answer> {
        Some(match code {
            0 => Answer::NetUnreach,
            1 => Answer::HostUnreach,
            2 => Answer::ProtoUnreach,
            3 => Answer::PortUnreach,
            9 => Answer::NetProhibited,
            10 => Answer::HostProhibited,
            13 => Answer::AdminProhibited,
            _ => return None,
        })
    }

    /// The answer an ICMPv6 destination-unreachable code (RFC 4443, 3.1)
    /// stands for, as nmap reads them: port unreachable is a closed UDP
    /// port (filtered for TCP, by [`crate::report::classify`]); no route,
    /// administratively prohibited, beyond scope, address unreachable,
    /// source policy and reject route all mean filtered. Codes 7 and up
    /// (source routing, headers too long) say nothing about the port.
    pub fn from_icmpv6_code(code: u8) -> Option<Answer> {
        Some(match code {
            0 => Answer::NetUnreach,
            1 => Answer::AdminProhibited,
            2 | 3 => Answer::HostUnreach,
            4 => Answer::PortUnreach,
            5 => Answer::AdminProhibited,
            6 => Answer::NetProhibited,
            _ => return None,
        })
    }
}

/// Packed answers for every pair, plus per-host facts.
pub struct ResultStore {
    words: Box<[AtomicU64]>,
    len: u64,
    /// Bit per host: the host itself answered at least one probe.
    host_up: Box<[AtomicU64]>,
    /// TTL of the last TCP reply from each host (0 = none).
    host_ttl: Box<[AtomicU8]>,
}

impl ResultStore {
    pub fn new(pairs: u64, hosts: u64) -> ResultStore {
        ResultStore {
            words: (0..pairs.div_ceil(16)).map(|_| AtomicU64::new(0)).collect(),
            len: pairs,
            host_up: (0..hosts.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
            host_ttl: (0..hosts).map(|_| AtomicU8::new(0)).collect(),
        }
    }

    /// A store holding saved words (a checkpoint); `None` if the sizes do
    /// not fit `pairs` and `hosts`.
    pub fn from_words(pairs: u64, hosts: u64, words: &[u64], host_up: &[u64]) -> Option<ResultStore> {
        let s = ResultStore::new(pairs, hosts);
        if words.len() != s.words.len() || host_up.len() != s.host_up.len() {
            return None;
        }
        for (w, v) in s.words.iter().zip(words) {
            w.store(*v, Relaxed);
        }
        for (w, v) in s.host_up.iter().zip(host_up) {
            w.store(*v, Relaxed);
        }
        Some(s)
    }

    /// The packed words and the host-up bitmap, for a checkpoint.
    pub fn words(&self) -> (Vec<u64>, Vec<u64>) {
        (self.words.iter().map(|w| w.load(Relaxed)).collect(), self.host_up.iter().map(|w| w.load(Relaxed)).collect())
    }

    /// Pairs with an answer recorded.
    pub fn answered(&self) -> u64 {
        self.words.iter().map(|w| {
            let v = w.load(Relaxed);
            (0..16).filter(|k| (v >> (k * 4)) & 0xF != 0).count() as u64
        }).sum()
    }

    /// Bytes the store allocates for `pairs` pairs over `hosts` hosts.
    pub fn bytes_for(pairs: u64, hosts: u64) -> u64 {
        pairs.div_ceil(16) * 8 + hosts.div_ceil(64) * 8 + hosts
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn get(&self, i: u64) -> Answer {
        let w = self.words[(i / 16) as usize].load(Relaxed);
        Answer::from_nibble(((w >> ((i % 16) * 4)) & 0xF) as u8)
    }

    /// Records `a` for pair `i` unless something is recorded already;
    /// true when this call recorded it (the first answer wins).
    #[inline]
    pub fn record(&self, i: u64, a: Answer) -> bool {
        let word = &self.words[(i / 16) as usize];
        let shift = (i % 16) * 4;
        let mut cur = word.load(Relaxed);
        loop {
            if (cur >> shift) & 0xF != 0 {
                return false;
            }
            match word.compare_exchange_weak(cur, cur | ((a as u64) << shift), Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Overwrites pair `i` (used when merging or resuming).
    pub fn set(&self, i: u64, a: Answer) {
        let word = &self.words[(i / 16) as usize];
        let shift = (i % 16) * 4;
        let _ = word.fetch_update(Relaxed, Relaxed, |w| Some((w & !(0xF << shift)) | ((a as u64) << shift)));
    }

    #[inline]
    pub fn mark_host_up(&self, host: u64, ttl: Option<u8>) {
        let bit = 1u64 << (host % 64);
        let w = &self.host_up[(host / 64) as usize];
        if w.load(Relaxed) & bit == 0 {
            w.fetch_or(bit, Relaxed);
        }
        if let Some(t) = ttl {
            self.host_ttl[host as usize].store(t, Relaxed);
        }
    }

    pub fn host_is_up(&self, host: u64) -> bool {
        self.host_up[(host / 64) as usize].load(Relaxed) & (1u64 << (host % 64)) != 0
    }

    pub fn host_ttl(&self, host: u64) -> Option<u8> {
        match self.host_ttl[host as usize].load(Relaxed) {
            0 => None,
            t => Some(t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nibbles_are_independent_and_first_answer_wins() {
        let s = ResultStore::new(100, 3);
        assert!(s.record(17, Answer::SynAck));
        assert!(!s.record(17, Answer::Rst));
        assert!(s.record(16, Answer::AdminProhibited));
        assert!(s.record(99, Answer::UdpReply));
        assert_eq!(s.get(17), Answer::SynAck);
        assert_eq!(s.get(16), Answer::AdminProhibited);
        assert_eq!(s.get(18), Answer::None);
        assert_eq!(s.get(99), Answer::UdpReply);
        assert_eq!((0..100).filter(|&i| s.get(i) != Answer::None).count(), 3);
        s.set(17, Answer::Rst);
        assert_eq!(s.get(17), Answer::Rst);
        assert_eq!(s.get(16), Answer::AdminProhibited);
    }

    #[test]
    fn concurrent_writers_lose_nothing() {
        let s = ResultStore::new(64 * 1024, 1);
        std::thread::scope(|sc| {
            for t in 0..4u64 {
                let s = &s;
                sc.spawn(move || {
                    for i in (t..64 * 1024).step_by(4) {
                        assert!(s.record(i, Answer::from_nibble((i % 10 + 1) as u8)));
                    }
                });
            }
        });
        assert!((0..64 * 1024u64).all(|i| s.get(i) == Answer::from_nibble((i % 10 + 1) as u8)));
    }

    #[test]
    fn hosts_and_sizes() {
        let s = ResultStore::new(10, 130);
        s.mark_host_up(129, Some(63));
        assert!(s.host_is_up(129) && !s.host_is_up(128));
        assert_eq!(s.host_ttl(129), Some(63));
        assert_eq!(s.host_ttl(0), None);
        // A /16 × 2,784 ports fits the 128 MiB budget.
        assert!(ResultStore::bytes_for(65_536 * 2_784, 65_536) < 128 << 20);
        assert_eq!(Answer::from_nibble(15), Answer::None);
    }

    #[test]
    fn counts_sizes_and_updates_in_any_word() {
        let s = ResultStore::new(100, 3);
        assert_eq!((s.len(), s.is_empty(), s.answered()), (100, false, 0));
        assert!(ResultStore::new(0, 0).is_empty());
        for (i, a) in [(0, Answer::Rst), (15, Answer::SynAck), (16, Answer::UdpReply), (40, Answer::PortUnreach), (99, Answer::AdminProhibited)] {
            s.record(i, a);
        }
        assert_eq!(s.answered(), 5);
        // `set` overwrites one nibble of word 2 (pairs 32..48) and nothing else.
        s.set(40, Answer::SynAck);
        s.set(41, Answer::Rst);
        let got: Vec<(u64, Answer)> = (0..100).map(|i| (i, s.get(i))).filter(|p| p.1 != Answer::None).collect();
        assert_eq!(got, vec![(0, Answer::Rst), (15, Answer::SynAck), (16, Answer::UdpReply), (40, Answer::SynAck), (41, Answer::Rst), (99, Answer::AdminProhibited)]);
        assert_eq!(s.answered(), 6);
        // 4 bits a pair in 8-byte words, a bit a host in 8-byte words, a
        // TTL byte a host.
        assert_eq!(ResultStore::bytes_for(100, 3), 7 * 8 + 8 + 3);
        assert_eq!(ResultStore::bytes_for(65_536 * 2_784, 65_536), 65_536 * 2_784 / 2 + 65_536 / 8 + 65_536);
    }

    #[test]
    fn icmp_codes_map_as_nmap_counts_them() {
        use Answer::*;
        let mapped: Vec<(u8, Answer)> = (0..=255u8).filter_map(|c| Answer::from_icmp_code(c).map(|a| (c, a))).collect();
        assert_eq!(mapped, vec![(0, NetUnreach), (1, HostUnreach), (2, ProtoUnreach), (3, PortUnreach), (9, NetProhibited), (10, HostProhibited), (13, AdminProhibited)]);
    }

    #[test]
    fn icmpv6_codes_map_as_nmap_reads_them() {
        use crate::report::{classify, State};
        use crate::space::Protocol::{Tcp, Udp};
        use Answer::*;
        let mapped: Vec<(u8, Answer)> = (0..=255u8).filter_map(|c| Answer::from_icmpv6_code(c).map(|a| (c, a))).collect();
        assert_eq!(mapped, vec![(0, NetUnreach), (1, AdminProhibited), (2, HostUnreach), (3, HostUnreach), (4, PortUnreach), (5, AdminProhibited), (6, NetProhibited)]);
        // Port unreachable closes a UDP port only; everything else filters.
        for (code, answer) in mapped {
            let udp = if code == 4 { State::Closed } else { State::Filtered };
            assert_eq!((classify(Udp, answer).0, classify(Tcp, answer).0), (udp, State::Filtered), "code {code}");
        }
    }

    #[test]
    fn a_store_comes_back_from_its_words_and_refuses_other_sizes() {
        let s = ResultStore::new(100, 70);
        s.record(3, Answer::SynAck);
        s.record(99, Answer::PortUnreach);
        s.mark_host_up(69, None);
        let (words, up) = s.words();
        let back = ResultStore::from_words(100, 70, &words, &up).expect("same sizes");
        assert!((0..100).all(|i| back.get(i) == s.get(i)));
        assert!(back.host_is_up(69) && !back.host_is_up(0));
        assert!(ResultStore::from_words(100, 70, &words[1..], &up).is_none(), "a word short");
        assert!(ResultStore::from_words(100, 70, &words, &up[1..]).is_none(), "a host word short");
        assert!(ResultStore::from_words(200, 70, &words, &up).is_none(), "another space");
        assert!(ResultStore::from_words(100, 200, &words, &up).is_none(), "other hosts");
    }
}
