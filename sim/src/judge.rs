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
        oracle.stable(now, None);
        oracle.after_close(now, None);
        Verdict {
            invariants: JUDGED.to_vec(),
            events: judge.events(),
            violations: oracle.violations().to_vec(),
            suppressed: oracle.suppressed(),
            log: Vec::new(),
        }
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
mod tests {
    use std::sync::Arc;

    use pool_core::{ConnectionCheckOutFailedReason, ConnectionClosedReason, PoolOptions};

    use super::*;

    fn config(max_total: u32) -> OracleConfig {
        OracleConfig {
            max_total,
            max_connecting: 2,
            tolerance: Duration::from_millis(100),
            ..OracleConfig::default()
        }
    }

    fn feed(judge: &Judge, events: &[PoolEvent]) {
        for event in events {
            judge.event(event);
        }
    }

    /// Connection `id` created, made ready and checked out.
    fn checked_out(id: u64) -> [PoolEvent; 3] {
        [
            PoolEvent::ConnectionCreated { id },
            PoolEvent::ConnectionReady { id },
            PoolEvent::CheckedOut { id },
        ]
    }

    fn invariants(verdict: &Verdict) -> Vec<Invariant> {
        verdict.violations.iter().map(|v| v.invariant).collect()
    }

    fn status(total: u32, available: u32, closed: bool) -> PoolStatus {
        PoolStatus {
            total,
            available,
            pending: 0,
            in_use: total - available,
            paused: false,
            closed,
            counters: None,
        }
    }

    #[test]
    fn a_clean_run_passes() {
        let judge = Judge::new(config(2)).recording();
        feed(&judge, &[PoolEvent::PoolReady, PoolEvent::CheckOutStarted]);
        feed(&judge, &checked_out(1));
        feed(&judge, &[PoolEvent::CheckOutStarted]);
        feed(&judge, &checked_out(2));
        feed(
            &judge,
            &[
                PoolEvent::CheckedIn { id: 1 },
                PoolEvent::CheckedIn { id: 2 },
            ],
        );
        judge.tick();
        judge.quiescent(&status(2, 2, false));
        for id in [1, 2] {
            judge.event(&PoolEvent::ConnectionClosed {
                id,
                reason: ConnectionClosedReason::PoolClosed,
            });
        }
        judge.event(&PoolEvent::PoolClosed);
        let verdict = judge.finish(Some(&status(0, 0, true)));
        assert!(verdict.is_ok(), "{verdict}");
        assert_eq!(verdict.events, 14);
        assert_eq!(verdict.log.len(), 14);
        assert_eq!(verdict.invariants, JUDGED);
        assert!(
            verdict.to_string().starts_with("OK — MAX, LEAK"),
            "{verdict}"
        );
    }

    #[test]
    fn one_checkout_over_max_pool_size_is_max() {
        // Two connections checked out at once with maxPoolSize 1, allowing a lag of 4 for
        // creations: the in-use count is judged exactly.
        let judge = Judge::new(OracleConfig {
            event_lag: 4,
            ..config(1)
        });
        feed(&judge, &[PoolEvent::PoolReady]);
        feed(&judge, &checked_out(1));
        feed(&judge, &checked_out(2));
        let verdict = judge.finish(None);
        let found = invariants(&verdict);
        assert_eq!(found.first(), Some(&Invariant::Max), "{verdict}");
        assert!(
            verdict.violations[0]
                .message
                .contains("2 connections are checked out"),
            "{verdict}"
        );
    }

