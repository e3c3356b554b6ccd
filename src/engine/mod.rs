//! The scan pipeline.
//!
//! ```text
//!  coordinator ──PassJob──▶ sender threads: permutation → cookie → SYN → pacer → sink (sendmmsg)
//!       ▲                                                                        │ kernel
//!       └─────PassDone──────                                                     ▼
//!  receiver thread: source (packet ring) → parse → cookie check → ResultStore (atomic nibbles)
//! ```
//! Senders share nothing but an atomic chunk counter: each claims 256
//! consecutive positions of the permuted order, stamps the chunk's send time
//! (so the receiver can compute RTTs from a reply alone) and sends them in
//! batches. A pass ends when the senders are done and replies have stopped
//! for an RTT-derived timeout; the next pass re-probes only silent pairs.
//! How many passes run is decided from the loss the passes reveal (see
//! [`RetryPolicy`]), capped by `--retries`. UDP ports still silent after
//! the passes get the ICMP rounds of [`icmp`]: rate limiting, not
//! silence, may be hiding them, and a silence is settled only on evidence
//! that holds under any limiter (else it is reported unresolved).
pub mod checkpoint;
pub mod icmp;
pub mod pace;
pub mod rtt;
pub mod store;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{unbounded, RecvTimeoutError};

use crate::io::{ProbeSink, ReplySource, RxBatch, TxBatch};
use crate::space::{Permutation, Protocol, ScanSpace};
use crate::wire::cookie::ATTEMPT_SLOTS;
use crate::wire::ipv4::{PROTO_TCP, PROTO_UDP};
use crate::wire::payload::PayloadTable;
use crate::wire::{udp, Cookie, Reply, Reply6, Syn6Template, SynTemplate, SYN6_LEN, SYN_LEN};
use pace::Pacer;
use rtt::RttEstimator;
pub use store::{Answer, ResultStore};

/// Positions a sender claims at a time; also the RTT timing granularity.
const CHUNK: u64 = 256;
const MAX_BATCH: usize = 256;

/// Which part of the permuted order this scanner probes (0-based index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Positions of a `len`-position order that belong to this shard.
    pub fn local_len(&self, len: u64) -> u64 {
        if self.index >= len {
            0
        } else {
            (len - self.index).div_ceil(self.count)
        }
    }
}

#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub space: Arc<ScanSpace>,
    /// The IPv4 source address; `0.0.0.0` when the scan has no IPv4
    /// target (then every IPv4 packet is ignored: none is sent to it).
    pub source: Ipv4Addr,
    /// The IPv6 source address; `None` when the scan has no IPv6 target
    /// (then every IPv6 packet is ignored).
    pub source6: Option<Ipv6Addr>,
    /// Probes per second over all senders; `None` = as fast as possible.
    pub rate: Option<u64>,
    /// Most retry passes after the first.
    pub max_retries: u8,
    /// Fixed per-pass final wait instead of the RTT-derived one.
    pub wait: Option<Duration>,
    pub seed: u64,
    pub cookie: Cookie,
    pub shard: Shard,
    /// Longest time spent in ICMP rounds for UDP (see [`icmp`]).
    pub icmp_wait: Duration,
    /// Continue an interrupted scan from its checkpoint.
    pub resume: Option<Arc<checkpoint::Checkpoint>>,
    /// The UDP payload of each port (built-in, or a plan's).
    pub payloads: PayloadTable,
}

/// Counters, shared by all threads (relaxed atomics, summed per batch).
#[derive(Debug, Default)]
struct Counters {
    probes_sent: AtomicU64,
    retransmissions: AtomicU64,
    replies: AtomicU64,
    invalid_replies: AtomicU64,
    new_answers: AtomicU64,
    open_found: AtomicU64,
    last_answer_us: AtomicU64,
    /// Probes handed to the sinks, and those the kernel refused, by family.
    offered: [AtomicU64; 2],
    refused: [AtomicU64; 2],
    refusal_errno: [AtomicI32; 2],
}

/// Figures of a finished (or interrupted) scan.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScanStats {
    pub probes_sent: u64,
    pub replies: u64,
    pub invalid_replies: u64,
    pub retransmissions: u64,
    pub duration_s: f64,
    pub rate_pps: f64,
    pub rx_dropped: u64,
    pub passes: u32,
    pub srtt_us: u64,
    /// ICMP rounds run for rate-limited UDP hosts.
    #[serde(default)]
    pub icmp_rounds: u32,
    /// Probes the kernel refused to send (no route, `EADDRNOTAVAIL`, a
    /// local firewall…), counted in `probes_sent`: their pairs stay
    /// unanswered. A scan whose every probe of one family is refused fails
    /// ([`AllRefused`]) instead of reporting that family all filtered.
    #[serde(default)]
    pub probes_refused: u64,
    /// Silent UDP pairs whose silence was not established (see [`icmp`]:
    /// of hosts that answered, or of every host in a UDP-only scan):
    /// reported `open|filtered`, but they may be closed ports whose ICMP
    /// errors a rate limiter swallowed. 0 means every such pair was
    /// confirmed silent.
    #[serde(default)]
    pub udp_unresolved: u64,
    /// The `--icmp-wait` (whole seconds) that would probably have resolved
    /// them, from the pace the rounds settled pairs at; absent when nothing
    /// is unresolved or no wait would help (hosts with no closed UDP port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp_wait_hint_s: Option<u64>,
}

/// What a progress display (and the periodic checkpoint) sees, about ten
/// times a second.
#[derive(Clone, Copy)]
pub struct Progress<'a> {
    pub pass: u32,
    /// Where a resume may start: this pass, from this chunk (a little
    /// before the senders' position: chunks in flight are sent again).
    pub resume_at: (u32, u64),
    pub store: &'a ResultStore,
    pub retransmissions: u64,
    pub invalid_replies: u64,
    pub probes_sent: u64,
    /// Probes of the first pass (the bulk of the work).
    pub first_pass_probes: u64,
    pub replies: u64,
    pub open_found: u64,
    pub elapsed: Duration,
}

pub struct Outcome {
    pub store: ResultStore,
    pub stats: ScanStats,
    /// False when the scan was stopped before its passes finished.
    pub complete: bool,
    pub started: SystemTime,
    pub finished: SystemTime,
    /// For an interrupted scan: the pass to continue and its first unsent
    /// chunk (what a checkpoint records).
    pub stopped_at: Option<(u32, u64)>,
    /// Silent UDP pairs whose silence was not established, sorted (their
    /// count is `stats.udp_unresolved`).
    pub unresolved: Vec<u64>,
}

