//! [`WireManager`]: pool-core's [`Manager`] for TCP connections that speak the wire protocol.

use std::time::Duration;

use pool_core::event::ConnectionId;
use pool_core::Manager;
use tokio::io::BufReader;
use tokio::net::TcpStream;

use crate::client::connection::{bounded, Connection};
use crate::error::ClientError;

/// A client connection over TCP. Reads are buffered, so a reply usually costs one read
/// call instead of two (the length prefix, then the rest); writes go straight to the
/// socket (each message is encoded into one buffer and written whole).
pub type TcpConnection = Connection<BufReader<TcpStream>>;

/// The read buffer of a [`TcpConnection`]: most replies fit in one read.
const READ_BUFFER: usize = 16 * 1024;

/// Where and how [`WireManager`] connects.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WireConfig {
    /// The server's `host:port`.
    pub address: String,
    /// Sent as `client.application.name` in the handshake (failCommand's `appName`).
    pub app_name: Option<String>,
    /// The bound on TCP connect plus handshake (CMAP `connectTimeoutMS`); zero means none.
    pub connect_timeout: Duration,
}

impl WireConfig {
    /// The drivers' default `connectTimeoutMS`.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    /// Connects to `address` (`host:port`), without an app name, within 10 s.
    pub fn new(address: impl Into<String>) -> Self {
        WireConfig {
            address: address.into(),
            app_name: None,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Sets the app name.
    pub fn app_name(mut self, name: impl Into<String>) -> Self {
        self.app_name = Some(name.into());
        self
    }

    /// Sets the connect timeout (zero: none).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// Opens TCP connections (with `TCP_NODELAY`) and runs the `hello` handshake on each.
#[derive(Debug, Clone)]
pub struct WireManager {
    config: WireConfig,
}

impl WireManager {
    /// A manager for `config`.
    pub fn new(config: WireConfig) -> Self {
        WireManager { config }
    }

    /// The configuration.
    pub fn config(&self) -> &WireConfig {
        &self.config
    }

    /// Connects and shakes hands, within the connect timeout.
    ///
    /// # Errors
    /// [`ClientError::Io`] if the socket cannot connect, [`ClientError::Timeout`] past the
    /// connect timeout, and the handshake's errors.
    pub async fn open(&self) -> Result<TcpConnection, ClientError> {
        let limit = Some(self.config.connect_timeout).filter(|t| !t.is_zero());
        bounded(limit, async {
            let stream = TcpStream::connect(&self.config.address).await?;
            stream.set_nodelay(true)?;
            let mut conn = Connection::new(BufReader::with_capacity(READ_BUFFER, stream));
            conn.handshake(self.config.app_name.as_deref()).await?;
            Ok(conn)
        })
        .await
    }
}

impl Manager for WireManager {
    type Connection = TcpConnection;
    type Error = ClientError;

    async fn connect(&self, _id: ConnectionId) -> Result<Self::Connection, Self::Error> {
        self.open().await
    }

    fn close(&self, conn: Self::Connection) {
        drop(conn);
    }
}
