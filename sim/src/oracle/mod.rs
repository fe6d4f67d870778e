//! The oracle: sees every observation as it happens and checks poolcheck's invariants on
//! every event and at every *stable point* (no task ready, just before virtual time
//! moves).
//!
//! | invariant | checked by | what |
//! |---|---|---|
//! | MAX | [`limits`] | total ≤ maxPoolSize, pending ≤ maxConnecting (events and manager); with [`OracleConfig::event_lag`], in use ≤ maxPoolSize at every check-out |
//! | LIVE | [`liveness`] | no waiter sleeps while a connection is available or could be made, for longer than the tolerance; no deadlock; no livelock |
//! | LEAK | [`leaks`] | every connection in exactly one place; at quiescence total == available |
//! | FIFO | [`fifo`] | checkouts are granted in arrival order (no later checkout served while an earlier one still waits) |
//! | TIME | [`timing`] | every checkout ends by its deadline (and the pool's own bound) + tolerance |
//! | ERR | [`errors`] | failures have a cause, reach the right checkout promptly; clear/close fail waiters at once |
//! | STALE | [`staleness`] | no connection of an old generation is checked out after the clear's event |
//! | ACCT | [`accounting`] | the pool's status agrees with the event-derived counts |
//! | CLEAR | [`clears`] | the pool clears or pauses only when asked (or for a reason its capabilities declare) |
//! | IDLE | [`retirement`] | no connection is closed as idle before maxIdleTime, or as expired before maxLifetime − jitter |
//! | PANIC | the run loop | nothing of the pool panics (tasks, drops, build, status, close) |
//! | NONDET | the sweep | a re-run seed gives the same trace hash |
//!
//! Labels here are the oracle's (`ORACLE-MAX` … `ORACLE-NONDET` in `INVARIANTS.md`);
//! reports print them unprefixed (`MAX`, …).
//!
//! The oracle knows the pool only from outside: its events, its status, the connections
//! the manager made and dropped, and the checkouts the workload began and ended. It
//! deliberately allows for what a correct pool may do: a checkout that is establishing
//! (or validating) its own connection is not "waiting"; a zombie (a checkout nobody
//! polls) is neither a waiter nor a user; grants take effect when the woken task runs,
//! which is before time moves.
//!
//! On real threads and wall-clock time, [`crate::Judge`] runs it on CMAP events alone.
//!
//! It never panics on what it is fed: any event sequence, any ids, any status values
//! (out of order, repeated, wrapped) are judged, and nonsense is reported (mostly as ACCT
//! or LEAK). It keeps every distinct violation (see [`ledger`]), so a run may go on after
//! the first one.

pub mod accounting;
pub mod clears;
mod config;
pub mod coverage;
pub mod errors;
pub mod fifo;
mod leak_reports;
pub mod leaks;
pub mod ledger;
pub mod limits;
pub mod liveness;
pub(crate) mod model;
mod pool_events;
pub mod retirement;
pub mod staleness;
pub mod timing;
mod verdict;

use std::time::Duration;

use pool_core::ConnectionId;

use crate::executor::{TaskId, TaskPanic};
use crate::manager::ConnectOutcome;
use crate::pool_under_test::{Capabilities, PoolStatus};

use self::clears::ClearWitness;
use self::fifo::Overtake;
use self::ledger::{Episodes, Ledger};
use self::model::{Checkout, Model, Place};

pub use self::config::OracleConfig;
pub use self::verdict::{CheckoutId, CheckoutOutcome, Invariant, Violation};

/// The oracle.
#[derive(Debug)]
pub struct Oracle {
    config: OracleConfig,
    model: Model,
    ledger: Ledger,
    episodes: Episodes,
    /// The harness reports the clears it asks for (CLEAR is judged).
    clears_reported: bool,
    /// The harness reports the manager's connects and drops (LEAK compares them with the
    /// events at quiescence).
    manager_observed: bool,
    /// Clear requests and establishment failures (CLEAR).
    witness: ClearWitness,
    /// When the LIVE starvation condition started to hold.
    starving_since: Option<Duration>,
    /// When status and events started to disagree, and how.
    disagree_since: Option<Duration>,
    disagreement: String,
    /// Overtakes to judge at the next stable point.
    overtakes: Vec<Overtake>,
    /// The interesting states reached ([`coverage`]).
    cover: coverage::Tracker,
    /// When the latest `PoolCleared` was reported (STALE's arrival slack).
    cleared_at: Duration,
}

