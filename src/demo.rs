//! `poolcheck demo`: the reference pool under concurrent load, with its invariants checked
//! while it runs.
//!
//! Many tasks on a multi-thread Tokio runtime check connections out of one pool, hold each
//! across a yield (or a short sleep), and check it in. The pool's connections come from
//! [`MockServer`], an in-process [`Manager`] whose `connect` sleeps a little and fails on
//! every `--connect-fail-every`-th attempt. Every `--error-every`-th use marks its
//! connection errored, as a network error would, so the pool keeps closing and replacing
//! connections and the injected connect failures actually happen.
//!
//! Checked live (any breach fails the run):
//! - from `pool.status()` samples (one load of the pool's state word, so exact):
//!   `total <= maxPoolSize` and `pending <= maxConnecting`;
//! - from the CMAP events, counted as they arrive: checked out minus checked in never
//!   exceeds `maxPoolSize` (a connection's `ConnectionCheckedIn` is emitted before it can be
//!   handed out again, so this count is exact); created minus closed never exceeds
//!   `maxPoolSize` plus the number of worker threads (the pool emits `ConnectionClosed`
//!   just *after* it frees the slot, so another thread's `ConnectionCreated` may be counted
//!   first: at most one such lag per thread);
//! - by the tasks themselves: no connection is held by two tasks at once, and the tasks
//!   never hold more than `maxPoolSize` connections together.
//!
//! Checked once the load is over: the event counts reconcile with the pool's own counters
//! and with what the tasks and the mock server saw, and closing the pool closes every
//! connection.

use std::collections::BTreeMap;
use std::fmt;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicI64;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Relaxed, SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use poolcheck::pool_core::limits;
use poolcheck::{
    CmapEvent, ConnectionClosedReason, ConnectionId, Manager, Pool, PooledConnection, Status,
};
use serde::Serialize;

/// The demo's flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct DemoArgs {
    /// Concurrent tasks checking connections out.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    tasks: u32,

    /// Checkouts each task makes.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    checkouts: u64,

    /// The pool's maxPoolSize.
    #[arg(
        long,
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(limits::CONNECTIONS_MAX))
    )]
    max_pool_size: u32,

    /// The pool's maxConnecting.
    #[arg(
        long,
        default_value_t = 2,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(limits::MAX_CONNECTING_MAX))
    )]
    max_connecting: u32,

    /// The pool's waitQueueTimeoutMS (0 waits forever).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    wait_queue_timeout_ms: u64,

    /// How long the mock server takes to establish a connection, in microseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    connect_latency_us: u64,

    /// The mock server refuses every Nth connect attempt (0: never).
    #[arg(long, default_value_t = 10)]
    connect_fail_every: u64,

    /// Every Nth checkout marks its connection errored, so the pool closes and replaces it
    /// (0: never).
    #[arg(long, default_value_t = 2500)]
    error_every: u64,

    /// How long a task holds each connection, in microseconds (0: one yield to the
    /// scheduler). Tokio's timer rounds sleeps up to whole milliseconds.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    hold_us: u64,

    /// Print the summary as JSON on stdout (and no progress bar).
    #[arg(long)]
    json: bool,

    /// Do not show the progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// Runs the demo; the exit code is 0 when no invariant was violated, 1 otherwise.
pub(crate) fn run(args: &DemoArgs) -> ExitCode {
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("poolcheck: error: cannot start the Tokio runtime: {error}");
            return ExitCode::from(1);
        }
    };
    let summary = match runtime.block_on(demo(args, workers)) {
        Ok(summary) => summary,
        Err(error) => {
            eprintln!("poolcheck: error: {error}");
            return ExitCode::from(1);
        }
    };
    // Stop the pool's background task before printing.
    drop(runtime);

    if args.json {
        match serde_json::to_string_pretty(&summary) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("poolcheck: error: cannot write the summary as JSON: {error}");
                return ExitCode::from(1);
            }
        }
    } else {
        print!("{summary}");
    }
    if summary.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

// ===== the mock server =====

/// An in-process stand-in for a server: `connect` sleeps, then succeeds or refuses.
#[derive(Debug)]
struct MockServer {
    latency: Duration,
    fail_every: u64,
    attempts: AtomicU64,
    refused: AtomicU64,
    closed: AtomicU64,
}

