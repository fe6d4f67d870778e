//! The checkout: first attempt, waiting in a slot, establishing under a permit, and the
//! lease that checks the connection back in. Every step is cancel-safe: a guard hands
//! back whatever a dropped checkout holds.

use std::sync::Arc;
use std::time::Duration;

use pool_core::{
    ConnectionCheckOutFailedReason as FailReason, ConnectionClosedReason, ConnectionId,
};

use super::slot::{SlotWait, Turn};
use super::{steps, AfterConnectError, Entry, Fast, Fx, Grant, Shared, Slot, State, Variant};
use crate::executor::TaskKind;
use crate::manager::SimConnection;
use crate::pool_under_test::{CheckoutFailure, Lease, LeaseInner, PoolEvent};
use crate::runtime::{race, Either};

/// Gives a queued slot up if the checkout is dropped while it waits.
struct SlotGuard<V: Variant> {
    shared: Arc<Shared<V>>,
    slot: Option<Arc<Slot>>,
}

impl<V: Variant> Drop for SlotGuard<V> {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else { return };
        if let Some(grant) = slot.cancel() {
            let shared = self.shared.clone();
            self.shared
                .params
                .runtime
                .spawn_task(TaskKind::Pool, Box::pin(steps::give_back(shared, grant)));
        }
    }
}

/// Releases a creation permit if the checkout is dropped while it establishes.
struct PermitGuard<V: Variant> {
    shared: Arc<Shared<V>>,
    id: ConnectionId,
    armed: bool,
}

impl<V: Variant> Drop for PermitGuard<V> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (shared, id) = (self.shared.clone(), self.id);
        self.shared.params.runtime.spawn_task(
            TaskKind::Pool,
            Box::pin(async move {
                let mut fx = Fx::default();
                let mut st = shared.state.lock().await;
                st.pending -= 1;
                st.total -= 1;
                fx.event(PoolEvent::ConnectionClosed {
                    id,
                    reason: ConnectionClosedReason::Error,
                });
                shared.variant.dispatch(&mut st, &mut fx);
                drop(st);
                shared.flush(fx);
            }),
        );
    }
}

enum Established {
    Ready(Entry),
    Failed(CheckoutFailure),
    Requeue,
}

/// Establishes a connection under a permit of `generation`.
async fn establish<V: Variant>(
    shared: &Arc<Shared<V>>,
    generation: u64,
    deadline: Duration,
) -> Established {
    let id = shared.next_id();
    shared.emit(PoolEvent::ConnectionCreated { id });
    let mut guard = PermitGuard {
        shared: shared.clone(),
        id,
        armed: true,
    };
    let remaining = deadline.saturating_sub(shared.now());
    let budget = shared
        .variant
        .connect_budget(remaining, shared.params.options.connect_timeout);
    let manager = shared.params.manager.clone();
    let runtime = shared.params.runtime.clone();
    let outcome = race(manager.open(id), runtime.sleep(budget)).await;
    // From here on nothing awaits but the lock; a connection made is settled below even
    // if the checkout is dropped meanwhile (the settle task owns it then).
    guard.armed = false;
    let settle = Settle {
        shared: shared.clone(),
        id,
        generation,
        outcome: Some(outcome),
    };
    settle.run().await
}

type ConnectResult = Either<Result<SimConnection, crate::manager::ConnectError>, ()>;

/// The bookkeeping after a connect ended. Dropped before it ran (the checkout was
/// cancelled while waiting for the lock), it finishes in a task and keeps the connection.
struct Settle<V: Variant> {
    shared: Arc<Shared<V>>,
    id: ConnectionId,
    generation: u64,
    outcome: Option<ConnectResult>,
}

impl<V: Variant> Settle<V> {
    async fn run(mut self) -> Established {
        let shared = self.shared.clone();
        let mut st = shared.state.lock().await;
        let Some(outcome) = self.outcome.take() else {
            return Established::Failed(CheckoutFailure::PoolClosed);
        };
        let mut fx = Fx::default();
        let result = settle(
            &shared,
            &mut st,
            &mut fx,
            self.id,
            self.generation,
            outcome,
            true,
        );
        drop(st);
        shared.flush(fx);
        result
    }
}

