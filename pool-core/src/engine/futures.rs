//! The two futures a checkout may await: waiting in the queue, and establishing a new
//! connection. Both are cancel-safe: their `Drop` returns whatever they hold. They only
//! poll and hand over: every count they settle is settled by the engine
//! (`Engine::claimed`, `Engine::cancel`, `Engine::established`,
//! `Engine::establishment_failed`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::waiter::Claim;
use super::{Engine, Entry, Grant, Origin, Permit, Record, WaiterOf};
use crate::error::CheckoutError;
use crate::event::{ConnectionClosedReason, ConnectionId};
use crate::manager::Manager;
use crate::runtime::BoxFuture;
use crate::sync::Backend;

/// How a [`Wait`] ends.
pub(crate) enum Waited<C> {
    /// The pool's answer: a resource or a refusal.
    Granted(Grant<C>),
    /// The deadline passed first.
    TimedOut,
    /// A grant came but was not claimed within `claim_timeout` and went back to the pool
    /// (I8): queue again.
    Reclaimed,
}

/// Waits for a queued checkout's grant, up to an optional deadline. Borrows the engine
/// from the checkout that awaits it (no reference count is touched per wait).
pub(crate) struct Wait<'a, M: Manager, B: Backend> {
    engine: &'a Engine<M, B>,
    /// `Some` until the wait ends; `Drop` cancels it if still there.
    waiter: Option<Arc<WaiterOf<M, B>>>,
    timer: Option<BoxFuture<()>>,
}

impl<'a, M: Manager, B: Backend> Wait<'a, M, B> {
    pub(crate) fn new(
        engine: &'a Engine<M, B>,
        waiter: Arc<WaiterOf<M, B>>,
        deadline: Option<Duration>,
    ) -> Self {
        let timer = deadline.map(|d| engine.runtime.sleep_until(d));
        Wait {
            engine,
            waiter: Some(waiter),
            timer,
        }
    }
}

impl<M: Manager, B: Backend> Future for Wait<'_, M, B> {
    type Output = Waited<M::Connection>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(waiter) = this.waiter.as_ref() else {
            return Poll::Pending; // polled after completion: never resolves again
        };
        if let Poll::Ready(claim) = waiter.poll(cx) {
            let waiter = this.waiter.take();
            return Poll::Ready(match claim {
                Claim::Granted(grant) => {
                    if let Some(waiter) = waiter {
                        this.engine.claimed(waiter);
                    }
                    Waited::Granted(grant)
                }
                Claim::Reclaimed => Waited::Reclaimed,
            });
        }
        if let Some(timer) = this.timer.as_mut() {
            if timer.as_mut().poll(cx).is_ready() {
                if let Some(waiter) = this.waiter.take() {
                    // K6: leave the queue at once. A grant that raced the timeout is used.
                    return Poll::Ready(match this.engine.cancel(&waiter) {
                        Some(grant) => Waited::Granted(grant),
                        None => Waited::TimedOut,
                    });
                }
            }
        }
        Poll::Pending
    }
}

impl<M: Manager, B: Backend> Drop for Wait<'_, M, B> {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            if let Some(grant) = self.engine.cancel(&waiter) {
                self.engine.give_back(grant); // K11
            }
        }
    }
}

type Connect<M> = BoxFuture<Result<<M as Manager>::Connection, <M as Manager>::Error>>;

/// Establishes one connection under a [`Permit`]: emits `ConnectionCreated` at once,
/// then `ConnectionReady` or `ConnectionClosed`, and settles `pending`/`total`.
///
/// Output: the entry for a checkout, `None` for populate/abandoned (made available).
pub(crate) struct Establish<M: Manager, B: Backend> {
    engine: Arc<Engine<M, B>>,
    origin: Origin,
    id: ConnectionId,
    generation: u64,
    created: Duration,
    /// `Some` until the establishment settles.
    connect: Option<Connect<M>>,
    slot: Option<usize>,
    timer: Option<BoxFuture<()>>,
}

impl<M: Manager, B: Backend> Establish<M, B> {
    pub(crate) fn new(engine: Arc<Engine<M, B>>, permit: Permit, origin: Origin) -> Self {
        let generation = permit.generation;
        let (id, created, slot) = engine.establishing(permit);
        let timer = engine
            .options
            .connect_timeout
            .map(|t| engine.runtime.sleep_until(created + t));
        let manager_owner = engine.clone();
        let connect: Connect<M> = Box::pin(async move { manager_owner.manager.connect(id).await });
        Establish {
            engine,
            origin,
            id,
            generation,
            created,
            connect: Some(connect),
            slot,
            timer,
        }
    }

    fn settle_ok(&mut self, conn: M::Connection) -> Option<Entry<M::Connection>> {
        let now = self.engine.now();
        let entry = Box::new(Record {
            conn,
            id: self.id,
            generation: self.generation,
            created: self.created,
            idle_since: now,
        });
        let duration = now.saturating_sub(self.created);
        self.engine
            .established(self.slot.take(), entry, self.origin, duration)
    }

    fn settle_err(&mut self, reason: ConnectionClosedReason) {
        self.engine
            .establishment_failed(self.slot.take(), self.id, self.origin, reason);
    }
}

impl<M: Manager, B: Backend> Future for Establish<M, B> {
    type Output = Result<Option<Entry<M::Connection>>, CheckoutError<M::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(connect) = this.connect.as_mut() else {
            return Poll::Pending; // polled after completion
        };
        if let Poll::Ready(result) = connect.as_mut().poll(cx) {
            this.connect = None;
            return Poll::Ready(match result {
                Ok(conn) => Ok(this.settle_ok(conn)),
                Err(error) => {
                    this.settle_err(ConnectionClosedReason::Error);
                    Err(CheckoutError::Connect(error))
                }
            });
        }
        if let Some(slot) = this.slot {
            if this.engine.interrupts.poll_interrupted(slot, cx) {
                this.connect = None;
                this.settle_err(ConnectionClosedReason::Stale);
                let generation = this.engine.state().generation();
                return Poll::Ready(Err(CheckoutError::PoolCleared { generation }));
            }
        }
        if let Some(timer) = this.timer.as_mut() {
            if timer.as_mut().poll(cx).is_ready() {
                this.connect = None;
                this.settle_err(ConnectionClosedReason::Error);
                let limit = this.engine.options.connect_timeout.unwrap_or_default();
                return Poll::Ready(Err(CheckoutError::ConnectTimeout(limit)));
            }
        }
        Poll::Pending
    }
}

impl<M: Manager, B: Backend> Drop for Establish<M, B> {
    fn drop(&mut self) {
        let Some(connect) = self.connect.take() else {
            return;
        };
        if self.origin != Origin::Checkout {
            // A background establishment is dropped mid-flight only by its runtime (shutting
            // down, or a task aborted). Respawning it there would drop it again at once, for
            // ever (a stack overflow): give its units back instead. As `Abandoned`, so no
            // populate clear: the server did not fail.
            drop(connect);
            self.origin = Origin::Abandoned;
            self.settle_err(ConnectionClosedReason::Error);
            return;
        }
        // The checkout gave up mid-establishment: finish in the background and keep the
        // connection, instead of churning it.
        let rest = Establish {
            engine: self.engine.clone(),
            origin: Origin::Abandoned,
            id: self.id,
            generation: self.generation,
            created: self.created,
            connect: Some(connect),
            slot: self.slot.take(),
            timer: self.timer.take(),
        };
        self.engine.runtime.spawn(Box::pin(async move {
            let _ = rest.await;
        }));
    }
}
