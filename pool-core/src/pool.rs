//! The public pool handle: a thin facade over the engine.
//!
//! [`Pool`] holds an `Arc` of the engine and nothing else; each method forwards to one
//! engine operation (`crate::engine`, whose module docs list the invariants every
//! operation keeps) and turns the engine's answer into the public types.

use std::sync::Arc;
use std::time::Duration;

use crate::connection::{BorrowedConnection, PooledConnection};
use crate::engine::Engine;
use crate::error::{BuildError, CheckinError, CheckoutError};
use crate::event::{CmapEvent, EventHandler};
use crate::manager::Manager;
use crate::options::PoolOptions;
use crate::runtime::Runtime;
use crate::status::Status;
use crate::sync::{Backend, StdBackend};

/// A connection pool with CMAP semantics. Cheap to clone; clones share the pool.
///
/// A new pool is *paused*, as CMAP prescribes: call [`Pool::ready`] before checking out
/// (the [`PoolBuilder::ready`] shortcut does it at build time).
///
/// The second type parameter is the engine's synchronisation backend. In a default build
/// its trait is sealed (crate-private), so it always takes its default and a pool is
/// written `Pool<M>`; with the `model-check` feature, the loom models in this crate's
/// tests instantiate the same pool with a loom backend.
pub struct Pool<M: Manager, B: Backend = StdBackend> {
    pub(crate) engine: Arc<Engine<M, B>>,
}

impl<M: Manager, B: Backend> Clone for Pool<M, B> {
    fn clone(&self) -> Self {
        Pool {
            engine: self.engine.clone(),
        }
    }
}

impl<M: Manager, B: Backend> std::fmt::Debug for Pool<M, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("address", &self.engine.address)
            .field("status", &self.status())
            .finish()
    }
}

impl<M: Manager> Pool<M> {
    /// Starts building a pool over `manager`.
    pub fn builder(manager: M) -> PoolBuilder<M> {
        PoolBuilder::new(manager)
    }
}

impl<M: Manager, B: Backend> Pool<M, B> {
    /// Checks a connection out: an available one if there is one, else a new one if the
    /// limits allow, else it waits in FIFO order.
    ///
    /// # Errors
    /// [`CheckoutError::PoolClosed`], [`CheckoutError::PoolCleared`] (paused pool, or
    /// cleared while waiting), [`CheckoutError::Timeout`] (`wait_queue_timeout`),
    /// [`CheckoutError::WaitQueueFull`], or the manager's error on establishment.
    ///
    /// # Cancel safety
    /// Dropping the future at any point loses nothing: a queued checkout leaves the queue
    /// at once, a connection granted to it goes back to the pool, and an establishment in
    /// flight finishes in the background and makes its connection available.
    pub async fn check_out(&self) -> Result<PooledConnection<M, B>, CheckoutError<M::Error>> {
        // The fast path is called here and in `get`, not from a shared async fn: that one
        // more async layer cost 33 instructions and about 3 ns per checkout + check-in.
        let entry = match self.engine.check_out_now() {
            Some(entry) => entry,
            None => self.engine.check_out_slow().await?,
        };
        Ok(PooledConnection::new(self.engine.clone(), entry))
    }

