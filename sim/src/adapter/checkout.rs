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
use crate::pool_under_test::{CheckoutFailure, Lease, PoolEvent};
use crate::runtime::{race, Either, SimRuntime};

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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use pool_core::ConnectionCheckOutFailedReason;

    use super::*;
    use crate::adapter::events::Collect;
    use crate::executor::{Budget, Executor, TaskKind};
    use crate::rng::Rng;

    /// Runs one checkout whose pool future is `get` to its end; returns its result's
    /// failure, the virtual time it ended and the events.
    fn run_checkout(
        deadline: Duration,
        wait: Option<Duration>,
        get: impl Future<Output = Result<(), CheckoutFailure>> + Send + 'static,
    ) -> (Option<CheckoutFailure>, Duration, Vec<PoolEvent>) {
        let mut executor = Executor::new(
            Rng::new(1),
            Budget {
                steps_max: 1_000,
                time_max: Duration::from_secs(10),
            },
        )
        .expect("executor");
        let runtime = executor.handle();
        let sink = Arc::new(Collect::default());
        let events = PoolEvents::from_sink(sink.clone());
        let ended = Arc::new(Mutex::new(None));
        let (slot, clock) = (ended.clone(), runtime.clone());
        let checkout = checkout(&events, &runtime, deadline, wait, get, |()| {
            unreachable!("no connection in these tests")
        });
        runtime.spawn_task(
            TaskKind::Harness,
            Box::pin(async move {
                let failure = checkout.await.err();
                *slot
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some((failure, clock.now()));
            }),
        );
        loop {
            executor.run_ready().expect("within budget");
            if !matches!(executor.advance(), Ok(crate::executor::Advance::To(_))) {
                break;
            }
        }
        let (failure, at) = ended
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .expect("the checkout ended");
        (failure, at, sink.take())
    }

    #[test]
    fn the_earlier_of_deadline_and_wait_queue_timeout_ends_a_wait() {
        let ms = Duration::from_millis;
        for (deadline, wait, end) in [(ms(50), Some(ms(10)), ms(10)), (ms(50), None, ms(50))] {
            let (failure, at, events) = run_checkout(deadline, wait, std::future::pending());
            assert_eq!((failure, at), (Some(CheckoutFailure::Timeout), end));
            assert_eq!(
                events,
                vec![
                    PoolEvent::CheckOutStarted,
                    PoolEvent::CheckOutFailed {
                        reason: ConnectionCheckOutFailedReason::Timeout
                    }
                ]
            );
        }
    }

    #[test]
    fn a_pool_failure_is_reported_with_its_cmap_reason() {
        let (failure, _, events) = run_checkout(
            Duration::from_millis(50),
            None,
            std::future::ready(Err(CheckoutFailure::PoolClosed)),
        );
        assert_eq!(failure, Some(CheckoutFailure::PoolClosed));
        assert_eq!(
            events.last(),
            Some(&PoolEvent::CheckOutFailed {
                reason: ConnectionCheckOutFailedReason::PoolClosed
            })
        );
    }
}
