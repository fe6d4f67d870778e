//! Dispatch: pairing resources with waiters, and putting resources back.
//!
//! # State machine
//!
//! A dispatch pass goes `fence → look at the state → (drain | refuse | pair one) →
//! repeat`. Pairing one is three atomic steps: reserve a resource
//! ([`Engine::reserve`]), pop the head waiter, deliver. A step that fails undoes only
//! itself: a resource with no waiter to take it, or one a cancelled waiter gives back
//! (W2), is released and the pass starts over. So any number of dispatches may run at
//! once, each on the thread that called it.
//!
//! Invariants kept here (defined in `engine/mod.rs`):
//!
//! - **I2**, **I3** [`Engine::release_units`] asserts that no count underflows and that
//!   `pending <= total` after the release; [`Engine::release`] asserts that `idle` has
//!   room for what comes back.
//! - **I4** Every pass starts with a `SeqCst` fence.
//! - **I5** Resources go to the head of the queue only ([`Engine::dispatch`],
//!   [`Engine::hand_off`]).
//! - **I7** A pass that sees the pool paused or closed fails every waiter it can pop.

use std::sync::atomic::Ordering::{AcqRel, Relaxed, SeqCst};
use std::sync::Arc;

use super::backoff::Backoff;
use super::state::State;
use super::{Engine, Entry, Grant, Refusal, Resource, WaiterOf};
use crate::event::ConnectionClosedReason;
use crate::manager::Manager;
use crate::sync::{AtomicOps, Backend};

impl<M: Manager, B: Backend> Engine<M, B> {
    /// Puts a resource back without dispatching; the caller dispatches (I4).
    #[inline]
    pub(super) fn release(&self, resource: Resource<M::Connection>) {
        match resource {
            Resource::Idle(entry) => {
                if let Err(entry) = self.idle.push(entry) {
                    // I3 bounds idle by total <= capacity, so this is unreachable; stay safe.
                    debug_assert!(
                        false,
                        "I3: idle ring full with {} slots",
                        self.idle.capacity()
                    );
                    self.close_live(entry, ConnectionClosedReason::Error);
                }
            }
            Resource::Create(_permit) => self.release_units(State::TOTAL_ONE + State::PENDING_ONE),
        }
    }

    /// Drops units of `total`/`pending`; the caller dispatches (I4).
    #[inline]
    pub(crate) fn release_units(&self, units: u64) {
        debug_assert!(
            units != 0 && units & !(State::TOTAL_ONE | State::PENDING_ONE) == 0,
            "release_units takes one unit of total and/or pending, got {units:#x}"
        );
        let before = State(self.state.fetch_sub(units, AcqRel));
        let after = State(before.0.wrapping_sub(units));
        debug_assert!(
            units & State::TOTAL_ONE == 0 || before.total() >= 1,
            "I3: total underflow"
        );
        debug_assert!(
            units & State::PENDING_ONE == 0 || before.pending() >= 1,
            "I2: pending underflow"
        );
        debug_assert!(
            after.pending() <= after.total(),
            "I2: pending {} > total {}",
            after.pending(),
            after.total()
        );
    }

    /// Pairs resources with waiters until one side runs out (see the module docs).
    ///
    /// The first pass's look at the state is inline: on an open pool with nobody queued,
    /// the common case after a check-in, it is the whole dispatch.
    #[inline(always)]
    pub(crate) fn dispatch(&self) {
        // I4: the fence every pass starts with.
        B::fence(SeqCst);
        let s = self.state();
        if !s.closed() && self.queue_empty() {
            return; // the first pass of `dispatch_passes` would return here too
        }
        self.dispatch_passes();
    }

