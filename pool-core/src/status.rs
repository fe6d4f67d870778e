//! The pool's status snapshot and its lifetime counters.

use std::sync::atomic::Ordering::Relaxed;

use serde::{Deserialize, Serialize};

use crate::sync::{AtomicOps, Backend};

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
}

/// The live counters behind [`CountersSnapshot`].
pub(crate) struct Counters<B: Backend> {
    pub(crate) created: B::AtomicU64,
    pub(crate) closed: B::AtomicU64,
    /// Successful checkouts not counted on a shelf (see `Shelf::counted`).
    pub(crate) checked_out: B::AtomicU64,
    pub(crate) checkout_failed: B::AtomicU64,
    pub(crate) reclaimed: B::AtomicU64,
}

impl<B: Backend> Counters<B> {
    pub(crate) fn new() -> Self {
        Counters {
            created: B::AtomicU64::new(0),
            closed: B::AtomicU64::new(0),
            checked_out: B::AtomicU64::new(0),
            checkout_failed: B::AtomicU64::new(0),
            reclaimed: B::AtomicU64::new(0),
        }
    }

    pub(crate) fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            created: self.created.load(Relaxed),
            closed: self.closed.load(Relaxed),
            checked_out: self.checked_out.load(Relaxed), // plus the shelves' counts
            checkout_failed: self.checkout_failed.load(Relaxed),
            reclaimed: self.reclaimed.load(Relaxed),
        }
    }
}
