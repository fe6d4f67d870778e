//! A whole checkout, from `ConnectionCheckOutStarted` to the hand-out: the queue-free
//! attempt, the wait, the establishment, and the last generation check.
//!
//! # State machine
//!
//! ```text
//! started ─ own shelf (check_out_now) ─┬─ current, not due ─────────────── checked out
//!                                      └─ otherwise ─ (below, no second start)
//! started ─ try_fast ─┬─ refused ──────────────────────────────────────────┐
//!                     ├─ got a resource ───────────────┐                   │
//!                     └─ queue ─ wait ─┬─ granted ─────┤                   │
//!                                      ├─ refused ─────┼───────────────────┤
//!                                      ├─ timed out ───┼───────────────────┤
//!                                      └─ reclaimed ─ (back to try_fast)   │
//!                     resource ─┬─ idle connection ─┬─ (not due) ─────────┐│
//!                               │                   └─ validate ─┬─ passed ┤
//!                               │    failed: another resource, or queue ─┤ │
//!                               │                                timed out ┤
//!                               └─ permit ─ establish ─┬─ entry ─ recheck ─┼─ checked out
//!                                                      └─ error ───────────┴─ failed
//! ```
//!
//! With `test_on_borrow` ([`validate`](super::validate)), a connection taken from the pool
//! that sat available past `validation_bypass` is validated first; one that fails is
//! closed and the checkout goes on with another resource (or queues again), all within
//! the deadline it started with.
//!
//! The first line is the fast path, [`Engine::check_out_now`]: a plain function, no
//! future, for the steady state of a connection checked in and out again on one thread.
//! Everything else goes through [`Engine::check_out_slow`], whose first step looks at the
//! same shelf again.
//!
//! Every path ends in exactly one of `ConnectionCheckedOut` or `ConnectionCheckOutFailed`
//! ([`Engine::check_out_now`], [`Engine::check_out_slow`], [`Engine::checkout_failed`]).
//!
//! Invariants kept here (defined in `engine/mod.rs`):
//!
//! - **I3** A checkout ends holding exactly one connection or none: a resource it does
//!   not use goes back (the futures' `Drop`, CMAP K11), a stale one is closed.
//! - **I5** A checkout that finds the queue non-empty queues (`try_fast`).
//! - **I6** A connection that waited or was established is compared with the current
//!   generation again just before it is handed out.
//! - **I8** A checkout whose grant was reclaimed starts over with the same deadline.
//! - **V3** (`validate.rs`) A checkout whose connection failed its validation goes on with
//!   the same deadline, and a validated connection is re-checked for I6 too.

use std::sync::Arc;
use std::time::Duration;

use super::futures::{Establish, Wait, Waited};
use super::shelves::Kept;
use super::validate::{Retry, Validated};
use super::{Engine, Entry, Fast, Grant, Origin, Refusal, Resource, WaiterOf};
use crate::error::CheckoutError;
use crate::event::{CmapEvent, ConnectionCheckOutFailedReason};
use crate::manager::Manager;
use crate::sync::{Backend, CounterExt};

impl<M: Manager, B: Backend> Engine<M, B> {
    /// A checkout's start and its fast path, with no future: reports
    /// `ConnectionCheckOutStarted`, then takes the connection on the calling thread's own
    /// shelf if nobody is queued and it is current and not due for validation, and
    /// reports `ConnectionCheckedOut` with a zero wait. `None` leaves the checkout to
    /// [`Engine::check_out_slow`], which every other case goes through (the body of
    /// `Pool::check_out` is one then the other).
    ///
    /// It is the common case of a pool in steady use, a connection checked in and out
    /// again on the same thread, and it is [`Engine::try_fast`]'s first step on its own,
    /// so it keeps what that step keeps: I5 (it never takes while the queue is not
    /// empty) and I6 (the connection is compared with the state loaded after the shelf
    /// was taken, as it leaves).
    #[inline(always)]
    pub(crate) fn check_out_now(&self) -> Option<Entry<M::Connection>> {
        self.emit(|address| CmapEvent::ConnectionCheckOutStarted { address });
        if !self.queue_empty() {
            return None; // I5
        }
        let taken = self.lane().shelf.take_kept(|entry| {
            let s = self.state();
            !s.paused() && self.perished(entry, s).is_none() && !self.due_for_validation(entry)
        });
        match taken {
            Kept::Taken(entry) => {
                // Counted on its shelf (`take_kept`); the fast path reads no clock.
                let id = entry.id;
                self.emit(|address| CmapEvent::ConnectionCheckedOut {
                    address,
                    connection_id: id,
                    duration: Duration::ZERO,
                });
                Some(entry)
            }
            Kept::Left => {
                // I4: leaving the connection on the shelf published it again.
                self.dispatch();
                None
            }
            Kept::Nothing => None,
        }
    }