impl<V: Variant> Drop for Settle<V> {
    fn drop(&mut self) {
        let Some(outcome) = self.outcome.take() else {
            return;
        };
        let (shared, id, generation) = (self.shared.clone(), self.id, self.generation);
        self.shared.params.runtime.spawn_task(
            TaskKind::Pool,
            Box::pin(async move {
                let mut st = shared.state.lock().await;
                let mut fx = Fx::default();
                let _ = settle(&shared, &mut st, &mut fx, id, generation, outcome, false);
                drop(st);
                shared.flush(fx);
            }),
        );
    }
}

/// Settles a connect's outcome under the lock. `for_checkout`: the connection goes to
/// the checkout; otherwise it becomes available.
fn settle<V: Variant>(
    shared: &Arc<Shared<V>>,
    st: &mut State,
    fx: &mut Fx,
    id: ConnectionId,
    generation: u64,
    outcome: ConnectResult,
    for_checkout: bool,
) -> Established {
    st.pending -= 1;
    let v = &shared.variant;
    let result = match outcome {
        Either::Left(Ok(conn)) => {
            fx.event(PoolEvent::ConnectionReady { id });
            let entry = Entry {
                conn: Box::new(conn),
                id,
                generation,
            };
            if st.closed {
                fx.close(st, entry, ConnectionClosedReason::PoolClosed);
                Established::Failed(CheckoutFailure::PoolClosed)
            } else if v.is_stale(generation, st.generation) {
                fx.close(st, entry, ConnectionClosedReason::Stale);
                Established::Failed(CheckoutFailure::PoolCleared)
            } else if for_checkout {
                st.in_use += 1;
                Established::Ready(entry)
            } else {
                st.idle.push_back(entry);
                Established::Failed(CheckoutFailure::PoolClosed)
            }
        }
        Either::Left(Err(error)) => {
            st.total -= 1;
            fx.event(PoolEvent::ConnectionClosed {
                id,
                reason: ConnectionClosedReason::Error,
            });
            V::on_connect_failed(shared, st, fx);
            match v.on_connect_error() {
                AfterConnectError::Fail => {
                    Established::Failed(CheckoutFailure::Connect(error.to_string()))
                }
                AfterConnectError::Requeue => Established::Requeue,
            }
        }
        Either::Right(()) => {
            st.total -= 1;
            fx.event(PoolEvent::ConnectionClosed {
                id,
                reason: ConnectionClosedReason::Error,
            });
            V::on_connect_failed(shared, st, fx);
            Established::Failed(CheckoutFailure::ConnectTimeout)
        }
    };
    v.dispatch(st, fx);
    result
}

pub(crate) async fn check_out<V: Variant>(
    shared: Arc<Shared<V>>,
    deadline: Duration,
) -> Result<Lease, CheckoutFailure> {
    let turn = shared.start_checkout();
    let deadline = match shared.params.options.wait_queue_timeout {
        Some(wait) => deadline.min(shared.now() + wait),
        None => deadline,
    };
    let result = checkout_loop(&shared, deadline, turn).await;
    match &result {
        Ok(lease) => shared.emit(PoolEvent::CheckedOut { id: lease.id() }),
        Err(failure) => shared.emit(PoolEvent::CheckOutFailed {
            reason: fail_reason(failure),
        }),
    }
    result
}

fn fail_reason(failure: &CheckoutFailure) -> FailReason {
    match failure {
        CheckoutFailure::Timeout => FailReason::Timeout,
        CheckoutFailure::PoolClosed => FailReason::PoolClosed,
        _ => FailReason::ConnectionError,
    }
}

