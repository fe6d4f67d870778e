//! The real-time stress test: the simulator's world (the same pool code, the simulated
//! network in front of mock-server, the workload and fault driver of a seed's plan, the
//! same oracle through the same recorder) on wall-clock time and a multi-thread Tokio
//! runtime instead of virtual time and the seeded scheduler.
//!
//! Nothing is deterministic here: real threads interleave the pool's code, and timing is
//! whatever the machine gives. It is the comparison point for the simulator: how long a
//! classic stress test (many concurrent checkouts, check-ins, cancellations and timeouts
//! under faults) needs to run into a bug the simulator finds in a few seeds.
//!
//! ## How it runs
//! A [`SimRuntime`](crate::SimRuntime) made on a [`wall::WallClock`] gives every pool,
//! the network and the harness wall-clock time, Tokio timers and Tokio tasks; nothing else
//! changes, so every pool the simulator runs (poolcheck's own, the zoo, any
//! [`PoolFactory`]) runs here as it is. [`stress`] runs *worlds* in parallel, each a
//! sequence of *rounds*: one seed's plan (clients, ops, faults, pool options) played out
//! in real time, then the quiescence and after-close checks, as a simulated run does. A
//! monitor judges the stable-point checks every [`StressConfig::tick`]. It stops at the
//! first violation, or at [`StressConfig::cap`].
//!
//! ## What it can see
//! Every invariant the simulator judges from observations: MAX, LIVE, LEAK, FIFO, TIME,
//! ERR, STALE, ACCT, CLEAR, IDLE, and PANIC (a task's panic is caught and reported). The
//! conditions that must persist (LIVE, ACCT between events) and the deadlines (TIME, ERR's
//! "promptly") are judged with a wall-clock tolerance ([`StressConfig::tolerance`], 100 ms
//! by default, as `poolcheck soak` uses) instead of the simulator's 5 ms of virtual time,
//! so a starvation or a late checkout shorter than that goes unseen, and one caused only by
//! a descheduled thread on a loaded machine could be reported. MAX allows one creation per
//! worker thread to race a close's event ([`OracleConfig::event_lag`]). FIFO and STALE
//! are judged with the tolerance as [`OracleConfig::arrival_slack`]: a checkout's start is
//! recorded before its thread reaches the pool, a grant is claimed only when the waiter's
//! thread runs, and a checkout may take a connection before a clear and report it after,
//! so only an overtake of a checkout that began at least the tolerance earlier and still
//! waits the tolerance after counts, and only a stale hand-out reported at least the
//! tolerance after the clear. Not judged: a
//! deadlock as such (the simulator sees that no task can run and no timer is pending; on
//! real time a deadlock shows only as the starvation and overdue checkouts it causes),
//! and NONDET (a sweep's re-run check).

pub mod wall;
mod world;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::oracle::{OracleConfig, Violation};
use crate::plan::Scenario;
use crate::pool_under_test::PoolFactory;

/// What to stress, and for how long.
#[derive(Debug, Clone)]
pub struct StressConfig {
    /// The pool.
    pub pool: PoolFactory,
    /// The scenario each round's plan is drawn from.
    pub scenario: Scenario,
    /// The seed of the first round's plan (world `w`'s round `k` plays seed
    /// `seed + w + k × worlds`).
    pub seed: u64,
    /// Give up after this long without a violation.
    pub cap: Duration,
    /// How long a condition may persist (or a deadline be overrun) before it is a
    /// violation, in wall-clock time.
    pub tolerance: Duration,
    /// Tokio worker threads.
    pub worker_threads: usize,
    /// Rounds run at once, each its own pool, server and workload.
    pub worlds: usize,
    /// How often the monitor judges the stable-point checks.
    pub tick: Duration,
}

impl StressConfig {
    /// Stresses `pool` with `scenario`'s plans from seed 1: a 60 s cap, a 100 ms
    /// tolerance, two worker threads (at least) and two worlds, judged every millisecond.
    pub fn new(pool: impl Into<PoolFactory>, scenario: Scenario) -> StressConfig {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        StressConfig {
            pool: pool.into(),
            scenario,
            seed: 1,
            cap: Duration::from_secs(60),
            tolerance: Duration::from_millis(100),
            worker_threads: threads,
            worlds: 2,
            tick: Duration::from_millis(1),
        }
    }

    /// The same with another cap.
    pub fn cap(mut self, cap: Duration) -> StressConfig {
        self.cap = cap;
        self
    }

    /// The same from another first seed.
    pub fn seed(mut self, seed: u64) -> StressConfig {
        self.seed = seed;
        self
    }

    /// The oracle's configuration for a round with `options`: the simulator's, on the
    /// wall-clock tolerance, with one event lag per worker thread and the tolerance as
    /// the arrival slack of FIFO and STALE.
    fn oracle(&self, options: &pool_core::PoolOptions) -> OracleConfig {
        OracleConfig {
            max_total: options.total_max(),
            max_connecting: options.max_connecting,
            tolerance: self.tolerance,
            wait_queue_timeout: options.wait_queue_timeout,
            checkout_bound: None,
            background_establishment: false,
            event_lag: u32::try_from(self.worker_threads).unwrap_or(u32::MAX),
            arrival_slack: self.tolerance,
            ..OracleConfig::from_options(options)
        }
    }
}

