//! [`TrackedConnection`]: a simulated connection that reports its own end.
//!
//! # State machine
//! ```text
//! healthy ──mark_errored()──▶ errored
//!    │                           │
//!    └────────── drop ───────────┴──▶ ConnectionClosed{reason} emitted, socket closed
//! ```
//! Invariants: exactly one `ConnectionClosed` per tracked connection, emitted by its
//! `Drop` just before the simulated socket goes, whoever drops it (the pool, its reaper,
//! a Tokio task, the executor at shutdown). The reason is, in this order: the one given
//! to [`TrackedConnection::close`]; `error` if its user marked it errored; `poolClosed`
//! once the pool's [`PoolEvents::close`] ran; otherwise `error` (a pool that drops a
//! healthy connection of an open pool without saying why is reported, not hidden).

use pool_core::{ConnectionClosedReason, ConnectionId};

use super::events::PoolEvents;
use crate::manager::SimConnection;
use crate::pool_under_test::PoolEvent;

/// A connection as a pool holds it. Made by
/// [`ConnectAttempt::established`](super::ConnectAttempt::established) (or
/// [`Connector::connect`](super::Connector::connect)).
pub struct TrackedConnection {
    conn: SimConnection,
    id: ConnectionId,
    errored: bool,
    reason: Option<ConnectionClosedReason>,
    events: PoolEvents,
}

impl std::fmt::Debug for TrackedConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackedConnection")
            .field("id", &self.id)
            .field("errored", &self.errored)
            .finish()
    }
}

impl TrackedConnection {
    pub(super) fn new(conn: SimConnection, id: ConnectionId, events: PoolEvents) -> Self {
        TrackedConnection {
            conn,
            id,
            errored: false,
            reason: None,
            events,
        }
    }

    /// Its id (the one its `ConnectionCreated` carried).
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The connection, to run commands on.
    pub fn connection(&mut self) -> &mut SimConnection {
        &mut self.conn
    }

    /// Marks it errored: a pool's health check should reject it, and its close is
    /// reported with reason `error`.
    pub fn mark_errored(&mut self) {
        self.errored = true;
    }

    /// True once marked errored.
    pub fn is_errored(&self) -> bool {
        self.errored
    }

    /// Closes it now with `reason` (for pools written on the kit that know why they
    /// close: `idle`, `stale`, …).
    pub fn close(mut self, reason: ConnectionClosedReason) {
        self.reason = Some(reason);
    }
}

impl Drop for TrackedConnection {
    fn drop(&mut self) {
        let reason = match self.reason {
            Some(reason) => reason,
            None if self.errored => ConnectionClosedReason::Error,
            None if self.events.is_closed() => ConnectionClosedReason::PoolClosed,
            None => ConnectionClosedReason::Error,
        };
        self.events.emit(PoolEvent::ConnectionClosed {
            id: self.id,
            reason,
        });
    }
}
