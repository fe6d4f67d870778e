//! `zoo-self-deadlock` — MongoBouncer S1 (double mutex lock), with its twins B01 (Go
//! driver: close waits on the connect that called it) and B02 (bb8: dropping a guard
//! under the lock re-enters it).
//!
//! The check-in of an errored connection holds the pool mutex and calls a helper that
//! locks it again. The mutex is not reentrant, so the task waits on itself; every later
//! checkout and check-in queues behind it for ever. Caught by LIVE (checkouts wait while
//! connections are available; with nothing left to run, a deadlock).

use std::sync::Arc;

use pool_core::ConnectionClosedReason;

use super::skeleton::{self, Entry, Fx, Shared, State, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct SelfDeadlock;

impl Variant for SelfDeadlock {
    async fn check_in(shared: &Arc<Shared<Self>>, entry: Entry, errored: bool) {
        let mut fx = Fx::default();
        let mut st = shared.state.lock().await;
        st.in_use -= 1;
        if errored {
            // BUG: `remove_connection` locks `shared.state` again while `st` holds it.
            remove_connection(shared, entry, &mut fx).await;
        } else {
            st.idle.push_back(entry);
        }
        shared.variant.dispatch(&mut st, &mut fx);
        drop(st);
        shared.flush(fx);
    }
}

/// Closes a connection "safely", under the pool lock.
async fn remove_connection(shared: &Arc<Shared<SelfDeadlock>>, entry: Entry, fx: &mut Fx) {
    let mut st = shared.state.lock().await;
    close(&mut st, fx, entry);
}

fn close(st: &mut State, fx: &mut Fx, entry: Entry) {
    fx.close(st, entry, ConnectionClosedReason::Error);
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, SelfDeadlock)
}
