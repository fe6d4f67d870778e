//! `zoo-validating` — not a bug: the skeleton with a health check at checkout. A checkout
//! handed an idle connection first runs a `ping` on it (as pools with
//! `test_on_check_out` do), bounded by its deadline, reporting `ConnectionValidating`
//! before; if the ping fails it closes the connection (reason `Error`) and tries again,
//! if the deadline passes it closes it and times out. While the ping runs the connection is
//! neither available nor in use, and the checkout is neither waiting nor served: a
//! second control (with `zoo-baseline`) that must stay clean, proving the event contract
//! keeps a correct validating pool clear of LIVE and FIFO.
//!
//! Cancel safety: a checkout dropped mid-ping leaves the connection's wire state
//! unknown, so a guard closes it (reason `Error`) in a task of its own.

use std::sync::Arc;
use std::time::Duration;

use bson::doc;
use pool_core::ConnectionClosedReason;

use super::skeleton::{
    self, requeue, take_idle, undo, Entry, Fx, Grant, Shared, Slot, SlotWait, Turn, Variant,
};
use crate::executor::TaskKind;
use crate::pool_under_test::{CheckoutFailure, PoolEvent, PoolParams, PoolUnderTest};
use crate::runtime::{race, Either};

pub(crate) struct Validating;

/// Closes a connection whose check did not finish (the checkout was dropped).
struct CheckGuard {
    shared: Arc<Shared<Validating>>,
    entry: Option<Entry>,
}

impl Drop for CheckGuard {
    fn drop(&mut self) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        let shared = self.shared.clone();
        self.shared.params.runtime.spawn_task(
            TaskKind::Pool,
            Box::pin(async move { close(&shared, entry).await }),
        );
    }
}

/// Closes `entry` (counted in use) with reason `Error`.
async fn close(shared: &Arc<Shared<Validating>>, entry: Entry) {
    let mut fx = Fx::default();
    let mut st = shared.state.lock().await;
    st.in_use -= 1;
    fx.close(&mut st, entry, ConnectionClosedReason::Error);
    shared.variant.dispatch(&mut st, &mut fx);
    drop(st);
    shared.flush(fx);
}

/// Gives a front-of-queue slot up if the checkout is dropped while it waits.
struct FrontGuard {
    shared: Arc<Shared<Validating>>,
    slot: Option<Arc<Slot>>,
}

impl Drop for FrontGuard {
    fn drop(&mut self) {
        let Some(slot) = self.slot.take() else { return };
        if let Some(grant) = slot.cancel() {
            let shared = self.shared.clone();
            self.shared.params.runtime.spawn_task(
                TaskKind::Pool,
                Box::pin(async move {
                    let mut fx = Fx::default();
                    let mut st = shared.state.lock().await;
                    undo(&shared.variant, &mut st, &mut fx, grant);
                    shared.variant.dispatch(&mut st, &mut fx);
                    drop(st);
                    shared.flush(fx);
                }),
            );
        }
    }
}

/// Pings `entry` on the checkout's task, bounded by `deadline`: `Some(passed)`, or `None`
/// if the deadline came first. A guard closes the connection if the checkout is dropped
/// meanwhile.
async fn check(
    shared: &Arc<Shared<Validating>>,
    entry: Entry,
    deadline: Duration,
) -> (Option<bool>, Option<Entry>) {
    shared.emit(PoolEvent::ConnectionValidating { id: entry.id });
    let mut guard = CheckGuard {
        shared: shared.clone(),
        entry: Some(entry),
    };
    let runtime = shared.params.runtime.clone();
    let ok = match guard.entry.as_mut() {
        Some(entry) => {
            let ping = entry.conn.run_command("admin", doc! { "ping": 1 });
            match race(ping, runtime.sleep_until(deadline)).await {
                Either::Left(result) => Some(result.is_ok()),
                Either::Right(()) => None,
            }
        }
        None => Some(false),
    };
    (ok, guard.entry.take())
}

impl Variant for Validating {
    async fn accept(
        shared: &Arc<Shared<Self>>,
        entry: Entry,
        deadline: Duration,
        turn: Turn,
    ) -> Grant {
        let mut entry = entry;
        loop {
            // A connection granted before a clear (or close) that came since is not worth a
            // ping: it is retired below at once, as the baseline's hand-out does, so the
            // clear fails this checkout without waiting for a round trip.
            let retired = {
                let st = shared.state.lock().await;
                st.closed || shared.variant.is_stale(entry.generation, st.generation)
            };
            let (ok, checked) = if retired {
                (Some(false), Some(entry))
            } else {
                check(shared, entry, deadline).await
            };
            let Some(checked) = checked else {
                return Grant::Retry;
            };
            // Under the lock: a passed check still loses to a clear or close that came
            // meanwhile; a failed one retires the connection and the checkout keeps its
            // place at the head of the queue.
            let mut fx = Fx::default();
            let mut st = shared.state.lock().await;
            let reason = if st.closed {
                ConnectionClosedReason::PoolClosed
            } else if shared.variant.is_stale(checked.generation, st.generation) {
                ConnectionClosedReason::Stale
            } else if ok == Some(true) {
                return Grant::Conn(checked);
            } else {
                ConnectionClosedReason::Error
            };
            st.in_use -= 1;
            fx.close(&mut st, checked, reason);
            if ok.is_none() {
                shared.variant.dispatch(&mut st, &mut fx);
                drop(st);
                shared.flush(fx);
                return Grant::Fail(CheckoutFailure::Timeout);
            }
            let next = if st.closed {
                Ok(Grant::Fail(CheckoutFailure::PoolClosed))
            } else if st.paused {
                Ok(Grant::Fail(CheckoutFailure::PoolCleared))
            } else if let Some(idle) = take_idle(&shared.variant, &mut st, &mut fx) {
                Ok(Grant::Conn(idle))
            } else if st.can_admit() {
                Ok(st.admit())
            } else {
                // The checkout keeps its turn: ahead of every first wait, behind the
                // retries of checkouts that started before it.
                let slot = Slot::retry(turn);
                requeue(&mut st.waiters, slot.clone());
                Err(slot)
            };
            drop(st);
            shared.flush(fx);
            let grant = match next {
                Ok(grant) => grant,
                Err(slot) => {
                    let mut guard = FrontGuard {
                        shared: shared.clone(),
                        slot: Some(slot.clone()),
                    };
                    let runtime = shared.params.runtime.clone();
                    let waited = race(SlotWait(&slot), runtime.sleep_until(deadline)).await;
                    guard.slot = None;
                    match waited {
                        Either::Left(grant) => grant,
                        Either::Right(()) => match slot.cancel() {
                            Some(grant) => grant,
                            None => return Grant::Fail(CheckoutFailure::Timeout),
                        },
                    }
                }
            };
            match grant {
                Grant::Conn(next) => entry = next,
                other => return other,
            }
        }
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, Validating)
}
