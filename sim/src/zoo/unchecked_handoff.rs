//! `zoo-unchecked-handoff` — a connection handed to a queued waiter is not checked
//! against the generation again when the waiter claims it. A check-in grants its
//! connection to the head waiter; a clear lands before that waiter runs; the waiter then
//! takes the connection of the old generation. The clear only reaches connections that
//! are idle, and this one was in flight between two owners. Caught by STALE, once the
//! scheduler holds a woken waiter back long enough for a clear to land.

use std::sync::Arc;

use super::skeleton::{self, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct UncheckedHandoff;

impl Variant for UncheckedHandoff {
    fn recheck_handoff(&self) -> bool {
        // BUG: what the queue hands over is trusted as it was when it was granted.
        false
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, UncheckedHandoff)
}