impl Oracle {
    /// An oracle for a pool with `config`.
    pub fn new(config: OracleConfig) -> Oracle {
        Oracle {
            config,
            model: Model::new(),
            ledger: Ledger::default(),
            episodes: Episodes::default(),
            clears_reported: false,
            manager_observed: true,
            witness: ClearWitness::default(),
            starving_since: None,
            disagree_since: None,
            disagreement: String::new(),
            overtakes: Vec::new(),
            cover: coverage::Tracker::default(),
            cleared_at: Duration::ZERO,
        }
    }

    /// Sets the pool's own bound on a checkout (TIME checks it too).
    pub fn set_checkout_bound(&mut self, bound: Option<Duration>) {
        self.config.checkout_bound = bound;
    }

    /// Judges only the CMAP features the pool claims: without `maxConnecting`, pending
    /// connections are bounded by `maxPoolSize` only; with background establishment, LIVE
    /// counts each pending connection as serving one waiter and FIFO excuses connect
    /// completion order; a pool that clears on connect errors may do so unasked; IDLE
    /// allows the declared idle slack.
    pub fn set_capabilities(&mut self, capabilities: Capabilities) {
        if !capabilities.max_connecting {
            self.config.max_connecting = self.config.max_total;
        }
        self.config.background_establishment = capabilities.background_establishment;
        self.config.clears_on_connect_error = capabilities.clears_on_connect_error;
        self.config.idle_close_slack = capabilities.idle_close_slack;
        self.config.leak_detection = capabilities.leak_detection;
    }

    /// Declares whether the harness reports every clear it asks for through
    /// [`Oracle::clear_requested`]. Only then is CLEAR judged (off by default: a harness
    /// that watches a pool it does not drive cannot tell asked from unasked clears).
    pub fn set_clear_requests_reported(&mut self, reported: bool) {
        self.clears_reported = reported;
    }

    /// Declares whether the harness reports the manager's connects and drops
    /// ([`Oracle::connect_started`], [`Oracle::connect_finished`],
    /// [`Oracle::connection_dropped`]). On by default; off, LEAK at quiescence does not
    /// compare the connections the manager holds with the events (a harness that sees only
    /// a pool's events would otherwise seem to hold none).
    pub fn set_manager_observed(&mut self, observed: bool) {
        self.manager_observed = observed;
    }

    /// True once any invariant was violated.
    pub fn failed(&self) -> bool {
        !self.ledger.all().is_empty()
    }

    /// The violations so far, first first: every distinct one (repeats of an invariant
    /// and message are dropped), up to [`ledger::VIOLATIONS_MAX`].
    pub fn violations(&self) -> &[Violation] {
        self.ledger.all()
    }

    /// Violations dropped as repeats (same invariant and message) or beyond the cap.
    pub fn suppressed(&self) -> u64 {
        self.ledger.suppressed()
    }

    /// Outstanding checkouts (begun, not ended).
    pub fn outstanding(&self) -> usize {
        self.model.outstanding.len()
    }

    /// Connections establishing, per the pool's events.
    pub fn establishing(&self) -> u32 {
        self.model.pending
    }

    /// The checkout that drives connect `id`, if any.
    pub fn checkout_driving(&self, id: ConnectionId) -> Option<CheckoutId> {
        self.model.connecting.get(&id).copied().flatten()
    }

    /// Connections checked out per the events (fault targets).
    pub fn in_use_connections(&self) -> Vec<ConnectionId> {
        self.model
            .conns
            .iter()
            .filter(|(_, c)| c.place == Place::InUse)
            .map(|(id, _)| *id)
            .collect()
    }

    pub(crate) fn violate(&mut self, invariant: Invariant, at: Duration, message: String) {
        self.ledger.push(Violation {
            invariant,
            at,
            message,
        });
    }