    /// [`Pool::check_out`] with a guard that borrows the pool instead of owning a
    /// reference to it: the same checkout, minus the two atomic read-modify-writes of the
    /// owned guard's reference count (see [`BorrowedConnection`]). Use it whenever the
    /// connection is used within the pool's borrow, as most request handlers do; turn the
    /// guard into a [`PooledConnection`] with [`BorrowedConnection::into_owned`] when it
    /// must move into a spawned task.
    ///
    /// # Errors
    /// As [`Pool::check_out`].
    ///
    /// # Cancel safety
    /// As [`Pool::check_out`].
    pub async fn get(&self) -> Result<BorrowedConnection<'_, M, B>, CheckoutError<M::Error>> {
        let entry = match self.engine.check_out_now() {
            Some(entry) => entry,
            None => self.engine.check_out_slow().await?,
        };
        Ok(BorrowedConnection::new(&self.engine, entry))
    }

    /// Checks `conn` in explicitly (dropping it does the same).
    ///
    /// # Errors
    /// [`CheckinError::ForeignConnection`] if `conn` came from another pool; the
    /// connection then goes back to its own pool.
    pub fn check_in(&self, conn: PooledConnection<M, B>) -> Result<(), CheckinError> {
        if !Arc::ptr_eq(&self.engine, &conn.engine) {
            return Err(CheckinError::ForeignConnection { id: conn.id() });
        }
        drop(conn);
        Ok(())
    }

    /// Marks the pool ready (paused → ready) and emits `PoolReady`. Does nothing if it is
    /// ready already.
    ///
    /// # Errors
    /// [`CheckoutError::PoolClosed`] on a closed pool.
    pub fn ready(&self) -> Result<(), CheckoutError<M::Error>> {
        self.engine
            .ready()
            .map(|_| ())
            .map_err(|refusal| refusal.into_error())
    }

    /// Clears the pool: bumps the generation, pauses it, fails every queued checkout, and
    /// schedules stale connections to close. With `interrupt_in_use_connections`, pending
    /// connections of older generations are aborted and in-use ones report
    /// [`PooledConnection::is_interrupted`]. Returns the new generation.
    pub fn clear(&self, interrupt_in_use_connections: bool) -> u64 {
        self.engine.clear(interrupt_in_use_connections)
    }

    /// Closes the pool: available connections close now, in-use ones when checked in,
    /// queued checkouts fail. Idempotent.
    pub fn close(&self) {
        self.engine.close();
    }

    /// A snapshot of the pool's counts and counters.
    pub fn status(&self) -> Status {
        self.engine.status()
    }

    /// The address the pool reports in its events.
    pub fn address(&self) -> &str {
        &self.engine.address
    }

    /// The options the pool runs with.
    pub fn options(&self) -> &PoolOptions {
        &self.engine.options
    }

    /// The manager.
    pub fn manager(&self) -> &M {
        &self.engine.manager
    }

    /// Runs one pass of the claim watcher now (the loom models drive it by hand; the
    /// pool's own watcher task does this on time). Only with the `model-check` feature;
    /// not a stable API.
    #[cfg(feature = "model-check")]
    pub fn sweep_claims(&self) {
        let _ = self.engine.sweep_claims();
    }
}

/// Builds a [`Pool`].
pub struct PoolBuilder<M: Manager> {
    manager: M,
    options: PoolOptions,
    runtime: Option<Arc<dyn Runtime>>,
    events: Option<Arc<dyn EventHandler>>,
    address: Arc<str>,
    ready: bool,
}

impl<M: Manager> PoolBuilder<M> {
    fn new(manager: M) -> Self {
        PoolBuilder {
            manager,
            options: PoolOptions::default(),
            runtime: None,
            events: None,
            address: Arc::from("localhost:27017"),
            ready: false,
        }
    }

    /// Sets every option at once.
    pub fn options(mut self, options: PoolOptions) -> Self {
        self.options = options;
        self
    }

    /// `maxPoolSize` (0 = unlimited).
    pub fn max_pool_size(mut self, n: u32) -> Self {
        self.options.max_pool_size = n;
        self
    }

    /// `minPoolSize`.
    pub fn min_pool_size(mut self, n: u32) -> Self {
        self.options.min_pool_size = n;
        self
    }

    /// `maxConnecting`.
    pub fn max_connecting(mut self, n: u32) -> Self {
        self.options.max_connecting = n;
        self
    }

    /// `waitQueueTimeoutMS`.
    pub fn wait_queue_timeout(mut self, t: Option<Duration>) -> Self {
        self.options.wait_queue_timeout = t;
        self
    }

    /// `maxIdleTimeMS`.
    pub fn max_idle_time(mut self, t: Option<Duration>) -> Self {
        self.options.max_idle_time = t;
        self
    }