/// One mock connection. `busy` is set by the task that holds it.
#[derive(Debug)]
struct MockConn {
    id: ConnectionId,
    busy: AtomicBool,
}

/// The mock server's only error: an injected connect failure.
#[derive(Debug)]
struct Refused {
    attempt: u64,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mock server refused connect attempt {} (injected failure)",
            self.attempt
        )
    }
}

impl std::error::Error for Refused {}

impl Manager for MockServer {
    type Connection = MockConn;
    type Error = Refused;

    async fn connect(&self, id: ConnectionId) -> Result<MockConn, Refused> {
        let attempt = self.attempts.fetch_add(1, Relaxed) + 1;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        if self.fail_every != 0 && attempt % self.fail_every == 0 {
            self.refused.fetch_add(1, Relaxed);
            return Err(Refused { attempt });
        }
        Ok(MockConn {
            id,
            busy: AtomicBool::new(false),
        })
    }

    fn close(&self, _conn: MockConn) {
        self.closed.fetch_add(1, Relaxed);
    }
}

// ===== live checks =====

/// One invariant checked while the load runs.
struct LiveCheck {
    name: &'static str,
    breaches: AtomicU64,
    first: Mutex<Option<String>>,
}

impl LiveCheck {
    fn new(name: &'static str) -> Self {
        LiveCheck {
            name,
            breaches: AtomicU64::new(0),
            first: Mutex::new(None),
        }
    }

    /// Records a breach; `describe` runs only for the first one.
    fn breach(&self, describe: impl FnOnce() -> String) {
        if self.breaches.fetch_add(1, SeqCst) == 0 {
            let mut first = self
                .first
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *first = Some(describe());
        }
    }

    fn result(&self, passed: String) -> Check {
        let breaches = self.breaches.load(SeqCst);
        if breaches == 0 {
            return Check {
                name: self.name.to_string(),
                ok: true,
                detail: passed,
            };
        }
        let first = self
            .first
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let detail = format!(
            "{breaches} breach(es); first: {}",
            first.unwrap_or_default()
        );
        Check {
            name: self.name.to_string(),
            ok: false,
            detail,
        }
    }
}

/// The names of the CMAP events, in the order of `Monitor::events`.
const EVENT_NAMES: [&str; 11] = [
    "ConnectionPoolCreated",
    "ConnectionPoolReady",
    "ConnectionPoolCleared",
    "ConnectionPoolClosed",
    "ConnectionCreated",
    "ConnectionReady",
    "ConnectionClosed",
    "ConnectionCheckOutStarted",
    "ConnectionCheckOutFailed",
    "ConnectionCheckedOut",
    "ConnectionCheckedIn",
];
const POOL_CLOSED: usize = 3;
const CREATED: usize = 4;
const READY: usize = 5;
const CLOSED: usize = 6;
const CHECK_OUT_STARTED: usize = 7;
const CHECK_OUT_FAILED: usize = 8;
const CHECKED_OUT: usize = 9;
const CHECKED_IN: usize = 10;

/// What the event handler, the status samples and the tasks record.
struct Monitor {
    max_pool_size: i64,
    max_connecting: u32,
    /// Allowed lag of `ConnectionClosed` behind a freed slot: one per worker thread.
    total_slack: i64,

    events: [AtomicU64; 11],
    other_events: AtomicU64,
    /// ConnectionClosed by reason: stale, idle, error, poolClosed, expired.
    closed_by_reason: [AtomicU64; 5],

    event_in_use: AtomicI64,
    event_in_use_peak: AtomicI64,
    event_total: AtomicI64,
    event_total_peak: AtomicI64,

    samples: AtomicU64,
    sampled_total_peak: AtomicU64,
    sampled_in_use_peak: AtomicU64,
    sampled_pending_peak: AtomicU64,

    held: AtomicI64,
    held_peak: AtomicI64,

    sampled_total: LiveCheck,
    sampled_pending: LiveCheck,
    sampled_in_use: LiveCheck,
    events_in_use: LiveCheck,
    events_total: LiveCheck,
    exclusive: LiveCheck,
    held_bound: LiveCheck,
}

const CLOSED_REASONS: [&str; 5] = ["stale", "idle", "error", "poolClosed", "expired"];

