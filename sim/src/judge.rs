//! [`Judge`]: the oracle for a pool running on real threads and real time, fed with
//! nothing but its CMAP events.
//!
//! The simulator sees everything a pool does (its events, the manager's connects and
//! drops, every checkout's start and end, on virtual time that stands still between
//! steps). A pool running under a real runtime shows only its events, reported from
//! whichever thread caused them, at wall-clock instants. The judge stamps each event with
//! the time elapsed since the judge was made, feeds it to an [`Oracle`] behind a mutex, and
//! judges exactly the invariants those events decide soundly:
//!
//! | invariant | judged from the events |
//! |---|---|
//! | MAX | at `ConnectionCreated`: total ≤ maxPoolSize and pending ≤ maxConnecting, each plus [`OracleConfig::event_lag`]; at `ConnectionCheckedOut`: in use ≤ maxPoolSize, exactly |
//! | LEAK | no connection checked out twice at once, none closed while checked out; once the load is over nothing pending or in use ([`Judge::quiescent`]); after close nothing open, by the events and the pool's status ([`Judge::finish`]) |
//! | ACCT | every event fits the connection's state (`ConnectionReady` only for a pending one, `ConnectionCheckedIn` only for a checked-out one, no close of a closed one); the pool's status agrees with the events when nothing moves ([`Judge::quiescent`], [`Judge::finish`]) |
//! | STALE | no connection of a generation before a `PoolCleared` is checked out after it |
//! | IDLE | no connection closed as idle or expired sooner than the configured maxIdleTime / maxLifetime (less the tolerance) |
//!
//! Not judged: LIVE, FIFO, TIME and ERR need the checkouts' starts and ends, which CMAP
//! events do not name; CLEAR needs the clears the harness asked for; PANIC and NONDET
//! belong to the simulator's run loop and sweep. The manager's view of MAX and LEAK (the
//! connections the manager actually holds) needs the manager's hooks, which the judge
//! does not take.
//!
//! Wall time and threads make two allowances necessary. A pool may free a connection's
//! slot and report its `ConnectionClosed` a moment later, so another thread's
//! `ConnectionCreated` can arrive first: `event_lag` (give one per thread that may report
//! events at once) is how many such creations MAX lets pass. Conditions that must persist
//! for the tolerance (ACCT at stable points) use a wall-clock tolerance, so give a
//! generous one (100 ms on a loaded machine). STALE can misfire for a pool that takes a
//! connection before a clear and reports its `ConnectionCheckedOut` after the clear's
//! event; the violation then says which connection, to check against the pool's order.
//!
//! ```
//! use sim::oracle::OracleConfig;
//! use sim::{Invariant, Judge, PoolEvent};
//!
//! let judge = Judge::new(OracleConfig { max_total: 1, ..OracleConfig::default() });
//! judge.event(&PoolEvent::PoolReady);
//! judge.event(&PoolEvent::ConnectionCreated { id: 1 });
//! judge.event(&PoolEvent::ConnectionReady { id: 1 });
//! judge.event(&PoolEvent::CheckedOut { id: 1 });
//! judge.event(&PoolEvent::CheckedOut { id: 1 }); // handed out twice
//! let verdict = judge.finish(None);
//! assert!(!verdict.is_ok());
//! assert_eq!(verdict.violations[0].invariant, Invariant::Leak);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use pool_core::CmapEvent;
use serde::Serialize;

use crate::oracle::{Invariant, Oracle, OracleConfig, Violation};
use crate::pool_under_test::{PoolEvent, PoolStatus};

/// The invariants a [`Judge`] checks, in [`Invariant::ALL`] order.
pub const JUDGED: [Invariant; 5] = [
    Invariant::Max,
    Invariant::Leak,
    Invariant::Stale,
    Invariant::Acct,
    Invariant::Idle,
];

/// How often [`Judge::replay`] checks what must hold between a log's events, on the log's
/// clock.
pub const REPLAY_TICK: Duration = Duration::from_millis(10);

/// The oracle on wall-clock time, fed a pool's CMAP events from any thread. See the
/// [module documentation](self) for what it judges.
#[derive(Debug)]
pub struct Judge {
    oracle: Mutex<Oracle>,
    start: Instant,
    events: AtomicU64,
    /// Every event judged, with its time, if asked for ([`Judge::recording`]).
    log: Option<Mutex<Vec<(Duration, PoolEvent)>>>,
}

/// What a [`Judge`] concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The invariants judged ([`JUDGED`]).
    pub invariants: Vec<Invariant>,
    /// Events judged.
    pub events: u64,
    /// Every distinct violation, first first.
    pub violations: Vec<Violation>,
    /// Violations dropped as repeats or beyond the oracle's cap.
    pub suppressed: u64,
    /// Every event judged with its time since the start, if the judge was
    /// [recording](Judge::recording); empty otherwise.
    #[serde(skip)]
    pub log: Vec<(Duration, PoolEvent)>,
}

impl Verdict {
    /// True when no invariant was violated.
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }
}

