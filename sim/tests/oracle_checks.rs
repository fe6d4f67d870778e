//! Goal: the checks added to the oracle fire on the pattern they name and stay quiet on
//! the correct variant of it, and a run can keep every violation.
//!
//! Method: small hand-written observation sequences fed to [`Oracle`] (and one to a
//! [`Recorder`]), each asserting the verdict; the zoo (`bug_zoo.rs`) proves the same
//! checks catch whole broken pools.

use std::time::Duration;

use pool_core::ConnectionClosedReason;
use sim::executor::{Budget, Executor, TaskId};
use sim::manager::ConnectOutcome;
use sim::oracle::{CheckoutOutcome, Invariant, Oracle, OracleConfig};
use sim::pool_under_test::Capabilities;
use sim::recorder::Recorder;
use sim::rng::Rng;
use sim::PoolEvent;

const MS: Duration = Duration::from_millis(1);

fn oracle(config: OracleConfig) -> Oracle {
    let mut o = Oracle::new(config);
    o.set_clear_requests_reported(true);
    o.pool_event(Duration::ZERO, &PoolEvent::PoolReady);
    o
}

fn invariants(o: &Oracle) -> Vec<Invariant> {
    o.violations().iter().map(|v| v.invariant).collect()
}

#[test]
fn clear_asked_for_is_fine_and_unasked_is_clear() {
    let mut o = oracle(OracleConfig::default());
    o.clear_requested(10 * MS);
    o.pool_event(10 * MS, &PoolEvent::PoolCleared { interrupt: false });
    o.pool_event(20 * MS, &PoolEvent::PoolReady);
    assert!(o.violations().is_empty(), "{:?}", o.violations());
    o.pool_event(100 * MS, &PoolEvent::PoolCleared { interrupt: false });
    assert_eq!(invariants(&o), [Invariant::Clear]);
}

#[test]
fn clear_after_a_connect_failure_needs_the_capability() {
    for declared in [false, true] {
        let mut o = oracle(OracleConfig::default());
        o.set_capabilities(Capabilities {
            clears_on_connect_error: declared,
            ..Capabilities::CMAP
        });
        o.connect_started(10 * MS, 1, None);
        o.connect_finished(12 * MS, 1, &ConnectOutcome::Failed("refused".into()));
        o.pool_event(12 * MS, &PoolEvent::PoolCleared { interrupt: false });
        let expected: &[Invariant] = if declared { &[] } else { &[Invariant::Clear] };
        assert_eq!(invariants(&o), expected, "declared: {declared}");
    }
}

#[test]
fn checkouts_failed_by_an_unasked_pause_are_unjustified() {
    let mut o = oracle(OracleConfig::default());
    o.pool_event(10 * MS, &PoolEvent::PoolCleared { interrupt: false });
    let k = o.checkout_began(11 * MS, Some(TaskId(1)), Duration::from_secs(5));
    o.checkout_ended(
        11 * MS,
        k,
        &CheckoutOutcome::Failed(sim::CheckoutFailure::PoolCleared),
    );
    assert_eq!(invariants(&o), [Invariant::Clear, Invariant::Err]);
}

fn idle_close(config: OracleConfig, available_for: Duration) -> Vec<Invariant> {
    let mut o = oracle(config);
    o.pool_event(Duration::ZERO, &PoolEvent::ConnectionCreated { id: 1 });
    o.pool_event(MS, &PoolEvent::ConnectionReady { id: 1 });
    o.pool_event(
        MS + available_for,
        &PoolEvent::ConnectionClosed {
            id: 1,
            reason: ConnectionClosedReason::Idle,
        },
    );
    invariants(&o)
}

#[test]
fn idle_closed_too_soon_is_idle() {
    let config = OracleConfig {
        max_idle_time: Some(Duration::from_secs(1)),
        ..OracleConfig::default()
    };
    assert_eq!(
        idle_close(config, Duration::from_millis(500)),
        [Invariant::Idle]
    );
    assert!(idle_close(config, Duration::from_millis(1001)).is_empty());
    // Without maxIdleTime nothing is ever idle for too long.
    let none = OracleConfig {
        max_idle_time: None,
        ..OracleConfig::default()
    };
    assert_eq!(
        idle_close(none, Duration::from_secs(100)),
        [Invariant::Idle]
    );
}

