//! The demo's flags, and the pool options and plan they make.

use std::time::Duration;

use clap::Args;
use poolcheck::pool_core::limits;
use poolcheck::PoolOptions;

/// The demo's flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct DemoArgs {
    /// Concurrent tasks checking connections out.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(super) tasks: u32,

    /// Checkouts each task makes.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub(super) checkouts: u64,

    /// The pool's maxPoolSize.
    #[arg(
        long,
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(limits::CONNECTIONS_MAX))
    )]
    pub(super) max_pool_size: u32,

    /// The pool's maxConnecting.
    #[arg(
        long,
        default_value_t = 2,
        value_parser = clap::value_parser!(u32).range(1..=i64::from(limits::MAX_CONNECTING_MAX))
    )]
    pub(super) max_connecting: u32,

    /// The pool's waitQueueTimeoutMS (0 waits forever).
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub(super) wait_queue_timeout_ms: u64,

    /// How long the mock server takes to establish a connection, in microseconds.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    pub(super) connect_latency_us: u64,

    /// The mock server refuses every Nth connect attempt (0: never).
    #[arg(long, default_value_t = 10)]
    pub(super) connect_fail_every: u64,

    /// Every Nth checkout marks its connection errored, so the pool closes and replaces it
    /// (0: never).
    #[arg(long, default_value_t = 2500)]
    pub(super) error_every: u64,

    /// How long a task holds each connection, in microseconds (0: one yield to the
    /// scheduler). Tokio's timer rounds sleeps up to whole milliseconds.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
    pub(super) hold_us: u64,

    /// Print the summary as JSON on stdout (and no progress bar).
    #[arg(long)]
    pub(super) json: bool,

    /// Do not show the progress bar.
    #[arg(long)]
    pub(super) no_progress: bool,

    /// Serve the pool's OpenTelemetry connection metrics (`db.client.connection.*`) in
    /// Prometheus text format at http://ADDR/metrics while the demo runs.
    #[arg(long, value_name = "ADDR")]
    pub(super) metrics_addr: Option<std::net::SocketAddr>,

    /// With --metrics-addr: keep serving this many milliseconds after the summary, so a
    /// scraper can read the final figures.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub(super) metrics_hold_ms: u64,
}

/// What each task does.
#[derive(Debug, Clone, Copy)]
pub(super) struct Plan {
    /// How many tasks run (to number checkouts round-robin over them).
    pub(super) tasks: u64,
    /// Checkouts per task.
    pub(super) checkouts: u64,
    /// Every Nth checkout marks its connection errored (0: never).
    pub(super) error_every: u64,
    /// How long a connection is held (zero: one yield).
    pub(super) hold: Duration,
}

impl DemoArgs {
    /// Checkouts over all tasks.
    pub(super) fn attempts(&self) -> u64 {
        u64::from(self.tasks) * self.checkouts
    }

    /// The pool's options.
    pub(super) fn pool_options(&self) -> PoolOptions {
        PoolOptions {
            max_pool_size: self.max_pool_size,
            max_connecting: self.max_connecting,
            wait_queue_timeout: match self.wait_queue_timeout_ms {
                0 => None,
                ms => Some(Duration::from_millis(ms)),
            },
            ..PoolOptions::default()
        }
    }

    /// What each task does.
    pub(super) fn plan(&self) -> Plan {
        Plan {
            tasks: u64::from(self.tasks),
            checkouts: self.checkouts,
            error_every: self.error_every,
            hold: Duration::from_micros(self.hold_us),
        }
    }
}
