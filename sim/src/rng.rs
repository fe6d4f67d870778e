//! The one deterministic pseudo-random generator. No other code draws randomness.
//!
//! SplitMix64 (Steele, Lea and Flood, 2014): one `u64` of state, full period 2^64, and
//! good enough statistics for scheduling and workload choices. [`Rng::fork`] derives an
//! independent stream for each purpose (options, workload, faults, scheduler, network),
//! so removing a fault while shrinking does not shift the workload's draws.

use std::time::Duration;

/// A SplitMix64 generator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.state)
    }

    /// An independent generator for the purpose `label` (its draws do not depend on how
    /// many draws this one made before or makes after).
    pub fn fork(&self, label: &str) -> Rng {
        let mut h = self.state ^ 0xD1B5_4A32_D192_ED03;
        for b in label.bytes() {
            h = mix(h ^ u64::from(b));
        }
        Rng { state: h }
    }

    /// A uniform integer in `0..n` (`n > 0`), by Lemire's multiply-shift (bias < 2^-32
    /// for the small `n` used here).
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0)");
        ((u128::from(self.next_u64()) * u128::from(n.max(1))) >> 64) as u64
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        debug_assert!(lo <= hi, "range({lo}, {hi})");
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A duration in `lo..=hi`, microsecond resolution.
    pub fn duration(&mut self, lo: Duration, hi: Duration) -> Duration {
        let (lo, hi) = (micros(lo), micros(hi));
        Duration::from_micros(self.range(lo, hi.max(lo)))
    }

    /// A uniformly chosen element of `items` (`None` if empty).
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        items.get(self.below(items.len() as u64) as usize)
    }
}

/// The SplitMix64 output function.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream_and_forks_are_independent() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        let base = Rng::new(7);
        let mut f1 = base.fork("faults");
        let mut f2 = base.fork("workload");
        assert_ne!(f1.next_u64(), f2.next_u64());
        for _ in 0..1000 {
            assert!(a.below(3) < 3);
            let r = a.range(5, 9);
            assert!((5..=9).contains(&r));
        }
    }
}
