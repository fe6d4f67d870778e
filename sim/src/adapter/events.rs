//! [`PoolEvents`]: where an adapter reports its pool's events, and whether the pool was
//! closed.
//!
//! # State machine
//! ```text
//! open ──close()──▶ closed      (once; a second close() reports nothing)
//! ```
//! Invariants: `PoolClosed` is emitted exactly once, by the first [`PoolEvents::close`];
//! [`PoolEvents::is_closed`] is true from that call on, before `PoolClosed` is emitted, so
//! every connection dropped while the pool shuts down is reported with reason
//! `poolClosed`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use pool_core::{ConnectionCheckOutFailedReason, ConnectionId};

use crate::pool_under_test::{CheckoutFailure, EventSink, PoolEvent, PoolParams};

/// The pool's event sink plus its closed flag. Cheap to clone; clones share both.
#[derive(Clone)]
pub struct PoolEvents {
    inner: Arc<Inner>,
}

struct Inner {
    sink: Arc<dyn EventSink>,
    closed: AtomicBool,
}

impl std::fmt::Debug for PoolEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolEvents")
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl PoolEvents {
    /// The events of the pool built from `params`.
    pub fn new(params: &PoolParams) -> PoolEvents {
        PoolEvents::from_sink(params.sink.clone())
    }

    /// Events that go to `sink`.
    pub fn from_sink(sink: Arc<dyn EventSink>) -> PoolEvents {
        PoolEvents {
            inner: Arc::new(Inner {
                sink,
                closed: AtomicBool::new(false),
            }),
        }
    }

    /// Reports one event.
    pub fn emit(&self, event: PoolEvent) {
        self.inner.sink.emit(event);
    }

    /// Reports `PoolReady` (once, at build, for a pool without pause).
    pub fn pool_ready(&self) {
        self.emit(PoolEvent::PoolReady);
    }

    /// Marks the pool closed and reports `PoolClosed`, the first time only. Returns true
    /// if this call closed it (then the adapter shuts the pool down).
    pub fn close(&self) -> bool {
        if self.inner.closed.swap(true, Ordering::SeqCst) {
            return false;
        }
        self.emit(PoolEvent::PoolClosed);
        true
    }

    /// True once [`PoolEvents::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.load(Ordering::SeqCst)
    }

    /// Reports `CheckedIn` for `id`.
    pub fn checked_in(&self, id: ConnectionId) {
        self.emit(PoolEvent::CheckedIn { id });
    }
}

/// The CMAP reason a `CheckOutFailed` event carries for `failure`: `timeout` for a
/// timeout, `poolClosed` for a closed pool, `connectionError` for everything else.
pub fn failed_reason(failure: &CheckoutFailure) -> ConnectionCheckOutFailedReason {
    match failure {
        CheckoutFailure::Timeout => ConnectionCheckOutFailedReason::Timeout,
        CheckoutFailure::PoolClosed => ConnectionCheckOutFailedReason::PoolClosed,
        _ => ConnectionCheckOutFailedReason::ConnectionError,
    }
}
