//! One queued checkout: the rendezvous between the waiting task and whoever serves it.
//!
//! # Implementation details
//!
//! A `Waiter` is shared (by `Arc`) between the checkout future and, while it is queued,
//! the wait-queue ring (and, once granted, the claim watch list, see `claims.rs`). Its
//! `state` moves once, from `WAITING` to exactly one of:
//!
//! - `GRANTED`, by the one dispatcher that popped it from the ring ([`Waiter::deliver`]);
//! - `CANCELLED`, by the checkout future when it times out or is dropped
//!   ([`Waiter::cancel`]).
//!
//! and from `GRANTED` once more, to exactly one of:
//!
//! - `TAKEN`, by the checkout future that claims its grant;
//! - `RECLAIMED`, by the claim watcher, when nobody claimed the grant in time
//!   ([`Waiter::reclaim`]); the grant goes back to the pool and a later poll of the
//!   checkout learns it must queue again.
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
//! - **W3** The grant is taken out exactly once: by the claimer (`TAKEN`) or by the
//!   claim watcher (`RECLAIMED`), whichever wins the CAS out of `GRANTED`.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::task::{Context, Poll};

use super::atomic_waker::AtomicWaker;
use crate::sync::{AtomicOps, Backend, CellOps};

const WAITING: usize = 0;
const GRANTED: usize = 1;
const CANCELLED: usize = 2;
const TAKEN: usize = 3;
const RECLAIMED: usize = 4;

/// What a waiter finds when it looks for its grant.
pub(crate) enum Claim<G> {
    /// The grant, now the waiter's.
    Granted(G),
    /// The grant sat unclaimed too long and went back to the pool: queue again.
    Reclaimed,
}

/// How a cancel ended.
pub(crate) enum Cancelled<G> {
    /// The waiter left the queue before anything reached it.
    Waiting,
    /// A grant beat the cancel (W2); the canceller owns it now.
    Granted(G),
    /// A grant reached it and was already taken back by the claim watcher.
    Reclaimed,
}

/// A queued checkout; `G` is what it is granted.
pub(crate) struct Waiter<G, B: Backend> {
    state: B::AtomicUsize,
    grant: B::Cell<Option<G>>,
    waker: AtomicWaker<B>,
    /// When the claim watcher first saw the grant unclaimed (runtime time, ns), or 0 if
    /// it has not yet; written and read by the claim watcher only.
    seen_at: B::AtomicU64,
    /// The claim watch list's link (`claims.rs`, C1); 0 when not on the list.
    pub(super) next: B::AtomicUsize,
    /// The lane whose claim list the waiter was last pushed onto, plus one (0: none); a
    /// hint for the claimer's `unlink_top`, which checks it anyway.
    pub(super) watched_on: B::AtomicUsize,
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
            seen_at: B::AtomicU64::new(0),
            next: B::AtomicUsize::new(0),
            watched_on: B::AtomicUsize::new(0),
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

    /// Gives up waiting. If a grant arrived first (W2) the caller owns it and must use it
    /// or return it to the pool.
    pub(crate) fn cancel(&self) -> Cancelled<G> {
        match self
            .state
            .compare_exchange(WAITING, CANCELLED, AcqRel, Acquire)
        {
            Ok(_) => Cancelled::Waiting,
            Err(GRANTED) => match self.take() {
                Claim::Granted(g) => Cancelled::Granted(g),
                Claim::Reclaimed => Cancelled::Reclaimed,
            },
            Err(state) => {
                debug_assert_eq!(state, RECLAIMED, "W2: a waiter cancelled twice");
                Cancelled::Reclaimed
            }
        }
    }

    /// Polls for the grant.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<Claim<G>> {
        if let Some(claim) = self.settled() {
            return Poll::Ready(claim);
        }
        self.waker.register(cx.waker());
        // Re-check: a grant between the load above and the registration would have found
        // no waker to wake.
        match self.settled() {
            Some(claim) => Poll::Ready(claim),
            None => Poll::Pending,
        }
    }

    /// The outcome, if the waiter has one (`None` while it still waits).
    fn settled(&self) -> Option<Claim<G>> {
        match self.state.load(Acquire) {
            GRANTED => Some(self.take()),
            RECLAIMED => Some(Claim::Reclaimed),
            _ => None,
        }
    }

    /// Claims the grant (GRANTED → TAKEN), unless the claim watcher took it back first.
    fn take(&self) -> Claim<G> {
        match self.state.compare_exchange(GRANTED, TAKEN, AcqRel, Acquire) {
            Ok(_) => {
                // SAFETY: GRANTED was published with Release after the write (W1), and our
                // CAS to TAKEN makes us the only reader (W3).
                let grant = self.grant.with_mut(|p| unsafe { (*p).take() });
                Claim::Granted(grant.expect("W1: a granted waiter holds its grant"))
            }
            Err(state) => {
                debug_assert_eq!(state, RECLAIMED, "W3: a grant taken twice");
                Claim::Reclaimed
            }
        }
    }

    /// When the claim watcher first saw this grant unclaimed (ns, never 0), recording
    /// `now_nanos` if this is the first time.
    pub(crate) fn first_seen(&self, now_nanos: u64) -> u64 {
        match self.seen_at.load(Relaxed) {
            0 => {
                let at = now_nanos.max(1);
                debug_assert_ne!(at, 0, "I8: 0 means not seen yet, never a time");
                self.seen_at.store(at, Relaxed);
                at
            }
            at => at,
        }
    }

    /// True while a grant waits to be claimed.
    pub(crate) fn is_unclaimed(&self) -> bool {
        self.state.load(Acquire) == GRANTED
    }

    /// Takes an unclaimed grant back (GRANTED → RECLAIMED); `None` if the waiter claimed
    /// it (or gave up and took it) first (W3).
    pub(crate) fn reclaim(&self) -> Option<G> {
        match self
            .state
            .compare_exchange(GRANTED, RECLAIMED, AcqRel, Acquire)
        {
            Ok(_) => {
                // SAFETY: as in `take`: GRANTED was published after the write (W1), and our
                // CAS out of GRANTED makes us the only reader (W3).
                let grant = self.grant.with_mut(|p| unsafe { (*p).take() });
                debug_assert!(grant.is_some(), "W3: a reclaimed waiter held its grant");
                grant
            }
            Err(_) => None,
        }
    }
}
