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
use crate::mode::{Mode, Strategy};
use crate::net::SimNet;
use crate::oracle::coverage::Coverage;
use crate::oracle::{Invariant, Oracle, OracleConfig, Violation};
use crate::plan::{Plan, PlanFilter, Scenario};
use crate::pool_under_test::{PoolFactory, PoolParams, PoolStatus, PoolUnderTest};
use crate::recorder::Recorder;
use crate::rng::Rng;
use crate::runtime::SimRuntime;
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
    /// The exploration mode (the seed's [`Strategy`] follows from it).
    pub mode: Mode,
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
            mode: Mode::Random,
        }
    }

    /// The seed's strategy under the mode.
    pub fn strategy(&self) -> Strategy {
        self.mode.strategy(self.seed)
    }

    /// The seed's whole plan (before the filter), with the swarm subset if the strategy
    /// has one.
    pub fn plan(&self) -> Plan {
        Plan::generate_with(self.seed, &self.scenario, self.strategy().swarm)
    }
}

/// Polls per op the PCT scheduler expects (its change points fall within
/// `ops × STEPS_PER_OP`): about what the reference pool takes in the standard scenario
/// (151 285 polls for 18 432 checkouts over its first 50 seeds).
pub const STEPS_PER_OP: u64 = 8;

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
    /// What the run explored with.
    pub strategy: Strategy,
    /// The interesting states the run reached.
    pub coverage: Coverage,
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
            strategy: Strategy::default(),
            coverage: Coverage::default(),
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
    let strategy = config.strategy();
    let plan = config.plan().filtered(&config.filter);
    let root = Rng::new(config.seed);
    let budget = Budget {
        steps_max: STEPS_MAX,
        time_max: plan.horizon + Duration::from_secs(600),
    };
    let mut executor = if strategy.pct {
        let expected = (plan.op_count() as u64).max(1) * STEPS_PER_OP;
        Executor::new_pct(root.fork("scheduler"), budget, expected)?
    } else {
        Executor::new(root.fork("scheduler"), budget)?
    };
    let runtime = executor.handle();
    let options = plan.options.clone();
    let recorder = recorder(config, &options, &runtime);
    record_strategy(&recorder, strategy, &plan, &executor);
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
    let params = PoolParams {
        options: options.clone(),
        manager: SimManager::new(net.clone(), runtime.clone(), recorder.clone()),
        runtime: runtime.clone(),
        sink: recorder.clone(),
    };
    let built = build_pool(&config.pool, params, &recorder, executor.now());
    let Some(pool) = built.map_err(|reason| SimError::PoolBuild {
        pool: config.pool.name().to_string(),
        reason,
    })?
    else {
        return Ok(finish(config, &plan, &recorder, &mut executor, None));
    };
    let ctx = Ctx {
        pool: pool.clone(),
        recorder: recorder.clone(),
        runtime: runtime.clone(),
        active: Arc::new(AtomicUsize::new(0)),
    };
    spawn_load(&ctx, &plan, net, &root);
    drive(&mut executor, &ctx, &options)?;
    drop(ctx);
    Ok(finish(config, &plan, &recorder, &mut executor, Some(pool)))
}

/// The run's recorder: the oracle configured for the plan's options, the panic observer
/// installed, every violation kept when the run is asked for all of them.
fn recorder(
    config: &RunConfig,
    options: &pool_core::PoolOptions,
    runtime: &SimRuntime,
) -> Arc<Recorder> {
    let oracle = Oracle::new(OracleConfig {
        max_total: options.total_max(),
        max_connecting: options.max_connecting,
        tolerance: TOLERANCE,
        wait_queue_timeout: options.wait_queue_timeout,
        checkout_bound: None,
        background_establishment: false,
        ..OracleConfig::from_options(options)
    });
    let recorder = Arc::new(Recorder::new(runtime.clone(), oracle, config.keep_trace));
    crate::executor::quiet_task_panics();
    let observer = recorder.clone();
    crate::executor::set_panic_observer(Some(Arc::new(move |panic: &TaskPanic| {
        observer.panicked_at_site(panic)
    })));
    // Keep going: `recorder.failed()` stays false, so the phase loop runs to the end.
    recorder.set_keep_going(config.all_violations);
    recorder
}

/// Writes the strategy of a swarm or PCT run into the trace (a random run records
/// nothing, so its trace is what it was before modes existed).
fn record_strategy(recorder: &Recorder, strategy: Strategy, plan: &Plan, executor: &Executor) {
    if let Some(swarm) = &plan.swarm {
        recorder.harness(format!("strategy {}: {swarm}", strategy.name()), false);
    }
    if let crate::executor::Scheduler::Pct(pct) = executor.scheduler() {
        recorder.harness(
            format!(
                "strategy {}: pct depth {}, change points at steps {:?}",
                strategy.name(),
                pct.depth(),
                pct.change_points()
            ),
            false,
        );
    }
}

/// Builds the pool under test and records what it declares (the simulated run and the
/// stress test share it). `Ok(None)`: it panicked while being built, recorded at `now` as a
/// verdict, not an error; `Err` carries the pool's reason for refusing the plan's options.
pub(crate) fn build_pool(
    factory: &PoolFactory,
    params: PoolParams,
    recorder: &Recorder,
    now: Duration,
) -> Result<Option<Arc<dyn PoolUnderTest>>, String> {
    let built = match catch_quietly(|| factory.build(params)) {
        Ok(built) => built,
        Err(message) => {
            recorder.panicked(&TaskPanic {
                task: crate::TaskId(u64::MAX),
                kind: TaskKind::Harness,
                at: now,
                message: format!("building the pool: {message}"),
            });
            return Ok(None);
        }
    };
    let pool = built?;
    let declared = guarded(recorder, "checkout_bound", || {
        (pool.checkout_bound(), pool.capabilities())
    });
    if let Some((bound, capabilities)) = declared {
        recorder.set_checkout_bound(bound);
        recorder.set_capabilities(capabilities);
    }
    Ok(Some(pool))
}

