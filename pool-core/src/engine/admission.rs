//! The checkout side's steps: the queue-free attempt, queueing, cancelling, taking an
//! available connection, and admitting a creation.
//!
//! # State machine
//!
//! A checkout's first attempt ([`Engine::try_fast`]) ends in one of three ways: refused
//! (closed or paused), served (a connection from the thread's shelf, `idle` or another
//! shelf, or a creation permit), or sent to the queue ([`Engine::enqueue`]). A queued
//! checkout is served by a dispatch, or leaves by [`Engine::cancel`].
//!
//! A connection leaves `idle` or a shelf here, and is judged on the way out: a perished
//! one is closed and the search goes on. A creation is admitted by one CAS on the state
//! word that checks both limits.
//!
//! Invariants kept here (defined in `engine/mod.rs`):
//!
//! - **I1**, **I2** [`Engine::admit`] asserts the limits on the state it installs.
//! - **I3** A connection taken here is held by the caller alone; one closed here gives its
//!   `total` unit back ([`Engine::close_live`]).
//! - **I4** [`Engine::enqueue`] dispatches after its push; a step that closed or released
//!   something leaves the dispatch to its caller, which always does one.
//! - **I5** [`Engine::try_fast`] queues whenever the queue is not empty.
//! - **I6** Every connection taken here was compared with the current generation as it
//!   left (`Engine::perished`).

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::Arc;

use super::state::State;
use super::waiter::Cancelled;
use super::{Engine, Entry, Fast, Grant, Permit, Refusal, Resource, WaiterOf};
use crate::manager::Manager;
use crate::sync::{AtomicOps, Backend};

impl<M: Manager, B: Backend> Engine<M, B> {
    /// The queue-free attempt: refuse, take a resource, or tell the caller to queue.
    #[inline]
    pub(crate) fn try_fast(&self) -> Fast<M::Connection> {
        let s = self.state();
        if s.closed() {
            return Fast::Refused(Refusal::Closed);
        }
        if s.paused() {
            return Fast::Refused(Refusal::Cleared {
                generation: s.generation(),
            });
        }
        debug_assert!(
            !s.paused() && !s.closed(),
            "only a ready pool serves a checkout"
        );
        if !self.queue_empty() {
            return Fast::Queue; // I5: never overtake a queued waiter.
        }
        // The thread's own shelf first, counting the checkout there when it is served; one
        // due for validation is not counted yet (its checkout may still fail).
        let shelved = self.lane().shelf.take_counted(|entry| {
            self.perished(entry, self.state()).is_none() && !self.due_for_validation(entry)
        });
        if let Some(taken) = shelved {
            match taken {
                Ok(entry) => return Fast::Got(Resource::Idle(entry), true),
                Err(entry) => match self.perished(&entry, self.state()) {
                    Some(reason) => self.close_live(entry, reason),
                    None => return Fast::Got(Resource::Idle(entry), false),
                },
            }
        }
        match self.take_available_shared() {
            Some(entry) => Fast::Got(Resource::Idle(entry), false),
            None => match self.admit() {
                Some(permit) => Fast::Got(Resource::Create(permit), false),
                None => Fast::Queue,
            },
        }
    }

    /// Queues a new waiter and dispatches (I4). `Err` when the queue is full.
    pub(crate) fn enqueue(&self) -> Result<Arc<WaiterOf<M, B>>, ()> {
        let waiter = self.lane().take_spare();
        debug_assert_eq!(
            Arc::strong_count(&waiter),
            1,
            "a new waiter is referenced by its checkout only"
        );
        if self.waiters.push(waiter.clone()).is_err() {
            return Err(());
        }
        self.lane().queued.fetch_add(1, Relaxed);
        self.dispatch();
        Ok(waiter)
    }

    /// Gives up on `waiter`; returns the grant if one beat the cancel (W2).
    pub(crate) fn cancel(&self, waiter: &WaiterOf<M, B>) -> Option<Grant<M::Connection>> {
        match waiter.cancel() {
            Cancelled::Waiting => {
                let left = self.lane().left.fetch_add(1, Relaxed);
                debug_assert!(left < u64::MAX, "I5: waiter count overflow");
                None
            }
            Cancelled::Granted(grant) => Some(grant),
            Cancelled::Reclaimed => None, // already back in the pool (I8)
        }
    }