    /// The rest of a checkout [`Engine::check_out_now`] did not serve (it reported
    /// `ConnectionCheckOutStarted`): an available connection if there is one, else a new
    /// one if the limits allow, else a wait in FIFO order.
    pub(crate) async fn check_out_slow(
        self: &Arc<Self>,
    ) -> Result<Entry<M::Connection>, CheckoutError<M::Error>> {
        // The fast path reads no clock: a checkout served at once reports a zero wait,
        // and its clock (and deadline) start when it first leaves the fast path.
        let mut clock = Clock {
            started: Duration::ZERO,
            slow: false,
        };
        // I6 compares a connection with the generation when it leaves `idle` and again
        // before its user gets it; with no await in between (the fast path) that is the
        // same moment, so only a resource that waited or was established is checked again.
        let mut recheck = true;
        let mut counted;
        // A resource a failed validation left this checkout to go on with (V3).
        let mut next: Option<Resource<M::Connection>> = None;
        // A retry queued ahead of the later checkouts after a failed validation (V3).
        let mut queued = None;
        loop {
            let resource = match next.take() {
                Some(resource) => {
                    counted = false;
                    resource
                }
                // The queue-free attempt inline (unless a retry is queued), so the fast
                // path never enters `acquire`.
                None => match queued.take() {
                    None => match self.try_fast() {
                        Fast::Got(resource, shelf_counted) => {
                            recheck = false;
                            counted = shelf_counted;
                            resource
                        }
                        first => {
                            let (resource, fast, shelf_counted) =
                                self.acquire(Attempt::Tried(first), &mut clock).await?;
                            recheck = !fast;
                            counted = shelf_counted;
                            resource
                        }
                    },
                    Some(waiter) => {
                        let (resource, fast, shelf_counted) =
                            self.acquire(Attempt::Queued(waiter), &mut clock).await?;
                        recheck = !fast;
                        counted = shelf_counted;
                        resource
                    }
                },
            };
            debug_assert!(
                !counted || matches!(resource, Resource::Idle(_)),
                "only a shelved connection is counted before it is handed out"
            );
            let entry = match resource {
                // A connection counted on its shelf was judged not due there (`try_fast`).
                // One that perished while it waited (a clear since its grant) is not worth
                // a round trip: the I6 re-check below closes it and fails the checkout now.
                Resource::Idle(entry)
                    if !counted
                        && self.due_for_validation(&entry)
                        && self.perished(&entry, self.state()).is_none() =>
                {
                    recheck = true;
                    clock.leave_fast_path(self);
                    let started = clock.started;
                    let deadline = self.deadline(started);
                    match self.validate(entry, deadline).await {
                        Validated::Passed(entry) => entry,
                        Validated::Failed(entry) => {
                            match self.after_failed_validation(entry) {
                                Retry::Resource(resource) => next = Some(resource),
                                Retry::Queued(waiter) => queued = Some(waiter),
                                Retry::Queue => {}
                                Retry::Refused(refusal) => {
                                    return Err(self.checkout_failed(started, refusal.into_error()))
                                }
                            }
                            // V3: the checkout goes on within its original deadline.
                            if deadline.is_some_and(|d| self.now() >= d) {
                                if let Some(resource) = next.take() {
                                    self.release(resource);
                                    self.dispatch(); // I4
                                }
                                if let Some(waiter) = queued.take() {
                                    drop(Wait::new(self, waiter, None)); // leaves the queue
                                }
                                return Err(self.timed_out(started));
                            }
                            continue;
                        }
                        Validated::TimedOut => return Err(self.timed_out(started)),
                    }
                }
                Resource::Idle(entry) => entry,
                Resource::Create(permit) => {
                    recheck = true;
                    clock.leave_fast_path(self);
                    match Establish::new(self.clone(), permit, Origin::Checkout).await {
                        // A checkout's establishment always yields its entry.
                        Ok(Some(entry)) => entry,
                        Ok(None) => unreachable!("Origin::Checkout returns the connection"),
                        Err(error) => return Err(self.checkout_failed(clock.started, error)),
                    }
                }
            };
            // I6: a clear may have happened since the connection left `idle`.
            let entry = if recheck {
                self.recheck_generation(entry, clock.started)?
            } else {
                entry
            };
            return Ok(self.hand_out(entry, counted, clock));
        }
    }

