//! What the oracle believes, built only from observations: the pool's events, the
//! manager's connects and drops, and the workload's checkouts. The checkers judge the
//! pool by comparing this model with itself, with the pool's status and with the limits.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pool_core::ConnectionId;

use crate::executor::TaskId;
use crate::trace::CheckoutId;

/// Where the pool's events put a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Establishing (after `ConnectionCreated`).
    Pending,
    /// Available (after `ConnectionReady` or `CheckedIn`).
    Available,
    /// Checked out (after `CheckedOut`).
    InUse,
    /// Gone (after `ConnectionClosed`).
    Closed,
}

/// One connection, as the events describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Conn {
    pub(crate) place: Place,
    /// The number of `PoolCleared` events seen when it was created.
    pub(crate) epoch: u64,
    /// When it was closed (for the late-drop check).
    pub(crate) closed_at: Option<Duration>,
}

/// One checkout of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checkout {
    pub(crate) task: Option<TaskId>,
    pub(crate) started: Duration,
    pub(crate) deadline: Duration,
    /// The client stopped polling it (it is neither a waiter nor a user).
    pub(crate) zombie: bool,
    /// Connects driven by this checkout's task that are in flight.
    pub(crate) establishing: u32,
    /// When it last started driving an establishment.
    pub(crate) last_establish: Option<Duration>,
    /// When a connect this checkout drove failed, if one did.
    pub(crate) connect_failed_at: Option<Duration>,
    /// A connect it drove failed or was abandoned (justifies a connect-class failure).
    pub(crate) connect_error: bool,
    /// Some establishment failed while it was outstanding.
    pub(crate) creation_error_during: bool,
    /// The pool was paused when it began or was cleared while it was outstanding.
    pub(crate) cleared_during: bool,
    /// The pool was closed while it was outstanding.
    pub(crate) closed_during: bool,
}

/// Counts of the pool's events (for ACCT).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct EventCounts {
    pub(crate) created: u64,
    pub(crate) closed: u64,
    pub(crate) checked_out: u64,
    pub(crate) checkout_failed: u64,
}

/// A clear or close that must fail the waiting checkouts promptly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sweep {
    pub(crate) at: Duration,
    pub(crate) what: &'static str,
    /// Checkouts outstanding (and not establishing) when it happened.
    pub(crate) members: Vec<CheckoutId>,
}

/// The whole observed state.
#[derive(Debug, Default)]
pub(crate) struct Model {
    /// Connections by id (index = id).
    pub(crate) conns: Vec<Option<Conn>>,
    pub(crate) pending: u32,
    pub(crate) available: u32,
    pub(crate) in_use: u32,
    /// `PoolCleared` events so far.
    pub(crate) epoch: u64,
    pub(crate) paused: bool,
    pub(crate) closed: bool,
    pub(crate) counts: EventCounts,
    /// Checkouts by id (index = id).
    pub(crate) checkouts: Vec<Checkout>,
    /// Checkouts begun and not ended, in arrival order.
    pub(crate) outstanding: BTreeSet<CheckoutId>,
    /// The checkout each client task is in.
    pub(crate) task_checkout: BTreeMap<TaskId, CheckoutId>,
    /// Connection objects alive (established and not dropped).
    pub(crate) live: BTreeSet<ConnectionId>,
    /// Connects in flight, with the checkout that drove each.
    pub(crate) connecting: BTreeMap<ConnectionId, Option<CheckoutId>>,
    /// Clears and closes whose waiters must fail promptly.
    pub(crate) sweeps: Vec<Sweep>,
}

impl Model {
    pub(crate) fn new() -> Model {
        Model {
            paused: true,
            ..Model::default()
        }
    }

    /// pending + available + in use.
    pub(crate) fn total(&self) -> u32 {
        self.pending + self.available + self.in_use
    }

    pub(crate) fn conn(&self, id: ConnectionId) -> Option<Conn> {
        self.conns.get(id as usize).copied().flatten()
    }

    pub(crate) fn conn_mut(&mut self, id: ConnectionId) -> &mut Option<Conn> {
        let index = id as usize;
        if self.conns.len() <= index {
            self.conns.resize(index + 1, None);
        }
        &mut self.conns[index]
    }

    /// Moves connection `id` from wherever it is to `to`, keeping the counts.
    pub(crate) fn move_conn(&mut self, id: ConnectionId, to: Place, now: Duration) {
        let from = self.conn(id).map(|c| c.place);
        match from {
            Some(Place::Pending) => self.pending -= 1,
            Some(Place::Available) => self.available -= 1,
            Some(Place::InUse) => self.in_use -= 1,
            Some(Place::Closed) | None => {}
        }
        match to {
            Place::Pending => self.pending += 1,
            Place::Available => self.available += 1,
            Place::InUse => self.in_use += 1,
            Place::Closed => {}
        }
        let epoch = self.epoch;
        let slot = self.conn_mut(id);
        let conn = slot.get_or_insert(Conn {
            place: to,
            epoch,
            closed_at: None,
        });
        conn.place = to;
        if to == Place::Closed {
            conn.closed_at = Some(now);
        }
    }

    pub(crate) fn checkout(&self, k: CheckoutId) -> Option<&Checkout> {
        self.checkouts.get(k as usize)
    }

    pub(crate) fn checkout_mut(&mut self, k: CheckoutId) -> Option<&mut Checkout> {
        self.checkouts.get_mut(k as usize)
    }

    /// Outstanding checkouts that are waiting for the pool: not zombies, not driving an
    /// establishment of their own.
    pub(crate) fn waiting(&self) -> impl Iterator<Item = CheckoutId> + '_ {
        self.outstanding.iter().copied().filter(|k| {
            self.checkout(*k)
                .is_some_and(|c| !c.zombie && c.establishing == 0)
        })
    }
}