/// Decides after each retry pass whether another could still change a
/// result. With round-trip loss `p`, pass k recovers `a_k ≈ L_{k-1}(1-p)` of
/// the `L_{k-1}` pairs lost so far, so `p ≈ a_k / a_{k-1}` and the pairs still
/// lost are `≈ a_k · p/(1-p)`. Passes continue while that exceeds
/// `EXPECTED_LOST`; at 0 % loss this is one retry pass, at 4 % round-trip loss
/// about seven (each costing only the still-silent pairs).
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    loss: Option<f64>,
    expected_lost: f64,
    prev_answers: u64,
}

impl RetryPolicy {
    pub const EXPECTED_LOST: f64 = 1e-4;
    /// Recoveries needed before a pass's ratio is trusted as a loss figure.
    const MIN_SAMPLE: u64 = 200;

    pub fn new() -> RetryPolicy {
        RetryPolicy { loss: None, expected_lost: f64::INFINITY, prev_answers: 0 }
    }

    /// Feeds the new answers of a pass; true when another pass is worth it.
    pub fn after_pass(&mut self, pass: u32, answers: u64) -> bool {
        if pass == 0 {
            self.prev_answers = answers;
            return true;
        }
        if self.loss.is_none() || self.prev_answers >= Self::MIN_SAMPLE {
            self.loss = Some(if self.prev_answers == 0 { 0.0 } else { (answers as f64 / self.prev_answers as f64).min(0.5) });
        }
        let p = self.loss.unwrap_or(0.0);
        self.expected_lost = if answers > 0 { answers as f64 * p / (1.0 - p) } else { self.expected_lost.min(1.0) * p };
        self.prev_answers = answers;
        self.expected_lost >= Self::EXPECTED_LOST
    }

    pub fn loss_estimate(&self) -> Option<f64> {
        self.loss
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

struct Shared {
    config: ScanConfig,
    perm: Permutation,
    local_len: u64,
    store: ResultStore,
    counters: Counters,
    next_chunk: AtomicU64,
    /// Send time (µs since `t0`, 0 = unsent) of each chunk, for the two
    /// most recent passes (attempt & 1), and the attempt each slot holds.
    chunk_sent_us: [Box<[AtomicU32]>; 2],
    slot_attempt: [AtomicU8; 2],
    t0: Instant,
    stop: Arc<AtomicBool>,
    rx_stop: AtomicBool,
    timeout_us: AtomicU64,
    srtt_us: AtomicU64,
    /// Pairs answered to ICMP-round probes (the attempt slot says so),
    /// duplicates included: the rounds need to know who answered *now*.
    /// With the IP ID of the probe an ICMP error quotes (0 otherwise).
    round_answers: crossbeam_channel::Sender<(u64, u16)>,
}

impl Shared {
    fn now_us(&self) -> u64 {
        self.t0.elapsed().as_micros() as u64
    }
}

/// A [`ScanConfig`] the engine refuses before sending anything.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// IPv4 targets with `source` left at `0.0.0.0`: every probe would
    /// leave from the unspecified address and no reply could come back.
    #[error("the targets include IPv4 hosts but the scan has no IPv4 source address")]
    NoSource4,
    /// IPv6 targets with `source6` = `None` (the probes would leave from `::`).
    #[error("the targets include IPv6 hosts but the scan has no IPv6 source address")]
    NoSource6,
}

impl ScanConfig {
    /// Checks that every family the targets hold has a source address, so
    /// the hot path never needs a fallback.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.space.hosts.has_v4() && self.source.is_unspecified() {
            return Err(ConfigError::NoSource4);
        }
        if self.space.hosts.has_v6() && self.source6.is_none_or(|s| s.is_unspecified()) {
            return Err(ConfigError::NoSource6);
        }
        Ok(())
    }
}

/// Every probe of one family was refused by the kernel: the scan learned
/// nothing about those hosts (a wrong source address, no route), which
/// must not read as "all filtered".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the kernel refused every {family} probe ({count} sent): {cause}; check the {family} source address (--source-ip) and the routes to the targets")]
pub struct AllRefused {
    pub family: &'static str,
    pub count: u64,
    pub cause: String,
}

/// Hands a full (or last) batch to the sink at the pacer's rate, and counts
/// it: sent, retransmitted, refused by family.
fn flush_batch(shared: &Shared, sink: &mut dyn ProbeSink, pacer: &mut Pacer, batch: &mut TxBatch, retransmission: bool) -> io::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    pacer.admit(batch.len());
    let family = batch.get(0).1.is_ipv6() as usize;
    let before = sink.refusals().count[family];
    sink.send(batch)?;
    let after = sink.refusals();
    let c = &shared.counters;
    c.probes_sent.fetch_add(batch.len() as u64, Relaxed);
    c.offered[family].fetch_add(batch.len() as u64, Relaxed);
    if after.count[family] > before {
        c.refused[family].fetch_add(after.count[family] - before, Relaxed);
        c.refusal_errno[family].store(after.last_errno[family], Relaxed);
    }
    if retransmission {
        c.retransmissions.fetch_add(batch.len() as u64, Relaxed);
    }
    batch.clear();
    Ok(())
}

/// Work for a sender: a pass over the permuted order, or an explicit list
/// of pairs in the order given (ICMP rounds).
struct PassJob {
    attempt: u8,
    /// Pairs with the IP ID each probe carries.
    list: Option<Arc<Vec<(u64, u16)>>>,
}

