//! # poolcheck
//!
//! A lock-free connection pool with the semantics of MongoDB's Connection Monitoring and
//! Pooling (CMAP) spec, plus the harness that checks pools against that spec.
//!
//! This crate is a facade: it re-exports [`pool_core`], the reference pool, so that code
//! depending on `poolcheck` can name the pool's types from one place. The `poolcheck`
//! binary (`src/main.rs`) is the command line; with no subcommand it runs the demo.
//!
//! ## The workspace
//!
//! What exists today:
//!
//! - `pool-core/`: the lock-free CMAP reference pool ([`pool_core`]). It knows nothing of
//!   MongoDB: connections come from a [`Manager`], time and tasks from a [`Runtime`].
//!   Its `tests/` hold the loom models of the engine, a proptest check against a sequential
//!   reference model and behaviour tests on paused Tokio time; `benches/checkout.rs`
//!   measures the uncontended checkout + check-in.
//! - `src/lib.rs`: this facade.
//! - `src/main.rs`, `src/demo.rs`: the `poolcheck` command line and its `demo` job, which
//!   drives a pool over an in-process mock [`Manager`] from many tasks and checks the
//!   pool's invariants while it runs.
//! - `tests/cmap_spec.rs`: the runner for the CMAP spec tests; `tests/cli.rs`: tests of the
//!   binary.
//! - `wire/`: the MongoDB wire protocol and a client over `pool-core`.
//! - `mock-server/`: an in-memory MongoDB wire server with mongod's `failCommand` fail
//!   points and connection faults.
//!
//! Being written: `sim/`, the deterministic simulator. Planned, not written yet: benchmarks
//! that compare pools, and fuzzers (`fuzz/`, a nightly-only cargo-fuzz crate kept out of
//! the workspace).
//!
//! ## Example
//! ```
//! use poolcheck::{Manager, Pool};
//!
//! struct Numbers;
//! impl Manager for Numbers {
//!     type Connection = u64;
//!     type Error = std::io::Error;
//!     async fn connect(&self, id: u64) -> Result<u64, std::io::Error> {
//!         Ok(id * 100)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let pool = Pool::builder(Numbers).max_pool_size(4).ready().build().unwrap();
//! let conn = pool.check_out().await.unwrap();
//! assert_eq!(*conn, 100);
//! drop(conn); // checked in
//! assert_eq!(pool.status().available, 1);
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]

pub use pool_core;

pub use pool_core::{
    BuildError, CheckinError, CheckoutError, CmapEvent, ConnectionCheckOutFailedReason,
    ConnectionClosedReason, ConnectionId, CountersSnapshot, EventHandler, Manager, OptionsError,
    Pool, PoolBuilder, PoolOptions, PooledConnection, Runtime, Status, TokioRuntime,
};
