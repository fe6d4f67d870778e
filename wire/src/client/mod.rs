//! The client side: a [`Connection`] over any stream, and [`WireManager`] for pool-core.
//!
//! - [`connection`]: [`Connection`] (handshake, `run_command`, raw send/receive).
//! - [`hello`]: the `hello` command and [`HelloReply`].
//! - [`manager`]: [`WireManager`] / [`WireConfig`], pool-core's [`Manager`](pool_core::Manager)
//!   over TCP.

pub mod connection;
pub mod hello;
pub mod manager;

pub use connection::Connection;
pub use hello::{check_ok, hello_command, HelloReply};
pub use manager::{TcpConnection, WireConfig, WireManager};

pub use crate::error::ClientError;
