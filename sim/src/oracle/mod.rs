//! The oracle: sees every observation as it happens and checks the invariants of
//! `research/pools.md` §4.1 on every event and at every *stable point* (no task ready,
//! just before virtual time moves).
//!
//! | invariant | checked by | what |
//! |---|---|---|
//! | MAX | [`limits`] | total ≤ maxPoolSize, pending ≤ maxConnecting (events and manager) |
//! | LIVE | [`liveness`] | no waiter sleeps while a connection is available or could be made, for longer than the tolerance; no deadlock; no livelock |
//! | LEAK | [`leaks`] | every connection in exactly one place; at quiescence total == available |
//! | FIFO | [`fifo`] | no later checkout is served while an earlier one still waits |
//! | TIME | [`timing`] | every checkout ends by its deadline (and the pool's own bound) + tolerance |
//! | ERR | [`errors`] | failures have a cause, reach the right checkout promptly; clear/close fail waiters at once |
//! | STALE | [`staleness`] | no connection of an old generation is checked out after the clear's event |
//! | ACCT | [`accounting`] | the pool's status agrees with the event-derived counts |
//! | PANIC | the run loop | nothing of the pool panics (tasks, drops, build, status, close) |
//! | NONDET | the sweep | a re-run seed gives the same trace hash |
//!
//! The oracle knows the pool only from outside: its events, its status, the connections
//! the manager made and dropped, and the checkouts the workload began and ended. It
//! deliberately allows for what a correct pool may do: a checkout that is establishing
//! its own connection is not "waiting"; a zombie (a checkout nobody polls) is neither a
//! waiter nor a user; grants take effect when the woken task runs, which is before time
//! moves.

pub mod accounting;
pub mod errors;
pub mod fifo;
pub mod leaks;
pub mod limits;
pub mod liveness;
pub(crate) mod model;
pub mod staleness;
pub mod timing;

use std::time::Duration;

use pool_core::ConnectionId;
use serde::Serialize;

use crate::executor::{TaskId, TaskPanic};
use crate::manager::ConnectOutcome;
use crate::pool_under_test::{Capabilities, CheckoutFailure, PoolEvent, PoolStatus};
use crate::trace::CheckoutId;

use self::model::{Checkout, Model, Place, Sweep};

/// An invariant of `research/pools.md` §4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Invariant {
    /// Limits: maxPoolSize, maxConnecting.
    Max,
    /// Liveness: no starvation, deadlock or livelock.
    Live,
    /// Conservation: no lost or duplicated connection.
    Leak,
    /// Waiters are served in arrival order.
    Fifo,
    /// Deadlines are met.
    Time,
    /// Errors reach the right caller, promptly; no panics.
    Err,
    /// No stale connection is handed out.
    Stale,
    /// Status and events agree.
    Acct,
    /// The pool under test never panics: not in a checkout, a check-in, a drop, a task
    /// it spawned, nor in its build, status, clear or close.
    Panic,
    /// The same seed gives the same run: a sampled seed re-run by the sweep produced a
    /// different trace (a wall clock, a real runtime or an unseeded RNG in the pool).
    Nondet,
}

impl Invariant {
    /// Every invariant, in order.
    pub const ALL: [Invariant; 10] = [
        Invariant::Max,
        Invariant::Live,
        Invariant::Leak,
        Invariant::Fifo,
        Invariant::Time,
        Invariant::Err,
        Invariant::Stale,
        Invariant::Acct,
        Invariant::Panic,
        Invariant::Nondet,
    ];

    /// The name (`MAX`, `LIVE`, …).
    pub fn name(self) -> &'static str {
        match self {
            Invariant::Max => "MAX",
            Invariant::Live => "LIVE",
            Invariant::Leak => "LEAK",
            Invariant::Fifo => "FIFO",
            Invariant::Time => "TIME",
            Invariant::Err => "ERR",
            Invariant::Stale => "STALE",
            Invariant::Acct => "ACCT",
            Invariant::Panic => "PANIC",
            Invariant::Nondet => "NONDET",
        }
    }
}

impl std::fmt::Display for Invariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One violated invariant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Which invariant.
    pub invariant: Invariant,
    /// Virtual time at which it was violated.
    pub at: Duration,
    /// What happened.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {:.6}s: {}",
            self.invariant,
            self.at.as_secs_f64(),
            self.message
        )
    }
}

/// How a checkout ended, as the workload saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckoutOutcome {
    /// It got connection `id`.
    Ok(ConnectionId),
    /// It failed.
    Failed(CheckoutFailure),
    /// The client dropped it.
    Cancelled,
}

