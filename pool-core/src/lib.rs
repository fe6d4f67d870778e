//! # pool-core: poolcheck's lock-free CMAP reference pool
//!
//! A generic async connection pool with the full semantics of MongoDB's Connection
//! Monitoring and Pooling spec: `maxPoolSize`, `minPoolSize`, `maxConnecting`, a FIFO wait
//! queue with `waitQueueTimeout`, `maxIdleTime`, generations with clear / pause / ready /
//! close, and all eleven CMAP events. It knows nothing of MongoDB: connections come from
//! a [`Manager`], time and tasks from a [`Runtime`].
//!
//! Checkout, check-in and the hand-off to a waiter use atomics only. The engine is
//! generic over a synchronisation backend (the `sync` module, public only with the
//! `model-check` feature), so the loom models in `tests/` check the very code that runs
//! in production.
//!
//! ## Map
//! - [`pool`]: the [`Pool`] handle and its builder. Start here.
//! - [`connection`]: the [`PooledConnection`] and [`BorrowedConnection`] guards.
//! - [`manager`]: the [`Manager`] trait (make and close connections).
//! - [`options`]: [`PoolOptions`], with CMAP's names and defaults.
//! - [`event`]: the CMAP events and the [`EventHandler`] trait.
//! - [`error`]: the error enums.
//! - [`runtime`]: the clock + spawner abstraction and its Tokio implementation.
//! - [`status`]: the [`Status`] snapshot.
//! - [`wait_times`]: checkout wait-time percentiles ([`WaitTimes`], in the status).
//! - [`limits`]: every hard bound.
//! - `engine` (private): the lock-free core; its module docs list invariants I1–I8.
//!
//! ## Features
//! - `tokio` (default): [`TokioRuntime`], the Tokio clock and spawner.
//! - `fuzzing` and `model-check`: test support, off in a user's build. The first adds
//!   the sequential reference model and the fuzz checkers, the second the
//!   synchronisation-backend parameter and the hooks the loom models drive. The crate's
//!   own tests turn both on.
//!
//! ## Example
//! ```
//! use pool_core::{Manager, Pool};
//!
//! struct Numbers;
//! impl Manager for Numbers {
//!     type Connection = u64;
//!     type Error = std::io::Error;
//!     async fn connect(&self, id: u64) -> Result<u64, std::io::Error> {
//!         Ok(id * 100)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let pool = Pool::builder(Numbers).max_pool_size(4).ready().build().unwrap();
//! let conn = pool.check_out().await.unwrap();
//! assert_eq!(*conn, 100);
//! drop(conn); // checked in
//! assert_eq!(pool.status().available, 1);
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod connection;
mod engine;
pub mod error;
pub mod event;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod leak;
pub mod limits;
mod maintenance;
pub mod manager;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod options;
pub mod pool;
mod reclaim;
pub mod runtime;
pub mod status;
#[cfg(feature = "model-check")]
pub mod sync;
#[cfg(not(feature = "model-check"))]
mod sync;
pub mod wait_times;

pub use connection::{BorrowedConnection, PooledConnection};
pub use error::{BuildError, CheckinError, CheckoutError, OptionsError};
pub use event::{
    CmapEvent, ConnectionCheckOutFailedReason, ConnectionClosedReason, ConnectionId, EventHandler,
};
pub use manager::Manager;
pub use options::PoolOptions;
pub use pool::{Pool, PoolBuilder};
#[cfg(feature = "tokio")]
pub use runtime::TokioRuntime;
pub use runtime::{BoxFuture, Runtime};
pub use status::{ClosedBy, CountersSnapshot, Status};
pub use wait_times::WaitTimes;
