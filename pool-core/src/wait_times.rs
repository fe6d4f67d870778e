//! How long checkouts waited: a lock-free log-linear histogram, and the percentiles
//! [`Status::wait_times`](crate::Status::wait_times) reports from it.
//!
//! Only a checkout that could not be served at once is recorded: one that queued, or
//! whose connection had to be established. A checkout served straight from an available
//! connection never reads the clock and writes nothing here; it is counted as a wait of
//! zero, by difference with the successful checkouts the pool counts anyway. So the
//! uncontended path pays nothing for these figures, and a recorded wait costs two clock
//! reads (at the first slow step and at the hand-out) and one relaxed atomic add on a
//! histogram of the recording thread's lane (plus a second, rarely, for a new maximum):
//! no line another core writes, which matters on the exhausted path, where every
//! checkout waits.
//!
//! # Buckets
//!
//! Waits are recorded in nanoseconds into buckets of four per power of two (the two bits
//! below the leading one select the bucket), so every bucket's width is at most a quarter
//! of its lower bound: a reported percentile is the upper bound of its bucket, at most
//! 25 % above the true value and never below it. Waits of 0–3 ns have exact buckets;
//! waits beyond 2^46 ns (about 19.5 hours) share the last one. `max` is exact.
//!
//! The counters are plain `std` atomics even under the model-checking backend: they are
//! statistics, not part of any protocol the engine's invariants depend on.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The highest power of two with buckets of its own; larger waits go to the last bucket.
const TOP_EXP: u32 = 46;
/// 0–3 exactly, then four per power of two from 2^2 to 2^TOP_EXP.
const BUCKETS: usize = 4 * TOP_EXP as usize;

/// The bucket of a wait of `nanos`.
fn bucket_of(nanos: u64) -> usize {
    if nanos < 4 {
        return nanos as usize;
    }
    let exp = 63 - nanos.leading_zeros(); // >= 2
    if exp > TOP_EXP {
        return BUCKETS - 1;
    }
    let sub = (nanos >> (exp - 2)) & 3;
    4 * (exp as usize - 1) + sub as usize
}

/// The largest wait that falls into bucket `i`.
fn upper_bound(i: usize) -> u64 {
    if i < 4 {
        return i as u64;
    }
    let exp = (i / 4 + 1) as u32;
    let sub = (i % 4) as u64;
    let width = 1u64 << (exp - 2);
    ((4 + sub) << (exp - 2)) + width - 1
}

/// One live histogram. The engine keeps one per thread lane, so a recording thread
/// writes lines no other core is writing; a snapshot sums them ([`WaitHistogram::merged`]).
pub(crate) struct WaitHistogram {
    buckets: [AtomicU64; BUCKETS],
    max_nanos: AtomicU64,
}

impl WaitHistogram {
    pub(crate) fn new() -> Self {
        WaitHistogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            max_nanos: AtomicU64::new(0),
        }
    }

    /// Records the wait of one checkout that was not served at once.
    pub(crate) fn record(&self, wait: Duration) {
        let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(nanos)].fetch_add(1, Relaxed);
        // Most waits are not a new maximum: a load, and a read-modify-write only when
        // this one is.
        if nanos > self.max_nanos.load(Relaxed) {
            self.max_nanos.fetch_max(nanos, Relaxed);
        }
    }

    /// The figures of one histogram over `checked_out` successful checkouts.
    #[cfg(test)]
    pub(crate) fn snapshot(&self, checked_out: u64) -> WaitTimes {
        WaitHistogram::merged(&[self], checked_out)
    }

    /// The figures of `histograms` together, over `checked_out` successful checkouts, of
    /// which those not recorded waited zero.
    pub(crate) fn merged(histograms: &[&WaitHistogram], checked_out: u64) -> WaitTimes {
        let counts: Vec<u64> = (0..BUCKETS)
            .map(|i| histograms.iter().map(|h| h.buckets[i].load(Relaxed)).sum())
            .collect();
        let max_nanos = histograms
            .iter()
            .map(|h| h.max_nanos.load(Relaxed))
            .max()
            .unwrap_or(0);
        let recorded: u64 = counts.iter().sum();
        // Racing records may have bumped a bucket and not yet `checked_out`; never let
        // the zero-wait share go negative.
        let total = checked_out.max(recorded);
        let zero = total - recorded;
        let percentile = |q: f64| -> Duration {
            if total == 0 {
                return Duration::ZERO;
            }
            // The rank of the q-quantile among `total` (1-based, nearest rank).
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            if rank <= zero {
                return Duration::ZERO;
            }
            let mut seen = zero;
            for (i, &n) in counts.iter().enumerate() {
                seen += n;
                if seen >= rank {
                    return Duration::from_nanos(upper_bound(i));
                }
            }
            Duration::from_nanos(max_nanos)
        };
        let max = Duration::from_nanos(max_nanos);
        WaitTimes {
            waited: recorded,
            p50: percentile(0.50).min(max),
            p90: percentile(0.90).min(max),
            p99: percentile(0.99).min(max),
            p999: percentile(0.999).min(max),
            max,
        }
    }
}

