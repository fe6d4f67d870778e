//! A connection's life after its establishment: settling the establishment, check-in,
//! making it available, closing it.
//!
//! # State machine
//!
//! An established connection goes `pending → in use` (a checkout's own establishment) or
//! `pending → available` (populate, or a checkout that gave up), and later
//! `in use → available | closed` at check-in; an available one may be taken again
//! (`admission`) or closed (maintenance, clear, close). A failed establishment gives back
//! both its units. Each move is one state-word update plus at most one push or pop.
//!
//! Invariants kept here (defined in `engine/mod.rs`; `T1` in `interrupt.rs`):
//!
//! - **I2** A just-established connection releases its `pending` unit only once it is in
//!   `idle` (CMAP K10) or together with its `total` unit when it perished.
//! - **I3** A connection is closed exactly once, and its `total` unit goes with it
//!   ([`Engine::close_live`] asserts the entry was counted).
//! - **I4** Every public step here dispatches, or says that its caller does.
//! - **I5** A checked-in connection goes straight to the head waiter when there is one.
//! - **T1** An establishment frees its interrupt slot before its `pending` unit.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use super::state::State;
use super::{Engine, Entry, Permit, Resource};
use crate::event::{CmapEvent, ConnectionClosedReason, ConnectionId};
use crate::manager::Manager;
use crate::sync::{AtomicOps, Backend};

/// Who asked for a connection to be established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A checkout that will use it.
    Checkout,
    /// Background populate to `min_pool_size`; an error clears the pool (CMAP B3).
    Populate,
    /// A checkout that gave up mid-establishment; the connection becomes available.
    Abandoned,
}

impl<M: Manager, B: Backend> Engine<M, B> {
    /// The next connection id (1, 2, …).
    pub(crate) fn next_id(&self) -> ConnectionId {
        let previous = self.next_id.fetch_add(1, Relaxed);
        debug_assert!(previous < ConnectionId::MAX, "connection ids never wrap");
        previous + 1
    }

    /// Starts the establishment `permit` admitted: a new connection id, the
    /// `ConnectionCreated` event, and an interrupt slot for the connection's generation
    /// (T1: there is one, since `pending <= max_connecting`). Returns the id, the creation
    /// time and the slot.
    pub(crate) fn establishing(&self, permit: Permit) -> (ConnectionId, Duration, Option<usize>) {
        let id = self.next_id();
        self.counters.created.fetch_add(1, Relaxed);
        self.emit(|address| CmapEvent::ConnectionCreated {
            address,
            connection_id: id,
        });
        let created = self.now();
        let slot = self.interrupts.acquire(permit.generation);
        debug_assert!(
            slot.is_some(),
            "T1: an admitted establishment always finds an interrupt slot"
        );
        (id, created, slot)
    }

    /// Settles an establishment that succeeded after `duration`: frees its interrupt
    /// `slot` (T1: before the `pending` unit), emits `ConnectionReady`, then either gives
    /// the entry to the checkout that asked (releasing `pending`) or makes it available
    /// (populate, abandoned: CMAP K10). Dispatches (I4).
    pub(crate) fn established(
        &self,
        slot: Option<usize>,
        entry: Entry<M::Connection>,
        origin: Origin,
        duration: Duration,
    ) -> Option<Entry<M::Connection>> {
        debug_assert!(
            slot.is_none_or(|i| i < self.options.max_connecting as usize),
            "T1: an interrupt slot index is below max_connecting"
        );
        if let Some(slot) = slot {
            self.interrupts.release(slot);
        }
        let id = entry.id;
        self.emit(|address| CmapEvent::ConnectionReady {
            address,
            connection_id: id,
            duration,
        });
        match origin {
            Origin::Checkout => {
                self.release_units(State::PENDING_ONE);
                self.dispatch();
                Some(entry)
            }
            Origin::Populate | Origin::Abandoned => {
                // K10: available before the maxConnecting slot frees up, so the freed slot
                // cannot start a creation while this connection sits unused.
                self.make_available_from_pending(entry);
                None
            }
        }
    }

    /// Settles an establishment of connection `id` that failed (or was interrupted, or
    /// dropped): frees its interrupt `slot` (T1), clears the pool first if populate failed
    /// (CMAP B3: `PoolCleared` before `ConnectionClosed`), gives back its `total` and
    /// `pending` units, emits `ConnectionClosed`. Dispatches (I4).
    pub(crate) fn establishment_failed(
        &self,
        slot: Option<usize>,
        id: ConnectionId,
        origin: Origin,
        reason: ConnectionClosedReason,
    ) {
        debug_assert!(
            slot.is_none_or(|i| i < self.options.max_connecting as usize),
            "T1: an interrupt slot index is below max_connecting"
        );
        if let Some(slot) = slot {
            self.interrupts.release(slot);
        }
        if origin == Origin::Populate && reason == ConnectionClosedReason::Error {
            self.clear(false); // CMAP B3: PoolCleared comes before ConnectionClosed.
        }
        self.release_units(State::TOTAL_ONE + State::PENDING_ONE);
        self.counters.count_close(reason);
        self.emit(|address| CmapEvent::ConnectionClosed {
            address,
            connection_id: id,
            reason,
        });
        self.dispatch();
    }

