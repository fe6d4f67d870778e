//! A bounded, lock-free, multi-producer multi-consumer FIFO ring.
//!
//! The pool keeps two of them: the idle connections and the wait queue. The algorithm is
//! Dmitry Vyukov's bounded queue (as in `crossbeam_queue::ArrayQueue`): every slot carries
//! a *stamp* that says which lap of the ring it is ready for, and `head`/`tail` are
//! `lap | index` words advanced by CAS.
//!
//! # Implementation details
//!
//! Invariants (checked by `debug_assert!` below, by `tests/loom_ring.rs` and by the
//! `waiter_queue` fuzz target):
//!
//! - **R1** A slot's stamp is `tail` (free for the push that claims `tail`), `tail + 1`
//!   (holds a value pushed at `tail`), or the previous lap's `head + 1` (value not yet
//!   taken by the pop that claimed it). No other stamp is possible.
//! - **R2** A value is written only by the push that won the CAS on `tail` for that slot,
//!   and read only by the pop that won the CAS on `head` for it; so each value is moved in
//!   exactly once and out exactly once (no loss, no duplicate).
//! - **R3** FIFO: pops return values in the order their pushes claimed `tail`.
//!
//! One deliberate difference from `ArrayQueue`: [`Ring::pop`] does not wait for a push
//! that has claimed a slot but not yet published it; it reports "nothing ready". The pool
//! relies on this being safe because every push is followed by a dispatch from the
//! pushing thread, which sees its own value.

use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use super::backoff::Backoff;
use crate::sync::{AtomicOps, Backend, CachePadded, CellOps};

struct Slot<T, B: Backend> {
    /// The lap-qualified index this slot is ready for (R1).
    stamp: B::AtomicUsize,
    /// The value; initialised exactly when `stamp == pushed_at + 1` (R2).
    value: B::Cell<MaybeUninit<T>>,
}

/// A bounded FIFO ring; see the module docs for the invariants.
pub(crate) struct Ring<T, B: Backend> {
    /// Written by every pop; padded so pops and pushes on different cores do not
    /// invalidate each other's line (nor the fields around the ring).
    head: CachePadded<B::AtomicUsize>,
    /// Written by every push.
    tail: CachePadded<B::AtomicUsize>,
    slots: Box<[Slot<T, B>]>,
    /// `next_power_of_two(cap + 1)`: adding it to a stamp moves it one lap on.
    one_lap: usize,
}

// SAFETY: values of `T` move between threads through the ring (so `T: Send` is needed and
// enough); each slot's cell is accessed by one thread at a time, as R2 establishes.
unsafe impl<T: Send, B: Backend> Send for Ring<T, B> {}
// SAFETY: as above: shared access only ever moves whole values in or out under R2.
unsafe impl<T: Send, B: Backend> Sync for Ring<T, B> {}

impl<T, B: Backend> Ring<T, B> {
    /// A ring that holds at most `cap` values.
    pub(crate) fn new(cap: usize) -> Self {
        assert!(cap > 0, "a ring needs a capacity of at least 1");
        let one_lap = (cap + 1).next_power_of_two();
        let slots = (0..cap)
            .map(|i| Slot {
                stamp: B::AtomicUsize::new(i),
                value: B::Cell::new(MaybeUninit::uninit()),
            })
            .collect();
        Ring {
            head: CachePadded(B::AtomicUsize::new(0)),
            tail: CachePadded(B::AtomicUsize::new(0)),
            slots,
            one_lap,
        }
    }

