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

/// An [`EventSink`] that keeps what it is told, for the kit's tests.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Collect(pub(crate) std::sync::Mutex<Vec<PoolEvent>>);

#[cfg(test)]
impl EventSink for Collect {
    fn emit(&self, event: PoolEvent) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }
}

#[cfg(test)]
impl Collect {
    pub(crate) fn take(&self) -> Vec<PoolEvent> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_closed_is_reported_once() {
        let sink = Arc::new(Collect::default());
        let events = PoolEvents::from_sink(sink.clone());
        assert!(!events.is_closed());
        assert!(events.close());
        assert!(!events.clone().close());
        assert!(events.is_closed());
        assert_eq!(sink.take(), vec![PoolEvent::PoolClosed]);
    }
}
