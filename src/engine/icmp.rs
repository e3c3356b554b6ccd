//! ICMP rounds: telling closed UDP ports from silent ones when ICMP errors
//! are rate limited — by whatever limiter, shaped however.
//!
//! A closed UDP port answers only with ICMP port unreachable, and senders
//! limit those: Linux per destination (`icmp_ratelimit`, 1 s or, from
//! 2026, 100 ms between tokens, burst 6; keyed by the *scanner*, so one
//! bucket for every address one kernel serves) and globally per network
//! namespace (`icmp_msgs_per_sec` 1000, burst 50, refilled in 20 ms steps,
//! a random 0–2 credits spent per error); routers and firewalls answer for
//! whole subnets with one bucket; appliances have none, or one per source.
//! After a fast sweep a silent UDP pair may be open, filtered — or closed
//! with its error swallowed. Nothing about the limiter is assumed to be
//! known: not who shares a bucket, not its rate, not its burst.
//!
//! **The bracket (what makes a silence count).** A silent pair P is
//! re-probed immediately followed (µs later, in the same `sendmmsg` batch)
//! by a *canary* C: a pair of the *same address* already known closed.
//! Every limiter above spends credit only when it lets an error out and
//! gains credit only with time; the canary is answered by the same
//! machine, through the same buckets, as P. So if C's error comes back,
//! every bucket that governs P's error had credit when P arrived, and P's
//! silence is the port's own — whether buckets are per address, shared by
//! many addresses, fast or slow, or several at once. It can only be wrong
//! if a refill fell in the µs between P and C (a chance of about gap/refill
//! step, ~10⁻³ or less) or P's probe or error was lost while C's was not;
//! so a silence needs two such confirmations in different rounds (three
//! when the passes measured loss) to be settled `open|filtered`. Each
//! round probe carries its own IP ID, which the error quotes, so every
//! canary copy is told apart and a late answer from an earlier round
//! confirms nothing. A host with no known-closed UDP pair has no canary:
//! its silences are probed alone a few times (an answer settles one and
//! gives the canary) but can never be confirmed.
//!
//! **Pacing (learning the limiter's shape).** Rounds last `round` (250 ms
//! at first); a round's probes are sent in [`SLICES`] slices spread over
//! it, not in one burst, so a shared bucket refilled in steps is met at its
//! pace. A check *succeeds* when P or C drew an error (the buckets had
//! credit). The round's probe budget follows the success fraction (AIMD):
//! doubled while ≥ 90 % of the checks (less the measured loss) succeed —
//! and the round halved back towards 250 ms — cut to the fraction that
//! succeeded otherwise; at one check a round and still failing, the round
//! lengthens (up to 2 s), which is what one slow bucket for everything
//! looks like. Failures spread over many hosts at once mean a shared
//! bucket (the budget is cut, hosts are not); a host failing while the
//! others succeed has a bucket of its own: its per-round quota is cut and
//! it is visited every 2nd, 4th … round, growing back on success. Hosts
//! are taken round-robin from a rotating start, so a budget smaller than
//! the work still reaches every host.
//!
//! Rounds end when every pair is settled, after `--icmp-wait`, or when the
//! scan is stopped. Pairs still unsettled then are reported `open|filtered`
//! (`no-response`) and returned as *unresolved* (the report lists them per
//! host and counts them in `stats.udp_unresolved`), with the wait that
//! would probably have settled them at the pace seen. When TCP ports are
//! scanned too, a host that answered nothing is down (resets are never
//! rate limited) and gets no rounds; in a UDP-only scan it is probed alone
//! like any host without a canary, and its pairs stay unresolved if it
//! never answers (a dead host and one whose every error was swallowed look
//! the same).
use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::{Answer, Shared};
use crate::space::Protocol;