#[test]
fn expired_before_lifetime_minus_jitter_is_idle() {
    let config = OracleConfig {
        max_lifetime: Some(Duration::from_secs(10)),
        max_lifetime_jitter: Some(Duration::from_secs(2)),
        ..OracleConfig::default()
    };
    for (age, bad) in [(7, true), (9, false), (11, false)] {
        let mut o = oracle(config);
        o.pool_event(Duration::ZERO, &PoolEvent::ConnectionCreated { id: 1 });
        o.pool_event(MS, &PoolEvent::ConnectionReady { id: 1 });
        o.pool_event(
            Duration::from_secs(age),
            &PoolEvent::ConnectionClosed {
                id: 1,
                reason: ConnectionClosedReason::Expired,
            },
        );
        assert_eq!(
            !o.violations().is_empty(),
            bad,
            "age {age}: {:?}",
            o.violations()
        );
    }
}

/// Two waiters, each with a background connect in flight; the later one's connect
/// finishes first and serves it. Excused only with background establishment, only for a
/// fresh connection, only while the earlier waiter still has a connect in flight.
fn overtake(background: bool, fresh: bool, earlier_covered: bool) -> Vec<Invariant> {
    let mut o = oracle(OracleConfig::default());
    o.set_capabilities(Capabilities {
        background_establishment: background,
        ..Capabilities::CMAP
    });
    if !fresh {
        // Connection 9 was in use and comes back.
        o.pool_event(Duration::ZERO, &PoolEvent::ConnectionCreated { id: 9 });
        o.pool_event(Duration::ZERO, &PoolEvent::ConnectionReady { id: 9 });
        o.pool_event(Duration::ZERO, &PoolEvent::CheckedOut { id: 9 });
    }
    let j = o.checkout_began(MS, Some(TaskId(1)), Duration::from_secs(5));
    let k = o.checkout_began(2 * MS, Some(TaskId(2)), Duration::from_secs(5));
    for id in [1, 2] {
        o.pool_event(2 * MS, &PoolEvent::ConnectionCreated { id });
        o.connect_started(2 * MS, id, None);
    }
    let got = if fresh {
        o.connect_finished(3 * MS, 2, &ConnectOutcome::Established);
        o.pool_event(3 * MS, &PoolEvent::ConnectionReady { id: 2 });
        2
    } else {
        o.pool_event(3 * MS, &PoolEvent::CheckedIn { id: 9 });
        9
    };
    if !earlier_covered {
        o.connect_finished(3 * MS, 1, &ConnectOutcome::Failed("refused".into()));
        o.pool_event(
            3 * MS,
            &PoolEvent::ConnectionClosed {
                id: 1,
                reason: ConnectionClosedReason::Error,
            },
        );
    }
    o.pool_event(3 * MS, &PoolEvent::CheckedOut { id: got });
    o.checkout_ended(3 * MS, k, &CheckoutOutcome::Ok(got));
    o.stable(3 * MS, None);
    assert!(o.outstanding() == 1 && j < k);
    invariants(&o)
        .into_iter()
        .filter(|i| *i == Invariant::Fifo)
        .collect()
}

#[test]
fn fifo_excuses_only_connect_completion_order() {
    assert!(overtake(true, true, true).is_empty());
    assert_eq!(overtake(false, true, true), [Invariant::Fifo]);
    assert_eq!(overtake(true, false, true), [Invariant::Fifo]);
    assert_eq!(overtake(true, true, false), [Invariant::Fifo]);
}

#[test]
fn a_validating_connection_is_not_available_and_its_checkout_not_waiting() {
    let mut o = oracle(OracleConfig {
        max_total: 1,
        ..OracleConfig::default()
    });
    o.pool_event(Duration::ZERO, &PoolEvent::ConnectionCreated { id: 1 });
    o.pool_event(Duration::ZERO, &PoolEvent::ConnectionReady { id: 1 });
    let k = o.checkout_began(MS, Some(TaskId(1)), Duration::from_secs(5));
    o.pool_event_from(
        MS,
        Some(TaskId(1)),
        &PoolEvent::ConnectionValidating { id: 1 },
    );
    // The ping takes 50 ms: no LIVE (nothing available, the checkout is not waiting).
    for t in 1..50 {
        o.stable(t * MS, None);
        o.before_advance(t * MS, (t + 1) * MS);
    }
    o.pool_event(50 * MS, &PoolEvent::CheckedOut { id: 1 });
    o.checkout_ended(50 * MS, k, &CheckoutOutcome::Ok(1));
    o.stable(50 * MS, None);
    assert!(o.violations().is_empty(), "{:?}", o.violations());

    // Without the event the same story starves a waiter beside an available connection.
    let mut o = oracle(OracleConfig {
        max_total: 1,
        ..OracleConfig::default()
    });
    o.pool_event(Duration::ZERO, &PoolEvent::ConnectionCreated { id: 1 });
    o.pool_event(Duration::ZERO, &PoolEvent::ConnectionReady { id: 1 });
    o.checkout_began(MS, Some(TaskId(1)), Duration::from_secs(5));
    for t in 1..50 {
        o.stable(t * MS, None);
        o.before_advance(t * MS, (t + 1) * MS);
    }
    assert_eq!(invariants(&o), [Invariant::Live]);
}

