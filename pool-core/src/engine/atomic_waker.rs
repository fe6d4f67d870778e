//! A single-waker cell, after `futures::task::AtomicWaker`, generic over the backend so
//! loom can check it.
//!
//! # Implementation details
//!
//! `state` is `WAITING`, `REGISTERING` (a `register` owns the cell), `WAKING` (a `wake`
//! owns the cell) or `REGISTERING | WAKING` (a wake arrived during a register; the
//! register wakes the new waker itself before it leaves). The cell is touched only by
//! the owner of the state that admits it, which is what every `SAFETY` below relies on.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::task::Waker;

use super::backoff::Backoff;
use crate::sync::{AtomicOps, Backend, CellOps};

const WAITING: usize = 0;
const REGISTERING: usize = 0b01;
const WAKING: usize = 0b10;

/// Holds the waker of the one task waiting on something.
pub(crate) struct AtomicWaker<B: Backend> {
    state: B::AtomicUsize,
    waker: B::Cell<Option<Waker>>,
}

// SAFETY: the cell is only accessed by the thread that owns the state (module docs), and
// `Waker` is Send + Sync.
unsafe impl<B: Backend> Send for AtomicWaker<B> {}
// SAFETY: as above.
unsafe impl<B: Backend> Sync for AtomicWaker<B> {}

impl<B: Backend> AtomicWaker<B> {
    pub(crate) fn new() -> Self {
        AtomicWaker {
            state: B::AtomicUsize::new(WAITING),
            waker: B::Cell::new(None),
        }
    }

    /// Stores `waker` to be woken by the next [`wake`](Self::wake).
    pub(crate) fn register(&self, waker: &Waker) {
        match self
            .state
            .compare_exchange(WAITING, REGISTERING, Acquire, Acquire)
            .unwrap_or_else(|s| s)
        {
            WAITING => {
                // SAFETY: we moved the state WAITING -> REGISTERING, so we own the cell.
                let old = self.waker.with_mut(|p| unsafe {
                    match &*p {
                        Some(w) if w.will_wake(waker) => None,
                        _ => (*p).replace(waker.clone()),
                    }
                });
                match self
                    .state
                    .compare_exchange(REGISTERING, WAITING, AcqRel, Acquire)
                {
                    Ok(_) => drop(old),
                    Err(actual) => {
                        // A wake came in meanwhile; it left the cell to us.
                        debug_assert_eq!(actual, REGISTERING | WAKING, "waker state corrupt");
                        // SAFETY: REGISTERING is still set, so we still own the cell.
                        let waker = self.waker.with_mut(|p| unsafe { (*p).take() });
                        self.state.swap(WAITING, AcqRel);
                        drop(old);
                        if let Some(waker) = waker {
                            waker.wake();
                        }
                    }
                }
            }
            WAKING => {
                // A wake is running right now; make sure the task polls again.
                waker.wake_by_ref();
                Backoff::<B>::new().snooze();
            }
            state => {
                // A concurrent register from the same task: not how the pool uses it.
                debug_assert!(
                    state == REGISTERING || state == REGISTERING | WAKING,
                    "waker state corrupt"
                );
            }
        }
    }

    /// Wakes the registered waker, if any.
    pub(crate) fn wake(&self) {
        if let Some(waker) = self.take() {
            waker.wake();
        }
    }

    fn take(&self) -> Option<Waker> {
        match self.state.fetch_or(WAKING, AcqRel) {
            WAITING => {
                // SAFETY: we moved WAITING -> WAKING, so we own the cell.
                let waker = self.waker.with_mut(|p| unsafe { (*p).take() });
                self.state.fetch_and(!WAKING, Release);
                waker
            }
            state => {
                // A register owns the cell and will wake on its way out, or another wake
                // is already running.
                debug_assert!(
                    state == REGISTERING || state == REGISTERING | WAKING || state == WAKING,
                    "waker state corrupt"
                );
                None
            }
        }
    }
}
