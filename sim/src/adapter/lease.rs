//! [`PooledLease`]: a pool's checked-out handle as a [`Lease`](crate::Lease).
//!
//! # State machine
//! ```text
//! held ──drop──▶ CheckedIn{id} emitted ──▶ handle dropped (in the bridge's context if any)
//!                                          └─▶ the pool takes the connection back
//! ```
//! Invariants: `CheckedIn` is emitted before the pool sees the connection again, so the
//! oracle never sees a connection checked out twice without a check-in between; the
//! handle is dropped exactly once.

use std::ops::DerefMut;

use pool_core::ConnectionId;

use super::connection::TrackedConnection;
use super::events::PoolEvents;
use super::tokio_bridge::TokioBridge;
use crate::manager::SimConnection;
use crate::pool_under_test::LeaseInner;

/// Wraps a pool's guard (`deadpool::managed::Object`, `bb8::PooledConnection`, or a pool's
/// own) that dereferences to a [`TrackedConnection`] and gives it back when dropped.
pub struct PooledLease<H> {
    /// `Some` from construction until `Drop` takes it.
    handle: Option<H>,
    id: ConnectionId,
    events: PoolEvents,
    bridge: Option<TokioBridge>,
}

impl<H> std::fmt::Debug for PooledLease<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PooledLease").field("id", &self.id).finish()
    }
}

impl<H: DerefMut<Target = TrackedConnection>> PooledLease<H> {
    /// A lease over `handle`, reporting its check-in to `events`.
    pub fn new(events: &PoolEvents, handle: H) -> PooledLease<H> {
        PooledLease {
            id: handle.id(),
            handle: Some(handle),
            events: events.clone(),
            bridge: None,
        }
    }

    /// Gives the handle back inside `bridge`'s context (for pools that spawn or use Tokio
    /// timers at check-in).
    pub fn dropped_in(mut self, bridge: &TokioBridge) -> PooledLease<H> {
        self.bridge = Some(bridge.clone());
        self
    }

    fn conn(&mut self) -> Option<&mut TrackedConnection> {
        self.handle.as_deref_mut()
    }
}

impl<H: DerefMut<Target = TrackedConnection> + Send + 'static> LeaseInner for PooledLease<H> {
    fn id(&self) -> ConnectionId {
        self.id
    }

    fn connection(&mut self) -> &mut SimConnection {
        match self.conn() {
            Some(conn) => conn.connection(),
            // `handle` is `None` only inside `Drop`, where no one can call this.
            None => unreachable!("a lease holds its connection until it is dropped"),
        }
    }

    fn mark_errored(&mut self) {
        if let Some(conn) = self.conn() {
            conn.mark_errored();
        }
    }
}

impl<H> Drop for PooledLease<H> {
    fn drop(&mut self) {
        self.events.checked_in(self.id);
        let handle = self.handle.take();
        match &self.bridge {
            Some(bridge) => bridge.enter(|| drop(handle)),
            None => drop(handle),
        }
    }
}

/// A checked-out [`TrackedConnection`] that is handed to `give_back` when dropped: the
/// handle for a pool written on the kit (wrap it in a [`PooledLease`]).
pub struct Returning<F: FnOnce(TrackedConnection)> {
    /// Both `Some` from construction until `Drop` takes them.
    conn: Option<TrackedConnection>,
    give_back: Option<F>,
}

impl<F: FnOnce(TrackedConnection)> std::fmt::Debug for Returning<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Returning")
            .field("conn", &self.conn)
            .finish()
    }
}

impl<F: FnOnce(TrackedConnection)> Returning<F> {
    /// `conn`, given to `give_back` when this is dropped.
    pub fn new(conn: TrackedConnection, give_back: F) -> Returning<F> {
        Returning {
            conn: Some(conn),
            give_back: Some(give_back),
        }
    }
}

impl<F: FnOnce(TrackedConnection)> std::ops::Deref for Returning<F> {
    type Target = TrackedConnection;

    fn deref(&self) -> &TrackedConnection {
        match &self.conn {
            Some(conn) => conn,
            // `conn` is `None` only inside `Drop`.
            None => unreachable!("a returning handle holds its connection until dropped"),
        }
    }
}

impl<F: FnOnce(TrackedConnection)> DerefMut for Returning<F> {
    fn deref_mut(&mut self) -> &mut TrackedConnection {
        match &mut self.conn {
            Some(conn) => conn,
            // `conn` is `None` only inside `Drop`.
            None => unreachable!("a returning handle holds its connection until dropped"),
        }
    }
}

impl<F: FnOnce(TrackedConnection)> Drop for Returning<F> {
    fn drop(&mut self) {
        if let (Some(conn), Some(give_back)) = (self.conn.take(), self.give_back.take()) {
            give_back(conn);
        }
    }
}
