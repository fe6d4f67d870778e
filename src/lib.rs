//! # poolcheck
//!
//! A lock-free connection pool with the semantics of MongoDB's Connection Monitoring and
//! Pooling (CMAP) spec, plus the harness that checks pools against that spec.
//!
//! This crate is a facade: it re-exports [`pool_core`], the reference pool, so that code
//! depending on `poolcheck` can name the pool's types from one place. The `poolcheck`
//! binary (`src/main.rs`) is the command line; with no subcommand it runs the main job, a
//! seeded simulation sweep of poolcheck's own pool ending in a verdict.
//!
//! ## The workspace
//!
//! - `pool-core/`: the lock-free CMAP reference pool ([`pool_core`]). It knows nothing of
//!   MongoDB: connections come from a [`Manager`], time and tasks from a [`Runtime`].
//!   Its `tests/` hold the loom models of the engine, a proptest check against a sequential
//!   reference model and behaviour tests on paused Tokio time; `benches/checkout.rs`
//!   measures the uncontended checkout + check-in.
//! - `wire/`: the MongoDB wire protocol and a client over `pool-core`.
//! - `mock-server/`: an in-memory MongoDB wire server with mongod's `failCommand` fail
//!   points and connection faults (`poolcheck serve`).
//! - `sim/`: the deterministic simulator — virtual time, a seeded scheduler, a simulated
//!   network to the mock server, an oracle on every event, a bug zoo, replay, shrinking and
//!   traces — and `sim::Check`, which judges anyone's pool from their own `cargo test`.
//! - `src/`: this facade and the command line: `sim` (the sweep, the main job; one shard of
//!   it with `--shard`, its result file with `--json-out`), `merge` (shard results to one
//!   verdict), `serve`, `demo` (the pool under real concurrent load), `soak` (the official
//!   `mongodb` driver against the mock server, judged by the same oracle).
//! - `tests/`: the CMAP spec-test runner (`cmap_spec.rs`, spec files vendored in
//!   `tests/spec/cmap/`), the real driver against the mock server, robustness over TCP,
//!   and tests of the binary.
//! - `benches/`: the criterion suite against deadpool, bb8, mobc, r2d2, a semaphore
//!   baseline and the `mongodb` driver (`BENCHMARKS.md`).
//! - `fuzz/`: cargo-fuzz targets (nightly, outside the workspace).
//! - `examples/own-pool/`: an outside crate that checks its own pool with `sim::Check`.
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
