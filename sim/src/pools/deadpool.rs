//! deadpool 0.12 (`deadpool::managed`) behind [`PoolUnderTest`], on the adapter kit.
//!
//! # How it runs on virtual time
//! deadpool's managed pool needs a runtime only for its own timeouts, which stay `None`:
//! no Tokio, no threads. Its wait queue is a `tokio::sync::Semaphore` (fair, FIFO,
//! runtime-free), its slots a `std::sync::Mutex`.
//!
//! # Mapping ([`PoolSettings`])
//! - `max_size` ← `max_size`. `waitQueueTimeout` and the deadline: [`adapter::checkout`]
//!   (deadpool's `timeouts.wait` would need a runtime); declared as the checkout bound.
//! - `connectTimeout`: [`Connector`]. `Manager::create` → [`Connector::connect`];
//!   `Manager::recycle` rejects connections marked errored and accepts the rest without
//!   I/O (deadpool's `RecycleMethod::Fast`): an errored connection is checked in, kept
//!   idle and closed by the next checkout's recycle, which is what deadpool does.
//! - Not in deadpool, so not claimed: `maxConnecting`, clear / pause (`clear`, `ready` do
//!   nothing), `minPoolSize`, `maxIdleTime`. `status` is `None`: deadpool's `Status`
//!   counts established objects only (ACCT is skipped).
//!
//! # Events
//! The kit's (see [`crate::adapter`]); `PoolReady` at build, `PoolClosed` at `close`.

use std::sync::Arc;
use std::time::Duration;

use ::deadpool::managed::{self, Metrics, PoolError, RecycleError, RecycleResult};
use pool_core::runtime::BoxFuture;

use crate::adapter::{
    self, ConnectFailure, Connector, PoolEvents, PoolSettings, PooledLease, TrackedConnection,
};
use crate::pool_under_test::{
    Capabilities, CheckoutFailure, Lease, PoolParams, PoolStatus, PoolUnderTest,
};

/// deadpool's manager over the simulated network.
struct Manager(Connector);

impl managed::Manager for Manager {
    type Type = TrackedConnection;
    type Error = ConnectFailure;

    async fn create(&self) -> Result<TrackedConnection, ConnectFailure> {
        self.0.connect().await
    }

    async fn recycle(
        &self,
        conn: &mut TrackedConnection,
        _: &Metrics,
    ) -> RecycleResult<ConnectFailure> {
        if conn.is_errored() {
            Err(RecycleError::message(
                "connection marked errored by its user",
            ))
        } else {
            Ok(())
        }
    }
}

/// The adapter.
pub struct Deadpool {
    pool: managed::Pool<Manager>,
    events: PoolEvents,
    params: PoolParams,
}

/// Builds a deadpool pool (ready at once).
///
/// # Errors
/// Invalid options, or deadpool's build error, as text.
pub fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    let settings = PoolSettings::from_options(&params.options).map_err(|e| e.to_string())?;
    let events = PoolEvents::new(&params);
    let pool = managed::Pool::builder(Manager(Connector::new(&params, &events)))
        .max_size(settings.max_size as usize)
        .build()
        .map_err(|e| e.to_string())?;
    events.pool_ready();
    Ok(Arc::new(Deadpool {
        pool,
        events,
        params,
    }))
}

fn classify(error: PoolError<ConnectFailure>) -> CheckoutFailure {
    match error {
        PoolError::Backend(e) => e.into(),
        PoolError::Closed => CheckoutFailure::PoolClosed,
        PoolError::Timeout(_) => CheckoutFailure::Timeout,
        other => CheckoutFailure::Rejected(format!("{other:?}")),
    }
}

impl PoolUnderTest for Deadpool {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        let pool = self.pool.clone();
        let events = self.events.clone();
        adapter::checkout(
            &self.events,
            &self.params.runtime,
            deadline,
            self.params.options.wait_queue_timeout,
            async move { pool.get().await.map_err(classify) },
            move |object| Lease::new(Box::new(PooledLease::new(&events, object))),
        )
    }

    fn clear(&self, _interrupt_in_use: bool) {}

    fn ready(&self) {}

    fn close(&self) {
        if self.events.close() {
            self.pool.close();
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
            background_establishment: false,
            clears_on_connect_error: false,
            idle_close_slack: Duration::ZERO,
            leak_detection: false,
        }
    }
}
