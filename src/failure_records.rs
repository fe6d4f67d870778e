//! Every failing seed of a sweep as a [`FailureRecord`] for the shard's result file:
//! re-run for its violation and shrunk (the sweep engine shrinks only the first), so each
//! carries a [signature](crate::signature) that `poolcheck merge` dedups on and the shape
//! of its shrunk case.
//!
//! The shrinks run on the sweep's worker threads, each seed single-threaded and
//! deterministic, so the records are the same whichever shard or thread produced them.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use sim::run::{run_guarded, RunConfig};
use sim::shrink::{shrink_within, RUNS_MAX};
use sim::{Failure, Invariant, PoolFactory, ReplayToken, Scenario, SimError, SweepReport};
use thiserror::Error;

use crate::shard_result::{FailureRecord, ShrunkRecord};
use crate::signature::{signature, Shape};

/// Why the failures could not be recorded.
#[derive(Debug, Error)]
pub enum RecordError {
    /// The simulator refused a re-run.
    #[error(transparent)]
    Sim(#[from] SimError),
    /// A worker thread panicked while re-running this seed.
    #[error("re-running failing seed {seed:#x} to shrink it panicked")]
    Panicked {
        /// The seed.
        seed: u64,
    },
}

/// The records of `report.failing` (in seed order), shrinking each when `shrink`, on
/// `jobs` threads.
///
/// # Errors
/// [`RecordError`]: an unknown pool or scenario, or a re-run that cannot be built.
pub fn collect(
    report: &SweepReport,
    shrink: bool,
    jobs: usize,
) -> Result<Vec<FailureRecord>, RecordError> {
    let pool = sim::pools::find(&report.pool)?.pool_factory();
    let scenario = Scenario::named(&report.scenario)?;
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<Result<FailureRecord, RecordError>>> = Vec::new();
    slots.resize_with(report.failing.len(), || None);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..jobs.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(seed, invariant)) = report.failing.get(n) else {
                            break;
                        };
                        let record = one(report, &pool, &scenario, seed, invariant, shrink)
                            .map_err(RecordError::from);
                        done.push((n, record));
                    }
                    done
                })
            })
            .collect();
        for handle in handles {
            // A worker that panicked leaves its slots empty: reported below.
            if let Ok(done) = handle.join() {
                for (n, record) in done {
                    if let Some(slot) = slots.get_mut(n) {
                        *slot = Some(record);
                    }
                }
            }
        }
    });
    slots
        .into_iter()
        .zip(&report.failing)
        .map(|(slot, (seed, _))| slot.unwrap_or(Err(RecordError::Panicked { seed: *seed })))
        .collect()
}

/// The record of one failing seed.
fn one(
    report: &SweepReport,
    pool: &PoolFactory,
    scenario: &Scenario,
    seed: u64,
    invariant: Invariant,
    shrink: bool,
) -> Result<FailureRecord, SimError> {
    let token = ReplayToken::seed(seed);
    let replay = token.command(&report.pool, &report.scenario);
    let name = invariant.to_string();
    // The engine already shrank its first failure: the same deterministic shrink.
    if let Some(f) = report.first_failure.as_ref().filter(|f| f.seed == seed) {
        return Ok(from_engine(f, scenario, &name));
    }
    let unshrunk = |message: String| FailureRecord {
        seed,
        invariant: name.clone(),
        signature: signature(&name, &message),
        message,
        token: token.to_string(),
        replay: replay.clone(),
        shrunk: None,
    };
    // A NONDET seed does not repeat: neither its message nor a shrink can be re-made.
    if invariant == Invariant::Nondet {
        return Ok(unshrunk(format!(
            "seed {seed:#x} ran twice and differed (see the sweep's first failure)"
        )));
    }
    let config = RunConfig::new(pool.clone(), scenario.clone(), seed);
    let run = run_guarded(&config)?;
    let Some(violation) = run.violation.filter(|v| v.invariant == invariant) else {
        return Ok(unshrunk(String::new()));
    };
    if !shrink {
        return Ok(unshrunk(violation.message));
    }
    let s = shrink_within(&config, &violation, RUNS_MAX)?;
    Ok(FailureRecord {
        seed,
        invariant: name.clone(),
        signature: signature(&name, &s.violation.message),
        message: violation.message,
        token: token.to_string(),
        replay,
        shrunk: Some(ShrunkRecord {
            token: s.token.to_string(),
            replay: s.token.command(&report.pool, &report.scenario),
            faults: s.faults,
            clients: s.clients,
            ops: s.ops,
            shape: Shape::of(seed, scenario, &s.token.filter).to_string(),
            message: s.violation.message,
        }),
    })
}

/// The record of the failure the sweep engine already re-ran and shrank.
fn from_engine(f: &Failure, scenario: &Scenario, name: &str) -> FailureRecord {
    let shrunk = f
        .shrunk
        .as_ref()
        .and_then(|s| Some((s, ReplayToken::from_str(&s.token).ok()?)));
    let signed = shrunk
        .as_ref()
        .map_or(&f.violation.message, |(s, _)| &s.violation.message);
    FailureRecord {
        seed: f.seed,
        invariant: name.to_string(),
        message: f.violation.message.clone(),
        token: f.token.clone(),
        replay: f.replay.clone(),
        signature: signature(name, signed),
        shrunk: shrunk.map(|(s, t)| ShrunkRecord {
            token: s.token.clone(),
            replay: s.replay.clone(),
            faults: s.faults,
            clients: s.clients,
            ops: s.ops,
            shape: Shape::of(f.seed, scenario, &t.filter).to_string(),
            message: s.violation.message.clone(),
        }),
    }
}
