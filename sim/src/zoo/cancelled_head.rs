//! `zoo-cancelled-head` — B09 (shuttle's BatchSemaphore, embassy's FairSemaphore): a
//! cancelled head waiter blocks the queue.
//!
//! Cancelled waiters are removed lazily, by dispatch. This dispatch stops when it meets
//! a cancelled head instead of dropping it and serving the next waiter, so once the head
//! times out or is cancelled, everyone behind it sleeps while connections sit idle.
//! Caught by LIVE.

use std::sync::Arc;

use super::skeleton::{self, take_idle, undo, Fx, State, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct CancelledHead;

impl Variant for CancelledHead {
    fn dispatch(&self, st: &mut State, fx: &mut Fx) {
        if st.closed || st.paused {
            // Failing everyone on clear/close is unchanged.
            return skeleton::dispatch(self, st, fx);
        }
        while let Some(head) = st.waiters.front() {
            if head.is_cancelled() {
                // BUG: should pop the cancelled head and go on.
                return;
            }
            let grant = match take_idle(self, st, fx) {
                Some(entry) => skeleton::Grant::Conn(entry),
                None if st.can_admit() => st.admit(),
                None => return,
            };
            let Some(slot) = st.waiters.pop_front() else {
                return undo(self, st, fx, grant);
            };
            match slot.deliver(grant) {
                Ok(()) => fx.granted(slot),
                Err(grant) => undo(self, st, fx, grant),
            }
        }
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, CancelledHead)
}
