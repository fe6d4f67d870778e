//! Waiter slots: the rendezvous between a queued checkout and whoever serves it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex as StdMutex, MutexGuard as StdGuard};
use std::task::{Context, Poll, Waker};

use std::collections::VecDeque;

use super::Grant;
use crate::pool_under_test::CheckoutFailure;

/// A checkout's place in the order the pool's checkouts started (`CheckOutStarted`).
pub(crate) type Turn = u64;

/// Queues a retry `slot` by its turn: after the retries that started before it, before
/// every other one and every first wait. A first wait still queued began after every
/// checkout the pool has served since (the queue is served oldest first, no checkout
/// takes the fast path while one waits, and the skeleton's FIFO lock admits checkouts to
/// their first attempt in the order they started), so it goes behind every retry; retries
/// among themselves go in the order their checkouts started. Pushing each retry to the
/// front instead serves the last retry first.
pub(crate) fn requeue(waiters: &mut VecDeque<Arc<Slot>>, slot: Arc<Slot>) {
    let mine = slot.turn;
    let at = waiters
        .iter()
        .position(|w| match (w.turn, mine) {
            (Some(theirs), Some(mine)) => theirs > mine,
            _ => true,
        })
        .unwrap_or(waiters.len());
    waiters.insert(at, slot);
}

enum SlotState {
    Waiting(Option<Waker>),
    Granted(Grant),
    Taken,
    Cancelled,
    Reclaimed,
}

/// One queued checkout: the rendezvous between it and whoever serves it.
pub(crate) struct Slot {
    cell: StdMutex<SlotState>,
    /// The checkout's turn (its order of `CheckOutStarted`) when it queues again after
    /// being served once (a retry); `None` for a first wait, which queues at the back.
    turn: Option<Turn>,
}

impl Slot {
    pub(crate) fn new() -> Arc<Slot> {
        Arc::new(Slot {
            cell: StdMutex::new(SlotState::Waiting(None)),
            turn: None,
        })
    }

    /// A slot for a checkout that queues again after it was served (its connection failed
    /// a check): it keeps the turn it started with (see [`requeue`]).
    pub(crate) fn retry(turn: Turn) -> Arc<Slot> {
        Arc::new(Slot {
            cell: StdMutex::new(SlotState::Waiting(None)),
            turn: Some(turn),
        })
    }

    fn cell(&self) -> StdGuard<'_, SlotState> {
        self.cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hands `grant` over; gives it back if the slot is no longer waiting.
    pub(crate) fn deliver(&self, grant: Grant) -> Result<(), Grant> {
        let waker = {
            let mut cell = self.cell();
            match &mut *cell {
                SlotState::Waiting(waker) => {
                    let waker = waker.take();
                    *cell = SlotState::Granted(grant);
                    waker
                }
                _ => return Err(grant),
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// The waiter gives up; returns a grant that arrived first.
    pub(crate) fn cancel(&self) -> Option<Grant> {
        let mut cell = self.cell();
        match std::mem::replace(&mut *cell, SlotState::Cancelled) {
            SlotState::Granted(grant) => Some(grant),
            SlotState::Waiting(_) => None,
            other => {
                *cell = other;
                None
            }
        }
    }

    /// The pool takes back an unclaimed grant.
    pub(crate) fn reclaim(&self) -> Option<Grant> {
        let mut cell = self.cell();
        if matches!(*cell, SlotState::Granted(_)) {
            if let SlotState::Granted(grant) = std::mem::replace(&mut *cell, SlotState::Reclaimed) {
                return Some(grant);
            }
        }
        None
    }

    /// True if it no longer waits for a grant.
    pub(crate) fn is_cancelled(&self) -> bool {
        matches!(*self.cell(), SlotState::Cancelled | SlotState::Reclaimed)
    }

    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Grant> {
        let mut cell = self.cell();
        match &mut *cell {
            SlotState::Waiting(waker) => {
                *waker = Some(cx.waker().clone());
                Poll::Pending
            }
            SlotState::Granted(_) => match std::mem::replace(&mut *cell, SlotState::Taken) {
                SlotState::Granted(grant) => Poll::Ready(grant),
                _ => Poll::Pending,
            },
            SlotState::Reclaimed => Poll::Ready(Grant::Fail(CheckoutFailure::ClaimExpired)),
            SlotState::Taken | SlotState::Cancelled => Poll::Pending,
        }
    }
}

/// Waits for a slot's grant.
pub(crate) struct SlotWait<'a>(pub(crate) &'a Slot);

impl Future for SlotWait<'_> {
    type Output = Grant;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Grant> {
        self.0.poll_take(cx)
    }
}
