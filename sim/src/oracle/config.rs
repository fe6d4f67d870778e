//! The limits and tolerances the oracle judges by.

use std::time::Duration;

use pool_core::PoolOptions;

use crate::pool_under_test::Capabilities;

/// The limits and tolerances the oracle judges by.
///
/// Build it with [`OracleConfig::from_options`] (or [`Default`]) and override fields with
/// `..`: fields are added as the oracle learns new checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OracleConfig {
    /// maxPoolSize (0 = unlimited is passed as pool-core's hard limit).
    pub max_total: u32,
    /// maxConnecting.
    pub max_connecting: u32,
    /// How long a condition may hold before it is a violation (LIVE, TIME, ERR, ACCT,
    /// CLEAR's window, IDLE's slack).
    pub tolerance: Duration,
    /// The pool's wait queue timeout (a checkout may time out then).
    pub wait_queue_timeout: Option<Duration>,
    /// The pool's own bound on a checkout, if it declares one.
    pub checkout_bound: Option<Duration>,
    /// Connections for waiters are established by the pool's background tasks (see
    /// [`Capabilities::background_establishment`]).
    pub background_establishment: bool,
    /// maxIdleTime: no connection may be closed as idle sooner (IDLE).
    pub max_idle_time: Option<Duration>,
    /// maxLifetime: no connection may be closed as expired sooner than this minus
    /// `max_lifetime_jitter` (IDLE).
    pub max_lifetime: Option<Duration>,
    /// How much sooner than `max_lifetime` a connection may expire.
    pub max_lifetime_jitter: Option<Duration>,
    /// The pool clears itself when an establishment fails (see
    /// [`Capabilities::clears_on_connect_error`]).
    pub clears_on_connect_error: bool,
    /// How much sooner than `max_idle_time` the pool may close an idle connection (see
    /// [`Capabilities::idle_close_slack`]).
    pub idle_close_slack: Duration,
    /// How many connections MAX allows above `max_total` and `max_connecting` when a
    /// connection is created, for pools whose events trail their state: a pool that frees
    /// a connection's slot and only then reports its `ConnectionClosed` (or
    /// `ConnectionReady`), on threads running in parallel, lets another thread's
    /// `ConnectionCreated` arrive first, at most once per thread emitting at the same time.
    /// 0 (the default) for the simulator, where events and state never drift apart;
    /// [`crate::Judge`] sets it for pools running on real threads.
    pub event_lag: u32,
    /// The pool's `leak_detection_threshold`: with [`OracleConfig::leak_detection`], TIME
    /// judges its leak reports.
    pub leak_detection_threshold: Option<Duration>,
    /// The pool reports leaks ([`Capabilities::leak_detection`]); set by
    /// [`Oracle::set_capabilities`](crate::oracle::Oracle::set_capabilities).
    pub leak_detection: bool,
    /// The allowance for observations made on real threads a moment away from the pool
    /// step they report (`crate::stress`). FIFO: a checkout that began less than this
    /// before the one served is not overtaken (its thread may not have reached the
    /// pool's queue yet), and an overtake is judged only this long after it (a grant to
    /// the earlier checkout may not have been claimed by its thread yet). STALE: a
    /// connection of the previous generation checked out less than this after the
    /// `PoolCleared` is not stale (the checkout may have taken it before the clear and
    /// reported it after). Zero (the default) in the simulator, where each of those is
    /// one step.
    pub arrival_slack: Duration,
}

impl Default for OracleConfig {
    /// pool-core's default limits, a 5 ms tolerance, no timeouts or lifetimes.
    fn default() -> Self {
        OracleConfig::from_options(&PoolOptions::default())
    }
}

impl OracleConfig {
    /// The limits and timeouts of `options`, a 5 ms tolerance, CMAP's capabilities
    /// (override them with [`Oracle::set_capabilities`](crate::oracle::Oracle::set_capabilities)).
    pub fn from_options(options: &PoolOptions) -> OracleConfig {
        OracleConfig {
            max_total: options.total_max(),
            max_connecting: options.max_connecting,
            tolerance: Duration::from_millis(5),
            wait_queue_timeout: options.wait_queue_timeout,
            checkout_bound: None,
            background_establishment: false,
            max_idle_time: options.max_idle_time,
            max_lifetime: options.max_lifetime,
            max_lifetime_jitter: options.max_lifetime_jitter,
            clears_on_connect_error: Capabilities::CMAP.clears_on_connect_error,
            idle_close_slack: Duration::ZERO,
            event_lag: 0,
            leak_detection_threshold: options.leak_detection_threshold,
            leak_detection: false,
            arrival_slack: Duration::ZERO,
        }
    }
}
