//! The Tokio runtimes of the suite.

/// Worker threads of every async measurement's runtime (the machine has 2 cores).
pub const WORKERS: usize = 2;

/// A multi-thread Tokio runtime with [`WORKERS`] workers, timers and I/O enabled. Every
/// async pool and client in the suite runs on one of these, configured identically.
pub fn two_workers(name: &str) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("a 2-worker Tokio runtime")
}

/// The 1-minute load average from `/proc/loadavg`, if readable (recorded next to the
/// figures: other work on the machine skews them).
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
