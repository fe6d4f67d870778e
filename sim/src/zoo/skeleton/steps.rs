//! The correct steps: what every [`Variant`] hook does unless a zoo member replaces it.

use std::sync::Arc;

use pool_core::ConnectionClosedReason;

use super::{Entry, Fast, Fx, Grant, Shared, Slot, State, Variant};
use crate::pool_under_test::CheckoutFailure;

/// Puts `grant` back into the pool (it was not used); the caller dispatches.
pub(crate) fn undo<V: Variant>(v: &V, st: &mut State, fx: &mut Fx, grant: Grant) {
    match grant {
        Grant::Conn(entry) => {
            st.in_use -= 1;
            if st.closed {
                fx.close(st, entry, ConnectionClosedReason::PoolClosed);
            } else if v.is_stale(entry.generation, st.generation) {
                fx.close(st, entry, ConnectionClosedReason::Stale);
            } else {
                st.idle.push_back(entry);
            }
        }
        Grant::Create { .. } => {
            st.total -= 1;
            st.pending -= 1;
        }
        Grant::Retry | Grant::Fail(_) => {}
    }
}

pub(crate) async fn give_back<V: Variant>(shared: Arc<Shared<V>>, grant: Grant) {
    let mut fx = Fx::default();
    let mut st = shared.state.lock().await;
    undo(&shared.variant, &mut st, &mut fx, grant);
    shared.variant.dispatch(&mut st, &mut fx);
    drop(st);
    shared.flush(fx);
}

/// Pops the newest fresh idle connection, closing stale ones on the way.
pub(crate) fn take_idle<V: Variant>(v: &V, st: &mut State, fx: &mut Fx) -> Option<Entry> {
    while let Some(entry) = st.idle.pop_back() {
        if v.is_stale(entry.generation, st.generation) {
            fx.close(st, entry, ConnectionClosedReason::Stale);
        } else {
            st.in_use += 1;
            return Some(entry);
        }
    }
    None
}

/// Fails every queued waiter.
fn fail_waiters(st: &mut State, failure: &CheckoutFailure) {
    while let Some(slot) = st.waiters.pop_front() {
        let _ = slot.deliver(Grant::Fail(failure.clone()));
    }
}

/// The correct dispatch: serve the head waiter while resources last; skip (and drop)
/// cancelled slots; a paused or closed pool fails every waiter.
pub(crate) fn dispatch<V: Variant>(v: &V, st: &mut State, fx: &mut Fx) {
    loop {
        if st.closed {
            fail_waiters(st, &CheckoutFailure::PoolClosed);
            while let Some(entry) = st.idle.pop_front() {
                fx.close(st, entry, ConnectionClosedReason::PoolClosed);
            }
            return;
        }
        if st.paused {
            fail_waiters(st, &CheckoutFailure::PoolCleared);
            return;
        }
        let Some(head) = st.waiters.front() else {
            return;
        };
        if head.is_cancelled() {
            st.waiters.pop_front();
            continue;
        }
        let grant = match take_idle(v, st, fx) {
            Some(entry) => Grant::Conn(entry),
            None if st.can_admit() => st.admit(),
            None => return,
        };
        let Some(slot) = st.waiters.pop_front() else {
            undo(v, st, fx, grant);
            return;
        };
        match slot.deliver(grant) {
            Ok(()) => fx.granted(slot),
            Err(grant) => undo(v, st, fx, grant),
        }
    }
}

/// The correct first attempt.
pub(crate) fn fast_path<V: Variant>(v: &V, st: &mut State, fx: &mut Fx) -> Fast {
    if st.closed {
        return Fast::Grant(Grant::Fail(CheckoutFailure::PoolClosed));
    }
    if st.paused {
        return Fast::Grant(Grant::Fail(CheckoutFailure::PoolCleared));
    }
    if !st.has_waiters() {
        if let Some(entry) = take_idle(v, st, fx) {
            return Fast::Grant(Grant::Conn(entry));
        }
        if st.can_admit() {
            return Fast::Grant(st.admit());
        }
    }
    enqueue(v, st, fx)
}

/// Queues a new waiter and dispatches.
pub(crate) fn enqueue<V: Variant>(v: &V, st: &mut State, fx: &mut Fx) -> Fast {
    let slot = Slot::new();
    st.waiters.push_back(slot.clone());
    v.dispatch(st, fx);
    Fast::Queued(slot)
}

pub(crate) async fn try_fast<V: Variant>(shared: Arc<Shared<V>>) -> Fast {
    let mut fx = Fx::default();
    let mut st = shared.state.lock().await;
    let fast = fast_path(&shared.variant, &mut st, &mut fx);
    drop(st);
    shared.flush(fx);
    fast
}

/// The correct check-in.
pub(crate) async fn check_in<V: Variant>(shared: Arc<Shared<V>>, entry: Entry, errored: bool) {
    let mut fx = Fx::default();
    let mut st = shared.state.lock().await;
    st.in_use -= 1;
    if errored {
        fx.close(&mut st, entry, ConnectionClosedReason::Error);
    } else if st.closed {
        fx.close(&mut st, entry, ConnectionClosedReason::PoolClosed);
    } else if shared.variant.is_stale(entry.generation, st.generation) {
        fx.close(&mut st, entry, ConnectionClosedReason::Stale);
    } else {
        st.idle.push_back(entry);
    }
    shared.variant.dispatch(&mut st, &mut fx);
    drop(st);
    shared.flush(fx);
}
