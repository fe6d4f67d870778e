//! How the pool makes and closes connections.

use std::future::Future;

use crate::event::ConnectionId;

/// Makes and closes the pool's connections. The pool never does I/O itself.
///
/// `connect` runs outside every critical section of the pool and may take as long as it
/// likes; other checkouts and check-ins go on meanwhile. If the caller that caused an
/// establishment gives up, the pool lets the establishment finish and keeps the result.
pub trait Manager: Send + Sync + 'static {
    /// The connection type.
    type Connection: Send + 'static;
    /// The error `connect` returns.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Establishes a connection (connect, handshake, auth). `id` is the pool's id for it.
    fn connect(
        &self,
        id: ConnectionId,
    ) -> impl Future<Output = Result<Self::Connection, Self::Error>> + Send;

    /// Checks that a connection is still usable before a checkout gets it (a `ping`, say).
    ///
    /// Called only with [`PoolOptions::test_on_borrow`](crate::PoolOptions::test_on_borrow)
    /// on, at checkout, on a connection taken from the pool that sat available for longer
    /// than [`PoolOptions::validation_bypass`](crate::PoolOptions::validation_bypass) —
    /// never on one the checkout just established. `Err` means the connection is broken:
    /// the pool closes it (reason `error`) and the checkout takes another. The check runs
    /// on the checkout's task and counts against its `wait_queue_timeout`; if that passes
    /// first, or the checkout is dropped meanwhile, the future is dropped and the
    /// connection closed, since its wire state is unknown.
    ///
    /// The default passes at once.
    fn validate(
        &self,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = conn;
        std::future::ready(Ok(()))
    }

    /// Tears a connection down. It must not block: hand slow work to a task.
    /// The default drops the connection.
    fn close(&self, conn: Self::Connection) {
        drop(conn);
    }
}
