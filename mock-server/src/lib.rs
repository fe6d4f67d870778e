//! # mock-server: a MongoDB wire server with mongod's fail points
//!
//! An in-memory stand-in for a standalone mongod 7.0 that the Rust, Python and Node
//! drivers can use, built to test connection pools: exact `serverStatus.connections`,
//! distinct connection ids, mongod's `failCommand` fail point, and connection-level faults
//! (refused, delayed, black-holed, cut and reset connections, a connection limit, added
//! latency, restarts).
//!
//! ## Start here
//! - [`MockServer::start`] runs a server on a loopback port in the background.
//! - [`serve_connection`] serves one connection over any `AsyncRead + AsyncWrite` stream
//!   (a socket, a `tokio::io::duplex` pipe, a simulated network).
//! - [`run`] is the `mock-server` binary (and `poolcheck serve`): flags in [`Config`];
//!   it returns a [`RunOutcome`], and both binaries exit with status 1 when the judge's
//!   final verdict is FAIL.
//!   The binary and the command-line parts (`clap`, `tracing-subscriber`) need the `cli`
//!   feature (`cargo run -p mock-server --features cli -- --help`); the library alone
//!   pulls neither.
//!
//! ## Map
//! - [`server`]: [`Server`], the shared state, and [`ServerOptions`].
//! - [`connection`]: [`serve_connection`] and [`ConnectionEnd`].
//! - [`tcp`]: [`serve_tcp`] (the accept loop) and [`MockServer`].
//! - [`config`]: [`Config`], [`run`], and `init_logging` (feature `cli`).
//! - [`failpoint`]: `configureFailPoint` / `failCommand` with mongod's semantics.
//! - [`faults`]: [`Faults`], the connection-level faults and the `poolcheckFault` command.
//! - [`stats`]: [`ConnectionStats`], the counters behind `serverStatus.connections`.
//! - [`store`]: in-memory databases, collections and documents.
//! - [`query`]: filters, projections, sorts, BSON ordering.
//! - [`update`]: update operators and replacements.
//! - [`pipeline`]: aggregation stages.
//! - [`cursor`]: the bounded cursor table.
//! - [`error`]: [`CommandError`] (an `{ok: 0}` reply) and [`ServeError`].
//! - [`judge`]: the wire-side pool checker (`--judge`) and its verdict.
//! - [`limits`]: every bound.
//! - `commands` (private): dispatch by command name and the command implementations.
//!
//! ## Commands
//! `hello`/`isMaster`/`ismaster` (also as legacy OP_QUERY, answered with OP_REPLY),
//! `ping`, `buildInfo`, `serverStatus`, `endSessions`, `killAllSessions`,
//! `connectionStatus`, `whatsmyuri`, `insert`, `find`, `getMore`, `killCursors`, `update`,
//! `delete`, `count`, `aggregate`, `listCollections`, `listDatabases`, `listIndexes`,
//! `create`, `drop`, `dropDatabase`, `configureFailPoint` and `poolcheckFault` (admin);
//! with the judge on, also `poolcheckVerdict` and `poolcheckClientClosed` (admin).
//! Anything else is `{ok: 0, code: 59, codeName: "CommandNotFound"}`.
//!
//! ## Example
//! ```
//! use std::sync::Arc;
//! use bson::doc;
//! use mock_server::{serve_connection, Server, ServerOptions};
//! use wire::{read_message, write_message, Message, OpMsg, DEFAULT_MAX_MESSAGE_SIZE};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = Arc::new(Server::new(ServerOptions::default()));
//! let (mut client, stream) = tokio::io::duplex(64 * 1024);
//! tokio::spawn(serve_connection(Arc::clone(&server), stream, "test"));
//!
//! let ping = Message::Msg(OpMsg::command(doc! {"ping": 1, "$db": "admin"}));
//! write_message(&mut client, &ping, 1, 0).await.unwrap();
//! let (header, reply) = read_message(&mut client, DEFAULT_MAX_MESSAGE_SIZE).await.unwrap();
//! assert_eq!(header.response_to, 1);
//! let Message::Msg(reply) = reply else { panic!("OP_MSG expected") };
//! assert_eq!(reply.into_command().unwrap().get_f64("ok"), Ok(1.0));
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub)]

mod commands;
pub mod config;
pub mod connection;
pub mod cursor;
pub mod error;
pub mod failpoint;
pub mod faults;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod judge;
pub mod limits;
mod locks;
pub mod pipeline;
pub mod query;
pub mod server;
pub mod stats;
pub mod store;
pub mod tcp;
pub mod update;

#[cfg(feature = "cli")]
pub use config::init_logging;
pub use config::{run, run_until, Config, RunOutcome};
pub use connection::{serve_connection, ConnectionEnd};
pub use error::{CommandError, ServeError};
pub use faults::Faults;
pub use server::{Server, ServerOptions};
pub use stats::ConnectionStats;
pub use tcp::{serve_tcp, MockServer};
