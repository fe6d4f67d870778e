//! `zoo-barging` — B17 (HikariCP #1909), and bb8's design since 2024: wake, don't hand
//! off.
//!
//! A returned connection goes back on the idle list and the head waiter is only *woken*
//! to retry from the top (it runs after a wake-up latency); any checkout that comes first (say the returning task's next
//! checkout) takes the idle connection, queue or no queue, and the woken waiter queues
//! again at the back. Caught by FIFO.

use std::sync::Arc;

use super::skeleton::{self, enqueue, take_idle, Fast, Fx, Grant, Shared, State, Variant};
use crate::pool_under_test::{CheckoutFailure, PoolParams, PoolUnderTest};

pub(crate) struct Barging;

impl Variant for Barging {
    fn dispatch(&self, st: &mut State, fx: &mut Fx) {
        if st.closed || st.paused || st.idle.is_empty() {
            return skeleton::dispatch(self, st, fx);
        }
        // BUG (1/2): wake the head waiter to retry instead of handing it the connection.
        while let Some(slot) = st.waiters.pop_front() {
            if !slot.is_cancelled() {
                fx.wake_later(slot);
                return;
            }
        }
    }

    async fn try_fast(shared: &Arc<Shared<Self>>) -> Fast {
        let mut fx = Fx::default();
        let mut st = shared.state.lock().await;
        let fast = if st.closed {
            Fast::Grant(Grant::Fail(CheckoutFailure::PoolClosed))
        } else if st.paused {
            Fast::Grant(Grant::Fail(CheckoutFailure::PoolCleared))
        } else if let Some(entry) = take_idle(&shared.variant, &mut st, &mut fx) {
            // BUG (2/2): take an idle connection even though others queue for it.
            Fast::Grant(Grant::Conn(entry))
        } else if !st.has_waiters() && st.can_admit() {
            Fast::Grant(st.admit())
        } else {
            enqueue(&shared.variant, &mut st, &mut fx)
        };
        drop(st);
        shared.flush(fx);
        fast
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, Barging)
}