impl std::fmt::Display for Verdict {
    /// `OK — MAX, LEAK, … held over N events`, or `FAIL — ` and the first violation.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.invariants.iter().map(|i| i.name()).collect();
        match self.violations.first() {
            None => write!(
                f,
                "OK — {} held over {} events",
                names.join(", "),
                self.events
            ),
            Some(first) if self.violations.len() == 1 => write!(f, "FAIL — {first}"),
            Some(first) => write!(f, "FAIL — {first} (and {} more)", self.violations.len() - 1),
        }
    }
}

impl Judge {
    /// A judge for a pool with `config` (build it with [`OracleConfig::from_options`] and
    /// set `tolerance` and `event_lag` for the machine; see the module documentation). The
    /// clock starts now.
    pub fn new(config: OracleConfig) -> Judge {
        let mut oracle = Oracle::new(config);
        oracle.set_manager_observed(false);
        oracle.set_clear_requests_reported(false);
        Judge {
            oracle: Mutex::new(oracle),
            start: Instant::now(),
            events: AtomicU64::new(0),
            log: None,
        }
    }

    /// Keeps every event judged, with its time, for [`Verdict::log`].
    pub fn recording(mut self) -> Judge {
        self.log = Some(Mutex::new(Vec::new()));
        self
    }

    fn lock(&self) -> MutexGuard<'_, Oracle> {
        self.oracle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Time since the judge was made: the instant the oracle sees.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Judges one event, stamped now. Call it from the pool's event handler, on the thread
    /// that reports the event (events are judged in the order they reach the judge).
    pub fn event(&self, event: &PoolEvent) {
        let mut oracle = self.lock();
        let now = self.elapsed();
        self.events.fetch_add(1, Ordering::Relaxed);
        if let Some(log) = &self.log {
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((now, event.clone()));
        }
        oracle.pool_event(now, event);
    }

    /// Judges one of pool-core's events ([`PoolEvent::from_cmap`]); returns false for an
    /// event the oracle does not judge (`ConnectionPoolCreated`).
    pub fn cmap(&self, event: &CmapEvent) -> bool {
        match PoolEvent::from_cmap(event) {
            Some(event) => {
                self.event(&event);
                true
            }
            None => false,
        }
    }

    /// Judges what must hold between events (call it every few milliseconds while the
    /// pool runs).
    pub fn tick(&self) {
        let mut oracle = self.lock();
        let now = self.elapsed();
        oracle.stable(now, None);
    }

    /// The load is over and the pool settled (no checkout, establishment or event in
    /// flight): nothing may be pending or checked out, and `status`, read now, must agree
    /// with the events.
    pub fn quiescent(&self, status: &PoolStatus) {
        let mut oracle = self.lock();
        let now = self.elapsed();
        oracle.stable(now, None);
        oracle.quiescent(now, Some(status));
        oracle.settled_status(now, status);
    }

    /// Judges a pool's event log recorded elsewhere (another process's CMAP events, each
    /// with its time on that process's clock, in the order it reported them), as if the
    /// events were reported live at those times: the oracle also checks what must hold
    /// between events every [`REPLAY_TICK`] of the log's time. The pool was closed when
    /// the log ends ([`Judge::finish`] without a status).
    ///
    /// Times must not decrease; a time earlier than the one before it is judged at the
    /// one before it (a log's clock reads are ordered by its own lock, so this only
    /// guards against a malformed log).
    pub fn replay(config: OracleConfig, log: &[(Duration, PoolEvent)]) -> Verdict {
        let judge = Judge::new(config);
        let mut oracle = judge.lock();
        let mut now = Duration::ZERO;
        let mut next_tick = REPLAY_TICK;
        for (at, event) in log {
            now = now.max(*at);
            while next_tick < now {
                oracle.stable(next_tick, None);
                next_tick += REPLAY_TICK;
            }
            judge.events.fetch_add(1, Ordering::Relaxed);
            oracle.pool_event(now, event);
        }
        judge.conclude(&mut oracle, now, None)
    }

    /// Events judged so far.
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    /// The violations so far, first first.
    pub fn violations(&self) -> Vec<Violation> {
        self.lock().violations().to_vec()
    }

    /// The pool was closed and settled: judges that nothing is left open (by the events,
    /// and by `status` if given, read after the close, which must also agree with the
    /// events), and gives the verdict. Events that arrive afterwards are still judged but
    /// are in no verdict.
    pub fn finish(&self, status: Option<&PoolStatus>) -> Verdict {
        let mut oracle = self.lock();
        let now = self.elapsed();
        self.conclude(&mut oracle, now, status)
    }

    /// The pool was closed at `now`: the closing judgement and the verdict.
    fn conclude(&self, oracle: &mut Oracle, now: Duration, status: Option<&PoolStatus>) -> Verdict {
        oracle.stable(now, None);
        oracle.after_close(now, status);
        if let Some(status) = status {
            oracle.settled_status(now, status);
        }
        let log = self
            .log
            .as_ref()
            .map(|log| std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner)))
            .unwrap_or_default();
        Verdict {
            invariants: JUDGED.to_vec(),
            events: self.events(),
            violations: oracle.violations().to_vec(),
            suppressed: oracle.suppressed(),
            log,
        }
    }
}

#[cfg(test)]
mod tests;
