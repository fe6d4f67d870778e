//! Per-operation latencies and their percentiles.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Latencies of individual operations, in nanoseconds.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    nanos: Vec<u64>,
}

impl Latencies {
    /// An empty set with room for `n` samples.
    pub fn with_capacity(n: usize) -> Latencies {
        Latencies {
            nanos: Vec::with_capacity(n),
        }
    }

    /// Records one operation's latency.
    pub fn record(&mut self, latency: Duration) {
        self.nanos
            .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: Latencies) {
        self.nanos.extend(other.nanos);
    }

    /// Samples recorded.
    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.nanos.is_empty()
    }

    /// p50, p99 and max (nearest-rank), or `None` when empty.
    pub fn summary(&mut self) -> Option<Percentiles> {
        if self.nanos.is_empty() {
            return None;
        }
        self.nanos.sort_unstable();
        let at = |q: f64| {
            let n = self.nanos.len();
            // Nearest rank: the smallest sample with at least q of the samples at or below it.
            let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
            self.nanos[rank - 1]
        };
        Some(Percentiles {
            samples: self.nanos.len() as u64,
            p50_us: at(0.50) as f64 / 1e3,
            p99_us: at(0.99) as f64 / 1e3,
            max_us: at(1.0) as f64 / 1e3,
        })
    }
}

/// Latency percentiles, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many operations.
    pub samples: u64,
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// Slowest.
    pub max_us: f64,
}
