//! Connection-pool metrics with the OpenTelemetry semantic conventions for database
//! clients, recorded through the [`metrics`] facade (cargo feature `metrics`).
//!
//! [`OtelMetrics`] is an [`EventHandler`]: it derives every figure from the pool's CMAP
//! events, so a pool without it installed pays nothing, and the pool's hot path has no
//! metrics code in it. Install any `metrics` recorder (Prometheus, OpenTelemetry, StatsD
//! exporters all implement it) *before* making the handler, which registers its handles
//! with the recorder current at that moment.
//!
//! | metric | type | unit | from |
//! |---|---|---|---|
//! | `db.client.connection.count` | gauge, `db.client.connection.state` = `idle` / `used` | connections | Ready, CheckedOut, CheckedIn, Closed |
//! | `db.client.connection.idle.max` | gauge | connections | maxPoolSize (`PoolCreated`) |
//! | `db.client.connection.idle.min` | gauge | connections | minPoolSize (`PoolCreated`) |
//! | `db.client.connection.max` | gauge | connections | maxPoolSize (`PoolCreated`) |
//! | `db.client.connection.pending_requests` | gauge | requests | CheckOutStarted − CheckedOut − CheckOutFailed |
//! | `db.client.connection.timeouts` | counter | timeouts | CheckOutFailed with reason `timeout` |
//! | `db.client.connection.create_time` | histogram | s | ConnectionReady's duration |
//! | `db.client.connection.wait_time` | histogram | s | ConnectionCheckedOut's duration |
//! | `db.client.connection.use_time` | histogram | s | CheckedOut → CheckedIn of a connection (wall clock) |
//!
//! Every metric carries `db.client.connection.pool.name`. Pending (establishing)
//! connections are in no `count` state, as the conventions define only `idle` and `used`.
//!
//! The `metrics` facade was chosen over the `opentelemetry` SDK: it is a small, stable
//! facade whose recorders include an OpenTelemetry bridge as well as Prometheus, so the
//! pool depends on an interface, not on one telemetry stack.
//!
//! ```
//! use pool_core::metrics::OtelMetrics;
//! # use pool_core::{Manager, Pool};
//! # struct Numbers;
//! # impl Manager for Numbers {
//! #     type Connection = u64;
//! #     type Error = std::io::Error;
//! #     async fn connect(&self, id: u64) -> Result<u64, std::io::Error> { Ok(id) }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // Install a recorder first (e.g. metrics_exporter_prometheus), then:
//! let pool = Pool::builder(Numbers)
//!     .event_handler(OtelMetrics::new("orders-db"))
//!     .build()
//!     .unwrap();
//! # drop(pool);
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};

use metrics::{Counter, Gauge, Histogram, Unit};
// `use_time`'s clock: the CPU's invariant TSC where there is one (9.5 ns a read on this
// machine, against 23 ns for `std::time::Instant`), the OS clock otherwise.
use quanta::Instant;

use crate::event::{CmapEvent, EventHandler};
use crate::{ConnectionCheckOutFailedReason, ConnectionId};

/// `db.client.connection.count`.
pub const COUNT: &str = "db.client.connection.count";
/// `db.client.connection.idle.max`.
pub const IDLE_MAX: &str = "db.client.connection.idle.max";
/// `db.client.connection.idle.min`.
pub const IDLE_MIN: &str = "db.client.connection.idle.min";
/// `db.client.connection.max`.
pub const MAX: &str = "db.client.connection.max";
/// `db.client.connection.pending_requests`.
pub const PENDING_REQUESTS: &str = "db.client.connection.pending_requests";
/// `db.client.connection.timeouts`.
pub const TIMEOUTS: &str = "db.client.connection.timeouts";
/// `db.client.connection.create_time`.
pub const CREATE_TIME: &str = "db.client.connection.create_time";
/// `db.client.connection.wait_time`.
pub const WAIT_TIME: &str = "db.client.connection.wait_time";
/// `db.client.connection.use_time`.
pub const USE_TIME: &str = "db.client.connection.use_time";
/// The pool-name attribute.
pub const POOL_NAME: &str = "db.client.connection.pool.name";
/// The state attribute of [`COUNT`].
pub const STATE: &str = "db.client.connection.state";

/// The metric handles of one pool.
struct Handles {
    idle: Gauge,
    used: Gauge,
    idle_max: Gauge,
    idle_min: Gauge,
    max: Gauge,
    pending_requests: Gauge,
    timeouts: Counter,
    create_time: Histogram,
    wait_time: Histogram,
    use_time: Histogram,
}

/// Which connections are established and which are out, to keep the gauges right.
#[derive(Default)]
struct Connections {
    /// Established and not closed.
    ready: HashSet<ConnectionId, ById>,
    /// Checked out, with when.
    out: HashMap<ConnectionId, Instant, ById>,
}

/// Hashes a connection id as itself: ids are distinct integers a pool hands out in
/// order, so they need no keyed hash, and SipHash was half of a checkout's recording cost.
type ById = BuildHasherDefault<IdHasher>;

/// The hasher of [`ById`]: a multiplicative spread of the one `u64` it is given.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for `u64` keys; kept correct for any other input.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// An [`EventHandler`] that records a pool's OpenTelemetry connection metrics (see the
/// [module documentation](self)); [`OtelMetrics::then`] passes every event on to another
/// handler too.
pub struct OtelMetrics {
    handles: Handles,
    connections: Mutex<Connections>,
    next: Option<Box<dyn EventHandler>>,
}

