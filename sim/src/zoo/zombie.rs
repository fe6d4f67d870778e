//! `zoo-zombie` — B21 (tokio #6450): a hand-off to a waiter that is never polled again.
//!
//! A task polls its checkout once (inside a `select!`, say), moves on and keeps the
//! future alive without polling it. The pool hands the next connection (or creation
//! permit) to it, and nobody ever uses or returns it; everyone behind waits. The skeleton
//! takes an unclaimed grant back after a bound; this member does not. Caught by LIVE
//! (waiters sleep next to a connection granted to a zombie) or ACCT (a permit counted as
//! pending that no one establishes) in the `zombie` scenarios.

use std::sync::Arc;
use std::time::Duration;

use super::skeleton::{self, Variant};
use crate::pool_under_test::{PoolParams, PoolUnderTest};

pub(crate) struct Zombie;

impl Variant for Zombie {
    fn claim_bound(&self) -> Option<Duration> {
        // BUG: a grant nobody claims stays granted for ever.
        None
    }
}

pub(crate) fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    skeleton::build(params, Zombie)
}