impl Monitor {
    fn new(max_pool_size: u32, max_connecting: u32, workers: usize) -> Self {
        Monitor {
            max_pool_size: i64::from(max_pool_size),
            max_connecting,
            total_slack: i64::try_from(workers).unwrap_or(i64::MAX),
            events: Default::default(),
            other_events: AtomicU64::new(0),
            closed_by_reason: Default::default(),
            event_in_use: AtomicI64::new(0),
            event_in_use_peak: AtomicI64::new(0),
            event_total: AtomicI64::new(0),
            event_total_peak: AtomicI64::new(0),
            samples: AtomicU64::new(0),
            sampled_total_peak: AtomicU64::new(0),
            sampled_in_use_peak: AtomicU64::new(0),
            sampled_pending_peak: AtomicU64::new(0),
            held: AtomicI64::new(0),
            held_peak: AtomicI64::new(0),
            sampled_total: LiveCheck::new("total <= maxPoolSize (status samples)"),
            sampled_pending: LiveCheck::new("pending <= maxConnecting (status samples)"),
            sampled_in_use: LiveCheck::new("in use <= maxPoolSize (status samples)"),
            events_in_use: LiveCheck::new("checked out - checked in <= maxPoolSize (events, live)"),
            events_total: LiveCheck::new(
                "created - closed <= maxPoolSize + worker threads (events, live)",
            ),
            exclusive: LiveCheck::new("no connection held by two tasks at once"),
            held_bound: LiveCheck::new("connections held by tasks <= maxPoolSize"),
        }
    }

    fn count(&self, index: usize) -> u64 {
        self.events[index].load(SeqCst)
    }

    /// The event handler.
    fn on_event(&self, event: &CmapEvent) {
        let index = match event {
            CmapEvent::PoolCreated { .. } => 0,
            CmapEvent::PoolReady { .. } => 1,
            CmapEvent::PoolCleared { .. } => 2,
            CmapEvent::PoolClosed { .. } => POOL_CLOSED,
            CmapEvent::ConnectionCreated { connection_id, .. } => {
                let total = self.event_total.fetch_add(1, SeqCst) + 1;
                self.event_total_peak.fetch_max(total, Relaxed);
                if total > self.max_pool_size.saturating_add(self.total_slack) {
                    let (id, max, slack) = (*connection_id, self.max_pool_size, self.total_slack);
                    self.events_total.breach(|| {
                        format!("{total} connections open after ConnectionCreated {id} (max {max} + {slack})")
                    });
                }
                CREATED
            }
            CmapEvent::ConnectionReady { .. } => READY,
            CmapEvent::ConnectionClosed { reason, .. } => {
                self.event_total.fetch_sub(1, SeqCst);
                let slot = match reason {
                    ConnectionClosedReason::Stale => 0,
                    ConnectionClosedReason::Idle => 1,
                    ConnectionClosedReason::Error => 2,
                    ConnectionClosedReason::PoolClosed => 3,
                    ConnectionClosedReason::Expired => 4,
                };
                self.closed_by_reason[slot].fetch_add(1, Relaxed);
                CLOSED
            }
            CmapEvent::ConnectionCheckOutStarted { .. } => CHECK_OUT_STARTED,
            CmapEvent::ConnectionCheckOutFailed { .. } => CHECK_OUT_FAILED,
            CmapEvent::ConnectionCheckedOut { connection_id, .. } => {
                let in_use = self.event_in_use.fetch_add(1, SeqCst) + 1;
                self.event_in_use_peak.fetch_max(in_use, Relaxed);
                if in_use > self.max_pool_size {
                    let (id, max) = (*connection_id, self.max_pool_size);
                    self.events_in_use.breach(|| {
                        format!("{in_use} connections checked out after ConnectionCheckedOut {id} (max {max})")
                    });
                }
                CHECKED_OUT
            }
            CmapEvent::ConnectionCheckedIn { .. } => {
                self.event_in_use.fetch_sub(1, SeqCst);
                CHECKED_IN
            }
            _ => {
                self.other_events.fetch_add(1, Relaxed);
                return;
            }
        };
        self.events[index].fetch_add(1, SeqCst);
    }

