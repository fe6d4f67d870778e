//! How the oracle follows a pool's own events: each one moves a connection between places
//! in the model (pending, available, validating, in use, closed) and is checked on the
//! spot (MAX at creation and check-out, STALE at check-out, LEAK and ACCT for a connection
//! that is not where the event says, IDLE at close, CLEAR at a clear nobody asked for).

use std::time::Duration;

use pool_core::{ConnectionClosedReason, ConnectionId};

use super::model::{Place, Sweep};
use super::{leak_reports, limits, retirement, staleness, CheckoutId, Invariant, Oracle};
use crate::executor::TaskId;
use crate::pool_under_test::PoolEvent;

impl Oracle {
    /// A pool event (reported from no particular task).
    pub fn pool_event(&mut self, now: Duration, event: &PoolEvent) {
        self.pool_event_from(now, None, event);
    }

    /// A pool event, reported from `task` (the task matters for `ConnectionValidating`:
    /// the checkout running on it is validating, not waiting).
    pub fn pool_event_from(&mut self, now: Duration, task: Option<TaskId>, event: &PoolEvent) {
        self.cover_event(now, event);
        match *event {
            PoolEvent::PoolReady => {
                self.model.paused = false;
                self.model.paused_unasked = false;
            }
            PoolEvent::PoolCleared { .. } => self.on_cleared(now),
            PoolEvent::PoolClosed => {
                self.model.closed = true;
                self.start_sweep(now, "close");
            }
            PoolEvent::ConnectionCreated { id } => self.on_created(now, id),
            PoolEvent::ConnectionReady { id } => {
                self.expect_place(now, id, Place::Pending, "ConnectionReady");
                self.model.move_conn(id, Place::Available, now);
                if let Some(conn) = self.model.conns.get_mut(&id) {
                    conn.fresh = true;
                }
            }
            PoolEvent::ConnectionClosed { id, reason } => self.on_closed(now, id, reason),
            PoolEvent::CheckOutStarted => {}
            PoolEvent::CheckOutFailed { .. } => {
                let counts = &mut self.model.counts;
                counts.checkout_failed = counts.checkout_failed.saturating_add(1);
            }
            PoolEvent::CheckedOut { id } => self.on_checked_out(now, id),
            PoolEvent::CheckedIn { id } => {
                if let Some(message) = leak_reports::on_checked_in(&self.model, &self.config, id) {
                    self.violate(Invariant::Time, now, message);
                }
                self.expect_place(now, id, Place::InUse, "CheckedIn");
                self.model.move_conn(id, Place::Available, now);
                if let Some(conn) = self.model.conns.get_mut(&id) {
                    conn.fresh = false;
                }
            }
            PoolEvent::ConnectionValidating { id } => self.on_validating(now, task, id),
            PoolEvent::ConnectionValidated { id } => {
                self.expect_place(now, id, Place::Validating, "ConnectionValidated");
                self.model.move_conn(id, Place::Available, now);
            }
            PoolEvent::LeakSuspected { id } => {
                if let Some(message) =
                    leak_reports::on_suspected(&mut self.model, &self.config, now, id)
                {
                    self.violate(Invariant::Time, now, message);
                }
            }
            PoolEvent::LeakReturned { id } => {
                if let Some(message) = leak_reports::on_returned(&mut self.model, id) {
                    self.violate(Invariant::Time, now, message);
                }
            }
        }
    }

    /// `ConnectionCreated`: a new id (LEAK if it is not), pending, within the limits (MAX).
    fn on_created(&mut self, now: Duration, id: ConnectionId) {
        if self.model.conn(id).is_some() {
            self.violate(
                Invariant::Leak,
                now,
                format!("connection id {id} created twice"),
            );
        }
        let counts = &mut self.model.counts;
        counts.created = counts.created.saturating_add(1);
        self.model.move_conn(id, Place::Pending, now);
        if let Some(conn) = self.model.conns.get_mut(&id) {
            conn.created_at = now;
        }
        if let Some(message) = limits::on_created(&self.model, &self.config) {
            self.violate(Invariant::Max, now, message);
        }
    }

