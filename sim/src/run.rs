//! One run: build the world from a seed, drive it phase by phase, judge it.
//!
//! Phases: *workload* (clients and faults run; the oracle judges every event and every
//! stable point), *settle* (the workload is over; background work finishes), the
//! *quiescence* check (everything must be back in the pool), *close* (the pool is closed
//! and must end up empty). A run stops at its first violation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::error::SimError;
use crate::executor::{catch_quietly, Advance, Budget, Executor, TaskKind, TaskPanic};
use crate::faults;
use crate::manager::SimManager;
use crate::net::SimNet;
use crate::oracle::{Invariant, Oracle, OracleConfig, Violation};
use crate::plan::{Plan, PlanFilter, Scenario};
use crate::pool_under_test::{PoolFactory, PoolParams, PoolStatus, PoolUnderTest};
use crate::recorder::Recorder;
use crate::rng::Rng;
use crate::trace::TraceRecord;
use crate::workload::{self, ActiveGuard, Ctx};

/// How long a condition may hold before the oracle calls it a violation.
pub const TOLERANCE: Duration = Duration::from_millis(5);

/// The most polls one run may make.
pub const STEPS_MAX: u64 = 5_000_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The seed.
    pub seed: u64,
    /// The pool.
    pub pool: PoolFactory,
    /// The scenario.
    pub scenario: Scenario,
    /// What of the plan to keep (shrinking).
    pub filter: PlanFilter,
    /// Keep the trace records (for files); the hash is always computed.
    pub keep_trace: bool,
    /// Keep running after the first violation and report every one (a bug that hides
    /// behind an earlier finding is still seen); by default a run stops at its first.
    pub all_violations: bool,
}

impl RunConfig {
    /// Seed `seed` of `scenario` with `pool`: the whole plan, no trace records, stop at
    /// the first violation.
    pub fn new(pool: impl Into<PoolFactory>, scenario: Scenario, seed: u64) -> RunConfig {
        RunConfig {
            seed,
            pool: pool.into(),
            scenario,
            filter: PlanFilter::default(),
            keep_trace: false,
            all_violations: false,
        }
    }
}

/// What a run found.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// The seed.
    pub seed: u64,
    /// The first violation, if any.
    pub violation: Option<Violation>,
    /// Every violation recorded (only the first unless the run kept going, see
    /// [`RunConfig::all_violations`]).
    pub violations: Vec<Violation>,
    /// The trace hash (same seed and filter ⇒ same hash).
    pub trace_hash: u64,
    /// Trace records appended.
    pub trace_len: u64,
    /// Virtual time simulated.
    pub simulated: Duration,
    /// Polls made.
    pub steps: u64,
    /// Checkouts begun.
    pub checkouts: u64,
    /// Faults injected.
    pub faults: u64,
    /// Clients and ops in the plan run.
    pub clients: usize,
    /// Ops in the plan run.
    pub ops: usize,
    /// The plan's fault count.
    pub planned_faults: usize,
    /// The records, if kept.
    #[serde(skip)]
    pub records: Vec<TraceRecord>,
}

impl RunReport {
    /// The report of a run that the harness had to abandon because code of the pool under
    /// test panicked where no task could catch it (the run is judged PANIC).
    pub(crate) fn abandoned(seed: u64, message: String) -> RunReport {
        let violation = Violation {
            invariant: Invariant::Panic,
            at: Duration::ZERO,
            message: format!("the run was abandoned: {message}"),
        };
        RunReport {
            seed,
            violation: Some(violation.clone()),
            violations: vec![violation],
            trace_hash: 0,
            trace_len: 0,
            simulated: Duration::ZERO,
            steps: 0,
            checkouts: 0,
            faults: 0,
            clients: 0,
            ops: 0,
            planned_faults: 0,
            records: Vec::new(),
        }
    }
}

