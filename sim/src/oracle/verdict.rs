//! What the oracle reports: the invariants it checks, a violation of one, and how a
//! checkout ended.

use pool_core::ConnectionId;
use serde::Serialize;
use std::time::Duration;

use crate::pool_under_test::CheckoutFailure;

/// A checkout's id in the run: 0, 1, 2, … in the order checkouts began (arrival order).
pub type CheckoutId = u64;

/// An invariant the oracle checks.
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
    /// The pool clears or pauses only when asked.
    Clear,
    /// Connections are closed as idle or expired no sooner than the options say.
    Idle,
    /// The pool under test never panics: not in a checkout, a check-in, a drop, a task
    /// it spawned, nor in its build, status, clear or close.
    Panic,
    /// The same seed gives the same run: a sampled seed re-run by the sweep produced a
    /// different trace (a wall clock, a real runtime or an unseeded RNG in the pool).
    Nondet,
}

impl Invariant {
    /// Every invariant, in order.
    pub const ALL: [Invariant; 12] = [
        Invariant::Max,
        Invariant::Live,
        Invariant::Leak,
        Invariant::Fifo,
        Invariant::Time,
        Invariant::Err,
        Invariant::Stale,
        Invariant::Acct,
        Invariant::Clear,
        Invariant::Idle,
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
            Invariant::Clear => "CLEAR",
            Invariant::Idle => "IDLE",
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
