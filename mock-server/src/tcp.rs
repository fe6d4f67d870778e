//! Serving TCP: the accept loop ([`serve_tcp`]) and a handle to a server running in the
//! background ([`MockServer`]).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use crate::connection::serve_connection;
use crate::server::{Server, ServerOptions};

/// Accepts TCP connections until `shutdown` completes, serving each on its own task with
/// `TCP_NODELAY` set. Accept-level faults (refuse, delay, connection limit) are applied by
/// [`serve_connection`]. On shutdown every connection task is stopped and awaited, so the
/// counters are back to zero when this returns.
///
/// Accept errors (for example running out of file descriptors) are logged and retried
/// after a pause that doubles from 10 ms up to 1 s, so the loop never spins.
pub async fn serve_tcp<F>(server: Arc<Server>, listener: TcpListener, shutdown: F)
where
    F: Future<Output = ()>,
{
    let mut tasks = JoinSet::new();
    let mut backoff = ACCEPT_BACKOFF_MIN;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff = ACCEPT_BACKOFF_MIN;
                    if let Err(err) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, %err, "cannot set TCP_NODELAY");
                    }
                    tasks.spawn(serve_connection(Arc::clone(&server), stream, peer));
                }
                Err(err) => {
                    tracing::warn!(%err, ?backoff, "accept failed; pausing");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                }
            },
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    tracing::info!("stopped accepting; all connections closed");
}

/// A mock server running on a background task, for tests and embedding.
///
/// # Examples
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use mock_server::{MockServer, ServerOptions};
///
/// let mock = MockServer::start(ServerOptions::default(), "127.0.0.1:0").await?;
/// assert!(mock.addr().port() > 0);
/// assert_eq!(mock.server().connection_stats().current, 0);
/// mock.shutdown().await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MockServer {
    server: Arc<Server>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl MockServer {
    /// Binds `addr` (port 0 picks a free port) and serves in the background.
    ///
    /// # Errors
    /// If the address cannot be bound.
    pub async fn start(options: ServerOptions, addr: &str) -> io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let server = Arc::new(Server::new(options));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_tcp(Arc::clone(&server), listener, async {
            // A dropped sender also stops the server.
            let _ = stopped.await;
        }));
        Ok(MockServer {
            server,
            addr,
            stop: Some(stop),
            task,
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (fail points, faults, data, counters).
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// Stops accepting, closes every connection and waits for the tasks to finish.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(err) = (&mut self.task).await {
            tracing::warn!(%err, "mock server task ended abnormally");
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // Dropping without `shutdown` still stops the background task.
        self.task.abort();
    }
}

const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