/// The attempt slot round probes carry (passes use 0..=14).
pub const ROUND_ATTEMPT: u8 = 15;
/// The shortest round, and the first.
pub const ROUND: Duration = Duration::from_millis(250);
/// The longest round (one slow bucket shared by everything).
pub const MAX_ROUND: Duration = Duration::from_secs(2);
/// Sends per round, evenly spaced.
pub const SLICES: u32 = 20;
/// Probes in the first round.
const START_BUDGET: usize = 64;
/// One check (P and its canary).
const MIN_BUDGET: usize = 2;
const START_QUOTA: usize = 3;
const MAX_QUOTA: usize = 32;
const MAX_SKIP: u32 = 8;
/// Probes of a canary-less pair, in rounds whose limiters had credit,
/// before it is left unresolved.
const MAX_ALONE: u8 = 3;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RoundsOutcome {
    pub rounds: u32,
    /// Silent UDP pairs whose silence was not established, sorted.
    pub unresolved: Vec<u64>,
    /// The `--icmp-wait` that would probably have settled them.
    pub wait_hint: Option<Duration>,
}

struct HostRounds {
    /// Unsettled pairs, in rotation.
    silent: VecDeque<u64>,
    canary: Option<u64>,
    quota: usize,
    skip: u32,
    next_round: u32,
}

/// One probe of a silent pair, with its canary's copy if the host has one.
struct Check {
    host: usize,
    pair: u64,
    id: u16,
    canary: Option<(u64, u16)>,
}

/// Confirmations a silence needs, from the round-trip loss the passes saw.
pub fn confirmations_needed(loss: f64) -> u8 {
    if loss > 0.005 {
        3
    } else {
        2
    }
}

/// The AIMD state of the rounds (module doc), apart from I/O so that it
/// can be tested on made-up outcomes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    pub budget: usize,
    pub round: Duration,
}

impl Pace {
    pub fn new() -> Pace {
        Pace { budget: START_BUDGET, round: ROUND }
    }

    /// After a round that sent `probes` (at most the budget) in `checks`
    /// checks of which `ok` drew an error; `loss` is the round-trip loss.
    /// Returns whether the round counts as a success.
    pub fn after_round(&mut self, probes: usize, checks: usize, ok: usize, loss: f64) -> bool {
        if checks == 0 {
            return true;
        }
        let f = ok as f64 / checks as f64;
        if f >= 0.9 * (1.0 - loss) {
            // Grow only a budget that was the limit.
            if probes * 2 >= self.budget {
                self.budget = self.budget.saturating_mul(2).min(1 << 20);
            }
            self.round = (self.round / 2).max(ROUND);
            true
        } else {
            if self.budget <= MIN_BUDGET && f < 0.5 {
                self.round = (self.round * 2).min(MAX_ROUND);
            }
            self.budget = ((probes.min(self.budget) as f64 * f) as usize).max(MIN_BUDGET);
            false
        }
    }
}

