//! [`checkout`]: one checkout, with its events and its deadline on virtual time.
//!
//! # State machine
//! ```text
//! first poll ── CheckOutStarted ──▶ racing the pool's future against the give-up instant
//!    ├── pool gives a connection ── CheckedOut{id} ──▶ Ok(lease)
//!    ├── pool fails ─────────────── CheckOutFailed{reason} ──▶ Err(failure)
//!    └── give-up instant passes ─── CheckOutFailed{timeout} ──▶ Err(Timeout)
//! dropped while racing: no further event (the workload cancelled it; the pool's future
//! is dropped with it, and whatever that future held is the pool's to clean up)
//! ```
//! Invariants: at most one of `CheckedOut` / `CheckOutFailed` per `CheckOutStarted`; the
//! give-up instant is the checkout's deadline or `waitQueueTimeout` after its start,
//! whichever comes first; the pool's future wins a tie with the timer.

use std::future::Future;
use std::time::Duration;

use pool_core::runtime::BoxFuture;

use super::events::{failed_reason, PoolEvents};
use crate::executor::{race, Either, SimRuntime};
use crate::pool_under_test::{CheckoutFailure, Lease, PoolEvent};

/// When a checkout that starts now with `deadline` gives up: its deadline, or
/// `wait_queue_timeout` after now if that is sooner.
pub fn give_up_at(
    runtime: &SimRuntime,
    deadline: Duration,
    wait_queue_timeout: Option<Duration>,
) -> Duration {
    match wait_queue_timeout {
        Some(wait) => deadline.min(runtime.now() + wait),
        None => deadline,
    }
}

/// Runs one checkout: emits `CheckOutStarted` when first polled, races `get` (the pool's
/// own checkout, its error already classified) against the give-up instant
/// ([`give_up_at`]) on virtual time, then turns the pool's connection into a [`Lease`]
/// with `lease` and emits `CheckedOut`, or emits `CheckOutFailed` with the CMAP reason.
///
/// This is all a [`PoolUnderTest::check_out`](crate::PoolUnderTest::check_out) needs to
/// be: the pool's own wait timeout may stay off (on virtual time the race enforces it),
/// and the adapter should declare `waitQueueTimeout` as its
/// [`checkout_bound`](crate::PoolUnderTest::checkout_bound).
pub fn checkout<T, F, L>(
    events: &PoolEvents,
    runtime: &SimRuntime,
    deadline: Duration,
    wait_queue_timeout: Option<Duration>,
    get: F,
    lease: L,
) -> BoxFuture<Result<Lease, CheckoutFailure>>
where
    T: Send + 'static,
    F: Future<Output = Result<T, CheckoutFailure>> + Send + 'static,
    L: FnOnce(T) -> Lease + Send + 'static,
{
    let events = events.clone();
    let runtime = runtime.clone();
    Box::pin(async move {
        events.emit(PoolEvent::CheckOutStarted);
        let give_up = give_up_at(&runtime, deadline, wait_queue_timeout);
        let failure = match race(get, runtime.sleep_until(give_up)).await {
            Either::Left(Ok(conn)) => {
                let lease = lease(conn);
                events.emit(PoolEvent::CheckedOut { id: lease.id() });
                return Ok(lease);
            }
            Either::Left(Err(failure)) => failure,
            Either::Right(()) => CheckoutFailure::Timeout,
        };
        events.emit(PoolEvent::CheckOutFailed {
            reason: failed_reason(&failure),
        });
        Err(failure)
    })
}
