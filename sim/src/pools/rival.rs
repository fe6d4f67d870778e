//! What the rival adapters ([`super::deadpool`], [`super::bb8`]) share: connections that
//! report their own life cycle, and the checkout's events and deadline.
//!
//! Neither rival reports CMAP events, so the adapters derive them from what the rival
//! visibly does, and only that: `ConnectionCreated` when the rival asks its manager for a
//! connection, `ConnectionReady` when the manager hands one over, `ConnectionClosed` when
//! the rival drops a connection (or a connect it asked for fails or is abandoned),
//! `CheckOutStarted` / `CheckedOut` / `CheckOutFailed` around the rival's `get`, and
//! `CheckedIn` when the user gives the connection back.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pool_core::{ConnectionCheckOutFailedReason, ConnectionClosedReason, ConnectionId};

use crate::executor::{race, Either, SimRuntime};
use crate::manager::{SimConnection, SimManager};
use crate::pool_under_test::{CheckoutFailure, EventSink, PoolEvent, PoolParams};

/// Why a rival's manager could not make a connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RivalError {
    /// The connect or the handshake failed.
    #[error("{0}")]
    Connect(String),
    /// The connect took longer than `connectTimeout`.
    #[error("connect timed out")]
    ConnectTimeout,
}

impl RivalError {
    /// The checkout failure it causes.
    pub(crate) fn failure(&self) -> CheckoutFailure {
        match self {
            RivalError::Connect(message) => CheckoutFailure::Connect(message.clone()),
            RivalError::ConnectTimeout => CheckoutFailure::ConnectTimeout,
        }
    }
}

/// The connection factory a rival's manager wraps: ids, events, `connectTimeout`.
pub(crate) struct Factory {
    manager: SimManager,
    runtime: SimRuntime,
    sink: Arc<dyn EventSink>,
    next_id: AtomicU64,
    connect_timeout: Option<Duration>,
    closed: AtomicBool,
}

impl Factory {
    pub(crate) fn new(params: &PoolParams) -> Arc<Factory> {
        Arc::new(Factory {
            manager: params.manager.clone(),
            runtime: params.runtime.clone(),
            sink: params.sink.clone(),
            next_id: AtomicU64::new(0),
            connect_timeout: params.options.connect_timeout,
            closed: AtomicBool::new(false),
        })
    }

    pub(crate) fn emit(&self, event: PoolEvent) {
        self.sink.emit(event);
    }

    /// From now on, connections the rival drops were closed with the pool.
    pub(crate) fn mark_closed(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Makes one connection (the rival's `create` / `connect`), bounded by
    /// `connectTimeout` as a driver's connect would be.
    pub(crate) async fn create(self: Arc<Self>) -> Result<RivalConn, RivalError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        self.emit(PoolEvent::ConnectionCreated { id });
        let mut attempt = Attempt {
            id,
            factory: self.clone(),
            settled: false,
        };
        let open = self.manager.open(id);
        let result = match self.connect_timeout {
            Some(limit) => match race(open, self.runtime.sleep(limit)).await {
                Either::Left(result) => result.map_err(|e| RivalError::Connect(e.to_string())),
                Either::Right(()) => Err(RivalError::ConnectTimeout),
            },
            None => open.await.map_err(|e| RivalError::Connect(e.to_string())),
        };
        attempt.settled = true;
        match result {
            Ok(conn) => {
                self.emit(PoolEvent::ConnectionReady { id });
                Ok(RivalConn {
                    conn,
                    id,
                    broken: false,
                    factory: self.clone(),
                })
            }
            Err(error) => {
                self.emit(PoolEvent::ConnectionClosed {
                    id,
                    reason: ConnectionClosedReason::Error,
                });
                Err(error)
            }
        }
    }
}

/// Reports a connect whose future the rival dropped as closed.
struct Attempt {
    id: ConnectionId,
    factory: Arc<Factory>,
    settled: bool,
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.settled {
            self.factory.emit(PoolEvent::ConnectionClosed {
                id: self.id,
                reason: ConnectionClosedReason::Error,
            });
        }
    }
}

/// A connection as a rival holds it. Dropping it (whoever does) reports
/// `ConnectionClosed` just before the connection itself goes.
pub(crate) struct RivalConn {
    conn: SimConnection,
    id: ConnectionId,
    /// Its user marked it errored (the rival's health check then rejects it).
    broken: bool,
    factory: Arc<Factory>,
}

impl RivalConn {
    pub(crate) fn id(&self) -> ConnectionId {
        self.id
    }

    pub(crate) fn connection(&mut self) -> &mut SimConnection {
        &mut self.conn
    }

    pub(crate) fn mark_broken(&mut self) {
        self.broken = true;
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }
}

impl Drop for RivalConn {
    fn drop(&mut self) {
        let reason = if self.broken {
            ConnectionClosedReason::Error
        } else if self.factory.is_closed() {
            ConnectionClosedReason::PoolClosed
        } else {
            // Neither rival drops a healthy connection of an open pool with the options
            // the adapters set; should it happen, it is reported, not hidden.
            ConnectionClosedReason::Error
        };
        self.factory.emit(PoolEvent::ConnectionClosed {
            id: self.id,
            reason,
        });
    }
}

/// The CMAP reason for a checkout failure.
pub(crate) fn failed_reason(failure: &CheckoutFailure) -> ConnectionCheckOutFailedReason {
    match failure {
        CheckoutFailure::Timeout => ConnectionCheckOutFailedReason::Timeout,
        CheckoutFailure::PoolClosed => ConnectionCheckOutFailedReason::PoolClosed,
        _ => ConnectionCheckOutFailedReason::ConnectionError,
    }
}

/// When a checkout that began now with `deadline` gives up: its deadline, or
/// `waitQueueTimeout` after now if that is sooner (the adapters enforce it: neither rival
/// can, on virtual time).
pub(crate) fn give_up_at(
    runtime: &SimRuntime,
    deadline: Duration,
    wait_queue_timeout: Option<Duration>,
) -> Duration {
    match wait_queue_timeout {
        Some(wait) => deadline.min(runtime.now() + wait),
        None => deadline,
    }
}
