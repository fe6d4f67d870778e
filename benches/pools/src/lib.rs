//! # bench-pools: poolcheck's pool benchmarks in a build like a user's
//!
//! This package holds no code; its bench targets (`benches/pools/benches/`) measure the
//! pools:
//!
//! - `checkout`: poolcheck's pool against deadpool, bb8, mobc, r2d2 and a
//!   `Semaphore` + `ArrayQueue` baseline, at 1, 10 and 100 tasks;
//! - `checkout_held`: the same pools exhausted (100 tasks, 10 connections), every
//!   checkout waiting for a hand-off;
//! - `pool_core_checkout`: pool-core's uncontended checkout + check-in, polled by hand;
//! - `pool_core_metrics`: what the `OtelMetrics` event handler costs that checkout.
//!
//! They live apart from the `benches` package because one cargo command builds every
//! package it selects with one set of features: `sim` (which `benches`' other targets use)
//! needs Tokio's `test-util`, whose paused-clock support makes every
//! `tokio::time::Instant::now()` take a mutex. A user's build has no `test-util`, and
//! neither has this package's dependency graph, so run it as its own command:
//!
//! ```sh
//! cargo bench -p bench-pools
//! ```
//!
//! The shared helpers (no-op managers, the 2-worker runtime, the JSON side files under
//! `<target>/poolcheck-bench/`) come from the `benches` library, and criterion writes to
//! the same `<target>/criterion/` directories, so `bench_report` reads these figures as
//! before.
