//! The wire-side pool checker ("judge"): watches the connections of each client and
//! reports broken pool invariants, with no cooperation from the client.
//!
//! Invariants, per client (driver name, appName, peer IP):
//! - WIRE-MAX: at most maxPoolSize pooled connections open at once.
//! - WIRE-CONNECTING: at most maxConnecting pooled connections in their handshake at once.
//! - WIRE-SHARED: never two requests outstanding on one connection (except `moreToCome`).
//! - WIRE-LEAK: no connection open longer than the grace after its client ended its
//!   sessions.
//! - WIRE-STALE (opt-in, `stale-grace-ms`): no connection established before an error
//!   the server sent that makes a driver clear its pool, and idle then, carries a second
//!   request more than the grace after it.
//!
//! Turn it on with [`crate::ServerOptions::judge`] (or `--judge` on the command line);
//! read it with [`crate::Server::verdict`] or the admin command `{poolcheckVerdict: 1}`.
//! Files: [`config`] (the spec), `clients` (grouping and classification), `checks` (the
//! checks), `stale` (WIRE-STALE), [`verdict`] (the findings).

mod checks;
mod clients;
pub mod config;
mod stale;
pub mod verdict;

pub use checks::Judge;
pub(crate) use checks::JudgedConnection;
pub use config::{JudgeSpec, JudgeSpecError};
pub(crate) use stale::{clearing_code, Announced, ClearCause};
pub use verdict::{Check, Verdict, Violation};
