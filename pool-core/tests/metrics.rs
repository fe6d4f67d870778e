//! Goal: `OtelMetrics` records exactly the figures the OpenTelemetry conventions define,
//! from the pool's events. Method: a pool on paused Tokio time with a debugging recorder
//! installed for this thread; each phase (checkouts, a timeout, check-ins, a close) is
//! followed by reading every metric back.

use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use std::collections::HashMap;

use pool_core::metrics::{self as m, OtelMetrics};
use pool_core::{CheckoutError, Manager, Pool};

struct Numbers;

impl Manager for Numbers {
    type Connection = u64;
    type Error = std::io::Error;
    async fn connect(&self, id: u64) -> Result<u64, std::io::Error> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok(id)
    }
}

/// The metrics of the pool named `test-pool`, read through a debugging recorder's
/// snapshots. A snapshot drains what it reads (counters and gauges are swapped to zero,
/// histograms emptied), so the totals add every snapshot up; the samples are those of the
/// last phase only.
#[derive(Default)]
struct Totals {
    values: HashMap<(String, Option<String>), f64>,
    samples: HashMap<String, Vec<f64>>,
}

impl Totals {
    /// Reads everything recorded since the last phase.
    fn phase(&mut self, snapshotter: &Snapshotter) {
        self.samples.clear();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let key: &metrics::Key = key.key();
            let labels: Vec<_> = key.labels().collect();
            if !labels
                .iter()
                .any(|l| l.key() == m::POOL_NAME && l.value() == "test-pool")
            {
                continue;
            }
            let state = labels
                .iter()
                .find(|l| l.key() == m::STATE)
                .map(|l| l.value().to_string());
            let name = key.name().to_string();
            match value {
                DebugValue::Gauge(v) => {
                    *self.values.entry((name, state)).or_default() += v.into_inner()
                }
                DebugValue::Counter(n) => {
                    *self.values.entry((name, state)).or_default() += n as f64
                }
                DebugValue::Histogram(v) => {
                    self.samples
                        .insert(name, v.iter().map(|x| x.into_inner()).collect());
                }
            }
        }
    }

    fn value(&self, name: &str, state: Option<&str>) -> f64 {
        let key = (name.to_string(), state.map(str::to_string));
        *self
            .values
            .get(&key)
            .unwrap_or_else(|| panic!("no metric {name} {state:?}"))
    }

    fn samples(&self, name: &str) -> Vec<f64> {
        self.samples.get(name).cloned().unwrap_or_default()
    }
}

#[tokio::test(start_paused = true)]
async fn every_convention_metric_follows_the_pool() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    let mut totals = Totals::default();
    let pool = Pool::builder(Numbers)
        .max_pool_size(2)
        .min_pool_size(1)
        .wait_queue_timeout(Some(Duration::from_millis(100)))
        .event_handler(OtelMetrics::new("test-pool"))
        .ready()
        .build()
        .expect("a valid pool");
    let a = pool.check_out().await.expect("first");
    let b = pool.check_out().await.expect("second");
    totals.phase(&snapshotter);
    assert_eq!(totals.value(m::COUNT, Some("used")), 2.0);
    assert_eq!(totals.value(m::COUNT, Some("idle")), 0.0);
    assert_eq!(totals.value(m::MAX, None), 2.0);
    assert_eq!(totals.value(m::IDLE_MAX, None), 2.0);
    assert_eq!(totals.value(m::IDLE_MIN, None), 1.0);
    // Two connections, each 5 ms to establish (the pool may pre-fill minPoolSize).
    let waits = totals.samples(m::WAIT_TIME);
    assert_eq!(waits.len(), 2, "{waits:?}");
    let creates = totals.samples(m::CREATE_TIME);
    assert!(
        creates.len() >= 2 && creates.iter().all(|&s| s >= 0.005),
        "{creates:?}"
    );

    // The pool is exhausted: a third checkout waits 100 ms and times out.
    let third = pool.check_out().await;
    assert!(
        matches!(third, Err(CheckoutError::Timeout { .. })),
        "{third:?}"
    );
    totals.phase(&snapshotter);
    assert_eq!(totals.value(m::TIMEOUTS, None), 1.0);
    assert_eq!(totals.value(m::PENDING_REQUESTS, None), 0.0);
    // A failed checkout is no wait_time sample (the conventions time obtaining one).
    assert!(totals.samples(m::WAIT_TIME).is_empty());

    tokio::time::sleep(Duration::from_millis(40)).await;
    drop(a);
    drop(b);
    totals.phase(&snapshotter);
    assert_eq!(totals.value(m::COUNT, Some("used")), 0.0);
    assert_eq!(totals.value(m::COUNT, Some("idle")), 2.0);
    // One use_time sample per check-in (measured on the wall clock, which this test's
    // paused Tokio time does not move, so only their number is checked).
    let uses = totals.samples(m::USE_TIME);
    assert_eq!(uses.len(), 2, "{uses:?}");

    pool.close();
    tokio::task::yield_now().await;
    totals.phase(&snapshotter);
    assert_eq!(totals.value(m::COUNT, Some("idle")), 0.0);
    assert_eq!(totals.value(m::COUNT, Some("used")), 0.0);
}

#[tokio::test(start_paused = true)]
async fn the_next_handler_sees_every_event() {
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = seen.clone();
    let handler = OtelMetrics::new("chained").then(move |_event: &pool_core::CmapEvent| {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    });
    let pool = Pool::builder(Numbers)
        .event_handler(handler)
        .ready()
        .build()
        .expect("a valid pool");
    drop(pool.check_out().await.expect("checkout"));
    // Created, Ready (pool), CheckOutStarted, ConnectionCreated, ConnectionReady,
    // CheckedOut, CheckedIn.
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 7);
}