#[test]
fn a_persistent_condition_is_reported_once_per_episode() {
    let mut o = oracle(OracleConfig::default());
    o.pool_event(Duration::ZERO, &PoolEvent::ConnectionCreated { id: 1 });
    o.pool_event(Duration::ZERO, &PoolEvent::ConnectionReady { id: 1 });
    let k = o.checkout_began(MS, Some(TaskId(1)), Duration::from_secs(5));
    for t in 1..100 {
        o.stable(t * MS, None);
        o.before_advance(t * MS, (t + 1) * MS);
    }
    assert_eq!(invariants(&o), [Invariant::Live]);
    // The episode ends (the waiter is served), then a new one begins.
    o.pool_event(100 * MS, &PoolEvent::CheckedOut { id: 1 });
    o.checkout_ended(100 * MS, k, &CheckoutOutcome::Ok(1));
    o.stable(100 * MS, None);
    o.pool_event(101 * MS, &PoolEvent::CheckedIn { id: 1 });
    o.checkout_began(101 * MS, Some(TaskId(2)), Duration::from_secs(5));
    for t in 101..200 {
        o.stable(t * MS, None);
        o.before_advance(t * MS, (t + 1) * MS);
    }
    assert_eq!(invariants(&o), [Invariant::Live, Invariant::Live]);
}

#[test]
fn keep_going_collects_every_violation() {
    for keep_going in [false, true] {
        let executor = Executor::new(
            Rng::new(1),
            Budget {
                steps_max: 1_000,
                time_max: Duration::from_secs(1),
            },
        )
        .expect("an executor");
        let recorder = Recorder::new(
            executor.handle(),
            Oracle::new(OracleConfig::default()),
            false,
        );
        recorder.set_keep_going(keep_going);
        use sim::pool_under_test::EventSink;
        recorder.emit(PoolEvent::PoolReady);
        recorder.emit(PoolEvent::PoolCleared { interrupt: false });
        // CheckedIn for a connection never seen (ACCT), closed (fine), closed again
        // (ACCT), and again (the same message: suppressed).
        recorder.emit(PoolEvent::CheckedIn { id: 7 });
        for _ in 0..3 {
            recorder.emit(PoolEvent::ConnectionClosed {
                id: 7,
                reason: ConnectionClosedReason::Error,
            });
        }
        assert!(recorder.violated());
        assert_eq!(recorder.failed(), !keep_going);
        let found: Vec<_> = recorder.violations().iter().map(|v| v.invariant).collect();
        assert_eq!(found, [Invariant::Clear, Invariant::Acct, Invariant::Acct]);
        let recording = recorder.finish();
        assert_eq!(recording.violations.len(), 3);
        assert_eq!(recording.suppressed, 1);
    }
}

