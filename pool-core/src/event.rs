//! The eleven CMAP events, poolcheck's own (leak detection, test-on-borrow), and the
//! handler that receives them.
//!
//! Events are emitted outside every critical section, on the thread whose action caused
//! them. Each thread's events reach the handler in the order CMAP prescribes (for
//! example `ConnectionCheckedIn` before the `ConnectionClosed` of a perished connection).

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A connection's id: 1, 2, 3, … in creation order, per pool.
pub type ConnectionId = u64;

/// Why a connection was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionClosedReason {
    /// Its generation is behind the pool's (the pool was cleared since it was made).
    Stale,
    /// It was available for longer than `max_idle_time`.
    Idle,
    /// It failed to establish, or its user marked it errored.
    Error,
    /// The pool was closed.
    PoolClosed,
    /// It outlived `max_lifetime` (not part of CMAP).
    Expired,
}

/// Why a checkout failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionCheckOutFailedReason {
    /// The pool is closed.
    PoolClosed,
    /// The wait queue timeout passed.
    Timeout,
    /// Establishment failed, or the pool is paused or was cleared.
    ConnectionError,
}

/// One CMAP event. Serialized with CMAP's test names in a `type` field, e.g.
/// `{"type":"ConnectionCheckedOut","address":"…","connectionId":1,"duration":0.2}`
/// (durations in milliseconds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
#[non_exhaustive]
pub enum CmapEvent {
    /// The pool was created.
    #[serde(rename = "ConnectionPoolCreated")]
    PoolCreated {
        /// The pool's address.
        address: Arc<str>,
        /// The options the pool was created with (boxed: they are larger than every
        /// other event, and every event is moved by value to its handler).
        options: Box<crate::PoolOptions>,
    },
    /// paused → ready.
    #[serde(rename = "ConnectionPoolReady")]
    PoolReady {
        /// The pool's address.
        address: Arc<str>,
    },
    /// ready → paused, with a new generation.
    #[serde(rename = "ConnectionPoolCleared")]
    PoolCleared {
        /// The pool's address.
        address: Arc<str>,
        /// Whether in-use and pending connections of older generations were interrupted.
        interrupt_in_use_connections: bool,
    },
    /// The pool was closed (after its available connections were).
    #[serde(rename = "ConnectionPoolClosed")]
    PoolClosed {
        /// The pool's address.
        address: Arc<str>,
    },
    /// A connection was created (it is pending until established).
    ConnectionCreated {
        /// The pool's address.
        address: Arc<str>,
        /// The new connection's id.
        connection_id: ConnectionId,
    },
    /// A connection finished establishing.
    ConnectionReady {
        /// The pool's address.
        address: Arc<str>,
        /// The connection's id.
        connection_id: ConnectionId,
        /// Time from `ConnectionCreated` to now.
        #[serde(with = "duration_ms")]
        duration: Duration,
    },
    /// A connection left the pool for good.
    ConnectionClosed {
        /// The pool's address.
        address: Arc<str>,
        /// The connection's id.
        connection_id: ConnectionId,
        /// Why.
        reason: ConnectionClosedReason,
    },
    /// A checkout began.
    #[serde(rename = "ConnectionCheckOutStarted")]
    ConnectionCheckOutStarted {
        /// The pool's address.
        address: Arc<str>,
    },
    /// A checkout failed.
    #[serde(rename = "ConnectionCheckOutFailed")]
    ConnectionCheckOutFailed {
        /// The pool's address.
        address: Arc<str>,
        /// Why.
        reason: ConnectionCheckOutFailedReason,
        /// Time since `ConnectionCheckOutStarted`.
        #[serde(with = "duration_ms")]
        duration: Duration,
    },
    /// A checkout succeeded.
    ConnectionCheckedOut {
        /// The pool's address.
        address: Arc<str>,
        /// The connection handed out.
        connection_id: ConnectionId,
        /// Time since `ConnectionCheckOutStarted`: zero for a checkout served at once from
        /// the fast path, which reads no clock; a checkout that queued, established or
        /// validated is timed from the moment its queue-free attempt failed.
        #[serde(with = "duration_ms")]
        duration: Duration,
    },
    /// A connection came back (emitted before any close of it).
    ConnectionCheckedIn {
        /// The pool's address.
        address: Arc<str>,
        /// The connection's id.
        connection_id: ConnectionId,
    },
    /// A connection has been checked out for longer than `leak_detection_threshold` (not
    /// part of CMAP; at most once per checkout).
    ConnectionLeakSuspected {
        /// The pool's address.
        address: Arc<str>,
        /// The connection's id.
        connection_id: ConnectionId,
        /// How long it had been out.
        #[serde(with = "duration_ms")]
        held: Duration,
    },
    /// A connection reported by `ConnectionLeakSuspected` came back (before its
    /// `ConnectionCheckedIn`; not part of CMAP).
    ConnectionLeakReturned {
        /// The pool's address.
        address: Arc<str>,
        /// The connection's id.
        connection_id: ConnectionId,
        /// How long it was out.
        #[serde(with = "duration_ms")]
        held: Duration,
    },
    /// A checkout is validating a connection it took from the pool before handing it out
    /// (`test_on_borrow`; not part of CMAP). Followed by `ConnectionValidated` if the check
    /// passes, else by the connection's `ConnectionClosed` (reason `error`).
    ConnectionValidating {
        /// The pool's address.
        address: Arc<str>,
        /// The connection's id.
        connection_id: ConnectionId,
    },
    /// A connection passed its validation (after `ConnectionValidating`; not part of
    /// CMAP). Its checkout's `ConnectionCheckedOut` follows, or, if the pool was cleared
    /// or closed during the check, its `ConnectionClosed`.
    ConnectionValidated {
        /// The pool's address.
        address: Arc<str>,
        /// The connection's id.
        connection_id: ConnectionId,
    },
}

