//! # sim: poolcheck's deterministic simulator
//!
//! Runs a pool under test against a simulated MongoDB deployment (mock-server over a
//! simulated network) with virtual time, a seeded scheduler and a seeded fault plan, and
//! judges it with an oracle on every event (MAX, LIVE, LEAK, FIFO, TIME, ERR, STALE,
//! ACCT, and PANIC and NONDET for the pool's code itself; see [`Invariant`]). One `u64`
//! seed decides everything; the same seed gives a bit-identical trace. A failure comes
//! with one line that replays it, a shrunk minimal case, and trace files (JSON lines, and
//! Perfetto tracks of connections and checkouts over virtual time).
//!
//! ## Judging your own pool
//! 1. Write an adapter: a type that implements [`PoolUnderTest`] for your pool, built
//!    from [`PoolParams`] (the seed's options, the simulated connection manager, the
//!    virtual-time runtime, the event sink). [`adapter`] holds the event contract and the
//!    helpers that keep to it, and a bridge for pools built on Tokio.
//! 2. Check it from a test with [`Check`]:
//!
//! ```no_run
//! # use sim::{Check, PoolParams, PoolUnderTest};
//! # fn my_adapter(p: PoolParams) -> Result<std::sync::Arc<dyn PoolUnderTest>, String> { unimplemented!() }
//! // in tests/poolcheck.rs, inside #[test] fn my_pool_is_correct():
//! Check::new(|params: PoolParams| my_adapter(params))
//!     .scenarios(["standard", "zombie"])
//!     .seeds(1_000)
//!     .jobs(2)
//!     .run()
//!     .assert_ok();
//! ```
//!
//! 3. A failure panics with the invariant, the seed, the shrunk case and the line that
//!    replays it: `POOLCHECK_REPLAY='standard/0x2a:f=1' cargo test my_pool_is_correct`.
//!    Add `POOLCHECK_TRACE=DIR` to write its trace (open the `.perfetto.json` in
//!    ui.perfetto.dev).
//!
//! The pools built into poolcheck (its own, the rivals deadpool and bb8, the bug zoo)
//! are judged through the same [`Check`]: [`pools`] lists them by name for
//! `poolcheck sim --pool NAME`, each as a [`PoolFactory`].
//!
//! ## Example
//! ```
//! // poolcheck's own pool, three seeds of the `smoke` scenario, nothing read from the
//! // environment.
//! let report = sim::Check::pool(&sim::pools::REFERENCE)
//!     .scenarios(["smoke"])
//!     .seeds(3)
//!     .ignore_env()
//!     .run();
//! assert!(report.is_ok(), "{report}");
//!
//! // A broken pool of the zoo fails, and its failure replays from its token.
//! let zoo = sim::pools::find("zoo-pool-full").expect("a zoo member");
//! let found = sim::Check::pool(zoo).scenarios(["smoke"]).seeds(5).shrink(false).ignore_env().run();
//! let failure = found.failures().next().expect("caught");
//! assert!(failure.replay.contains("POOLCHECK_REPLAY='0x"));
//! ```
//!
//! ## What the simulation explores, and what it does not
//! Task interleavings at await points (chosen by the seed), timing (latency, think and
//! hold times, deadlines), cancellation (checkouts dropped mid-way, zombies) and faults.
//! It does not explore instruction-level interleavings inside a poll or weak memory:
//! that is the loom models' job (`pool-core/tests/loom_*.rs`).
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
//! - [`pools`]: the built-in pools by name; [`pools::reference`] adapts poolcheck's pool.
//! - [`adapter`]: the adapter kit (event contract, helpers, Tokio bridge).
//! - `check` (re-exported): [`Check`], the builder every sweep goes through.
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
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

pub mod adapter;
mod check;
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

pub use check::{
    Check, CheckReport, Replayed, ENV_FIRST_SEED, ENV_JOBS, ENV_REPLAY, ENV_SEEDS, ENV_TRACE,
};
pub use error::SimError;
pub use executor::{SimRuntime, TaskId};
pub use manager::{SimConnection, SimManager};
pub use oracle::{Invariant, Violation};
pub use plan::{PlanFilter, Scenario};
pub use pool_under_test::{
    BuildFn, Capabilities, CheckoutFailure, EventSink, Lease, LeaseInner, PoolEvent, PoolFactory,
    PoolParams, PoolStatus, PoolUnderTest, StatusCounters,
};
pub use run::{RunConfig, RunReport};
pub use sweep::{
    replay, sweep, Failure, ReplayReport, ShrunkFailure, SweepConfig, SweepProgress, SweepReport,
};
pub use token::ReplayToken;
