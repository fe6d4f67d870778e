//! The pool's lifecycle: paused → ready, clear (a new generation, paused), close.
//!
//! # State machine
//!
//! The state word's flags move `paused → ready` ([`Engine::ready`]), `any → paused` with
//! a new generation ([`Engine::clear`]), and `any → closed` for ever
//! ([`Engine::close`]). Each move is one CAS (or `fetch_or`) on the state word, then the
//! event, then a dispatch that applies it to the queue.
//!
//! Invariants kept here (defined in `engine/mod.rs`):
//!
//! - **I4** Every move dispatches after it is published.
//! - **I7** The dispatch after a clear or a close fails every queued checkout (CMAP L4,
//!   S5); the `debug_assert!`s check the CMAP rules each move must satisfy (L1–L3, S4).

use std::sync::atomic::Ordering::{AcqRel, Acquire};

use super::state::State;
use super::{Engine, Refusal};
use crate::event::CmapEvent;
use crate::manager::Manager;
use crate::sync::{AtomicOps, Backend};

impl<M: Manager, B: Backend> Engine<M, B> {
    /// paused → ready. Returns false (and emits nothing) if already ready or closed.
    pub(crate) fn ready(&self) -> Result<bool, Refusal> {
        let mut current = self.state.load(Acquire);
        loop {
            let s = State(current);
            if s.closed() {
                return Err(Refusal::Closed);
            }
            if !s.paused() {
                return Ok(false);
            }
            let next = s.with_ready();
            debug_assert!(
                !next.paused() && next.generation() == s.generation(),
                "ready unpauses and keeps the generation"
            );
            match self
                .state
                .compare_exchange(current, next.0, AcqRel, Acquire)
            {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        self.emit(|address| CmapEvent::PoolReady { address });
        self.maintenance.notify();
        self.dispatch();
        Ok(true)
    }

    /// Bumps the generation and pauses (CMAP L1–L6). Returns the new generation.
    pub(crate) fn clear(&self, interrupt_in_use_connections: bool) -> u64 {
        let mut current = self.state.load(Acquire);
        let (before, after) = loop {
            let s = State(current);
            if s.closed() {
                return s.generation();
            }
            let next = s.with_cleared();
            match self
                .state
                .compare_exchange(current, next.0, AcqRel, Acquire)
            {
                Ok(_) => break (s, next),
                Err(actual) => current = actual,
            }
        };
        debug_assert!(after.paused(), "L2: a cleared pool is paused");
        debug_assert!(
            after.generation() != before.generation()
                && after.total() == before.total()
                && after.pending() == before.pending(),
            "L1: a clear bumps the generation and moves no count"
        );
        if interrupt_in_use_connections {
            self.interrupt_before
                .fetch_max_compat::<B>(after.generation());
        }
        if !before.paused() {
            self.emit(|address| CmapEvent::PoolCleared {
                address,
                interrupt_in_use_connections,
            });
        }
        if interrupt_in_use_connections {
            self.interrupts.interrupt_except(after.generation());
        }
        self.dispatch(); // L4: fail the waiters now.
        self.maintenance.notify(); // L5: close stale idle connections promptly.
        after.generation()
    }

    /// Closes the pool (CMAP S4). Returns false if it was closed already.
    pub(crate) fn close(&self) -> bool {
        let before = State(self.state.fetch_or(State::CLOSED_BIT, AcqRel));
        debug_assert!(self.state().closed(), "S4: a closed pool stays closed");
        if before.closed() {
            return false;
        }
        self.dispatch(); // closes the available connections, fails the waiters
        self.emit(|address| CmapEvent::PoolClosed { address });
        self.maintenance.notify();
        true
    }
}

/// `fetch_max` for the backends, which only promise the ops in `AtomicOps`.
trait FetchMax {
    fn fetch_max_compat<B: Backend>(&self, v: u64);
}

impl<A: AtomicOps<u64>> FetchMax for A {
    fn fetch_max_compat<B: Backend>(&self, v: u64) {
        let mut current = self.load(Acquire);
        while current < v {
            match self.compare_exchange(current, v, AcqRel, Acquire) {
                Ok(_) => return,
                Err(actual) => {
                    debug_assert!(actual != current, "a failed exchange saw another value");
                    current = actual;
                }
            }
        }
    }
}
