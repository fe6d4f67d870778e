//! `zoo-eager-idle` — a pool that closes idle connections at half `maxIdleTime`: each
//! checkout first prunes the idle list by a wrong threshold (the idle-since time it keeps
//! per connection is right; the comparison is off by a factor of two). Caught by IDLE.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pool_core::{ConnectionClosedReason, ConnectionId};

use super::skeleton::{self, fast_path, Entry, Fast, Fx, Shared, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct EagerIdle {
    /// When each connection was last checked in.
    idle_since: Mutex<BTreeMap<ConnectionId, Duration>>,
}

impl EagerIdle {
    fn since(&self) -> std::sync::MutexGuard<'_, BTreeMap<ConnectionId, Duration>> {
        self.idle_since
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Variant for EagerIdle {
    async fn try_fast(shared: &Arc<Shared<Self>>) -> Fast {
        let mut fx = Fx::default();
        let mut st = shared.state.lock().await;
        if let Some(max_idle) = shared.params.options.max_idle_time {
            let now = shared.now();
            // BUG: half the idle time counts as "too long idle".
            let limit = max_idle / 2;
            let idle = std::mem::take(&mut st.idle);
            for entry in idle {
                let since = shared.variant.since().get(&entry.id).copied();
                if since.is_some_and(|t| now.saturating_sub(t) >= limit) {
                    fx.close(&mut st, entry, ConnectionClosedReason::Idle);
                } else {
                    st.idle.push_back(entry);
                }
            }
        }
        let fast = fast_path(&shared.variant, &mut st, &mut fx);
        drop(st);
        shared.flush(fx);
        fast
    }

    async fn check_in(shared: &Arc<Shared<Self>>, entry: Entry, errored: bool) {
        shared.variant.since().insert(entry.id, shared.now());
        skeleton::check_in(shared.clone(), entry, errored).await;
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(
        params,
        EagerIdle {
            idle_since: Mutex::new(BTreeMap::new()),
        },
    )
}
