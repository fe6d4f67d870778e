//! bb8 0.9 behind [`PoolUnderTest`], on the adapter kit.
//!
//! # How it runs on virtual time
//! bb8 is built on Tokio: `Pool::get` wraps its work in `tokio::time::timeout`, and every
//! connection is made by a task started with `tokio::spawn`, which retries failed
//! connects after a `tokio::time::sleep`. The adapter runs bb8 unmodified in a
//! [`TokioBridge`]: the pool is built, checked out from (`wrap`), checked in and dropped
//! in the bridge's context, and the manager's connects are `pumped`. The bridge ticks
//! [`Ticking::WhileTasksAlive`]: the only Tokio timer in `get` is `connection_timeout`,
//! which never fires in a run (below).
//!
//! # Mapping ([`PoolSettings`])
//! - `max_size` ← `max_size`; `min_idle` ← `min_idle()` (bb8 keeps that many *idle*
//!   connections, not that many in total).
//! - `waitQueueTimeout` and the deadline: [`adapter::checkout`]; declared as the checkout
//!   bound. `connection_timeout` is an hour: bb8 compares it with `std::time::Instant`
//!   (the wall clock) to stop retrying a failed connect; an hour never passes in a run,
//!   so bb8 always retries, as it does with its defaults within its 30 s.
//! - `connectTimeout`: [`Connector`]. `retry_connection`, `test_on_check_out`,
//!   `queue_strategy`: bb8's defaults. `is_valid` and `has_broken` check the errored mark
//!   only (no I/O): bb8 drops an errored connection at check-in.
//! - `max_lifetime`, `idle_timeout`: off (bb8's reaper measures them on the wall clock).
//! - Not in bb8, so not claimed: `maxConnecting`, clear / pause, `close` (bb8 has none:
//!   the adapter drops its handle, which is how a bb8 pool ends). `status` is `None`:
//!   bb8's `State` does not count connects in flight (ACCT is skipped).
//!   `background_establishment` is claimed: bb8's own tasks make the connections.
//!
//! # Events
//! The kit's (see [`crate::adapter`]); `PoolReady` at build, `PoolClosed` when the
//! adapter drops its handle.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ::bb8::{ManageConnection, RunError};
use pool_core::runtime::BoxFuture;

use crate::adapter::{
    self, ConnectFailure, Connector, PoolEvents, PoolSettings, PooledLease, Ticking, TokioBridge,
    TrackedConnection,
};
use crate::pool_under_test::{
    Capabilities, CheckoutFailure, Lease, PoolParams, PoolStatus, PoolUnderTest,
};

/// bb8's `connection_timeout` (see the module doc).
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(3_600);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// bb8's manager over the simulated network.
struct Manager {
    connector: Connector,
    bridge: TokioBridge,
}

impl ManageConnection for Manager {
    type Connection = TrackedConnection;
    type Error = ConnectFailure;

    fn connect(&self) -> impl Future<Output = Result<TrackedConnection, ConnectFailure>> + Send {
        self.bridge.pumped(self.connector.connect())
    }

    async fn is_valid(&self, conn: &mut TrackedConnection) -> Result<(), ConnectFailure> {
        if conn.is_errored() {
            Err(ConnectFailure::Connect(
                "connection marked errored".to_string(),
            ))
        } else {
            Ok(())
        }
    }

    fn has_broken(&self, conn: &mut TrackedConnection) -> bool {
        conn.is_errored()
    }
}

/// The adapter.
pub struct Bb8 {
    /// `None` once closed.
    pool: Mutex<Option<::bb8::Pool<Manager>>>,
    bridge: TokioBridge,
    events: PoolEvents,
    params: PoolParams,
}

/// Builds a bb8 pool (ready at once) in its Tokio bridge.
///
/// # Errors
/// An invalid option, or the bridge's runtime could not be built.
pub fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    let settings = PoolSettings::from_options(&params.options).map_err(|e| e.to_string())?;
    let bridge = TokioBridge::with_ticking(&params.runtime, Ticking::WhileTasksAlive)
        .map_err(|e| e.to_string())?;
    let events = PoolEvents::new(&params);
    events.pool_ready();
    let manager = Manager {
        connector: Connector::new(&params, &events),
        bridge: bridge.clone(),
    };
    let pool = bridge.enter(|| {
        ::bb8::Pool::builder()
            .max_size(settings.max_size)
            .min_idle(settings.min_idle())
            .max_lifetime(None)
            .idle_timeout(None)
            .connection_timeout(CONNECTION_TIMEOUT)
            .build_unchecked(manager)
    });
    Ok(Arc::new(Bb8 {
        pool: Mutex::new(Some(pool)),
        bridge,
        events,
        params,
    }))
}

fn classify(error: RunError<ConnectFailure>) -> CheckoutFailure {
    match error {
        RunError::User(e) => e.into(),
        RunError::TimedOut => CheckoutFailure::Timeout,
    }
}

impl PoolUnderTest for Bb8 {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        let pool = lock(&self.pool).clone();
        let get = pool.map(|pool| self.bridge.wrap(async move { pool.get_owned().await }));
        let (events, bridge) = (self.events.clone(), self.bridge.clone());
        adapter::checkout(
            &self.events,
            &self.params.runtime,
            deadline,
            self.params.options.wait_queue_timeout,
            async move {
                match get {
                    Some(get) => get.await.map_err(classify),
                    None => Err(CheckoutFailure::PoolClosed),
                }
            },
            move |conn| {
                Lease::new(Box::new(
                    PooledLease::new(&events, conn).dropped_in(&bridge),
                ))
            },
        )
    }

    fn clear(&self, _interrupt_in_use: bool) {}

    fn ready(&self) {}

    fn close(&self) {
        let pool = lock(&self.pool).take();
        if pool.is_some() && self.events.close() {
            self.bridge.enter(|| drop(pool));
        }
    }

    fn status(&self) -> Option<PoolStatus> {
        None
    }

    fn checkout_bound(&self) -> Option<Duration> {
        self.params.options.wait_queue_timeout
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_connecting: false,
            clear: false,
            background_establishment: true,
            clears_on_connect_error: false,
            idle_close_slack: Duration::ZERO,
            leak_detection: false,
        }
    }
}

impl Drop for Bb8 {
    fn drop(&mut self) {
        let pool = lock(&self.pool).take();
        self.bridge.enter(|| drop(pool));
    }
}
