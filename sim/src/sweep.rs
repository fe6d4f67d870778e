//! The library API the CLI calls: [`sweep`] many seeds (on several threads, each seed
//! single-threaded and deterministic) and [`replay`] one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::SimError;
use crate::oracle::{Invariant, Violation};
use crate::plan::Scenario;
use crate::pools;
use crate::run::{run, RunConfig, RunReport};
use crate::shrink::{shrink, Shrunk};
use crate::token::ReplayToken;
use crate::{perfetto, trace};

/// What to sweep.
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
        }
    }
}

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
    /// Seeds run.
    pub seeds_run: u64,
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
}

impl SweepReport {
    /// Simulated seconds per wall-clock second.
    pub fn speed(&self) -> f64 {
        self.simulated.as_secs_f64() / self.wall.as_secs_f64().max(1e-9)
    }
}

/// Runs every seed of `config` and summarises; `progress` is called after each seed.
/// Installs [`quiet_task_panics`](crate::executor::quiet_task_panics).
///
/// # Errors
/// [`SimError`] for an unknown pool or scenario, a bad shard, or a world that cannot be
/// built. Violations are results, not errors.
pub fn sweep(
    config: &SweepConfig,
    mut progress: impl FnMut(&SweepProgress),
) -> Result<SweepReport, SimError> {
    crate::executor::quiet_task_panics();
    let pool = pools::find(&config.pool)?;
    let scenario = Scenario::named(&config.scenario)?;
    let (shard, shards) = config.shard;
    if shards == 0 || shard >= shards {
        return Err(SimError::BadShard {
            index: shard,
            count: shards,
        });
    }
    let indices: Vec<u64> = (0..config.seeds)
        .filter(|i| i % u64::from(shards) == u64::from(shard))
        .collect();
    let total = indices.len() as u64;
    let next = AtomicU64::new(0);
    let started = Instant::now();
    let jobs = config.jobs.max(1);
    let mut results: Vec<(u64, Result<RunReport, SimError>)> = Vec::with_capacity(indices.len());
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..jobs {
            let tx = tx.clone();
            let (indices, next, scenario) = (&indices, &next, &scenario);
            scope.spawn(move || loop {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(&i) = indices.get(n) else { break };
                let seed = config.first_seed.wrapping_add(i);
                let result = run(&RunConfig {
                    seed,
                    pool,
                    scenario: scenario.clone(),
                    filter: Default::default(),
                    keep_trace: false,
                });
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
    let wall = started.elapsed();
    results.sort_by_key(|(i, _)| *i);
    let mut report = SweepReport {
        pool: pool.name.to_string(),
        scenario: scenario.name.to_string(),
        seeds_run: 0,
        simulated: Duration::ZERO,
        wall,
        checkouts: 0,
        faults: 0,
        steps: 0,
        failed_seeds: 0,
        violations: BTreeMap::new(),
        failing: Vec::new(),
        first_failure: None,
    };
    let mut first: Option<RunReport> = None;
    for (_, result) in results {
        let r = result?;
        report.seeds_run += 1;
        report.simulated += r.simulated;
        report.checkouts += r.checkouts;
        report.faults += r.faults;
        report.steps += r.steps;
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
    if let Some(r) = first {
        report.first_failure = Some(failure(config, pool, &scenario, &r)?);
    }
    Ok(report)
}

fn failure(
    config: &SweepConfig,
    pool: &'static pools::PoolEntry,
    scenario: &Scenario,
    r: &RunReport,
) -> Result<Failure, SimError> {
    let token = ReplayToken::seed(r.seed);
    let violation = r.violation.clone().unwrap_or_else(|| Violation {
        invariant: Invariant::Live,
        at: Duration::ZERO,
        message: String::new(),
    });
    let base = RunConfig {
        seed: r.seed,
        pool,
        scenario: scenario.clone(),
        filter: Default::default(),
        keep_trace: false,
    };
    let shrunk: Option<Shrunk> = if config.shrink {
        Some(shrink(&base, &violation)?)
    } else {
        None
    };
    let mut trace_files = Vec::new();
    if let Some(dir) = &config.trace_dir {
        std::fs::create_dir_all(dir).map_err(|source| SimError::TraceWrite {
            path: dir.display().to_string(),
            source,
        })?;
        let chosen = shrunk.as_ref().map_or(token.clone(), |s| s.token.clone());
        let stem = dir.join(format!("{}-{}-{:#x}", pool.name, scenario.name, r.seed));
        trace_files = replay(&chosen, pool.name, scenario.name, Some(&stem))?.trace_files;
    }
    Ok(Failure {
        seed: r.seed,
        violation,
        replay: token.command(pool.name, scenario.name),
        shrunk: shrunk.map(|s| ShrunkFailure {
            replay: s.token.command(pool.name, scenario.name),
            violation: s.violation,
            faults: s.faults,
            clients: s.clients,
            ops: s.ops,
            runs: s.runs,
        }),
        trace_files,
    })
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

/// Replays `token` with `pool` in `scenario`; with `trace_stem`, writes the trace as
/// `<stem>.jsonl` (JSON lines) and `<stem>.perfetto.json` (load it in ui.perfetto.dev).
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
    crate::executor::quiet_task_panics();
    let entry = pools::find(pool)?;
    let scenario = Scenario::named(scenario)?;
    let report = run(&RunConfig {
        seed: token.seed,
        pool: entry,
        scenario: scenario.clone(),
        filter: token.filter.clone(),
        keep_trace: trace_stem.is_some(),
    })?;
    let mut trace_files = Vec::new();
    if let Some(stem) = trace_stem {
        let jsonl = stem.with_extension("jsonl");
        let chrome = stem.with_extension("perfetto.json");
        trace::write_json_lines(&report.records, &jsonl)?;
        perfetto::write(&report.records, &chrome)?;
        trace_files = vec![jsonl, chrome];
    }
    Ok(ReplayReport {
        replay: token.command(entry.name, scenario.name),
        report,
        trace_files,
    })
}
