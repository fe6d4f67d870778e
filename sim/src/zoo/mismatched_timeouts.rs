//! `zoo-mismatched-timeouts` — MongoBouncer S6: layers with unrelated timeouts (twins:
//! B18, B20, deadpool's three independent timeouts, RUST-757).
//!
//! The establishment runs under the pool's own connect timeout (four times
//! `connectTimeoutMS`, or 10 s) instead of the caller's remaining time, so a slow or
//! black-holed connect keeps the checkout long past its deadline. Caught by TIME.

use std::sync::Arc;
use std::time::Duration;

use super::skeleton::{self, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct MismatchedTimeouts;

impl Variant for MismatchedTimeouts {
    fn connect_budget(&self, _remaining: Duration, connect_timeout: Option<Duration>) -> Duration {
        // BUG: the caller's deadline is ignored.
        connect_timeout.map_or(Duration::from_secs(10), |t| t * 4)
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, MismatchedTimeouts)
}
