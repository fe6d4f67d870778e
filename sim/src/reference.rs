//! poolcheck's own pool (pool-core) behind [`PoolUnderTest`].
//!
//! pool-core has no per-call deadline: like its users, the adapter races `check_out`
//! against a sleep until the deadline and drops the checkout when the sleep wins, which
//! exercises pool-core's cancel safety. pool-core's own bound (`waitQueueTimeout` plus
//! `connectTimeout`) is declared to the TIME oracle.

use std::sync::Arc;
use std::time::Duration;

use pool_core::runtime::BoxFuture;
use pool_core::{CheckoutError, CmapEvent, Pool, PooledConnection};

use crate::manager::{SimConnection, SimManager};
use crate::pool_under_test::{
    Capabilities, CheckoutFailure, Lease, LeaseInner, PoolEvent, PoolParams, PoolStatus,
    PoolUnderTest,
};
use crate::runtime::{race, Either};

/// The reference pool's `claim_timeout` in the simulator (see `build`).
pub const CLAIM_TIMEOUT: Duration = Duration::from_micros(250);

/// The adapter.
pub struct Reference {
    pool: Pool<SimManager>,
    params: PoolParams,
}

/// Builds the reference pool (ready at once).
///
/// # Errors
/// pool-core's build error, as text.
pub fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    build_reporting(params, |_| true)
}

/// The reference pool with only the events `report` keeps reaching the simulator (a zoo
/// member drops some to show the oracle notices).
pub(crate) fn build_reporting(
    params: PoolParams,
    report: fn(&PoolEvent) -> bool,
) -> Result<Arc<dyn PoolUnderTest>, String> {
    let sink = params.sink.clone();
    let pool = Pool::builder(params.manager.clone())
        .options(params.options.clone())
        // A live task claims its grant at the same virtual instant (woken tasks run before
        // time moves), so any claim timeout tells zombies apart here; a short one keeps a
        // run of k zombies at the head of the queue (k × the timeout) within the oracle's
        // 5 ms LIVE tolerance. The default, 1 s, suits real runtimes.
        .claim_timeout(Some(CLAIM_TIMEOUT))
        .runtime(Arc::new(params.runtime.clone()))
        .event_handler(move |event: &CmapEvent| {
            if let Some(event) = PoolEvent::from_cmap(event).filter(report) {
                sink.emit(event);
            }
        })
        .ready()
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(Reference { pool, params }))
}

fn classify(error: CheckoutError<crate::manager::ConnectError>) -> CheckoutFailure {
    match error {
        CheckoutError::PoolClosed => CheckoutFailure::PoolClosed,
        CheckoutError::PoolCleared { .. } => CheckoutFailure::PoolCleared,
        CheckoutError::Timeout { .. } => CheckoutFailure::Timeout,
        CheckoutError::WaitQueueFull { .. } => CheckoutFailure::WaitQueueFull,
        CheckoutError::Connect(e) => CheckoutFailure::Connect(e.to_string()),
        CheckoutError::ConnectTimeout(_) => CheckoutFailure::ConnectTimeout,
        other => CheckoutFailure::Rejected(other.to_string()),
    }
}

struct ReferenceLease(PooledConnection<SimManager>);

impl LeaseInner for ReferenceLease {
    fn id(&self) -> u64 {
        self.0.id()
    }
    fn connection(&mut self) -> &mut SimConnection {
        &mut self.0
    }
    fn mark_errored(&mut self) {
        self.0.mark_errored();
    }
}

impl PoolUnderTest for Reference {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        let pool = self.pool.clone();
        let runtime = self.params.runtime.clone();
        Box::pin(async move {
            match race(pool.check_out(), runtime.sleep_until(deadline)).await {
                Either::Left(Ok(conn)) => Ok(Lease::new(Box::new(ReferenceLease(conn)))),
                Either::Left(Err(error)) => Err(classify(error)),
                Either::Right(()) => Err(CheckoutFailure::Timeout),
            }
        })
    }

    fn clear(&self, interrupt_in_use: bool) {
        self.pool.clear(interrupt_in_use);
    }

    fn ready(&self) {
        let _ = self.pool.ready();
    }

    fn close(&self) {
        self.pool.close();
    }

    fn status(&self) -> Option<PoolStatus> {
        Some(PoolStatus::from_status(&self.pool.status()))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            leak_detection: true,
            ..Capabilities::CMAP
        }
    }

    fn checkout_bound(&self) -> Option<Duration> {
        let o = &self.params.options;
        Some(o.wait_queue_timeout? + o.connect_timeout?)
    }
}
