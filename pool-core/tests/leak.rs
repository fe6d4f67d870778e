//! Goal: leak detection reports exactly the connections held past
//! `leak_detection_threshold` — once when the threshold passes (event and a warning with
//! the checkout's backtrace) and once when such a connection comes back — and nothing for
//! connections returned in time. Method: a pool on paused Tokio time, its events
//! recorded and its `tracing` output captured into a buffer.

use std::io::Write;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pool_core::{CmapEvent, Manager, Pool};

struct Numbers;

impl Manager for Numbers {
    type Connection = u64;
    type Error = std::io::Error;
    async fn connect(&self, id: u64) -> Result<u64, std::io::Error> {
        Ok(id)
    }
}

/// What the `tracing` subscriber wrote.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// The leak events recorded: (name, connection id, held).
type Leaks = Arc<Mutex<Vec<(&'static str, u64, Duration)>>>;

fn leak_pool(threshold: Duration, leaks: &Leaks) -> Pool<Numbers> {
    let sink = leaks.clone();
    Pool::builder(Numbers)
        .leak_detection_threshold(Some(threshold))
        .event_handler(move |event: &CmapEvent| {
            let entry = match *event {
                CmapEvent::ConnectionLeakSuspected {
                    connection_id,
                    held,
                    ..
                } => ("suspected", connection_id, held),
                CmapEvent::ConnectionLeakReturned {
                    connection_id,
                    held,
                    ..
                } => ("returned", connection_id, held),
                _ => return,
            };
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(entry);
        })
        .ready()
        .build()
        .expect("a valid pool")
}

/// The line of `check_out_and_forget`'s checkout, for builds whose debug info names an
/// async fn's body only by its location (`{async_fn#0}` at `tests/leak.rs:LINE`).
static CHECKOUT_LINE: AtomicU32 = AtomicU32::new(0);

#[inline(never)]
async fn check_out_and_forget(pool: &Pool<Numbers>) -> pool_core::PooledConnection<Numbers> {
    CHECKOUT_LINE.store(line!() + 1, Relaxed);
    pool.check_out().await.expect("a connection")
}

#[tokio::test(start_paused = true)]
async fn a_connection_held_past_the_threshold_is_reported_twice_and_one_returned_in_time_never() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let leaks = Leaks::default();
    let pool = leak_pool(Duration::from_millis(100), &leaks);

    // Returned after 99 ms: below the threshold, never reported.
    let quick = pool.check_out().await.expect("a connection");
    tokio::time::sleep(Duration::from_millis(99)).await;
    drop(quick);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(leaks.lock().expect("leaks").is_empty());

    // Held for 250 ms: reported at 100 ms, and again when it comes back.
    let slow = check_out_and_forget(&pool).await;
    let id = slow.id();
    tokio::time::sleep(Duration::from_millis(99)).await;
    assert!(
        leaks.lock().expect("leaks").is_empty(),
        "not before the threshold"
    );
    tokio::time::sleep(Duration::from_millis(2)).await;
    {
        let seen = leaks.lock().expect("leaks").clone();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!((seen[0].0, seen[0].1), ("suspected", id));
        assert!(seen[0].2 >= Duration::from_millis(100), "{seen:?}");
    }
    tokio::time::sleep(Duration::from_millis(149)).await;
    drop(slow);
    let seen = leaks.lock().expect("leaks").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!((seen[1].0, seen[1].1), ("returned", id));
    assert!(seen[1].2 >= Duration::from_millis(250), "{seen:?}");

    // The warning names the connection and carries the checkout's backtrace.
    let text = captured.text();
    assert!(text.contains("possible connection leak"), "{text}");
    let at = format!("leak.rs:{}:", CHECKOUT_LINE.load(Relaxed));
    assert!(
        text.contains("check_out_and_forget") || text.contains(&at),
        "no checkout frame (by name, or at {at}) in:\n{text}"
    );
    assert_eq!(
        text.matches("possible connection leak").count(),
        1,
        "{text}"
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_option_nothing_is_watched() {
    let leaks = Leaks::default();
    let sink = leaks.clone();
    let pool = Pool::builder(Numbers)
        .event_handler(move |event: &CmapEvent| {
            if matches!(event, CmapEvent::ConnectionLeakSuspected { .. }) {
                sink.lock().unwrap_or_else(|e| e.into_inner()).push((
                    "suspected",
                    0,
                    Duration::ZERO,
                ));
            }
        })
        .ready()
        .build()
        .expect("a valid pool");
    let held = pool.check_out().await.expect("a connection");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    drop(held);
    assert!(leaks.lock().expect("leaks").is_empty());
}
