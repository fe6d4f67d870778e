//! [`PoolUnderTest`]: what the simulator needs from a pool, and the events it reports.
//!
//! Any pool can be judged once it is wrapped in this trait: poolcheck's own pool
//! ([`crate::pools::reference`]), the bug zoo ([`crate::zoo`]), and later third-party
//! pools. The simulator drives it through the trait and judges it only by what it
//! reports ([`PoolEvent`]s through the [`EventSink`], its [`PoolStatus`]) and by what the
//! simulated world sees (connections made and dropped, checkouts begun and ended).

use std::sync::Arc;
use std::time::Duration;

use pool_core::runtime::BoxFuture;
use pool_core::{CmapEvent, ConnectionCheckOutFailedReason, ConnectionClosedReason, ConnectionId};
use serde::Serialize;

use crate::manager::{SimConnection, SimManager};
use crate::runtime::SimRuntime;

/// A CMAP-like event. Every pool under test reports these, in the order they happen.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "event", rename_all_fields = "camelCase")]
pub enum PoolEvent {
    /// paused → ready.
    PoolReady,
    /// ready → paused, with a new generation.
    PoolCleared {
        /// Whether in-use connections were interrupted.
        interrupt: bool,
    },
    /// The pool was closed.
    PoolClosed,
    /// A connection started establishing (pending).
    ConnectionCreated {
        /// The pool's id for it.
        id: ConnectionId,
    },
    /// A connection finished establishing.
    ConnectionReady {
        /// Its id.
        id: ConnectionId,
    },
    /// A connection left the pool for good.
    ConnectionClosed {
        /// Its id.
        id: ConnectionId,
        /// Why.
        reason: ConnectionClosedReason,
    },
    /// A checkout began.
    CheckOutStarted,
    /// A checkout failed.
    CheckOutFailed {
        /// Why.
        reason: ConnectionCheckOutFailedReason,
    },
    /// A checkout succeeded.
    CheckedOut {
        /// The connection handed out.
        id: ConnectionId,
    },
    /// A connection came back.
    CheckedIn {
        /// Its id.
        id: ConnectionId,
    },
    /// An available connection is being checked before it is handed out (say, a `ping`
    /// on one that sat idle a while): from now on it is neither available nor in use.
    /// The check ends with `CheckedOut { id }` (it passed and the connection is handed
    /// out), `ConnectionValidated { id }` (it passed and the connection is available
    /// again) or `ConnectionClosed { id, .. }` (it failed). Report it from the task of the
    /// checkout the connection is checked for, if there is one: that checkout is then
    /// neither waiting (LIVE, FIFO) nor stuck while the check runs.
    ConnectionValidating {
        /// Its id.
        id: ConnectionId,
    },
    /// A check begun with `ConnectionValidating` passed and the connection is available
    /// again (not handed out).
    ConnectionValidated {
        /// Its id.
        id: ConnectionId,
    },
    /// A connection checked out for longer than `leak_detection_threshold` was reported as
    /// a possible leak (not CMAP; pools with [`Capabilities::leak_detection`]).
    LeakSuspected {
        /// Its id.
        id: ConnectionId,
    },
    /// A connection reported by `LeakSuspected` came back (before its `CheckedIn`).
    LeakReturned {
        /// Its id.
        id: ConnectionId,
    },
}

