//! Goal: test-on-borrow (`PoolOptions::test_on_borrow`) validates exactly the connections
//! taken from the pool that sat available past `validation_bypass` — never a fresh one,
//! never with the option off — closes one that fails (reason `error`) while its checkout
//! goes on with another connection, keeps to the checkout's deadline, and leaks nothing
//! when the checkout is dropped mid-check. Method: a pool on paused Tokio time whose
//! manager's `validate` records its calls and fails, waits or hangs as each test says;
//! events recorded; synchronisation by `Notify`, never by sleeping.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pool_core::{CheckoutError, CmapEvent, ConnectionClosedReason, Manager, Pool, PoolOptions};
use tokio::sync::Notify;

#[derive(Debug, thiserror::Error)]
#[error("connection is dead")]
struct Dead;

/// How `validate` behaves.
#[derive(Default)]
struct Script {
    /// Ids whose validation fails.
    failing: HashSet<u64>,
    /// How long a validation takes.
    delay: Duration,
    /// Validations never finish.
    hang: bool,
    /// Connects that take this long, by connection id (the others are instant).
    slow_connects: Vec<(u64, Duration)>,
}

/// Connections are their ids; `validate` follows the script and records its calls.
#[derive(Clone, Default)]
struct Checked {
    script: Arc<Mutex<Script>>,
    validated: Arc<Mutex<Vec<u64>>>,
    started: Arc<Notify>,
}

impl Checked {
    fn validated(&self) -> Vec<u64> {
        self.validated.lock().unwrap().clone()
    }
    fn fail(&self, id: u64) {
        self.script.lock().unwrap().failing.insert(id);
    }
}

impl Manager for Checked {
    type Connection = u64;
    type Error = Dead;

    async fn connect(&self, id: u64) -> Result<u64, Dead> {
        let delay = self
            .script
            .lock()
            .unwrap()
            .slow_connects
            .iter()
            .find_map(|&(slow, d)| (slow == id).then_some(d));
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        Ok(id)
    }

    fn validate(&self, conn: &mut u64) -> impl Future<Output = Result<(), Dead>> + Send {
        let id = *conn;
        let (fails, delay, hang) = {
            let script = self.script.lock().unwrap();
            (script.failing.contains(&id), script.delay, script.hang)
        };
        self.validated.lock().unwrap().push(id);
        let started = self.started.clone();
        async move {
            started.notify_one();
            if hang {
                std::future::pending::<()>().await;
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if fails {
                Err(Dead)
            } else {
                Ok(())
            }
        }
    }
}

/// Records every event.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<CmapEvent>>>);

impl Recorder {
    fn events(&self) -> Vec<CmapEvent> {
        self.0.lock().unwrap().clone()
    }
    /// The names of the events about connection `id`, in order.
    fn of(&self, id: u64) -> Vec<&'static str> {
        self.events()
            .iter()
            .filter(|e| e.connection_id() == Some(id))
            .map(|e| e.name())
            .collect()
    }
    fn closed(&self) -> Vec<(u64, ConnectionClosedReason)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                CmapEvent::ConnectionClosed {
                    connection_id,
                    reason,
                    ..
                } => Some((connection_id, reason)),
                _ => None,
            })
            .collect()
    }
    fn validating(&self) -> usize {
        self.events()
            .iter()
            .filter(|e| matches!(e, CmapEvent::ConnectionValidating { .. }))
            .count()
    }
}

fn build(manager: &Checked, options: PoolOptions, rec: &Recorder) -> Pool<Checked> {
    let rec = rec.clone();
    Pool::builder(manager.clone())
        .options(PoolOptions {
            maintenance_interval: None,
            ..options
        })
        .event_handler(move |e: &CmapEvent| rec.0.lock().unwrap().push(e.clone()))
        .ready()
        .build()
        .expect("valid options")
}

fn on(bypass: Duration) -> PoolOptions {
    PoolOptions {
        test_on_borrow: true,
        validation_bypass: bypass,
        ..PoolOptions::default()
    }
}

/// Off by default: `validate` is never called, however long a connection sat idle.
#[tokio::test(start_paused = true)]
async fn off_by_default_never_validates() {
    let (manager, rec) = (Checked::default(), Recorder::default());
    let pool = build(&manager, PoolOptions::default(), &rec);
    assert!(!pool.options().test_on_borrow);
    drop(pool.check_out().await.unwrap());
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(pool.check_out().await.unwrap().id(), 1);
    assert!(manager.validated().is_empty());
    assert_eq!(rec.validating(), 0);
}

