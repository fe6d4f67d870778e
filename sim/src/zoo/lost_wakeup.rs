//! `zoo-lost-wakeup` — MongoBouncer S2 (a wake-up nobody receives), as bb8 #122 (B05)
//! shipped it: check, unlock, then enqueue.
//!
//! A checkout finds nothing under the lock, releases it, and re-locks to enqueue itself
//! without looking again. A check-in in between finds no waiter and leaves its connection
//! idle; the checkout then sleeps next to an idle connection until something else happens
//! to dispatch. Caught by LIVE (a waiter sleeps while a connection is available).

use std::sync::Arc;
use std::time::Duration;

use super::skeleton::{self, fast_path, Fast, Fx, Grant, Shared, Slot, Variant};
use crate::pool_under_test::{CheckoutFailure, PoolParams, PoolUnderTest};

pub(crate) struct LostWakeup;

impl Variant for LostWakeup {
    async fn try_fast(shared: &Arc<Shared<Self>>) -> Fast {
        let mut fx = Fx::default();
        let mut st = shared.state.lock().await;
        let first = if st.has_waiters() {
            None
        } else {
            match fast_path(&shared.variant, &mut st, &mut fx) {
                Fast::Grant(grant) => Some(grant),
                Fast::Queued(slot) => {
                    // Undo the queueing fast_path did; we queue "properly" below.
                    st.waiters.retain(|s| !Arc::ptr_eq(s, &slot));
                    None
                }
            }
        };
        drop(st);
        shared.flush(fx);
        if let Some(grant) = first {
            return Fast::Grant(grant);
        }
        shared.preempt(Duration::from_micros(300)).await;
        // BUG: enqueue without re-checking the idle list and without dispatching.
        let slot = Slot::new();
        let mut st = shared.state.lock().await;
        // Only the idle list goes unchecked: a clear or close in the gap still fails this
        // checkout, so the member shows the lost wake-up and nothing else.
        if st.closed {
            return Fast::Grant(Grant::Fail(CheckoutFailure::PoolClosed));
        }
        if st.paused {
            return Fast::Grant(Grant::Fail(CheckoutFailure::PoolCleared));
        }
        st.waiters.push_back(slot.clone());
        Fast::Queued(slot)
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, LostWakeup)
}