impl PoolEvent {
    /// pool-core's CMAP event as a [`PoolEvent`]: the same event with its address and
    /// durations left out. `None` for `ConnectionPoolCreated`, which the oracle does not
    /// judge (a pool starts paused and empty either way), and for events a later pool-core
    /// may add.
    pub fn from_cmap(event: &CmapEvent) -> Option<PoolEvent> {
        Some(match *event {
            CmapEvent::PoolReady { .. } => PoolEvent::PoolReady,
            CmapEvent::PoolCleared {
                interrupt_in_use_connections,
                ..
            } => PoolEvent::PoolCleared {
                interrupt: interrupt_in_use_connections,
            },
            CmapEvent::PoolClosed { .. } => PoolEvent::PoolClosed,
            CmapEvent::ConnectionCreated { connection_id, .. } => {
                PoolEvent::ConnectionCreated { id: connection_id }
            }
            CmapEvent::ConnectionReady { connection_id, .. } => {
                PoolEvent::ConnectionReady { id: connection_id }
            }
            CmapEvent::ConnectionClosed {
                connection_id,
                reason,
                ..
            } => PoolEvent::ConnectionClosed {
                id: connection_id,
                reason,
            },
            CmapEvent::ConnectionCheckOutStarted { .. } => PoolEvent::CheckOutStarted,
            CmapEvent::ConnectionCheckOutFailed { reason, .. } => {
                PoolEvent::CheckOutFailed { reason }
            }
            CmapEvent::ConnectionCheckedOut { connection_id, .. } => {
                PoolEvent::CheckedOut { id: connection_id }
            }
            CmapEvent::ConnectionCheckedIn { connection_id, .. } => {
                PoolEvent::CheckedIn { id: connection_id }
            }
            CmapEvent::ConnectionLeakSuspected { connection_id, .. } => {
                PoolEvent::LeakSuspected { id: connection_id }
            }
            CmapEvent::ConnectionLeakReturned { connection_id, .. } => {
                PoolEvent::LeakReturned { id: connection_id }
            }
            CmapEvent::ConnectionValidating { connection_id, .. } => {
                PoolEvent::ConnectionValidating { id: connection_id }
            }
            CmapEvent::ConnectionValidated { connection_id, .. } => {
                PoolEvent::ConnectionValidated { id: connection_id }
            }
            _ => return None,
        })
    }
}

/// Receives a pool's events as they happen.
pub trait EventSink: Send + Sync {
    /// Records one event.
    fn emit(&self, event: PoolEvent);
}

/// Why a checkout failed, as the simulator classifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[non_exhaustive]
pub enum CheckoutFailure {
    /// The deadline (or the pool's wait timeout) passed.
    #[error("timed out")]
    Timeout,
    /// The pool is paused or was cleared.
    #[error("pool cleared")]
    PoolCleared,
    /// The pool is closed.
    #[error("pool closed")]
    PoolClosed,
    /// Establishing a connection failed.
    #[error("connection error: {0}")]
    Connect(String),
    /// Establishing a connection took too long.
    #[error("connect timeout")]
    ConnectTimeout,
    /// Too many checkouts queued.
    #[error("wait queue full")]
    WaitQueueFull,
    /// A granted connection was not claimed in time and was taken back.
    #[error("grant not claimed in time")]
    ClaimExpired,
    /// Anything else (e.g. a zoo pool's "pool is full").
    #[error("rejected: {0}")]
    Rejected(String),
}

impl CheckoutFailure {
    /// True for the failures CMAP attributes to the connection or the pool's state
    /// (establishment errors, clear, close), which an establishment error must produce.
    pub fn is_connection_class(&self) -> bool {
        matches!(
            self,
            CheckoutFailure::Connect(_)
                | CheckoutFailure::ConnectTimeout
                | CheckoutFailure::PoolCleared
                | CheckoutFailure::PoolClosed
        )
    }

    /// A short stable name for traces.
    pub fn name(&self) -> &'static str {
        match self {
            CheckoutFailure::Timeout => "timeout",
            CheckoutFailure::PoolCleared => "poolCleared",
            CheckoutFailure::PoolClosed => "poolClosed",
            CheckoutFailure::Connect(_) => "connect",
            CheckoutFailure::ConnectTimeout => "connectTimeout",
            CheckoutFailure::WaitQueueFull => "waitQueueFull",
            CheckoutFailure::ClaimExpired => "claimExpired",
            CheckoutFailure::Rejected(_) => "rejected",
        }
    }
}

/// A pool's own view of itself (what `Pool::status` gives for poolcheck's pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    /// pending + available + in use.
    pub total: u32,
    /// Available connections.
    pub available: u32,
    /// Establishing connections.
    pub pending: u32,
    /// Checked-out connections (including ones granted but not yet claimed).
    pub in_use: u32,
    /// True while paused.
    pub paused: bool,
    /// True once closed.
    pub closed: bool,
    /// Lifetime counters, if the pool keeps them.
    pub counters: Option<StatusCounters>,
}

impl PoolStatus {
    /// pool-core's [`pool_core::Status`] as a [`PoolStatus`] (with its lifetime
    /// counters; the wait queue and the generation are left out).
    pub fn from_status(status: &pool_core::Status) -> PoolStatus {
        let c = &status.counters;
        PoolStatus {
            total: status.total,
            available: status.available,
            pending: status.pending,
            in_use: status.in_use,
            paused: status.paused,
            closed: status.closed,
            counters: Some(StatusCounters {
                created: c.created,
                closed: c.closed,
                checked_out: c.checked_out,
                checkout_failed: c.checkout_failed,
            }),
        }
    }
}

