//! [`SimManager`]: pool-core's [`Manager`](pool_core::Manager) over the simulated network,
//! and [`SimConnection`], the connection every pool under test hands out.
//!
//! A connect is the wire client's handshake (`hello`) over a [`SimStream`] to mock-server,
//! so `failCommand` fail points on `hello` and every network fault reach the pool just as
//! a real driver would see them. The manager tells a [`ManagerObserver`] when each connect
//! starts (and which task drove it: the checkout it belongs to), how it ends, and when
//! each connection object is finally dropped. That is how the oracle knows, independently
//! of the pool's own events, which connections exist. With test-on-borrow, pool-core
//! validates a connection with a `ping` ([`SimManager`]'s `validate`).

use std::sync::Arc;

use bson::Document;
use pool_core::ConnectionId;

use crate::executor::TaskId;
use crate::net::{SimNet, SimStream};
use crate::runtime::SimRuntime;

/// How a connect ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// The handshake succeeded.
    Established,
    /// It failed with this error (refused, reset, a `hello` error).
    Failed(String),
    /// Its future was dropped first (a connect timeout, or a cancelled checkout).
    Abandoned,
}

/// Hears about every connection the manager makes.
pub trait ManagerObserver: Send + Sync {
    /// Connect `id` started, driven by `task`.
    fn connect_started(&self, id: ConnectionId, task: Option<TaskId>);
    /// Connect `id` ended.
    fn connect_finished(&self, id: ConnectionId, outcome: ConnectOutcome);
    /// Connection `id`'s object was dropped (closed by the pool, or lost).
    fn connection_dropped(&self, id: ConnectionId);
}

/// Why a connect failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The network refused or reset it.
    #[error("connect failed: {0}")]
    Io(#[from] std::io::Error),
    /// The `hello` handshake failed (an error reply, a cut connection).
    #[error("handshake failed: {0}")]
    Handshake(#[from] wire::ClientError),
    /// The `ping` that validates a connection at checkout failed (test-on-borrow).
    #[error("ping failed: {0}")]
    Ping(wire::ClientError),
}

/// A connection to the mock server, as pools under test hold them.
pub struct SimConnection {
    id: ConnectionId,
    conn: wire::Connection<SimStream>,
    _live: LiveGuard,
}

impl SimConnection {
    /// The pool's id for this connection.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// Runs `command` on database `db`.
    ///
    /// # Errors
    /// The wire client's errors (network errors mean the connection is unusable).
    pub async fn run_command(
        &mut self,
        db: &str,
        command: Document,
    ) -> Result<Document, wire::ClientError> {
        self.conn.run_command(db, command).await
    }
}

impl std::fmt::Debug for SimConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimConnection")
            .field("id", &self.id)
            .finish()
    }
}

/// Tells the observer when the connection object goes away.
struct LiveGuard {
    id: ConnectionId,
    observer: Arc<dyn ManagerObserver>,
}

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.observer.connection_dropped(self.id);
    }
}

/// Reports a connect that ends without a result as abandoned.
struct Attempt {
    id: ConnectionId,
    observer: Arc<dyn ManagerObserver>,
    settled: bool,
}

impl Attempt {
    fn settle(&mut self, outcome: ConnectOutcome) {
        self.settled = true;
        self.observer.connect_finished(self.id, outcome);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.settled {
            self.observer
                .connect_finished(self.id, ConnectOutcome::Abandoned);
        }
    }
}

/// Makes [`SimConnection`]s over a [`SimNet`]. Cheap to clone.
#[derive(Clone)]
pub struct SimManager {
    net: SimNet,
    runtime: SimRuntime,
    observer: Arc<dyn ManagerObserver>,
}

impl SimManager {
    /// A manager over `net`.
    pub fn new(net: SimNet, runtime: SimRuntime, observer: Arc<dyn ManagerObserver>) -> Self {
        SimManager {
            net,
            runtime,
            observer,
        }
    }

    /// Connects and shakes hands. No timeout of its own: pools bound it.
    ///
    /// # Errors
    /// [`ConnectError`] for a refused or reset connect or a failed handshake.
    pub async fn open(&self, id: ConnectionId) -> Result<SimConnection, ConnectError> {
        let mut attempt = Attempt {
            id,
            observer: self.observer.clone(),
            settled: false,
        };
        self.observer
            .connect_started(id, self.runtime.current_task());
        let stream = match self.net.connect(id).await {
            Ok(stream) => stream,
            Err(e) => {
                attempt.settle(ConnectOutcome::Failed(e.to_string()));
                return Err(e.into());
            }
        };
        let mut conn = wire::Connection::new(stream);
        if let Err(e) = conn.handshake(None).await {
            attempt.settle(ConnectOutcome::Failed(e.to_string()));
            return Err(e.into());
        }
        attempt.settle(ConnectOutcome::Established);
        Ok(SimConnection {
            id,
            conn,
            _live: LiveGuard {
                id,
                observer: self.observer.clone(),
            },
        })
    }
}

impl pool_core::Manager for SimManager {
    type Connection = SimConnection;
    type Error = ConnectError;

    async fn connect(&self, id: ConnectionId) -> Result<SimConnection, ConnectError> {
        self.open(id).await
    }

    /// A `ping` on the simulated wire, as `zoo-validating` does: network faults and
    /// `failCommand` fail points reach it as they would a driver's.
    async fn validate(&self, conn: &mut SimConnection) -> Result<(), ConnectError> {
        conn.run_command("admin", bson::doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(ConnectError::Ping)
    }
}
