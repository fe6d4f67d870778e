//! Connection counters for `serverStatus.connections`, kept exact on every path.
//!
//! Each established connection holds an `Established` guard that decrements `current`
//! when dropped, so closes the server causes (fail points, protocol errors, restarts,
//! cancelled tasks) are counted as surely as closes by the client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::limits::INCOMING_CONNECTIONS_DEFAULT;

/// A snapshot of the connection counters, named as in `serverStatus.connections`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionStats {
    /// Established connections now.
    pub current: u64,
    /// How many more the limit allows (`maxIncomingConnections - current`).
    pub available: u64,
    /// Connections established since the server started (monotonic).
    pub total_created: u64,
    /// Connections turned away (refuse fault or over the connection limit).
    pub rejected: u64,
    /// Connections running a command right now.
    pub active: u64,
    /// Connections parked in an awaitable hello.
    pub awaiting_topology_changes: u64,
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    current: AtomicU64,
    total_created: AtomicU64,
    rejected: AtomicU64,
    active: AtomicU64,
    awaiting: AtomicU64,
}

/// Holds one unit of `current` while a connection is established.
#[derive(Debug)]
pub(crate) struct Established(Arc<Counters>);

/// Holds one unit of a gauge (`active` or `awaiting`) for the length of a scope.
#[derive(Debug)]
pub(crate) struct Gauge<'a>(&'a AtomicU64);

impl Counters {
    /// Admits a connection if `limit` allows it, like mongod's `maxIncomingConnections`.
    /// `None` means the connection must be closed (and it is counted as rejected).
    pub(crate) fn admit(self: &Arc<Self>, limit: Option<u32>) -> Option<Established> {
        let limit = u64::from(limit.unwrap_or(INCOMING_CONNECTIONS_DEFAULT));
        // fetch_update retries only when another connection changed `current` between the
        // load and the store, so every retry means progress elsewhere (lock-free).
        let admitted = self
            .current
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .is_ok();
        if !admitted {
            self.reject();
            return None;
        }
        self.total_created.fetch_add(1, Ordering::Relaxed);
        Some(Established(Arc::clone(self)))
    }

    /// Counts a connection turned away before it was established.
    pub(crate) fn reject(&self) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks a command as running until the guard drops.
    pub(crate) fn active(&self) -> Gauge<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        Gauge(&self.active)
    }

    /// Marks an awaitable hello as parked until the guard drops.
    pub(crate) fn awaiting(&self) -> Gauge<'_> {
        self.awaiting.fetch_add(1, Ordering::Relaxed);
        Gauge(&self.awaiting)
    }

    /// A snapshot; `limit` is the current `maxIncomingConnections`.
    pub(crate) fn snapshot(&self, limit: Option<u32>) -> ConnectionStats {
        let current = self.current.load(Ordering::Acquire);
        let limit = u64::from(limit.unwrap_or(INCOMING_CONNECTIONS_DEFAULT));
        ConnectionStats {
            current,
            available: limit.saturating_sub(current),
            total_created: self.total_created.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            awaiting_topology_changes: self.awaiting.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Established {
    fn drop(&mut self) {
        let before = self.0.current.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(
            before > 0,
            "connection gauge underflow: a close was counted twice"
        );
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        let before = self.0.fetch_sub(1, Ordering::Relaxed);
        debug_assert!(before > 0, "gauge underflow");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admission_respects_the_limit_and_drops_decrement() {
        let counters = Arc::new(Counters::default());
        let a = counters.admit(Some(2)).expect("room");
        let b = counters.admit(Some(2)).expect("room");
        assert!(counters.admit(Some(2)).is_none());
        let s = counters.snapshot(Some(2));
        assert_eq!(
            (s.current, s.available, s.total_created, s.rejected),
            (2, 0, 2, 1)
        );
        drop(a);
        drop(b);
        let s = counters.snapshot(Some(2));
        assert_eq!((s.current, s.available, s.total_created), (0, 2, 2));
    }

    #[test]
    fn gauges_are_scoped() {
        let counters = Counters::default();
        {
            let _g = counters.active();
            assert_eq!(counters.snapshot(None).active, 1);
        }
        assert_eq!(counters.snapshot(None).active, 0);
    }
}