    /// Checks one `pool.status()` snapshot.
    fn sample(&self, status: &Status) {
        self.samples.fetch_add(1, Relaxed);
        self.sampled_total_peak
            .fetch_max(u64::from(status.total), Relaxed);
        self.sampled_in_use_peak
            .fetch_max(u64::from(status.in_use), Relaxed);
        self.sampled_pending_peak
            .fetch_max(u64::from(status.pending), Relaxed);
        let max = self.max_pool_size;
        if i64::from(status.total) > max {
            let total = status.total;
            self.sampled_total
                .breach(|| format!("status showed total {total} (max {max})"));
        }
        if status.pending > self.max_connecting || status.pending > status.total {
            let (pending, total, limit) = (status.pending, status.total, self.max_connecting);
            self.sampled_pending.breach(|| {
                format!(
                    "status showed pending {pending} with total {total} (maxConnecting {limit})"
                )
            });
        }
        if i64::from(status.in_use) > max {
            let in_use = status.in_use;
            self.sampled_in_use
                .breach(|| format!("status showed {in_use} in use (max {max})"));
        }
    }

    /// A task got `conn`.
    fn on_held(&self, conn: &PooledConnection<MockServer>) {
        let held = self.held.fetch_add(1, SeqCst) + 1;
        self.held_peak.fetch_max(held, Relaxed);
        if held > self.max_pool_size {
            let max = self.max_pool_size;
            self.held_bound
                .breach(|| format!("tasks held {held} connections at once (max {max})"));
        }
        let (id, own_id) = (conn.id(), conn.id);
        if conn.busy.swap(true, AcqRel) {
            self.exclusive
                .breach(|| format!("connection {id} was handed out while another task held it"));
        }
        if id != own_id {
            self.exclusive
                .breach(|| format!("the pool calls connection {own_id} by id {id}"));
        }
    }

    /// A task is about to check `conn` in.
    fn on_release(&self, conn: &PooledConnection<MockServer>) {
        conn.busy.store(false, SeqCst);
        self.held.fetch_sub(1, SeqCst);
    }
}

// ===== the load =====

/// What one task saw.
#[derive(Default)]
struct TaskReport {
    succeeded: u64,
    failures: BTreeMap<&'static str, u64>,
    marked_errored: u64,
    latency: Histogram,
}

#[derive(Clone, Copy)]
struct Plan {
    tasks: u64,
    checkouts: u64,
    error_every: u64,
    hold: Duration,
}

async fn worker(
    pool: Pool<MockServer>,
    monitor: Arc<Monitor>,
    plan: Plan,
    task: u64,
    done: Arc<AtomicU64>,
) -> TaskReport {
    let mut report = TaskReport::default();
    for i in 0..plan.checkouts {
        let started = Instant::now();
        let result = pool.check_out().await;
        report.latency.record(started.elapsed());
        match result {
            Ok(mut conn) => {
                report.succeeded += 1;
                monitor.on_held(&conn);
                monitor.sample(&pool.status());
                if plan.hold.is_zero() {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(plan.hold).await;
                }
                // Number the checkouts round-robin over the tasks, so the marks spread
                // evenly over time instead of landing on every task's last round.
                let n = i.saturating_mul(plan.tasks).saturating_add(task + 1);
                if plan.error_every != 0 && n % plan.error_every == 0 {
                    conn.mark_errored();
                    report.marked_errored += 1;
                }
                monitor.on_release(&conn);
                drop(conn);
            }
            Err(error) => *report.failures.entry(error.cmap_type()).or_default() += 1,
        }
        done.fetch_add(1, Relaxed);
    }
    report
}