    /// Closes an established connection: `total - 1`, then the event, then the manager.
    /// The caller dispatches (I4).
    #[inline]
    pub(crate) fn close_live(&self, entry: Entry<M::Connection>, reason: ConnectionClosedReason) {
        debug_assert_ne!(
            entry.id, 0,
            "I3: only an established connection is closed live"
        );
        self.close_with_units(entry, reason, State::TOTAL_ONE);
    }

    /// Closes a connection and releases `units` in one step (a just-established
    /// connection still holds its `pending` unit, which must go with its `total`, I2).
    fn close_with_units(
        &self,
        entry: Entry<M::Connection>,
        reason: ConnectionClosedReason,
        units: u64,
    ) {
        debug_assert!(
            units & State::TOTAL_ONE != 0,
            "I3: a closed connection gives back its total unit"
        );
        self.release_units(units);
        self.report_close(entry, reason);
    }

    /// The rest of every close once its units are settled: counts it, reports
    /// `ConnectionClosed` and hands the connection to the manager.
    // The box is the connection's record for its whole life; it is freed here, where
    // that life ends.
    #[allow(clippy::boxed_local)]
    pub(crate) fn report_close(&self, entry: Entry<M::Connection>, reason: ConnectionClosedReason) {
        self.counters.count_close(reason);
        let id = entry.id;
        self.emit(|address| CmapEvent::ConnectionClosed {
            address,
            connection_id: id,
            reason,
        });
        self.manager.close(entry.conn);
    }

    /// Makes an established connection available (check-in, populate, abandoned
    /// establishment), or closes it if it perished meanwhile.
    #[inline(always)]
    pub(crate) fn make_available(&self, mut entry: Entry<M::Connection>) {
        debug_assert!(
            entry.id >= 1,
            "I3: only an established connection is made available"
        );
        // The idle clock restarts now (CMAP I3): time spent in use is not idle time.
        if self.needs_clock {
            entry.idle_since = self.now();
        }
        match self.perished(&entry, self.state()) {
            Some(reason) => self.close_live(entry, reason),
            // Nobody waiting: keep it on this thread's shelf for this thread's next
            // checkout. The dispatch below still hands it to a waiter that queued
            // meanwhile (I4).
            None if self.queue_empty() => {
                if let Err(entry) = self.lane().shelf.put(entry) {
                    self.release(Resource::Idle(entry));
                }
            }
            None => self.hand_off(entry),
        }
        self.dispatch();
    }

    /// Makes a connection that was just established in the background (populate, or an
    /// abandoned checkout) available, releasing its `pending` unit: after it is in `idle`
    /// (CMAP K10), or together with its `total` unit if it perished meanwhile (I2).
    pub(crate) fn make_available_from_pending(&self, mut entry: Entry<M::Connection>) {
        if self.needs_clock {
            entry.idle_since = self.now();
        }
        let s = self.state();
        debug_assert!(
            s.pending() >= 1 && s.pending() <= s.total(),
            "I2: a connection made available from pending still holds its pending unit"
        );
        match self.perished(&entry, s) {
            Some(reason) => {
                self.close_with_units(entry, reason, State::TOTAL_ONE + State::PENDING_ONE)
            }
            None => {
                self.release(Resource::Idle(entry));
                self.release_units(State::PENDING_ONE);
            }
        }
        self.dispatch();
    }

    /// Check-in (CMAP I1–I3): event first, then close or make available.
    #[inline(always)]
    pub(crate) fn check_in(&self, entry: Entry<M::Connection>, errored: bool) {
        debug_assert_ne!(
            entry.id, 0,
            "I3: only an established connection is checked in"
        );
        let id = entry.id;
        self.emit(|address| CmapEvent::ConnectionCheckedIn {
            address,
            connection_id: id,
        });
        if errored {
            return self.check_in_errored(entry);
        }
        self.make_available(entry);
    }

    /// The rest of the check-in of a connection its user marked errored: closed (reason
    /// `error`), unless the pool is closed, where it goes the way every connection of a
    /// closed pool goes (reason `poolClosed`).
    #[cold]
    #[inline(never)]
    fn check_in_errored(&self, entry: Entry<M::Connection>) {
        if self.state().closed() {
            return self.make_available(entry);
        }
        self.close_live(entry, ConnectionClosedReason::Error);
        self.dispatch();
    }

    /// Pops the oldest available connection (maintenance only).
    pub(crate) fn pop_idle(&self) -> Option<Entry<M::Connection>> {
        let entry = self.idle.pop();
        debug_assert!(
            entry.is_none() || self.state().total() >= 1,
            "I3: an idle connection is counted in total"
        );
        entry
    }

    /// Moves every shelved connection to `idle`, so that maintenance sees them all
    /// (maintenance only; the caller dispatches, I4).
    pub(crate) fn unshelve_all(&self) {
        while let Some(entry) = self.lanes.iter().find_map(|l| l.shelf.take()) {
            self.release(Resource::Idle(entry));
        }
        debug_assert!(
            self.idle.len() <= self.total_max as usize,
            "I3: idle holds at most total_max connections"
        );
    }

    /// Puts a connection popped by [`Engine::pop_idle`] back; the caller dispatches (I4).
    pub(crate) fn push_idle(&self, entry: Entry<M::Connection>) {
        debug_assert!(
            self.idle.len() < self.idle.capacity(),
            "I3: idle has room for a connection maintenance popped"
        );
        self.release(Resource::Idle(entry));
    }
}
