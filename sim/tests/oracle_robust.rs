//! Goal: the oracle never panics on what it is fed, and reports nonsense instead.
//!
//! Method: proptest feeds [`Oracle`] arbitrary sequences of observations — pool events
//! with any ids (including `u64::MAX`), in any order, repeated; pool statuses with any
//! counts (including `u32::MAX`, wrapped counters); checkouts begun and ended with any ids
//! and deadlines (including `Duration::MAX`); connects, drops, clears, stable points and
//! time jumps at arbitrary (even decreasing) instants — and requires that no call panics.
//! Targeted properties then check that the nonsense is *reported*: a wrapped status is
//! an ACCT violation, a close of a connection never opened is ACCT, and the oracle keeps
//! each distinct violation once.

use std::time::Duration;

use pool_core::{ConnectionCheckOutFailedReason, ConnectionClosedReason};
use proptest::prelude::*;
use sim::executor::TaskId;
use sim::manager::ConnectOutcome;
use sim::oracle::{CheckoutOutcome, Invariant, Oracle, OracleConfig};
use sim::pool_under_test::{Capabilities, StatusCounters};
use sim::{CheckoutFailure, PoolEvent, PoolStatus};

fn id() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..8, Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()]
}

fn count() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..8, Just(u32::MAX), Just(u32::MAX - 1), any::<u32>()]
}

fn instant() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0u64..10_000_000).prop_map(Duration::from_micros),
        Just(Duration::ZERO),
        Just(Duration::MAX),
        any::<u64>().prop_map(Duration::from_nanos),
    ]
}

fn closed_reason() -> impl Strategy<Value = ConnectionClosedReason> {
    prop_oneof![
        Just(ConnectionClosedReason::Stale),
        Just(ConnectionClosedReason::Idle),
        Just(ConnectionClosedReason::Error),
        Just(ConnectionClosedReason::PoolClosed),
        Just(ConnectionClosedReason::Expired),
    ]
}

fn event() -> impl Strategy<Value = PoolEvent> {
    prop_oneof![
        Just(PoolEvent::PoolReady),
        any::<bool>().prop_map(|interrupt| PoolEvent::PoolCleared { interrupt }),
        Just(PoolEvent::PoolClosed),
        id().prop_map(|id| PoolEvent::ConnectionCreated { id }),
        id().prop_map(|id| PoolEvent::ConnectionReady { id }),
        (id(), closed_reason()).prop_map(|(id, reason)| PoolEvent::ConnectionClosed { id, reason }),
        Just(PoolEvent::CheckOutStarted),
        Just(PoolEvent::CheckOutFailed {
            reason: ConnectionCheckOutFailedReason::ConnectionError
        }),
        id().prop_map(|id| PoolEvent::CheckedOut { id }),
        id().prop_map(|id| PoolEvent::CheckedIn { id }),
        id().prop_map(|id| PoolEvent::ConnectionValidating { id }),
        id().prop_map(|id| PoolEvent::ConnectionValidated { id }),
        id().prop_map(|id| PoolEvent::LeakSuspected { id }),
        id().prop_map(|id| PoolEvent::LeakReturned { id }),
    ]
}

fn status() -> impl Strategy<Value = PoolStatus> {
    (
        (count(), count(), count(), count()),
        any::<bool>(),
        any::<bool>(),
        proptest::option::of((any::<u64>(), any::<u64>(), any::<u64>(), any::<u64>())),
    )
        .prop_map(
            |((total, available, pending, in_use), paused, closed, counters)| PoolStatus {
                total,
                available,
                pending,
                in_use,
                paused,
                closed,
                counters: counters.map(|(created, closed, checked_out, checkout_failed)| {
                    StatusCounters {
                        created,
                        closed,
                        checked_out,
                        checkout_failed,
                    }
                }),
            },
        )
}

