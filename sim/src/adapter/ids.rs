//! [`IdAllocator`]: connection ids for pools that have none of their own.
//!
//! Invariants: ids start at 1, increase by one per call, are never reused within one
//! pool, and are shared by every clone of the allocator.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pool_core::ConnectionId;

/// Hands out connection ids 1, 2, 3, … Cheap to clone; clones share the counter.
#[derive(Debug, Clone, Default)]
pub struct IdAllocator {
    last: Arc<AtomicU64>,
}

impl IdAllocator {
    /// A fresh allocator (the first id is 1).
    pub fn new() -> IdAllocator {
        IdAllocator::default()
    }

    /// The next id.
    pub fn next_id(&self) -> ConnectionId {
        self.last.fetch_add(1, Ordering::Relaxed) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_at_one_and_are_shared_by_clones() {
        let a = IdAllocator::new();
        let b = a.clone();
        assert_eq!((a.next_id(), b.next_id(), a.next_id()), (1, 2, 3));
    }
}
