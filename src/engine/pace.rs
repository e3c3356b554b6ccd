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
        let Some(per) = self.per_packet else { return };
        let now = Instant::now();
        if self.next + self.max_debt < now {
            self.next = now - self.max_debt;
        }
        if self.next > now {
            std::thread::sleep(self.next - now);
        }
        self.next += per * n as u32;
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

    #[test]
    fn admits_at_the_rate() {
        // 2,000 packets at 20,000/s take ≥ 95 ms (the first batch is free).
        let mut p = Pacer::new(Some(20_000.0));
        let t = Instant::now();
        for _ in 0..100 {
            p.admit(20);
        }
        assert!(t.elapsed() >= Duration::from_millis(95), "{:?}", t.elapsed());
    }
}
