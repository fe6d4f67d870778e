//! ACCT: the pool's own status agrees with the counts its events imply.
//!
//! Compared at stable points: total, pending, available + in use (a connection granted
//! to a waiter that has not resumed counts as in use in a pool's status but is still
//! available by the events, so only the sum is compared), the paused and closed flags,
//! and the lifetime counters if the pool keeps them. A disagreement must persist for the
//! tolerance to count. Any value is accepted as input: a wrapped counter is a
//! disagreement, never an overflow.

use super::model::Model;
use crate::pool_under_test::PoolStatus;

/// The disagreement, described, if any.
pub(crate) fn compare(model: &Model, status: &PoolStatus) -> Option<String> {
    let mut diffs = Vec::new();
    if status.total != model.total() {
        diffs.push(format!("total {} vs {}", status.total, model.total()));
    }
    if status.pending != model.pending {
        diffs.push(format!("pending {} vs {}", status.pending, model.pending));
    }
    // Summed in u64: a pool may report counters near (or wrapped past) u32::MAX. A
    // connection being validated counts as available or in use in a pool's status.
    let (mine, theirs) = (
        u64::from(status.available) + u64::from(status.in_use),
        u64::from(model.available) + u64::from(model.validating) + u64::from(model.in_use),
    );
    if mine != theirs {
        diffs.push(format!("available+in use {mine} vs {theirs}"));
    }
    if status.paused != model.paused {
        diffs.push(format!("paused {} vs {}", status.paused, model.paused));
    }
    if status.closed != model.closed {
        diffs.push(format!("closed {} vs {}", status.closed, model.closed));
    }
    if let Some(c) = status.counters {
        let e = model.counts;
        for (name, a, b) in [
            ("created", c.created, e.created),
            ("closed", c.closed, e.closed),
            ("checked out", c.checked_out, e.checked_out),
            ("checkouts failed", c.checkout_failed, e.checkout_failed),
        ] {
            if a != b {
                diffs.push(format!("{name} {a} vs {b}"));
            }
        }
    }
    (!diffs.is_empty()).then(|| format!("status vs events: {}", diffs.join(", ")))
}
