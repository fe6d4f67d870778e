//! Entry points for the fuzz targets and the loom models (not a stable API).
//!
//! They expose the engine's lock-free ring so that it can be checked against a plain
//! `VecDeque` model, with the same code the pool runs.

use crate::sync::Backend;

/// The engine's bounded FIFO ring (see `engine/ring.rs` for invariants R1–R3).
pub struct Ring<T, B: Backend>(crate::engine::ring::Ring<T, B>);

impl<T, B: Backend> Ring<T, B> {
    /// A ring of capacity `cap` (> 0).
    pub fn new(cap: usize) -> Self {
        Ring(crate::engine::ring::Ring::new(cap))
    }
    /// Pushes at the tail; gives the value back when full.
    pub fn push(&self, value: T) -> Result<(), T> {
        self.0.push(value)
    }
    /// Pops from the head.
    pub fn pop(&self) -> Option<T> {
        self.0.pop()
    }
    /// The number of values held.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
