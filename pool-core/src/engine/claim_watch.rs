//! The claim watch list's engine side: watching a grant, unwatching it once claimed, and
//! the claim watcher's sweep that takes back grants nobody claims.
//!
//! # State machine
//!
//! With a `claim_timeout`, a granted waiter goes `granted → watched` (pushed onto the
//! claim list of the lane whose thread delivered it, [`Engine::watch`]), then leaves the
//! list `watched → unwatched` when its checkout claims it ([`Engine::claimed`] unlinks it
//! if it is still on top, C4) or at the next sweep. A sweep
//! ([`Engine::sweep_claims`]) takes every list, drops the waiters that are settled,
//! reclaims the grants that are due (W3) and pushes the rest back.
//!
//! Invariants kept here (defined in `engine/mod.rs`; `C1`–`C4` in `claims.rs`, `W3` in
//! `waiter.rs`):
//!
//! - **I4** A sweep that returned a grant to the pool dispatches.
//! - **I8** Every grant delivered with a `claim_timeout` is watched, and one still
//!   unclaimed `claim_timeout` after the first sweep that saw it is taken back.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use super::{Engine, Grant, WaiterOf};
use crate::manager::Manager;
use crate::sync::{AtomicOps, Backend};

/// The longest the claim watcher sleeps while it has waiters to watch.
const CLAIM_SWEEP_PERIOD_MAX: Duration = Duration::from_millis(10);

impl<M: Manager, B: Backend> Engine<M, B> {
    /// Puts a granted waiter on the claim watch list (I8).
    #[inline]
    pub(super) fn watch(&self, waiter: Arc<WaiterOf<M, B>>) {
        if self.options.claim_timeout.is_none() {
            return;
        }
        let (i, lane) = self.lanes.mine_indexed::<B>();
        debug_assert_eq!(
            waiter.watched_on.load(Relaxed),
            0,
            "I8: a grant is watched once, when it is delivered"
        );
        waiter.watched_on.store(i + 1, Relaxed);
        if lane.claims.push(waiter) {
            self.claim_signal.notify();
        }
    }

    /// After `waiter`'s checkout claimed its grant: takes it off the claim watch list if it
    /// is still on top there (C4), then keeps it as the lane's spare if nothing else
    /// references it.
    #[inline]
    pub(crate) fn claimed(&self, waiter: Arc<WaiterOf<M, B>>) {
        let watched_on = waiter.watched_on.load(Relaxed);
        debug_assert!(
            watched_on <= self.lanes.iter().count(),
            "C4: a waiter's lane hint is a lane index plus one, or 0"
        );
        if watched_on != 0 {
            self.lanes.get(watched_on - 1).claims.unlink_top(&waiter);
        }
        self.lane().keep_spare(waiter);
    }

    /// One pass of the claim watcher (I8): takes back every grant unclaimed for
    /// `claim_timeout`, returns it to the pool, and dispatches. Returns when to look
    /// again, or `None` when nothing is left to watch.
    pub(crate) fn sweep_claims(&self) -> Option<Duration> {
        let timeout = self.options.claim_timeout?;
        let now = self.now();
        // Look again within a short period even if every grant is young: settled
        // waiters are freed only by a sweep, so a busy pool must not pile them up.
        let soonest = now + timeout.min(CLAIM_SWEEP_PERIOD_MAX);
        let mut next: Option<Duration> = None;
        let mut returned = false;
        let watched: Vec<_> = self
            .lanes
            .iter()
            .flat_map(|l| l.claims.take_all())
            .collect();
        for waiter in watched {
            if !waiter.is_unclaimed() {
                continue; // claimed, or given up and taken: the list's count drops here
            }
            // A grant's clock starts at the first sweep that finds it unclaimed, which is
            // at most one sweep period after delivery (the first push onto an empty list
            // wakes the watcher at once), so the dispatcher never reads the clock.
            let now_nanos = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX);
            let seen = waiter.first_seen(now_nanos);
            debug_assert!(
                seen >= 1 && seen <= now_nanos.max(1),
                "I8: a grant's clock starts at a sweep that already happened"
            );
            let due = Duration::from_nanos(seen) + timeout;
            if due <= now {
                if let Some(grant) = waiter.reclaim() {
                    self.counters.reclaimed.fetch_add(1, Relaxed);
                    if let Grant::Ready(resource) = grant {
                        self.release(resource);
                        returned = true;
                    }
                }
            } else {
                next = Some(next.map_or(due, |n| n.min(due)));
                debug_assert!(due > now, "I8: only a grant not yet due is watched again");
                let (i, lane) = self.lanes.mine_indexed::<B>();
                waiter.watched_on.store(i + 1, Relaxed);
                lane.claims.push(waiter);
            }
        }
        if returned {
            self.dispatch(); // I4
        }
        if self.lanes.iter().all(|l| l.claims.is_empty()) {
            next
        } else {
            Some(next.map_or(soonest, |n| n.min(soonest)))
        }
    }
}
