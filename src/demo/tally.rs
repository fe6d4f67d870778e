//! What the demo counts for its summary: the CMAP events by name, closes by reason, and
//! the peaks of the pool's status. Counts only; the oracle ([`sim::Judge`]) judges.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use poolcheck::{CmapEvent, ConnectionClosedReason, Status};
use serde::Serialize;

/// The CMAP events' names, in the order of [`Tally::events`].
pub(super) const EVENT_NAMES: [&str; 11] = [
    "ConnectionPoolCreated",
    "ConnectionPoolReady",
    "ConnectionPoolCleared",
    "ConnectionPoolClosed",
    "ConnectionCreated",
    "ConnectionReady",
    "ConnectionClosed",
    "ConnectionCheckOutStarted",
    "ConnectionCheckOutFailed",
    "ConnectionCheckedOut",
    "ConnectionCheckedIn",
];

/// `ConnectionClosed` reasons, in the order of [`Tally::closed_by_reason`].
const CLOSED_REASONS: [&str; 5] = ["stale", "idle", "error", "poolClosed", "expired"];

/// The counts, updated from the event handler and the tasks.
#[derive(Debug, Default)]
pub(super) struct Tally {
    events: [AtomicU64; 11],
    closed_by_reason: [AtomicU64; 5],
    samples: AtomicU64,
    total_peak: AtomicU64,
    in_use_peak: AtomicU64,
    pending_peak: AtomicU64,
}

/// The highest counts `pool.status()` showed.
#[derive(Debug, Serialize)]
pub(super) struct Peaks {
    /// Highest total.
    pub(super) sampled_total: u64,
    /// Highest in use.
    pub(super) sampled_in_use: u64,
    /// Highest pending.
    pub(super) sampled_pending: u64,
    /// Status reads.
    pub(super) status_samples: u64,
}

impl Tally {
    /// Counts one event.
    pub(super) fn event(&self, event: &CmapEvent) {
        if let Some(i) = EVENT_NAMES.iter().position(|name| *name == event.name()) {
            self.events[i].fetch_add(1, Relaxed);
        }
        if let CmapEvent::ConnectionClosed { reason, .. } = event {
            let slot = match reason {
                ConnectionClosedReason::Stale => 0,
                ConnectionClosedReason::Idle => 1,
                ConnectionClosedReason::Error => 2,
                ConnectionClosedReason::PoolClosed => 3,
                ConnectionClosedReason::Expired => 4,
            };
            self.closed_by_reason[slot].fetch_add(1, Relaxed);
        }
    }

    /// Notes one `pool.status()` read.
    pub(super) fn sample(&self, status: &Status) {
        self.samples.fetch_add(1, Relaxed);
        self.total_peak.fetch_max(u64::from(status.total), Relaxed);
        self.in_use_peak
            .fetch_max(u64::from(status.in_use), Relaxed);
        self.pending_peak
            .fetch_max(u64::from(status.pending), Relaxed);
    }

    /// How many events named `name` arrived.
    pub(super) fn count(&self, name: &str) -> u64 {
        EVENT_NAMES
            .iter()
            .position(|n| *n == name)
            .map_or(0, |i| self.events[i].load(Relaxed))
    }

    /// Every event's count, by name.
    pub(super) fn events(&self) -> BTreeMap<String, u64> {
        EVENT_NAMES
            .iter()
            .zip(&self.events)
            .map(|(name, n)| (name.to_string(), n.load(Relaxed)))
            .collect()
    }

    /// `ConnectionClosed` counts by reason (those that happened).
    pub(super) fn closed_by_reason(&self) -> BTreeMap<String, u64> {
        CLOSED_REASONS
            .iter()
            .zip(&self.closed_by_reason)
            .map(|(name, n)| (name.to_string(), n.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The status peaks.
    pub(super) fn peaks(&self) -> Peaks {
        Peaks {
            sampled_total: self.total_peak.load(Relaxed),
            sampled_in_use: self.in_use_peak.load(Relaxed),
            sampled_pending: self.pending_peak.load(Relaxed),
            status_samples: self.samples.load(Relaxed),
        }
    }
}
