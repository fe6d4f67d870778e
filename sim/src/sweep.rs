//! The sweep engine: many seeds of one pool in one scenario (on several threads, each
//! seed single-threaded and deterministic), the determinism self-check, and the first
//! failure's shrink, replay line and trace files. [`crate::Check`] drives it for any
//! pool; [`sweep`] and [`replay`] drive it for the built-in pools by name (what
//! `poolcheck sim` calls).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::SimError;
use crate::mode::Mode;
use crate::oracle::coverage::Coverage;
use crate::oracle::{Invariant, Violation};
use crate::plan::Scenario;
use crate::pool_under_test::PoolFactory;
use crate::pools;
use crate::run::{run_guarded, RunConfig, RunReport};
use crate::shrink::{shrink_within, Shrunk, RUNS_MAX};
use crate::token::ReplayToken;
use crate::{perfetto, trace};

/// What to sweep, for a built-in pool named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepConfig {
    /// How many seeds (before sharding).
    pub seeds: u64,
    /// The first seed; seed `i` is `first_seed + i`.
    pub first_seed: u64,
    /// The pool's name.
    pub pool: String,
    /// The scenario's name.
    pub scenario: String,
    /// Worker threads.
    pub jobs: usize,
    /// This process runs the seeds whose index `i` has `i % shard.1 == shard.0`.
    pub shard: (u32, u32),
    /// Shrink the first failure.
    pub shrink: bool,
    /// Write the first failure's trace (JSON lines and Perfetto) into this directory.
    pub trace_dir: Option<PathBuf>,
    /// How the seeds explore (see [`Mode`]).
    pub mode: Mode,
    /// Stop once a seed fails: seeds after the first failing one (in seed order) are not
    /// started, those before it all run, so `first_failure` is the same as a whole
    /// sweep's and `seeds_run` tells how many seeds the sweep took to get there (up to
    /// `jobs − 1` more, that were already running). For time-to-detect measurements.
    pub stop_at_first: bool,
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            seeds: 1_000,
            first_seed: 1,
            pool: "poolcheck".to_string(),
            scenario: "standard".to_string(),
            jobs: 1,
            shard: (0, 1),
            shrink: true,
            trace_dir: None,
            mode: Mode::DEFAULT,
            stop_at_first: false,
        }
    }
}

/// How a failure's replay line is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReplayStyle {
    /// `poolcheck sim --pool P --scenario S --replay T` (a built-in pool).
    Cli,
    /// `POOLCHECK_REPLAY='T' cargo test TEST` (a pool checked from its own crate);
    /// `scenario_prefix` writes the token as `scenario/T` (the check has several).
    CargoTest {
        /// The test to run (`None`: the whole `cargo test`).
        test: Option<String>,
        /// Prefix the token with its scenario.
        scenario_prefix: bool,
    },
}

impl ReplayStyle {
    /// The token as a user passes it back (`T`, or `scenario/T`).
    pub(crate) fn token(&self, token: &ReplayToken, scenario: &str) -> String {
        match self {
            ReplayStyle::CargoTest {
                scenario_prefix: true,
                ..
            } => format!("{scenario}/{token}"),
            _ => token.to_string(),
        }
    }

    /// The one line that replays `token`.
    pub(crate) fn command(&self, token: &ReplayToken, pool: &str, scenario: &str) -> String {
        match self {
            ReplayStyle::Cli => token.command(pool, scenario),
            ReplayStyle::CargoTest { test, .. } => {
                let text = self.token(token, scenario);
                match test {
                    Some(test) => format!("POOLCHECK_REPLAY='{text}' cargo test {test}"),
                    None => format!("POOLCHECK_REPLAY='{text}' cargo test"),
                }
            }
        }
    }
}

/// How the sweep engine runs (set by [`crate::Check`] or [`SweepConfig`]).
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) seeds: u64,
    pub(crate) first_seed: u64,
    pub(crate) jobs: usize,
    pub(crate) shard: (u32, u32),
    pub(crate) shrink: bool,
    pub(crate) shrink_budget: usize,
    pub(crate) trace_dir: Option<PathBuf>,
    pub(crate) all_violations: bool,
    /// How many seeds to run a second time and compare (the determinism self-check).
    pub(crate) determinism_checks: u64,
    pub(crate) replay_style: ReplayStyle,
    pub(crate) mode: Mode,
    pub(crate) stop_at_first: bool,
}