/// Checkout `k` is granted an establishment of its own; it overtakes the earlier `j` only
/// if `j` already waited then (not if `j` was validating then and queued only later).
fn own_establishment(j_waits_at_grant: bool) -> Vec<Invariant> {
    let mut o = oracle(OracleConfig::default());
    o.pool_event(Duration::ZERO, &PoolEvent::ConnectionCreated { id: 1 });
    o.pool_event(Duration::ZERO, &PoolEvent::ConnectionReady { id: 1 });
    let j = o.checkout_began(MS, Some(TaskId(1)), Duration::from_secs(5));
    if !j_waits_at_grant {
        o.pool_event_from(
            MS,
            Some(TaskId(1)),
            &PoolEvent::ConnectionValidating { id: 1 },
        );
    }
    let k = o.checkout_began(2 * MS, Some(TaskId(2)), Duration::from_secs(5));
    o.pool_event(2 * MS, &PoolEvent::ConnectionCreated { id: 2 });
    o.connect_started(2 * MS, 2, Some(TaskId(2)));
    if !j_waits_at_grant {
        // j's check fails; it queues again.
        o.pool_event(
            3 * MS,
            &PoolEvent::ConnectionClosed {
                id: 1,
                reason: ConnectionClosedReason::Error,
            },
        );
    }
    o.connect_finished(4 * MS, 2, &ConnectOutcome::Established);
    o.pool_event(4 * MS, &PoolEvent::ConnectionReady { id: 2 });
    o.pool_event(4 * MS, &PoolEvent::CheckedOut { id: 2 });
    o.checkout_ended(4 * MS, k, &CheckoutOutcome::Ok(2));
    o.stable(4 * MS, None);
    assert!(j < k);
    invariants(&o)
        .into_iter()
        .filter(|i| *i == Invariant::Fifo)
        .collect()
}

#[test]
fn fifo_judges_an_own_establishment_at_its_grant() {
    assert!(own_establishment(false).is_empty());
    assert_eq!(own_establishment(true), [Invariant::Fifo]);
}

/// Checkout `k` is handed an idle connection and validates it; it overtakes the earlier
/// `j` only if `j` already waited at that hand-over (not if `j` was validating a
/// connection of its own then, and queued again only when that one failed its check).
fn validated_handover(j_waits_at_grant: bool) -> Vec<Invariant> {
    let mut o = oracle(OracleConfig::default());
    for id in [1, 2] {
        o.pool_event(Duration::ZERO, &PoolEvent::ConnectionCreated { id });
        o.pool_event(Duration::ZERO, &PoolEvent::ConnectionReady { id });
    }
    let j = o.checkout_began(MS, Some(TaskId(1)), Duration::from_secs(5));
    if !j_waits_at_grant {
        o.pool_event_from(
            MS,
            Some(TaskId(1)),
            &PoolEvent::ConnectionValidating { id: 1 },
        );
    }
    let k = o.checkout_began(2 * MS, Some(TaskId(2)), Duration::from_secs(5));
    o.pool_event_from(
        2 * MS,
        Some(TaskId(2)),
        &PoolEvent::ConnectionValidating { id: 2 },
    );
    if !j_waits_at_grant {
        // j's check fails; it queues again.
        o.pool_event(
            3 * MS,
            &PoolEvent::ConnectionClosed {
                id: 1,
                reason: ConnectionClosedReason::Error,
            },
        );
    }
    o.pool_event(4 * MS, &PoolEvent::CheckedOut { id: 2 });
    o.checkout_ended(4 * MS, k, &CheckoutOutcome::Ok(2));
    o.stable(4 * MS, None);
    assert!(j < k);
    invariants(&o)
        .into_iter()
        .filter(|i| *i == Invariant::Fifo)
        .collect()
}

#[test]
fn fifo_judges_a_validated_handover_at_its_grant() {
    assert!(validated_handover(false).is_empty());
    assert_eq!(validated_handover(true), [Invariant::Fifo]);
}

/// A checkout refused "pool closed" before the pool reports `PoolClosed` (a close under
/// way on another thread: the pool is marked closed first, and reports the event after
/// closing its available connections): justified once the harness asked for the close,
/// an ERR violation otherwise.
fn closed_before_the_event(close_requested: bool) -> Vec<Invariant> {
    let mut o = oracle(OracleConfig::default());
    let k = o.checkout_began(MS, Some(TaskId(1)), Duration::from_secs(5));
    if close_requested {
        o.close_requested(2 * MS);
    }
    o.pool_event(
        3 * MS,
        &PoolEvent::CheckOutFailed {
            reason: pool_core::ConnectionCheckOutFailedReason::PoolClosed,
        },
    );
    o.checkout_ended(
        3 * MS,
        k,
        &CheckoutOutcome::Failed(sim::CheckoutFailure::PoolClosed),
    );
    o.pool_event(4 * MS, &PoolEvent::PoolClosed);
    o.stable(4 * MS, None);
    invariants(&o)
}

#[test]
fn pool_closed_is_justified_by_a_requested_close_even_before_its_event() {
    assert!(
        closed_before_the_event(true).is_empty(),
        "{:?}",
        closed_before_the_event(true)
    );
    assert_eq!(closed_before_the_event(false), [Invariant::Err]);
}
