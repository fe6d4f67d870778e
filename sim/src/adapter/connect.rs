//! Establishing connections: [`ConnectAttempt`] (the guard) and [`Connector`] (the
//! whole connect, for a pool's manager to call).
//!
//! # State machine of an attempt
//! ```text
//! start() ── ConnectionCreated ──▶ pending ──established()── ConnectionReady ──▶ TrackedConnection
//!                                     │
//!                                     └── failed() or dropped ── ConnectionClosed{error}
//! ```
//! Invariants: every `ConnectionCreated` is followed by exactly one of `ConnectionReady`
//! or `ConnectionClosed{error}`, whatever happens to the future that drives the attempt
//! (a pool's connect timeout, a cancelled checkout, a Tokio task dropped at shutdown):
//! the guard's `Drop` reports an abandoned attempt.

use std::future::Future;
use std::time::Duration;

use pool_core::{ConnectionClosedReason, ConnectionId};

use super::connection::TrackedConnection;
use super::events::PoolEvents;
use super::ids::IdAllocator;
use crate::manager::{SimConnection, SimManager};
use crate::pool_under_test::{CheckoutFailure, PoolEvent, PoolParams};
use crate::runtime::{race, Either, SimRuntime};

/// Why a connect failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// The network refused or reset it, or the handshake failed.
    #[error("{0}")]
    Connect(String),
    /// It took longer than `connectTimeout`.
    #[error("connect timed out")]
    ConnectTimeout,
}

impl ConnectFailure {
    /// The checkout failure it causes.
    pub fn failure(&self) -> CheckoutFailure {
        match self {
            ConnectFailure::Connect(message) => CheckoutFailure::Connect(message.clone()),
            ConnectFailure::ConnectTimeout => CheckoutFailure::ConnectTimeout,
        }
    }
}

impl From<ConnectFailure> for CheckoutFailure {
    fn from(failure: ConnectFailure) -> CheckoutFailure {
        failure.failure()
    }
}

/// One connection being established. Emits `ConnectionCreated` when started and
/// guarantees the attempt's end is reported (see the module doc).
#[must_use = "dropping the attempt reports it failed"]
#[derive(Debug)]
pub struct ConnectAttempt {
    id: ConnectionId,
    events: PoolEvents,
    settled: bool,
}

impl ConnectAttempt {
    /// Starts attempt `id`: emits `ConnectionCreated`.
    pub fn start(events: &PoolEvents, id: ConnectionId) -> ConnectAttempt {
        events.emit(PoolEvent::ConnectionCreated { id });
        ConnectAttempt {
            id,
            events: events.clone(),
            settled: false,
        }
    }

    /// The attempt's connection id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The connect succeeded: emits `ConnectionReady` and tracks the connection.
    pub fn established(mut self, conn: SimConnection) -> TrackedConnection {
        self.settled = true;
        self.events.emit(PoolEvent::ConnectionReady { id: self.id });
        TrackedConnection::new(conn, self.id, self.events.clone())
    }

    /// The connect failed: emits `ConnectionClosed{error}` (as dropping would).
    pub fn failed(self) {}
}

impl Drop for ConnectAttempt {
    fn drop(&mut self) {
        if !self.settled {
            self.events.emit(PoolEvent::ConnectionClosed {
                id: self.id,
                reason: ConnectionClosedReason::Error,
            });
        }
    }
}

/// Makes tracked connections over the simulated network: ids, events and
/// `connectTimeout` (as a driver's connect would bound itself). Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    manager: SimManager,
    runtime: SimRuntime,
    events: PoolEvents,
    ids: IdAllocator,
    connect_timeout: Option<Duration>,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// The connector of the pool built from `params`, reporting to `events`.
    pub fn new(params: &PoolParams, events: &PoolEvents) -> Connector {
        Connector {
            manager: params.manager.clone(),
            runtime: params.runtime.clone(),
            events: events.clone(),
            ids: IdAllocator::new(),
            connect_timeout: params.options.connect_timeout,
        }
    }

    /// The events it reports to.
    pub fn events(&self) -> &PoolEvents {
        &self.events
    }

    /// Makes one connection: allocates its id and starts its [`ConnectAttempt`] when
    /// first polled, then connects and shakes hands, giving up after `connectTimeout`.
    /// The future owns what it needs (it may be spawned or handed to a pool).
    pub fn connect(
        &self,
    ) -> impl Future<Output = Result<TrackedConnection, ConnectFailure>> + Send + 'static {
        let this = self.clone();
        async move {
            let attempt = ConnectAttempt::start(&this.events, this.ids.next_id());
            let open = this.manager.open(attempt.id());
            let result = match this.connect_timeout {
                Some(limit) => match race(open, this.runtime.sleep(limit)).await {
                    Either::Left(result) => {
                        result.map_err(|e| ConnectFailure::Connect(e.to_string()))
                    }
                    Either::Right(()) => Err(ConnectFailure::ConnectTimeout),
                },
                None => open
                    .await
                    .map_err(|e| ConnectFailure::Connect(e.to_string())),
            };
            match result {
                Ok(conn) => Ok(attempt.established(conn)),
                Err(failure) => {
                    attempt.failed();
                    Err(failure)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::adapter::events::Collect;

    #[test]
    fn an_attempt_that_fails_or_is_dropped_reports_closed() {
        let sink = Arc::new(Collect::default());
        let events = PoolEvents::from_sink(sink.clone());
        ConnectAttempt::start(&events, 1).failed();
        let abandoned = ConnectAttempt::start(&events, 2);
        drop(abandoned);
        let closed = |id| PoolEvent::ConnectionClosed {
            id,
            reason: ConnectionClosedReason::Error,
        };
        assert_eq!(
            sink.take(),
            vec![
                PoolEvent::ConnectionCreated { id: 1 },
                closed(1),
                PoolEvent::ConnectionCreated { id: 2 },
                closed(2),
            ]
        );
    }
}