impl Default for Pace {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs rounds until every candidate pair is settled, time runs out or the
/// scan is stopped. `send` sends a list of (pair, IP ID) in order and
/// returns when they are out; `answers` gets (pair, quoted IP ID) of every
/// answer to a round probe; `loss` is the passes' round-trip loss estimate.
pub(super) fn run_rounds(shared: &Shared, answers: &Receiver<(u64, u16)>, loss: f64, mut send: impl FnMut(Vec<(u64, u16)>) -> io::Result<()>) -> io::Result<RoundsOutcome> {
    let mut hosts = candidates(shared);
    let needed = confirmations_needed(loss);
    let mut confirmed: HashMap<u64, u8> = HashMap::new();
    let mut alone: HashMap<u64, u8> = HashMap::new();
    let mut given_up: Vec<u64> = Vec::new();
    let begun = Instant::now();
    let deadline = begun + shared.config.icmp_wait;
    let mut out = RoundsOutcome::default();
    let mut pace = Pace::new();
    let mut next_id: u16 = 1;
    let mut start = 0usize;
    // Progress, in settled-pair units, for the wait hint.
    let mut progress = 0.0f64;
    let mut answered: HashSet<(u64, u16)> = HashSet::new();
    while !hosts.is_empty() && Instant::now() < deadline && !shared.stop.load(Relaxed) {
        let started = Instant::now();
        let round_no = out.rounds;
        out.rounds += 1;
        while answers.try_recv().is_ok() {}
        answered.clear();

        // The round's checks: hosts round-robin from a rotating start.
        let mut checks: Vec<Check> = Vec::new();
        let mut probes = 0usize;
        let n = hosts.len();
        let mut visited = 0;
        for k in 0..n {
            if probes >= pace.budget {
                break;
            }
            let h = (start + k) % n;
            visited = k + 1;
            let host = &mut hosts[h];
            if host.next_round > round_no {
                continue;
            }
            let cost = if host.canary.is_some() { 2 } else { 1 };
            let take = host.quota.min(host.silent.len()).min((pace.budget - probes).div_ceil(cost));
            for _ in 0..take {
                let Some(pair) = host.silent.pop_front() else { break };
                if host.canary.is_none() && alone.get(&pair).is_some_and(|&a| a >= MAX_ALONE) {
                    host.silent.push_back(pair);
                    continue;
                }
                let mut id = || {
                    let v = next_id;
                    next_id = next_id.checked_add(1).unwrap_or(1);
                    v
                };
                let pid = id();
                let canary = host.canary.map(|c| (c, id()));
                checks.push(Check { host: h, pair, id: pid, canary });
                probes += cost;
            }
        }
        start = (start + visited.max(1)) % n.max(1);

        // Send in slices spread over the round; gather answers meanwhile.
        let timeout = Duration::from_micros(shared.timeout_us.load(Relaxed)).max(Duration::from_millis(50));
        let slices = (SLICES as usize).min(checks.len()).max(1);
        let per = checks.len().div_ceil(slices).max(1);
        let gap = pace.round / slices as u32;
        for (s, chunk) in checks.chunks(per).enumerate() {
            gather(answers, &mut answered, started + gap * s as u32);
            let mut list = Vec::with_capacity(chunk.len() * 2);
            for c in chunk {
                list.push((c.pair, c.id));
                list.extend(c.canary);
            }
            send(list)?;
        }
        gather(answers, &mut answered, (started + pace.round).max(Instant::now() + timeout).min(deadline.max(Instant::now() + timeout)));

        // The limiter's signal: a check succeeds when P or its canary drew
        // an error (the buckets had credit).
        let p_answered = |c: &Check| answered.contains(&(c.pair, c.id)) || shared.store.get(c.pair) != Answer::None;
        let c_answered = |c: &Check| c.canary.is_some_and(|k| answered.contains(&k));
        let mut per_host: HashMap<usize, (usize, usize)> = HashMap::new();
        let (mut ok, mut with_signal) = (0usize, 0usize);
        for c in &checks {
            let e = per_host.entry(c.host).or_insert((0, 0));
            if c.canary.is_some() || p_answered(c) {
                with_signal += 1;
                e.0 += 1;
                if p_answered(c) || c_answered(c) {
                    ok += 1;
                    e.1 += 1;
                }
            }
        }
        let shared_ok = pace.after_round(probes, with_signal, ok, loss);
        // Judge each check.
        for c in &checks {
            let host = &mut hosts[c.host];
            let got = shared.store.get(c.pair);
            if got != Answer::None {
                progress += 1.0;
                if host.canary.is_none() && got == Answer::PortUnreach {
                    host.canary = Some(c.pair);
                }
                continue;
            }
            if c_answered(c) {
                let k = confirmed.entry(c.pair).or_insert(0);
                *k += 1;
                progress += 1.0 / needed as f64;
                if *k >= needed {
                    continue;
                }
            } else if c.canary.is_none() && shared_ok {
                // Probed alone in a round whose limiters had credit.
                *alone.entry(c.pair).or_insert(0) += 1;
            }
            host.silent.push_back(c.pair);
        }
        for (&h, &(sent, good)) in &per_host {
            let host = &mut hosts[h];
            if good == sent {
                host.quota = (host.quota * 2).min(MAX_QUOTA);
                host.skip /= 2;
            } else if shared_ok {
                // Others had budget, this host had not: its own bucket.
                host.quota = good.max(1);
                host.skip = (host.skip * 2).clamp(1, MAX_SKIP);
            }
            host.next_round = out.rounds + host.skip;
        }
        // Hosts with no canary whose every pair was probed alone enough.
        hosts.retain_mut(|h| {
            if h.canary.is_none() && h.silent.iter().all(|p| alone.get(p).is_some_and(|&a| a >= MAX_ALONE)) {
                given_up.extend(h.silent.drain(..));
            }
            !h.silent.is_empty()
        });
        if start >= hosts.len() {
            start = 0;
        }
        gather(answers, &mut answered, (started + pace.round).min(deadline));
    }
    // What waiting longer could still settle: the confirmations missing on
    // hosts with a canary, at the pace seen so far.
    let remaining: f64 = hosts.iter().filter(|h| h.canary.is_some()).flat_map(|h| h.silent.iter()).map(|p| 1.0 - *confirmed.get(p).unwrap_or(&0) as f64 / needed as f64).sum();
    let elapsed = begun.elapsed().as_secs_f64();
    if remaining > 0.0 && progress > 0.0 && elapsed > 0.0 {
        let secs = elapsed + remaining / (progress / elapsed) * 1.25;
        out.wait_hint = Some(Duration::from_secs_f64(secs.min(86_400.0)));
    }
    out.unresolved = hosts.into_iter().flat_map(|h| h.silent).chain(given_up).collect();
    out.unresolved.sort_unstable();
    Ok(out)
}

/// Collects round answers until `until`.
fn gather(answers: &Receiver<(u64, u16)>, into: &mut HashSet<(u64, u16)>, until: Instant) {
    while let Ok(a) = answers.recv_deadline(until) {
        into.insert(a);
    }
}

/// The silent UDP pairs rounds would test (this shard's): what is
/// unresolved when no round ran.
pub(super) fn unsettled(shared: &Shared) -> Vec<u64> {
    let mut v: Vec<u64> = candidates(shared).into_iter().flat_map(|h| h.silent).collect();
    v.sort_unstable();
    v
}

/// Hosts with silent UDP pairs that may be rate limited (all of them if
/// only UDP is scanned, else those that answered something), with a canary
/// where one of their UDP pairs is known closed.
fn candidates(shared: &Shared) -> Vec<HostRounds> {
    let space = &shared.config.space;
    let n = space.port_count() as u64;
    let udp: Vec<u64> = (0..n).filter(|&i| space.ports.get(i as usize).0 == Protocol::Udp).collect();
    // TCP resets are not rate limited: with TCP ports scanned, a host that
    // answered nothing is down. With UDP alone, its errors may all have
    // been swallowed: it is a candidate too (probed alone, see above).
    let udp_only = udp.len() as u64 == n;
    let mut out = Vec::new();
    for host in 0..space.hosts.len() {
        if !udp_only && !shared.store.host_is_up(host) {
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
            out.push(HostRounds { silent, canary, quota: START_QUOTA, skip: 0, next_round: 0 });
        }
    }
    out
}

fn belongs_to_shard(shared: &Shared, index: u64) -> bool {
    let shard = shared.config.shard;
    shard.count == 1 || shared.perm.position_of(index) % shard.count == shard.index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_grows_while_checks_succeed_and_falls_to_what_got_through() {
        let mut p = Pace::new();
        assert!(p.after_round(64, 32, 32, 0.0));
        assert_eq!(p.budget, 128);
        // A budget that was not used up does not grow.
        assert!(p.after_round(10, 5, 5, 0.0));
        assert_eq!(p.budget, 128);
        // Half the checks failed: half the probes next time.
        assert!(!p.after_round(128, 64, 32, 0.0));
        assert_eq!(p.budget, 64);
        // Measured loss lowers the bar a little, not to nothing.
        assert!(p.after_round(64, 100, 87, 0.04));
        assert!(!p.after_round(64, 100, 80, 0.04));
    }

    #[test]
    fn one_slow_bucket_for_everything_stretches_the_rounds() {
        let mut p = Pace::new();
        for _ in 0..10 {
            p.after_round(p.budget, p.budget / 2, 0, 0.0);
        }
        assert_eq!((p.budget, p.round), (MIN_BUDGET, MAX_ROUND));
        p.after_round(2, 1, 1, 0.0);
        assert_eq!(p.round, MAX_ROUND / 2);
    }

    #[test]
    fn loss_asks_for_a_third_confirmation() {
        assert_eq!(confirmations_needed(0.0), 2);
        assert_eq!(confirmations_needed(0.04), 3);
    }
}