    /// `CheckedOut`: of the current generation (STALE), available or validated, not
    /// already in use (LEAK), and within maxPoolSize (MAX).
    fn on_checked_out(&mut self, now: Duration, id: ConnectionId) {
        let counts = &mut self.model.counts;
        counts.checked_out = counts.checked_out.saturating_add(1);
        // Within the arrival slack of a clear, the checkout may have taken the connection
        // before the clear and reported it after (real threads; zero in the simulator).
        let just_cleared = now < self.cleared_at.saturating_add(self.config.arrival_slack);
        if let Some(message) = staleness::on_checked_out(&self.model, id) {
            if !just_cleared {
                self.violate(Invariant::Stale, now, message);
            }
        }
        match self.model.conn(id).map(|c| c.place) {
            Some(Place::InUse) => self.violate(
                Invariant::Leak,
                now,
                format!("connection {id} checked out twice at once"),
            ),
            Some(Place::Validating) => {}
            _ => self.expect_place(now, id, Place::Available, "CheckedOut"),
        }
        self.model.move_conn(id, Place::InUse, now);
        if let Some(message) = limits::on_checked_out(&self.model, &self.config) {
            self.violate(Invariant::Max, now, message);
        }
    }

    /// `ConnectionValidating`: an available connection is being checked, by the checkout
    /// running on `task` if there is one (that checkout is busy, not waiting).
    fn on_validating(&mut self, now: Duration, task: Option<TaskId>, id: ConnectionId) {
        self.expect_place(now, id, Place::Available, "ConnectionValidating");
        self.model.move_conn(id, Place::Validating, now);
        let by = task.and_then(|t| self.model.task_checkout.get(&t).copied());
        if let Some(k) = by.filter(|k| self.model.outstanding.contains(k)) {
            let ahead: Vec<CheckoutId> = self.model.waiting().take_while(|j| *j < k).collect();
            if let Some(c) = self.model.checkout_mut(k) {
                c.validating = c.validating.saturating_add(1);
                c.validated = Some((id, ahead));
                self.model.validating_for.insert(id, k);
            }
        }
    }

    fn on_cleared(&mut self, now: Duration) {
        self.cleared_at = now;
        let m = &mut self.model;
        m.epoch = m.epoch.saturating_add(1);
        let asked = !self.clears_reported || self.witness.justifies(now, &self.config);
        if !asked {
            if let Some(message) = self.witness.on_cleared(now, &self.config) {
                self.violate(Invariant::Clear, now, message);
            }
        }
        // A clear while paused keeps the pause's standing if it was asked.
        let m = &mut self.model;
        m.paused_unasked = if m.paused {
            m.paused_unasked && !asked
        } else {
            !asked
        };
        m.paused = true;
        self.start_sweep(now, if asked { "clear" } else { "unasked clear" });
    }

    fn on_closed(&mut self, now: Duration, id: ConnectionId, reason: ConnectionClosedReason) {
        let conn = self.model.conn(id);
        let was = conn.map(|c| c.place);
        let counts = &mut self.model.counts;
        counts.closed = counts.closed.saturating_add(1);
        if was == Some(Place::Pending) && reason == ConnectionClosedReason::Error {
            self.witness.connect_failed_at = Some(now);
            for k in self.model.outstanding.clone() {
                if let Some(c) = self.model.checkout_mut(k) {
                    c.creation_error_during = true;
                }
            }
        }
        match was {
            Some(Place::InUse) => self.violate(
                Invariant::Leak,
                now,
                format!("connection {id} closed while checked out (no CheckedIn)"),
            ),
            Some(Place::Closed) | None => self.violate(
                Invariant::Acct,
                now,
                format!("ConnectionClosed for connection {id}, which is not open"),
            ),
            _ => {}
        }
        if let Some(conn) = conn {
            if let Some(message) = retirement::on_closed(id, &conn, reason, now, &self.config) {
                self.violate(Invariant::Idle, now, message);
            }
        }
        self.model.move_conn(id, Place::Closed, now);
    }

    fn expect_place(&mut self, now: Duration, id: ConnectionId, want: Place, event: &str) {
        let place = self.model.conn(id).map(|c| c.place);
        if place != Some(want) {
            self.violate(
                Invariant::Acct,
                now,
                format!(
                    "{event} for connection {id}, which the events put at {place:?}, not {want:?}"
                ),
            );
        }
    }

    fn start_sweep(&mut self, now: Duration, what: &'static str) {
        let members: Vec<CheckoutId> = self.model.waiting().collect();
        let unasked = what == "unasked clear";
        for k in self.model.outstanding.clone() {
            if let Some(c) = self.model.checkout_mut(k) {
                match what {
                    "close" => c.closed_during = true,
                    _ if unasked => {}
                    _ => c.cleared_during = true,
                }
            }
        }
        if !members.is_empty() {
            self.model.sweeps.push(Sweep {
                at: now,
                what,
                members,
            });
        }
    }
}