/// Runs a scan to completion (or until `stop` is set), calling `on_tick`
/// with progress about ten times a second from the calling thread.
pub fn run(
    config: ScanConfig,
    sinks: Vec<Box<dyn ProbeSink>>,
    source: Box<dyn ReplySource>,
    stop: Arc<AtomicBool>,
    on_tick: &mut dyn FnMut(&Progress),
) -> io::Result<Outcome> {
    config.check().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let started = SystemTime::now();
    let space = config.space.clone();
    let perm = Permutation::new(space.len(), config.seed);
    let local_len = config.shard.local_len(space.len());
    let chunks = local_len.div_ceil(CHUNK) as usize;
    let (round_tx, round_rx) = unbounded::<(u64, u16)>();
    let (store, counters) = match &config.resume {
        None => (ResultStore::new(space.len(), space.hosts.len()), Counters::default()),
        Some(cp) => {
            let store = ResultStore::from_words(space.len(), space.hosts.len(), &cp.store_words, &cp.host_up_words)
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "the checkpoint does not match the targets and ports"))?;
            let c = Counters::default();
            c.probes_sent.store(cp.stats.probes_sent, Relaxed);
            c.retransmissions.store(cp.stats.retransmissions, Relaxed);
            c.replies.store(cp.stats.replies, Relaxed);
            c.invalid_replies.store(cp.stats.invalid_replies, Relaxed);
            c.new_answers.store(store.answered(), Relaxed);
            (store, c)
        }
    };
    let (start_pass, start_chunk) = config.resume.as_ref().map(|c| (c.pass, c.next_chunk)).unwrap_or((0, 0));
    let shared = Arc::new(Shared {
        perm,
        local_len,
        store,
        counters,
        next_chunk: AtomicU64::new(0),
        chunk_sent_us: [(0..chunks).map(|_| AtomicU32::new(0)).collect(), (0..chunks).map(|_| AtomicU32::new(0)).collect()],
        slot_attempt: [AtomicU8::new(u8::MAX), AtomicU8::new(u8::MAX)],
        t0: Instant::now(),
        stop,
        rx_stop: AtomicBool::new(false),
        timeout_us: AtomicU64::new(rtt::INITIAL_TIMEOUT.as_micros() as u64),
        srtt_us: AtomicU64::new(0),
        round_answers: round_tx,
        config,
    });

    let n_senders = sinks.len().max(1);
    let per_thread_rate = shared.config.rate.map(|r| r as f64 / n_senders as f64);
    let (done_tx, done_rx) = unbounded::<io::Result<()>>();
    let mut job_txs = Vec::new();
    let mut senders = Vec::new();
    for sink in sinks {
        let (job_tx, job_rx) = unbounded::<PassJob>();
        job_txs.push(job_tx);
        let shared = shared.clone();
        let done_tx = done_tx.clone();
        senders.push(std::thread::Builder::new().name("ps-send".into()).spawn(move || {
            let mut sink = sink;
            let mut batches = Batches::new(pace::batch_size(per_thread_rate, MAX_BATCH));
            let mut pacer = Pacer::new(per_thread_rate);
            for job in job_rx {
                let r = match &job.list {
                    None => send_pass(&shared, sink.as_mut(), &mut batches, &mut pacer, job.attempt),
                    Some(list) => send_list(&shared, sink.as_mut(), &mut batches, &mut pacer, job.attempt, list),
                };
                if done_tx.send(r).is_err() {
                    break;
                }
            }
        })?);
    }
    drop(done_tx);
    let receiver = {
        let shared = shared.clone();
        std::thread::Builder::new().name("ps-recv".into()).spawn(move || receive(&shared, source))?
    };

    let mut policy = RetryPolicy::new();
    let mut passes = 0u32;
    let mut complete = true;
    let mut error = None;
    let tick = Duration::from_millis(100);
    let progress = |pass: u32| Progress {
        pass,
        resume_at: (pass, shared.next_chunk.load(Relaxed).min(chunks as u64).saturating_sub(n_senders as u64)),
        store: &shared.store,
        retransmissions: shared.counters.retransmissions.load(Relaxed),
        invalid_replies: shared.counters.invalid_replies.load(Relaxed),
        probes_sent: shared.counters.probes_sent.load(Relaxed),
        first_pass_probes: shared.local_len,
        replies: shared.counters.replies.load(Relaxed),
        open_found: shared.counters.open_found.load(Relaxed),
        elapsed: shared.t0.elapsed(),
    };
    let mut stopped_at = None;
    // Attempt slot 15 belongs to the ICMP rounds.
    for pass in start_pass..=shared.config.max_retries.min(icmp::ROUND_ATTEMPT - 1) as u32 {
        let attempt = (pass % ATTEMPT_SLOTS as u32) as u8;
        let slot = (attempt & 1) as usize;
        for t in shared.chunk_sent_us[slot].iter() {
            t.store(0, Relaxed);
        }
        shared.slot_attempt[slot].store(attempt, Relaxed);
        shared.next_chunk.store(if pass == start_pass { start_chunk } else { 0 }, Relaxed);
        let answers_before = shared.counters.new_answers.load(Relaxed);
        for tx in &job_txs {
            let _ = tx.send(PassJob { attempt, list: None });
        }
        passes += 1;
        let mut pending = job_txs.len();
        while pending > 0 {
            match done_rx.recv_timeout(tick) {
                Ok(r) => {
                    pending -= 1;
                    if let Err(e) = r {
                        error.get_or_insert(e);
                        shared.stop.store(true, Relaxed);
                    }
                }
                Err(RecvTimeoutError::Timeout) => on_tick(&progress(pass)),
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        // Every chunk below the counter was sent whole: senders check the
        // stop flag only between chunks.
        let sent_chunks = shared.next_chunk.load(Relaxed).min(chunks as u64);
        final_wait(&shared, on_tick, &progress, pass);
        if shared.stop.load(Relaxed) {
            complete = false;
            stopped_at = Some(if sent_chunks >= chunks as u64 { (pass + 1, 0) } else { (pass, sent_chunks) });
            break;
        }
        let answers = shared.counters.new_answers.load(Relaxed) - answers_before;
        // A resumed scan's first pass plays the part of pass 0 for the policy.
        if !policy.after_pass(pass - start_pass, answers) || all_answered(&shared) {
            break;
        }
    }
    let mut rounds = icmp::RoundsOutcome::default();
    if complete && error.is_none() && space.ports.count(Protocol::Udp) > 0 {
        let send_list = |list: Vec<(u64, u16)>| -> io::Result<()> {
            let _ = job_txs[0].send(PassJob { attempt: icmp::ROUND_ATTEMPT, list: Some(Arc::new(list)) });
            done_rx.recv().unwrap_or_else(|_| Err(io::Error::other("sender thread ended")))
        };
        match icmp::run_rounds(&shared, &round_rx, policy.loss_estimate().unwrap_or(0.0), send_list) {
            Ok(r) => rounds = r,
            Err(e) => error = Some(e),
        }
        complete = !shared.stop.load(Relaxed);
        if !complete {
            stopped_at = Some((passes + start_pass, 0));
        }
    } else if space.ports.count(Protocol::Udp) > 0 {
        // No rounds ran (stopped, or an error): no silence was tested.
        rounds.unresolved = icmp::unsettled(&shared);
    }
    on_tick(&progress(passes.saturating_sub(1)));
    drop(job_txs);
    for s in senders {
        let _ = s.join();
    }
    shared.rx_stop.store(true, Relaxed);
    let rx_dropped = match receiver.join() {
        Ok(r) => r?,
        Err(_) => return Err(io::Error::other("receiver thread panicked")),
    };
    if let Some(e) = error {
        return Err(e);
    }
    let shared = Arc::try_unwrap(shared).map_err(|_| io::Error::other("scan threads still hold the store"))?;
    // A resumed scan reports the time of both runs.
    let duration = shared.t0.elapsed().as_secs_f64() + shared.config.resume.as_ref().map(|c| c.stats.duration_s).unwrap_or(0.0);
    let c = &shared.counters;
    let stats = ScanStats {
        probes_sent: c.probes_sent.load(Relaxed),
        replies: c.replies.load(Relaxed),
        invalid_replies: c.invalid_replies.load(Relaxed),
        retransmissions: c.retransmissions.load(Relaxed),
        duration_s: duration,
        rate_pps: if duration > 0.0 { c.probes_sent.load(Relaxed) as f64 / duration } else { 0.0 },
        rx_dropped,
        passes: passes + passes_before_resume(&shared),
        srtt_us: shared.srtt_us.load(Relaxed),
        icmp_rounds: rounds.rounds,
        probes_refused: c.refused.iter().map(|r| r.load(Relaxed)).sum(),
        udp_unresolved: rounds.unresolved.len() as u64,
        icmp_wait_hint_s: rounds.wait_hint.map(|d| d.as_secs_f64().ceil() as u64),
    };
    for (family, name) in [(0, "IPv4"), (1, "IPv6")] {
        let offered = c.offered[family].load(Relaxed);
        if offered > 0 && c.refused[family].load(Relaxed) == offered {
            let cause = io::Error::from_raw_os_error(c.refusal_errno[family].load(Relaxed));
            return Err(io::Error::other(AllRefused { family: name, count: offered, cause: cause.to_string() }));
        }
    }
    Ok(Outcome { store: shared.store, stats, complete, started, finished: SystemTime::now(), stopped_at, unresolved: rounds.unresolved })
}

/// Passes an interrupted run had started before this one resumed it.
fn passes_before_resume(shared: &Shared) -> u32 {
    shared.config.resume.as_ref().map(|c| c.stats.passes).unwrap_or(0)
}

fn all_answered(shared: &Shared) -> bool {
    shared.counters.new_answers.load(Relaxed) >= shared.local_len
}

/// Waits until replies to the pass have stopped: at least one timeout after
/// the last probe, and half a timeout with no new answer, at most four
/// timeouts in all. `--wait` fixes the timeout.
fn final_wait<'a>(shared: &'a Shared, on_tick: &mut dyn FnMut(&Progress), progress: &dyn Fn(u32) -> Progress<'a>, pass: u32) {
    let sent_end = shared.now_us();
    let timeout = |s: &Shared| shared.config.wait.map(|w| w.as_micros() as u64).unwrap_or_else(|| s.timeout_us.load(Relaxed));
    let mut last_tick = Instant::now();
    loop {
        let now = shared.now_us();
        let t = timeout(shared);
        let quiet = now.saturating_sub(shared.counters.last_answer_us.load(Relaxed));
        if now >= sent_end + 4 * t || (now >= sent_end + t && quiet >= t / 2) {
            return;
        }
        if shared.stop.load(Relaxed) && now >= sent_end + t.min(200_000) {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
        if last_tick.elapsed() >= Duration::from_millis(100) {
            on_tick(&progress(pass));
            last_tick = Instant::now();
        }
    }
}

/// A sender thread's batches: one per family, so each `sendmmsg` goes to
/// one socket whole however the permutation interleaves the families.
struct Batches([TxBatch; 2]);

impl Batches {
    fn new(capacity: usize) -> Batches {
        Batches([TxBatch::new(capacity), TxBatch::new(capacity)])
    }
}

fn send_pass(shared: &Shared, sink: &mut dyn ProbeSink, batches: &mut Batches, pacer: &mut Pacer, attempt: u8) -> io::Result<()> {
    let config = &shared.config;
    let retry = attempt > 0;
    let templates = Templates::new();
    let times = &shared.chunk_sent_us[(attempt & 1) as usize];
    let (shard_index, shard_count) = (config.shard.index, config.shard.count);
    let mut flush = |batch: &mut TxBatch| flush_batch(shared, sink, pacer, batch, retry);
    for b in &mut batches.0 {
        b.clear();
    }
    loop {
        if shared.stop.load(Relaxed) {
            break;
        }
        let chunk = shared.next_chunk.fetch_add(1, Relaxed);
        let first = chunk * CHUNK;
        if first >= shared.local_len {
            break;
        }
        times[chunk as usize].store(shared.now_us().max(1) as u32, Relaxed);
        for q in first..(first + CHUNK).min(shared.local_len) {
            let index = shared.perm.at(q * shard_count + shard_index);
            if retry && shared.store.get(index) != Answer::None {
                continue;
            }
            let batch = push_probe(config, &templates, batches, index, attempt, q as u16);
            if batch.is_full() {
                flush(batch)?;
            }
        }
        // Nothing is held past its chunk: in a mixed scan the smaller
        // family's batch would otherwise fill over many chunks, its probes
        // leaving long after the chunk's stamped send time (inflated RTT
        // samples) and after a checkpoint's `resume_at` had passed them
        // (lost on a kill). Costs at most one short `sendmmsg` per family
        // per chunk; a one-family scan's full batches end with the chunk.
        let [b4, b6] = &mut batches.0;
        flush(b4)?;
        flush(b6)?;
    }
    Ok(())
}

/// The SYN templates of both families.
struct Templates {
    v4: SynTemplate,
    v6: Syn6Template,
}

impl Templates {
    fn new() -> Templates {
        Templates { v4: SynTemplate::new(), v6: Syn6Template::new() }
    }
}

/// Builds the probe for pair `index` into the next slot of its family's
/// batch, and returns that batch (the caller flushes it when full). An
/// IPv4 probe carries `ip_id` as its IP ID, an IPv6 one as its flow label.
#[inline]
fn push_probe<'b>(config: &ScanConfig, templates: &Templates, batches: &'b mut Batches, index: u64, attempt: u8, ip_id: u16) -> &'b mut TxBatch {
    let (dst, proto, dport) = config.space.pair(index);
    match dst {
        IpAddr::V4(dst) => {
            let batch = &mut batches.0[0];
            let src = config.source;
            match proto {
                Protocol::Tcp => {
                    let tag = config.cookie.tag(src, dst, PROTO_TCP, dport, attempt);
                    batch.push_with(dst, |slot| {
                        let out: &mut [u8; SYN_LEN] = (&mut slot[..SYN_LEN]).try_into().expect("slot holds a SYN");
                        templates.v4.emit(out, src, dst, dport, tag, ip_id);
                        SYN_LEN
                    });
                }
                Protocol::Udp => {
                    let tag = config.cookie.tag(src, dst, PROTO_UDP, dport, attempt);
                    batch.push_with(dst, |slot| udp::emit(slot, src, dst, dport, tag, ip_id, config.payloads.for_port(dport)));
                }
            }
            batch
        }
        IpAddr::V6(dst) => {
            let batch = &mut batches.0[1];
            // `run` refused the config unless IPv6 targets have a source.
            let Some(src) = config.source6 else { return batch };
            match proto {
                Protocol::Tcp => {
                    let tag = config.cookie.tag(src, dst, PROTO_TCP, dport, attempt);
                    batch.push_with(dst, |slot| {
                        let out: &mut [u8; SYN6_LEN] = (&mut slot[..SYN6_LEN]).try_into().expect("slot holds a SYN");
                        templates.v6.emit(out, src, dst, dport, tag, ip_id);
                        SYN6_LEN
                    });
                }
                Protocol::Udp => {
                    let tag = config.cookie.tag(src, dst, PROTO_UDP, dport, attempt);
                    batch.push_with(dst, |slot| udp::emit6(slot, src, dst, dport, tag, ip_id, config.payloads.for_port(dport)));
                }
            }
            batch
        }
    }
}