    #[test]
    fn event_lag_excuses_a_creation_reported_before_a_close() {
        // maxPoolSize 1: connection 2 is created before connection 1's close arrives.
        let events = [
            PoolEvent::PoolReady,
            PoolEvent::ConnectionCreated { id: 1 },
            PoolEvent::ConnectionReady { id: 1 },
            PoolEvent::ConnectionCreated { id: 2 },
            PoolEvent::ConnectionClosed {
                id: 1,
                reason: ConnectionClosedReason::Error,
            },
            PoolEvent::ConnectionReady { id: 2 },
        ];
        let strict = Judge::new(config(1));
        feed(&strict, &events);
        assert_eq!(strict.violations()[0].invariant, Invariant::Max);
        let lenient = Judge::new(OracleConfig {
            event_lag: 1,
            ..config(1)
        });
        feed(&lenient, &events);
        assert!(
            lenient.violations().is_empty(),
            "{:?}",
            lenient.violations()
        );
    }

    #[test]
    fn a_replayed_log_is_judged_on_its_own_clock() {
        let ms = Duration::from_millis;
        let clean = [
            (ms(0), PoolEvent::PoolReady),
            (ms(1), PoolEvent::ConnectionCreated { id: 1 }),
            (ms(2), PoolEvent::ConnectionReady { id: 1 }),
            (ms(3), PoolEvent::CheckedOut { id: 1 }),
            (ms(40), PoolEvent::CheckedIn { id: 1 }),
            (ms(41), PoolEvent::PoolClosed),
            (
                ms(41),
                PoolEvent::ConnectionClosed {
                    id: 1,
                    reason: ConnectionClosedReason::PoolClosed,
                },
            ),
        ];
        let verdict = Judge::replay(config(1), &clean);
        assert!(verdict.is_ok(), "{verdict}");
        assert_eq!(verdict.events, 7);
        // The same log without the last close leaves connection 1 open after the close.
        let verdict = Judge::replay(config(1), &clean[..6]);
        assert_eq!(invariants(&verdict), [Invariant::Leak], "{verdict}");
        // A second checkout of a connection already out is LEAK, at the log's time.
        let mut twice = clean[..4].to_vec();
        twice.push((ms(7), PoolEvent::CheckedOut { id: 1 }));
        let verdict = Judge::replay(config(1), &twice);
        let first = &verdict.violations[0];
        assert_eq!(first.invariant, Invariant::Leak, "{verdict}");
        assert_eq!(first.at, ms(7), "{verdict}");
    }

    #[test]
    fn a_connection_left_open_after_close_is_leak() {
        let judge = Judge::new(config(2));
        feed(&judge, &[PoolEvent::PoolReady]);
        feed(&judge, &checked_out(1));
        feed(
            &judge,
            &[PoolEvent::CheckedIn { id: 1 }, PoolEvent::PoolClosed],
        );
        let verdict = judge.finish(None);
        assert_eq!(invariants(&verdict), [Invariant::Leak], "{verdict}");
        assert!(verdict.to_string().starts_with("FAIL — LEAK"), "{verdict}");
    }

    #[test]
    fn a_connection_still_out_at_quiescence_is_leak_and_a_wrong_status_acct() {
        let judge = Judge::new(config(2));
        feed(&judge, &[PoolEvent::PoolReady]);
        feed(&judge, &checked_out(1));
        // The pool says it holds nothing; the events say a connection is still out.
        judge.quiescent(&status(0, 0, false));
        let found = invariants(&judge.finish(None));
        assert!(found.contains(&Invariant::Leak), "{found:?}");
        assert!(found.contains(&Invariant::Acct), "{found:?}");
    }

    #[test]
    fn events_from_many_threads_are_all_judged() {
        let judge = Arc::new(Judge::new(config(8)));
        judge.event(&PoolEvent::PoolReady);
        let threads: Vec<_> = (1..=8u64)
            .map(|id| {
                let judge = judge.clone();
                std::thread::spawn(move || {
                    feed(&judge, &checked_out(id));
                    judge.event(&PoolEvent::CheckedIn { id });
                })
            })
            .collect();
        for thread in threads {
            assert!(thread.join().is_ok());
        }
        judge.quiescent(&status(8, 8, false));
        let verdict = judge.finish(None);
        assert_eq!(verdict.events, 1 + 8 * 4);
        // Eight connections left open after (no) close is LEAK; nothing else.
        assert_eq!(invariants(&verdict), [Invariant::Leak], "{verdict}");
    }

