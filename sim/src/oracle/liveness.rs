//! LIVE: no checkout waits while the pool could serve it.
//!
//! A checkout *waits* if it is outstanding, not a zombie and not establishing a
//! connection of its own. The pool could serve it if a connection is available (per the
//! events), or if it may create one (total below maxPoolSize, pending below
//! maxConnecting) while it is ready. A correct pool never lets this hold at a stable
//! point (a grant wakes its task, which runs before time moves), so holding it for longer
//! than the tolerance is a lost wake-up, a blocked queue, or capacity held by a zombie.
//! For a pool that establishes in the background (no checkout drives its connects), each
//! pending connection counts as serving one waiter.
//! Deadlocks (nothing can ever run) and livelocks (the step budget) are reported by the
//! run loop through [`super::Oracle::deadlock`] and [`super::Oracle::budget_exceeded`].

use super::model::Model;
use super::OracleConfig;

/// The starvation condition, described, if it holds.
pub(crate) fn starving(model: &Model, config: &OracleConfig) -> Option<String> {
    if model.paused || model.closed {
        return None;
    }
    let waiting: Vec<_> = model.waiting().collect();
    let first = *waiting.first()?;
    if model.available > 0 {
        return Some(format!(
            "{} checkout(s) (first: {first}) wait while {} connection(s) are available",
            waiting.len(),
            model.available
        ));
    }
    // A pool that establishes in the background serves waiters with its pending
    // connections: only waiters beyond those starve.
    let uncovered =
        !config.background_establishment || waiting.len() as u64 > u64::from(model.pending);
    if uncovered && model.total() < config.max_total && model.pending < config.max_connecting {
        return Some(format!(
            "{} checkout(s) (first: {first}) wait while the pool may create a connection \
             (total {} < maxPoolSize {}, pending {} < maxConnecting {})",
            waiting.len(),
            model.total(),
            config.max_total,
            model.pending,
            config.max_connecting
        ));
    }
    None
}
