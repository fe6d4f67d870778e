//! `zoo-dead-waiter` — MongoBouncer S5: a timed-out waiter stays queued, and the
//! connection later handed to it is lost (twins: B10 mobc, B11 bb8, B12 the Rust
//! driver, B08 qp).
//!
//! On timeout the checkout returns without leaving the queue. A later check-in hands its
//! connection to the dead waiter's slot, which nobody will read: the connection is dropped
//! with the slot while the pool still counts it. Like MongoBouncer, the pool never takes
//! back a grant nobody claims (the skeleton's reclaim would rescue the connection).
//! Caught by LEAK.

use std::sync::Arc;
use std::time::Duration;

use super::skeleton::{self, Grant, Slot, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct DeadWaiter;

impl Variant for DeadWaiter {
    fn on_wait_timeout(&self, _slot: &Slot) -> Option<Grant> {
        // BUG: return the timeout but leave the slot queued and waiting.
        None
    }

    fn claim_bound(&self) -> Option<Duration> {
        None
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, DeadWaiter)
}