/// Sends the pairs of `list` in order (ICMP rounds: order matters, and a
/// probe and its canary are of one address, so of one family's batch).
fn send_list(shared: &Shared, sink: &mut dyn ProbeSink, batches: &mut Batches, pacer: &mut Pacer, attempt: u8, list: &[(u64, u16)]) -> io::Result<()> {
    let templates = Templates::new();
    let mut flush = |batch: &mut TxBatch| flush_batch(shared, sink, pacer, batch, true);
    for b in &mut batches.0 {
        b.clear();
    }
    for &(index, ip_id) in list {
        let batch = push_probe(&shared.config, &templates, batches, index, attempt, ip_id);
        if batch.is_full() {
            flush(batch)?;
        }
    }
    let [b4, b6] = &mut batches.0;
    flush(b4)?;
    flush(b6)
}

/// The receiver thread: runs until `rx_stop`, returns the kernel's drop count.
fn receive(shared: &Shared, mut source: Box<dyn ReplySource>) -> io::Result<u64> {
    let mut batch = RxBatch::new(MAX_BATCH);
    let mut rtt = RttEstimator::new();
    while !shared.rx_stop.load(Relaxed) {
        source.recv(&mut batch)?;
        if batch.is_empty() {
            continue;
        }
        let now = shared.now_us();
        let (mut valid, mut invalid, mut new, mut open) = (0u64, 0u64, 0u64, 0u64);
        for i in 0..batch.len() {
            match validate(&shared.config, batch.get(i)) {
                Some(Validated { index, answer, attempt, host_answered, ttl, ip_id }) => {
                    valid += 1;
                    let host = index / shared.config.space.port_count() as u64;
                    if host_answered {
                        shared.store.mark_host_up(host, ttl);
                    }
                    if attempt == icmp::ROUND_ATTEMPT {
                        let _ = shared.round_answers.send((index, ip_id));
                    }
                    if shared.store.record(index, answer) {
                        new += 1;
                        open += (answer == Answer::SynAck) as u64;
                        if let Some(sample) = rtt_sample(shared, index, attempt, now) {
                            rtt.sample(sample);
                        }
                    }
                }
                None => invalid += 1,
            }
        }
        let c = &shared.counters;
        c.replies.fetch_add(valid, Relaxed);
        c.invalid_replies.fetch_add(invalid, Relaxed);
        if new > 0 {
            c.new_answers.fetch_add(new, Relaxed);
            c.open_found.fetch_add(open, Relaxed);
            c.last_answer_us.store(now, Relaxed);
            shared.timeout_us.store(rtt.timeout().as_micros() as u64, Relaxed);
            shared.srtt_us.store(rtt.srtt().as_micros() as u64, Relaxed);
        }
    }
    Ok(source.dropped())
}

