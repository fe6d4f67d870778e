//! The pool's status snapshot and its lifetime counters.

use std::sync::atomic::Ordering::Relaxed;

use serde::{Deserialize, Serialize};

use crate::event::ConnectionClosedReason;
use crate::sync::{AtomicOps, Backend};
use crate::wait_times::WaitTimes;

/// A snapshot of a pool. `total`, `pending`, `generation`, `paused` and `closed` come
/// from one load of the pool's state word, so they are mutually consistent; `available`
/// and `waiters` are read just after and may differ by operations in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// pending + available + in use.
    pub total: u32,
    /// Connections ready to be checked out.
    pub available: u32,
    /// Connections being established.
    pub pending: u32,
    /// Connections checked out (or granted to a waiter that has not resumed yet).
    pub in_use: u32,
    /// Checkouts waiting in the queue.
    pub waiters: u32,
    /// The pool's generation (bumped by every clear).
    pub generation: u64,
    /// True while the pool is paused (new, or cleared and not ready again).
    pub paused: bool,
    /// True once the pool is closed.
    pub closed: bool,
    /// Lifetime counters.
    pub counters: CountersSnapshot,
    /// How long successful checkouts waited, over the pool's life.
    #[serde(default)]
    pub wait_times: WaitTimes,
}

/// Lifetime counters of a pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountersSnapshot {
    /// Connections created (ConnectionCreated events).
    pub created: u64,
    /// Connections closed (ConnectionClosed events).
    pub closed: u64,
    /// Successful checkouts.
    pub checked_out: u64,
    /// Failed checkouts.
    pub checkout_failed: u64,
    /// Grants taken back from checkouts that did not claim them within
    /// `claim_timeout` (see [`PoolOptions::claim_timeout`](crate::PoolOptions::claim_timeout)).
    #[serde(default)]
    pub reclaimed: u64,
    /// Failed checkouts that failed because their wait timed out.
    #[serde(default)]
    pub timeouts: u64,
    /// Connections closed, by reason: `closed_by.stale + … + closed_by.expired == closed`.
    #[serde(default)]
    pub closed_by: ClosedBy,
}

/// Connections closed, by [`ConnectionClosedReason`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedBy {
    /// Their generation was behind the pool's.
    pub stale: u64,
    /// Idle longer than `max_idle_time`.
    pub idle: u64,
    /// Failed to establish, or marked errored.
    pub error: u64,
    /// The pool was closed.
    pub pool_closed: u64,
    /// Outlived `max_lifetime`.
    pub expired: u64,
}

/// The live counters behind [`CountersSnapshot`].
pub(crate) struct Counters<B: Backend> {
    pub(crate) created: B::AtomicU64,
    pub(crate) closed: B::AtomicU64,
    /// Successful checkouts not counted on a shelf (see `Shelf::counted`).
    pub(crate) checked_out: B::AtomicU64,
    pub(crate) checkout_failed: B::AtomicU64,
    pub(crate) reclaimed: B::AtomicU64,
    pub(crate) timeouts: B::AtomicU64,
    /// Closes by reason, in [`close_index`] order.
    pub(crate) closed_by: [B::AtomicU64; 5],
}

/// Where a close of `reason` is counted in `Counters::closed_by`.
fn close_index(reason: ConnectionClosedReason) -> usize {
    match reason {
        ConnectionClosedReason::Stale => 0,
        ConnectionClosedReason::Idle => 1,
        ConnectionClosedReason::Error => 2,
        ConnectionClosedReason::PoolClosed => 3,
        ConnectionClosedReason::Expired => 4,
    }
}

impl<B: Backend> Counters<B> {
    pub(crate) fn new() -> Self {
        Counters {
            created: B::AtomicU64::new(0),
            closed: B::AtomicU64::new(0),
            checked_out: B::AtomicU64::new(0),
            checkout_failed: B::AtomicU64::new(0),
            reclaimed: B::AtomicU64::new(0),
            timeouts: B::AtomicU64::new(0),
            closed_by: std::array::from_fn(|_| B::AtomicU64::new(0)),
        }
    }

    /// Counts one close of `reason` (cold path: closes only).
    pub(crate) fn count_close(&self, reason: ConnectionClosedReason) {
        self.closed.fetch_add(1, Relaxed);
        self.closed_by[close_index(reason)].fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            created: self.created.load(Relaxed),
            closed: self.closed.load(Relaxed),
            checked_out: self.checked_out.load(Relaxed), // plus the shelves' counts
            checkout_failed: self.checkout_failed.load(Relaxed),
            reclaimed: self.reclaimed.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            closed_by: ClosedBy {
                stale: self.closed_by[0].load(Relaxed),
                idle: self.closed_by[1].load(Relaxed),
                error: self.closed_by[2].load(Relaxed),
                pool_closed: self.closed_by[3].load(Relaxed),
                expired: self.closed_by[4].load(Relaxed),
            },
        }
    }
}
