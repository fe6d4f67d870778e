//! The judge on hand-fed event sequences: each invariant it judges, fired and not.

use std::sync::Arc;

use pool_core::{ConnectionCheckOutFailedReason, ConnectionClosedReason, PoolOptions};

use super::*;

fn config(max_total: u32) -> OracleConfig {
    OracleConfig {
        max_total,
        max_connecting: 2,
        tolerance: Duration::from_millis(100),
        ..OracleConfig::default()
    }
}

fn feed(judge: &Judge, events: &[PoolEvent]) {
    for event in events {
        judge.event(event);
    }
}

/// Connection `id` created, made ready and checked out.
fn checked_out(id: u64) -> [PoolEvent; 3] {
    [
        PoolEvent::ConnectionCreated { id },
        PoolEvent::ConnectionReady { id },
        PoolEvent::CheckedOut { id },
    ]
}

fn invariants(verdict: &Verdict) -> Vec<Invariant> {
    verdict.violations.iter().map(|v| v.invariant).collect()
}

fn status(total: u32, available: u32, closed: bool) -> PoolStatus {
    PoolStatus {
        total,
        available,
        pending: 0,
        in_use: total - available,
        paused: false,
        closed,
        counters: None,
    }
}

#[test]
fn a_clean_run_passes() {
    let judge = Judge::new(config(2)).recording();
    feed(&judge, &[PoolEvent::PoolReady, PoolEvent::CheckOutStarted]);
    feed(&judge, &checked_out(1));
    feed(&judge, &[PoolEvent::CheckOutStarted]);
    feed(&judge, &checked_out(2));
    feed(
        &judge,
        &[
            PoolEvent::CheckedIn { id: 1 },
            PoolEvent::CheckedIn { id: 2 },
        ],
    );
    judge.tick();
    judge.quiescent(&status(2, 2, false));
    for id in [1, 2] {
        judge.event(&PoolEvent::ConnectionClosed {
            id,
            reason: ConnectionClosedReason::PoolClosed,
        });
    }
    judge.event(&PoolEvent::PoolClosed);
    let verdict = judge.finish(Some(&status(0, 0, true)));
    assert!(verdict.is_ok(), "{verdict}");
    assert_eq!(verdict.events, 14);
    assert_eq!(verdict.log.len(), 14);
    assert_eq!(verdict.invariants, JUDGED);
    assert!(
        verdict.to_string().starts_with("OK — MAX, LEAK"),
        "{verdict}"
    );
}

#[test]
fn one_checkout_over_max_pool_size_is_max() {
    // Two connections checked out at once with maxPoolSize 1, allowing a lag of 4 for
    // creations: the in-use count is judged exactly.
    let judge = Judge::new(OracleConfig {
        event_lag: 4,
        ..config(1)
    });
    feed(&judge, &[PoolEvent::PoolReady]);
    feed(&judge, &checked_out(1));
    feed(&judge, &checked_out(2));
    let verdict = judge.finish(None);
    let found = invariants(&verdict);
    assert_eq!(found.first(), Some(&Invariant::Max), "{verdict}");
    assert!(
        verdict.violations[0]
            .message
            .contains("2 connections are checked out"),
        "{verdict}"
    );
}

#[test]
fn event_lag_excuses_a_creation_reported_before_a_close() {
    // maxPoolSize 1: connection 2 is created before connection 1's close arrives.
    let events = [
        PoolEvent::PoolReady,
        PoolEvent::ConnectionCreated { id: 1 },
        PoolEvent::ConnectionReady { id: 1 },
        PoolEvent::ConnectionCreated { id: 2 },
        PoolEvent::ConnectionClosed {
            id: 1,
            reason: ConnectionClosedReason::Error,
        },
        PoolEvent::ConnectionReady { id: 2 },
    ];
    let strict = Judge::new(config(1));
    feed(&strict, &events);
    assert_eq!(strict.violations()[0].invariant, Invariant::Max);
    let lenient = Judge::new(OracleConfig {
        event_lag: 1,
        ..config(1)
    });
    feed(&lenient, &events);
    assert!(
        lenient.violations().is_empty(),
        "{:?}",
        lenient.violations()
    );
}

#[test]
fn a_replayed_log_is_judged_on_its_own_clock() {
    let ms = Duration::from_millis;
    let clean = [
        (ms(0), PoolEvent::PoolReady),
        (ms(1), PoolEvent::ConnectionCreated { id: 1 }),
        (ms(2), PoolEvent::ConnectionReady { id: 1 }),
        (ms(3), PoolEvent::CheckedOut { id: 1 }),
        (ms(40), PoolEvent::CheckedIn { id: 1 }),
        (ms(41), PoolEvent::PoolClosed),
        (
            ms(41),
            PoolEvent::ConnectionClosed {
                id: 1,
                reason: ConnectionClosedReason::PoolClosed,
            },
        ),
    ];
    let verdict = Judge::replay(config(1), &clean);
    assert!(verdict.is_ok(), "{verdict}");
    assert_eq!(verdict.events, 7);
    // The same log without the last close leaves connection 1 open after the close.
    let verdict = Judge::replay(config(1), &clean[..6]);
    assert_eq!(invariants(&verdict), [Invariant::Leak], "{verdict}");
    // A second checkout of a connection already out is LEAK, at the log's time.
    let mut twice = clean[..4].to_vec();
    twice.push((ms(7), PoolEvent::CheckedOut { id: 1 }));
    let verdict = Judge::replay(config(1), &twice);
    let first = &verdict.violations[0];
    assert_eq!(first.invariant, Invariant::Leak, "{verdict}");
    assert_eq!(first.at, ms(7), "{verdict}");
}

