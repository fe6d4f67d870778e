//! What the oracle believes, built only from observations: the pool's events, the
//! manager's connects and drops, and the workload's checkouts. The checkers judge the
//! pool by comparing this model with itself, with the pool's status and with the limits.
//!
//! Every count here is updated with saturating arithmetic: a pool may report anything
//! (an id never seen, a connection closed twice, a counter that wrapped), and the oracle
//! reports such nonsense as a violation; it never panics on it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use pool_core::ConnectionId;

use super::CheckoutId;
use crate::executor::TaskId;

/// Where the pool's events put a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Establishing (after `ConnectionCreated`).
    Pending,
    /// Available (after `ConnectionReady`, `CheckedIn` or `ConnectionValidated`).
    Available,
    /// Being checked before a hand-out (after `ConnectionValidating`): neither available
    /// nor in use.
    Validating,
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
    /// When it was created (`ConnectionCreated`, or its first event).
    pub(crate) created_at: Duration,
    /// When it last became available (`ConnectionReady`, `CheckedIn`,
    /// `ConnectionValidated`), if it is available.
    pub(crate) available_since: Option<Duration>,
    /// It became available straight from its establishment and was never checked out
    /// since (FIFO: a connection made for whoever asked, not one given back).
    pub(crate) fresh: bool,
    /// When it was closed (for the late-drop check).
    pub(crate) closed_at: Option<Duration>,
    /// When it was last checked out, while it is (leak reports).
    pub(crate) out_since: Option<Duration>,
    /// What the pool reported of this checkout as a possible leak.
    pub(crate) leak: LeakReport,
}

/// A checkout's leak reports, in the order they may come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum LeakReport {
    /// Nothing reported.
    #[default]
    None,
    /// `LeakSuspected` came.
    Suspected,
    /// `LeakReturned` came after it.
    Returned,
    /// The threshold passed without a report (already a violation).
    Missed,
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
    /// Connections its task is validating before handing one to it.
    pub(crate) validating: u32,
    /// When it last started driving an establishment.
    pub(crate) last_establish: Option<Duration>,
    /// The earlier checkouts that waited when it last started driving an establishment
    /// (its grant, for FIFO, if it is served by that connection).
    pub(crate) ahead_at_grant: Vec<CheckoutId>,
    /// The connection it was last handed to validate (`ConnectionValidating` on its
    /// task), and the earlier checkouts that waited then: that hand-over was its grant,
    /// for FIFO, if it is served by that connection.
    pub(crate) validated: Option<(ConnectionId, Vec<CheckoutId>)>,
    /// When a connect this checkout drove failed, if one did.
    pub(crate) connect_failed_at: Option<Duration>,
    /// A connect it drove failed or was abandoned (justifies a connect-class failure).
    pub(crate) connect_error: bool,
    /// Some establishment failed while it was outstanding.
    pub(crate) creation_error_during: bool,
    /// The pool was paused (by a clear the harness asked for, or one the pool's declared
    /// capabilities explain) when it began, or was so cleared while it was outstanding.
    pub(crate) cleared_during: bool,
    /// The pool was closed while it was outstanding.
    pub(crate) closed_during: bool,
}

impl Checkout {
    /// A checkout that began at `started` with `deadline`.
    pub(crate) fn new(task: Option<TaskId>, started: Duration, deadline: Duration) -> Checkout {
        Checkout {
            task,
            started,
            deadline,
            zombie: false,
            establishing: 0,
            validating: 0,
            last_establish: None,
            ahead_at_grant: Vec::new(),
            validated: None,
            connect_failed_at: None,
            connect_error: false,
            creation_error_during: false,
            cleared_during: false,
            closed_during: false,
        }
    }
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
    /// Connections by id.
    pub(crate) conns: BTreeMap<ConnectionId, Conn>,
    pub(crate) pending: u32,
    pub(crate) available: u32,
    pub(crate) validating: u32,
    pub(crate) in_use: u32,
    /// `PoolCleared` events so far.
    pub(crate) epoch: u64,
    pub(crate) paused: bool,
    /// The current pause was not asked for by the harness nor explained by a declared
    /// capability (checkouts it fails are not justified).
    pub(crate) paused_unasked: bool,
    pub(crate) closed: bool,
    /// The harness asked the pool to close ([`super::Oracle::close_requested`]).
    pub(crate) close_requested: bool,
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
    /// The checkout that drove each connection's connect, if one did.
    pub(crate) driven_by: BTreeMap<ConnectionId, CheckoutId>,
    /// Connections being validated, with the checkout whose task validates each.
    pub(crate) validating_for: BTreeMap<ConnectionId, CheckoutId>,
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

    /// pending + available + validating + in use.
    pub(crate) fn total(&self) -> u32 {
        self.pending
            .saturating_add(self.available)
            .saturating_add(self.validating)
            .saturating_add(self.in_use)
    }

    pub(crate) fn conn(&self, id: ConnectionId) -> Option<Conn> {
        self.conns.get(&id).copied()
    }

    fn count_mut(&mut self, place: Place) -> Option<&mut u32> {
        match place {
            Place::Pending => Some(&mut self.pending),
            Place::Available => Some(&mut self.available),
            Place::Validating => Some(&mut self.validating),
            Place::InUse => Some(&mut self.in_use),
            Place::Closed => None,
        }
    }

    /// Moves connection `id` from wherever it is to `to`, keeping the counts.
    pub(crate) fn move_conn(&mut self, id: ConnectionId, to: Place, now: Duration) {
        let from = self.conn(id).map(|c| c.place);
        if let Some(count) = from.and_then(|p| self.count_mut(p)) {
            *count = count.saturating_sub(1);
        }
        if let Some(count) = self.count_mut(to) {
            *count = count.saturating_add(1);
        }
        let epoch = self.epoch;
        let conn = self.conns.entry(id).or_insert(Conn {
            place: to,
            epoch,
            created_at: now,
            available_since: None,
            fresh: false,
            closed_at: None,
            out_since: None,
            leak: LeakReport::None,
        });
        if to == Place::InUse && conn.place != Place::InUse {
            conn.out_since = Some(now);
            conn.leak = LeakReport::None;
        } else if to != Place::InUse {
            conn.out_since = None;
        }
        conn.place = to;
        conn.available_since = (to == Place::Available).then_some(now);
        if to == Place::Closed {
            conn.closed_at = Some(now);
        }
        if let Some(k) = self.validating_for.remove(&id) {
            if let Some(c) = self.checkout_mut(k) {
                c.validating = c.validating.saturating_sub(1);
            }
        }
    }

    pub(crate) fn checkout(&self, k: CheckoutId) -> Option<&Checkout> {
        usize::try_from(k).ok().and_then(|i| self.checkouts.get(i))
    }

    pub(crate) fn checkout_mut(&mut self, k: CheckoutId) -> Option<&mut Checkout> {
        usize::try_from(k)
            .ok()
            .and_then(|i| self.checkouts.get_mut(i))
    }

    /// True if `k` is outstanding and waits for the pool: not a zombie, not driving an
    /// establishment of its own, not validating a connection for itself.
    pub(crate) fn is_waiting(&self, k: CheckoutId) -> bool {
        self.outstanding.contains(&k)
            && self
                .checkout(k)
                .is_some_and(|c| !c.zombie && c.establishing == 0 && c.validating == 0)
    }

    /// Outstanding checkouts that are waiting for the pool, in arrival order.
    pub(crate) fn waiting(&self) -> impl Iterator<Item = CheckoutId> + '_ {
        self.outstanding
            .iter()
            .copied()
            .filter(|k| self.is_waiting(*k))
    }
}
