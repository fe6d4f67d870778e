//! The zoo's skeleton: a small, *correct* mutex-and-queue pool in the style of the Go
//! driver and MongoBouncer (one async mutex around the counts, an idle list and a FIFO
//! queue of waiter slots that connections are handed to), written so that each zoo
//! member changes exactly one of its steps (a [`Variant`] method).
//!
//! Left unchanged ([`Baseline`]) it is clean in every scenario, zombies included: a
//! grant that nobody claims within [`CLAIM_BOUND`] is taken back and passed on. It has
//! no background work (no minPoolSize, no idle pruning).
//!
//! Side effects of a critical section (events, connections to drop, grants to watch)
//! are gathered in [`Fx`] and carried out after the lock is released, in that order, so
//! events never run under the lock and a `ConnectionClosed` always precedes the drop of
//! its connection.

//! Files: `mod.rs` (the types, the [`Variant`] hooks, the pool handle), `steps.rs` (the
//! correct steps the hooks default to), `slot.rs` (waiter slots), `checkout.rs` (the
//! checkout, establishment and lease machinery).

mod checkout;
mod slot;
mod steps;

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use pool_core::runtime::BoxFuture;
use pool_core::{ConnectionClosedReason, ConnectionId};

use crate::executor::TaskKind;
use crate::manager::SimConnection;
use crate::pool_under_test::{
    Capabilities, CheckoutFailure, Lease, PoolEvent, PoolParams, PoolStatus, PoolUnderTest,
};
use crate::rng::Rng;
use crate::sync::Mutex;

pub(crate) use self::slot::{requeue, Slot, SlotWait, Turn};
pub(crate) use self::steps::{check_in, dispatch, enqueue, fast_path, take_idle, undo};

/// How long a grant may sit unclaimed before the pool takes it back.
pub(crate) const CLAIM_BOUND: Duration = Duration::from_millis(1);

/// A connection with its bookkeeping.
pub(crate) struct Entry {
    /// Boxed: a connection is large and entries move through queues and grants.
    pub(crate) conn: Box<SimConnection>,
    pub(crate) id: ConnectionId,
    pub(crate) generation: u64,
}

/// What a waiter (or a checkout's fast path) is given.
pub(crate) enum Grant {
    /// An established connection (already counted in `in_use`).
    Conn(Entry),
    /// A permit to create one (already counted in `total` and `pending`).
    Create { generation: u64 },
    /// Nothing: try again from the top.
    Retry,
    /// A failure.
    Fail(CheckoutFailure),
}

/// The pool's state, behind the async mutex.
pub(crate) struct State {
    pub(crate) idle: VecDeque<Entry>,
    pub(crate) waiters: VecDeque<Arc<Slot>>,
    pub(crate) total: u32,
    pub(crate) pending: u32,
    pub(crate) in_use: u32,
    pub(crate) generation: u64,
    pub(crate) paused: bool,
    pub(crate) closed: bool,
    pub(crate) max_total: u32,
    pub(crate) max_connecting: u32,
}

impl State {
    /// True if a creation may start now.
    pub(crate) fn can_admit(&self) -> bool {
        !self.paused
            && !self.closed
            && self.total < self.max_total
            && self.pending < self.max_connecting
    }

    /// Takes a creation permit.
    pub(crate) fn admit(&mut self) -> Grant {
        self.total += 1;
        self.pending += 1;
        Grant::Create {
            generation: self.generation,
        }
    }

    /// True if a live (not cancelled) waiter is queued.
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.iter().any(|s| !s.is_cancelled())
    }
}

// ===== side effects =====

/// What a critical section leaves to do after unlocking.
#[derive(Default)]
pub(crate) struct Fx {
    events: Vec<PoolEvent>,
    dropped: Vec<Entry>,
    granted: Vec<Arc<Slot>>,
    woken: Vec<Arc<Slot>>,
}

impl Fx {
    pub(crate) fn event(&mut self, event: PoolEvent) {
        self.events.push(event);
    }

    /// Closes `entry`: one less in `total`, the event now, the drop after unlocking.
    pub(crate) fn close(&mut self, st: &mut State, entry: Entry, reason: ConnectionClosedReason) {
        st.total -= 1;
        self.events.push(PoolEvent::ConnectionClosed {
            id: entry.id,
            reason,
        });
        self.dropped.push(entry);
    }

    /// `slot` was granted something: watch that it is claimed.
    pub(crate) fn granted(&mut self, slot: Arc<Slot>) {
        self.granted.push(slot);
    }

    /// Wakes `slot` to retry, after a thread's wake-up latency (notify-style pools).
    pub(crate) fn wake_later(&mut self, slot: Arc<Slot>) {
        self.woken.push(slot);
    }
}

