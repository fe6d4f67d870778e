//! The pool's errors: one enum per phase.

use std::time::Duration;

use crate::event::ConnectionCheckOutFailedReason;

/// A [`PoolOptions`](crate::PoolOptions) value that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// `max_pool_size` (or `min_pool_size`) above the hard limit.
    #[error("maxPoolSize/minPoolSize {value} is above the limit of {limit} connections per pool")]
    MaxPoolSizeTooLarge {
        /// The value given.
        value: u32,
        /// The limit.
        limit: u32,
    },
    /// `min_pool_size > max_pool_size`.
    #[error("minPoolSize {min} must not exceed maxPoolSize {max}")]
    MinAboveMax {
        /// minPoolSize.
        min: u32,
        /// maxPoolSize.
        max: u32,
    },
    /// `max_connecting` is 0 or too large.
    #[error("maxConnecting must be between 1 and {limit}, got {value}")]
    MaxConnectingOutOfRange {
        /// The value given.
        value: u32,
        /// The limit.
        limit: u32,
    },
    /// `waiters_max` is 0 or too large.
    #[error("waitersMax must be between 1 and {limit}, got {value}")]
    WaitersMaxOutOfRange {
        /// The value given.
        value: u32,
        /// The limit.
        limit: u32,
    },
    /// `max_lifetime_jitter >= max_lifetime`.
    #[error("maxLifetimeJitterMS ({jitter:?}) must be below maxLifetimeMS ({lifetime:?})")]
    JitterNotBelowLifetime {
        /// The jitter.
        jitter: Duration,
        /// The lifetime.
        lifetime: Duration,
    },
    /// A jitter without a lifetime.
    #[error("maxLifetimeJitterMS needs maxLifetimeMS")]
    JitterWithoutLifetime,
    /// A zero maintenance interval.
    #[error("backgroundThreadIntervalMS must not be 0 (use a negative value to disable it)")]
    ZeroMaintenanceInterval,
    /// A zero claim timeout (every grant would be taken back before its task could run).
    #[error("claimTimeoutMS must not be 0 (leave it unset, or null, to keep grants for ever)")]
    ZeroClaimTimeout,
}

/// Why a pool could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The options break a rule.
    #[error("invalid pool options: {0}")]
    Options(#[from] OptionsError),
    /// The default runtime was asked for outside a Tokio runtime.
    #[error("no runtime: build the pool inside a Tokio runtime or pass one with `runtime()`")]
    NoRuntime,
}

/// Why a checkout failed. `E` is the manager's error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckoutError<E: std::error::Error + 'static> {
    /// The pool is closed (CMAP `PoolClosedError`).
    #[error("attempted to check out a connection from closed connection pool")]
    PoolClosed,
    /// The pool is paused, or was cleared while this checkout waited or established
    /// (CMAP `PoolClearedError`; retryable).
    #[error("connection pool was cleared (generation {generation}); retry once it is ready")]
    PoolCleared {
        /// The pool's generation when the checkout noticed.
        generation: u64,
    },
    /// The wait queue timeout passed (CMAP `WaitQueueTimeoutError`).
    #[error("timed out after {waited:?} while checking out a connection from connection pool")]
    Timeout {
        /// How long the checkout waited.
        waited: Duration,
    },
    /// Too many checkouts are queued already.
    #[error("wait queue is full ({limit} queued checkouts); raise waitersMax or the pool size")]
    WaitQueueFull {
        /// `waiters_max`.
        limit: u32,
    },
    /// Establishing a new connection failed.
    #[error("failed to establish a connection: {0}")]
    Connect(#[source] E),
    /// Establishing a new connection took longer than `connect_timeout`.
    #[error("establishing a connection took longer than {0:?}")]
    ConnectTimeout(Duration),
}

impl<E: std::error::Error + 'static> CheckoutError<E> {
    /// The reason CMAP's `ConnectionCheckOutFailed` event carries for this error.
    pub fn reason(&self) -> ConnectionCheckOutFailedReason {
        match self {
            CheckoutError::PoolClosed => ConnectionCheckOutFailedReason::PoolClosed,
            CheckoutError::Timeout { .. } => ConnectionCheckOutFailedReason::Timeout,
            _ => ConnectionCheckOutFailedReason::ConnectionError,
        }
    }

    /// True for errors a caller may retry (cleared pool, timeouts, connect failures).
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            CheckoutError::PoolClosed | CheckoutError::WaitQueueFull { .. }
        )
    }

    /// The CMAP spec-test error type name (`PoolClosedError`, `PoolClearedError`,
    /// `WaitQueueTimeoutError`, or `ConnectionError`).
    pub fn cmap_type(&self) -> &'static str {
        match self {
            CheckoutError::PoolClosed => "PoolClosedError",
            CheckoutError::PoolCleared { .. } => "PoolClearedError",
            CheckoutError::Timeout { .. } => "WaitQueueTimeoutError",
            CheckoutError::WaitQueueFull { .. } => "WaitQueueFullError",
            CheckoutError::Connect(_) | CheckoutError::ConnectTimeout(_) => "ConnectionError",
        }
    }
}

/// Why an explicit [`Pool::check_in`](crate::Pool::check_in) was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckinError {
    /// The connection belongs to another pool (CMAP rule: it must raise an error).
    #[error("connection {id} was checked out from another pool")]
    ForeignConnection {
        /// The connection's id in its own pool.
        id: u64,
    },
}