#[test]
fn a_connection_left_open_after_close_is_leak() {
    let judge = Judge::new(config(2));
    feed(&judge, &[PoolEvent::PoolReady]);
    feed(&judge, &checked_out(1));
    feed(
        &judge,
        &[PoolEvent::CheckedIn { id: 1 }, PoolEvent::PoolClosed],
    );
    let verdict = judge.finish(None);
    assert_eq!(invariants(&verdict), [Invariant::Leak], "{verdict}");
    assert!(verdict.to_string().starts_with("FAIL — LEAK"), "{verdict}");
}

#[test]
fn a_connection_still_out_at_quiescence_is_leak_and_a_wrong_status_acct() {
    let judge = Judge::new(config(2));
    feed(&judge, &[PoolEvent::PoolReady]);
    feed(&judge, &checked_out(1));
    // The pool says it holds nothing; the events say a connection is still out.
    judge.quiescent(&status(0, 0, false));
    let found = invariants(&judge.finish(None));
    assert!(found.contains(&Invariant::Leak), "{found:?}");
    assert!(found.contains(&Invariant::Acct), "{found:?}");
}

#[test]
fn events_from_many_threads_are_all_judged() {
    let judge = Arc::new(Judge::new(config(8)));
    judge.event(&PoolEvent::PoolReady);
    let threads: Vec<_> = (1..=8u64)
        .map(|id| {
            let judge = judge.clone();
            std::thread::spawn(move || {
                feed(&judge, &checked_out(id));
                judge.event(&PoolEvent::CheckedIn { id });
            })
        })
        .collect();
    for thread in threads {
        assert!(thread.join().is_ok());
    }
    judge.quiescent(&status(8, 8, false));
    let verdict = judge.finish(None);
    assert_eq!(verdict.events, 1 + 8 * 4);
    // Eight connections left open after (no) close is LEAK; nothing else.
    assert_eq!(invariants(&verdict), [Invariant::Leak], "{verdict}");
}

/// One of each of pool-core's events, in the order of its declaration.
fn every_cmap_event() -> Vec<CmapEvent> {
    let address: Arc<str> = Arc::from("mock:27017");
    let a = || address.clone();
    let ms = Duration::from_millis(3);
    vec![
        CmapEvent::PoolCreated {
            address: a(),
            options: Box::new(PoolOptions::default()),
        },
        CmapEvent::PoolReady { address: a() },
        CmapEvent::PoolCleared {
            address: a(),
            interrupt_in_use_connections: true,
        },
        CmapEvent::PoolClosed { address: a() },
        CmapEvent::ConnectionCreated {
            address: a(),
            connection_id: 7,
        },
        CmapEvent::ConnectionReady {
            address: a(),
            connection_id: 7,
            duration: ms,
        },
        CmapEvent::ConnectionClosed {
            address: a(),
            connection_id: 7,
            reason: ConnectionClosedReason::Expired,
        },
        CmapEvent::ConnectionCheckOutStarted { address: a() },
        CmapEvent::ConnectionCheckOutFailed {
            address: a(),
            reason: ConnectionCheckOutFailedReason::Timeout,
            duration: ms,
        },
        CmapEvent::ConnectionCheckedOut {
            address: a(),
            connection_id: 7,
            duration: ms,
        },
        CmapEvent::ConnectionCheckedIn {
            address: a(),
            connection_id: 7,
        },
    ]
}

#[test]
fn from_cmap_maps_every_event() {
    let events = every_cmap_event();
    // Every name once: the list covers every variant pool-core declares.
    let mut names: Vec<&str> = events.iter().map(CmapEvent::name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 11);
    let mapped: Vec<Option<PoolEvent>> = events.iter().map(PoolEvent::from_cmap).collect();
    let id = 7;
    assert_eq!(
        mapped,
        [
            None,
            Some(PoolEvent::PoolReady),
            Some(PoolEvent::PoolCleared { interrupt: true }),
            Some(PoolEvent::PoolClosed),
            Some(PoolEvent::ConnectionCreated { id }),
            Some(PoolEvent::ConnectionReady { id }),
            Some(PoolEvent::ConnectionClosed {
                id,
                reason: ConnectionClosedReason::Expired
            }),
            Some(PoolEvent::CheckOutStarted),
            Some(PoolEvent::CheckOutFailed {
                reason: ConnectionCheckOutFailedReason::Timeout
            }),
            Some(PoolEvent::CheckedOut { id }),
            Some(PoolEvent::CheckedIn { id }),
        ]
    );
    // The judge takes them all but the pool's creation.
    let judge = Judge::new(config(2));
    let judged = events.iter().filter(|e| judge.cmap(e)).count();
    assert_eq!(judged, 10);
    assert_eq!(judge.events(), 10);
}

#[test]
fn from_status_keeps_the_counts_and_counters() {
    let status = pool_core::Status {
        total: 5,
        available: 2,
        pending: 1,
        in_use: 2,
        waiters: 3,
        generation: 4,
        paused: false,
        closed: true,
        counters: pool_core::CountersSnapshot {
            created: 9,
            closed: 4,
            checked_out: 20,
            checkout_failed: 1,
            ..pool_core::CountersSnapshot::default()
        },
        wait_times: pool_core::WaitTimes::default(),
    };
    let ours = PoolStatus::from_status(&status);
    assert_eq!(
        (ours.total, ours.available, ours.pending, ours.in_use),
        (5, 2, 1, 2)
    );
    assert!(ours.closed && !ours.paused);
    let counters = ours.counters.expect("counters kept");
    assert_eq!(
        (
            counters.created,
            counters.closed,
            counters.checked_out,
            counters.checkout_failed
        ),
        (9, 4, 20, 1)
    );
}