async fn checkout_loop<V: Variant>(
    shared: &Arc<Shared<V>>,
    deadline: Duration,
    turn: Turn,
) -> Result<Lease, CheckoutFailure> {
    loop {
        // A grant taken on the fast path was checked under the lock just now; one handed
        // over through the queue may have been granted before a clear.
        let mut handed_off = false;
        let grant = match V::try_fast(shared).await {
            Fast::Grant(grant) => grant,
            Fast::Queued(slot) => {
                handed_off = true;
                let mut guard = SlotGuard {
                    shared: shared.clone(),
                    slot: Some(slot.clone()),
                };
                let runtime = shared.params.runtime.clone();
                let waited = race(SlotWait(&slot), runtime.sleep_until(deadline)).await;
                guard.slot = None;
                match waited {
                    Either::Left(grant) => grant,
                    Either::Right(()) => match shared.variant.on_wait_timeout(&slot) {
                        Some(grant) => grant,
                        None => return Err(CheckoutFailure::Timeout),
                    },
                }
            }
        };
        let grant = match grant {
            Grant::Conn(entry) => V::accept(shared, entry, deadline, turn).await,
            other => other,
        };
        match grant {
            Grant::Conn(entry) if handed_off && shared.variant.recheck_handoff() => {
                let handoff = Handoff {
                    shared: shared.clone(),
                    entry: Some(entry),
                };
                return handoff.recheck().await.map(|entry| lease(shared, entry));
            }
            Grant::Conn(entry) => return Ok(lease(shared, entry)),
            Grant::Create { generation } => match establish(shared, generation, deadline).await {
                Established::Ready(entry) => return Ok(lease(shared, entry)),
                Established::Failed(failure) => return Err(failure),
                Established::Requeue => continue,
            },
            Grant::Retry => continue,
            Grant::Fail(failure) => return Err(failure),
        }
    }
}

/// A connection a waiter was handed, to be checked again under the lock before its
/// user gets it. Dropped before that (the checkout was cancelled while waiting for the
/// lock), it goes back to the pool.
struct Handoff<V: Variant> {
    shared: Arc<Shared<V>>,
    entry: Option<Entry>,
}

impl<V: Variant> Handoff<V> {
    async fn recheck(mut self) -> Result<Entry, CheckoutFailure> {
        let shared = self.shared.clone();
        let mut st = shared.state.lock().await;
        let Some(entry) = self.entry.take() else {
            return Err(CheckoutFailure::PoolClosed);
        };
        let v = &shared.variant;
        let reason = if st.closed {
            Some((
                ConnectionClosedReason::PoolClosed,
                CheckoutFailure::PoolClosed,
            ))
        } else if v.is_stale(entry.generation, st.generation) {
            Some((ConnectionClosedReason::Stale, CheckoutFailure::PoolCleared))
        } else {
            None
        };
        let Some((reason, failure)) = reason else {
            return Ok(entry);
        };
        let mut fx = Fx::default();
        st.in_use -= 1;
        fx.close(&mut st, entry, reason);
        v.dispatch(&mut st, &mut fx);
        drop(st);
        shared.flush(fx);
        Err(failure)
    }
}

impl<V: Variant> Drop for Handoff<V> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            let shared = self.shared.clone();
            self.shared.params.runtime.spawn_task(
                TaskKind::Pool,
                Box::pin(steps::give_back(shared, Grant::Conn(entry))),
            );
        }
    }
}

// ===== leases =====

struct ZooLease<V: Variant> {
    shared: Arc<Shared<V>>,
    entry: Option<Entry>,
    errored: bool,
}

fn lease<V: Variant>(shared: &Arc<Shared<V>>, entry: Entry) -> Lease {
    Lease::new(Box::new(ZooLease {
        shared: shared.clone(),
        entry: Some(entry),
        errored: false,
    }))
}

impl<V: Variant> LeaseInner for ZooLease<V> {
    fn id(&self) -> ConnectionId {
        self.entry.as_ref().map_or(0, |e| e.id)
    }
    fn connection(&mut self) -> &mut SimConnection {
        // The entry is taken only in `drop`.
        &mut self
            .entry
            .as_mut()
            .expect("lease holds its entry until drop")
            .conn
    }
    fn mark_errored(&mut self) {
        self.errored = true;
    }
}

impl<V: Variant> Drop for ZooLease<V> {
    fn drop(&mut self) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        self.shared.emit(PoolEvent::CheckedIn { id: entry.id });
        let (shared, errored) = (self.shared.clone(), self.errored);
        self.shared.params.runtime.spawn_task(
            TaskKind::Pool,
            Box::pin(async move { V::check_in(&shared, entry, errored).await }),
        );
    }
}