    /// The capacity given to [`Ring::new`].
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Pushes `value` at the tail, or gives it back when the ring is full.
    #[inline]
    pub(crate) fn push(&self, value: T) -> Result<(), T> {
        let mut backoff = Backoff::<B>::new();
        let mut tail = self.tail.load(Relaxed);
        loop {
            let index = tail & (self.one_lap - 1);
            let lap = tail & !(self.one_lap - 1);
            debug_assert!(
                index < self.slots.len(),
                "R1: tail index {index} out of range"
            );
            let next = if index + 1 < self.slots.len() {
                tail + 1
            } else {
                lap.wrapping_add(self.one_lap)
            };
            let slot = &self.slots[index];
            let stamp = slot.stamp.load(Acquire);
            if stamp == tail {
                match self.tail.compare_exchange(tail, next, SeqCst, Relaxed) {
                    Ok(_) => {
                        // SAFETY: we won the CAS for `tail` while the slot's stamp said it
                        // is free for `tail`, so no other thread reads or writes it until
                        // we publish the new stamp (R2).
                        slot.value.with_mut(|p| unsafe { (*p).write(value) });
                        slot.stamp.store(tail + 1, Release);
                        return Ok(());
                    }
                    Err(actual) => tail = actual,
                }
            } else if stamp.wrapping_add(self.one_lap) == tail + 1 {
                // The slot still holds last lap's value: full, or a pop is mid-read.
                B::fence(SeqCst);
                let head = self.head.load(Relaxed);
                if head.wrapping_add(self.one_lap) == tail {
                    return Err(value);
                }
                // A pop claimed the slot and is copying the value out: a few instructions.
                backoff.snooze();
                tail = self.tail.load(Relaxed);
            } else {
                // Another push moved `tail` on; reload.
                backoff.snooze();
                tail = self.tail.load(Relaxed);
            }
        }
    }

    /// Pops the value at the head, or `None` when no published value is there.
    #[inline]
    pub(crate) fn pop(&self) -> Option<T> {
        let mut backoff = Backoff::<B>::new();
        let mut head = self.head.load(Relaxed);
        loop {
            let index = head & (self.one_lap - 1);
            let lap = head & !(self.one_lap - 1);
            debug_assert!(
                index < self.slots.len(),
                "R1: head index {index} out of range"
            );
            let slot = &self.slots[index];
            let stamp = slot.stamp.load(Acquire);
            if stamp == head + 1 {
                let next = if index + 1 < self.slots.len() {
                    head + 1
                } else {
                    lap.wrapping_add(self.one_lap)
                };
                match self.head.compare_exchange(head, next, SeqCst, Relaxed) {
                    Ok(_) => {
                        // SAFETY: the stamp `head + 1` says the push at `head` published an
                        // initialised value, and winning the CAS on `head` makes us its only
                        // reader (R2). The stamp we store afterwards frees the slot.
                        let value = slot.value.with(|p| unsafe { (*p).assume_init_read() });
                        slot.stamp.store(head.wrapping_add(self.one_lap), Release);
                        return Some(value);
                    }
                    Err(actual) => head = actual,
                }
            } else if stamp == head {
                // Empty, a push that claimed the slot has not published yet, or our `head`
                // is stale. Only the last one calls for a retry: an unpublished push is
                // not waited for, since its pusher dispatches after publishing.
                B::fence(SeqCst);
                let tail = self.tail.load(Relaxed);
                if tail == head {
                    return None;
                }
                let fresh = self.head.load(Relaxed);
                if fresh == head {
                    return None;
                }
                head = fresh;
            } else {
                // Another pop moved `head` on; reload.
                backoff.snooze();
                head = self.head.load(Relaxed);
            }
        }
    }

    /// How many values are in the ring (claimed pushes minus claimed pops).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        let mut backoff = Backoff::<B>::new();
        loop {
            let tail = self.tail.load(SeqCst);
            let head = self.head.load(SeqCst);
            if self.tail.load(SeqCst) == tail {
                let hix = head & (self.one_lap - 1);
                let tix = tail & (self.one_lap - 1);
                let len = if hix < tix {
                    tix - hix
                } else if hix > tix {
                    self.slots.len() - hix + tix
                } else if tail == head {
                    0
                } else {
                    self.slots.len()
                };
                debug_assert!(
                    len <= self.slots.len(),
                    "R1: {len} values in a ring of {}",
                    self.slots.len()
                );
                return len;
            }
            backoff.snooze();
        }
    }

    /// True when no push has been claimed beyond the last claimed pop.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.load(SeqCst);
        let tail = self.tail.load(SeqCst);
        tail == head
    }
}

impl<T, B: Backend> Drop for Ring<T, B> {
    fn drop(&mut self) {
        while self.pop().is_some() {}
    }
}
