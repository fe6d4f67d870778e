//! One round of a stress run: a seed's plan played out on wall-clock time, phase by
//! phase as a simulated run plays it (`run.rs`): workload, settle, quiescence, close.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::wall::WallClock;
use super::{Progress, StressConfig, StressError};
use crate::manager::SimManager;
use crate::net::SimNet;
use crate::oracle::{Oracle, Violation};
use crate::plan::Plan;
use crate::pool_under_test::{PoolParams, PoolUnderTest};
use crate::recorder::Recorder;
use crate::rng::Rng;
use crate::run::{build_pool, guarded, spawn_load, status};
use crate::runtime::SimRuntime;
use crate::workload::Ctx;

/// How long the pool has after close before nothing may be left (as in a simulated run).
const CLOSING: Duration = Duration::from_millis(100);

/// Plays seed `seed`'s plan on `handle`'s runtime; the first violation, if any. Stops
/// early (without judging quiescence) once `progress` is over.
///
/// # Errors
/// [`StressError::PoolBuild`] when the pool refuses the plan's options.
pub(super) async fn round(
    config: &StressConfig,
    handle: tokio::runtime::Handle,
    seed: u64,
    progress: &Progress,
) -> Result<Option<Violation>, StressError> {
    let plan = Plan::generate(seed, &config.scenario);
    let root = Rng::new(seed);
    let clock = Arc::new(WallClock::new(handle));
    let runtime = SimRuntime::wall(clock.clone());
    let oracle = Oracle::new(config.oracle(&plan.options));
    let recorder = Arc::new(Recorder::new(runtime.clone(), oracle, false));
    clock.set_recorder(Some(recorder.clone()));
    let found = play(config, &plan, &root, seed, &runtime, &recorder, progress).await;
    // The clock holds the recorder, which holds the clock: break the cycle.
    clock.set_recorder(None);
    let recording = recorder.finish();
    progress
        .checkouts
        .fetch_add(recording.checkouts, Ordering::Relaxed);
    progress
        .faults
        .fetch_add(recording.faults, Ordering::Relaxed);
    found.map(|()| recording.violations.into_iter().next())
}

/// Builds the world and drives its phases.
async fn play(
    config: &StressConfig,
    plan: &Plan,
    root: &Rng,
    seed: u64,
    runtime: &SimRuntime,
    recorder: &Arc<Recorder>,
    progress: &Progress,
) -> Result<(), StressError> {
    let server = Arc::new(mock_server::Server::new(mock_server::ServerOptions {
        seed,
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
        options: plan.options.clone(),
        manager: SimManager::new(net.clone(), runtime.clone(), recorder.clone()),
        runtime: runtime.clone(),
        sink: recorder.clone(),
    };
    let built = build_pool(&config.pool, params, recorder, recorder.now());
    let Some(pool) = built.map_err(|reason| StressError::PoolBuild {
        pool: config.pool.name().to_string(),
        reason,
    })?
    else {
        return Ok(());
    };
    let ctx = Ctx {
        pool,
        recorder: recorder.clone(),
        runtime: runtime.clone(),
        active: Arc::new(AtomicUsize::new(0)),
    };
    spawn_load(&ctx, plan, net, root);
    let monitor = Monitor {
        ctx: &ctx,
        tick: config.tick,
        tolerance: config.tolerance,
        progress,
    };
    if monitor.workload().await && monitor.settle(&plan.options).await {
        recorder.quiescent(status(&ctx));
    }
    if !recorder.failed() {
        recorder.harness("close".to_string(), false);
    }
    recorder.close_requested();
    guarded(recorder, "close", || ctx.pool.close());
    if !recorder.failed() && !progress.over() {
        monitor.ticks_until(runtime.now() + CLOSING).await;
        recorder.after_close(status(&ctx));
    }
    Ok(())
}

/// Judges the stable-point checks every tick while the round runs.
struct Monitor<'a> {
    ctx: &'a Ctx,
    tick: Duration,
    tolerance: Duration,
    progress: &'a Progress,
}

impl Monitor<'_> {
    /// One tick: sleep, then judge; false once the round must stop (a violation, or the
    /// stress run is over).
    async fn tick(&self) -> bool {
        tokio::time::sleep(self.tick).await;
        self.ctx.recorder.stable(status(self.ctx));
        !self.ctx.recorder.failed() && !self.progress.over()
    }

    /// Until the clients and the fault driver are done; false if the round must stop.
    async fn workload(&self) -> bool {
        loop {
            if !self.tick().await {
                return false;
            }
            if self.ctx.active.load(Ordering::SeqCst) == 0 {
                return true;
            }
        }
    }

    /// Lets background work finish, as a simulated run's settle phase: at least the
    /// tolerance twice, then until nothing is establishing or checked out, for at most
    /// two connect timeouts, a maintenance interval and a second more (and one more
    /// connect timeout for establishments still running); false if the round must stop.
    async fn settle(&self, options: &pool_core::PoolOptions) -> bool {
        let recorder = &self.ctx.recorder;
        let connect = options.connect_timeout.unwrap_or(Duration::from_secs(1));
        let now = recorder.now();
        let least = now + self.tolerance * 2;
        let most = now
            + connect * 3
            + options.maintenance_interval.unwrap_or_default()
            + Duration::from_secs(1);
        loop {
            if !self.tick().await {
                return false;
            }
            let now = recorder.now();
            let idle = recorder.establishing() == 0 && recorder.outstanding() == 0;
            if (now >= least && idle) || now >= most {
                return true;
            }
        }
    }

    /// Ticks until `end` (or the round must stop).
    async fn ticks_until(&self, end: Duration) {
        while self.ctx.recorder.now() < end {
            if !self.tick().await {
                return;
            }
        }
    }
}