impl Settings {
    fn from_config(config: &SweepConfig) -> Settings {
        Settings {
            seeds: config.seeds,
            first_seed: config.first_seed,
            jobs: config.jobs,
            shard: config.shard,
            shrink: config.shrink,
            shrink_budget: RUNS_MAX,
            trace_dir: config.trace_dir.clone(),
            all_violations: false,
            determinism_checks: DETERMINISM_CHECKS,
            replay_style: ReplayStyle::Cli,
            mode: config.mode,
            stop_at_first: config.stop_at_first,
        }
    }
}

/// Seeds a sweep runs twice by default to check that the same seed gives the same trace.
pub const DETERMINISM_CHECKS: u64 = 4;

/// Progress, after each seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepProgress {
    /// Seeds done.
    pub done: u64,
    /// Seeds to do.
    pub total: u64,
    /// Seeds that failed so far.
    pub failed: u64,
}

/// The first failing seed of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The seed.
    pub seed: u64,
    /// Its first violation.
    pub violation: Violation,
    /// Every violation of the run (more than one only when the check keeps going).
    pub violations: Vec<Violation>,
    /// The token that replays it (as the replay line passes it).
    pub token: String,
    /// The one line that replays it.
    pub replay: String,
    /// The shrunk case, if shrinking ran.
    pub shrunk: Option<ShrunkFailure>,
    /// Trace files written.
    pub trace_files: Vec<PathBuf>,
}

/// A shrunk failure, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct ShrunkFailure {
    /// The token that replays the minimal case.
    pub token: String,
    /// The one line that replays the minimal case.
    pub replay: String,
    /// Its violation.
    pub violation: Violation,
    /// Faults left.
    pub faults: usize,
    /// Clients left.
    pub clients: usize,
    /// Ops left.
    pub ops: usize,
    /// Re-runs the shrink took.
    pub runs: usize,
}

/// The summary of a sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepReport {
    /// The pool.
    pub pool: String,
    /// The scenario.
    pub scenario: String,
    /// The exploration mode.
    pub mode: Mode,
    /// Seeds run.
    pub seeds_run: u64,
    /// Seeds run a second time by the determinism self-check.
    pub determinism_checked: u64,
    /// Virtual time simulated, summed over seeds.
    pub simulated: Duration,
    /// Wall-clock time of the sweep (not of the shrink).
    pub wall: Duration,
    /// Checkouts begun, summed.
    pub checkouts: u64,
    /// Faults injected, summed.
    pub faults: u64,
    /// Polls, summed.
    pub steps: u64,
    /// Seeds that violated an invariant.
    pub failed_seeds: u64,
    /// Failing seeds per invariant (of their first violation).
    pub violations: BTreeMap<Invariant, u64>,
    /// The failing seeds and their first violation's invariant (the first 100).
    pub failing: Vec<(u64, Invariant)>,
    /// The failing seed with the lowest index.
    pub first_failure: Option<Failure>,
    /// How often each interesting state was reached, summed over the seeds, by name
    /// (every state, zeros included; see [`crate::oracle::coverage`]).
    pub coverage: BTreeMap<String, u64>,
    /// The states no seed reached.
    pub never_reached: Vec<String>,
}

