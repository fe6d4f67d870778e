//! `zoo-stale-handout` — B19 (deadpool, bb8, mobc after a server restart): generations
//! are not compared, so connections made before a clear are handed out after it.
//! Caught by STALE.

use std::sync::Arc;

use super::skeleton::{self, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct StaleHandout;

impl Variant for StaleHandout {
    fn is_stale(&self, _generation: u64, _current: u64) -> bool {
        // BUG: a clear does not retire the connections it should.
        false
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, StaleHandout)
}