/// The limits and tolerances the oracle judges by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OracleConfig {
    /// maxPoolSize (0 = unlimited is passed as pool-core's hard limit).
    pub max_total: u32,
    /// maxConnecting.
    pub max_connecting: u32,
    /// How long a condition may hold before it is a violation (LIVE, TIME, ERR, ACCT).
    pub tolerance: Duration,
    /// The pool's wait queue timeout (a checkout may time out then).
    pub wait_queue_timeout: Option<Duration>,
    /// The pool's own bound on a checkout, if it declares one.
    pub checkout_bound: Option<Duration>,
    /// Connections for waiters are established by the pool's background tasks (see
    /// [`Capabilities::background_establishment`]).
    pub background_establishment: bool,
}

/// The oracle.
#[derive(Debug)]
pub struct Oracle {
    config: OracleConfig,
    model: Model,
    violations: Vec<Violation>,
    /// When the LIVE starvation condition started to hold.
    starving_since: Option<Duration>,
    /// When status and events started to disagree, and how.
    disagree_since: Option<Duration>,
    disagreement: String,
    /// (winner, overtaken) pairs to judge at the next stable point.
    overtakes: Vec<(CheckoutId, CheckoutId)>,
}

impl Oracle {
    /// An oracle for a pool with `config`.
    pub fn new(config: OracleConfig) -> Oracle {
        Oracle {
            config,
            model: Model::new(),
            violations: Vec::new(),
            starving_since: None,
            disagree_since: None,
            disagreement: String::new(),
            overtakes: Vec::new(),
        }
    }

    /// Sets the pool's own bound on a checkout (TIME checks it too).
    pub fn set_checkout_bound(&mut self, bound: Option<Duration>) {
        self.config.checkout_bound = bound;
    }

    /// Judges only the CMAP features the pool claims: without `maxConnecting`, pending
    /// connections are bounded by `maxPoolSize` only; with background establishment, LIVE
    /// counts each pending connection as serving one waiter.
    pub fn set_capabilities(&mut self, capabilities: Capabilities) {
        if !capabilities.max_connecting {
            self.config.max_connecting = self.config.max_total;
        }
        self.config.background_establishment = capabilities.background_establishment;
    }

    /// True once any invariant was violated.
    pub fn failed(&self) -> bool {
        !self.violations.is_empty()
    }

