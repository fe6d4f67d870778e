//! # benches: shared helpers of poolcheck's criterion suite
//!
//! This package's bench targets live in `benches/benches/` (`end_to_end`, `server`, `sim`,
//! `time_to_detect`); the pool benches (`checkout`, `checkout_held`, `pool_core_checkout`,
//! `pool_core_metrics`) live in the `bench-pools` package (`benches/pools/`), whose build
//! has no Tokio `test-util`. This library holds what they share, and so depends on none of
//! `sim`, `mock-server`, `wire`, `mongodb` or `bson` (the bench targets here have them as
//! dev-dependencies):
//!
//! - [`noop`]: a no-op connection and one manager per pool (poolcheck's, deadpool, bb8,
//!   mobc, r2d2), plus the `tokio::sync::Semaphore` + `crossbeam_queue::ArrayQueue`
//!   baseline, all behind [`noop::AsyncPool`] so every async pool runs the very same loop.
//! - [`runtime`]: the 2-worker Tokio runtime every async measurement uses.
//! - [`latency`]: per-operation latencies and their p50/p99.
//! - [`extra`]: the JSON side files (ops/s, p50/p99, speeds, load) that criterion does not
//!   record, under `<target>/poolcheck-bench/`, and where criterion's own output lives.
//!
//! The report generator is the `bench_report` binary (`src/bin/bench_report.rs`); it turns
//! criterion's `estimates.json` files and the side files into `BENCHMARKS.md`.
#![warn(missing_docs, unreachable_pub)]

pub mod extra;
pub mod latency;
pub mod noop;
pub mod runtime;

/// Every pool in the suite holds this many connections.
pub const POOL_SIZE: u32 = 10;

/// True when the bench binary runs in criterion's test mode (`cargo bench -- --test`):
/// each benchmark runs once and side files must not overwrite real figures.
pub fn test_mode() -> bool {
    std::env::args().any(|a| a == "--test")
}