    /// CMAP K5: a queued checkout that was granted a creation permit takes a connection that
    /// became available since (say the second of two populated connections that finished
    /// together) instead of creating one; the permit goes back to the pool.
    pub(crate) fn prefer_idle(&self, resource: Resource<M::Connection>) -> Resource<M::Connection> {
        let Resource::Create(permit) = resource else {
            return resource;
        };
        debug_assert!(
            permit.generation <= self.state().generation(),
            "a permit is never of a future generation"
        );
        match self.take_available() {
            Some(entry) => {
                self.release(Resource::Create(permit));
                self.dispatch(); // I4
                Resource::Idle(entry)
            }
            None => {
                self.dispatch(); // I4: perished connections may have been closed
                Resource::Create(permit)
            }
        }
    }

    /// Takes an idle connection (closing perished ones on the way) or admits a creation.
    #[inline(always)]
    pub(crate) fn reserve(&self) -> Option<Resource<M::Connection>> {
        match self.take_available() {
            Some(entry) => Some(Resource::Idle(entry)),
            None => self.admit().map(Resource::Create),
        }
    }

    /// Takes an available connection, closing perished ones on the way: the thread's own
    /// shelf first, then `idle` (oldest first), then the other shelves. The caller
    /// dispatches if it released anything (I4).
    #[inline(always)]
    pub(super) fn take_available(&self) -> Option<Entry<M::Connection>> {
        if let Some(entry) = self.lane().shelf.take() {
            if let Some(entry) = self.current_or_close(entry) {
                return Some(entry);
            }
        }
        self.take_available_shared()
    }

    /// [`Engine::take_available`] past the thread's own shelf.
    fn take_available_shared(&self) -> Option<Entry<M::Connection>> {
        // `is_empty` first: a pop of an empty ring pays a fence to tell empty from stale.
        while let Some(entry) = (!self.idle.is_empty())
            .then(|| self.idle.pop())
            .flatten()
            .or_else(|| self.lanes.others::<B>().find_map(|l| l.shelf.take()))
        {
            if let Some(entry) = self.current_or_close(entry) {
                return Some(entry);
            }
        }
        None
    }

    /// I6 as a connection leaves `idle` or a shelf: the connection if it is current, else
    /// `None` after closing it.
    #[inline(always)]
    fn current_or_close(&self, entry: Entry<M::Connection>) -> Option<Entry<M::Connection>> {
        let s = self.state();
        match self.perished(&entry, s) {
            Some(reason) => {
                self.close_live(entry, reason);
                None
            }
            None => {
                debug_assert!(
                    entry.generation == s.generation() && s.total() >= 1,
                    "I3, I6: a connection leaving `idle` or a shelf is current and counted"
                );
                Some(entry)
            }
        }
    }

    /// Admits one creation if the pool is ready and both limits allow it (I1, I2).
    #[inline]
    pub(crate) fn admit(&self) -> Option<Permit> {
        let max_connecting = self.options.max_connecting;
        self.take_permit(|s| {
            if s.paused()
                || s.closed()
                || s.total() >= self.total_max
                || s.pending() >= max_connecting
            {
                return None;
            }
            let next = s.with_created();
            debug_assert!(
                next.total() <= self.total_max,
                "I1: total {} > max {}",
                next.total(),
                self.total_max
            );
            debug_assert!(
                next.pending() <= max_connecting,
                "I2: pending {} > maxConnecting",
                next.pending()
            );
            Some(next)
        })
    }

    /// The compare-and-swap loop of every creation permit: applies `step` to the state
    /// word until the swap succeeds (a permit at the generation `step` saw) or `step`
    /// refuses (`None`).
    #[inline]
    pub(crate) fn take_permit(&self, step: impl Fn(State) -> Option<State>) -> Option<Permit> {
        let mut current = self.state.load(Acquire);
        loop {
            let s = State(current);
            let next = step(s)?;
            match self
                .state
                .compare_exchange(current, next.0, AcqRel, Acquire)
            {
                Ok(_) => {
                    return Some(Permit {
                        generation: s.generation(),
                    })
                }
                Err(actual) => current = actual,
            }
        }
    }
}
