//! `zoo-panicking-check-in` — a pool whose check-in unwraps a lookup that a clear can
//! make fail: it keeps, per generation, the ids of the connections it created, and at
//! check-in takes the connection out of its generation's list with `.expect(..)`. A clear
//! drops the old generation's list, so the first connection of that generation to come
//! back after a clear panics the checking-in task. Caught by PANIC (never an aborted run).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use pool_core::ConnectionId;

use super::skeleton::{self, Entry, Shared, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct PanickingCheckIn {
    /// Connection ids by the generation they were created in (old generations dropped
    /// at a clear).
    by_generation: Mutex<BTreeMap<u64, BTreeSet<ConnectionId>>>,
}

impl PanickingCheckIn {
    fn table(&self) -> MutexGuard<'_, BTreeMap<u64, BTreeSet<ConnectionId>>> {
        self.by_generation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Variant for PanickingCheckIn {
    async fn check_in(shared: &Arc<Shared<Self>>, entry: Entry, errored: bool) {
        let current = shared.state.lock().await.generation;
        {
            let mut table = shared.variant.table();
            table.retain(|generation, _| *generation >= current);
            table.entry(current).or_default();
            // BUG: assumes the connection's generation is still in the table; a clear
            // since its checkout dropped it.
            let ids = table
                .get_mut(&entry.generation)
                .expect("a checked-out connection's generation is known");
            ids.insert(entry.id);
        }
        skeleton::check_in(shared.clone(), entry, errored).await;
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(
        params,
        PanickingCheckIn {
            by_generation: Mutex::new(BTreeMap::new()),
        },
    )
}