    /// One of each of pool-core's events, in the order of its declaration.
    fn every_cmap_event() -> Vec<CmapEvent> {
        let address: Arc<str> = Arc::from("mock:27017");
        let a = || address.clone();
        let ms = Duration::from_millis(3);
        vec![
            CmapEvent::PoolCreated {
                address: a(),
                options: PoolOptions::default(),
            },
            CmapEvent::PoolReady { address: a() },
            CmapEvent::PoolCleared {
                address: a(),
                interrupt_in_use_connections: true,
            },
            CmapEvent::PoolClosed { address: a() },
            CmapEvent::ConnectionCreated {
                address: a(),
                connection_id: 7,
            },
            CmapEvent::ConnectionReady {
                address: a(),
                connection_id: 7,
                duration: ms,
            },
            CmapEvent::ConnectionClosed {
                address: a(),
                connection_id: 7,
                reason: ConnectionClosedReason::Expired,
            },
            CmapEvent::ConnectionCheckOutStarted { address: a() },
            CmapEvent::ConnectionCheckOutFailed {
                address: a(),
                reason: ConnectionCheckOutFailedReason::Timeout,
                duration: ms,
            },
            CmapEvent::ConnectionCheckedOut {
                address: a(),
                connection_id: 7,
                duration: ms,
            },
            CmapEvent::ConnectionCheckedIn {
                address: a(),
                connection_id: 7,
            },
        ]
    }

    #[test]
    fn from_cmap_maps_every_event() {
        let events = every_cmap_event();
        // Every name once: the list covers every variant pool-core declares.
        let mut names: Vec<&str> = events.iter().map(CmapEvent::name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 11);
        let mapped: Vec<Option<PoolEvent>> = events.iter().map(PoolEvent::from_cmap).collect();
        let id = 7;
        assert_eq!(
            mapped,
            [
                None,
                Some(PoolEvent::PoolReady),
                Some(PoolEvent::PoolCleared { interrupt: true }),
                Some(PoolEvent::PoolClosed),
                Some(PoolEvent::ConnectionCreated { id }),
                Some(PoolEvent::ConnectionReady { id }),
                Some(PoolEvent::ConnectionClosed {
                    id,
                    reason: ConnectionClosedReason::Expired
                }),
                Some(PoolEvent::CheckOutStarted),
                Some(PoolEvent::CheckOutFailed {
                    reason: ConnectionCheckOutFailedReason::Timeout
                }),
                Some(PoolEvent::CheckedOut { id }),
                Some(PoolEvent::CheckedIn { id }),
            ]
        );
        // The judge takes them all but the pool's creation.
        let judge = Judge::new(config(2));
        let judged = events.iter().filter(|e| judge.cmap(e)).count();
        assert_eq!(judged, 10);
        assert_eq!(judge.events(), 10);
    }

    #[test]
    fn from_status_keeps_the_counts_and_counters() {
        let status = pool_core::Status {
            total: 5,
            available: 2,
            pending: 1,
            in_use: 2,
            waiters: 3,
            generation: 4,
            paused: false,
            closed: true,
            counters: pool_core::CountersSnapshot {
                created: 9,
                closed: 4,
                checked_out: 20,
                checkout_failed: 1,
                ..pool_core::CountersSnapshot::default()
            },
        };
        let ours = PoolStatus::from_status(&status);
        assert_eq!(
            (ours.total, ours.available, ours.pending, ours.in_use),
            (5, 2, 1, 2)
        );
        assert!(ours.closed && !ours.paused);
        let counters = ours.counters.expect("counters kept");
        assert_eq!(
            (
                counters.created,
                counters.closed,
                counters.checked_out,
                counters.checkout_failed
            ),
            (9, 4, 20, 1)
        );
    }
}
