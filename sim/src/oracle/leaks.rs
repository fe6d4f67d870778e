//! LEAK: every connection is in exactly one place, and nothing is left over.
//!
//! The manager's connection objects are the ground truth: one that is dropped while the
//! pool's events still count it was lost (handed to a dead waiter, dropped on a path
//! that forgot the bookkeeping); one that outlives its `ConnectionClosed` was never
//! released. At quiescence every connection must be available again, and after close
//! none may remain.

use std::collections::BTreeSet;
use std::time::Duration;

use pool_core::ConnectionId;

use super::model::{Model, Place};
use super::{Invariant, OracleConfig};
use crate::pool_under_test::PoolStatus;

/// Checked when connection `id`'s object is dropped.
pub(crate) fn on_dropped(model: &Model, id: ConnectionId) -> Option<String> {
    match model.conn(id).map(|c| c.place) {
        Some(Place::Closed) => None,
        None => Some(format!(
            "connection {id} was made and dropped without the pool ever reporting it"
        )),
        Some(place) => Some(format!(
            "connection {id} was dropped while the pool's events still count it ({place:?}): \
             the connection was lost"
        )),
    }
}

/// Checked at stable points: closed connections must be released promptly. Returns the
/// first one not in `reported` that is held too long.
pub(crate) fn lingering(
    model: &Model,
    now: Duration,
    config: &OracleConfig,
    reported: &BTreeSet<ConnectionId>,
) -> Option<(ConnectionId, String)> {
    model
        .live
        .iter()
        .filter(|id| !reported.contains(id))
        .find_map(|id| {
            let conn = model.conn(*id)?;
            let closed_at = conn.closed_at?;
            (now > closed_at.saturating_add(config.tolerance)).then(|| {
                (
                    *id,
                    format!(
                        "connection {id} was closed at {:.6}s but its object is still held",
                        closed_at.as_secs_f64()
                    ),
                )
            })
        })
}

/// Checked once the workload ended and the pool settled. `manager_observed`: the
/// manager's connections are known (and compared with the available ones).
pub(crate) fn at_quiescence(
    model: &Model,
    status: Option<&PoolStatus>,
    manager_observed: bool,
) -> Vec<(Invariant, String)> {
    let mut found = Vec::new();
    if let Some(k) = model
        .outstanding
        .iter()
        .find(|k| model.checkout(**k).is_some_and(|c| !c.zombie))
    {
        found.push((
            Invariant::Live,
            format!(
                "{} checkout(s) never ended (first: {k})",
                model.outstanding.len()
            ),
        ));
    }
    if model.pending > 0 {
        found.push((
            Invariant::Leak,
            format!(
                "{} connection(s) still establishing at quiescence",
                model.pending
            ),
        ));
    }
    if model.validating > 0 {
        found.push((
            Invariant::Leak,
            format!(
                "{} connection(s) still being validated at quiescence",
                model.validating
            ),
        ));
    }
    if model.in_use > 0 {
        found.push((
            Invariant::Leak,
            format!(
                "{} connection(s) still checked out at quiescence, though every client is done",
                model.in_use
            ),
        ));
    }
    if manager_observed && model.live.len() as u64 != u64::from(model.available) {
        found.push((
            Invariant::Leak,
            format!(
                "the manager holds {} connection(s) but the events say {} are available",
                model.live.len(),
                model.available
            ),
        ));
    }
    if let Some(s) = status {
        if s.total != s.available {
            found.push((
                Invariant::Leak,
                format!(
                    "at quiescence the pool's status says total {} but available {} \
                     (in use {}, pending {})",
                    s.total, s.available, s.in_use, s.pending
                ),
            ));
        }
    }
    found
}

/// Checked once the pool was closed and settled.
pub(crate) fn after_close(model: &Model, status: Option<&PoolStatus>) -> Vec<String> {
    let mut found = Vec::new();
    if model.total() > 0 {
        found.push(format!(
            "after close {} connection(s) remain by the events",
            model.total()
        ));
    }
    if !model.live.is_empty() {
        found.push(format!(
            "after close the manager still holds {} connection(s)",
            model.live.len()
        ));
    }
    if let Some(s) = status.filter(|s| s.total > 0) {
        found.push(format!(
            "after close the pool's status still counts {} connection(s)",
            s.total
        ));
    }
    found
}