async fn demo(args: &DemoArgs, workers: usize) -> Result<Summary, String> {
    let attempts = u64::from(args.tasks) * args.checkouts;
    let wait_queue_timeout = if args.wait_queue_timeout_ms == 0 {
        None
    } else {
        Some(Duration::from_millis(args.wait_queue_timeout_ms))
    };
    let config = Config {
        tasks: args.tasks,
        checkouts_per_task: args.checkouts,
        max_pool_size: args.max_pool_size,
        max_connecting: args.max_connecting,
        wait_queue_timeout_ms: args.wait_queue_timeout_ms,
        connect_latency_us: args.connect_latency_us,
        connect_fail_every: args.connect_fail_every,
        error_every: args.error_every,
        hold_us: args.hold_us,
        worker_threads: workers,
    };
    if !args.json {
        print!("{config}");
    }

    let monitor = Arc::new(Monitor::new(
        args.max_pool_size,
        args.max_connecting,
        workers,
    ));
    let server = MockServer {
        latency: Duration::from_micros(args.connect_latency_us),
        fail_every: args.connect_fail_every,
        attempts: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        closed: AtomicU64::new(0),
    };
    let handler = monitor.clone();
    let pool = Pool::builder(server)
        .address("mock:27017")
        .max_pool_size(args.max_pool_size)
        .max_connecting(args.max_connecting)
        .wait_queue_timeout(wait_queue_timeout)
        .event_handler(move |event: CmapEvent| handler.on_event(&event))
        .ready()
        .build()
        .map_err(|error| format!("cannot build the pool: {error}"))?;

    let bar = if args.json || args.no_progress {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(attempts)
    };
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} checkouts (eta {eta})",
    );
    bar.set_style(style.unwrap_or_else(|_| ProgressStyle::default_bar()));

    let done = Arc::new(AtomicU64::new(0));
    let ticker = {
        let (bar, done, pool, monitor) = (bar.clone(), done.clone(), pool.clone(), monitor.clone());
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(50));
            loop {
                interval.tick().await;
                bar.set_position(done.load(Relaxed));
                monitor.sample(&pool.status());
            }
        })
    };

    let plan = Plan {
        tasks: u64::from(args.tasks),
        checkouts: args.checkouts,
        error_every: args.error_every,
        hold: Duration::from_micros(args.hold_us),
    };
    let started = Instant::now();
    let handles: Vec<_> = (0..u64::from(args.tasks))
        .map(|task| {
            tokio::spawn(worker(
                pool.clone(),
                monitor.clone(),
                plan,
                task,
                done.clone(),
            ))
        })
        .collect();
    let mut succeeded = 0;
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut marked_errored = 0;
    let mut latency = Histogram::default();
    let mut panics = Vec::new();
    for handle in handles {
        match handle.await {
            Ok(report) => {
                succeeded += report.succeeded;
                marked_errored += report.marked_errored;
                for (kind, n) in report.failures {
                    *failures.entry(kind.to_string()).or_default() += n;
                }
                latency.merge(&report.latency);
            }
            Err(error) => panics.push(error.to_string()),
        }
    }
    let elapsed = started.elapsed();
    ticker.abort();
    bar.set_position(done.load(Relaxed));
    bar.finish_and_clear();

    // ===== once the load is over =====
    let m = &*monitor;
    let mut checks = vec![
        m.sampled_total.result(format!(
            "peak {} over {} samples",
            m.sampled_total_peak.load(SeqCst),
            m.samples.load(SeqCst)
        )),
        m.sampled_pending.result(format!(
            "peak pending {}",
            m.sampled_pending_peak.load(SeqCst)
        )),
        m.sampled_in_use
            .result(format!("peak {}", m.sampled_in_use_peak.load(SeqCst))),
        m.events_in_use
            .result(format!("peak {}", m.event_in_use_peak.load(SeqCst))),
        m.events_total
            .result(format!("peak {}", m.event_total_peak.load(SeqCst))),
        m.exclusive.result(format!("{succeeded} checkouts")),
        m.held_bound
            .result(format!("peak {}", m.held_peak.load(SeqCst))),
    ];
    let mut check = |name: &str, ok: bool, detail: String| {
        checks.push(Check {
            name: name.to_string(),
            ok,
            detail,
        });
    };
    check(
        "every task finished",
        panics.is_empty(),
        if panics.is_empty() {
            format!("{} tasks", args.tasks)
        } else {
            panics.join("; ")
        },
    );

    let failed: u64 = failures.values().sum();
    let status = pool.status();
    let counters = status.counters;
    let server = pool.manager();
    let (connects, refused) = (server.attempts.load(SeqCst), server.refused.load(SeqCst));
    check(
        "pool quiescent after the load",
        status.in_use == 0
            && status.pending == 0
            && status.waiters == 0
            && status.available == status.total,
        format!(
            "total {}, available {}, in use {}, pending {}, waiters {}",
            status.total, status.available, status.in_use, status.pending, status.waiters
        ),
    );
    check(
        "one ConnectionCheckOutStarted per attempt",
        m.count(CHECK_OUT_STARTED) == attempts && succeeded + failed == attempts,
        format!(
            "{} events, {attempts} attempts, {succeeded} ok + {failed} failed",
            m.count(CHECK_OUT_STARTED)
        ),
    );
    check(
        "checkout events = pool counters = task results",
        m.count(CHECKED_OUT) == succeeded
            && counters.checked_out == succeeded
            && m.count(CHECK_OUT_FAILED) == failed
            && counters.checkout_failed == failed,
        format!(
            "events/counters/tasks: checked out {}/{}/{succeeded}, failed {}/{}/{failed}",
            m.count(CHECKED_OUT),
            counters.checked_out,
            m.count(CHECK_OUT_FAILED),
            counters.checkout_failed
        ),
    );
    check(
        "every checkout checked in",
        m.count(CHECKED_IN) == m.count(CHECKED_OUT),
        format!("{} in, {} out", m.count(CHECKED_IN), m.count(CHECKED_OUT)),
    );
    let open_by_events = m.count(CREATED).saturating_sub(m.count(CLOSED));
    check(
        "created - closed (events) = status total",
        m.count(CREATED) == counters.created
            && m.count(CLOSED) == counters.closed
            && open_by_events == u64::from(status.total),
        format!(
            "created {} (counter {}), closed {} (counter {}), total {}",
            m.count(CREATED),
            counters.created,
            m.count(CLOSED),
            counters.closed,
            status.total
        ),
    );
    check(
        "a connect per ConnectionCreated, a ConnectionReady per success",
        connects == m.count(CREATED) && m.count(READY) == connects - refused.min(connects),
        format!(
            "{connects} connects, {refused} refused; {} created, {} ready",
            m.count(CREATED),
            m.count(READY)
        ),
    );
    let connection_errors = failures.get("ConnectionError").copied().unwrap_or(0);
    check(
        "each refused connect failed exactly one checkout",
        connection_errors == refused,
        format!("{refused} refused, {connection_errors} ConnectionError failures"),
    );
    check(
        "each connection marked errored was closed",
        m.closed_by_reason[2].load(SeqCst) == marked_errored + refused,
        format!(
            "{marked_errored} marked + {refused} refused, {} closed with reason error",
            m.closed_by_reason[2].load(SeqCst)
        ),
    );

    // Closing the pool closes what is left.
    let available = u64::from(status.available);
    pool.close();
    let after = pool.status();
    let pool_closed_reason = m.closed_by_reason[3].load(SeqCst);
    check(
        "close() closes every connection",
        after.closed
            && after.total == 0
            && m.count(POOL_CLOSED) == 1
            && m.count(CREATED) == m.count(CLOSED)
            && pool_closed_reason == available
            && server.closed.load(SeqCst) + refused == m.count(CLOSED),
        format!(
            "total {} after; {pool_closed_reason} of {available} closed as poolClosed; {} created, {} closed",
            after.total,
            m.count(CREATED),
            m.count(CLOSED)
        ),
    );
    check(
        "no unknown events",
        m.other_events.load(SeqCst) == 0,
        format!("{}", m.other_events.load(SeqCst)),
    );

    let ok = checks.iter().all(|c| c.ok);
    let violations: Vec<String> = checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    let verdict = match violations.first() {
        None => "OK — no invariant violated".to_string(),
        Some(first) if violations.len() == 1 => format!("FAIL — {first}"),
        Some(first) => format!("FAIL — {first} (and {} more)", violations.len() - 1),
    };
    let secs = elapsed.as_secs_f64();
    Ok(Summary {
        config,
        checkouts: Checkouts {
            attempted: attempts,
            succeeded,
            failed,
            failures_by_type: failures,
            marked_errored,
        },
        connections: Connections {
            connect_attempts: connects,
            refused_connects: refused,
            created: m.count(CREATED),
            closed: m.count(CLOSED),
            closed_by_reason: CLOSED_REASONS
                .iter()
                .zip(&m.closed_by_reason)
                .map(|(name, n)| (name.to_string(), n.load(SeqCst)))
                .filter(|(_, n)| *n > 0)
                .collect(),
        },
        peaks: Peaks {
            sampled_total: m.sampled_total_peak.load(SeqCst),
            sampled_in_use: m.sampled_in_use_peak.load(SeqCst),
            sampled_pending: m.sampled_pending_peak.load(SeqCst),
            status_samples: m.samples.load(SeqCst),
            events_in_use: m.event_in_use_peak.load(SeqCst),
            events_total: m.event_total_peak.load(SeqCst),
            held_by_tasks: m.held_peak.load(SeqCst),
        },
        elapsed_s: secs,
        throughput_ops_per_s: if secs > 0.0 {
            attempts as f64 / secs
        } else {
            0.0
        },
        latency_ns: Latency {
            p50: latency.quantile(0.50),
            p99: latency.quantile(0.99),
            max: latency.max,
            mean: latency.mean(),
        },
        events: EVENT_NAMES
            .iter()
            .zip(&m.events)
            .map(|(name, n)| (name.to_string(), n.load(SeqCst)))
            .collect(),
        checks,
        ok,
        verdict,
    })
}