    /// A resource for a checkout past its first step (`first`: the queue-free attempt's
    /// answer, or a retry already queued): that attempt's resource, else a wait in the
    /// queue until `deadline`, and a new attempt after a reclaimed grant.
    /// `Ok((resource, fast, counted))`: `fast` if it came from a queue-free attempt (no
    /// await since it left `idle`), `counted` if its shelf already counted the checkout.
    async fn acquire(
        &self,
        first: Attempt<M, B>,
        clock: &mut Clock,
    ) -> Result<(Resource<M::Connection>, bool, bool), CheckoutError<M::Error>> {
        let mut attempt = first;
        loop {
            let fast = match attempt {
                Attempt::Queued(waiter) => {
                    clock.leave_fast_path(self);
                    match self.wait(clock.started, waiter).await? {
                        Some(resource) => return Ok((resource, false, false)),
                        None => self.try_fast(),
                    }
                }
                Attempt::Tried(fast) => fast,
            };
            match fast {
                Fast::Got(resource, shelf_counted) => return Ok((resource, true, shelf_counted)),
                Fast::Refused(refusal) => {
                    clock.leave_fast_path(self);
                    return Err(self.checkout_failed(clock.started, refusal.into_error()));
                }
                Fast::Queue => {}
            }
            clock.leave_fast_path(self);
            let started = clock.started;
            let Ok(waiter) = self.enqueue() else {
                return Err(self.checkout_failed(
                    started,
                    CheckoutError::WaitQueueFull {
                        limit: self.options.waiters_max,
                    },
                ));
            };
            match self.wait(started, waiter).await? {
                Some(resource) => return Ok((resource, false, false)),
                None => attempt = Attempt::Tried(self.try_fast()),
            }
        }
    }

    /// Waits in the queue until `deadline`: the resource granted, or `None` if the grant
    /// was reclaimed and the checkout must start over (I8: same deadline).
    async fn wait(
        &self,
        started: Duration,
        waiter: Arc<WaiterOf<M, B>>,
    ) -> Result<Option<Resource<M::Connection>>, CheckoutError<M::Error>> {
        match Wait::new(self, waiter, self.deadline(started)).await {
            Waited::Granted(Grant::Ready(resource)) => Ok(Some(self.prefer_idle(resource))),
            Waited::Granted(Grant::Refused(refusal)) => {
                Err(self.checkout_failed(started, refusal.into_error()))
            }
            Waited::TimedOut => Err(self.timed_out(started)),
            // I8: this checkout was not polled in time and its grant went to the next
            // waiter; start over (same deadline).
            Waited::Reclaimed => Ok(None),
        }
    }

    /// The deadline of a checkout whose clock started at `started` (`waitQueueTimeoutMS`).
    #[inline]
    fn deadline(&self, started: Duration) -> Option<Duration> {
        self.options.wait_queue_timeout.map(|t| started + t)
    }

