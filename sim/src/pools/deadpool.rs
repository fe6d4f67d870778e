//! deadpool 0.12 (`deadpool::managed`) behind [`PoolUnderTest`].
//!
//! # How it runs on virtual time
//! deadpool's managed pool needs a runtime only for its own timeouts, which the adapter
//! leaves `None`: no Tokio, no threads. Its wait queue is a `tokio::sync::Semaphore`
//! (fair, FIFO, runtime-free), its slots a `std::sync::Mutex`.
//!
//! # Mapping
//! - `maxPoolSize` → `max_size`. `waitQueueTimeout` and the checkout's deadline: the
//!   adapter races `Pool::get` against a virtual-time sleep until the earlier of the two
//!   (deadpool's `timeouts.wait` would need a Tokio runtime) and declares
//!   `waitQueueTimeout` as the checkout bound.
//! - `connectTimeout`: enforced by the manager's `create` (a driver's connect timeout).
//! - `Manager::create` → [`crate::manager::SimManager::open`]; `Manager::recycle`
//!   rejects connections their user marked errored and accepts the rest without I/O (deadpool's
//!   `RecycleMethod::Fast`, the default of its database crates). An errored connection is
//!   therefore checked in, kept idle, and closed by the next checkout's recycle, which is
//!   what deadpool does.
//! - Not supported by deadpool, so not claimed ([`Capabilities`]): `maxConnecting`
//!   (every checkout holding a semaphore permit creates), clear / generations / pause
//!   (`clear` and `ready` do nothing, no `PoolCleared` is reported, so STALE and the
//!   clear sweep are not judged), minPoolSize and maxIdleTime (no background work).
//!   `status` is `None`: deadpool's `Status` counts only established objects and
//!   computes `available` as `size − users`, so it is not comparable with CMAP counts
//!   (ACCT is skipped).
//!
//! # Events
//! Derived from what deadpool does (see `pools/rival.rs`); `PoolReady` once at build
//! (a deadpool pool is usable at once) and `PoolClosed` when `Pool::close` is called.

use std::sync::Arc;
use std::time::Duration;

use ::deadpool::managed::{self, Metrics, Object, PoolError, RecycleError, RecycleResult};
use pool_core::runtime::BoxFuture;
use pool_core::ConnectionId;

use super::rival::{failed_reason, give_up_at, Factory, RivalConn, RivalError};
use crate::executor::{race, Either};
use crate::manager::SimConnection;
use crate::pool_under_test::{
    Capabilities, CheckoutFailure, Lease, LeaseInner, PoolEvent, PoolParams, PoolStatus,
    PoolUnderTest,
};

/// deadpool's manager over the simulated network.
struct DeadpoolManager {
    factory: Arc<Factory>,
}

impl managed::Manager for DeadpoolManager {
    type Type = RivalConnBox;
    type Error = RivalErrorBox;

    async fn create(&self) -> Result<RivalConnBox, RivalErrorBox> {
        self.factory
            .clone()
            .create()
            .await
            .map(RivalConnBox)
            .map_err(RivalErrorBox)
    }

    async fn recycle(&self, conn: &mut RivalConnBox, _: &Metrics) -> RecycleResult<RivalErrorBox> {
        if conn.0.is_broken() {
            Err(RecycleError::message(
                "connection marked errored by its user",
            ))
        } else {
            Ok(())
        }
    }
}

/// A connection in deadpool (a newtype so deadpool's `Manager::Type` is local).
struct RivalConnBox(RivalConn);

/// A connect error in deadpool.
#[derive(Debug)]
struct RivalErrorBox(RivalError);

/// The adapter.
pub struct Deadpool {
    pool: managed::Pool<DeadpoolManager>,
    factory: Arc<Factory>,
    params: PoolParams,
}

/// Builds a deadpool pool (ready at once).
///
/// # Errors
/// deadpool's build error, as text.
pub fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    params.options.validate().map_err(|e| e.to_string())?;
    let factory = Factory::new(&params);
    let max_size = params.options.total_max() as usize;
    let pool = managed::Pool::builder(DeadpoolManager {
        factory: factory.clone(),
    })
    .max_size(max_size)
    .build()
    .map_err(|e| e.to_string())?;
    factory.emit(PoolEvent::PoolReady);
    Ok(Arc::new(Deadpool {
        pool,
        factory,
        params,
    }))
}

fn classify(error: PoolError<RivalErrorBox>) -> CheckoutFailure {
    match error {
        PoolError::Backend(RivalErrorBox(e)) => e.failure(),
        PoolError::Closed => CheckoutFailure::PoolClosed,
        PoolError::Timeout(_) => CheckoutFailure::Timeout,
        other => CheckoutFailure::Rejected(format!("{other:?}")),
    }
}

/// Dropping it reports `CheckedIn`, then (its fields dropping) gives the object back.
struct DeadpoolLease {
    object: Object<DeadpoolManager>,
    factory: Arc<Factory>,
    id: ConnectionId,
}

impl LeaseInner for DeadpoolLease {
    fn id(&self) -> ConnectionId {
        self.id
    }

    fn connection(&mut self) -> &mut SimConnection {
        self.object.0.connection()
    }

    fn mark_errored(&mut self) {
        self.object.0.mark_broken();
    }
}

impl Drop for DeadpoolLease {
    fn drop(&mut self) {
        self.factory.emit(PoolEvent::CheckedIn { id: self.id });
    }
}

impl PoolUnderTest for Deadpool {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        let pool = self.pool.clone();
        let factory = self.factory.clone();
        let runtime = self.params.runtime.clone();
        let wait = self.params.options.wait_queue_timeout;
        Box::pin(async move {
            factory.emit(PoolEvent::CheckOutStarted);
            let give_up = give_up_at(&runtime, deadline, wait);
            let result = match race(pool.get(), runtime.sleep_until(give_up)).await {
                Either::Left(Ok(object)) => {
                    let id = object.0.id();
                    factory.emit(PoolEvent::CheckedOut { id });
                    return Ok(Lease::new(Box::new(DeadpoolLease {
                        object,
                        factory,
                        id,
                    })));
                }
                Either::Left(Err(error)) => classify(error),
                Either::Right(()) => CheckoutFailure::Timeout,
            };
            factory.emit(PoolEvent::CheckOutFailed {
                reason: failed_reason(&result),
            });
            Err(result)
        })
    }

    fn clear(&self, _interrupt_in_use: bool) {}

    fn ready(&self) {}

    fn close(&self) {
        if self.factory.is_closed() {
            return;
        }
        self.factory.mark_closed();
        self.factory.emit(PoolEvent::PoolClosed);
        self.pool.close();
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
        }
    }
}
