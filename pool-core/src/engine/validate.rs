//! Test-on-borrow: validating a connection at checkout
//! ([`PoolOptions::test_on_borrow`](crate::PoolOptions::test_on_borrow)), and what a
//! checkout does after a connection fails its validation.
//!
//! # State machine
//!
//! A checkout handed a connection from the pool (its shelf, `idle`, another shelf, or a
//! grant, never one it established) that sat available for longer than
//! `validation_bypass` validates it before the hand-out ([`Engine::validate`]):
//!
//! ```text
//!            deadline already passed ─ back to the pool (no event) ───────── timed out
//! taken ─┬─ ConnectionValidating ─ check ─┬─ Ok ── ConnectionValidated ────── passed
//!        │                                ├─ Err ─ ConnectionClosed(error) ─ failed ─ retry
//!        │                                ├─ deadline ─ ConnectionClosed(error) ─ timed out
//!        │                                └─ dropped ── ConnectionClosed(error) (the guard)
//! ```
//!
//! While the check runs the connection is held by a [`Validation`] guard: it is neither
//! available nor in use, and still counted in `total`. A checkout whose connection failed
//! goes on with its turn ([`Engine::after_failed_validation`]): it takes another available
//! connection, or turns the failed connection's `total` unit into a creation permit, and
//! only when neither is possible gives the unit back and queues again — in `retries`, a
//! second ring that dispatch serves before `waiters`, so checkouts that came later do
//! not overtake it.
//!
//! Invariants (`VAL-1` … `VAL-3` in `INVARIANTS.md`; `I3`, `I4`, `I5` are the engine's):
//!
//! - **V1** (I3) The connection under validation has exactly one owner, the guard, from
//!   `ConnectionValidating` until the guard is disarmed (pass, failure or timeout, all
//!   synchronous from there on) or dropped (the checkout was dropped mid-check). A dropped
//!   guard closes the connection (reason `Error`: its wire state is unknown) and releases
//!   its `total` unit; the manager's check future, which borrows the connection, is
//!   dropped before the guard.
//! - **V2** (I4) Every path that gives back or releases something here dispatches:
//!   the guard's `Drop`, a failure, a timeout, and a connection put back unvalidated.
//! - **V3** The check never outlives the checkout's deadline (`wait_queue_timeout` from the
//!   checkout's start): it races a timer at that deadline, and a check whose deadline has
//!   already passed is not started (the connection goes back to the pool unvalidated).
//!   A checkout whose connection failed keeps its place (I5): it takes what is there
//!   without looking at the queue, since it was already served in turn, and when nothing
//!   is, it queues in `retries` (served first) before it gives its unit back.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use super::state::State;
use super::{Engine, Entry, Permit, Refusal, Resource, WaiterOf};
use crate::event::{CmapEvent, ConnectionClosedReason};
use crate::manager::Manager;
use crate::sync::{AtomicOps, Backend};

/// How a validation ends.
pub(crate) enum Validated<C> {
    /// The check passed: the connection may be handed out (after the I6 re-check).
    Passed(Entry<C>),
    /// The check failed; the connection, still counted in `total`, is for
    /// [`Engine::after_failed_validation`] to close.
    Failed(Entry<C>),
    /// The deadline passed before or during the check (the connection is back in the pool
    /// or closed).
    TimedOut,
}

/// What a checkout whose connection failed its validation goes on with.
pub(crate) enum Retry<M: Manager, B: Backend> {
    /// Another connection, or a permit to establish one.
    Resource(Resource<M::Connection>),
    /// Nothing at hand: queued again, ahead of the checkouts that came later (V3).
    Queued(Arc<WaiterOf<M, B>>),
    /// Nothing at hand and no room ahead: queue again at the tail.
    Queue,
    /// The pool was closed or cleared meanwhile.
    Refused(Refusal),
}

/// Owns the connection being validated (V1): closes it if the check is abandoned.
pub(crate) struct Validation<'a, M: Manager, B: Backend> {
    engine: &'a Engine<M, B>,
    /// `Some` until the check ends.
    entry: Option<Entry<M::Connection>>,
}

impl<M: Manager, B: Backend> Validation<'_, M, B> {
    /// Takes the connection out: the check ended and the caller decides.
    fn disarm(&mut self) -> Option<Entry<M::Connection>> {
        self.entry.take()
    }
}

impl<M: Manager, B: Backend> Drop for Validation<'_, M, B> {
    fn drop(&mut self) {
        // V1: the checkout was dropped mid-check; the connection's wire state is unknown.
        if let Some(entry) = self.entry.take() {
            self.engine.close_live(entry, ConnectionClosedReason::Error);
            self.engine.dispatch(); // V2 (I4)
        }
    }
}

impl<M: Manager, B: Backend> Engine<M, B> {
    /// True if `entry`, taken from the pool, must be validated before it is handed out:
    /// test-on-borrow is on and it was available for longer than `validation_bypass` (a
    /// zero window validates every one).
    #[inline]
    pub(crate) fn due_for_validation(&self, entry: &Entry<M::Connection>) -> bool {
        if !self.options.test_on_borrow {
            return false;
        }
        let bypass = self.options.validation_bypass;
        bypass.is_zero() || self.now().saturating_sub(entry.idle_since) > bypass
    }