/// How long successful checkouts waited (queued, or for their connection to be
/// established), over the pool's life. A checkout served at once counts as zero.
/// Percentiles are upper bounds of log-linear buckets: at most 25 % above the true value,
/// never below it, and never above `max`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitTimes {
    /// Successful checkouts that waited (the others were served at once).
    pub waited: u64,
    /// The median wait.
    pub p50: Duration,
    /// The 90th percentile.
    pub p90: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The 99.9th percentile.
    pub p999: Duration,
    /// The longest wait.
    pub max: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wait_falls_in_a_bucket_whose_bounds_contain_it() {
        let mut samples: Vec<u64> = (0..4096).collect();
        samples.extend((2..64).flat_map(|e| {
            let p = 1u64 << e;
            [p - 1, p, p + 1, p + p / 3]
        }));
        for nanos in samples {
            let i = bucket_of(nanos);
            assert!(i < BUCKETS, "{nanos} ns -> bucket {i}");
            if nanos >> TOP_EXP == 0 || (nanos.leading_zeros() == 63 - TOP_EXP) {
                assert!(upper_bound(i) >= nanos, "{nanos} ns above its bucket {i}");
                let lower = if i == 0 { 0 } else { upper_bound(i - 1) + 1 };
                assert!(lower <= nanos, "{nanos} ns below its bucket {i}");
                assert!(
                    upper_bound(i) - lower <= lower / 4,
                    "bucket {i} wider than a quarter of its lower bound"
                );
            } else {
                assert_eq!(i, BUCKETS - 1, "{nanos} ns beyond the top bucket");
            }
        }
    }

    #[test]
    fn percentiles_count_unrecorded_checkouts_as_zero_waits() {
        let h = WaitHistogram::new();
        for ms in [10u64, 20, 30, 40, 50] {
            h.record(Duration::from_millis(ms));
        }
        // 100 successful checkouts, 5 of which waited.
        let w = h.snapshot(100);
        assert_eq!(w.waited, 5);
        assert_eq!(w.p50, Duration::ZERO);
        assert_eq!(w.p90, Duration::ZERO);
        assert!(w.p99 >= Duration::from_millis(40) && w.p99 <= Duration::from_millis(50));
        assert_eq!(w.max, Duration::from_millis(50));
        assert!(w.p999 <= w.max && w.p999 >= Duration::from_millis(50) * 4 / 5);

        // Every checkout waited: the median is the third of five.
        let w = h.snapshot(5);
        assert!(
            w.p50 >= Duration::from_millis(30) && w.p50 <= Duration::from_micros(37_500),
            "{w:?}"
        );
    }

    #[test]
    fn an_empty_histogram_reports_zeros() {
        assert_eq!(WaitHistogram::new().snapshot(0), WaitTimes::default());
        assert_eq!(WaitHistogram::new().snapshot(7).p999, Duration::ZERO);
    }
}