/// A connection idle within the bypass window is handed out unchecked; one idle past it
/// is validated (Validating, Validated, then CheckedOut) and handed out.
#[tokio::test(start_paused = true)]
async fn validated_only_past_the_bypass_window() {
    let (manager, rec) = (Checked::default(), Recorder::default());
    let pool = build(&manager, on(Duration::from_millis(500)), &rec);
    drop(pool.check_out().await.unwrap());
    tokio::time::advance(Duration::from_millis(400)).await;
    drop(pool.check_out().await.unwrap());
    assert!(
        manager.validated().is_empty(),
        "400 ms is within the window"
    );
    tokio::time::advance(Duration::from_millis(600)).await;
    let conn = pool.check_out().await.unwrap();
    assert_eq!(conn.id(), 1);
    assert_eq!(manager.validated(), vec![1]);
    let tail: Vec<_> = rec.of(1).into_iter().rev().take(3).collect();
    assert_eq!(
        tail,
        vec![
            "ConnectionCheckedOut",
            "ConnectionValidated",
            "ConnectionValidating"
        ]
    );
    assert_eq!(pool.status().counters.checked_out, 3);
}

/// A connection the checkout established itself is never validated, even with a zero
/// bypass window, under which every connection taken from the pool is.
#[tokio::test(start_paused = true)]
async fn fresh_connections_are_never_validated() {
    let (manager, rec) = (Checked::default(), Recorder::default());
    let pool = build(&manager, on(Duration::ZERO), &rec);
    let a = pool.check_out().await.unwrap();
    let b = pool.check_out().await.unwrap();
    assert!(manager.validated().is_empty());
    drop((a, b));
    drop(pool.check_out().await.unwrap());
    assert_eq!(
        manager.validated().len(),
        1,
        "zero bypass: validated at once"
    );
}

/// A failing connection is closed with reason `Error` (counted in closed_by.error) and
/// the checkout takes the next available one; when none is left it establishes a new one
/// under the failed one's unit (not validated: it is fresh).
#[tokio::test(start_paused = true)]
async fn failure_closes_with_error_and_the_checkout_goes_on() {
    let (manager, rec) = (Checked::default(), Recorder::default());
    let pool = build(
        &manager,
        PoolOptions {
            max_pool_size: 2,
            ..on(Duration::from_millis(100))
        },
        &rec,
    );
    let a = pool.check_out().await.unwrap();
    let b = pool.check_out().await.unwrap();
    drop((a, b));
    tokio::time::advance(Duration::from_secs(1)).await;
    manager.fail(1);
    manager.fail(2);
    let conn = pool.check_out().await.unwrap();
    assert_eq!(
        conn.id(),
        3,
        "both idle connections failed; a new one was made"
    );
    let mut validated = manager.validated();
    validated.sort_unstable();
    assert_eq!(validated, vec![1, 2], "the new connection is not validated");
    assert_eq!(
        rec.closed(),
        vec![
            (manager.validated()[0], ConnectionClosedReason::Error),
            (manager.validated()[1], ConnectionClosedReason::Error)
        ]
    );
    let s = pool.status();
    assert_eq!((s.total, s.in_use, s.available), (1, 1, 0));
    assert_eq!(s.counters.closed_by.error, 2);
    assert_eq!(
        s.counters.checked_out, 3,
        "each successful checkout counted once"
    );
    assert_eq!(s.counters.checkout_failed, 0);
    drop(conn);

    // One failing, one good: the checkout gets the good one.
    let c = pool.check_out().await.unwrap();
    let d = pool.check_out().await.unwrap();
    let (bad, good) = (c.id(), d.id());
    drop((c, d));
    tokio::time::advance(Duration::from_secs(1)).await;
    manager.fail(bad);
    let conn = pool.check_out().await.unwrap();
    assert_eq!(conn.id(), good);
    assert!(rec.closed().contains(&(bad, ConnectionClosedReason::Error)));
    assert_eq!(pool.status().counters.closed_by.error, 3);
}