/// A packet that answers one of our probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validated {
    /// The pair it answers (an index of the scan space).
    pub index: u64,
    pub answer: Answer,
    /// The attempt slot the probe carried.
    pub attempt: u8,
    /// The probed host sent it itself (not a router's ICMP error).
    pub host_answered: bool,
    pub ttl: Option<u8>,
    /// The IP ID an ICMP error quotes (0 for direct answers): tells the
    /// copies of an ICMP round's probes apart.
    pub ip_id: u16,
}

/// Validates one received packet (starting at its IP header) against the
/// scan's cookie and space: `None` for anything that answers no probe of
/// ours. The receive path's whole judgement of outside data (public for the
/// fuzz targets and benchmarks).
#[inline]
pub fn validate(config: &ScanConfig, packet: &[u8]) -> Option<Validated> {
    match packet.first()? >> 4 {
        4 => validate4(config, packet),
        6 => validate6(config, packet),
        _ => None,
    }
}

#[inline]
fn validate4(config: &ScanConfig, packet: &[u8]) -> Option<Validated> {
    let v = |index, answer, attempt, host_answered, ttl, ip_id| Some(Validated { index, answer, attempt, host_answered, ttl, ip_id });
    match Reply::parse(packet).ok()? {
        Reply::Tcp { ip, tcp } => {
            if ip.dst != config.source {
                return None;
            }
            let answer = if tcp.is_syn_ack() {
                Answer::SynAck
            } else if tcp.is_rst() {
                Answer::Rst
            } else {
                return None;
            };
            let attempt = config.cookie.check(ip.dst, ip.src, PROTO_TCP, tcp.sport, tcp.dport, tcp.ack.wrapping_sub(1))?;
            let index = config.space.index_of(IpAddr::V4(ip.src), Protocol::Tcp, tcp.sport)?;
            v(index, answer, attempt, true, Some(ip.ttl), 0)
        }
        Reply::Udp { ip, udp } => {
            if ip.dst != config.source {
                return None;
            }
            let (attempt, tag) = config.cookie.check_port(ip.dst, ip.src, PROTO_UDP, udp.sport, udp.dport)?;
            if !config.payloads.for_port(udp.sport).reply_matches(udp.payload, tag.token) {
                return None;
            }
            let index = config.space.index_of(IpAddr::V4(ip.src), Protocol::Udp, udp.sport)?;
            v(index, Answer::UdpReply, attempt, true, Some(ip.ttl), 0)
        }
        Reply::Unreachable { ip, icmp } => {
            if icmp.quoted_src != config.source {
                return None;
            }
            let (proto, attempt) = match icmp.quoted_protocol {
                PROTO_TCP => (Protocol::Tcp, config.cookie.check(icmp.quoted_src, icmp.quoted_dst, PROTO_TCP, icmp.quoted_dport, icmp.quoted_sport, icmp.quoted_word)?),
                PROTO_UDP => {
                    // The quoted length and checksum must be those of the
                    // datagram we would have sent: 16 more keyed bits.
                    let (attempt, tag) = config.cookie.check_port(icmp.quoted_src, icmp.quoted_dst, PROTO_UDP, icmp.quoted_dport, icmp.quoted_sport)?;
                    let expected = udp::quoted_word(icmp.quoted_src, icmp.quoted_dst, icmp.quoted_dport, tag, config.payloads.for_port(icmp.quoted_dport));
                    if expected != icmp.quoted_word {
                        return None;
                    }
                    (Protocol::Udp, attempt)
                }
                _ => return None,
            };
            let answer = Answer::from_icmp_code(icmp.code)?;
            let index = config.space.index_of(IpAddr::V4(icmp.quoted_dst), proto, icmp.quoted_dport)?;
            v(index, answer, attempt, ip.src == icmp.quoted_dst, None, icmp.quoted_id)
        }
    }
}