    // ===== observations =====

    /// The harness is about to ask the pool for a clear ([`crate::PoolUnderTest::clear`]).
    pub fn clear_requested(&mut self, now: Duration) {
        self.witness.requested_at = Some(now);
    }

    /// The harness is about to close the pool ([`crate::PoolUnderTest::close`]). From
    /// then on a checkout that fails with "pool closed" is justified even if it reports
    /// before `PoolClosed`: a pool refuses checkouts as soon as it is marked closed and
    /// reports `PoolClosed` only after closing its available connections (CMAP's order),
    /// so on a multi-thread runtime a checkout racing the close can fail in between.
    pub fn close_requested(&mut self, _now: Duration) {
        self.model.close_requested = true;
    }

    /// A connect started, driven by `task`.
    pub fn connect_started(&mut self, now: Duration, id: ConnectionId, task: Option<TaskId>) {
        let by = task.and_then(|t| self.model.task_checkout.get(&t).copied());
        self.model.connecting.insert(id, by);
        let Some(k) = by else {
            return;
        };
        self.model.driven_by.insert(id, k);
        let ahead: Vec<CheckoutId> = self.model.waiting().take_while(|j| *j < k).collect();
        if let Some(c) = self.model.checkout_mut(k) {
            c.establishing = c.establishing.saturating_add(1);
            c.last_establish = Some(now);
            c.ahead_at_grant = ahead;
        }
    }

    /// A connect ended.
    pub fn connect_finished(&mut self, now: Duration, id: ConnectionId, outcome: &ConnectOutcome) {
        let by = self.model.connecting.remove(&id).flatten();
        match outcome {
            ConnectOutcome::Established => {
                self.model.live.insert(id);
            }
            ConnectOutcome::Failed(_) | ConnectOutcome::Abandoned => {
                self.witness.connect_failed_at = Some(now);
            }
        }
        let outstanding = by.is_some_and(|k| self.model.outstanding.contains(&k));
        let Some(c) = by.and_then(|k| self.model.checkout_mut(k)) else {
            return;
        };
        c.establishing = c.establishing.saturating_sub(1);
        if !outstanding {
            return;
        }
        match outcome {
            ConnectOutcome::Established => {}
            ConnectOutcome::Failed(_) => {
                c.connect_error = true;
                c.connect_failed_at.get_or_insert(now);
            }
            ConnectOutcome::Abandoned => c.connect_error = true,
        }
    }

    /// A connection object was dropped.
    pub fn connection_dropped(&mut self, now: Duration, id: ConnectionId) {
        self.model.live.remove(&id);
        if let Some(message) = leaks::on_dropped(&self.model, id) {
            self.violate(Invariant::Leak, now, message);
        }
    }

    /// A checkout began on `task`.
    pub fn checkout_began(
        &mut self,
        now: Duration,
        task: Option<TaskId>,
        deadline: Duration,
    ) -> CheckoutId {
        let k = self.model.checkouts.len() as CheckoutId;
        let mut checkout = Checkout::new(task, now, deadline);
        checkout.cleared_during = self.model.paused && !self.model.paused_unasked;
        checkout.closed_during = self.model.closed;
        self.model.checkouts.push(checkout);
        self.model.outstanding.insert(k);
        if let Some(t) = task {
            self.model.task_checkout.insert(t, k);
        }
        k
    }

    /// Checkout `k` is a zombie from now on (polled, then never again).
    pub fn checkout_abandoned(&mut self, k: CheckoutId) {
        if let Some(c) = self.model.checkout_mut(k) {
            c.zombie = true;
        }
    }

