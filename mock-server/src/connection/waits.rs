//! What a connection waits on besides its timer while it holds a request: a restart of
//! the server and the client's hang-up.

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader, ReadHalf};
use tokio::sync::watch;

use super::ConnectionEnd;

/// Resolves when the client hangs up (or its socket fails) while the connection waits
/// before a reply, so the connection ends, and is counted as closed, when the client
/// closed it, not when the wait is over. A further request already arriving pends it for
/// good: that request waits its turn, as in mongod.
pub(super) async fn hung_up<R: AsyncRead>(reader: &mut BufReader<ReadHalf<R>>) -> ConnectionEnd {
    match reader.fill_buf().await {
        Ok([]) => ConnectionEnd::ClientClosed,
        Ok(_) => std::future::pending().await,
        Err(err) => ConnectionEnd::Io(err.to_string()),
    }
}

/// Waits until the server restarts. (The sender lives as long as the server, so a closed
/// channel cannot happen; it would simply never fire.)
pub(super) async fn restarted(restarts: &mut watch::Receiver<u64>) {
    if restarts.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}
