//! Goal: `status().wait_times` reports how long successful checkouts waited — zero for
//! those served at once, the queue time for those that queued, the establishment time
//! for those whose connection was made for them — and leaves failed checkouts out.
//! Method: a pool on paused Tokio time whose manager takes a known time to connect;
//! waits are made with virtual sleeps, so every figure is exact.

use std::time::Duration;

use pool_core::{CheckoutError, Manager, Pool};

/// Connections that take `CONNECT` to establish.
struct Slow;

const CONNECT: Duration = Duration::from_millis(5);

impl Manager for Slow {
    type Connection = u64;
    type Error = std::io::Error;
    async fn connect(&self, id: u64) -> Result<u64, std::io::Error> {
        tokio::time::sleep(CONNECT).await;
        Ok(id)
    }
}

fn pool(max: u32) -> Pool<Slow> {
    Pool::builder(Slow)
        .max_pool_size(max)
        .maintenance_interval(None)
        .ready()
        .build()
        .expect("a valid pool")
}

#[tokio::test(start_paused = true)]
async fn an_establishment_and_a_queue_wait_are_recorded_and_a_reuse_is_zero() {
    let pool = pool(1);
    assert_eq!(pool.status().wait_times, Default::default());

    // 1: establishes its connection (5 ms).
    let first = pool.check_out().await.expect("first checkout");
    // 2: queues behind it for 30 ms.
    let queued = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.check_out().await.map(|c| c.id()) })
    };
    while pool.status().waiters != 1 {
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(30)).await;
    drop(first);
    assert!(queued.await.expect("task").is_ok());
    // 3 and 4: served at once from the available connection.
    drop(pool.check_out().await.expect("third checkout"));
    drop(pool.get().await.expect("fourth checkout"));

    let w = pool.status().wait_times;
    assert_eq!(pool.status().counters.checked_out, 4);
    assert_eq!(w.waited, 2, "the establishment and the queued checkout");
    assert_eq!(w.max, Duration::from_millis(30), "the queue wait, exactly");
    assert_eq!(
        w.p50,
        Duration::ZERO,
        "half the checkouts were served at once"
    );
    assert!(
        w.p90 >= Duration::from_millis(24) && w.p90 <= Duration::from_millis(30),
        "the 90th percentile is the queue wait's bucket: {w:?}"
    );
    assert_eq!(w.p99, Duration::from_millis(30));
    assert_eq!(w.p999, Duration::from_millis(30));
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_checkout_is_not_a_wait() {
    let pool = Pool::builder(Slow)
        .max_pool_size(1)
        .maintenance_interval(None)
        .wait_queue_timeout(Some(Duration::from_millis(10)))
        .ready()
        .build()
        .expect("a valid pool");
    let held = pool.check_out().await.expect("checkout");
    let timed_out = pool.check_out().await;
    assert!(matches!(timed_out, Err(CheckoutError::Timeout { .. })));
    drop(held);
    let status = pool.status();
    assert_eq!(status.counters.timeouts, 1);
    assert_eq!(status.wait_times.waited, 1, "only the establishment");
    assert_eq!(status.wait_times.max, CONNECT);
}
