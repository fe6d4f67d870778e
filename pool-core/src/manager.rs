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

    /// Tears a connection down. It must not block: hand slow work to a task.
    /// The default drops the connection.
    fn close(&self, conn: Self::Connection) {
        drop(conn);
    }
}
