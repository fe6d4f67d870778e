//! CLEAR: the pool clears (and so pauses) only when asked.
//!
//! The harness reports every clear it asks for ([`super::Oracle::clear_requested`], just
//! before it calls [`crate::PoolUnderTest::clear`]). A `PoolCleared` is *asked for* if
//! such a request came at most the tolerance before it (a pool may carry the clear out in
//! a task of its own, at the same virtual instant or a moment later). It is *explained*
//! if the pool declares [`crate::pool_under_test::Capabilities::clears_on_connect_error`]
//! and, at most the tolerance before it, a connect failed or was abandoned (the
//! manager's view) or a pending connection was closed with reason `Error` (the pool's
//! view). Any other `PoolCleared` is a violation, reported at the event itself.
//!
//! An unasked, unexplained clear also takes the justification away from what follows
//! from it: checkouts it fails with "pool cleared", and checkouts that fail so while the
//! pause it began lasts, are ERR violations (see [`super::errors`]).
//!
//! CLEAR is judged only when the harness reports its requests
//! ([`super::Oracle::set_clear_requests_reported`]); the simulator's recorder does, a
//! harness that cannot (a real driver whose server monitoring clears the pool on its
//! own) leaves it off.

use std::time::Duration;

use super::OracleConfig;

/// What the oracle knows about the reasons a pool may have to clear.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ClearWitness {
    /// When the harness last asked for a clear.
    pub(crate) requested_at: Option<Duration>,
    /// When an establishment last failed (manager or pool events).
    pub(crate) connect_failed_at: Option<Duration>,
}

fn within(at: Option<Duration>, now: Duration, tolerance: Duration) -> bool {
    at.is_some_and(|t| t <= now && now <= t.saturating_add(tolerance))
}

impl ClearWitness {
    /// True if a clear at `now` was asked for or is explained by a declared capability.
    pub(crate) fn justifies(&self, now: Duration, config: &OracleConfig) -> bool {
        within(self.requested_at, now, config.tolerance)
            || (config.clears_on_connect_error
                && within(self.connect_failed_at, now, config.tolerance))
    }

    /// Why a clear at `now` is a violation, if it is.
    pub(crate) fn on_cleared(&self, now: Duration, config: &OracleConfig) -> Option<String> {
        if self.justifies(now, config) {
            return None;
        }
        let failed = match self.connect_failed_at {
            Some(t) if config.clears_on_connect_error => format!(
                "the last establishment failure was at {:.6}s, more than the tolerance before",
                t.as_secs_f64()
            ),
            Some(t) => format!(
                "an establishment failed at {:.6}s, but the pool does not declare that it \
                 clears on connect errors",
                t.as_secs_f64()
            ),
            None => "no establishment failed".to_string(),
        };
        Some(format!(
            "the pool cleared itself at {:.6}s, though the harness did not ask for a clear \
             ({failed})",
            now.as_secs_f64()
        ))
    }
}
