//! The load: tasks that check connections out, hold them and check them in, with a
//! progress bar and a ticker that samples the pool's status and lets the judge check
//! what must hold between events.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use poolcheck::Pool;
use sim::Judge;
use tokio::task::JoinHandle;

use super::args::{DemoArgs, Plan};
use super::histogram::Histogram;
use super::manager::MockServer;
use super::tally::Tally;

/// What one task saw.
#[derive(Default)]
struct TaskReport {
    succeeded: u64,
    failures: BTreeMap<&'static str, u64>,
    marked_errored: u64,
    latency: Histogram,
}

/// What all the tasks saw.
#[derive(Default)]
pub(super) struct Load {
    /// Checkouts that got a connection.
    pub(super) succeeded: u64,
    /// Failed checkouts by CMAP failure type.
    pub(super) failures: BTreeMap<String, u64>,
    /// Connections marked errored.
    pub(super) marked_errored: u64,
    /// Checkout latencies.
    pub(super) latency: Histogram,
    /// Tasks that did not finish (a panic, as text).
    pub(super) panics: Vec<String>,
    /// Wall time of the load.
    pub(super) elapsed: Duration,
}

impl Load {
    fn add(&mut self, report: TaskReport) {
        self.succeeded += report.succeeded;
        self.marked_errored += report.marked_errored;
        for (kind, n) in report.failures {
            *self.failures.entry(kind.to_string()).or_default() += n;
        }
        self.latency.merge(&report.latency);
    }

    /// Failed checkouts.
    pub(super) fn failed(&self) -> u64 {
        self.failures.values().sum()
    }
}

/// One task: `plan.checkouts` checkouts, each held for `plan.hold` (or one yield).
async fn worker(
    pool: Pool<MockServer>,
    tally: Arc<Tally>,
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
                tally.sample(&pool.status());
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
                drop(conn);
            }
            Err(error) => *report.failures.entry(error.cmap_type()).or_default() += 1,
        }
        done.fetch_add(1, Relaxed);
    }
    report
}

/// The progress bar (hidden for `--json` and `--no-progress`).
fn progress_bar(args: &DemoArgs) -> ProgressBar {
    let bar = if args.json || args.no_progress {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(args.attempts())
    };
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} checkouts (eta {eta})",
    );
    bar.set_style(style.unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// Every 50 ms: moves the bar, samples the status, lets the judge check between events.
fn ticker(
    bar: ProgressBar,
    done: Arc<AtomicU64>,
    pool: Pool<MockServer>,
    tally: Arc<Tally>,
    judge: Arc<Judge>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(50));
        loop {
            interval.tick().await;
            bar.set_position(done.load(Relaxed));
            tally.sample(&pool.status());
            judge.tick();
        }
    })
}

/// Runs the load to its end.
pub(super) async fn run(
    pool: &Pool<MockServer>,
    tally: &Arc<Tally>,
    judge: &Arc<Judge>,
    args: &DemoArgs,
) -> Load {
    let bar = progress_bar(args);
    let done = Arc::new(AtomicU64::new(0));
    let ticking = ticker(
        bar.clone(),
        done.clone(),
        pool.clone(),
        tally.clone(),
        judge.clone(),
    );
    let plan = args.plan();
    let started = Instant::now();
    let handles: Vec<_> = (0..plan.tasks)
        .map(|task| {
            let (pool, tally, done) = (pool.clone(), tally.clone(), done.clone());
            tokio::spawn(worker(pool, tally, plan, task, done))
        })
        .collect();
    let mut load = Load::default();
    for handle in handles {
        match handle.await {
            Ok(report) => load.add(report),
            Err(error) => load.panics.push(error.to_string()),
        }
    }
    load.elapsed = started.elapsed();
    ticking.abort();
    bar.set_position(done.load(Relaxed));
    bar.finish_and_clear();
    load
}
