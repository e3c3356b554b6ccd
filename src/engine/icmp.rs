//! ICMP rounds: telling closed UDP ports from silent ones on hosts whose
//! ICMP errors are rate limited.
//!
//! A closed UDP port answers only with ICMP port unreachable, and Linux
//! sends those to one destination at most once per `icmp_ratelimit` (1 s)
//! after a burst of about 6. A fast sweep of many closed UDP ports on one
//! node therefore sees a burst of "closed" and then silence that looks like
//! `open|filtered`; a node whose budget another scan just spent shows no
//! closed port at all. After the normal passes, every host that answered
//! anything and still has silent UDP pairs gets rounds, one every 1.25 s:
//!
//! - per host, up to `allowance` silent pairs, then a *canary* (a pair of
//!   that host already known closed) when there is one, sent last;
//! - a pair that got an answer is settled by it (the store has it);
//! - a silent pair is *confirmed* silent when the host demonstrably had ICMP
//!   budget for it: a later probe of the same round got an ICMP answer (a
//!   silent port spends no token, so the token was there), or nothing before
//!   it in the round was answered and the round began a full refill interval
//!   after the host's previous probes (every round but the first).
//!   Confirmed twice, it is settled `open|filtered`: twice, so that one lost
//!   packet cannot decide;
//! - the allowance follows the budget seen: doubled (up to the burst) while
//!   every probe was answered or confirmed, cut to what was answered
//!   otherwise.
//!
//! Why 1.25 s and not 1 s: the kernel refills in jiffies, so a round
//! exactly 1 s after the last may find 0.99 of a token and waste itself.
//! A quarter token of slack makes every round's first probe find a whole
//! one. A token completing *between* a silent probe and a later answered
//! one (a window of microseconds in a 1 s cycle) would confirm a
//! rate-limited silence; the second confirmation covers that rare case.
//!
//! Rounds end when every pair is settled, or after `--icmp-wait`; pairs
//! still unsettled then are reported `open|filtered` and counted in
//! `stats.udp_unresolved`. Hosts that answered nothing at all are down and
//! get no rounds.
use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::{Answer, Shared};
use crate::space::Protocol;

/// The attempt slot round probes carry (passes use 0..=14).
pub const ROUND_ATTEMPT: u8 = 15;
/// Linux's default ICMP refill interval (`net.ipv4.icmp_ratelimit`, 1 s)
/// plus slack (see the module doc).
pub const ROUND_INTERVAL: Duration = Duration::from_millis(1250);
/// Linux's burst (XRLIM_BURST_FACTOR) less the canary.
const MAX_ALLOWANCE: usize = 5;
const CONFIRMATIONS: u8 = 2;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RoundsOutcome {
    pub rounds: u32,
    pub unresolved: u64,
}

struct HostRounds {
    silent: VecDeque<u64>,
    canary: Option<u64>,
    allowance: usize,
}

/// Runs rounds until every candidate pair is settled, time runs out or the
/// scan is stopped. `send` sends a list of pairs in order and returns when
/// they are out.
pub(super) fn run_rounds(shared: &Shared, answers: &Receiver<u64>, mut send: impl FnMut(Vec<u64>) -> io::Result<()>) -> io::Result<RoundsOutcome> {
    let mut hosts = candidates(shared);
    let mut confirmed: HashMap<u64, u8> = HashMap::new();
    let deadline = Instant::now() + shared.config.icmp_wait;
    let mut out = RoundsOutcome::default();
    while !hosts.is_empty() && Instant::now() < deadline && !shared.stop.load(Relaxed) {
        let started = Instant::now();
        while answers.try_recv().is_ok() {}
        let mut list = Vec::new();
        let mut probed: Vec<Vec<u64>> = Vec::with_capacity(hosts.len());
        for h in hosts.iter_mut() {
            let take = h.allowance.min(h.silent.len());
            let mut these: Vec<u64> = h.silent.drain(..take).collect();
            these.extend(h.canary);
            list.extend_from_slice(&these);
            probed.push(these);
        }
        send(list)?;
        out.rounds += 1;
        let refilled = out.rounds > 1;
        // Answers to this round: wait one RTT-derived timeout.
        let timeout = Duration::from_micros(shared.timeout_us.load(Relaxed)).max(Duration::from_millis(50));
        let mut answered = HashSet::new();
        let until = Instant::now() + timeout;
        while let Ok(i) = answers.recv_deadline(until) {
            answered.insert(i);
        }
        for (h, these) in hosts.iter_mut().zip(probed) {
            let last_answered = these.iter().rposition(|p| answered.contains(p));
            let first_answered = these.iter().position(|p| answered.contains(p));
            let (mut got, mut unknown) = (0, 0);
            for (k, &p) in these.iter().enumerate() {
                if Some(p) == h.canary {
                    continue;
                }
                if shared.store.get(p) != Answer::None {
                    got += 1;
                    if h.canary.is_none() && shared.store.get(p) == Answer::PortUnreach {
                        h.canary = Some(p);
                    }
                    continue;
                }
                let had_budget = last_answered.is_some_and(|j| j > k) || (refilled && first_answered.is_none_or(|j| j > k));
                if had_budget {
                    let c = confirmed.entry(p).or_insert(0);
                    *c += 1;
                    if *c >= CONFIRMATIONS {
                        continue;
                    }
                } else {
                    unknown += 1;
                }
                h.silent.push_back(p);
            }
            h.allowance = if unknown == 0 { (h.allowance * 2).min(MAX_ALLOWANCE) } else { got.max(1) };
        }
        hosts.retain(|h| !h.silent.is_empty());
        let next = started + ROUND_INTERVAL;
        let now = Instant::now();
        if next > now && !hosts.is_empty() {
            std::thread::sleep((next - now).min(deadline.saturating_duration_since(now)));
        }
    }
    out.unresolved = hosts.iter().map(|h| h.silent.len() as u64).sum();
    Ok(out)
}

/// Hosts that answered something and still have silent UDP pairs, with a
/// canary where one of their UDP pairs is known closed.
fn candidates(shared: &Shared) -> Vec<HostRounds> {
    let space = &shared.config.space;
    let n = space.port_count() as u64;
    let udp: Vec<u64> = (0..n).filter(|&i| space.ports.get(i as usize).0 == Protocol::Udp).collect();
    let mut out = Vec::new();
    for host in 0..space.hosts.len() {
        if !shared.store.host_is_up(host) {
            continue;
        }
        let base = host * n;
        let mut canary = None;
        let mut silent = VecDeque::new();
        for &i in &udp {
            match shared.store.get(base + i) {
                Answer::PortUnreach if canary.is_none() => canary = Some(base + i),
                Answer::None if belongs_to_shard(shared, base + i) => silent.push_back(base + i),
                _ => {}
            }
        }
        if !silent.is_empty() {
            out.push(HostRounds { silent, canary, allowance: MAX_ALLOWANCE });
        }
    }
    out
}
fn belongs_to_shard(shared: &Shared, index: u64) -> bool {
    let shard = shared.config.shard;
    shard.count == 1 || shared.perm.position_of(index) % shard.count == shard.index
}
