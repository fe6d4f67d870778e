//! `zoo-pool-full` — MongoBouncer S3: when the pool is at maxPoolSize, new checkouts are
//! failed with "pool is full" instead of waiting (twins: B15 HikariCP discarding create
//! requests, B18 bb8 turning causes into timeouts). CMAP requires waiting in the queue
//! until the wait queue timeout. Caught by ERR (a failure with no cause: the pool is
//! ready, no establishment failed, the deadline is far).

use std::sync::Arc;

use super::skeleton::{self, fast_path, Fast, Fx, Grant, Shared, Variant};
use crate::pool_under_test::{CheckoutFailure, PoolParams, PoolUnderTest};

pub(crate) struct PoolFull;

impl Variant for PoolFull {
    async fn try_fast(shared: &Arc<Shared<Self>>) -> Fast {
        let mut fx = Fx::default();
        let mut st = shared.state.lock().await;
        // BUG: "no room" is treated as an error instead of a reason to wait.
        let full = st.idle.is_empty() && st.total >= st.max_total;
        let fast = if full && !st.paused && !st.closed {
            Fast::Grant(Grant::Fail(CheckoutFailure::Rejected(
                "pool is full".into(),
            )))
        } else {
            fast_path(&shared.variant, &mut st, &mut fx)
        };
        drop(st);
        shared.flush(fx);
        fast
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, PoolFull)
}