impl CmapEvent {
    /// The event's name as the CMAP spec tests write it (`ConnectionPoolCreated`, …).
    pub fn name(&self) -> &'static str {
        match self {
            CmapEvent::PoolCreated { .. } => "ConnectionPoolCreated",
            CmapEvent::PoolReady { .. } => "ConnectionPoolReady",
            CmapEvent::PoolCleared { .. } => "ConnectionPoolCleared",
            CmapEvent::PoolClosed { .. } => "ConnectionPoolClosed",
            CmapEvent::ConnectionCreated { .. } => "ConnectionCreated",
            CmapEvent::ConnectionReady { .. } => "ConnectionReady",
            CmapEvent::ConnectionClosed { .. } => "ConnectionClosed",
            CmapEvent::ConnectionCheckOutStarted { .. } => "ConnectionCheckOutStarted",
            CmapEvent::ConnectionCheckOutFailed { .. } => "ConnectionCheckOutFailed",
            CmapEvent::ConnectionCheckedOut { .. } => "ConnectionCheckedOut",
            CmapEvent::ConnectionCheckedIn { .. } => "ConnectionCheckedIn",
            CmapEvent::ConnectionLeakSuspected { .. } => "ConnectionLeakSuspected",
            CmapEvent::ConnectionLeakReturned { .. } => "ConnectionLeakReturned",
            CmapEvent::ConnectionValidating { .. } => "ConnectionValidating",
            CmapEvent::ConnectionValidated { .. } => "ConnectionValidated",
        }
    }

    /// The connection the event is about, if any.
    pub fn connection_id(&self) -> Option<ConnectionId> {
        match self {
            CmapEvent::ConnectionCreated { connection_id, .. }
            | CmapEvent::ConnectionReady { connection_id, .. }
            | CmapEvent::ConnectionClosed { connection_id, .. }
            | CmapEvent::ConnectionCheckedOut { connection_id, .. }
            | CmapEvent::ConnectionCheckedIn { connection_id, .. }
            | CmapEvent::ConnectionLeakSuspected { connection_id, .. }
            | CmapEvent::ConnectionLeakReturned { connection_id, .. }
            | CmapEvent::ConnectionValidating { connection_id, .. }
            | CmapEvent::ConnectionValidated { connection_id, .. } => Some(*connection_id),
            _ => None,
        }
    }
}

/// Receives every event of a pool.
///
/// It is called on the thread that caused the event, never inside a critical section;
/// it must not block for long, since that thread is usually a checkout or a check-in.
///
/// The event is lent, not given: a handler that keeps events clones the ones it keeps,
/// and one that only looks (counts, metrics, filters) pays for no copy. A closure
/// `Fn(&CmapEvent)` is a handler.
pub trait EventHandler: Send + Sync + 'static {
    /// Handles one event.
    fn handle(&self, event: &CmapEvent);
}

impl<F: Fn(&CmapEvent) + Send + Sync + 'static> EventHandler for F {
    fn handle(&self, event: &CmapEvent) {
        self(event)
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1000.0)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        if ms.is_finite() && ms >= 0.0 {
            Ok(Duration::from_secs_f64(ms / 1000.0))
        } else {
            Err(serde::de::Error::custom(
                "a duration must be a non-negative number of ms",
            ))
        }
    }
}