// ===== the variant hooks =====

/// The result of a checkout's first attempt.
pub(crate) enum Fast {
    /// Served (or failed) at once.
    Grant(Grant),
    /// Queued in this slot.
    Queued(Arc<Slot>),
}

/// What to do after an establishment failed.
pub(crate) enum AfterConnectError {
    /// Fail the checkout with the error.
    Fail,
    /// Queue the checkout again (the error is lost).
    Requeue,
}

/// The steps a zoo member may replace. Every default is the correct step.
pub(crate) trait Variant: Send + Sync + Sized + 'static {
    /// A checkout's first attempt: take an idle connection or a creation permit, or
    /// queue (and dispatch).
    fn try_fast(shared: &Arc<Shared<Self>>) -> impl Future<Output = Fast> + Send {
        steps::try_fast(shared.clone())
    }

    /// Hands idle connections and creation permits to queued waiters, oldest first.
    fn dispatch(&self, st: &mut State, fx: &mut Fx) {
        dispatch(self, st, fx);
    }

    /// A waiter's deadline passed: leave the queue, keeping a grant that raced in.
    fn on_wait_timeout(&self, slot: &Slot) -> Option<Grant> {
        slot.cancel()
    }

    /// How long an establishment may take, given the caller's remaining time.
    fn connect_budget(&self, remaining: Duration, connect_timeout: Option<Duration>) -> Duration {
        connect_timeout.map_or(remaining, |t| t.min(remaining))
    }

    /// What a failed establishment does to its checkout.
    fn on_connect_error(&self) -> AfterConnectError {
        AfterConnectError::Fail
    }

    /// What a checkout does with an idle connection it was handed, before it becomes the
    /// checkout's (the correct pool: takes it as it is). `deadline` and `turn` (its place
    /// in the order checkouts started) are the checkout's.
    fn accept(
        shared: &Arc<Shared<Self>>,
        entry: Entry,
        deadline: Duration,
        turn: Turn,
    ) -> impl Future<Output = Grant> + Send {
        let _ = (shared, deadline, turn);
        std::future::ready(Grant::Conn(entry))
    }

    /// What a failed establishment does to the pool, under the lock, before the pool
    /// dispatches (the correct pool: nothing; it clears only when asked).
    fn on_connect_failed(_shared: &Arc<Shared<Self>>, _st: &mut State, _fx: &mut Fx) {}

    /// How long a grant may wait to be claimed (`None`: for ever).
    fn claim_bound(&self) -> Option<Duration> {
        Some(CLAIM_BOUND)
    }

    /// True if a connection of `generation` may not be handed out any more.
    fn is_stale(&self, generation: u64, current: u64) -> bool {
        generation != current
    }

    /// True if a connection handed over through the queue is checked again (closed,
    /// stale) when its checkout claims it: a clear may land between grant and claim.
    fn recheck_handoff(&self) -> bool {
        true
    }

    /// Takes a connection back.
    fn check_in(
        shared: &Arc<Shared<Self>>,
        entry: Entry,
        errored: bool,
    ) -> impl Future<Output = ()> + Send {
        steps::check_in(shared.clone(), entry, errored)
    }
}

/// The correct pool.
pub(crate) struct Baseline;

impl Variant for Baseline {}

// ===== the shared pool =====

/// Everything a pool built on the skeleton shares.
pub(crate) struct Shared<V> {
    pub(crate) params: PoolParams,
    pub(crate) state: Mutex<State>,
    pub(crate) variant: V,
    next_id: AtomicU64,
    /// The next checkout's [`Turn`].
    next_turn: AtomicU64,
    rng: StdMutex<Rng>,
}

impl<V: Variant> Shared<V> {
    pub(crate) fn emit(&self, event: PoolEvent) {
        self.params.sink.emit(event);
    }

    pub(crate) fn now(&self) -> Duration {
        self.params.runtime.now()
    }

    /// Reports `CheckOutStarted` and gives the checkout its turn, in one step (no await
    /// between), so turns follow the order of the events.
    pub(crate) fn start_checkout(&self) -> Turn {
        self.emit(PoolEvent::CheckOutStarted);
        self.next_turn.fetch_add(1, Ordering::Relaxed)
    }

    /// Carries out `fx`: events, then drops, then claim watches.
    pub(crate) fn flush(self: &Arc<Self>, fx: Fx) {
        for event in fx.events {
            self.emit(event);
        }
        drop(fx.dropped);
        for slot in fx.woken {
            let shared = self.clone();
            self.params.runtime.spawn_task(
                TaskKind::Pool,
                Box::pin(async move {
                    shared.preempt(Duration::from_micros(500)).await;
                    let _ = slot.deliver(Grant::Retry);
                }),
            );
        }
        let Some(bound) = self.variant.claim_bound() else {
            return;
        };
        for slot in fx.granted {
            let shared = self.clone();
            self.params.runtime.spawn_task(
                TaskKind::Pool,
                Box::pin(async move {
                    shared.params.runtime.sleep(bound).await;
                    if let Some(grant) = slot.reclaim() {
                        steps::give_back(shared, grant).await;
                    }
                }),
            );
        }
    }