    /// Validates `entry` for a checkout whose deadline is `deadline` (see the module docs).
    pub(crate) async fn validate(
        &self,
        entry: Entry<M::Connection>,
        deadline: Option<Duration>,
    ) -> Validated<M::Connection> {
        if deadline.is_some_and(|d| self.now() >= d) {
            // V3: no time left to check it; it was fine when it went to the pool.
            self.release(Resource::Idle(entry));
            self.dispatch(); // V2 (I4)
            return Validated::TimedOut;
        }
        let id = entry.id;
        self.emit(|address| CmapEvent::ConnectionValidating {
            address,
            connection_id: id,
        });
        let mut guard = Validation {
            engine: self,
            entry: Some(entry),
        };
        let outcome = match guard.entry.as_mut() {
            Some(held) => {
                // Declared after the guard, so dropped before it (V1).
                let mut check = pin!(self.manager.validate(&mut held.conn));
                let mut timer = deadline.map(|d| self.runtime.sleep_until(d));
                poll_fn(|cx| {
                    if let Poll::Ready(result) = check.as_mut().poll(cx) {
                        return Poll::Ready(Some(result));
                    }
                    let expired = timer
                        .as_mut()
                        .is_some_and(|timer| timer.as_mut().poll(cx).is_ready());
                    if expired {
                        Poll::Ready(None)
                    } else {
                        Poll::Pending
                    }
                })
                .await
            }
            None => None,
        };
        let Some(entry) = guard.disarm() else {
            return Validated::TimedOut;
        };
        match outcome {
            Some(Ok(())) => {
                // Just checked: not idle any more (the I6 re-check that follows must not
                // close it as idle for the time it sat before the check).
                let mut entry = entry;
                entry.idle_since = self.now();
                self.emit(|address| CmapEvent::ConnectionValidated {
                    address,
                    connection_id: id,
                });
                Validated::Passed(entry)
            }
            Some(Err(error)) => {
                tracing::debug!(
                    pool = %self.address,
                    connection_id = id,
                    %error,
                    "connection failed its validation at checkout; closing it"
                );
                Validated::Failed(entry)
            }
            None => {
                // V3: the deadline passed mid-check; the wire state is unknown.
                self.close_live(entry, ConnectionClosedReason::Error);
                self.dispatch(); // V2 (I4)
                Validated::TimedOut
            }
        }
    }

    /// Closes `entry`, which failed its validation (reason `Error`), and finds what its
    /// checkout goes on with (V3, I5): another available connection, else a creation under
    /// the closed connection's `total` unit, else the queue. Dispatches (V2).
    pub(crate) fn after_failed_validation(&self, entry: Entry<M::Connection>) -> Retry<M, B> {
        let s = self.state();
        if s.closed() || s.paused() {
            self.close_live(entry, ConnectionClosedReason::Error);
            self.dispatch();
            return if s.closed() {
                Retry::Refused(Refusal::Closed)
            } else {
                Retry::Refused(Refusal::Cleared {
                    generation: s.generation(),
                })
            };
        }
        if let Some(other) = self.take_available() {
            self.close_live(entry, ConnectionClosedReason::Error);
            self.dispatch();
            return Retry::Resource(Resource::Idle(other));
        }
        match self.reuse_unit() {
            Some(permit) => {
                // The unit stays counted: close the connection without releasing it.
                self.close_keeping_unit(entry);
                self.dispatch(); // perished connections may have been closed above
                Retry::Resource(Resource::Create(permit))
            }
            None => {
                // Queued before the unit goes, so the dispatch that follows (or the next
                // one, once `max_connecting` allows) serves this checkout first (I5).
                let queued = self.enqueue_retry();
                self.close_live(entry, ConnectionClosedReason::Error);
                self.dispatch(); // V2 (I4), after both the push and the release
                match queued {
                    Some(waiter) => Retry::Queued(waiter),
                    None => Retry::Queue,
                }
            }
        }
    }

    /// Queues a checkout whose connection failed its validation ahead of `waiters`
    /// (without dispatching: the caller does, I4). `None` if the retry ring is full.
    fn enqueue_retry(&self) -> Option<Arc<WaiterOf<M, B>>> {
        let waiter = self.lane().take_spare();
        if self.retries.push(waiter.clone()).is_err() {
            return None;
        }
        self.lane().queued.fetch_add(1, Relaxed);
        Some(waiter)
    }

    /// True if no checkout is queued, in `retries` or `waiters` (I5). `retries` is looked
    /// at only with `test_on_borrow`, so a pool without it pays one branch.
    #[inline(always)]
    pub(crate) fn queue_empty(&self) -> bool {
        self.waiters.is_empty() && (!self.options.test_on_borrow || self.retries.is_empty())
    }

    /// The head of the queue: a retrying checkout first (V3), then the oldest waiter.
    #[inline(always)]
    pub(crate) fn pop_waiter(&self) -> Option<Arc<WaiterOf<M, B>>> {
        if self.options.test_on_borrow {
            if let Some(waiter) = self.retries.pop() {
                return Some(waiter);
            }
        }
        self.waiters.pop()
    }

    /// Turns one `total` unit the caller holds into a creation permit by taking a
    /// `pending` unit, if the pool is ready and `max_connecting` allows (I2).
    fn reuse_unit(&self) -> Option<Permit> {
        self.take_permit(|s| {
            if s.paused() || s.closed() || s.pending() >= self.options.max_connecting {
                return None;
            }
            debug_assert!(
                s.pending() < s.total(),
                "I2, I3: the caller holds a total unit that is not pending"
            );
            Some(State(s.0 + State::PENDING_ONE))
        })
    }

    /// Closes a connection whose `total` unit now backs a creation permit: the count, the
    /// event and the manager, but no unit released (I3: the unit changed hands).
    fn close_keeping_unit(&self, entry: Entry<M::Connection>) {
        self.report_close(entry, ConnectionClosedReason::Error);
    }
}
