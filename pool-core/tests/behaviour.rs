//! Behaviour of the pool on Tokio with paused (virtual) time: timeouts, maintenance,
//! minPoolSize populate, connect timeout, abandoned establishments, interrupts, lifetime,
//! bounds, and that the status agrees with the events. Each test states its goal.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pool_core::{
    BuildError, CheckinError, CheckoutError, CmapEvent, ConnectionCheckOutFailedReason,
    ConnectionClosedReason, Manager, Pool, PoolOptions,
};

/// A manager whose connect takes `latency` and fails when `fail` says so.
#[derive(Clone, Default)]
struct Slow {
    latency: Duration,
    fail_every: Option<u64>,
    connects: Arc<AtomicU64>,
}

#[derive(Debug, thiserror::Error)]
#[error("connect refused")]
struct Refused;

impl Manager for Slow {
    type Connection = u64;
    type Error = Refused;
    async fn connect(&self, id: u64) -> Result<u64, Refused> {
        let n = self.connects.fetch_add(1, Ordering::SeqCst) + 1;
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        match self.fail_every {
            Some(k) if n % k == 0 => Err(Refused),
            _ => Ok(id),
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
    fn names(&self) -> Vec<&'static str> {
        self.events().iter().map(|e| e.name()).collect()
    }
    fn closed_reasons(&self) -> Vec<ConnectionClosedReason> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                CmapEvent::ConnectionClosed { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }
}

fn build(manager: Slow, options: PoolOptions, rec: &Recorder) -> Pool<Slow> {
    let rec = rec.clone();
    Pool::builder(manager)
        .options(options)
        .event_handler(move |e: &CmapEvent| rec.0.lock().unwrap().push(e.clone()))
        .ready()
        .build()
        .unwrap()
}

/// Waits (in virtual time) until `cond` holds, failing after `limit`.
async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < limit,
            "condition not reached within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// CMAP K6: a checkout that waits past waitQueueTimeout fails with `Timeout`, emits
/// CheckOutFailed(timeout), and leaves the queue at once.
#[tokio::test(start_paused = true)]
async fn wait_queue_timeout_fails_and_leaves_the_queue() {
    let rec = Recorder::default();
    let options = PoolOptions {
        max_pool_size: 1,
        wait_queue_timeout: Some(Duration::from_millis(50)),
        ..PoolOptions::default()
    };
    let pool = build(Slow::default(), options, &rec);
    let held = pool.check_out().await.unwrap();
    let err = pool.check_out().await.unwrap_err();
    match err {
        CheckoutError::Timeout { waited } => {
            assert!(waited >= Duration::from_millis(50), "waited {waited:?}")
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    assert_eq!(
        pool.status().waiters,
        0,
        "the timed-out waiter left the queue"
    );
    assert!(rec.events().iter().any(|e| matches!(
        e,
        CmapEvent::ConnectionCheckOutFailed {
            reason: ConnectionCheckOutFailedReason::Timeout,
            ..
        }
    )));
    let counters = pool.status().counters;
    assert_eq!((counters.timeouts, counters.checkout_failed), (1, 1));
    drop(held);
    assert_eq!(
        pool.check_out().await.unwrap().id(),
        1,
        "the connection is still there"
    );
}

/// CMAP P2/B1: maintenance closes connections idle for longer than maxIdleTime.
#[tokio::test(start_paused = true)]
async fn maintenance_prunes_idle_connections() {
    let rec = Recorder::default();
    let options = PoolOptions {
        max_idle_time: Some(Duration::from_millis(100)),
        maintenance_interval: Some(Duration::from_millis(20)),
        ..PoolOptions::default()
    };
    let pool = build(Slow::default(), options, &rec);
    drop(pool.check_out().await.unwrap());
    assert_eq!(pool.status().available, 1);
    eventually(Duration::from_secs(1), || pool.status().total == 0).await;
    assert_eq!(rec.closed_reasons(), vec![ConnectionClosedReason::Idle]);
}

/// CMAP S1/S7/O2: minPoolSize populates only once the pool is ready, and maxConnecting
/// bounds the populate too.
#[tokio::test(start_paused = true)]
async fn min_pool_size_populates_only_when_ready() {
    let rec = Recorder::default();
    let manager = Slow {
        latency: Duration::from_millis(10),
        ..Slow::default()
    };
    let options = PoolOptions {
        min_pool_size: 3,
        maintenance_interval: Some(Duration::from_millis(5)),
        ..PoolOptions::default()
    };
    let r = rec.clone();
    let pool = Pool::builder(manager)
        .options(options)
        .event_handler(move |e: &CmapEvent| r.0.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(pool.status().total, 0, "S7: a paused pool creates nothing");
    pool.ready().unwrap();
    let mut max_pending = 0;
    eventually(Duration::from_secs(1), || {
        max_pending = max_pending.max(pool.status().pending);
        pool.status().available == 3
    })
    .await;
    assert!(
        max_pending <= 2,
        "O4: pending {max_pending} > maxConnecting 2"
    );
    let names = rec.names();
    let ready_at = names
        .iter()
        .position(|n| *n == "ConnectionPoolReady")
        .unwrap();
    let first_created = names
        .iter()
        .position(|n| *n == "ConnectionCreated")
        .unwrap();
    assert!(ready_at < first_created, "S3: PoolReady precedes populate");
}

/// A connect that outlives connectTimeout fails the checkout and frees its slot.
#[tokio::test(start_paused = true)]
async fn connect_timeout_bounds_establishment() {
    let rec = Recorder::default();
    let manager = Slow {
        latency: Duration::from_secs(5),
        ..Slow::default()
    };
    let options = PoolOptions {
        connect_timeout: Some(Duration::from_millis(100)),
        ..PoolOptions::default()
    };
    let pool = build(manager, options, &rec);
    let err = pool.check_out().await.unwrap_err();
    assert!(
        matches!(err, CheckoutError::ConnectTimeout(_)),
        "got {err:?}"
    );
    let s = pool.status();
    assert_eq!((s.total, s.pending), (0, 0), "the slot is released: {s:?}");
    assert_eq!(rec.closed_reasons(), vec![ConnectionClosedReason::Error]);
}

/// Cancel safety: a checkout dropped mid-establishment lets the establishment finish in
/// the background, and the connection becomes available instead of being lost.
#[tokio::test(start_paused = true)]
async fn abandoned_establishment_becomes_available() {
    let rec = Recorder::default();
    let manager = Slow {
        latency: Duration::from_millis(100),
        ..Slow::default()
    };
    let pool = build(manager.clone(), PoolOptions::default(), &rec);
    let attempt = tokio::time::timeout(Duration::from_millis(10), pool.check_out()).await;
    assert!(attempt.is_err(), "the caller gave up");
    assert_eq!(pool.status().pending, 1, "still establishing");
    eventually(Duration::from_secs(1), || pool.status().available == 1).await;
    let conn = pool.check_out().await.unwrap();
    assert_eq!(conn.id(), 1, "the abandoned connection is reused");
    assert_eq!(manager.connects.load(Ordering::SeqCst), 1, "no churn");
}

/// CMAP L6: clear(interruptInUseConnections) aborts pending establishments of the old
/// generation (Closed before CheckOutFailed) and flags in-use connections.
#[tokio::test(start_paused = true)]
async fn clear_with_interrupt_aborts_pending_and_flags_in_use() {
    let rec = Recorder::default();
    let manager = Slow {
        latency: Duration::from_secs(10),
        ..Slow::default()
    };
    let pool = build(manager, PoolOptions::default(), &rec);
    let quick = Pool::builder(Slow::default()).ready().build().unwrap();
    let in_use = quick.check_out().await.unwrap();
    quick.clear(true);
    assert!(
        in_use.is_interrupted(),
        "L6: in-use connection of the old generation"
    );

    let p = pool.clone();
    let pending = tokio::spawn(async move { p.check_out().await });
    eventually(Duration::from_secs(1), || pool.status().pending == 1).await;
    pool.clear(true);
    let err = pending.await.unwrap().unwrap_err();
    assert!(
        matches!(err, CheckoutError::PoolCleared { .. }),
        "got {err:?}"
    );
    let names: Vec<_> = rec
        .names()
        .into_iter()
        .filter(|n| n.starts_with("ConnectionClosed") || n.contains("Failed"))
        .collect();
    assert_eq!(names, vec!["ConnectionClosed", "ConnectionCheckOutFailed"]);
    assert_eq!(pool.status().total, 0);
}

/// max_lifetime: an old connection is closed (reason `expired`) instead of reused.
#[tokio::test(start_paused = true)]
async fn max_lifetime_expires_connections() {
    let rec = Recorder::default();
    let options = PoolOptions {
        max_lifetime: Some(Duration::from_millis(100)),
        max_lifetime_jitter: Some(Duration::from_millis(10)),
        maintenance_interval: None,
        ..PoolOptions::default()
    };
    let pool = build(Slow::default(), options, &rec);
    drop(pool.check_out().await.unwrap());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let conn = pool.check_out().await.unwrap();
    assert_eq!(conn.id(), 2, "the expired connection was replaced");
    assert_eq!(rec.closed_reasons(), vec![ConnectionClosedReason::Expired]);
}

/// CMAP C5/I4: checking a connection into another pool is refused.
#[tokio::test]
async fn foreign_checkin_is_refused() {
    let a = Pool::builder(Slow::default()).ready().build().unwrap();
    let b = Pool::builder(Slow::default()).ready().build().unwrap();
    let conn = a.check_out().await.unwrap();
    assert!(matches!(
        b.check_in(conn),
        Err(CheckinError::ForeignConnection { id: 1 })
    ));
    assert_eq!(a.status().available, 1, "it went back to its own pool");
}

/// The wait queue is bounded: beyond waitersMax a checkout fails at once.
#[tokio::test(start_paused = true)]
async fn full_wait_queue_fails_fast() {
    let options = PoolOptions {
        max_pool_size: 1,
        waiters_max: 1,
        ..PoolOptions::default()
    };
    let pool = Pool::builder(Slow::default())
        .options(options)
        .ready()
        .build()
        .unwrap();
    let held = pool.check_out().await.unwrap();
    let p = pool.clone();
    let queued = tokio::spawn(async move { p.check_out().await.map(|c| c.id()) });
    eventually(Duration::from_secs(1), || pool.status().waiters == 1).await;
    assert!(matches!(
        pool.check_out().await,
        Err(CheckoutError::WaitQueueFull { limit: 1 })
    ));
    drop(held);
    assert_eq!(queued.await.unwrap().unwrap(), 1);
}

/// A pool needs a runtime; outside one, building is a typed error, not a panic.
#[test]
fn building_outside_a_runtime_is_an_error() {
    assert!(matches!(
        Pool::builder(Slow::default()).build(),
        Err(BuildError::NoRuntime)
    ));
    let bad = PoolOptions {
        min_pool_size: 5,
        max_pool_size: 2,
        ..PoolOptions::default()
    };
    assert!(matches!(
        Pool::builder(Slow::default()).options(bad).build(),
        Err(BuildError::Options(_))
    ));
}

/// ACCT + MAX under real threads: 32 tasks hammer a pool of 4 whose connects sometimes
/// fail; the status never exceeds the limits, and at the end it agrees with the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_agrees_with_events_under_load() {
    let rec = Recorder::default();
    let manager = Slow {
        fail_every: Some(7),
        ..Slow::default()
    };
    let options = PoolOptions {
        max_pool_size: 4,
        max_connecting: 2,
        ..PoolOptions::default()
    };
    let pool = build(manager, options, &rec);
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for j in 0..50 {
                    if let Ok(mut conn) = pool.check_out().await {
                        let s = pool.status();
                        assert!(s.total <= 4 && s.pending <= 2, "MAX: {s:?}");
                        if (i + j) % 13 == 0 {
                            conn.mark_errored();
                        }
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let s = pool.status();
    let events = rec.events();
    let count = |name: &str| events.iter().filter(|e| e.name() == name).count() as u64;
    assert_eq!(
        s.total as u64,
        count("ConnectionCreated") - count("ConnectionClosed"),
        "ACCT: {s:?}"
    );
    assert_eq!(s.counters.checked_out, count("ConnectionCheckedOut"));
    // Closes by reason: each close counted once, under the reason its event gives.
    let closed_for = |reason: ConnectionClosedReason| {
        let of = |e: &&CmapEvent| matches!(e, CmapEvent::ConnectionClosed { reason: r, .. } if *r == reason);
        events.iter().filter(of).count() as u64
    };
    let by = s.counters.closed_by;
    assert_eq!(by.error, closed_for(ConnectionClosedReason::Error));
    assert!(by.error > 0, "the errored connections were closed: {s:?}");
    assert_eq!(by.stale, closed_for(ConnectionClosedReason::Stale));
    assert_eq!(
        by.stale + by.idle + by.error + by.pool_closed + by.expired,
        s.counters.closed,
        "ACCT: {s:?}"
    );
    assert_eq!(
        count("ConnectionCheckedOut"),
        count("ConnectionCheckedIn"),
        "LEAK: every checkout came back"
    );
    assert_eq!(
        (s.available, s.waiters, s.pending),
        (s.total, 0, 0),
        "LEAK at quiescence: {s:?}"
    );
}

/// Public types and the checkout future are Send + Sync where users need them.
#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Pool<Slow>>();
    send_sync::<pool_core::PooledConnection<Slow>>();
    send_sync::<CmapEvent>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let pool = Pool::builder(Slow::default()).build().unwrap();
    send(&pool.check_out());
}

/// I8: a checkout polled once and then left unpolled (a zombie) does not keep the
/// connection the pool grants it: after `claim_timeout` the claim watcher takes it back
/// and serves the next waiter. The zombie, polled at last, queues again and is served.
#[tokio::test(start_paused = true)]
async fn zombie_grant_is_reclaimed_for_the_next_waiter() {
    let rec = Recorder::default();
    let options = PoolOptions {
        max_pool_size: 1,
        claim_timeout: Some(Duration::from_millis(50)),
        ..PoolOptions::default()
    };
    let pool = build(Slow::default(), options, &rec);
    let held = pool.check_out().await.unwrap();
    let mut zombie = Box::pin(pool.check_out());
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(
        zombie.as_mut().poll(&mut cx).is_pending(),
        "the zombie queues"
    );
    let live = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.check_out().await.map(|c| c.id()) })
    };
    tokio::task::yield_now().await; // the live checkout queues behind the zombie
    let started = tokio::time::Instant::now();
    drop(held); // granted to the zombie, which is never woken for real
    let served = live.await.unwrap().expect("the live checkout is served");
    let waited = started.elapsed();
    assert_eq!(served, 1, "the same connection, passed on");
    assert!(
        waited >= Duration::from_millis(50) && waited < Duration::from_millis(100),
        "served after one claim timeout, not before and not much later: {waited:?}"
    );
    assert_eq!(pool.status().counters.reclaimed, 1);
    // The zombie wakes up at last: it queues again and gets the (now free) connection.
    let conn = zombie.await.expect("the zombie is served after all");
    assert_eq!(conn.id(), 1);
    drop(conn);
    let s = pool.status();
    assert_eq!((s.total, s.available, s.waiters), (1, 1, 0), "{s:?}");
}

/// With `claim_timeout: None` a grant is kept for ever: the next waiter times out.
#[tokio::test(start_paused = true)]
async fn without_claim_timeout_a_zombie_keeps_its_grant() {
    let rec = Recorder::default();
    let options = PoolOptions {
        max_pool_size: 1,
        claim_timeout: None,
        wait_queue_timeout: Some(Duration::from_millis(500)),
        ..PoolOptions::default()
    };
    let pool = build(Slow::default(), options, &rec);
    let held = pool.check_out().await.unwrap();
    let mut zombie = Box::pin(pool.check_out());
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(zombie.as_mut().poll(&mut cx).is_pending());
    drop(held);
    let next = pool.check_out().await;
    assert!(
        matches!(next, Err(CheckoutError::Timeout { .. })),
        "{next:?}"
    );
    assert_eq!(pool.status().counters.reclaimed, 0);
    drop(zombie); // K11: the grant goes back when the zombie is finally dropped
    assert_eq!(pool.status().available, 1);
}