    /// A preemption point: the task is descheduled for up to `max` (a real thread could
    /// be preempted between two critical sections; in virtual time that takes time).
    pub(crate) async fn preempt(&self, max: Duration) {
        let pause = {
            let mut rng = self
                .rng
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            rng.duration(Duration::from_micros(1), max)
        };
        self.params.runtime.sleep(pause).await;
    }

    fn next_id(&self) -> ConnectionId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Clears under the lock: new generation, paused, stale idle connections closed, waiters
/// failed.
pub(crate) fn clear_locked<V: Variant>(v: &V, st: &mut State, fx: &mut Fx, interrupt: bool) {
    st.generation += 1;
    if !st.paused {
        st.paused = true;
        fx.event(PoolEvent::PoolCleared { interrupt });
    }
    let idle = std::mem::take(&mut st.idle);
    for entry in idle {
        if v.is_stale(entry.generation, st.generation) {
            fx.close(st, entry, ConnectionClosedReason::Stale);
        } else {
            st.idle.push_back(entry);
        }
    }
    v.dispatch(st, fx);
}

/// Marks the pool ready under the lock (if it is paused and open).
pub(crate) fn ready_locked<V: Variant>(v: &V, st: &mut State, fx: &mut Fx) {
    if st.paused && !st.closed {
        st.paused = false;
        fx.event(PoolEvent::PoolReady);
        v.dispatch(st, fx);
    }
}

// ===== the pool handle =====

/// A pool built on the skeleton with variant `V`.
pub(crate) struct Skeleton<V: Variant> {
    shared: Arc<Shared<V>>,
}

/// Builds a skeleton pool with `variant`, ready at once.
pub(crate) fn build<V: Variant>(
    params: PoolParams,
    variant: V,
) -> Result<Arc<dyn PoolUnderTest>, String> {
    params.options.validate().map_err(|e| e.to_string())?;
    let seed = params.options.max_pool_size as u64;
    let state = State {
        idle: VecDeque::new(),
        waiters: VecDeque::new(),
        total: 0,
        pending: 0,
        in_use: 0,
        generation: 0,
        paused: false,
        closed: false,
        max_total: params.options.total_max(),
        max_connecting: params.options.max_connecting,
    };
    params.sink.emit(PoolEvent::PoolReady);
    Ok(Arc::new(Skeleton {
        shared: Arc::new(Shared {
            params,
            state: Mutex::new(state),
            variant,
            next_id: AtomicU64::new(0),
            next_turn: AtomicU64::new(0),
            rng: StdMutex::new(Rng::new(seed)),
        }),
    }))
}

impl<V: Variant> Skeleton<V> {
    /// Runs `f` under the lock in a task of its own (the trait's methods are sync).
    fn locked(&self, f: impl FnOnce(&V, &mut State, &mut Fx) + Send + 'static) {
        let shared = self.shared.clone();
        self.shared.params.runtime.spawn_task(
            TaskKind::Pool,
            Box::pin(async move {
                let mut fx = Fx::default();
                let mut st = shared.state.lock().await;
                f(&shared.variant, &mut st, &mut fx);
                drop(st);
                shared.flush(fx);
            }),
        );
    }
}

impl<V: Variant> PoolUnderTest for Skeleton<V> {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        Box::pin(checkout::check_out(self.shared.clone(), deadline))
    }

    fn clear(&self, interrupt_in_use: bool) {
        self.locked(move |v, st, fx| clear_locked(v, st, fx, interrupt_in_use));
    }

    fn ready(&self) {
        self.locked(ready_locked);
    }

    fn close(&self) {
        self.locked(|v, st, fx| {
            if st.closed {
                return;
            }
            st.closed = true;
            v.dispatch(st, fx);
            fx.event(PoolEvent::PoolClosed);
        });
    }

    fn status(&self) -> Option<PoolStatus> {
        let st = self.shared.state.try_lock()?;
        Some(PoolStatus {
            total: st.total,
            available: st.idle.len() as u32,
            pending: st.pending,
            in_use: st.in_use,
            paused: st.paused,
            closed: st.closed,
            counters: None,
        })
    }

    fn capabilities(&self) -> Capabilities {
        // No background establishment: it never clears itself.
        Capabilities {
            clears_on_connect_error: false,
            ..Capabilities::CMAP
        }
    }
}
