//! # sim: poolcheck's deterministic simulator
//!
//! Runs a pool under test against a simulated MongoDB deployment (mock-server over a
//! simulated network) with virtual time, a seeded scheduler and a seeded fault plan, and
//! judges it with oracles for the invariants of `research/pools.md` §4.1 (MAX, LIVE,
//! LEAK, FIFO, TIME, ERR, STALE, ACCT). One `u64` seed decides everything; the same seed
//! gives a bit-identical trace. A failure comes with one line that replays it, a shrunk
//! minimal case, and trace files (JSON lines, and Perfetto tracks of connections and
//! checkouts over virtual time).
//!
//! ## Start here
//! - [`sweep()`] runs many seeds (on several threads) and summarises; [`replay`] runs one
//!   token and writes its trace. These are what `poolcheck sim` calls.
//! - [`run::run`] runs one seed and returns a [`RunReport`].
//! - [`PoolUnderTest`] is what a pool must implement to be judged.
//!
//! ## Example
//! ```
//! # fn main() -> Result<(), sim::SimError> {
//! let config = sim::SweepConfig {
//!     seeds: 3,
//!     pool: "poolcheck".into(),
//!     scenario: "smoke".into(),
//!     ..sim::SweepConfig::default()
//! };
//! let report = sim::sweep(&config, |progress| eprintln!("{}/{}", progress.done, progress.total))?;
//! assert_eq!(report.seeds_run, 3);
//! assert!(report.first_failure.is_none());
//!
//! // Any failure replays from its token, deterministically.
//! let token: sim::ReplayToken = "0x3".parse()?;
//! let replayed = sim::replay(&token, "zoo-pool-full", "smoke", None)?;
//! assert!(replayed.report.violation.is_some());
//! # Ok(())
//! # }
//! ```
//!
//! ## Map
//! - [`rng`]: the one PRNG (SplitMix64) and its forks.
//! - [`executor`]: the single-threaded executor, virtual time, seeded scheduling,
//!   budgets. Its doc says why it is not turmoil.
//! - [`runtime`]: [`SimRuntime`], the handle that implements `pool_core::Runtime`.
//! - `time_bridge` (private): keeps mock-server's `tokio::time` sleeps on virtual time.
//! - [`sync`]: an async mutex whose deadlocks are visible (for the zoo).
//! - [`net`]: simulated byte streams with latency and network faults.
//! - [`manager`]: [`SimManager`] (wire handshake over the simulated network) and
//!   [`SimConnection`].
//! - [`pool_under_test`]: the [`PoolUnderTest`] trait, [`PoolEvent`], [`Lease`].
//! - [`pools`]: the pools by name; [`pools::reference`] adapts poolcheck's pool.
//! - [`zoo`]: deliberately broken pools, one bug class each.
//! - [`plan`]: scenarios, and the plan (options, workload, faults) a seed draws.
//! - [`workload`], [`faults`]: the client tasks and the fault driver.
//! - [`oracle`]: the invariant checkers.
//! - [`recorder`]: where every observation goes (trace + oracle).
//! - [`trace`], [`perfetto`]: the trace, its hash and its files.
//! - [`run`]: one run, phase by phase. [`shrink`]: delta debugging. [`token`]: replay
//!   tokens. [`sweep`](mod@sweep): the sweep and replay API.
//! - [`error`]: the simulator's error type, [`SimError`].
//!
//! ## What the simulation explores, and what it does not
//! Task interleavings at await points (chosen by the seed), timing (latency, think and
//! hold times, deadlines), cancellation (checkouts dropped mid-way, zombies) and faults.
//! It does not explore instruction-level interleavings inside a poll or weak memory:
//! that is the loom models' job (`pool-core/tests/loom_*.rs`).
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod error;
pub mod executor;
pub mod faults;
pub mod manager;
pub mod net;
pub mod oracle;
pub mod perfetto;
pub mod plan;
pub mod pool_under_test;
pub mod pools;
pub mod recorder;
pub mod rng;
pub mod run;
pub mod runtime;
pub mod shrink;
pub mod sweep;
pub mod sync;
mod time_bridge;
pub mod token;
pub mod trace;
pub mod workload;
pub mod zoo;

pub use error::SimError;
pub use executor::{SimRuntime, TaskId};
pub use manager::{SimConnection, SimManager};
pub use oracle::{Invariant, Violation};
pub use plan::{PlanFilter, Scenario};
pub use pool_under_test::{CheckoutFailure, Lease, PoolEvent, PoolStatus, PoolUnderTest};
pub use run::RunReport;
pub use sweep::{replay, sweep, Failure, ReplayReport, SweepConfig, SweepProgress, SweepReport};
pub use token::ReplayToken;
