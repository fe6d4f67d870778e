//! The simulator's errors.

use std::time::Duration;

/// Why a simulation could not run (as opposed to a pool failing it: that is a
/// [`Violation`](crate::oracle::Violation)).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The time bridge's Tokio runtime could not be built.
    #[error("cannot build the time bridge's runtime: {0}")]
    Runtime(String),
    /// The poll budget ran out: some task keeps waking itself (a livelock).
    #[error("step budget of {steps} polls exceeded at {at:?} of virtual time (livelock?)")]
    StepBudget {
        /// The budget.
        steps: u64,
        /// Virtual time when it ran out.
        at: Duration,
    },
    /// The next timer lies past the time budget.
    #[error("virtual time budget of {limit:?} exceeded")]
    TimeBudget {
        /// The budget.
        limit: Duration,
    },
    /// No pool of that name.
    #[error("unknown pool '{name}'; known pools: {known}")]
    UnknownPool {
        /// The name given.
        name: String,
        /// The names known.
        known: String,
    },
    /// No scenario of that name.
    #[error("unknown scenario '{name}'; known scenarios: {known}")]
    UnknownScenario {
        /// The name given.
        name: String,
        /// The names known.
        known: String,
    },
    /// No exploration mode of that name.
    #[error("unknown mode '{name}'; known modes: {known}")]
    UnknownMode {
        /// The name given.
        name: String,
        /// The names known.
        known: String,
    },
    /// A replay token that does not parse.
    #[error("bad replay token '{token}': {reason}")]
    BadReplayToken {
        /// The token.
        token: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The pool could not be built.
    #[error("cannot build pool '{pool}': {reason}")]
    PoolBuild {
        /// The pool.
        pool: String,
        /// Why.
        reason: String,
    },
    /// Writing a trace file failed.
    #[error("cannot write trace file {path}: {source}")]
    TraceWrite {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A `POOLCHECK_*` environment variable that does not parse.
    #[error("environment variable {name}={value:?}: {reason}")]
    BadEnv {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A check with no scenario to run.
    #[error(
        "the check names no scenario; known scenarios: standard, zombie, calm, smoke, smoke-zombie"
    )]
    NoScenario,
    /// A sweep's shard is malformed.
    #[error("bad shard {index}/{count}: the index must be below the count")]
    BadShard {
        /// The shard index.
        index: u32,
        /// The shard count.
        count: u32,
    },
}