/// [`validate4`]'s IPv6 twin: the same checks over 16-byte addresses,
/// the hop limit where IPv4 has the TTL, the flow label where it has the
/// IP ID, ICMPv6 codes read by [`Answer::from_icmpv6_code`].
#[inline]
fn validate6(config: &ScanConfig, packet: &[u8]) -> Option<Validated> {
    let source = config.source6?;
    let v = |index, answer, attempt, host_answered, ttl, ip_id| Some(Validated { index, answer, attempt, host_answered, ttl, ip_id });
    match Reply6::parse(packet).ok()? {
        Reply6::Tcp { ip, tcp } => {
            if ip.dst != source {
                return None;
            }
            let answer = if tcp.is_syn_ack() {
                Answer::SynAck
            } else if tcp.is_rst() {
                Answer::Rst
            } else {
                return None;
            };
            let attempt = config.cookie.check(ip.dst, ip.src, PROTO_TCP, tcp.sport, tcp.dport, tcp.ack.wrapping_sub(1))?;
            let index = config.space.index_of(IpAddr::V6(ip.src), Protocol::Tcp, tcp.sport)?;
            v(index, answer, attempt, true, Some(ip.hop_limit), 0)
        }
        Reply6::Udp { ip, udp } => {
            if ip.dst != source {
                return None;
            }
            let (attempt, tag) = config.cookie.check_port(ip.dst, ip.src, PROTO_UDP, udp.sport, udp.dport)?;
            if !config.payloads.for_port(udp.sport).reply_matches(udp.payload, tag.token) {
                return None;
            }
            let index = config.space.index_of(IpAddr::V6(ip.src), Protocol::Udp, udp.sport)?;
            v(index, Answer::UdpReply, attempt, true, Some(ip.hop_limit), 0)
        }
        Reply6::Unreachable { ip, icmp } => {
            if icmp.quoted_src != source {
                return None;
            }
            let (proto, attempt) = match icmp.quoted_protocol {
                PROTO_TCP => (Protocol::Tcp, config.cookie.check(icmp.quoted_src, icmp.quoted_dst, PROTO_TCP, icmp.quoted_dport, icmp.quoted_sport, icmp.quoted_word)?),
                PROTO_UDP => {
                    let (attempt, tag) = config.cookie.check_port(icmp.quoted_src, icmp.quoted_dst, PROTO_UDP, icmp.quoted_dport, icmp.quoted_sport)?;
                    let expected = udp::quoted_word6(icmp.quoted_src, icmp.quoted_dst, icmp.quoted_dport, tag, config.payloads.for_port(icmp.quoted_dport));
                    if expected != icmp.quoted_word {
                        return None;
                    }
                    (Protocol::Udp, attempt)
                }
                _ => return None,
            };
            let answer = Answer::from_icmpv6_code(icmp.code)?;
            let index = config.space.index_of(IpAddr::V6(icmp.quoted_dst), proto, icmp.quoted_dport)?;
            v(index, answer, attempt, ip.src == icmp.quoted_dst, None, icmp.quoted_flow as u16)
        }
    }
}