    /// The violations so far.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
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
        (0..self.model.conns.len() as u64)
            .filter(|id| {
                self.model
                    .conn(*id)
                    .is_some_and(|c| c.place == Place::InUse)
            })
            .collect()
    }

    pub(crate) fn violate(&mut self, invariant: Invariant, at: Duration, message: String) {
        if self.violations.len() < 32 {
            self.violations.push(Violation {
                invariant,
                at,
                message,
            });
        }
    }

    // ===== observations =====

    /// A pool event.
    pub fn pool_event(&mut self, now: Duration, event: &PoolEvent) {
        let m = &mut self.model;
        match *event {
            PoolEvent::PoolReady => m.paused = false,
            PoolEvent::PoolCleared { .. } => {
                m.epoch += 1;
                m.paused = true;
                self.start_sweep(now, "clear");
            }
            PoolEvent::PoolClosed => {
                m.closed = true;
                self.start_sweep(now, "close");
            }
            PoolEvent::ConnectionCreated { id } => {
                if self.model.conn(id).is_some() {
                    self.violate(
                        Invariant::Leak,
                        now,
                        format!("connection id {id} created twice"),
                    );
                }
                self.model.counts.created += 1;
                self.model.move_conn(id, Place::Pending, now);
                if let Some(message) = limits::on_created(&self.model, &self.config) {
                    self.violate(Invariant::Max, now, message);
                }
            }
            PoolEvent::ConnectionReady { id } => {
                self.expect_place(now, id, Place::Pending, "ConnectionReady");
                self.model.move_conn(id, Place::Available, now);
            }
            PoolEvent::ConnectionClosed { id, reason } => {
                let was = m.conn(id).map(|c| c.place);
                m.counts.closed += 1;
                if was == Some(Place::Pending) && reason == pool_core::ConnectionClosedReason::Error
                {
                    for k in m.outstanding.clone() {
                        if let Some(c) = m.checkout_mut(k) {
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
                self.model.move_conn(id, Place::Closed, now);
            }
            PoolEvent::CheckOutStarted => {}
            PoolEvent::CheckOutFailed { .. } => m.counts.checkout_failed += 1,
            PoolEvent::CheckedOut { id } => {
                m.counts.checked_out += 1;
                if let Some(message) = staleness::on_checked_out(&self.model, id) {
                    self.violate(Invariant::Stale, now, message);
                }
                match self.model.conn(id).map(|c| c.place) {
                    Some(Place::InUse) => self.violate(
                        Invariant::Leak,
                        now,
                        format!("connection {id} checked out twice at once"),
                    ),
                    _ => self.expect_place(now, id, Place::Available, "CheckedOut"),
                }
                self.model.move_conn(id, Place::InUse, now);
            }
            PoolEvent::CheckedIn { id } => {
                self.expect_place(now, id, Place::InUse, "CheckedIn");
                self.model.move_conn(id, Place::Available, now);
            }
        }
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
        for k in self.model.outstanding.clone() {
            if let Some(c) = self.model.checkout_mut(k) {
                match what {
                    "close" => c.closed_during = true,
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

    /// A connect started, driven by `task`.
    pub fn connect_started(&mut self, now: Duration, id: ConnectionId, task: Option<TaskId>) {
        let by = task.and_then(|t| self.model.task_checkout.get(&t).copied());
        self.model.connecting.insert(id, by);
        if let Some(c) = by.and_then(|k| self.model.checkout_mut(k)) {
            c.establishing += 1;
            c.last_establish = Some(now);
        }
    }

    /// A connect ended.
    pub fn connect_finished(&mut self, now: Duration, id: ConnectionId, outcome: &ConnectOutcome) {
        let by = self.model.connecting.remove(&id).flatten();
        if *outcome == ConnectOutcome::Established {
            self.model.live.insert(id);
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
        let paused = self.model.paused;
        self.model.checkouts.push(Checkout {
            task,
            started: now,
            deadline,
            zombie: false,
            establishing: 0,
            last_establish: None,
            connect_failed_at: None,
            connect_error: false,
            creation_error_during: false,
            cleared_during: paused,
            closed_during: self.model.closed,
        });
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
                if self.model.conn(*id).map(|x| x.place) != Some(Place::InUse) {
                    self.violate(
                        Invariant::Acct,
                        now,
                        format!("checkout {k} got connection {id} without a CheckedOut event"),
                    );
                }
                let overtaken = fifo::overtaken(&self.model, k);
                self.overtakes.extend(overtaken.into_iter().map(|j| (k, j)));
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
        for (k, j) in std::mem::take(&mut self.overtakes) {
            if let Some(message) = fifo::judge(&self.model, k, j) {
                self.violate(Invariant::Fifo, now, message);
            }
        }
        if let Some(message) = limits::manager_view(&self.model, &self.config) {
            self.violate(Invariant::Max, now, message);
        }
        if let Some(message) = leaks::lingering(&self.model, now, &self.config) {
            self.violate(Invariant::Leak, now, message);
        }
        match liveness::starving(&self.model, &self.config) {
            Some(message) => {
                let since = *self.starving_since.get_or_insert(now);
                if now > since + self.config.tolerance {
                    self.violate(Invariant::Live, since + self.config.tolerance, message);
                }
            }
            None => self.starving_since = None,
        }
        let disagreement = status.and_then(|s| accounting::compare(&self.model, s));
        match disagreement {
            Some(message) => {
                let since = *self.disagree_since.get_or_insert(now);
                if now > since + self.config.tolerance {
                    self.violate(Invariant::Acct, since + self.config.tolerance, message);
                } else {
                    self.disagreement = message;
                }
            }
            None => self.disagree_since = None,
        }
        self.overdue(now, now);
    }

    /// Time is about to jump from `now` to `next`: report what would be overdue by then
    /// (at the instant it became overdue).
    pub fn before_advance(&mut self, now: Duration, next: Duration) {
        let tolerance = self.config.tolerance;
        if let Some(since) = self.starving_since {
            if next > since + tolerance {
                let message = liveness::starving(&self.model, &self.config)
                    .unwrap_or_else(|| "a waiter starves".to_string());
                self.violate(Invariant::Live, since + tolerance, message);
            }
        }
        if let Some(since) = self.disagree_since {
            if next > since + tolerance {
                let message = std::mem::take(&mut self.disagreement);
                self.violate(Invariant::Acct, since + tolerance, message);
            }
        }
        self.overdue(now, next);
    }

    /// Checkouts and obligations that are overdue by `by`.
    fn overdue(&mut self, _now: Duration, by: Duration) {
        if let Some((at, message)) = timing::overdue(&self.model, by, &self.config) {
            self.violate(Invariant::Time, at, message);
            return;
        }
        if let Some((at, message)) = errors::overdue(&self.model, by, &self.config) {
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
        for (invariant, message) in leaks::at_quiescence(&self.model, status) {
            self.violate(invariant, now, message);
        }
    }

    /// The pool was closed and had time to settle: nothing may be left.
    pub fn after_close(&mut self, now: Duration, status: Option<&PoolStatus>) {
        for message in leaks::after_close(&self.model, status) {
            self.violate(Invariant::Leak, now, message);
        }
    }
}
