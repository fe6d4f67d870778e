//! A thread slot's share of the engine: its shelf, its part of the claim watch list, its
//! waiter counts and its spare waiter.
//!
//! # Implementation details
//!
//! [`Lanes`](super::shelves::Lanes) gives every thread slot one [`Lane`] on cache lines of
//! its own. A lane is written mostly by the threads of its slot, and read by everyone
//! (other threads look at every shelf before they queue; `status` sums the counts).
//!
//! The spare waiter is a word that is either 0 or an `Arc::into_raw` pointer whose one
//! reference count the lane owns. It moves by `swap`/`compare_exchange` only:
//!
//! - `0 → p` ([`Lane::keep_spare`]): by a claimer whose waiter nothing else references;
//! - `p → 0` ([`Lane::take_spare`], `Drop`): by the next queued checkout of the slot, or
//!   when the engine goes.
//!
//! Invariants kept here (the engine's, defined in `engine/mod.rs`):
//!
//! - **I3** A spare waiter holds no grant (it is reset before it is kept), so nothing of
//!   the pool is ever parked in a lane's spare.
//! - **I5** `queued` and `left` only grow; `sum(queued) - sum(left)` is the number of live
//!   waiters (`status`).

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

use super::claims::ClaimList;
use super::shelves::Shelf;
use super::waiter::Waiter;
use super::{Entry, Grant, WaiterOf};
use crate::manager::Manager;
use crate::sync::{AtomicOps, Backend, CachePadded};
use crate::wait_times::WaitHistogram;

/// A thread slot's share of the engine, on cache lines of its own (see `shelves`): written
/// mostly by the threads of that slot.
pub(crate) struct Lane<M: Manager, B: Backend> {
    /// One available connection kept for this thread's next checkout. Padded apart from
    /// the fields below, which this thread writes on every queued checkout, because other
    /// threads read every shelf before they queue.
    pub(super) shelf: CachePadded<Shelf<Entry<M::Connection>, B>>,
    /// Waiters granted by dispatches on this thread, until the claim watcher looks (I8).
    pub(super) claims: ClaimList<Grant<M::Connection>, B>,
    /// Checkouts this thread queued.
    pub(super) queued: B::AtomicU64,
    /// Waiters that left the queue through this thread (granted here, or cancelled here);
    /// the sum of `queued` minus the sum of `left` is the number of live waiters.
    pub(super) left: B::AtomicU64,
    /// A spare waiter (an `Arc::into_raw` pointer, or 0) for this thread's next queued
    /// checkout: a claimed waiter that nothing else references is reset and kept here
    /// instead of going back to the allocator.
    spare: B::AtomicUsize,
    /// The waits of checkouts this thread handed out after they left the fast path
    /// (`status().wait_times` sums the lanes).
    pub(super) wait: WaitHistogram,
}

impl<M: Manager, B: Backend> Lane<M, B> {
    /// An empty lane: no shelved connection, no watched waiter, counts at zero, no spare.
    pub(super) fn new() -> Self {
        Lane {
            shelf: CachePadded(Shelf::new()),
            claims: ClaimList::new(),
            queued: B::AtomicU64::new(0),
            left: B::AtomicU64::new(0),
            spare: B::AtomicUsize::new(0),
            wait: WaitHistogram::new(),
        }
    }

    /// A waiter for a new queued checkout: the lane's spare if it has one, else a new one.
    #[inline]
    pub(super) fn take_spare(&self) -> Arc<WaiterOf<M, B>> {
        match self.spare.swap(0, Acquire) {
            0 => Arc::new(Waiter::new()),
            spare => {
                // SAFETY: a non-zero `spare` is an `Arc::into_raw` pointer whose one count
                // the lane owned (`keep_spare` stored it only after `into_raw`); the swap
                // to 0 handed that count to us alone, and the `Acquire` pairs with
                // `keep_spare`'s `Release`, so the reset waiter is fully visible.
                let waiter = unsafe { Arc::from_raw(spare as *const WaiterOf<M, B>) };
                debug_assert_eq!(
                    Arc::strong_count(&waiter),
                    1,
                    "I3: a spare waiter has no owner but its lane"
                );
                waiter
            }
        }
    }

    /// Keeps a claimed `waiter` as the spare if nothing else references it (and the lane
    /// has none yet); otherwise just drops this reference.
    #[inline]
    pub(super) fn keep_spare(&self, mut waiter: Arc<WaiterOf<M, B>>) {
        debug_assert_eq!(Arc::weak_count(&waiter), 0, "waiters are never weakly held");
        let Some(unique) = Arc::get_mut(&mut waiter) else {
            return;
        };
        // I3: the reset drops nothing of the pool: a claimed waiter's grant was taken.
        *unique = Waiter::new();
        let raw = Arc::into_raw(waiter) as usize;
        debug_assert_ne!(raw, 0, "an Arc pointer is never null");
        if self
            .spare
            .compare_exchange(0, raw, Release, Relaxed)
            .is_err()
        {
            // SAFETY: `raw` came from `Arc::into_raw` just above and the failed exchange
            // did not store it, so this is its only owner taking its count back.
            drop(unsafe { Arc::from_raw(raw as *const WaiterOf<M, B>) });
        }
    }
}

impl<M: Manager, B: Backend> Drop for Lane<M, B> {
    fn drop(&mut self) {
        let spare = self.spare.swap(0, Acquire);
        if spare != 0 {
            // SAFETY: a non-zero `spare` is an `Arc::into_raw` pointer whose count the lane
            // owns (see `Lane::keep_spare`); the swap made us its only owner.
            drop(unsafe { Arc::from_raw(spare as *const WaiterOf<M, B>) });
        }
    }
}
