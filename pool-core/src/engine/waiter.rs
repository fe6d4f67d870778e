//! One queued checkout: the rendezvous between the waiting task and whoever serves it.
//!
//! # Implementation details
//!
//! A `Waiter` is shared (by `Arc`) between the checkout future and, while it is queued,
//! the wait-queue ring. Its `state` moves once, from `WAITING` to exactly one of:
//!
//! - `GRANTED`, by the one dispatcher that popped it from the ring ([`Waiter::deliver`]);
//! - `CANCELLED`, by the checkout future when it times out or is dropped
//!   ([`Waiter::cancel`]).
//!
//! Invariants:
//!
//! - **W1** Only the dispatcher that popped the waiter writes `grant`, and only before its
//!   CAS to `GRANTED`; the waiting side reads `grant` only after it observed `GRANTED`.
//!   So the cell never has two accessors at once.
//! - **W2** Exactly one side wins the `WAITING` transition. If the dispatcher loses (the
//!   waiter was cancelled first) it takes its grant back and returns it to the pool; if the
//!   canceller loses (a grant arrived first) it takes the grant and returns it to the pool
//!   (CMAP K11: a connection that reaches a waiter too late is never lost).
//! - **W3** The grant is taken out exactly once (`TAKEN` marks that).

use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::task::{Context, Poll};

use super::atomic_waker::AtomicWaker;
use crate::sync::{AtomicOps, Backend, CellOps};

const WAITING: usize = 0;
const GRANTED: usize = 1;
const CANCELLED: usize = 2;
const TAKEN: usize = 3;

/// A queued checkout; `G` is what it is granted.
pub(crate) struct Waiter<G, B: Backend> {
    state: B::AtomicUsize,
    grant: B::Cell<Option<G>>,
    waker: AtomicWaker<B>,
}

// SAFETY: `grant` is accessed by one side at a time (W1); `G` crosses threads, so it must
// be Send.
unsafe impl<G: Send, B: Backend> Send for Waiter<G, B> {}
// SAFETY: as above.
unsafe impl<G: Send, B: Backend> Sync for Waiter<G, B> {}

impl<G, B: Backend> Waiter<G, B> {
    pub(crate) fn new() -> Self {
        Waiter {
            state: B::AtomicUsize::new(WAITING),
            grant: B::Cell::new(None),
            waker: AtomicWaker::new(),
        }
    }

    /// Hands `grant` to the waiter. Called only by the dispatcher that popped it from the
    /// wait queue. Gives the grant back if the waiter was cancelled first (W2).
    pub(crate) fn deliver(&self, grant: G) -> Result<(), G> {
        // SAFETY: W1: we popped this waiter, so we are its only writer, and the waiting side
        // does not read the cell before it sees GRANTED, which we have not stored yet.
        self.grant.with_mut(|p| unsafe {
            debug_assert!((*p).is_none(), "W3: a waiter is granted twice");
            *p = Some(grant);
        });
        match self
            .state
            .compare_exchange(WAITING, GRANTED, AcqRel, Acquire)
        {
            Ok(_) => {
                self.waker.wake();
                Ok(())
            }
            Err(state) => {
                debug_assert_eq!(state, CANCELLED, "W2: a waiter left WAITING twice");
                // SAFETY: the waiter was cancelled, so it never reads the cell (W1).
                let grant = self.grant.with_mut(|p| unsafe { (*p).take() });
                Err(grant.expect("W1: the grant written above is still there"))
            }
        }
    }

    /// Gives up waiting. Returns the grant if one arrived first (W2); the caller must then
    /// use it or return it to the pool.
    pub(crate) fn cancel(&self) -> Option<G> {
        match self
            .state
            .compare_exchange(WAITING, CANCELLED, AcqRel, Acquire)
        {
            Ok(_) => None,
            Err(GRANTED) => self.take(),
            Err(_) => None,
        }
    }

    /// Polls for the grant.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<G> {
        if self.state.load(Acquire) == GRANTED {
            if let Some(g) = self.take() {
                return Poll::Ready(g);
            }
        }
        self.waker.register(cx.waker());
        // Re-check: a grant between the load above and the registration would have found
        // no waker to wake.
        match self.state.load(Acquire) {
            GRANTED => match self.take() {
                Some(g) => Poll::Ready(g),
                None => Poll::Pending,
            },
            _ => Poll::Pending,
        }
    }

    fn take(&self) -> Option<G> {
        match self.state.compare_exchange(GRANTED, TAKEN, AcqRel, Acquire) {
            // SAFETY: GRANTED was published with Release after the write (W1), and our CAS
            // to TAKEN makes us the only reader (W3).
            Ok(_) => self.grant.with_mut(|p| unsafe { (*p).take() }),
            Err(_) => None,
        }
    }
}