    /// Checkout `k` ended.
    pub fn checkout_ended(&mut self, now: Duration, k: CheckoutId, outcome: &CheckoutOutcome) {
        if *outcome == CheckoutOutcome::Cancelled {
            self.cover_cancelled(k);
        }
        if !self.model.outstanding.remove(&k) {
            return;
        }
        let Some(c) = self.model.checkout(k).cloned() else {
            return;
        };
        if let Some(t) = c.task {
            if self.model.task_checkout.get(&t) == Some(&k) {
                self.model.task_checkout.remove(&t);
            }
        }
        if *outcome != CheckoutOutcome::Cancelled && !c.zombie {
            if let Some(message) = timing::late_end(&c, now, &self.config) {
                self.violate(Invariant::Time, now, message);
            }
        }
        let sweep_messages = errors::sweep_member_ended(&mut self.model, k, now, &self.config);
        for message in sweep_messages {
            self.violate(Invariant::Err, now, message);
        }
        match outcome {
            CheckoutOutcome::Ok(id) => {
                if let Some(message) = errors::swallowed_on_success(k, &c, *id) {
                    self.violate(Invariant::Err, now, message);
                }
                let conn = self.model.conn(*id);
                if conn.map(|x| x.place) != Some(Place::InUse) {
                    self.violate(
                        Invariant::Acct,
                        now,
                        format!("checkout {k} got connection {id} without a CheckedOut event"),
                    );
                }
                let fresh = conn.is_some_and(|x| x.fresh);
                // Served by a connection it established, or by one it was handed and
                // validated: its grant came then, and only the checkouts that waited at
                // that moment (and wait still) were passed over.
                let own = self.model.driven_by.get(id) == Some(&k);
                let granted_ahead = if own {
                    Some(c.ahead_at_grant.as_slice())
                } else {
                    match &c.validated {
                        Some((validated, ahead)) if validated == id => Some(ahead.as_slice()),
                        _ => None,
                    }
                };
                let due = now.saturating_add(self.config.arrival_slack);
                let overtaken = fifo::overtaken(&self.model, k, fresh, granted_ahead, due);
                self.overtakes.extend(overtaken);
            }
            CheckoutOutcome::Failed(failure) => {
                if let Some(message) =
                    errors::unjustified(k, &c, failure, &self.model, now, &self.config)
                {
                    self.violate(Invariant::Err, now, message);
                }
            }
            CheckoutOutcome::Cancelled => {}
        }
    }

    /// A task panicked.
    pub fn panicked(&mut self, panic: &TaskPanic) {
        self.violate(
            Invariant::Panic,
            panic.at,
            format!(
                "task {} ({:?}) panicked: {}",
                panic.task.0, panic.kind, panic.message
            ),
        );
    }

    // ===== stable points =====

    /// No task is ready at `now`: judge everything that must hold between events.
    pub fn stable(&mut self, now: Duration, status: Option<&PoolStatus>) {
        self.cover_stable();
        for message in leak_reports::missed(&mut self.model, &self.config, now) {
            self.violate(Invariant::Time, now, message);
        }
        let (due, later) = std::mem::take(&mut self.overtakes)
            .into_iter()
            .partition(|o| o.due <= now);
        self.overtakes = later;
        for o in due {
            if let Some(message) = fifo::judge(&self.model, o, &self.config) {
                self.violate(Invariant::Fifo, now, message);
            }
        }
        match limits::manager_view(&self.model, &self.config) {
            Some(message) if !self.episodes.over_limit => {
                self.episodes.over_limit = true;
                self.violate(Invariant::Max, now, message);
            }
            Some(_) => {}
            None => self.episodes.over_limit = false,
        }
        if let Some((id, message)) =
            leaks::lingering(&self.model, now, &self.config, &self.episodes.lingering)
        {
            self.episodes.lingering.insert(id);
            self.violate(Invariant::Leak, now, message);
        }
        let tolerance = self.config.tolerance;
        match liveness::starving(&self.model, &self.config) {
            Some(message) => {
                let since = *self.starving_since.get_or_insert(now);
                if now > since.saturating_add(tolerance) && !self.episodes.starving {
                    self.episodes.starving = true;
                    self.violate(Invariant::Live, since.saturating_add(tolerance), message);
                }
            }
            None => {
                self.starving_since = None;
                self.episodes.starving = false;
            }
        }
        let disagreement = status.and_then(|s| accounting::compare(&self.model, s));
        match disagreement {
            Some(message) => {
                let since = *self.disagree_since.get_or_insert(now);
                if now > since.saturating_add(tolerance) {
                    if !self.episodes.disagreeing {
                        self.episodes.disagreeing = true;
                        self.violate(Invariant::Acct, since.saturating_add(tolerance), message);
                    }
                } else {
                    self.disagreement = message;
                }
            }
            None => {
                self.disagree_since = None;
                self.episodes.disagreeing = false;
            }
        }
        self.overdue(now, now);
    }