// ===== the summary =====

#[derive(Debug, Serialize)]
struct Config {
    tasks: u32,
    checkouts_per_task: u64,
    max_pool_size: u32,
    max_connecting: u32,
    wait_queue_timeout_ms: u64,
    connect_latency_us: u64,
    connect_fail_every: u64,
    error_every: u64,
    hold_us: u64,
    worker_threads: usize,
}

#[derive(Debug, Serialize)]
struct Checkouts {
    attempted: u64,
    succeeded: u64,
    failed: u64,
    failures_by_type: BTreeMap<String, u64>,
    marked_errored: u64,
}

#[derive(Debug, Serialize)]
struct Connections {
    connect_attempts: u64,
    refused_connects: u64,
    created: u64,
    closed: u64,
    closed_by_reason: BTreeMap<String, u64>,
}

#[derive(Debug, Serialize)]
struct Peaks {
    sampled_total: u64,
    sampled_in_use: u64,
    sampled_pending: u64,
    status_samples: u64,
    events_in_use: i64,
    events_total: i64,
    held_by_tasks: i64,
}

#[derive(Debug, Serialize)]
struct Latency {
    p50: u64,
    p99: u64,
    max: u64,
    mean: u64,
}

#[derive(Debug, Clone, Serialize)]
struct Check {
    name: String,
    ok: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    config: Config,
    checkouts: Checkouts,
    connections: Connections,
    peaks: Peaks,
    elapsed_s: f64,
    throughput_ops_per_s: f64,
    latency_ns: Latency,
    events: BTreeMap<String, u64>,
    checks: Vec<Check>,
    ok: bool,
    verdict: String,
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let every = |n: u64| {
            if n == 0 {
                "never".to_string()
            } else {
                format!("every {}", ordinal(n))
            }
        };
        let timeout = match self.wait_queue_timeout_ms {
            0 => "none".to_string(),
            ms => format!("{ms} ms"),
        };
        let hold = match self.hold_us {
            0 => "one yield".to_string(),
            us => format!("{us} µs"),
        };
        writeln!(
            f,
            "poolcheck demo: the reference pool under load, over an in-process mock server"
        )?;
        writeln!(
            f,
            "  pool   maxPoolSize {}, maxConnecting {}, waitQueueTimeout {timeout}",
            self.max_pool_size, self.max_connecting
        )?;
        writeln!(
            f,
            "  load   {} tasks × {} checkouts on {} worker threads, each connection held for {hold}",
            self.tasks, self.checkouts_per_task, self.worker_threads
        )?;
        writeln!(
            f,
            "  faults connect takes {} µs and fails {} attempt; {} checkout marks its connection errored",
            self.connect_latency_us,
            every(self.connect_fail_every),
            every(self.error_every)
        )?;
        writeln!(f)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.checkouts;
        let row = |f: &mut fmt::Formatter<'_>, label: &str, value: String| {
            writeln!(f, "  {label:<28} {value:>12}")
        };
        writeln!(f, "summary")?;
        row(f, "checkouts attempted", c.attempted.to_string())?;
        row(f, "checkouts succeeded", c.succeeded.to_string())?;
        row(f, "checkouts failed", c.failed.to_string())?;
        for (kind, n) in &c.failures_by_type {
            row(f, &format!("  {kind}"), n.to_string())?;
        }
        row(
            f,
            "connections marked errored",
            c.marked_errored.to_string(),
        )?;
        let n = &self.connections;
        row(f, "connect attempts", n.connect_attempts.to_string())?;
        row(f, "  refused (injected)", n.refused_connects.to_string())?;
        row(f, "connections created", n.created.to_string())?;
        row(f, "connections closed", n.closed.to_string())?;
        for (reason, count) in &n.closed_by_reason {
            row(f, &format!("  reason {reason}"), count.to_string())?;
        }
        let p = &self.peaks;
        row(f, "max observed total", format!("{}", p.sampled_total))?;
        row(f, "max observed in use", format!("{}", p.sampled_in_use))?;
        row(f, "max observed pending", format!("{}", p.sampled_pending))?;
        row(f, "status samples", p.status_samples.to_string())?;
        row(f, "max in use (events)", p.events_in_use.to_string())?;
        row(f, "max total (events)", p.events_total.to_string())?;
        row(f, "wall time", format!("{:.3} s", self.elapsed_s))?;
        row(
            f,
            "throughput",
            format!("{:.0} ops/s", self.throughput_ops_per_s),
        )?;
        row(f, "checkout latency p50", human_ns(self.latency_ns.p50))?;
        row(f, "checkout latency p99", human_ns(self.latency_ns.p99))?;
        row(f, "checkout latency max", human_ns(self.latency_ns.max))?;
        writeln!(f)?;
        writeln!(f, "events")?;
        for name in EVENT_NAMES {
            let count = self.events.get(name).copied().unwrap_or(0);
            row(f, name, count.to_string())?;
        }
        writeln!(f)?;
        writeln!(f, "checks")?;
        for check in &self.checks {
            let mark = if check.ok { "ok  " } else { "FAIL" };
            writeln!(f, "  {mark} {} ({})", check.name, check.detail)?;
        }
        writeln!(f)?;
        writeln!(f, "verdict: {}", self.verdict)
    }
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn human_ns(ns: u64) -> String {
    let v = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", v / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

// ===== latency histogram =====

/// Sub-buckets per power of two: values are kept to within 1/32 (about 3 %).
const SUB_BITS: u32 = 5;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

/// A log-linear histogram of nanoseconds, in fixed memory whatever the run's length.
struct Histogram {
    counts: Vec<u64>,
    n: u64,
    sum: u128,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            n: 0,
            sum: 0,
            max: 0,
        }
    }
}