/// Spawns the plan's clients and its fault driver, each holding an [`ActiveGuard`] (the
/// simulated run and the stress test share it).
pub(crate) fn spawn_load(ctx: &Ctx, plan: &Plan, net: SimNet, root: &Rng) {
    for (index, ops) in &plan.clients {
        let guard = ActiveGuard::new(&ctx.active);
        let client = u32::try_from(*index).unwrap_or(u32::MAX);
        let task = workload::client(ctx.clone(), client, ops.clone(), guard);
        ctx.runtime.spawn_task(TaskKind::Harness, Box::pin(task));
    }
    let faults: Vec<_> = plan.faults.iter().map(|(_, f)| *f).collect();
    let guard = ActiveGuard::new(&ctx.active);
    let driver = faults::driver(ctx.clone(), net, faults, root.fork("fault-targets"), guard);
    ctx.runtime.spawn_task(TaskKind::Harness, Box::pin(driver));
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
        strategy: config.strategy(),
        coverage: recording.coverage,
        records: recording.trace.into_records(),
    }
}

/// Calls the pool under test from outside any task (the run loop, the stress test's
/// monitor); a panic becomes a PANIC violation and `None`.
pub(crate) fn guarded<R>(recorder: &Recorder, what: &str, f: impl FnOnce() -> R) -> Option<R> {
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

/// The pool's status, read from outside any task (a panic in it is a PANIC violation).
pub(crate) fn status(ctx: &Ctx) -> Option<PoolStatus> {
    guarded(&ctx.recorder, "status", || ctx.pool.status()).flatten()
}

/// The phase loop.
fn drive(
    executor: &mut Executor,
    ctx: &Ctx,
    options: &pool_core::PoolOptions,
) -> Result<(), SimError> {
    let timing = PhaseTiming::of(options);
    let mut phase = Phase::Workload;
    loop {
        if !run_ready(executor, ctx) {
            return Ok(());
        }
        let Some(next) = next_phase(phase, executor.now(), executor.next_timer(), ctx, &timing)
        else {
            return Ok(());
        };
        if next != phase {
            phase = next;
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
        if !advance_time(executor, ctx) {
            return Ok(());
        }
    }
}

/// How long the phases after the workload last.
struct PhaseTiming {
    /// From the end of the workload to the quiescence check.
    settle: Duration,
    /// How much longer quiescence may wait for establishments still running.
    settle_grace: Duration,
}

impl PhaseTiming {
    fn of(options: &pool_core::PoolOptions) -> PhaseTiming {
        let connect = options.connect_timeout.unwrap_or(Duration::from_secs(1));
        PhaseTiming {
            settle: connect * 2
                + options.maintenance_interval.unwrap_or_default()
                + Duration::from_secs(1),
            settle_grace: connect,
        }
    }
}

/// Runs every ready task and records what it caused (panics, a stable point); `false`
/// when the run is over (budget spent or an invariant violated).
fn run_ready(executor: &mut Executor, ctx: &Ctx) -> bool {
    let recorder = &ctx.recorder;
    if let Err(error) = executor.run_ready() {
        recorder.budget_exceeded(&error);
        return false;
    }
    for panic in executor.take_panics() {
        recorder.panicked(&panic);
    }
    // A held task was woken and has not run: not a stable point yet.
    if executor.held() == 0 {
        recorder.stable(status(ctx));
    }
    !recorder.failed()
}

/// The phase after `phase` at `now` (with `next` the next timer), running the checks and
/// the close that end a phase; `None` when the run is over.
fn next_phase(
    phase: Phase,
    now: Duration,
    next: Option<Duration>,
    ctx: &Ctx,
    timing: &PhaseTiming,
) -> Option<Phase> {
    let recorder = &ctx.recorder;
    Some(match phase {
        Phase::Workload if ctx.active.load(Ordering::SeqCst) == 0 => {
            Phase::Settle(now + timing.settle)
        }
        // Background work may be mid-flight at the settle deadline (a populate that
        // replaces an idle-closed connection): judge quiescence at the first stable
        // point with nothing establishing, within one more connect timeout.
        Phase::Settle(end)
            if next.is_none()
                || (now >= end && recorder.establishing() == 0)
                || now >= end + timing.settle_grace =>
        {
            recorder.quiescent(status(ctx));
            if recorder.failed() {
                return None;
            }
            recorder.harness("close".to_string(), false);
            recorder.close_requested();
            guarded(recorder, "close", || ctx.pool.close());
            Phase::Closing(now + Duration::from_millis(100))
        }
        Phase::Closing(end) if now >= end || next.is_none() => {
            recorder.after_close(status(ctx));
            return None;
        }
        same => same,
    })
}

/// Moves virtual time to the next timer; `false` when the run is over (a deadlock, a
/// violation found before the jump, or the budget spent).
fn advance_time(executor: &mut Executor, ctx: &Ctx) -> bool {
    let recorder = &ctx.recorder;
    let Some(next) = executor.next_timer() else {
        let stuck = ctx.active.load(Ordering::SeqCst);
        if stuck > 0 {
            recorder.deadlock(stuck);
            return false;
        }
        return true;
    };
    recorder.before_advance(next);
    if recorder.failed() {
        return false;
    }
    match executor.advance() {
        Ok(Advance::To(_) | Advance::Stalled) => true,
        Err(error) => {
            recorder.budget_exceeded(&error);
            false
        }
    }
}