    /// Fails a checkout whose deadline passed.
    fn timed_out(&self, started: Duration) -> CheckoutError<M::Error> {
        let waited = self.now().saturating_sub(started);
        self.checkout_failed(started, CheckoutError::Timeout { waited })
    }

    /// I6 at the hand-out: a connection that waited or was established is closed, and
    /// the checkout fails, if a clear (or close) came since it left `idle`.
    #[inline]
    fn recheck_generation(
        &self,
        entry: Entry<M::Connection>,
        started: Duration,
    ) -> Result<Entry<M::Connection>, CheckoutError<M::Error>> {
        let Some(reason) = self.perished(&entry, self.state()) else {
            return Ok(entry);
        };
        let generation = self.state().generation();
        self.close_live(entry, reason);
        self.dispatch();
        let error = if self.state().closed() {
            CheckoutError::PoolClosed
        } else {
            CheckoutError::PoolCleared { generation }
        };
        Err(self.checkout_failed(started, error))
    }

    /// Counts the checkout (unless its shelf already did), records its wait if it left
    /// the fast path, and reports `ConnectionCheckedOut`.
    #[inline]
    fn hand_out(
        &self,
        entry: Entry<M::Connection>,
        counted: bool,
        clock: Clock,
    ) -> Entry<M::Connection> {
        if !counted {
            self.counters.checked_out.fetch_add_relaxed();
        }
        // One clock read serves both the histogram and the event; the fast path reads none.
        let waited = if clock.slow {
            let waited = self.now().saturating_sub(clock.started);
            self.lane().wait.record(waited);
            waited
        } else {
            Duration::ZERO
        };
        let id = entry.id;
        self.emit(|address| CmapEvent::ConnectionCheckedOut {
            address,
            connection_id: id,
            duration: waited,
        });
        entry
    }

    /// Counts and reports a failed checkout (`ConnectionCheckOutFailed`), and passes its
    /// error on.
    pub(crate) fn checkout_failed(
        &self,
        started: Duration,
        error: CheckoutError<M::Error>,
    ) -> CheckoutError<M::Error> {
        debug_assert!(
            started <= self.now(),
            "the runtime's clock never runs backwards"
        );
        self.counters.checkout_failed.fetch_add_relaxed();
        let reason = error.reason();
        if reason == ConnectionCheckOutFailedReason::Timeout {
            self.counters.timeouts.fetch_add_relaxed();
        }
        self.emit(|address| CmapEvent::ConnectionCheckOutFailed {
            address,
            reason,
            duration: self.now().saturating_sub(started),
        });
        error
    }
}

/// Where `acquire` starts: from a queue-free attempt's answer, or with a retry already
/// queued ahead of later checkouts (V3).
enum Attempt<M: Manager, B: Backend> {
    Tried(Fast<M::Connection>),
    Queued(Arc<WaiterOf<M, B>>),
}

/// A checkout's clock: when it started, and whether it left the fast path (it queued,
/// established or validated), which are the checkouts `wait_times` records.
///
/// The clock is read when the checkout first leaves the fast path, never on it: a checkout
/// served at once waited for no measurable time and reports a zero wait, and one that
/// waits is timed (and its `waitQueueTimeoutMS` deadline counted) from the moment its
/// queue-free attempt failed, a few instructions after `ConnectionCheckOutStarted`.
#[derive(Debug, Clone, Copy)]
struct Clock {
    /// When the checkout left the fast path (zero until then).
    started: Duration,
    slow: bool,
}

impl Clock {
    /// Notes that the checkout left the fast path, reading the clock if it is the first
    /// time.
    #[inline]
    fn leave_fast_path<M: Manager, B: Backend>(&mut self, engine: &Engine<M, B>) {
        if !self.slow {
            self.slow = true;
            self.started = engine.now();
        }
    }
}

impl Refusal {
    /// The error a checkout the pool refused fails with.
    pub(crate) fn into_error<E: std::error::Error + 'static>(self) -> CheckoutError<E> {
        match self {
            Refusal::Closed => CheckoutError::PoolClosed,
            Refusal::Cleared { generation } => CheckoutError::PoolCleared { generation },
        }
    }
}