/// Validation counts against the checkout's deadline: a check still running at
/// `wait_queue_timeout` closes the connection (Error) and fails the checkout with Timeout;
/// the time a passing check takes is part of the checkout's duration.
#[tokio::test(start_paused = true)]
async fn validation_keeps_to_the_checkout_deadline() {
    let (manager, rec) = (Checked::default(), Recorder::default());
    let pool = build(
        &manager,
        PoolOptions {
            wait_queue_timeout: Some(Duration::from_millis(100)),
            ..on(Duration::ZERO)
        },
        &rec,
    );
    drop(pool.check_out().await.unwrap());
    manager.script.lock().unwrap().delay = Duration::from_millis(30);
    let conn = pool.check_out().await.unwrap();
    let checked_out = rec.events().into_iter().rev().find_map(|e| match e {
        CmapEvent::ConnectionCheckedOut { duration, .. } => Some(duration),
        _ => None,
    });
    assert!(
        checked_out.is_some_and(|d| d >= Duration::from_millis(30)),
        "the check is part of the checkout: {checked_out:?}"
    );
    drop(conn);

    manager.script.lock().unwrap().delay = Duration::from_secs(10);
    let err = pool.check_out().await.unwrap_err();
    match err {
        CheckoutError::Timeout { waited } => assert!(
            waited >= Duration::from_millis(100) && waited < Duration::from_secs(10),
            "the deadline bounds the check: waited {waited:?}"
        ),
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert_eq!(rec.closed(), vec![(1, ConnectionClosedReason::Error)]);
    let s = pool.status();
    assert_eq!((s.total, s.in_use, s.available), (0, 0, 0));
    assert_eq!(s.counters.timeouts, 1);
}

/// A checkout dropped while its validation never completes leaks nothing: the
/// connection is closed (Error), its unit released, and the dispatch that follows serves
/// the checkout queued behind it (I4).
#[tokio::test(start_paused = true)]
async fn a_checkout_dropped_mid_validation_leaks_nothing() {
    let (manager, rec) = (Checked::default(), Recorder::default());
    let pool = build(
        &manager,
        PoolOptions {
            max_pool_size: 1,
            ..on(Duration::ZERO)
        },
        &rec,
    );
    drop(pool.check_out().await.unwrap());
    manager.script.lock().unwrap().hang = true;
    let validating = manager.started.notified();
    let first = tokio::spawn({
        let pool = pool.clone();
        async move { pool.check_out().await.map(|c| c.id()) }
    });
    validating.await;
    let second = tokio::spawn({
        let pool = pool.clone();
        async move { pool.check_out().await.map(|c| c.id()) }
    });
    while pool.status().waiters == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(
        pool.status().total,
        1,
        "the validating connection still counts"
    );
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    assert_eq!(rec.closed(), vec![(1, ConnectionClosedReason::Error)]);
    assert_eq!(
        second.await.unwrap().unwrap(),
        2,
        "the freed unit went to the queued checkout"
    );
    let s = pool.status();
    assert_eq!((s.total, s.in_use, s.available, s.waiters), (1, 0, 1, 0));
    assert_eq!(s.counters.closed_by.error, 1);
}

/// I6 after a pass: a clear during the check makes the connection stale; it is closed
/// and the checkout fails as any checkout that meets a clear.
#[tokio::test(start_paused = true)]
async fn a_clear_during_validation_still_closes_the_connection() {
    let (manager, rec) = (Checked::default(), Recorder::default());
    let pool = build(&manager, on(Duration::ZERO), &rec);
    drop(pool.check_out().await.unwrap());
    manager.script.lock().unwrap().delay = Duration::from_millis(10);
    let validating = manager.started.notified();
    let checkout = tokio::spawn({
        let pool = pool.clone();
        async move { pool.check_out().await.map(|c| c.id()) }
    });
    validating.await;
    pool.clear(false);
    let result = checkout.await.unwrap();
    assert!(
        matches!(result, Err(CheckoutError::PoolCleared { .. })),
        "{result:?}"
    );
    assert_eq!(
        rec.of(1).into_iter().rev().take(3).collect::<Vec<_>>(),
        vec![
            "ConnectionClosed",
            "ConnectionValidated",
            "ConnectionValidating"
        ]
    );
    assert_eq!(rec.closed(), vec![(1, ConnectionClosedReason::Stale)]);
    assert_eq!(pool.status().total, 0);
}

/// I5 with V3: a checkout whose connection failed while `max_connecting` was taken (so it
/// could neither take another connection nor make one) keeps its turn: the next resource
/// goes to it, not to the checkout that queued while it was validating.
#[tokio::test(start_paused = true)]
async fn a_failed_checkout_keeps_its_turn() {
    let (manager, rec) = (Checked::default(), Recorder::default());
    let pool = build(
        &manager,
        PoolOptions {
            max_pool_size: 2,
            max_connecting: 1,
            ..on(Duration::ZERO)
        },
        &rec,
    );
    drop(pool.check_out().await.unwrap());
    {
        let mut script = manager.script.lock().unwrap();
        script.failing.insert(1);
        script.delay = Duration::from_millis(10);
        script.slow_connects.push((2, Duration::from_millis(50)));
    }
    let spawn = |pool: &Pool<Checked>| {
        let pool = pool.clone();
        tokio::spawn(async move { pool.check_out().await.map(|c| (c.id(), c)) })
    };
    let validating = manager.started.notified();
    let first = spawn(&pool); // validates connection 1, which fails after 10 ms
    validating.await;
    let second = spawn(&pool); // establishes connection 2 (50 ms), taking max_connecting
    while pool.status().pending == 0 {
        tokio::task::yield_now().await;
    }
    let third = spawn(&pool); // the pool is full: it queues
    while pool.status().waiters == 0 {
        tokio::task::yield_now().await;
    }
    // Bounded (virtual time), so a checkout that lost its turn fails the test, not hangs it.
    let first = tokio::time::timeout(Duration::from_secs(60), first).await;
    let (id, first_conn) = first
        .expect("the failed checkout is served before the later one")
        .unwrap()
        .unwrap();
    assert_eq!(id, 3, "the failed checkout made the next connection");
    let (id, second_conn) = second.await.unwrap().unwrap();
    assert_eq!(id, 2);
    assert!(
        !third.is_finished(),
        "the later checkout still waits its turn"
    );
    drop(second_conn);
    let (id, _third_conn) = third.await.unwrap().unwrap();
    assert_eq!(id, 2, "served by the next check-in");
    assert_eq!(rec.closed(), vec![(1, ConnectionClosedReason::Error)]);
    drop(first_conn);
}
