//! A keyed bijection of `[0, n)`: the order in which pairs are probed.
//!
//! A balanced Feistel network over the smallest even bit width that covers
//! `n`, with cycle walking to stay inside `[0, n)`. It needs no memory, can be
//! evaluated at any position (so shards and threads can split the sequence
//! without coordination) and inverted (so a reply's pair maps back to the
//! position, and hence the time, at which it was probed). Consecutive
//! positions land on unrelated hosts, so no host sees a burst.

/// A keyed permutation of `0..len`.
#[derive(Debug, Clone)]
pub struct Permutation {
    len: u64,
    half_bits: u32,
    half_mask: u64,
    keys: [u64; Self::ROUNDS],
}

impl Permutation {
    const ROUNDS: usize = 4;

    pub fn new(len: u64, seed: u64) -> Permutation {
        let bits = 64 - len.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        let mut keys = [0u64; Self::ROUNDS];
        let mut s = seed;
        for k in &mut keys {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            *k = mix(s);
        }
        Permutation { len, half_bits, half_mask: (1u64 << half_bits) - 1, keys }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The index probed at position `pos` (`pos < len`).
    #[inline]
    pub fn at(&self, pos: u64) -> u64 {
        debug_assert!(pos < self.len);
        let mut x = self.forward(pos);
        // Cycle walking: the network permutes [0, 4^half_bits) ⊇ [0, len),
        // so following the cycle from an in-range point returns in range.
        while x >= self.len {
            x = self.forward(x);
        }
        x
    }

    /// The position at which `index` is probed (inverse of [`at`](Self::at)).
    #[inline]
    pub fn position_of(&self, index: u64) -> u64 {
        debug_assert!(index < self.len);
        let mut x = self.backward(index);
        while x >= self.len {
            x = self.backward(x);
        }
        x
    }

    #[inline]
    fn forward(&self, x: u64) -> u64 {
        let (mut l, mut r) = (x >> self.half_bits, x & self.half_mask);
        for k in self.keys {
            let t = l ^ (mix(r ^ k) & self.half_mask);
            l = r;
            r = t;
        }
        (l << self.half_bits) | r
    }

    #[inline]
    fn backward(&self, x: u64) -> u64 {
        let (mut l, mut r) = (x >> self.half_bits, x & self.half_mask);
        for k in self.keys.iter().rev() {
            let t = r ^ (mix(l ^ k) & self.half_mask);
            r = l;
            l = t;
        }
        (l << self.half_bits) | r
    }
}

/// A 64-bit finaliser (splitmix64's): cheap and well mixed.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_bijection_for_many_sizes() {
        for len in [1u64, 2, 3, 7, 16, 17, 1000, 4097, 65_537, 250 * 2784] {
            let p = Permutation::new(len, 42);
            let mut seen = vec![false; len as usize];
            for pos in 0..len {
                let i = p.at(pos);
                assert!(i < len);
                assert!(!seen[i as usize], "len {len}: {i} twice");
                seen[i as usize] = true;
                assert_eq!(p.position_of(i), pos);
            }
        }
    }

    #[test]
    fn seed_makes_order_reproducible_and_different() {
        let a: Vec<u64> = (0..100).map(|i| Permutation::new(1000, 1).at(i)).collect();
        let b: Vec<u64> = (0..100).map(|i| Permutation::new(1000, 1).at(i)).collect();
        let c: Vec<u64> = (0..100).map(|i| Permutation::new(1000, 2).at(i)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn consecutive_positions_spread_over_hosts() {
        // 256 hosts × 2784 ports: the first 256 probes should not hit any
        // host more than a handful of times.
        let ports = 2784u64;
        let p = Permutation::new(256 * ports, 7);
        let mut per_host = [0u32; 256];
        for pos in 0..256 {
            per_host[(p.at(pos) / ports) as usize] += 1;
        }
        assert!(*per_host.iter().max().unwrap() <= 6, "{per_host:?}");
    }
}