fn outcome() -> impl Strategy<Value = CheckoutOutcome> {
    prop_oneof![
        id().prop_map(CheckoutOutcome::Ok),
        Just(CheckoutOutcome::Cancelled),
        Just(CheckoutOutcome::Failed(CheckoutFailure::Timeout)),
        Just(CheckoutOutcome::Failed(CheckoutFailure::PoolCleared)),
        Just(CheckoutOutcome::Failed(CheckoutFailure::PoolClosed)),
        Just(CheckoutOutcome::Failed(CheckoutFailure::ConnectTimeout)),
        Just(CheckoutOutcome::Failed(CheckoutFailure::WaitQueueFull)),
    ]
}

fn connect_outcome() -> impl Strategy<Value = ConnectOutcome> {
    prop_oneof![
        Just(ConnectOutcome::Established),
        Just(ConnectOutcome::Abandoned),
        Just(ConnectOutcome::Failed("refused".into())),
    ]
}

/// One observation fed to the oracle at some instant.
#[derive(Debug, Clone)]
enum Step {
    Event(Option<u64>, PoolEvent),
    Stable(Option<PoolStatus>),
    Advance(Duration),
    Began(Option<u64>, Duration),
    Ended(u64, CheckoutOutcome),
    Abandoned(u64),
    ConnectStarted(u64, Option<u64>),
    ConnectFinished(u64, ConnectOutcome),
    Dropped(u64),
    ClearRequested,
    Quiescent(Option<PoolStatus>),
    AfterClose(Option<PoolStatus>),
}

fn step() -> impl Strategy<Value = Step> {
    let task = || proptest::option::of(prop_oneof![0u64..4, Just(u64::MAX)]);
    prop_oneof![
        6 => (task(), event()).prop_map(|(t, e)| Step::Event(t, e)),
        2 => proptest::option::of(status()).prop_map(Step::Stable),
        1 => instant().prop_map(Step::Advance),
        2 => (task(), instant()).prop_map(|(t, d)| Step::Began(t, d)),
        2 => (id(), outcome()).prop_map(|(k, o)| Step::Ended(k, o)),
        1 => id().prop_map(Step::Abandoned),
        1 => (id(), task()).prop_map(|(i, t)| Step::ConnectStarted(i, t)),
        1 => (id(), connect_outcome()).prop_map(|(i, o)| Step::ConnectFinished(i, o)),
        1 => id().prop_map(Step::Dropped),
        1 => Just(Step::ClearRequested),
        1 => proptest::option::of(status()).prop_map(Step::Quiescent),
        1 => proptest::option::of(status()).prop_map(Step::AfterClose),
    ]
}

fn config() -> impl Strategy<Value = OracleConfig> {
    (
        count(),
        count(),
        instant(),
        proptest::option::of(instant()),
        proptest::option::of(instant()),
        proptest::option::of(instant()),
        proptest::option::of(instant()),
        proptest::option::of(instant()),
    )
        .prop_map(
            |(max_total, max_connecting, tolerance, wait, bound, idle, lifetime, jitter)| {
                OracleConfig {
                    max_total,
                    max_connecting,
                    tolerance,
                    wait_queue_timeout: wait,
                    checkout_bound: bound,
                    max_idle_time: idle,
                    max_lifetime: lifetime,
                    max_lifetime_jitter: jitter,
                    ..OracleConfig::default()
                }
            },
        )
}

fn capabilities() -> impl Strategy<Value = Capabilities> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        instant(),
        any::<bool>(),
    )
        .prop_map(
            |(max_connecting, background, clears, slack, leaks)| Capabilities {
                max_connecting,
                clear: true,
                background_establishment: background,
                clears_on_connect_error: clears,
                idle_close_slack: slack,
                leak_detection: leaks,
            },
        )
}