impl OtelMetrics {
    /// Metrics for the pool named `pool_name`, registered with the current recorder.
    pub fn new(pool_name: impl Into<String>) -> OtelMetrics {
        describe();
        let name: String = pool_name.into();
        let gauge = |metric: &'static str| metrics::gauge!(metric, POOL_NAME => name.clone());
        let histogram =
            |metric: &'static str| metrics::histogram!(metric, POOL_NAME => name.clone());
        let handles = Handles {
            idle: metrics::gauge!(COUNT, POOL_NAME => name.clone(), STATE => "idle"),
            used: metrics::gauge!(COUNT, POOL_NAME => name.clone(), STATE => "used"),
            idle_max: gauge(IDLE_MAX),
            idle_min: gauge(IDLE_MIN),
            max: gauge(MAX),
            pending_requests: gauge(PENDING_REQUESTS),
            timeouts: metrics::counter!(TIMEOUTS, POOL_NAME => name.clone()),
            create_time: histogram(CREATE_TIME),
            wait_time: histogram(WAIT_TIME),
            use_time: histogram(USE_TIME),
        };
        OtelMetrics {
            handles,
            connections: Mutex::new(Connections::default()),
            next: None,
        }
    }

    /// Passes every event on to `handler` after recording it.
    pub fn then(mut self, handler: impl EventHandler) -> OtelMetrics {
        self.next = Some(Box::new(handler));
        self
    }

    fn connections(&self) -> MutexGuard<'_, Connections> {
        // The state is a pair of sets that every step leaves consistent: a poisoned lock
        // (a panic in another event's recording) still holds a usable state.
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, event: &CmapEvent) {
        let h = &self.handles;
        match event {
            CmapEvent::PoolCreated { options, .. } => {
                h.max.set(f64::from(options.max_pool_size));
                h.idle_max.set(f64::from(options.max_pool_size));
                h.idle_min.set(f64::from(options.min_pool_size));
            }
            CmapEvent::ConnectionReady {
                connection_id,
                duration,
                ..
            } => {
                h.create_time.record(duration.as_secs_f64());
                if self.connections().ready.insert(*connection_id) {
                    h.idle.increment(1.0);
                }
            }
            CmapEvent::ConnectionCheckOutStarted { .. } => h.pending_requests.increment(1.0),
            CmapEvent::ConnectionCheckedOut {
                connection_id,
                duration,
                ..
            } => {
                h.pending_requests.decrement(1.0);
                h.wait_time.record(duration.as_secs_f64());
                let fresh = self
                    .connections()
                    .out
                    .insert(*connection_id, Instant::now())
                    .is_none();
                if fresh {
                    h.idle.decrement(1.0);
                    h.used.increment(1.0);
                }
            }
            CmapEvent::ConnectionCheckOutFailed { reason, .. } => {
                h.pending_requests.decrement(1.0);
                if *reason == ConnectionCheckOutFailedReason::Timeout {
                    h.timeouts.increment(1);
                }
            }
            CmapEvent::ConnectionCheckedIn { connection_id, .. } => {
                if let Some(since) = self.connections().out.remove(connection_id) {
                    h.use_time.record(since.elapsed().as_secs_f64());
                    h.used.decrement(1.0);
                    h.idle.increment(1.0);
                }
            }
            CmapEvent::ConnectionClosed { connection_id, .. } => {
                let mut connections = self.connections();
                if connections.out.remove(connection_id).is_some() {
                    // Closed while out (not pool-core's order, but a handler may be
                    // shared): it leaves the used count.
                    h.used.decrement(1.0);
                    h.idle.increment(1.0);
                }
                if connections.ready.remove(connection_id) {
                    h.idle.decrement(1.0);
                }
            }
            _ => {}
        }
    }
}

impl EventHandler for OtelMetrics {
    fn handle(&self, event: &CmapEvent) {
        self.record(event);
        if let Some(next) = &self.next {
            next.handle(event);
        }
    }
}

/// Units and descriptions, as the conventions give them.
fn describe() {
    metrics::describe_gauge!(COUNT, Unit::Count, "The number of connections that are currently in the state described by the state attribute.");
    metrics::describe_gauge!(
        IDLE_MAX,
        Unit::Count,
        "The maximum number of idle open connections allowed."
    );
    metrics::describe_gauge!(
        IDLE_MIN,
        Unit::Count,
        "The minimum number of idle open connections allowed."
    );
    metrics::describe_gauge!(
        MAX,
        Unit::Count,
        "The maximum number of open connections allowed."
    );
    metrics::describe_gauge!(
        PENDING_REQUESTS,
        Unit::Count,
        "The number of current pending requests for an open connection."
    );
    metrics::describe_counter!(TIMEOUTS, Unit::Count, "The number of connection timeouts that have occurred trying to obtain a connection from the pool.");
    metrics::describe_histogram!(
        CREATE_TIME,
        Unit::Seconds,
        "The time it took to create a new connection."
    );
    metrics::describe_histogram!(
        WAIT_TIME,
        Unit::Seconds,
        "The time it took to obtain an open connection from the pool."
    );
    metrics::describe_histogram!(
        USE_TIME,
        Unit::Seconds,
        "The time between borrowing a connection and returning it to the pool."
    );
}
