//! `zoo-overshoot` — MongoBouncer S4: check-then-act on the connection count (twins:
//! B13 deadpool exceeding max_size, B16 bb8 extra connects, PyMongo #121).
//!
//! MongoBouncer's `canCreateNew` counted `len(available) + len(inUse)` under a read lock
//! and created the connection after releasing it: connections still being dialled are in
//! neither list, so every checkout that looks while others dial sees room, and all of
//! them create. Here the check counts established connections only (total − pending).
//! Caught by MAX.

use std::sync::Arc;

use super::skeleton::{self, fast_path, Fast, Fx, Grant, Shared, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct Overshoot;

impl Variant for Overshoot {
    async fn try_fast(shared: &Arc<Shared<Self>>) -> Fast {
        let mut fx = Fx::default();
        let mut st = shared.state.lock().await;
        // BUG: connections being dialled are not counted, so the check passes for every
        // checkout that arrives while others dial.
        let established = st.total - st.pending;
        let room = !st.paused
            && !st.closed
            && !st.has_waiters()
            && st.idle.is_empty()
            && established < st.max_total
            && st.pending < st.max_connecting;
        let fast = if room {
            st.total += 1;
            st.pending += 1;
            Fast::Grant(Grant::Create {
                generation: st.generation,
            })
        } else {
            fast_path(&shared.variant, &mut st, &mut fx)
        };
        drop(st);
        shared.flush(fx);
        fast
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, Overshoot)
}
