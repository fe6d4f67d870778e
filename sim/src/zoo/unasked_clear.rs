//! `zoo-unasked-clear` — a pool that clears itself whenever establishing a connection
//! fails, without declaring it (its capabilities say it clears only when asked). Every
//! waiter then fails with "pool cleared" although nobody cleared the pool; it readies
//! itself again after [`PAUSE`]. Caught by CLEAR.

use std::sync::Arc;
use std::time::Duration;

use super::skeleton::{self, clear_locked, ready_locked, Fx, Shared, State, Variant};
use crate::executor::TaskKind;
use crate::pool_under_test::{PoolParams, PoolUnderTest};

/// How long it stays paused after clearing itself.
const PAUSE: Duration = Duration::from_millis(50);

pub(crate) struct UnaskedClear;

impl Variant for UnaskedClear {
    fn on_connect_failed(shared: &Arc<Shared<Self>>, st: &mut State, fx: &mut Fx) {
        if st.paused || st.closed {
            return;
        }
        // BUG: an undeclared clear on any connect error.
        clear_locked(&shared.variant, st, fx, false);
        let shared = shared.clone();
        shared.params.runtime.clone().spawn_task(
            TaskKind::Pool,
            Box::pin(async move {
                shared.params.runtime.sleep(PAUSE).await;
                let mut fx = Fx::default();
                let mut st = shared.state.lock().await;
                ready_locked(&shared.variant, &mut st, &mut fx);
                drop(st);
                shared.flush(fx);
            }),
        );
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, UnaskedClear)
}
