//! `zoo-silent-leak` — poolcheck's own pool with its leak reports lost: the pool keeps
//! `leak_detection_threshold` and claims to report leaks, but its
//! `ConnectionLeakSuspected` events never arrive (as if its reporting task died, or the
//! event was never wired up). Caught by TIME: a connection held past the threshold and not
//! reported.

use std::sync::Arc;

use crate::pool_under_test::{PoolEvent, PoolParams, PoolUnderTest};
use crate::reference;

/// Everything but the leak reports.
fn reported(event: &PoolEvent) -> bool {
    !matches!(
        event,
        PoolEvent::LeakSuspected { .. } | PoolEvent::LeakReturned { .. }
    )
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    reference::build_reporting(params, reported)
}
