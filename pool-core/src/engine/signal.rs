//! A one-bit, wake-once signal: how the engine wakes its background tasks (maintenance
//! after a clear or ready, the claim watcher when its list stops being empty).
//!
//! # State machine
//!
//! `flag` is 0 (nothing pending) or 1 (a notification not yet consumed); `notify` moves it
//! to 1 and wakes, `poll` moves it to 0 and reports whether it was 1. Notifications
//! coalesce: several before a poll count as one.
//!
//! Invariants:
//!
//! - **SG1** `flag` is 0 or 1.
//! - **SG2** No lost notification: `poll` registers its waker and looks at `flag` again,
//!   so a `notify` that lands between its first look and the registration is either seen
//!   by the second look or wakes the new waker.
//!
//! The engine's **I8** (`engine/mod.rs`) rests on SG2: the claim watcher sleeps on its
//! signal while its list is empty, and the first grant pushed onto the list wakes it.

use std::sync::atomic::Ordering::{AcqRel, SeqCst};

use super::atomic_waker::AtomicWaker;
use crate::sync::{AtomicOps, Backend};

/// A one-bit, wake-once signal (used to run maintenance early).
pub(crate) struct Signal<B: Backend> {
    flag: B::AtomicUsize,
    waker: AtomicWaker<B>,
}

impl<B: Backend> Signal<B> {
    /// A signal with no notification pending.
    pub(crate) fn new() -> Self {
        Signal {
            flag: B::AtomicUsize::new(0),
            waker: AtomicWaker::new(),
        }
    }

    /// Sets the flag, then wakes the registered task (SG1, SG2).
    pub(crate) fn notify(&self) {
        self.flag.store(1, SeqCst);
        self.waker.wake();
    }

    /// Consumes a pending notification, or registers for the next one.
    pub(crate) fn poll(&self, cx: &mut std::task::Context<'_>) -> bool {
        let before = self.flag.swap(0, AcqRel);
        debug_assert!(
            before <= 1,
            "SG1: the signal flag is one bit, found {before}"
        );
        if before == 1 {
            return true;
        }
        self.waker.register(cx.waker());
        // SG2: a notify between the first swap and the registration is seen here.
        let after = self.flag.swap(0, AcqRel);
        debug_assert!(after <= 1, "SG1: the signal flag is one bit, found {after}");
        after == 1
    }
}