/// Feeds `steps` at instants `times` (cycled; they may go backwards).
fn feed(oracle: &mut Oracle, steps: &[(Duration, Step)]) {
    for (now, step) in steps {
        let now = *now;
        match step.clone() {
            Step::Event(task, e) => oracle.pool_event_from(now, task.map(TaskId), &e),
            Step::Stable(s) => oracle.stable(now, s.as_ref()),
            Step::Advance(next) => oracle.before_advance(now, next),
            Step::Began(task, deadline) => {
                oracle.checkout_began(now, task.map(TaskId), deadline);
            }
            Step::Ended(k, o) => oracle.checkout_ended(now, k, &o),
            Step::Abandoned(k) => oracle.checkout_abandoned(k),
            Step::ConnectStarted(i, t) => oracle.connect_started(now, i, t.map(TaskId)),
            Step::ConnectFinished(i, o) => oracle.connect_finished(now, i, &o),
            Step::Dropped(i) => oracle.connection_dropped(now, i),
            Step::ClearRequested => oracle.clear_requested(now),
            Step::Quiescent(s) => oracle.quiescent(now, s.as_ref()),
            Step::AfterClose(s) => oracle.after_close(now, s.as_ref()),
        }
        // Cheap queries must not panic either, whatever state the model is in.
        let _ = (
            oracle.outstanding(),
            oracle.establishing(),
            oracle.in_use_connections(),
            oracle.failed(),
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any observations, in any order, at any instants: no panic, and every violation
    /// kept is distinct.
    #[test]
    fn never_panics(
        config in config(),
        capabilities in proptest::option::of(capabilities()),
        reported in any::<bool>(),
        steps in proptest::collection::vec((instant(), step()), 0..120),
    ) {
        let mut oracle = Oracle::new(config);
        if let Some(c) = capabilities {
            oracle.set_capabilities(c);
        }
        oracle.set_clear_requests_reported(reported);
        feed(&mut oracle, &steps);
        let mut seen = std::collections::BTreeSet::new();
        for v in oracle.violations() {
            prop_assert!(seen.insert((v.invariant, v.message.clone())), "kept twice: {v}");
        }
    }

    /// A status that disagrees with the events (here: any status of a pool that reported
    /// nothing but `PoolReady`, with a nonzero count) is reported as ACCT once it persists.
    #[test]
    fn nonsense_status_is_acct(status in status()) {
        prop_assume!(status.total > 0 || status.available > 0 || status.pending > 0 || status.in_use > 0);
        let mut oracle = Oracle::new(OracleConfig::default());
        oracle.pool_event(Duration::ZERO, &PoolEvent::PoolReady);
        oracle.stable(Duration::ZERO, Some(&status));
        oracle.stable(Duration::from_secs(1), Some(&status));
        prop_assert!(
            oracle.violations().iter().any(|v| v.invariant == Invariant::Acct),
            "{:?}", oracle.violations()
        );
    }

    /// Events for connections that are not where they should be (never created, closed
    /// twice) are ACCT violations, reported once each.
    #[test]
    fn out_of_order_events_are_acct(id in id()) {
        let mut oracle = Oracle::new(OracleConfig::default());
        let t = Duration::from_millis(1);
        let closed = PoolEvent::ConnectionClosed { id, reason: ConnectionClosedReason::Error };
        oracle.pool_event(t, &PoolEvent::CheckedIn { id });
        oracle.pool_event(t, &closed);
        oracle.pool_event(t, &closed);
        oracle.pool_event(t, &closed);
        let acct: Vec<_> = oracle
            .violations()
            .iter()
            .filter(|v| v.invariant == Invariant::Acct)
            .collect();
        // "CheckedIn for a connection not in use" (which puts it at Available, so the
        // first close is fine), then "closed, which is not open" (the third close repeats
        // it and is suppressed).
        prop_assert_eq!(acct.len(), 2, "{:?}", oracle.violations());
        prop_assert_eq!(oracle.suppressed(), 1);
    }
}

/// A wrapped counter (available + in use past u32::MAX) is a disagreement, not an
/// overflow.
#[test]
fn wrapped_counters_are_acct() {
    let mut oracle = Oracle::new(OracleConfig::default());
    oracle.pool_event(Duration::ZERO, &PoolEvent::PoolReady);
    let status = PoolStatus {
        total: u32::MAX,
        available: u32::MAX,
        pending: u32::MAX,
        in_use: u32::MAX,
        paused: false,
        closed: false,
        counters: None,
    };
    oracle.stable(Duration::ZERO, Some(&status));
    oracle.before_advance(Duration::ZERO, Duration::from_secs(1));
    let v = oracle.violations().first().expect("reported");
    assert_eq!(v.invariant, Invariant::Acct);
    assert!(v.message.contains("8589934590 vs 0"), "{v}");
}