/// What a stress run found.
#[derive(Debug, Clone, Serialize)]
pub struct StressReport {
    /// The pool's name.
    pub pool: String,
    /// The first violation, if any.
    pub violation: Option<Violation>,
    /// The seed of the round that found it.
    pub seed: Option<u64>,
    /// Wall-clock time from the start to the violation's detection (or to the cap).
    pub elapsed: Duration,
    /// Rounds begun.
    pub rounds: u64,
    /// Checkouts begun.
    pub checkouts: u64,
    /// Faults injected.
    pub faults: u64,
}

impl StressReport {
    /// True when no invariant was violated.
    pub fn is_ok(&self) -> bool {
        self.violation.is_none()
    }
}

impl std::fmt::Display for StressReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counts = format!(
            "{} round(s), {} checkout(s), {} fault(s) in {:.1} s",
            self.rounds,
            self.checkouts,
            self.faults,
            self.elapsed.as_secs_f64()
        );
        match (&self.violation, self.seed) {
            (Some(v), Some(seed)) => write!(
                f,
                "{}: FAIL (plan seed {seed:#x}) — {v}; {counts}",
                self.pool
            ),
            (Some(v), None) => write!(f, "{}: FAIL — {v}; {counts}", self.pool),
            (None, _) => write!(f, "{}: OK — {counts}", self.pool),
        }
    }
}

/// Why a stress run could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StressError {
    /// The Tokio runtime could not be started.
    #[error("cannot start a Tokio runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// The pool refused a plan's options.
    #[error("pool `{pool}` could not be built: {reason}")]
    PoolBuild {
        /// The pool.
        pool: String,
        /// Why, as its factory said.
        reason: String,
    },
}

/// What the worlds share: when to stop, what was found, the counts.
struct Progress {
    start: Instant,
    deadline: Instant,
    stop: AtomicBool,
    rounds: AtomicU64,
    checkouts: AtomicU64,
    faults: AtomicU64,
    found: Mutex<Option<(Violation, u64, Duration)>>,
    error: Mutex<Option<StressError>>,
}

impl Progress {
    /// True once a world found something, failed, or the cap passed.
    fn over(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || Instant::now() >= self.deadline
    }

    /// Keeps the first violation found (with its detection time).
    fn found(&self, violation: Violation, seed: u64) {
        let elapsed = self.start.elapsed();
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        if found.is_none() {
            *found = Some((violation, seed, elapsed));
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn failed(&self, error: StressError) {
        let mut slot = self.error.lock().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert(error);
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Stresses a pool on real threads and wall-clock time until the first violation or the
/// cap (see the [module documentation](self)).
///
/// # Errors
/// [`StressError`] when the runtime cannot start or the pool refuses a plan's options; a
/// pool's misbehaviour is a violation in the report, never an error.
pub fn stress(config: &StressConfig) -> Result<StressReport, StressError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.worker_threads.max(1))
        .enable_all()
        .build()?;
    crate::executor::quiet_task_panics();
    let start = Instant::now();
    let progress = Arc::new(Progress {
        start,
        deadline: start + config.cap,
        stop: AtomicBool::new(false),
        rounds: AtomicU64::new(0),
        checkouts: AtomicU64::new(0),
        faults: AtomicU64::new(0),
        found: Mutex::new(None),
        error: Mutex::new(None),
    });
    let worlds = config.worlds.max(1);
    runtime.block_on(async {
        let mut handles = Vec::with_capacity(worlds);
        for world in 0..worlds {
            let (config, progress) = (config.clone(), progress.clone());
            let handle = tokio::runtime::Handle::current();
            handles.push(tokio::spawn(async move {
                let mut seed = config.seed.wrapping_add(world as u64);
                while !progress.over() {
                    progress.rounds.fetch_add(1, Ordering::Relaxed);
                    match world::round(&config, handle.clone(), seed, &progress).await {
                        Ok(Some(violation)) => progress.found(violation, seed),
                        Ok(None) => {}
                        Err(error) => progress.failed(error),
                    }
                    seed = seed.wrapping_add(worlds as u64);
                }
            }));
        }
        for handle in handles {
            // A world's task only ends by returning; a join error would mean the runtime
            // is shutting down, which only happens after this.
            let _ = handle.await;
        }
    });
    // Tasks of a round stopped at its violation (and a deadlocked pool's) are dropped.
    runtime.shutdown_timeout(Duration::from_secs(1));
    report(config, &progress)
}

/// The report of a finished stress run, or the error that ended it.
fn report(config: &StressConfig, progress: &Progress) -> Result<StressReport, StressError> {
    if let Some(error) = progress
        .error
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        return Err(error);
    }
    let found = progress
        .found
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let (violation, seed, elapsed) = match found {
        Some((violation, seed, elapsed)) => (Some(violation), Some(seed), elapsed),
        None => (None, None, progress.start.elapsed()),
    };
    Ok(StressReport {
        pool: config.pool.name().to_string(),
        violation,
        seed,
        elapsed,
        rounds: progress.rounds.load(Ordering::Relaxed),
        checkouts: progress.checkouts.load(Ordering::Relaxed),
        faults: progress.faults.load(Ordering::Relaxed),
    })
}