impl Histogram {
    fn index(v: u64) -> usize {
        if v < SUB as u64 {
            return v as usize;
        }
        let exponent = 63 - v.leading_zeros();
        let shift = exponent - SUB_BITS;
        let mantissa = ((v >> shift) as usize) & (SUB - 1);
        (shift as usize + 1) * SUB + mantissa
    }

    /// The highest value that lands in bucket `i`.
    fn upper(i: usize) -> u64 {
        if i < SUB {
            return i as u64;
        }
        let shift = (i / SUB - 1) as u32;
        let low = ((SUB + i % SUB) as u64) << shift;
        low.saturating_add((1u64 << shift) - 1)
    }

    fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(ns)] += 1;
        self.n += 1;
        self.sum += u128::from(ns);
        self.max = self.max.max(ns);
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.n += other.n;
        self.sum += other.sum;
        self.max = self.max.max(other.max);
    }

    /// The `q` quantile (an upper bound within about 3 %).
    fn quantile(&self, q: f64) -> u64 {
        if self.n == 0 {
            return 0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Self::upper(i).min(self.max);
            }
        }
        self.max
    }

    fn mean(&self) -> u64 {
        if self.n == 0 {
            0
        } else {
            u64::try_from(self.sum / u128::from(self.n)).unwrap_or(u64::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_monotone_and_tight() {
        let mut last = 0;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX]) {
            let i = Histogram::index(v);
            assert!(i < BUCKETS);
            assert!(i >= last || v > 100_000, "index not monotone at {v}");
            last = i;
            let upper = Histogram::upper(i);
            assert!(upper >= v, "upper {upper} < {v}");
            assert!(upper - v <= v / 32 + 1, "bucket of {v} too wide: {upper}");
        }
    }

    #[test]
    fn quantiles_of_a_uniform_run() {
        let mut h = Histogram::default();
        for ns in 1..=1000u64 {
            h.record(Duration::from_nanos(ns));
        }
        let p50 = h.quantile(0.5);
        assert!((500..=516).contains(&p50), "p50 {p50}");
        let p99 = h.quantile(0.99);
        assert!((990..=1000).contains(&p99), "p99 {p99}");
        assert_eq!(h.quantile(1.0), 1000);
        assert_eq!(h.mean(), 500);
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(1), "1st");
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(13), "13th");
        assert_eq!(ordinal(50), "50th");
        assert_eq!(ordinal(101), "101st");
    }
}