    /// Maximum connection lifetime and its jitter.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>, jitter: Option<Duration>) -> Self {
        self.options.max_lifetime = lifetime;
        self.options.max_lifetime_jitter = jitter;
        self
    }

    /// The background maintenance interval (`None` disables it).
    pub fn maintenance_interval(mut self, t: Option<Duration>) -> Self {
        self.options.maintenance_interval = t;
        self
    }

    /// How long a grant may wait for its checkout to claim it (`None`: for ever). See
    /// [`PoolOptions::claim_timeout`].
    pub fn claim_timeout(mut self, t: Option<Duration>) -> Self {
        self.options.claim_timeout = t;
        self
    }

    /// Reports a connection held longer than `threshold` as a possible leak (`None`, the
    /// default, turns it off); see [`PoolOptions::leak_detection_threshold`].
    pub fn leak_detection_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.options.leak_detection_threshold = threshold;
        self
    }

    /// Validates a connection that sat available past the bypass window before handing it
    /// out (default off); see [`PoolOptions::test_on_borrow`].
    pub fn test_on_borrow(mut self, on: bool) -> Self {
        self.options.test_on_borrow = on;
        self
    }

    /// How long a connection may sit available and still be handed out unvalidated
    /// (default 500 ms); see [`PoolOptions::validation_bypass`].
    pub fn validation_bypass(mut self, window: Duration) -> Self {
        self.options.validation_bypass = window;
        self
    }

    /// The address reported in events.
    pub fn address(mut self, address: impl Into<Arc<str>>) -> Self {
        self.address = address.into();
        self
    }

    /// The clock and spawner (default: the current Tokio runtime).
    pub fn runtime(mut self, runtime: Arc<dyn Runtime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Receives every CMAP event.
    pub fn event_handler(mut self, handler: impl EventHandler) -> Self {
        self.events = Some(Arc::new(handler));
        self
    }

    /// Marks the pool ready as soon as it is built.
    pub fn ready(mut self) -> Self {
        self.ready = true;
        self
    }

    /// Builds the pool.
    ///
    /// # Errors
    /// [`BuildError::Options`] for an invalid option; [`BuildError::NoRuntime`] when no
    /// runtime was given and none is current.
    pub fn build(self) -> Result<Pool<M>, BuildError> {
        self.build_on()
    }

    /// Builds the pool with backend `B` (the loom models use this). Only with the
    /// `model-check` feature.
    ///
    /// # Errors
    /// As [`PoolBuilder::build`].
    #[cfg(feature = "model-check")]
    pub fn build_with_backend<B: Backend>(self) -> Result<Pool<M, B>, BuildError> {
        self.build_on()
    }

    fn build_on<B: Backend>(self) -> Result<Pool<M, B>, BuildError> {
        self.options.validate()?;
        let runtime = match self.runtime {
            Some(r) => r,
            None => default_runtime()?,
        };
        let engine = Arc::new(Engine::new(
            self.manager,
            self.options,
            runtime,
            self.events,
            self.address,
        ));
        let options = Box::new(engine.options.clone());
        engine.emit(|address| CmapEvent::PoolCreated { address, options });
        if let Some(interval) = engine.options.maintenance_interval {
            crate::maintenance::start(&engine, interval);
        }
        if engine.options.claim_timeout.is_some() {
            crate::reclaim::start(&engine);
        }
        let pool = Pool { engine };
        if self.ready {
            let _ = pool.engine.ready();
        }
        Ok(pool)
    }
}

#[cfg(feature = "tokio")]
fn default_runtime() -> Result<Arc<dyn Runtime>, BuildError> {
    crate::runtime::TokioRuntime::current()
        .map(|r| Arc::new(r) as Arc<dyn Runtime>)
        .ok_or(BuildError::NoRuntime)
}

#[cfg(not(feature = "tokio"))]
fn default_runtime() -> Result<Arc<dyn Runtime>, BuildError> {
    Err(BuildError::NoRuntime)
}