/// The round trip of the probe a reply answers: the time since its chunk
/// was sent in the pass the attempt number names, if that is still known.
fn rtt_sample(shared: &Shared, index: u64, attempt: u8, now_us: u64) -> Option<u64> {
    let slot = (attempt & 1) as usize;
    if shared.slot_attempt[slot].load(Relaxed) != attempt {
        return None;
    }
    let position = shared.perm.position_of(index);
    let shard = shared.config.shard;
    if position % shard.count != shard.index {
        return None;
    }
    let chunk = (position / shard.count / CHUNK) as usize;
    let sent = shared.chunk_sent_us[slot].get(chunk)?.load(Relaxed);
    (sent != 0).then(|| (now_us as u32).wrapping_sub(sent) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IPv6 replies built byte by byte (header, TCP flags, ICMPv6 quote),
    /// validated against a mixed IPv4 + IPv6 space.
    #[test]
    fn ipv6_replies_validate_against_a_mixed_space() {
        use crate::wire::ipv6::{write_header, NEXT_ICMPV6};
        use crate::wire::{Syn6Template, SYN6_LEN};
        let me: Ipv6Addr = "2001:2::1".parse().unwrap();
        let target: Ipv6Addr = "2001:2:0:1::7".parse().unwrap();
        let hosts = crate::space::HostSet::parse(&["198.19.0.0/30".into(), "2001:2:0:1::/125".into()], &[]).unwrap();
        let ports = crate::space::PortList::parse("T:22,6443,U:53", Protocol::Tcp).unwrap();
        let mut config = ScanConfig {
            space: Arc::new(ScanSpace::new(hosts, ports)),
            source: Ipv4Addr::new(198, 18, 0, 1),
            source6: Some(me),
            rate: None,
            max_retries: 0,
            wait: None,
            seed: 1,
            cookie: Cookie::new(3, 4),
            shard: Shard::WHOLE,
            icmp_wait: Duration::from_secs(1),
            resume: None,
            payloads: PayloadTable::builtin(),
        };
        let index = |port| config.space.index_of(IpAddr::V6(target), Protocol::Tcp, port).unwrap();
        // The SYN-ACK answering attempt 2 of the SYN to target:6443, with
        // a hop-by-hop header in front of the TCP header.
        let tag = config.cookie.tag(me, target, PROTO_TCP, 6443, 2);
        let mut reply = vec![0u8; 40];
        write_header(&mut reply, target, me, 0, 8 + 20, 0);
        reply[7] = 61;
        reply.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 0]);
        let mut tcp = [0u8; 20];
        tcp[0..2].copy_from_slice(&6443u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&tag.sport.to_be_bytes());
        tcp[8..12].copy_from_slice(&tag.seq.wrapping_add(1).to_be_bytes());
        tcp[12] = 0x50;
        tcp[13] = 0x12; // SYN, ACK
        reply.extend_from_slice(&tcp);
        let v = validate(&config, &reply).expect("our SYN-ACK");
        assert_eq!((v.index, v.answer, v.attempt, v.ttl, v.host_answered), (index(6443), Answer::SynAck, 2, Some(61), true));
        // RST: closed.
        let mut rst = reply.clone();
        rst[40 + 8 + 13] = 0x14;
        assert_eq!(validate(&config, &rst).map(|v| v.answer), Some(Answer::Rst));
        // One bit off in the acknowledgement, or another destination: not ours.
        let mut forged = reply.clone();
        forged[40 + 8 + 11] ^= 1;
        assert!(validate(&config, &forged).is_none());
        let mut elsewhere = reply.clone();
        elsewhere[39] ^= 1;
        assert!(validate(&config, &elsewhere).is_none());
        // An ICMPv6 error quoting our SYN to target:22 (copy 5), sent by a
        // router: filtered (admin prohibited), the host not seen up.
        let router: Ipv6Addr = "2001:2::fe".parse().unwrap();
        let mut syn = [0u8; SYN6_LEN];
        Syn6Template::new().emit(&mut syn, me, target, 22, config.cookie.tag(me, target, PROTO_TCP, 22, 1), 5);
        let icmp = |code: u8, quote: &[u8]| {
            let mut b = vec![0u8; 40];
            write_header(&mut b, router, me, NEXT_ICMPV6, (8 + quote.len()) as u16, 0);
            b.extend_from_slice(&[1, code, 0, 0, 0, 0, 0, 0]);
            b.extend_from_slice(quote);
            b
        };
        let v = validate(&config, &icmp(1, &syn)).expect("our quoted SYN");
        assert_eq!((v.index, v.answer, v.attempt, v.ip_id, v.host_answered, v.ttl), (index(22), Answer::AdminProhibited, 1, 5, false, None));
        // Packet too big quoting the same SYN: ignored.
        let mut too_big = icmp(0, &syn);
        too_big[40] = 2;
        assert!(validate(&config, &too_big).is_none());
        // A UDP probe's port unreachable: closed UDP port, once the quoted
        // length and checksum match the probe we would have sent.
        let udp_tag = config.cookie.tag(me, target, PROTO_UDP, 53, 0);
        let mut probe = [0u8; 256];
        let n = udp::emit6(&mut probe, me, target, 53, udp_tag, 0, config.payloads.for_port(53));
        let v = validate(&config, &icmp(4, &probe[..n])).expect("our quoted UDP probe");
        assert_eq!((v.answer, v.index), (Answer::PortUnreach, config.space.index_of(IpAddr::V6(target), Protocol::Udp, 53).unwrap()));
        let mut other = probe;
        other[46] ^= 1; // the quoted checksum
        assert!(validate(&config, &icmp(4, &other[..n])).is_none());
        // A scan without an IPv6 source ignores IPv6 altogether.
        config.source6 = None;
        assert!(validate(&config, &reply).is_none());
    }

    /// A sink that only records which pairs each `sendmmsg` carried.
    struct Recorder {
        space: Arc<ScanSpace>,
        batches: Arc<std::sync::Mutex<Vec<Vec<u64>>>>,
        /// Refuses (EADDRNOTAVAIL) every IPv6 probe to these ports.
        refuse_v6_ports: Vec<u16>,
        refusals: crate::io::Refusals,
    }

    impl ProbeSink for Recorder {
        fn send(&mut self, batch: &TxBatch) -> io::Result<()> {
            let pairs = (0..batch.len())
                .map(|i| {
                    let (frame, dst) = batch.get(i);
                    // The destination port: after the 20-byte IPv4 or 40-byte IPv6 header.
                    let at = if dst.is_ipv4() { 20 } else { 40 } + 2;
                    let port = u16::from_be_bytes([frame[at], frame[at + 1]]);
                    if dst.is_ipv6() && self.refuse_v6_ports.contains(&port) {
                        self.refusals.count[1] += 1;
                        self.refusals.last_errno[1] = libc::EADDRNOTAVAIL;
                    }
                    self.space.index_of(dst, Protocol::Tcp, port).expect("a probe of the space")
                })
                .collect();
            self.batches.lock().unwrap().push(pairs);
            Ok(())
        }

        fn refusals(&self) -> crate::io::Refusals {
            self.refusals
        }
    }

    /// A network that never answers.
    struct Silence;

    impl ReplySource for Silence {
        fn recv(&mut self, batch: &mut RxBatch) -> io::Result<()> {
            batch.set_len(0);
            std::thread::sleep(Duration::from_millis(1));
            Ok(())
        }
    }

    fn config_for(targets: &[&str], ports: &str, source6: Option<Ipv6Addr>) -> ScanConfig {
        let hosts = crate::space::HostSet::parse(&targets.iter().map(|t| t.to_string()).collect::<Vec<_>>(), &[]).unwrap();
        ScanConfig {
            space: Arc::new(ScanSpace::new(hosts, crate::space::PortList::parse(ports, Protocol::Tcp).unwrap())),
            source: Ipv4Addr::new(198, 18, 0, 1),
            source6,
            rate: None,
            max_retries: 0,
            wait: Some(Duration::from_millis(1)),
            seed: 7,
            cookie: Cookie::new(5, 6),
            shard: Shard::WHOLE,
            icmp_wait: Duration::from_secs(1),
            resume: None,
            payloads: PayloadTable::builtin(),
        }
    }

    /// A lopsided mixed scan (2048 IPv4 hosts, 4 IPv6 ones): every
    /// `sendmmsg` carries probes of one chunk only, so the rare family's
    /// probes are not held over the chunks that follow theirs.
    #[test]
    fn no_probe_is_held_past_its_chunk() {
        let config = config_for(&["198.19.0.0/21", "2001:2:0:1::/126"], "T:443", Some("2001:2::1".parse().unwrap()));
        let space = config.space.clone();
        let perm = Permutation::new(space.len(), config.seed);
        let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = Recorder { space: space.clone(), batches: batches.clone(), refuse_v6_ports: vec![], refusals: Default::default() };
        let outcome = run(config, vec![Box::new(sink)], Box::new(Silence), Arc::new(AtomicBool::new(false)), &mut |_| {}).unwrap();
        assert_eq!(outcome.stats.probes_sent, space.len());
        let batches = batches.lock().unwrap();
        assert_eq!(batches.iter().map(Vec::len).sum::<usize>() as u64, space.len());
        let v6_batches = batches.iter().filter(|b| space.pair(b[0]).0.is_ipv6()).count();
        assert!(v6_batches >= 2, "the IPv6 probes fall in several chunks: {v6_batches} batches");
        for b in batches.iter() {
            let chunks: std::collections::BTreeSet<u64> = b.iter().map(|&i| perm.position_of(i) / CHUNK).collect();
            assert_eq!(chunks.len(), 1, "a batch spans chunks {chunks:?}");
        }
    }

    /// A family of targets without its source address is refused before
    /// anything is sent (it would leave from `::` or `0.0.0.0`).
    #[test]
    fn a_family_without_a_source_is_refused() {
        let batches = Arc::new(std::sync::Mutex::new(Vec::new()));
        let attempt = |config: ScanConfig| {
            let sink = Recorder { space: config.space.clone(), batches: batches.clone(), refuse_v6_ports: vec![], refusals: Default::default() };
            run(config, vec![Box::new(sink)], Box::new(Silence), Arc::new(AtomicBool::new(false)), &mut |_| {})
        };
        let err = attempt(config_for(&["198.19.0.1", "2001:2:0:1::1"], "T:22", None)).err().expect("refused");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(err.get_ref().and_then(|e| e.downcast_ref::<ConfigError>()), Some(&ConfigError::NoSource6));
        assert!(err.to_string().contains("no IPv6 source address"), "{err}");
        let mut v4_unspecified = config_for(&["198.19.0.1"], "T:22", None);
        v4_unspecified.source = Ipv4Addr::UNSPECIFIED;
        let err = attempt(v4_unspecified).err().expect("refused");
        assert_eq!(err.get_ref().and_then(|e| e.downcast_ref::<ConfigError>()), Some(&ConfigError::NoSource4));
        assert!(batches.lock().unwrap().is_empty(), "nothing was sent");
        // Each family with its source, or only the family that has one: accepted.
        assert!(attempt(config_for(&["198.19.0.1"], "T:22", None)).is_ok());
        let mut v6_only = config_for(&["2001:2:0:1::1"], "T:22", Some("2001:2::1".parse().unwrap()));
        v6_only.source = Ipv4Addr::UNSPECIFIED;
        assert!(attempt(v6_only).is_ok());
    }

    /// Probes the kernel refuses are counted in the stats; when it refuses
    /// every probe of a family (a wrong IPv6 source), the scan fails
    /// naming the family and the cause instead of reporting it filtered.
    #[test]
    fn refused_probes_are_counted_and_a_family_refused_whole_fails() {
        let run_refusing = |ports: Vec<u16>| {
            let config = config_for(&["198.19.0.0/29", "2001:2:0:1::/126"], "T:22,443", Some("2001:2::1".parse().unwrap()));
            let sink = Recorder { space: config.space.clone(), batches: Default::default(), refuse_v6_ports: ports, refusals: Default::default() };
            run(config, vec![Box::new(sink)], Box::new(Silence), Arc::new(AtomicBool::new(false)), &mut |_| {})
        };
        let outcome = run_refusing(vec![443]).expect("some IPv6 probes got out");
        // 4 IPv6 hosts × port 443, one pass (max_retries 0).
        assert_eq!((outcome.stats.probes_refused, outcome.stats.probes_sent), (4, 24));
        let err = run_refusing(vec![22, 443]).err().expect("every IPv6 probe refused");
        let refused = err.get_ref().and_then(|e| e.downcast_ref::<AllRefused>()).expect("typed");
        assert_eq!((refused.family, refused.count), ("IPv6", 8));
        assert!(err.to_string().contains("the kernel refused every IPv6 probe (8 sent): Cannot assign requested address"), "{err}");
    }

    #[test]
    fn retry_policy_stops_after_one_retry_without_loss() {
        let mut p = RetryPolicy::new();
        assert!(p.after_pass(0, 700_000));
        assert!(!p.after_pass(1, 0));
    }

    #[test]
    fn retry_policy_follows_loss() {
        // 4 % round-trip loss over 740k answering pairs.
        let mut p = RetryPolicy::new();
        let mut lost = 740_000.0 * 0.04;
        assert!(p.after_pass(0, (740_000.0 * 0.96) as u64));
        let mut passes = 1;
        while p.after_pass(passes, (lost * 0.96f64).round() as u64) {
            lost *= 0.04;
            passes += 1;
            assert!(passes < 20);
        }
        assert!((0.035..0.045).contains(&p.loss_estimate().unwrap()), "{:?}", p.loss_estimate());
        assert!((6..=8).contains(&passes), "{passes} retry passes");
    }

    #[test]
    fn shards_partition_positions() {
        for len in [0u64, 1, 5, 10, 11] {
            let total: u64 = (0..3).map(|i| Shard { index: i, count: 3 }.local_len(len)).sum();
            assert_eq!(total, len);
        }
    }
}