    /// Every pass of a dispatch, from the first (the inline look in
    /// [`Engine::dispatch`] found something to do; the first pass looks again).
    #[cold]
    #[inline(never)]
    fn dispatch_passes(&self) {
        let mut backoff = Backoff::<B>::new();
        loop {
            // I4: every pass starts with a fence, because the previous pass may have
            // published a resource (a release) that a racing enqueuer must see, or must
            // see its waiter.
            B::fence(SeqCst);
            let s = self.state();
            if s.closed() {
                self.drain_closed();
                return;
            }
            if self.queue_empty() {
                return;
            }
            if s.paused() {
                self.refuse_waiters(Refusal::Cleared {
                    generation: s.generation(),
                });
                return;
            }
            let Some(resource) = self.reserve() else {
                return;
            };
            match self.pop_waiter() {
                Some(waiter) => self.grant_or_release(waiter, resource),
                None => {
                    // The head waiter is still being published by its pusher, which will
                    // dispatch; put the resource back and look again.
                    self.release(resource);
                    backoff.snooze();
                }
            }
        }
    }

    /// Delivers `resource` to `waiter`, popped from the head of the queue (I5), and
    /// watches the grant (I8); releases it if the waiter was cancelled first (W2). The
    /// caller dispatches (I4).
    #[inline]
    fn grant_or_release(&self, waiter: Arc<WaiterOf<M, B>>, resource: Resource<M::Connection>) {
        match self.deliver(&waiter, Grant::Ready(resource)) {
            Ok(()) => self.watch(waiter),
            Err(grant) => {
                // W2: the waiter was cancelled first; the grant is the one we gave.
                debug_assert!(
                    matches!(grant, Grant::Ready(_)),
                    "W2: a refused delivery gives back the grant it was given"
                );
                if let Grant::Ready(resource) = grant {
                    self.release(resource);
                }
            }
        }
    }

    /// Hands `grant` to `waiter`, counting it as left the queue if it took it.
    fn deliver(
        &self,
        waiter: &WaiterOf<M, B>,
        grant: Grant<M::Connection>,
    ) -> Result<(), Grant<M::Connection>> {
        let result = waiter.deliver(grant);
        if result.is_ok() {
            let left = self.lane().left.fetch_add(1, Relaxed);
            debug_assert!(left < u64::MAX, "I5: waiter count overflow");
        }
        result
    }

    /// Fails every queued waiter (I7).
    fn refuse_waiters(&self, refusal: Refusal) {
        debug_assert!(
            {
                let s = self.state();
                s.closed() || s.paused()
            },
            "I7: only a paused or closed pool refuses waiters"
        );
        while let Some(waiter) = self.pop_waiter() {
            // A cancelled waiter gives the refusal back; nothing to return.
            let _ = self.deliver(&waiter, Grant::Refused(refusal));
        }
    }

    /// On a closed pool: close every available connection and fail every waiter.
    fn drain_closed(&self) {
        debug_assert!(self.state().closed(), "S4: only a closed pool is drained");
        while let Some(entry) = self
            .idle
            .pop()
            .or_else(|| self.lanes.iter().find_map(|l| l.shelf.take()))
        {
            self.close_live(entry, ConnectionClosedReason::PoolClosed);
        }
        self.refuse_waiters(Refusal::Closed);
    }

    /// Gives a checked-in connection straight to the head waiter (I5), saving the trip
    /// through `idle`; if the head was cancelled or is still being published, the
    /// connection goes to `idle` instead. The caller dispatches (I4).
    #[inline]
    pub(super) fn hand_off(&self, entry: Entry<M::Connection>) {
        debug_assert_ne!(
            entry.id, 0,
            "I3: only an established connection is handed off"
        );
        match self.pop_waiter() {
            Some(waiter) => self.grant_or_release(waiter, Resource::Idle(entry)),
            None => self.release(Resource::Idle(entry)),
        }
    }

    /// Returns an unused grant to the pool (CMAP K11).
    pub(crate) fn give_back(&self, grant: Grant<M::Connection>) {
        if let Grant::Ready(resource) = grant {
            self.release(resource);
            self.dispatch();
        }
    }
}