    /// Time is about to jump from `now` to `next`: report what would be overdue by then
    /// (at the instant it became overdue).
    pub fn before_advance(&mut self, now: Duration, next: Duration) {
        let tolerance = self.config.tolerance;
        if let Some(since) = self.starving_since {
            if next > since.saturating_add(tolerance) && !self.episodes.starving {
                self.episodes.starving = true;
                let message = liveness::starving(&self.model, &self.config)
                    .unwrap_or_else(|| "a waiter starves".to_string());
                self.violate(Invariant::Live, since.saturating_add(tolerance), message);
            }
        }
        if let Some(since) = self.disagree_since {
            if next > since.saturating_add(tolerance) && !self.episodes.disagreeing {
                self.episodes.disagreeing = true;
                let message = std::mem::take(&mut self.disagreement);
                self.violate(Invariant::Acct, since.saturating_add(tolerance), message);
            }
        }
        self.overdue(now, next);
    }

    /// Checkouts and obligations that are overdue by `by` (each reported once).
    fn overdue(&mut self, _now: Duration, by: Duration) {
        if let Some((k, at, message)) =
            timing::overdue(&self.model, by, &self.config, &self.episodes.late)
        {
            self.episodes.late.insert(k);
            self.violate(Invariant::Time, at, message);
            return;
        }
        let episodes = &self.episodes;
        let reported = |o: &errors::Overdue| match o {
            errors::Overdue::Undelivered(k) => episodes.error_undelivered.contains(k),
            errors::Overdue::Unswept(at, k) => episodes.unswept.contains(&(at.as_nanos(), *k)),
        };
        if let Some((which, at, message)) = errors::overdue(&self.model, by, &self.config, reported)
        {
            match which {
                errors::Overdue::Undelivered(k) => {
                    self.episodes.error_undelivered.insert(k);
                }
                errors::Overdue::Unswept(t, k) => {
                    self.episodes.unswept.insert((t.as_nanos(), k));
                }
            }
            self.violate(Invariant::Err, at, message);
        }
    }

    /// Nothing can run and no timer is pending while `stuck` tasks still wait.
    pub fn deadlock(&mut self, now: Duration, stuck: usize) {
        let waiting = self.model.outstanding.len();
        self.violate(
            Invariant::Live,
            now,
            format!(
                "deadlock: no task can run and no timer is pending, but {stuck} client task(s) \
                 wait ({waiting} checkout(s) outstanding)"
            ),
        );
    }

    /// The run exceeded a budget (livelock or runaway).
    pub fn budget_exceeded(&mut self, now: Duration, error: &crate::error::SimError) {
        self.violate(Invariant::Live, now, error.to_string());
    }

    /// The workload is over and the pool had time to settle: everything must be back.
    pub fn quiescent(&mut self, now: Duration, status: Option<&PoolStatus>) {
        for (invariant, message) in leaks::at_quiescence(&self.model, status, self.manager_observed)
        {
            self.violate(invariant, now, message);
        }
    }

    /// A status read while nothing moves (no checkout, establishment or event in flight):
    /// any disagreement with the events is ACCT at once, without the tolerance
    /// [`Oracle::stable`] allows for a pool caught between a change and its event.
    pub fn settled_status(&mut self, now: Duration, status: &PoolStatus) {
        if let Some(message) = accounting::compare(&self.model, status) {
            self.violate(Invariant::Acct, now, message);
        }
    }

    /// The pool was closed and had time to settle: nothing may be left.
    pub fn after_close(&mut self, now: Duration, status: Option<&PoolStatus>) {
        for message in leaks::after_close(&self.model, status) {
            self.violate(Invariant::Leak, now, message);
        }
    }
}