/// Runs one seed like [`run`], and turns a panic that escapes every task (for example
/// in code the harness calls while tearing the world down) into a PANIC verdict.
///
/// # Errors
/// As [`run`].
pub fn run_guarded(config: &RunConfig) -> Result<RunReport, SimError> {
    match catch_quietly(|| run(config)) {
        Ok(result) => result,
        Err(message) => Ok(RunReport::abandoned(config.seed, message)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Workload,
    Settle(Duration),
    Closing(Duration),
}

/// Runs one seed.
///
/// # Errors
/// [`SimError`] if the world cannot be built (a pool that refuses its options, the time
/// bridge). Pool misbehaviour is a [`Violation`] in the report, never an error.
pub fn run(config: &RunConfig) -> Result<RunReport, SimError> {
    let plan = Plan::generate(config.seed, &config.scenario).filtered(&config.filter);
    let root = Rng::new(config.seed);
    let budget = Budget {
        steps_max: STEPS_MAX,
        time_max: plan.horizon + Duration::from_secs(600),
    };
    let mut executor = Executor::new(root.fork("scheduler"), budget)?;
    let runtime = executor.handle();
    let options = plan.options.clone();
    let oracle = Oracle::new(OracleConfig {
        max_total: options.total_max(),
        max_connecting: options.max_connecting,
        tolerance: TOLERANCE,
        wait_queue_timeout: options.wait_queue_timeout,
        checkout_bound: None,
        background_establishment: false,
        ..OracleConfig::from_options(&options)
    });
    let recorder = Arc::new(Recorder::new(runtime.clone(), oracle, config.keep_trace));
    crate::executor::quiet_task_panics();
    let observer = recorder.clone();
    crate::executor::set_panic_observer(Some(Arc::new(move |panic: &TaskPanic| {
        observer.panicked_at_site(panic)
    })));
    let server = Arc::new(mock_server::Server::new(mock_server::ServerOptions {
        seed: config.seed,
        ..mock_server::ServerOptions::default()
    }));
    let net = SimNet::new(
        runtime.clone(),
        server,
        root.fork("network"),
        plan.latency,
        recorder.clone(),
    );
    let manager = SimManager::new(net.clone(), runtime.clone(), recorder.clone());
    // Keep going: `recorder.failed()` stays false, so the phase loop runs to the end.
    recorder.set_keep_going(config.all_violations);
    let params = PoolParams {
        options: options.clone(),
        manager,
        runtime: runtime.clone(),
        sink: recorder.clone(),
    };
    let built = match catch_quietly(|| config.pool.build(params)) {
        Ok(built) => built,
        Err(message) => {
            // The pool panicked while being built: a verdict, not an error.
            recorder.panicked(&TaskPanic {
                task: crate::TaskId(u64::MAX),
                kind: TaskKind::Harness,
                at: executor.now(),
                message: format!("building the pool: {message}"),
            });
            return Ok(finish(config, &plan, &recorder, &mut executor, None));
        }
    };
    let pool: Arc<dyn PoolUnderTest> = built.map_err(|reason| SimError::PoolBuild {
        pool: config.pool.name().to_string(),
        reason,
    })?;
    let declared = guarded(&recorder, "checkout_bound", || {
        (pool.checkout_bound(), pool.capabilities())
    });
    if let Some((bound, capabilities)) = declared {
        recorder.set_checkout_bound(bound);
        recorder.set_capabilities(capabilities);
    }

    let ctx = Ctx {
        pool: pool.clone(),
        recorder: recorder.clone(),
        runtime: runtime.clone(),
        active: Arc::new(AtomicUsize::new(0)),
    };
    for (index, ops) in &plan.clients {
        let guard = ActiveGuard::new(&ctx.active);
        let task = workload::client(ctx.clone(), *index as u32, ops.clone(), guard);
        runtime.spawn_task(TaskKind::Harness, Box::pin(task));
    }
    let faults: Vec<_> = plan.faults.iter().map(|(_, f)| *f).collect();
    let guard = ActiveGuard::new(&ctx.active);
    let driver = faults::driver(ctx.clone(), net, faults, root.fork("fault-targets"), guard);
    runtime.spawn_task(TaskKind::Harness, Box::pin(driver));

    drive(&mut executor, &ctx, &options)?;
    drop(ctx);
    Ok(finish(config, &plan, &recorder, &mut executor, Some(pool)))
}

/// Ends a run: stops the recording, tears the world down (catching panics of the pool's
/// drop code, which become PANIC violations) and builds the report.
fn finish(
    config: &RunConfig,
    plan: &Plan,
    recorder: &Recorder,
    executor: &mut Executor,
    pool: Option<Arc<dyn PoolUnderTest>>,
) -> RunReport {
    crate::executor::set_panic_observer(None);
    let recording = recorder.finish();
    let mut violations = recording.violations;
    if !config.all_violations {
        violations.truncate(1);
    }
    let simulated = executor.now();
    let steps = executor.steps();
    let mut teardown: Vec<String> = Vec::new();
    if let Some(pool) = pool {
        if let Err(message) = catch_quietly(move || drop(pool)) {
            teardown.push(format!("dropping the pool: {message}"));
        }
    }
    executor.shutdown();
    teardown.extend(
        executor
            .take_panics()
            .into_iter()
            .map(|p| format!("task {} ({:?}) {}", p.task.0, p.kind, p.message)),
    );
    if config.all_violations || violations.is_empty() {
        violations.extend(teardown.into_iter().map(|message| Violation {
            invariant: Invariant::Panic,
            at: simulated,
            message,
        }));
    }
    RunReport {
        seed: config.seed,
        violation: violations.first().cloned(),
        violations,
        trace_hash: recording.trace.hash(),
        trace_len: recording.trace.len(),
        simulated,
        steps,
        checkouts: recording.checkouts,
        faults: recording.faults,
        clients: plan.clients.len(),
        ops: plan.op_count(),
        planned_faults: plan.faults.len(),
        records: recording.trace.into_records(),
    }
}

/// Calls the pool under test from the run loop (outside any task); a panic becomes a
/// PANIC violation and `None`.
fn guarded<R>(recorder: &Recorder, what: &str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_quietly(f) {
        Ok(value) => Some(value),
        Err(message) => {
            recorder.panicked(&TaskPanic {
                task: crate::TaskId(u64::MAX),
                kind: TaskKind::Harness,
                at: recorder.now(),
                message: format!("in the pool's {what}: {message}"),
            });
            None
        }
    }
}

/// The pool's status, read from the run loop.
fn status(ctx: &Ctx) -> Option<PoolStatus> {
    guarded(&ctx.recorder, "status", || ctx.pool.status()).flatten()
}

/// The phase loop.
fn drive(
    executor: &mut Executor,
    ctx: &Ctx,
    options: &pool_core::PoolOptions,
) -> Result<(), SimError> {
    let recorder = &ctx.recorder;
    let settle = options.connect_timeout.unwrap_or(Duration::from_secs(1)) * 2
        + options.maintenance_interval.unwrap_or_default()
        + Duration::from_secs(1);
    let settle_grace = options.connect_timeout.unwrap_or(Duration::from_secs(1));
    let mut phase = Phase::Workload;
    loop {
        if let Err(error) = executor.run_ready() {
            recorder.budget_exceeded(&error);
            return Ok(());
        }
        for panic in executor.take_panics() {
            recorder.panicked(&panic);
        }
        let now = executor.now();
        // A held task was woken and has not run: not a stable point yet.
        if executor.held() == 0 {
            recorder.stable(status(ctx));
        }
        if recorder.failed() {
            return Ok(());
        }
        let next = executor.next_timer();
        let before = phase;
        phase = match phase {
            Phase::Workload if ctx.active.load(Ordering::SeqCst) == 0 => {
                Phase::Settle(now + settle)
            }
            // Background work may be mid-flight at the settle deadline (a populate that
            // replaces an idle-closed connection): judge quiescence at the first stable
            // point with nothing establishing, within one more connect timeout.
            Phase::Settle(end)
                if next.is_none()
                    || (now >= end && recorder.establishing() == 0)
                    || now >= end + settle_grace =>
            {
                recorder.quiescent(status(ctx));
                if recorder.failed() {
                    return Ok(());
                }
                ctx.recorder.harness("close".to_string(), false);
                guarded(recorder, "close", || ctx.pool.close());
                Phase::Closing(now + Duration::from_millis(100))
            }
            Phase::Closing(end) if now >= end || next.is_none() => {
                recorder.after_close(status(ctx));
                return Ok(());
            }
            same => same,
        };
        if phase != before {
            if let Phase::Settle(end) | Phase::Closing(end) = phase {
                // Time must reach the phase's end even if nothing else is pending.
                let rt = ctx.runtime.clone();
                ctx.runtime.spawn_task(
                    TaskKind::Harness,
                    Box::pin(async move { rt.sleep_until(end).await }),
                );
            }
            continue;
        }
        let Some(next) = executor.next_timer() else {
            let stuck = ctx.active.load(Ordering::SeqCst);
            if stuck > 0 {
                recorder.deadlock(stuck);
                return Ok(());
            }
            continue;
        };
        recorder.before_advance(next);
        if recorder.failed() {
            return Ok(());
        }
        match executor.advance() {
            Ok(Advance::To(_)) => {}
            Ok(Advance::Stalled) => {}
            Err(error) => {
                recorder.budget_exceeded(&error);
                return Ok(());
            }
        }
    }
}
