//! The claim watch list: granted waiters whose checkouts may not have claimed yet.
//!
//! A grant is written into the waiter and its task is woken; a live task claims it on its
//! next poll, within microseconds. A checkout future that was polled once and is then
//! neither polled nor dropped (a *zombie*: a task stuck elsewhere, a future parked in a
//! struct) would hold its grant for ever, and every checkout queued behind it would
//! starve next to a connection nobody uses. So the dispatcher also pushes every granted
//! waiter onto this list, and the claim watcher (`crate::reclaim`) takes back grants
//! left unclaimed for longer than `claim_timeout` and returns them to the pool.
//!
//! # Implementation details
//!
//! An intrusive Treiber stack: push one waiter, take the whole list, and let a claimer
//! unlink its own waiter while it is still the top node (the common case: a dispatcher
//! grants, the woken task claims before anything else is granted on that thread), so
//! that a busy pool frees its waiters at once instead of at the next sweep. Each node is
//! an `Arc<Waiter>` turned into a raw pointer; the link lives in the waiter
//! (`Waiter::next`). The engine keeps one list per thread lane.
//!
//! Invariants:
//!
//! - **C1** A waiter is on the list at most once, and the list owns one strong count of
//!   every waiter on it: `push` leaks one (`Arc::into_raw`), `take_all` gets it back
//!   (`Arc::from_raw`) exactly once per node.
//! - **C2** The only single-node removal is [`ClaimList::unlink_top`], so a push's CAS on
//!   `head` can never succeed against a node that was removed and reused under it (no
//!   ABA): whatever `head` holds when the CAS succeeds is the correct `next` for the new
//!   node.
//! - **C4** `unlink_top` removes a node only for the claimer that has just moved it to
//!   `TAKEN`, and only while it is the top node. A node is pushed once by its dispatcher
//!   and again only by the claim watcher after it found the node still `GRANTED`; so
//!   after `TAKEN` it is never pushed again, and `head == node` at the claimer's CAS means
//!   the push that put it on top is still the latest one: the `next` the claimer read
//!   after seeing it on top is that push's link (no ABA). If anything moved `head` in
//!   between (a push, a take-all) the CAS fails and the node stays for the sweep.
//! - **C3** `take_all` swaps `head` with Acquire and every push publishes with Release, so
//!   the taker sees each node's `next` link and everything written before its push (such
//!   as the grant time).

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::Arc;

use super::waiter::Waiter;
use crate::sync::{AtomicOps, Backend};

/// A push/take-all stack of granted waiters (see the module docs).
pub(crate) struct ClaimList<G, B: Backend> {
    /// The top node (an `Arc::into_raw` pointer), or 0.
    head: B::AtomicUsize,
    _owns: std::marker::PhantomData<Arc<Waiter<G, B>>>,
}

impl<G, B: Backend> ClaimList<G, B> {
    pub(crate) fn new() -> Self {
        ClaimList {
            head: B::AtomicUsize::new(0),
            _owns: std::marker::PhantomData,
        }
    }

    /// Pushes `waiter`. Returns true if the list was empty (the watcher may be idle).
    pub(crate) fn push(&self, waiter: Arc<Waiter<G, B>>) -> bool {
        let node = Arc::into_raw(waiter);
        let addr = node as usize;
        let mut head = self.head.load(Relaxed);
        loop {
            debug_assert_ne!(head, addr, "C1: a waiter is pushed only while off the list");
            // SAFETY: `node` came from `Arc::into_raw` above and the list now owns that
            // count (C1), so it points to a live waiter.
            unsafe { (*node).next.store(head, Relaxed) };
            match self.head.compare_exchange(head, addr, Release, Relaxed) {
                Ok(_) => return head == 0,
                Err(actual) => head = actual, // C2: retry against the current top
            }
        }
    }