/// Lifetime counters a pool may report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StatusCounters {
    /// Connections created.
    pub created: u64,
    /// Connections closed.
    pub closed: u64,
    /// Successful checkouts.
    pub checked_out: u64,
    /// Failed checkouts.
    pub checkout_failed: u64,
}

/// A checked-out connection, whatever pool it came from. Dropping it checks it in.
pub struct Lease {
    inner: Box<dyn LeaseInner>,
}

/// What a pool puts inside a [`Lease`]. Its `Drop` checks the connection in.
pub trait LeaseInner: Send {
    /// The connection's id in its pool.
    fn id(&self) -> ConnectionId;
    /// The connection, to run commands on.
    fn connection(&mut self) -> &mut SimConnection;
    /// Marks it errored: the pool must close it at check-in.
    fn mark_errored(&mut self);
}

impl Lease {
    /// Wraps a pool's lease.
    pub fn new(inner: Box<dyn LeaseInner>) -> Lease {
        Lease { inner }
    }

    /// The connection's id.
    pub fn id(&self) -> ConnectionId {
        self.inner.id()
    }

    /// The connection.
    pub fn connection(&mut self) -> &mut SimConnection {
        self.inner.connection()
    }

    /// Marks the connection errored.
    pub fn mark_errored(&mut self) {
        self.inner.mark_errored();
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("id", &self.id()).finish()
    }
}

/// What a pool is built from.
#[derive(Clone)]
pub struct PoolParams {
    /// CMAP options (each pool honours what it supports).
    pub options: pool_core::PoolOptions,
    /// Makes connections over the simulated network.
    pub manager: SimManager,
    /// Clock, timers and spawner.
    pub runtime: SimRuntime,
    /// Where events go.
    pub sink: Arc<dyn EventSink>,
}

/// The CMAP features a pool claims, and how it establishes connections. The oracle
/// judges a pool only on what it claims: a third-party pool that has no `maxConnecting`
/// is not failed for establishing more than `maxConnecting` connections at once.
///
/// Features a pool signals by what it reports need no flag: a pool without clear /
/// generations never reports `PoolCleared` (its [`PoolUnderTest::clear`] does nothing), so
/// the STALE and clear-sweep checks never start; a pool without CMAP-comparable counts
/// returns `None` from [`PoolUnderTest::status`], so ACCT is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    /// It bounds concurrent establishments by `maxConnecting`. If not, MAX and LIVE
    /// judge pending connections against `maxPoolSize` only.
    pub max_connecting: bool,
    /// It implements clear / ready (generations, pause, failing waiters on a clear).
    /// Informational: the oracle learns it from the `PoolCleared` events.
    pub clear: bool,
    /// Connections for waiting checkouts are established by the pool's own background
    /// tasks, not by the checkouts' tasks (bb8). LIVE then counts each pending connection
    /// as serving one waiter: a waiter starves on "the pool may create" only while more
    /// checkouts wait than connections are being established; and FIFO excuses a later
    /// checkout served with a freshly established connection while every earlier waiter
    /// still has a connection being established for it (see [`crate::oracle::fifo`]).
    pub background_establishment: bool,
    /// It clears itself (`PoolCleared`, pause, new generation) when establishing a
    /// connection fails, as CMAP asks of a failed background establishment and as a
    /// driver's server monitoring does on a handshake error. CLEAR then accepts a
    /// `PoolCleared` the harness did not ask for if, within the tolerance before it, a
    /// connect failed or was abandoned (the manager's view) or a pending connection was
    /// closed with reason `Error`. Without it, every clear must be asked for.
    pub clears_on_connect_error: bool,
    /// How much sooner than `maxIdleTime` it may close an idle connection: for a pool that
    /// maps `maxIdleTime` onto an idle timeout of its own with jitter or a coarse reaper.
    /// IDLE judges `ConnectionClosed { reason: Idle }` against `maxIdleTime` minus this.
    pub idle_close_slack: Duration,
    /// It reports connections held past `leak_detection_threshold`
    /// (`ConnectionLeakSuspected`, then `ConnectionLeakReturned` when they come back), as
    /// pool-core does. TIME then judges those reports; without it they are not expected.
    pub leak_detection: bool,
}

