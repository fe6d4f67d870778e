//! # sim: poolcheck's deterministic simulator
//!
//! Runs a pool under test against a simulated MongoDB deployment (mock-server over a
//! simulated network) with virtual time, a seeded scheduler and a seeded fault plan, and
//! judges it with an oracle on every event (MAX, LIVE, LEAK, FIFO, TIME, ERR, STALE,
//! ACCT, CLEAR, IDLE, and PANIC and NONDET for the pool's code itself; see
//! [`Invariant`] and [`oracle`]). One `u64`
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
//! ## Modes and coverage
//! A sweep explores in a [`Mode`]: `random` (the default), `swarm` (a random subset of
//! fault kinds and op styles per seed: `swarm`), `pct` (the PCT priority scheduler:
//! `executor::pct`) or `portfolio` (one of them per seed). [`Check::mode`] and
//! `POOLCHECK_MODE` choose it; a replay token records it. Each run counts the interesting
//! pool states it reached ([`Coverage`], see [`oracle::coverage`]) and a sweep sums them
//! ([`SweepReport::coverage`], [`SweepReport::never_reached`]).
//! [`SweepConfig::stop_at_first`] (or [`Check::stop_at_first`]) ends a sweep at its first
//! failing seed, for time-to-detect measurements.
//!
//! ## What the simulation explores, and what it does not
//! Task interleavings at await points (chosen by the seed), timing (latency, think and
//! hold times, deadlines), cancellation (checkouts dropped mid-way, zombies) and faults.
//! It does not explore instruction-level interleavings inside a poll or weak memory:
//! that is the loom models' job (`pool-core/tests/loom_*.rs`).
//!
//! ## Map
//! Public: [`Check`] (the checker every sweep goes through), [`adapter`] (the event
//! contract, the helpers and the Tokio bridge), [`pool_under_test`] (the
//! [`PoolUnderTest`] trait, [`PoolEvent`], [`Lease`], [`Capabilities`], [`PoolFactory`]),
//! [`oracle`] (the invariant checkers, one module each), [`judge`] (the oracle for a pool
//! running on real threads, fed its CMAP events: [`Judge`]), [`pools`] (the built-in pools by
//! name). The machinery, in the order a run uses it: `plan` (scenarios, and the plan a
//! seed draws), `executor` and `runtime` (the single-threaded executor, virtual time,
//! seeded scheduling), `pump` (a paused Tokio runtime run on virtual time) and `time_bridge`
//! (mock-server's Tokio sleeps on virtual time, through the pump), `net`
//! and `manager` (simulated byte streams with faults, and the wire handshake over them),
//! `workload` and `faults` (client tasks and the fault driver), `recorder` (every
//! observation, into the trace and the oracle), `trace` and `perfetto` (the trace, its hash
//! and its files), `run` (one run, phase by phase), `shrink` (delta debugging), `token`
//! (replay tokens), `sweep` (many seeds, the determinism self-check), `zoo` (deliberately
//! broken pools, one bug class each), `sync` (an async mutex whose deadlocks are visible).
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

// The public surface: the checker, the adapter kit, the oracle and its wall-clock judge,
// and the built-in pools.
pub mod adapter;
mod check;
pub mod judge;
pub mod oracle;
pub mod pool_under_test;
pub mod pools;
#[doc(hidden)]
pub mod reference;

// The machinery behind it. Public only for poolcheck's own command line, benches and
// integration tests; not part of the API a pool author uses (everything that is, is
// re-exported below) and free to change.
mod entry;
#[doc(hidden)]
pub mod error;
#[doc(hidden)]
pub mod executor;
#[doc(hidden)]
pub mod faults;
#[doc(hidden)]
pub mod manager;
mod mode;
#[doc(hidden)]
pub mod net;
mod panics;
#[doc(hidden)]
pub mod perfetto;
#[doc(hidden)]
pub mod plan;
mod pump;
#[doc(hidden)]
pub mod recorder;
#[doc(hidden)]
pub mod rng;
#[doc(hidden)]
pub mod run;
#[doc(hidden)]
pub mod runtime;
mod shared;
#[doc(hidden)]
pub mod shrink;
pub mod stress;
#[doc(hidden)]
pub mod swarm;
#[doc(hidden)]
pub mod sweep;
#[doc(hidden)]
pub mod sync;
mod time_bridge;
#[doc(hidden)]
pub mod token;
#[doc(hidden)]
pub mod trace;
#[doc(hidden)]
pub mod workload;
#[doc(hidden)]
pub mod zoo;

pub use check::{
    Check, CheckReport, Replayed, ENV_FIRST_SEED, ENV_JOBS, ENV_MODE, ENV_REPLAY, ENV_SEEDS,
    ENV_TRACE,
};
pub use error::SimError;
pub use executor::TaskId;
pub use judge::{Judge, Verdict};
pub use manager::{SimConnection, SimManager};
pub use mode::{Mode, Strategy};
pub use oracle::coverage::{CoverState, Coverage};
pub use oracle::{Invariant, Violation};
pub use plan::{PlanFilter, Scenario};
pub use pool_under_test::{
    BuildFn, Capabilities, CheckoutFailure, EventSink, Lease, LeaseInner, PoolEvent, PoolFactory,
    PoolParams, PoolStatus, PoolUnderTest, StatusCounters,
};
pub use run::{RunConfig, RunReport};
pub use runtime::{race, yield_now, Either, SimRuntime, Sleep};
pub use sweep::{
    replay, sweep, Failure, ReplayReport, ShrunkFailure, SweepConfig, SweepProgress, SweepReport,
};
pub use token::ReplayToken;
