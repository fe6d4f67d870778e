//! ERR: every failed checkout has a cause; an establishment error reaches the checkout
//! that drove it, promptly; a clear or close fails the waiting checkouts at once. (Panics
//! are reported by the run loop through [`super::Oracle::panicked`].)

use std::time::Duration;

use pool_core::ConnectionId;

use super::model::{Checkout, Model};
use super::CheckoutId;
use super::OracleConfig;
use crate::pool_under_test::CheckoutFailure;

/// Why checkout `k`'s failure is not justified, if it is not.
pub(crate) fn unjustified(
    k: CheckoutId,
    c: &Checkout,
    failure: &CheckoutFailure,
    model: &Model,
    now: Duration,
    config: &OracleConfig,
) -> Option<String> {
    if let Some(t) = c.connect_failed_at {
        if !failure.is_connection_class() {
            return Some(format!(
                "checkout {k}'s establishment failed at {:.6}s but it ended with '{failure}': \
                 the error was swallowed",
                t.as_secs_f64()
            ));
        }
        if now > t.saturating_add(config.tolerance) {
            return Some(format!(
                "checkout {k}'s establishment failed at {:.6}s but the error reached it only \
                 at {:.6}s",
                t.as_secs_f64(),
                now.as_secs_f64()
            ));
        }
    }
    let justified = match failure {
        CheckoutFailure::Timeout => {
            let mut limit = c.deadline;
            if let Some(wait) = config.wait_queue_timeout {
                limit = limit.min(c.started.saturating_add(wait));
            }
            now >= limit
        }
        // Only a pause the harness asked for (or the pool's capabilities explain) justifies
        // it; see `clears`.
        CheckoutFailure::PoolCleared => c.cleared_during || (model.paused && !model.paused_unasked),
        CheckoutFailure::PoolClosed => c.closed_during || model.closed || model.close_requested,
        CheckoutFailure::Connect(_) | CheckoutFailure::ConnectTimeout => {
            c.connect_error || c.creation_error_during
        }
        CheckoutFailure::WaitQueueFull
        | CheckoutFailure::ClaimExpired
        | CheckoutFailure::Rejected(_) => false,
    };
    (!justified).then(|| {
        format!(
            "checkout {k} (began {:.6}s, deadline {:.6}s) failed with '{failure}' at {:.6}s \
             without a cause (pool ready, no establishment error, deadline not reached)",
            c.started.as_secs_f64(),
            c.deadline.as_secs_f64(),
            now.as_secs_f64()
        )
    })
}

/// Why checkout `k`'s success hides an error, if it does.
pub(crate) fn swallowed_on_success(
    k: CheckoutId,
    c: &Checkout,
    id: ConnectionId,
) -> Option<String> {
    c.connect_failed_at.map(|t| {
        format!(
            "checkout {k}'s establishment failed at {:.6}s, yet it later succeeded with \
             connection {id}: the error was swallowed",
            t.as_secs_f64()
        )
    })
}

/// True if `c` is exempt from a sweep at `at`: it started establishing since (a correct
/// pool lets a granted establishment finish, then fails it).
fn exempt(c: &Checkout, at: Duration) -> bool {
    c.establishing > 0 || c.last_establish.is_some_and(|t| t >= at)
}

/// Checkout `k` ended: it leaves every sweep; late members are reported.
pub(crate) fn sweep_member_ended(
    model: &mut Model,
    k: CheckoutId,
    now: Duration,
    config: &OracleConfig,
) -> Vec<String> {
    let mut messages = Vec::new();
    let checkout = model.checkout(k).cloned();
    for sweep in &mut model.sweeps {
        let Some(pos) = sweep.members.iter().position(|m| *m == k) else {
            continue;
        };
        sweep.members.remove(pos);
        let Some(c) = &checkout else { continue };
        if now > sweep.at.saturating_add(config.tolerance) && !exempt(c, sweep.at) {
            messages.push(format!(
                "the {} at {:.6}s should have failed waiting checkout {k} at once; it ended \
                 only at {:.6}s",
                sweep.what,
                sweep.at.as_secs_f64(),
                now.as_secs_f64()
            ));
        }
    }
    model.sweeps.retain(|s| !s.members.is_empty());
    messages
}

/// An ERR obligation that is overdue.
pub(crate) enum Overdue {
    /// Checkout `k`'s establishment error has not reached it.
    Undelivered(CheckoutId),
    /// The sweep at `at` has not failed checkout `k`.
    Unswept(Duration, CheckoutId),
}

/// The first ERR obligation overdue by `by` that `reported` does not hold already:
/// which, when it became overdue, and why.
pub(crate) fn overdue(
    model: &Model,
    by: Duration,
    config: &OracleConfig,
    reported: impl Fn(&Overdue) -> bool,
) -> Option<(Overdue, Duration, String)> {
    let tolerance = config.tolerance;
    for k in &model.outstanding {
        let Some(c) = model.checkout(*k) else {
            continue;
        };
        if let Some(t) = c.connect_failed_at {
            if by > t.saturating_add(tolerance) && !reported(&Overdue::Undelivered(*k)) {
                return Some((
                    Overdue::Undelivered(*k),
                    t.saturating_add(tolerance),
                    format!(
                        "checkout {k}'s establishment failed at {:.6}s and the error has not \
                         reached it",
                        t.as_secs_f64()
                    ),
                ));
            }
        }
    }
    for sweep in &model.sweeps {
        if by <= sweep.at.saturating_add(tolerance) {
            continue;
        }
        for k in &sweep.members {
            let Some(c) = model.checkout(*k) else {
                continue;
            };
            let which = Overdue::Unswept(sweep.at, *k);
            if model.outstanding.contains(k)
                && !c.zombie
                && !exempt(c, sweep.at)
                && !reported(&which)
            {
                return Some((
                    which,
                    sweep.at.saturating_add(tolerance),
                    format!(
                        "the {} at {:.6}s did not fail waiting checkout {k}",
                        sweep.what,
                        sweep.at.as_secs_f64()
                    ),
                ));
            }
        }
    }
    None
}