impl SweepReport {
    /// Simulated seconds per wall-clock second.
    pub fn speed(&self) -> f64 {
        self.simulated.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Runs every seed of `config` (a built-in pool, by name) and summarises; `progress` is
/// called after each seed. Installs [`quiet_task_panics`](crate::executor::quiet_task_panics).
///
/// # Errors
/// [`SimError`] for an unknown pool or scenario, a bad shard, or a world that cannot be
/// built. Violations are results, not errors.
pub fn sweep(
    config: &SweepConfig,
    progress: impl FnMut(&SweepProgress),
) -> Result<SweepReport, SimError> {
    let pool = pools::find(&config.pool)?.pool_factory();
    let scenario = Scenario::named(&config.scenario)?;
    sweep_pool(&pool, &scenario, &Settings::from_config(config), progress)
}

/// The sweep engine: runs the shard's seeds on `settings.jobs` threads, checks a sample
/// of them for determinism, tallies the results in seed order and traces the first failure.
pub(crate) fn sweep_pool(
    pool: &PoolFactory,
    scenario: &Scenario,
    settings: &Settings,
    progress: impl FnMut(&SweepProgress),
) -> Result<SweepReport, SimError> {
    crate::executor::quiet_task_panics();
    let indices = shard_indices(settings)?;
    let started = Instant::now();
    let config_of = |seed: u64| RunConfig {
        all_violations: settings.all_violations,
        mode: settings.mode,
        ..RunConfig::new(pool.clone(), scenario.clone(), seed)
    };
    let mut results = run_seeds(&indices, settings, &config_of, progress);
    let wall = started.elapsed();
    results.sort_by_key(|(i, _)| *i);
    let mut report = SweepReport {
        pool: pool.name().to_string(),
        scenario: scenario.name.to_string(),
        mode: settings.mode,
        seeds_run: 0,
        determinism_checked: 0,
        simulated: Duration::ZERO,
        wall,
        checkouts: 0,
        faults: 0,
        steps: 0,
        failed_seeds: 0,
        violations: BTreeMap::new(),
        failing: Vec::new(),
        first_failure: None,
        coverage: BTreeMap::new(),
        never_reached: Vec::new(),
    };
    let mut runs = Vec::with_capacity(results.len());
    for (_, result) in results {
        runs.push(result?);
    }
    let nondet = determinism_check(&runs, settings, &config_of, &mut report)?;
    if let Some(r) = tally(runs, &nondet, &mut report) {
        report.first_failure = Some(failure(pool, scenario, settings, &r)?);
    }
    debug_assert!(
        settings.stop_at_first || report.seeds_run == indices.len() as u64,
        "every seed is tallied"
    );
    Ok(report)
}

/// The seed indices of this shard: every `shards`-th index of `0..seeds`, from `shard`.
fn shard_indices(settings: &Settings) -> Result<Vec<u64>, SimError> {
    let (shard, shards) = settings.shard;
    if shards == 0 || shard >= shards {
        return Err(SimError::BadShard {
            index: shard,
            count: shards,
        });
    }
    Ok((0..settings.seeds)
        .filter(|i| i % u64::from(shards) == u64::from(shard))
        .collect())
}

/// Runs the seeds of `indices` on `settings.jobs` threads, each taking the next index as
/// it finishes one; returns the results in completion order, with their index.
fn run_seeds(
    indices: &[u64],
    settings: &Settings,
    config_of: &(impl Fn(u64) -> RunConfig + Sync),
    mut progress: impl FnMut(&SweepProgress),
) -> Vec<(u64, Result<RunReport, SimError>)> {
    let total = indices.len() as u64;
    let next = AtomicU64::new(0);
    // With `stop_at_first`: the lowest position of a failing seed so far; positions
    // after it are not started.
    let stop = AtomicU64::new(u64::MAX);
    let mut results = Vec::with_capacity(indices.len());
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..settings.jobs.max(1) {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || loop {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                if n as u64 > stop.load(Ordering::SeqCst) {
                    break;
                }
                let Some(&i) = indices.get(n) else { break };
                let seed = settings.first_seed.wrapping_add(i);
                let result = run_guarded(&config_of(seed));
                if settings.stop_at_first && matches!(&result, Ok(r) if r.violation.is_some()) {
                    stop.fetch_min(n as u64, Ordering::SeqCst);
                }
                if tx.send((i, result)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        let mut failed = 0;
        for (i, result) in rx {
            if matches!(&result, Ok(r) if r.violation.is_some()) {
                failed += 1;
            }
            results.push((i, result));
            progress(&SweepProgress {
                done: results.len() as u64,
                total,
                failed,
            });
        }
    });
    results
}

/// Adds every run (in seed order) to `report`, a seed found non-deterministic counting
/// as failed with NONDET; returns the first failing run.
fn tally(
    runs: Vec<RunReport>,
    nondet: &BTreeMap<u64, Violation>,
    report: &mut SweepReport,
) -> Option<RunReport> {
    let mut first: Option<RunReport> = None;
    let mut coverage = Coverage::default();
    for r in runs {
        report.seeds_run += 1;
        coverage.add(&r.coverage);
        report.simulated += r.simulated;
        report.checkouts += r.checkouts;
        report.faults += r.faults;
        report.steps += r.steps;
        let r = match nondet.get(&r.seed) {
            Some(violation) => RunReport {
                violation: Some(violation.clone()),
                violations: vec![violation.clone()],
                ..r
            },
            None => r,
        };
        if let Some(v) = &r.violation {
            report.failed_seeds += 1;
            *report.violations.entry(v.invariant).or_default() += 1;
            if report.failing.len() < 100 {
                report.failing.push((r.seed, v.invariant));
            }
            if first.is_none() {
                first = Some(r);
            }
        }
    }
    report.coverage = coverage.to_map();
    report.never_reached = coverage
        .never_reached()
        .into_iter()
        .map(|s| s.name().to_string())
        .collect();
    first
}

/// Runs a sample of the seeds again (the first failing one, then seeds spread over the
/// sweep) and compares each with its first run: a difference in trace hash, length or
/// verdict is a NONDET violation of that seed.
fn determinism_check(
    runs: &[RunReport],
    settings: &Settings,
    config_of: &impl Fn(u64) -> RunConfig,
    report: &mut SweepReport,
) -> Result<BTreeMap<u64, Violation>, SimError> {
    let mut found = BTreeMap::new();
    let wanted = settings.determinism_checks.min(runs.len() as u64) as usize;
    if wanted == 0 {
        return Ok(found);
    }
    let mut sample: Vec<usize> = Vec::with_capacity(wanted);
    if let Some(i) = runs.iter().position(|r| r.violation.is_some()) {
        sample.push(i);
    }
    let stride = (runs.len() / wanted).max(1);
    for i in (0..runs.len()).step_by(stride) {
        if sample.len() >= wanted {
            break;
        }
        if !sample.contains(&i) {
            sample.push(i);
        }
    }
    for i in sample {
        let Some(first) = runs.get(i) else { continue };
        let again = run_guarded(&config_of(first.seed))?;
        report.determinism_checked += 1;
        let verdict = |r: &RunReport| r.violation.as_ref().map(ToString::to_string);
        if (first.trace_hash, first.trace_len, verdict(first))
            != (again.trace_hash, again.trace_len, verdict(&again))
        {
            found.insert(
                first.seed,
                Violation {
                    invariant: Invariant::Nondet,
                    at: Duration::ZERO,
                    message: format!(
                        "seed {:#x} ran twice and differed (trace hash {:016x} vs {:016x}, {} vs \
                         {} records): the pool depends on something the seed does not fix — a \
                         wall clock (std::time::Instant, SystemTime), a real runtime or thread, \
                         or an unseeded random number generator",
                        first.seed,
                        first.trace_hash,
                        again.trace_hash,
                        first.trace_len,
                        again.trace_len
                    ),
                },
            );
        }
    }
    Ok(found)
}

fn failure(
    pool: &PoolFactory,
    scenario: &Scenario,
    settings: &Settings,
    r: &RunReport,
) -> Result<Failure, SimError> {
    let token = ReplayToken::seed_in(r.seed, settings.mode);
    let violation = r.violation.clone().unwrap_or_else(|| Violation {
        invariant: Invariant::Live,
        at: Duration::ZERO,
        message: String::new(),
    });
    let base = RunConfig {
        mode: settings.mode,
        ..RunConfig::new(pool.clone(), scenario.clone(), r.seed)
    };
    // A NONDET seed does not repeat, so it cannot be shrunk.
    let shrunk: Option<Shrunk> = if settings.shrink && violation.invariant != Invariant::Nondet {
        Some(shrink_within(&base, &violation, settings.shrink_budget)?)
    } else {
        None
    };
    let mut trace_files = Vec::new();
    if let Some(dir) = &settings.trace_dir {
        let chosen = shrunk.as_ref().map_or(token.clone(), |s| s.token.clone());
        let stem = dir.join(format!(
            "{}-{}-{:#x}",
            file_safe(pool.name()),
            scenario.name,
            r.seed
        ));
        trace_files = replay_pool(
            &chosen,
            pool,
            scenario,
            Some(&stem),
            settings.all_violations,
        )?
        .trace_files;
    }
    let style = &settings.replay_style;
    Ok(Failure {
        seed: r.seed,
        violation,
        violations: r.violations.clone(),
        token: style.token(&token, scenario.name),
        replay: style.command(&token, pool.name(), scenario.name),
        shrunk: shrunk.map(|s| ShrunkFailure {
            token: style.token(&s.token, scenario.name),
            replay: style.command(&s.token, pool.name(), scenario.name),
            violation: s.violation,
            faults: s.faults,
            clients: s.clients,
            ops: s.ops,
            runs: s.runs,
        }),
        trace_files,
    })
}

/// A pool name as part of a file name.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A replayed run.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// The run.
    pub report: RunReport,
    /// The line that replays it again.
    pub replay: String,
    /// Trace files written (`<stem>.jsonl`, `<stem>.perfetto.json`).
    pub trace_files: Vec<PathBuf>,
}

/// Replays `token` with the built-in `pool` in `scenario`; with `trace_stem`, writes the
/// trace as `<stem>.jsonl` (JSON lines) and `<stem>.perfetto.json` (load it in
/// ui.perfetto.dev).
///
/// # Errors
/// [`SimError`] for an unknown pool or scenario, a world that cannot be built, or trace
/// files that cannot be written.
pub fn replay(
    token: &ReplayToken,
    pool: &str,
    scenario: &str,
    trace_stem: Option<&Path>,
) -> Result<ReplayReport, SimError> {
    let pool = pools::find(pool)?.pool_factory();
    let scenario = Scenario::named(scenario)?;
    replay_pool(token, &pool, &scenario, trace_stem, false)
}

/// Replays `token` with `pool` in `scenario` (with `all_violations`, the run keeps going
/// after its first violation).
pub(crate) fn replay_pool(
    token: &ReplayToken,
    pool: &PoolFactory,
    scenario: &Scenario,
    trace_stem: Option<&Path>,
    all_violations: bool,
) -> Result<ReplayReport, SimError> {
    crate::executor::quiet_task_panics();
    let report = run_guarded(&RunConfig {
        filter: token.filter.clone(),
        keep_trace: trace_stem.is_some(),
        all_violations,
        mode: token.mode(),
        ..RunConfig::new(pool.clone(), scenario.clone(), token.seed)
    })?;
    let mut trace_files = Vec::new();
    if let Some(stem) = trace_stem {
        // The one place trace files are written: make their directory here.
        if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| SimError::TraceWrite {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let jsonl = stem.with_extension("jsonl");
        let chrome = stem.with_extension("perfetto.json");
        trace::write_json_lines(&report.records, &jsonl)?;
        perfetto::write(&report.records, &chrome)?;
        trace_files = vec![jsonl, chrome];
    }
    Ok(ReplayReport {
        replay: token.command(pool.name(), scenario.name),
        report,
        trace_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Record;

    fn config(pool: &str, mode: Mode, seeds: u64) -> SweepConfig {
        SweepConfig {
            seeds,
            pool: pool.to_string(),
            scenario: "smoke".to_string(),
            jobs: 2,
            shrink: false,
            mode,
            ..SweepConfig::default()
        }
    }

    /// What must repeat of a sweep.
    fn fingerprint(r: &SweepReport) -> impl PartialEq + std::fmt::Debug {
        (
            r.seeds_run,
            r.steps,
            r.checkouts,
            r.faults,
            r.simulated,
            r.failing.clone(),
            r.coverage.clone(),
            r.first_failure.as_ref().map(|f| f.token.clone()),
        )
    }

    #[test]
    fn sweeps_repeat_in_every_mode() {
        for mode in Mode::ALL {
            let a = sweep(&config("zoo-lost-wakeup", mode, 10), |_| {}).unwrap();
            let b = sweep(&config("zoo-lost-wakeup", mode, 10), |_| {}).unwrap();
            assert_eq!(a.mode, mode);
            assert_eq!(fingerprint(&a), fingerprint(&b), "{mode}");
            assert!(!a.violations.contains_key(&Invariant::Nondet), "{mode}");
            assert_eq!(a.coverage.len(), crate::CoverState::ALL.len());
            assert!(a.coverage.values().any(|n| *n > 0), "{mode}: some coverage");
        }
        // The modes explore differently.
        let steps: std::collections::BTreeSet<u64> = Mode::ALL
            .iter()
            .map(|m| sweep(&config("poolcheck", *m, 6), |_| {}).unwrap().steps)
            .collect();
        assert_eq!(steps.len(), Mode::ALL.len(), "{steps:?}");
    }

    #[test]
    fn a_failure_replays_in_its_mode() {
        for mode in [Mode::Swarm, Mode::Pct, Mode::Portfolio] {
            let report = sweep(&config("zoo-pool-full", mode, 12), |_| {}).unwrap();
            let failure = report.first_failure.expect("zoo-pool-full fails");
            assert!(
                failure.token.contains(&format!(":m={mode}")),
                "{}",
                failure.token
            );
            assert!(failure.replay.contains(&failure.token));
            let token: ReplayToken = failure.token.parse().unwrap();
            let again = replay(&token, "zoo-pool-full", "smoke", None).unwrap();
            assert_eq!(again.report.violation.as_ref(), Some(&failure.violation));
            assert_eq!(again.report.strategy, mode.strategy(failure.seed));
            // The same seed as a random run is another run.
            let random = replay(
                &ReplayToken::seed(failure.seed),
                "zoo-pool-full",
                "smoke",
                None,
            )
            .unwrap();
            let strategy = mode.strategy(failure.seed);
            if strategy.swarm || strategy.pct {
                assert_ne!(random.report.trace_hash, again.report.trace_hash);
            }
        }
    }

    #[test]
    fn the_strategy_is_in_the_trace_and_a_swarm_replay_repeats_it() {
        let pool = pools::find("poolcheck").unwrap().pool_factory();
        let scenario = Scenario::named("smoke").unwrap();
        let traced = |mode: Mode| {
            let token = ReplayToken::seed_in(5, mode);
            let r = replay_pool(&token, &pool, &scenario, None, false).unwrap();
            let run = run_guarded(&RunConfig {
                keep_trace: true,
                mode,
                ..RunConfig::new(pool.clone(), scenario.clone(), 5)
            })
            .unwrap();
            assert_eq!(r.report.trace_hash, run.trace_hash, "{mode}");
            run.records
                .iter()
                .filter_map(|r| match &r.record {
                    Record::Harness { action } if action.starts_with("strategy") => {
                        Some(action.clone())
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert!(traced(Mode::Random).is_empty(), "random records nothing");
        let swarm = traced(Mode::Swarm);
        assert!(swarm.len() == 1 && swarm[0].starts_with("strategy swarm: swarm: faults ["));
        let pct = traced(Mode::Pct);
        assert!(pct.len() == 1 && pct[0].contains("pct depth"), "{pct:?}");
    }

    #[test]
    fn stop_at_first_ends_at_the_first_failing_seed() {
        let whole = sweep(&config("zoo-overshoot", Mode::Random, 40), |_| {}).unwrap();
        let first = whole.first_failure.as_ref().expect("overshoot fails").seed;
        let stopped = sweep(
            &SweepConfig {
                stop_at_first: true,
                ..config("zoo-overshoot", Mode::Random, 40)
            },
            |_| {},
        )
        .unwrap();
        assert_eq!(stopped.first_failure.map(|f| f.seed), Some(first));
        // Every seed up to the first failing one, and at most one more per other job.
        let index = first - 1;
        assert!(stopped.seeds_run > index && stopped.seeds_run <= index + 2);
        assert!(stopped.seeds_run < whole.seeds_run);
    }
}
