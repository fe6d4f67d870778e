//! Goal: the borrowing guard (`Pool::get` → `BorrowedConnection`) is the owned guard's
//! behaviour without its reference count: the same checkout and check-in, the same events
//! and counters, errored connections closed, leak detection on it, and `into_owned`
//! moving the checkout into an owned guard without checking anything in or out.
//! Method: pools of plain numbers on paused Tokio time, with their events recorded.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pool_core::{CmapEvent, ConnectionClosedReason, Manager, Pool, PooledConnection};

struct Numbers;

impl Manager for Numbers {
    type Connection = u64;
    type Error = std::io::Error;
    async fn connect(&self, id: u64) -> Result<u64, std::io::Error> {
        Ok(id)
    }
}

type Log = Arc<Mutex<Vec<CmapEvent>>>;

fn pool_with_log(max: u32) -> (Pool<Numbers>, Log) {
    let log: Log = Arc::default();
    let sink = log.clone();
    let pool = Pool::builder(Numbers)
        .max_pool_size(max)
        .event_handler(move |event: &CmapEvent| {
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(event.clone());
        })
        .ready()
        .build()
        .expect("a valid pool");
    (pool, log)
}

/// The names of the events recorded since the last call, in order.
fn drain(log: &Log) -> Vec<String> {
    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
    log.drain(..)
        .map(|event| {
            let debug = format!("{event:?}");
            debug
                .split([' ', '{', '('])
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_borrowed_checkout_reports_and_counts_like_an_owned_one() {
    let (pool, log) = pool_with_log(2);
    drain(&log);

    let owned = pool.check_out().await.expect("owned checkout");
    let owned_id = owned.id();
    drop(owned);
    let owned_events = drain(&log);

    let borrowed = pool.get().await.expect("borrowed checkout");
    assert_eq!(
        borrowed.id(),
        owned_id,
        "the connection checked in is reused"
    );
    assert_eq!(
        *borrowed, owned_id,
        "the guard dereferences to the connection"
    );
    assert_eq!(pool.status().in_use, 1, "the borrowed checkout is in use");
    drop(borrowed);
    let borrowed_events = drain(&log);

    assert_eq!(
        borrowed_events,
        vec![
            "ConnectionCheckOutStarted",
            "ConnectionCheckedOut",
            "ConnectionCheckedIn"
        ],
        "a reused connection's cycle is three events"
    );
    assert_eq!(
        borrowed_events[1..],
        owned_events[owned_events.len() - 2..],
        "both guards end the same way"
    );
    let status = pool.status();
    assert_eq!(status.in_use, 0, "dropping the guard checked it in");
    assert_eq!(status.available, 1);
    assert_eq!(status.counters.checked_out, 2);
    assert_eq!(status.counters.created, 1, "one connection served both");
}

#[tokio::test(start_paused = true)]
async fn an_errored_borrowed_connection_is_closed_at_check_in() {
    let (pool, log) = pool_with_log(2);
    let mut conn = pool.get().await.expect("checkout");
    let id = conn.id();
    conn.mark_errored();
    conn.check_in();
    let closed = log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find_map(|event| match event {
            CmapEvent::ConnectionClosed {
                connection_id,
                reason,
                ..
            } => Some((*connection_id, *reason)),
            _ => None,
        });
    assert_eq!(closed, Some((id, ConnectionClosedReason::Error)));
    assert_eq!(pool.status().total, 0, "the errored connection is gone");
    assert_eq!(pool.status().counters.closed_by.error, 1);
}

#[tokio::test(start_paused = true)]
async fn into_owned_moves_the_checkout_without_a_check_in() {
    let (pool, log) = pool_with_log(1);
    let borrowed = pool.get().await.expect("checkout");
    let id = borrowed.id();
    drain(&log);

    let owned: PooledConnection<Numbers> = borrowed.into_owned();
    assert!(
        drain(&log).is_empty(),
        "into_owned neither checks in nor checks out"
    );
    assert_eq!(owned.id(), id);
    assert_eq!(pool.status().in_use, 1, "still one checkout");

    // The owned guard outlives the borrow: it moves into a task and is checked in there.
    let task = tokio::spawn(async move {
        let id = owned.id();
        drop(owned);
        id
    });
    assert_eq!(task.await.expect("the task ran"), id);
    assert_eq!(drain(&log), vec!["ConnectionCheckedIn"]);
    let status = pool.status();
    assert_eq!(status.in_use, 0);
    assert_eq!(status.available, 1);
    assert_eq!(status.counters.checked_out, 1, "checked out exactly once");
}

#[tokio::test(start_paused = true)]
async fn a_borrowed_connection_held_too_long_is_reported_once_and_returned_once() {
    let leaks: Log = Arc::default();
    let sink = leaks.clone();
    let pool = Pool::builder(Numbers)
        .leak_detection_threshold(Some(Duration::from_millis(100)))
        .event_handler(move |event: &CmapEvent| {
            if matches!(
                event,
                CmapEvent::ConnectionLeakSuspected { .. }
                    | CmapEvent::ConnectionLeakReturned { .. }
            ) {
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(event.clone());
            }
        })
        .ready()
        .build()
        .expect("a valid pool");
    let conn = pool.get().await.expect("checkout");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(drain(&leaks), vec!["ConnectionLeakSuspected"]);
    drop(conn);
    assert_eq!(drain(&leaks), vec!["ConnectionLeakReturned"]);
}

#[tokio::test(start_paused = true)]
async fn a_waiting_borrowed_checkout_is_served_in_fifo_order() {
    let (pool, _log) = pool_with_log(1);
    let first = pool.get().await.expect("checkout");
    let first_id = first.id();
    let order: Arc<Mutex<Vec<u32>>> = Arc::default();
    let mut tasks = Vec::new();
    for n in 0..3u32 {
        let shared = pool.clone();
        let order = order.clone();
        tasks.push(tokio::spawn(async move {
            let conn = shared.get().await.expect("queued checkout");
            order.lock().unwrap_or_else(|e| e.into_inner()).push(n);
            conn.id()
        }));
        // Let the task queue before the next one starts.
        while pool.status().waiters != n + 1 {
            tokio::task::yield_now().await;
        }
    }
    drop(first);
    for task in tasks {
        assert_eq!(
            task.await.expect("task"),
            first_id,
            "one connection serves all"
        );
    }
    assert_eq!(
        *order.lock().unwrap_or_else(|e| e.into_inner()),
        vec![0, 1, 2],
        "queued borrowed checkouts are served oldest first"
    );
}
