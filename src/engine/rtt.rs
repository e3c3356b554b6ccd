//! Round-trip time, estimated as TCP does (RFC 6298: smoothed mean and mean
//! deviation), from samples the receiver takes by mapping each reply back to
//! the moment its probe's chunk was sent. The timeout it gives decides how
//! long a pass waits for stragglers before retrying the silent pairs.
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Shortest wait we ever use: scheduling noise on a busy 2-core machine
/// exceeds a LAN round trip.
pub const MIN_TIMEOUT: Duration = Duration::from_millis(20);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3);
/// Before any sample: nmap's initial RTT timeout.
pub const INITIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Owned by the receiver thread; publishes the timeout for the coordinator.
#[derive(Debug, Default)]
pub struct RttEstimator {
    srtt_us: f64,
    rttvar_us: f64,
    samples: u64,
    published_us: AtomicU64,
}

impl RttEstimator {
    pub fn new() -> RttEstimator {
        RttEstimator { published_us: AtomicU64::new(INITIAL_TIMEOUT.as_micros() as u64), ..Default::default() }
    }

    pub fn sample(&mut self, rtt_us: u64) {
        let r = rtt_us as f64;
        if self.samples == 0 {
            self.srtt_us = r;
            self.rttvar_us = r / 2.0;
        } else {
            self.rttvar_us = 0.75 * self.rttvar_us + 0.25 * (self.srtt_us - r).abs();
            self.srtt_us = 0.875 * self.srtt_us + 0.125 * r;
        }
        self.samples += 1;
        // Publishing every sample is one relaxed store; cheap enough.
        self.published_us.store(self.timeout().as_micros() as u64, Relaxed);
    }

    pub fn samples(&self) -> u64 {
        self.samples
    }

    pub fn srtt(&self) -> Duration {
        Duration::from_micros(self.srtt_us as u64)
    }

    /// srtt + 4·rttvar, clamped; the initial timeout before any sample.
    pub fn timeout(&self) -> Duration {
        if self.samples == 0 {
            return INITIAL_TIMEOUT;
        }
        Duration::from_micros((self.srtt_us + 4.0 * self.rttvar_us) as u64).clamp(MIN_TIMEOUT, MAX_TIMEOUT)
    }

    /// The last published timeout, readable from any thread.
    pub fn published(&self) -> Duration {
        Duration::from_micros(self.published_us.load(Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_rfc6298() {
        let mut e = RttEstimator::new();
        assert_eq!(e.timeout(), INITIAL_TIMEOUT);
        e.sample(100_000);
        assert_eq!(e.srtt(), Duration::from_millis(100));
        assert_eq!(e.timeout(), Duration::from_millis(300)); // 100 + 4·50
        e.sample(200_000);
        // rttvar = .75·50 + .25·100 = 62.5; srtt = 87.5 + 25 = 112.5
        assert_eq!(e.timeout(), Duration::from_micros(362_500));
        assert_eq!(e.published(), Duration::from_micros(362_500));
    }

    #[test]
    fn clamps_tiny_and_huge() {
        let mut e = RttEstimator::new();
        e.sample(50);
        assert_eq!(e.timeout(), MIN_TIMEOUT);
        let mut e = RttEstimator::new();
        e.sample(60_000_000);
        assert_eq!(e.timeout(), MAX_TIMEOUT);
    }
}
