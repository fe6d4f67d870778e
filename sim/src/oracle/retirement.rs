//! IDLE: connections are retired for their age no sooner than the options say.
//!
//! A connection closed with reason `Idle` must have been available (since its
//! `ConnectionReady`, `CheckedIn` or `ConnectionValidated`) for at least `maxIdleTime`;
//! a pool without `maxIdleTime` never closes one as idle. A connection closed with reason
//! `Expired` must have lived (since its `ConnectionCreated`) for at least
//! `maxLifetime − maxLifetimeJitter`; a pool without `maxLifetime` never expires one.
//! Both allow the tolerance (a pool reads its clock and reports its events a moment
//! apart), and `Idle` also the slack a pool declares
//! ([`crate::pool_under_test::Capabilities::idle_close_slack`]).
//!
//! Why a check of its own rather than TIME: TIME is about checkouts meeting their
//! deadlines; this is about the pool's connection life cycle (closing too soon churns
//! connections, and under load turns into needless establishments and waits).

use std::time::Duration;

use pool_core::{ConnectionClosedReason, ConnectionId};

use super::model::{Conn, Place};
use super::OracleConfig;

/// Checked at every `ConnectionClosed` (`conn` is the connection before the close).
pub(crate) fn on_closed(
    id: ConnectionId,
    conn: &Conn,
    reason: ConnectionClosedReason,
    now: Duration,
    config: &OracleConfig,
) -> Option<String> {
    match reason {
        ConnectionClosedReason::Idle => idle(id, conn, now, config),
        ConnectionClosedReason::Expired => expired(id, conn, now, config),
        _ => None,
    }
}

fn idle(id: ConnectionId, conn: &Conn, now: Duration, config: &OracleConfig) -> Option<String> {
    if conn.place != Place::Available {
        return None;
    }
    let since = conn.available_since?;
    let Some(max_idle) = config.max_idle_time else {
        return Some(format!(
            "connection {id} was closed as idle, but maxIdleTime is not set"
        ));
    };
    let idle = now.saturating_sub(since);
    let floor = max_idle
        .saturating_sub(config.idle_close_slack)
        .saturating_sub(config.tolerance);
    (idle < floor).then(|| {
        format!(
            "connection {id} was closed as idle after {:.6}s available (since {:.6}s), \
             but maxIdleTime is {:.6}s",
            idle.as_secs_f64(),
            since.as_secs_f64(),
            max_idle.as_secs_f64()
        )
    })
}

fn expired(id: ConnectionId, conn: &Conn, now: Duration, config: &OracleConfig) -> Option<String> {
    let Some(lifetime) = config.max_lifetime else {
        return Some(format!(
            "connection {id} was closed as expired, but maxLifetime is not set"
        ));
    };
    let age = now.saturating_sub(conn.created_at);
    let floor = lifetime
        .saturating_sub(config.max_lifetime_jitter.unwrap_or_default())
        .saturating_sub(config.tolerance);
    (age < floor).then(|| {
        format!(
            "connection {id} was closed as expired at age {:.6}s, but maxLifetime is {:.6}s \
             (jitter {:.6}s)",
            age.as_secs_f64(),
            lifetime.as_secs_f64(),
            config.max_lifetime_jitter.unwrap_or_default().as_secs_f64()
        )
    })
}