impl Capabilities {
    /// What CMAP asks for (poolcheck's pool): `maxConnecting`, clear / ready, connects
    /// driven by the checkouts that need them, a clear when a background establishment
    /// fails, idle connections closed no sooner than `maxIdleTime`.
    pub const CMAP: Capabilities = Capabilities {
        max_connecting: true,
        clear: true,
        background_establishment: false,
        clears_on_connect_error: true,
        idle_close_slack: Duration::ZERO,
        leak_detection: false,
    };
}

/// A pool the simulator can drive and judge.
pub trait PoolUnderTest: Send + Sync {
    /// Checks a connection out, giving up by `deadline` (virtual time).
    ///
    /// The future may be dropped at any point (the workload cancels checkouts); a
    /// correct pool loses nothing then.
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>>;

    /// Checks `lease` in (the same as dropping it).
    fn check_in(&self, lease: Lease) {
        drop(lease);
    }

    /// Clears the pool: new generation, paused, waiters failed.
    fn clear(&self, interrupt_in_use: bool);

    /// Marks the pool ready.
    fn ready(&self);

    /// Closes the pool.
    fn close(&self);

    /// The pool's own view of its counts, if it has one.
    fn status(&self) -> Option<PoolStatus>;

    /// The longest a checkout may take by the pool's own configuration, if bounded
    /// (checked by the TIME oracle on top of each checkout's deadline).
    fn checkout_bound(&self) -> Option<Duration> {
        None
    }

    /// The CMAP features it claims (the oracle judges only those).
    fn capabilities(&self) -> Capabilities {
        Capabilities::CMAP
    }
}

/// A plain function that builds a pool (what the built-in registry holds).
pub type BuildFn = fn(PoolParams) -> Result<Arc<dyn PoolUnderTest>, String>;

impl<T: PoolUnderTest + ?Sized> PoolUnderTest for Arc<T> {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        (**self).check_out(deadline)
    }

    fn check_in(&self, lease: Lease) {
        (**self).check_in(lease);
    }

    fn clear(&self, interrupt_in_use: bool) {
        (**self).clear(interrupt_in_use);
    }

    fn ready(&self) {
        (**self).ready();
    }

    fn close(&self) {
        (**self).close();
    }

    fn status(&self) -> Option<PoolStatus> {
        (**self).status()
    }

    fn checkout_bound(&self) -> Option<Duration> {
        (**self).checkout_bound()
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }
}

type BuildBox = dyn Fn(PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> + Send + Sync;

/// A named way to build a pool under test: what every run, sweep, shrink and replay is
/// given. Cheap to clone (the closure is shared).
///
/// Made from any closure `Fn(PoolParams) -> Result<P, E>` where `P` is the pool's
/// adapter and `E` says why it could not be built; the closure may capture the pool's own
/// configuration. [`Check::new`](crate::Check::new) makes one; the built-in pools are
/// made the same way (see [`crate::pools`]).
#[derive(Clone)]
pub struct PoolFactory {
    name: Arc<str>,
    build: Arc<BuildBox>,
}

impl PoolFactory {
    /// A factory called `name` that builds pools with `build`.
    pub fn new<F, P, E>(name: impl Into<String>, build: F) -> PoolFactory
    where
        F: Fn(PoolParams) -> Result<P, E> + Send + Sync + 'static,
        P: PoolUnderTest + 'static,
        E: std::fmt::Display,
    {
        let build = move |params: PoolParams| -> Result<Arc<dyn PoolUnderTest>, String> {
            match build(params) {
                Ok(pool) => Ok(Arc::new(pool)),
                Err(error) => Err(error.to_string()),
            }
        };
        PoolFactory {
            name: Arc::from(name.into()),
            build: Arc::new(build),
        }
    }

    /// The same factory under another name.
    pub fn renamed(mut self, name: impl Into<String>) -> PoolFactory {
        self.name = Arc::from(name.into());
        self
    }

    /// The pool's name (in reports and replay lines).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Builds one pool.
    ///
    /// # Errors
    /// Why the pool could not be built, as its factory said.
    pub fn build(&self, params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
        (self.build)(params)
    }
}

impl std::fmt::Debug for PoolFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolFactory")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
