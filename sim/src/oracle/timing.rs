//! TIME: every checkout ends by its deadline plus the tolerance, and by the pool's own
//! bound (if it declares one) plus the tolerance. Zombies are exempt (nobody polls them).

use std::collections::BTreeSet;
use std::time::Duration;

use super::model::{Checkout, Model};
use super::CheckoutId;
use super::OracleConfig;

/// When checkout `c` must have ended.
fn limit(c: &Checkout, config: &OracleConfig) -> Duration {
    let mut end = c.deadline;
    if let Some(bound) = config.checkout_bound {
        end = end.min(c.started.saturating_add(bound));
    }
    end.saturating_add(config.tolerance)
}

/// Checked when a checkout ends.
pub(crate) fn late_end(c: &Checkout, now: Duration, config: &OracleConfig) -> Option<String> {
    let limit = limit(c, config);
    (now > limit).then(|| {
        format!(
            "a checkout that began at {:.6}s with deadline {:.6}s ended at {:.6}s",
            c.started.as_secs_f64(),
            c.deadline.as_secs_f64(),
            now.as_secs_f64()
        )
    })
}

/// The first outstanding checkout not in `reported` that is overdue by `by`: its id,
/// when it became overdue, and why.
pub(crate) fn overdue(
    model: &Model,
    by: Duration,
    config: &OracleConfig,
    reported: &BTreeSet<CheckoutId>,
) -> Option<(CheckoutId, Duration, String)> {
    model
        .outstanding
        .iter()
        .filter(|k| !reported.contains(k))
        .filter_map(|k| model.checkout(*k).map(|c| (*k, c)))
        .filter(|(_, c)| !c.zombie)
        .map(|(k, c)| (limit(c, config), k, c))
        .filter(|(limit, _, _)| by > *limit)
        .min_by_key(|(limit, k, _)| (*limit, *k))
        .map(|(limit, k, c)| {
            (
                k,
                limit,
                format!(
                    "checkout {k} (began {:.6}s, deadline {:.6}s) is still running past its deadline",
                    c.started.as_secs_f64(),
                    c.deadline.as_secs_f64()
                ),
            )
        })
}
