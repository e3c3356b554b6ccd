//! Rate limiting for one sender thread: a deadline that advances by the
//! batch's share of the rate. Sleeping per batch (not per packet) keeps the
//! syscall count down; a sender that falls behind may catch up by at most
//! one burst, never by flooding.
use std::time::{Duration, Instant};

pub struct Pacer {
    per_packet: Option<Duration>,
    next: Instant,
    max_debt: Duration,
}

impl Pacer {
    /// `rate` packets per second for this thread; `None` = unlimited.
    pub fn new(rate: Option<f64>) -> Pacer {
        let per_packet = rate.filter(|r| *r > 0.0).map(|r| Duration::from_secs_f64(1.0 / r));
        Pacer { per_packet, next: Instant::now(), max_debt: Duration::from_millis(5) }
    }

    /// Blocks until `n` more packets may leave.
    pub fn admit(&mut self, n: usize) {
        if let Some(wait) = self.delay(Instant::now(), n) {
            std::thread::sleep(wait);
        }
    }

    /// How long `n` more packets must wait at `now` (`None`: they may
    /// leave at once); books them against the deadline.
    fn delay(&mut self, now: Instant, n: usize) -> Option<Duration> {
        let per = self.per_packet?;
        if self.next + self.max_debt < now {
            self.next = now - self.max_debt;
        }
        let wait = (self.next > now).then(|| self.next - now);
        self.next += per * n as u32;
        wait
    }
}

/// Probes per batch for a thread sending at `rate` (≈ 1 ms of its share),
/// so a slow rate is not sent as bursts of hundreds.
pub fn batch_size(rate: Option<f64>, max: usize) -> usize {
    match rate {
        None => max,
        Some(r) => ((r / 1000.0) as usize).clamp(1, max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_sizes() {
        assert_eq!(batch_size(None, 256), 256);
        assert_eq!(batch_size(Some(100.0), 256), 1);
        assert_eq!(batch_size(Some(50_000.0), 256), 50);
        assert_eq!(batch_size(Some(1e9), 256), 256);
    }

    /// Drives the pacer on a synthetic clock: each batch leaves when the
    /// pacer says, and the send times are returned (µs after the start).
    fn schedule(p: &mut Pacer, t0: Instant, batches: &[(u64, usize)]) -> Vec<u64> {
        let mut out = Vec::new();
        for &(ready_us, n) in batches {
            let now = t0 + Duration::from_micros(ready_us);
            let wait = p.delay(now, n).unwrap_or_default();
            out.push((now + wait - t0).as_micros() as u64);
        }
        out
    }

    #[test]
    fn admits_exactly_at_the_rate() {
        // 20,000/s: 50 µs a packet, batches of 20 every 1,000 µs, never earlier.
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(20_000.0));
        p.next = t0;
        assert_eq!(schedule(&mut p, t0, &[(0, 20); 5]), vec![0, 1000, 2000, 3000, 4000]);
        // A sender ready late is not held back...
        assert_eq!(schedule(&mut p, t0, &[(5200, 20)]), vec![5200]);
    }

    #[test]
    fn catches_up_by_at_most_one_burst_after_a_stall() {
        // Stalled for 100 ms: the batch due now and the 5 ms of debt it may
        // make up (100 packets) leave at once, then the rate holds again.
        let t0 = Instant::now();
        let mut p = Pacer::new(Some(20_000.0));
        p.next = t0;
        let stalled = 100_000;
        let sent = schedule(&mut p, t0, &[(stalled, 20); 8]);
        assert_eq!(sent, vec![stalled, stalled, stalled, stalled, stalled, stalled, stalled + 1000, stalled + 2000]);
        assert_eq!(Pacer::new(None).delay(t0, 1_000_000), None, "unlimited");
    }
}