    /// Takes every waiter on the list (most recently pushed first).
    pub(crate) fn take_all(&self) -> Vec<Arc<Waiter<G, B>>> {
        let mut addr = self.head.swap(0, Acquire); // C3
        let mut taken = Vec::new();
        while addr != 0 {
            let node = addr as *const Waiter<G, B>;
            // SAFETY: every non-zero link is a pointer from `Arc::into_raw` in `push`
            // whose count the list still owns (C1); the swap above made us the only
            // owner of this chain, and C3 makes its links visible.
            let waiter = unsafe { Arc::from_raw(node) };
            let next = waiter.next.swap(0, Relaxed);
            debug_assert_ne!(next, addr, "C1: a node never links to itself");
            addr = next;
            taken.push(waiter);
        }
        taken
    }

    /// Unlinks `waiter` if it is the top node (C4); true if it did, and the list's count of
    /// it is dropped. Called only by the claimer of `waiter`, after its move to `TAKEN`.
    pub(crate) fn unlink_top(&self, waiter: &Arc<Waiter<G, B>>) -> bool {
        let addr = Arc::as_ptr(waiter) as usize;
        if self.head.load(Acquire) != addr {
            return false;
        }
        let next = waiter.next.load(Relaxed);
        debug_assert_ne!(next, addr, "C1: a node never links to itself");
        if self
            .head
            .compare_exchange(addr, next, Acquire, Relaxed)
            .is_err()
        {
            return false;
        }
        waiter.next.store(0, Relaxed);
        // SAFETY: the CAS removed the node from the list, so the count the list owned since
        // its push (C1) is ours to give back, exactly once.
        drop(unsafe { Arc::from_raw(addr as *const Waiter<G, B>) });
        true
    }

    /// True if no waiter is on the list.
    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Acquire) == 0
    }
}

impl<G, B: Backend> Drop for ClaimList<G, B> {
    fn drop(&mut self) {
        drop(self.take_all()); // C1: give every count back
    }
}

// SAFETY: the list only moves `Arc<Waiter>`s between threads; a waiter is `Send + Sync`
// when its grant is `Send`.
unsafe impl<G: Send, B: Backend> Send for ClaimList<G, B> {}
// SAFETY: as above; `head` is an atomic and nodes are reached only through C1–C3.
unsafe impl<G: Send, B: Backend> Sync for ClaimList<G, B> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::StdBackend;

    #[test]
    fn push_and_take_all_keep_every_waiter_once() {
        let list: ClaimList<u32, StdBackend> = ClaimList::new();
        assert!(list.is_empty());
        let a = Arc::new(Waiter::new());
        let b = Arc::new(Waiter::new());
        assert!(list.push(a.clone()), "first push finds the list empty");
        assert!(!list.push(b.clone()));
        assert_eq!(Arc::strong_count(&a), 2, "C1: the list holds one count");
        let taken = list.take_all();
        assert_eq!(taken.len(), 2);
        assert!(Arc::ptr_eq(&taken[0], &b) && Arc::ptr_eq(&taken[1], &a));
        assert!(list.is_empty());
        drop(taken);
        assert_eq!(Arc::strong_count(&a), 1, "C1: taken counts come back");
        list.push(a.clone());
        drop(list);
        assert_eq!(Arc::strong_count(&a), 1, "C1: drop frees what is left");
    }

    #[test]
    fn unlink_top_removes_only_the_top_node() {
        let list: ClaimList<u32, StdBackend> = ClaimList::new();
        let a = Arc::new(Waiter::new());
        let b = Arc::new(Waiter::new());
        list.push(a.clone());
        list.push(b.clone());
        assert!(!list.unlink_top(&a), "C4: a node under the top stays");
        assert_eq!(Arc::strong_count(&a), 2);
        assert!(list.unlink_top(&b), "the top node is unlinked");
        assert_eq!(Arc::strong_count(&b), 1, "C1: its count comes back once");
        assert!(!list.unlink_top(&b), "not on the list any more");
        assert_eq!(Arc::strong_count(&b), 1);
        assert!(list.unlink_top(&a), "a is the top now");
        assert!(list.is_empty());
        assert_eq!(Arc::strong_count(&a), 1);
        list.push(a.clone());
        let taken = list.take_all();
        assert!(!list.unlink_top(&a), "a take-all moved head on");
        assert_eq!(taken.len(), 1);
        drop(taken);
        assert_eq!(Arc::strong_count(&a), 1, "C1: exactly one count per push");
    }
}
