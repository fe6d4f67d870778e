//! # The adapter kit: judging a pool that is not poolcheck's
//!
//! Any pool can be run by the simulator and judged by its oracles once it implements
//! [`PoolUnderTest`](crate::PoolUnderTest). This module is what such an adapter needs:
//! the contract (below), and helpers that make the contract hard to break.
//!
//! | helper | does |
//! |---|---|
//! | [`PoolEvents`] | the event sink plus the pool's closed flag |
//! | [`Connector`] | a connect over the simulated network: id, events, `connectTimeout` |
//! | [`ConnectAttempt`] | the guard behind it, for pools that connect their own way |
//! | [`TrackedConnection`] | a connection that reports `ConnectionClosed` when dropped |
//! | [`IdAllocator`] | connection ids 1, 2, 3, … |
//! | [`checkout()`] | one checkout: its events, its deadline and `waitQueueTimeout` |
//! | [`PooledLease`], [`Returning`] | a pool's guard as a [`Lease`](crate::Lease), `CheckedIn` first |
//! | [`PoolSettings`] | the seed's options mapped onto the settings pools have |
//! | [`TokioBridge`] | Tokio (`spawn`, `time`) on virtual time, for pools built on it |
//!
//! # The rules of the simulation
//! A run is one thread, one seeded scheduler and a virtual clock. A pool under test must
//! therefore use **no wall clock** (`std::time::Instant`, `SystemTime`), **no threads**
//! (`std::thread`, `spawn_blocking`, a multi-thread runtime) and **no Tokio runtime of its
//! own**. Its timers are [`SimRuntime`](crate::SimRuntime) sleeps, or Tokio timers inside a
//! [`TokioBridge`]; its tasks are [`SimRuntime::spawn_task`](crate::SimRuntime::spawn_task)
//! tasks, or `tokio::spawn` inside a [`TokioBridge`]. The bridge lifts the "no Tokio" rule
//! for `tokio::spawn`, `tokio::time::{sleep, timeout, Instant}` and `tokio::sync`
//! (which needs no runtime anyway); it cannot lift the others (see its doc).
//!
//! The executor polls every simulated task inside a Tokio context of its own, so a pool
//! that calls `tokio::spawn` without a bridge does not abort the process: its task is run
//! on virtual time by a pump the executor starts then (a millisecond late at worst).
//! That is a safety net, not a way to write adapters: build and drive such a pool
//! through a [`TokioBridge`]. The net does not reach the pool's factory (it runs outside
//! every task: build the pool in [`TokioBridge::enter`]), and a Tokio timer awaited
//! outside a Tokio task with no bridge fires only when that pump runs (late, or never if
//! no Tokio task is alive).
//!
//! # The event contract
//! The oracles judge a pool only by the [`PoolEvent`](crate::PoolEvent)s it reports, its
//! [`PoolStatus`](crate::PoolStatus) and what the simulated network sees. Report each
//! event when the pool *does* the thing, in the order it does them:
//!
//! | event | when | helper |
//! |---|---|---|
//! | `PoolReady` | at build, for a pool that has no pause (most); else when it becomes ready | [`PoolEvents::pool_ready`] |
//! | `PoolCleared` | when it clears (only pools with generations; others never report it, and the STALE and clear checks do not start) | — |
//! | `PoolClosed` | once, when it is closed; connections dropped from then on close with reason `poolClosed` | [`PoolEvents::close`] |
//! | `ConnectionCreated` | when the pool starts a connect (before any I/O) | [`ConnectAttempt::start`] |
//! | `ConnectionReady` | when the connect succeeded | [`ConnectAttempt::established`] |
//! | `ConnectionClosed` | when a connection leaves the pool for good, **and** when a connect fails or its future is dropped (reason `error`): every `ConnectionCreated` ends in exactly one `ConnectionReady` or `ConnectionClosed` | [`ConnectAttempt`] (its `Drop`), [`TrackedConnection`] (its `Drop`) |
//! | `CheckOutStarted` | when a checkout begins | [`checkout()`] |
//! | `CheckedOut` | when the checkout gets its connection | [`checkout()`] |
//! | `CheckOutFailed` | when it fails: reason `timeout`, `poolClosed` or `connectionError` (anything else) | [`checkout()`] |
//! | `CheckedIn` | when the user gives a connection back, **before** the pool can hand it out again | [`PooledLease`] (its `Drop`) |
//!
//! A checkout future the workload drops (a cancelled checkout) reports nothing more; the
//! pool must lose nothing then (a permit, a slot, a connection), which is what LEAK and
//! LIVE judge.
//!
//! [`PoolUnderTest::status`](crate::PoolUnderTest::status) returning `None` means the pool
//! has no counts comparable with CMAP's (pending + available + in use): the ACCT check is
//! skipped. [`PoolUnderTest::clear`](crate::PoolUnderTest::clear) and `ready` may do
//! nothing for a pool without clear.
//!
//! # Capabilities
//! [`PoolUnderTest::capabilities`](crate::PoolUnderTest::capabilities) says which CMAP
//! features the pool claims ([`Capabilities`](crate::pool_under_test::Capabilities)); the
//! oracle judges only those. `max_connecting: false` for a pool with no bound on
//! concurrent connects (MAX and LIVE then judge pending connections against the pool's
//! size only); `clear: false` for a pool without clear; `background_establishment: true`
//! for a pool whose own tasks establish the connections that waiting checkouts get (LIVE
//! then counts each pending connect as serving one waiter).
//!
//! # Example: a pool written on the kit
//! A semaphore, a list of idle connections, connects in the caller's task:
//! ```
//! use std::sync::{Arc, Mutex, PoisonError};
//! use std::time::Duration;
//!
//! use pool_core::runtime::BoxFuture;
//! use sim::adapter::{self, Connector, PoolEvents, PoolSettings, PooledLease, Returning, TrackedConnection};
//! use sim::pool_under_test::{Capabilities, PoolParams};
//! use sim::{CheckoutFailure, Lease, PoolStatus, PoolUnderTest};
//! use tokio::sync::Semaphore;
//!
//! struct Tiny {
//!     idle: Arc<Mutex<Vec<TrackedConnection>>>,
//!     permits: Arc<Semaphore>,
//!     connector: Connector,
//!     events: PoolEvents,
//!     params: PoolParams,
//! }
//!
//! fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
//!     let settings = PoolSettings::from_options(&params.options).map_err(|e| e.to_string())?;
//!     let events = PoolEvents::new(&params);
//!     events.pool_ready();
//!     Ok(Arc::new(Tiny {
//!         idle: Arc::default(),
//!         permits: Arc::new(Semaphore::new(settings.max_size as usize)),
//!         connector: Connector::new(&params, &events),
//!         events,
//!         params,
//!     }))
//! }
//!
//! impl PoolUnderTest for Tiny {
//!     fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
//!         let (idle, permits) = (self.idle.clone(), self.permits.clone());
//!         let (connector, events) = (self.connector.clone(), self.events.clone());
//!         let get = async move {
//!             let permit = permits.acquire_owned().await.map_err(|_| CheckoutFailure::PoolClosed)?;
//!             let reused = idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
//!             let conn = match reused {
//!                 Some(conn) => conn,
//!                 None => connector.connect().await?,
//!             };
//!             let events = connector.events().clone();
//!             Ok(Returning::new(conn, move |conn| {
//!                 // An errored connection, or any after close, is dropped: it reports
//!                 // its own `ConnectionClosed`.
//!                 if !conn.is_errored() && !events.is_closed() {
//!                     idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
//!                 }
//!                 drop(permit);
//!             }))
//!         };
//!         let wait = self.params.options.wait_queue_timeout;
//!         adapter::checkout(&self.events, &self.params.runtime, deadline, wait, get, move |handle| {
//!             Lease::new(Box::new(PooledLease::new(&events, handle)))
//!         })
//!     }
//!
//!     fn clear(&self, _interrupt_in_use: bool) {}
//!
//!     fn ready(&self) {}
//!
//!     fn close(&self) {
//!         if self.events.close() {
//!             self.permits.close();
//!             self.idle.lock().unwrap_or_else(PoisonError::into_inner).clear();
//!         }
//!     }
//!
//!     fn status(&self) -> Option<PoolStatus> {
//!         None
//!     }
//!
//!     fn checkout_bound(&self) -> Option<Duration> {
//!         self.params.options.wait_queue_timeout
//!     }
//!
//!     fn capabilities(&self) -> Capabilities {
//!         Capabilities { max_connecting: false, clear: false, ..Capabilities::CMAP }
//!     }
//! }
//! # let _: sim::BuildFn = build;
//! ```
//! `sim/tests/adapter_kit.rs` runs a pool like this one, built on Tokio, through the
//! simulator; `sim/src/pools/deadpool.rs` and `bb8.rs` adapt two published pools.

mod checkout;
mod connect;
mod connection;
mod error;
mod events;
mod ids;
mod lease;
mod settings;
mod tokio_bridge;

pub use crate::pump::Ticking;
pub use checkout::{checkout, give_up_at};
pub use connect::{ConnectAttempt, ConnectFailure, Connector};
pub use connection::TrackedConnection;
pub use error::AdapterError;
pub use events::{failed_reason, PoolEvents};
pub use ids::IdAllocator;
pub use lease::{PooledLease, Returning};
pub use settings::PoolSettings;
pub use tokio_bridge::{InBridge, Pumped, TokioBridge};
