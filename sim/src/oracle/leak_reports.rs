//! TIME, for pools that report leaks ([`Capabilities::leak_detection`]): a connection
//! checked out for longer than `leak_detection_threshold` is reported once
//! (`LeakSuspected`) no sooner than the threshold and no later than the threshold plus
//! the tolerance, and, if it then comes back, reported again (`LeakReturned`) before its
//! `CheckedIn`. A connection returned in time is never reported.
//!
//! [`Capabilities::leak_detection`]: crate::pool_under_test::Capabilities::leak_detection

use std::time::Duration;

use pool_core::ConnectionId;

use super::config::OracleConfig;
use super::model::{LeakReport, Model, Place};

/// `LeakSuspected` for `id` at `now`: what is wrong with it, if anything (it is recorded
/// either way).
pub(crate) fn on_suspected(
    model: &mut Model,
    config: &OracleConfig,
    now: Duration,
    id: ConnectionId,
) -> Option<String> {
    let Some(threshold) = config.leak_detection_threshold else {
        return Some(format!(
            "connection {id} reported as a leak with leak detection off"
        ));
    };
    let conn = model.conns.get_mut(&id)?;
    let (Place::InUse, Some(since)) = (conn.place, conn.out_since) else {
        return Some(format!(
            "connection {id} reported as a leak while not checked out"
        ));
    };
    let earlier = conn.leak;
    conn.leak = LeakReport::Suspected;
    let held = now.saturating_sub(since);
    match earlier {
        LeakReport::None if held < threshold => Some(format!(
            "connection {id} reported as a leak after {} ms, before the threshold of {} ms",
            held.as_millis(),
            threshold.as_millis()
        )),
        LeakReport::None | LeakReport::Missed => None,
        LeakReport::Suspected | LeakReport::Returned => Some(format!(
            "connection {id} reported as a leak twice in one checkout"
        )),
    }
}

/// `LeakReturned` for `id`: it must follow a `LeakSuspected` of the same checkout.
pub(crate) fn on_returned(model: &mut Model, id: ConnectionId) -> Option<String> {
    let conn = model.conns.get_mut(&id)?;
    if conn.place != Place::InUse || conn.leak != LeakReport::Suspected {
        return Some(format!(
            "LeakReturned for connection {id}, which was not reported as a leak in this checkout"
        ));
    }
    conn.leak = LeakReport::Returned;
    None
}

/// `CheckedIn` for `id` (before the model moves it): a connection reported as a leak must
/// have been reported back.
pub(crate) fn on_checked_in(
    model: &Model,
    config: &OracleConfig,
    id: ConnectionId,
) -> Option<String> {
    if !config.leak_detection {
        return None;
    }
    let conn = model.conns.get(&id)?;
    (conn.place == Place::InUse && conn.leak == LeakReport::Suspected)
        .then(|| format!("connection {id} came back after a leak report without LeakReturned"))
}

/// The connections held past the threshold plus the tolerance and not reported, each
/// marked so it is found once.
pub(crate) fn missed(model: &mut Model, config: &OracleConfig, now: Duration) -> Vec<String> {
    let (true, Some(threshold)) = (config.leak_detection, config.leak_detection_threshold) else {
        return Vec::new();
    };
    let due = threshold.saturating_add(config.tolerance);
    let mut found = Vec::new();
    for (id, conn) in model.conns.iter_mut() {
        let Some(since) = conn.out_since else {
            continue;
        };
        if conn.place == Place::InUse
            && conn.leak == LeakReport::None
            && now.saturating_sub(since) > due
        {
            conn.leak = LeakReport::Missed;
            found.push(format!(
                "connection {id} held {} ms, past the leak threshold of {} ms, and not reported",
                now.saturating_sub(since).as_millis(),
                threshold.as_millis()
            ));
        }
    }
    found
}
