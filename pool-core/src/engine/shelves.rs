//! Per-thread lanes, and the shelf in each: a one-connection cache beside the shared idle
//! ring for each thread.
//!
//! A connection checked in while nobody waits goes onto the shelf of the checking-in
//! thread, and that thread's next checkout takes it back from there. A shelf is touched
//! by one thread in the common case, so its cache line stays in that core's cache and the
//! checkout + check-in cycle writes no line that another core is also writing (the
//! contended cost of a shared ring is a cache-line transfer per push and per pop). The
//! same idea is HikariCP's `ConcurrentBag` thread-local list.
//!
//! Shelves are an extension of `idle`, not a private stash: any thread may take from any
//! shelf, and the engine does so before it admits a creation or queues a checkout, so a
//! shelved connection is never passed over (CMAP K4: an available connection is used
//! before a new one is made).
//!
//! A [`Lanes`] array gives every thread slot a cache-line-aligned block of its own; the
//! engine keeps its shelf there and the per-thread halves of a few counters and of the
//! claim watch list, so that none of them is a line two cores write.
//!
//! # Implementation details
//!
//! Each shelf is a one-slot cell with a three-state word: `EMPTY`, `BUSY` (one thread is
//! moving a value in or out), `FULL`.
//!
//! `S1`–`S3` here are the shelf invariants (`SHELF-1` … `SHELF-3` in `INVARIANTS.md`), not
//! the sim zoo's bug classes `BUG-S1`… nor CMAP's `S` rules.
//!
//! - **S1** The value is initialised exactly when the state is `FULL`, or `BUSY` on the
//!   way out of `FULL` (a take in progress, or the fast path's look at the value, which
//!   may leave it and republish `FULL`: [`Shelf::take_kept`]).
//! - **S2** Only the thread whose CAS moved the state to `BUSY` touches the value, and it
//!   ends its access by publishing `FULL` (after a put) or `EMPTY` (after a take), so each
//!   value goes in once and comes out once.
//! - **S3** A take that finds `BUSY` reports nothing, like [`Ring::pop`](super::ring::Ring)
//!   with an unpublished push: a put in progress, or a value the fast path looked at and
//!   left, is followed by its thread's dispatch (engine I4), which sees the value.

use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::sync::{AtomicOps, Backend, CachePadded, CellOps};

const EMPTY: usize = 0;
const BUSY: usize = 1;
const FULL: usize = 2;

/// What [`Shelf::take_kept`] found.
pub(crate) enum Kept<T> {
    /// The value, accepted and counted.
    Taken(T),
    /// A value refused and left on the shelf: the caller dispatches (I4).
    Left,
    /// Nothing to take (empty, or another thread is moving a value: S3).
    Nothing,
}

/// One thread's shelf (kept inside that thread's lane, so on a line of its own).
pub(crate) struct Shelf<T, B: Backend> {
    state: B::AtomicUsize,
    value: B::Cell<MaybeUninit<T>>,
    /// Checkouts served straight from this shelf (summed for `status`). Written only by
    /// the thread that holds the shelf `BUSY` (S2), so a plain load and store count
    /// exactly, with no locked instruction.
    pub(crate) counted: B::AtomicU64,
}

impl<T, B: Backend> Shelf<T, B> {
    pub(crate) fn new() -> Self {
        Shelf {
            state: B::AtomicUsize::new(EMPTY),
            value: B::Cell::new(MaybeUninit::uninit()),
            counted: B::AtomicU64::new(0),
        }
    }

    /// Puts `value` on the shelf, or gives it back if the shelf is taken.
    #[inline]
    pub(crate) fn put(&self, value: T) -> Result<(), T> {
        if self.state.load(Relaxed) != EMPTY {
            return Err(value);
        }
        if self
            .state
            .compare_exchange(EMPTY, BUSY, Acquire, Relaxed)
            .is_err()
        {
            return Err(value);
        }
        // SAFETY: our CAS moved the state from EMPTY to BUSY, so the slot is uninitialised
        // (S1) and no other thread touches it until we publish FULL (S2).
        self.value.with_mut(|p| unsafe { (*p).write(value) });
        debug_assert_eq!(
            self.state.load(Relaxed),
            BUSY,
            "S2: a put holds the shelf BUSY"
        );
        self.state.store(FULL, Release);
        Ok(())
    }

    /// Takes the shelved value, if one is there and nobody else is moving it (S3).
    #[inline]
    pub(crate) fn take(&self) -> Option<T> {
        if !self.hold_full() {
            return None;
        }
        // SAFETY: `hold_full`'s CAS moved the state from FULL to BUSY: the value is initialised (S1)
        // and we are its only reader (S2). Publishing EMPTY afterwards frees the slot.
        let value = self.value.with(|p| unsafe { (*p).assume_init_read() });
        debug_assert_eq!(
            self.state.load(Relaxed),
            BUSY,
            "S2: a take holds the shelf BUSY"
        );
        self.state.store(EMPTY, Release);
        Some(value)
    }

    /// Takes the shelved value, if one is there and nobody else is moving it (S3), and
    /// asks `keep` about it: `Ok` if kept (and counted in `counted`), `Err` if refused
    /// (the caller disposes of it).
    #[inline]
    pub(crate) fn take_counted(&self, keep: impl FnOnce(&T) -> bool) -> Option<Result<T, T>> {
        if !self.hold_full() {
            return None;
        }
        // SAFETY: as in `take`: FULL -> BUSY makes us the value's only reader (S1, S2).
        let value = self.value.with(|p| unsafe { (*p).assume_init_read() });
        let kept = keep(&value);
        if kept {
            self.count_held();
        }
        self.state.store(EMPTY, Release);
        Some(if kept { Ok(value) } else { Err(value) })
    }

    /// The fast path's take: takes the shelved value only if `keep` accepts it, and counts
    /// it in `counted` then; a value `keep` refuses is left on the shelf (republished
    /// `FULL`), and the caller must dispatch, as after a put (S3, engine I4).
    #[inline(always)]
    pub(crate) fn take_kept(&self, keep: impl FnOnce(&T) -> bool) -> Kept<T> {
        if !self.hold_full() {
            return Kept::Nothing;
        }
        // SAFETY: `hold_full`'s CAS moved the state from FULL to BUSY: the value is initialised (S1)
        // and we are its only accessor until we publish again (S2), so a shared borrow of
        // it for `keep` aliases nothing.
        let kept = self.value.with(|p| keep(unsafe { (*p).assume_init_ref() }));
        if !kept {
            // Still initialised and untouched: republishing FULL keeps S1, and ends our
            // access (S2).
            self.state.store(FULL, Release);
            return Kept::Left;
        }
        // SAFETY: as above; reading the value out and publishing EMPTY below moves it out
        // once (S2), leaving the slot uninitialised as EMPTY requires (S1).
        let value = self.value.with(|p| unsafe { (*p).assume_init_read() });
        self.count_held();
        self.state.store(EMPTY, Release);
        Kept::Taken(value)
    }

    /// Moves the state from `FULL` to `BUSY` if it is `FULL`: `true` makes the caller the
    /// only thread that touches the value until it publishes again (S2).
    #[inline(always)]
    fn hold_full(&self) -> bool {
        self.state.load(Relaxed) == FULL
            && self
                .state
                .compare_exchange(FULL, BUSY, Acquire, Relaxed)
                .is_ok()
    }

    /// Counts a checkout served from this shelf; only the thread that holds the shelf
    /// `BUSY` calls it.
    #[inline(always)]
    fn count_held(&self) {
        debug_assert_eq!(self.state.load(Relaxed), BUSY, "S2: only the holder counts");
        // Exclusive while BUSY (S2): no other thread writes `counted` now.
        let n = self.counted.load(Relaxed);
        debug_assert!(n < u64::MAX, "S2: the shelf's checkout count never wraps");
        self.counted.store(n.wrapping_add(1), Relaxed);
    }

    /// True if a value is on the shelf or on its way in or out.
    #[inline]
    pub(crate) fn is_occupied(&self) -> bool {
        self.state.load(Acquire) != EMPTY
    }
}

impl<T, B: Backend> Drop for Shelf<T, B> {
    fn drop(&mut self) {
        // `&mut self`: no other thread can be mid-put or mid-take.
        drop(self.take());
    }
}

// SAFETY: values of `T` move between threads through the shelf (so `T: Send` is needed
// and enough); the cell is accessed by one thread at a time, as S2 establishes.
unsafe impl<T: Send, B: Backend> Send for Shelf<T, B> {}
// SAFETY: as above: shared access only ever moves whole values in or out under S2.
unsafe impl<T: Send, B: Backend> Sync for Shelf<T, B> {}

/// One `L` per thread slot, each on cache lines of its own; [`Backend::thread_index`]
/// picks the calling thread's.
pub(crate) struct Lanes<L> {
    lanes: Box<[CachePadded<L>]>,
    /// `lanes.len() - 1`; the length is a power of two.
    mask: usize,
}

impl<L> Lanes<L> {
    /// `count` lanes (rounded up to a power of two, at least one), each made by `make`.
    pub(crate) fn new(count: usize, make: impl FnMut() -> L) -> Self {
        let count = count.max(1).next_power_of_two();
        let mut make = make;
        Lanes {
            lanes: (0..count).map(|_| CachePadded(make())).collect(),
            mask: count - 1,
        }
    }

    /// The calling thread's lane.
    #[inline(always)]
    pub(crate) fn mine<B: Backend>(&self) -> &L {
        &self.lanes[B::thread_index() & self.mask]
    }

    /// The calling thread's lane and its index.
    #[inline(always)]
    pub(crate) fn mine_indexed<B: Backend>(&self) -> (usize, &L) {
        let i = B::thread_index() & self.mask;
        (i, &self.lanes[i])
    }

    /// Lane `i` (any number; taken modulo the lane count).
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> &L {
        &self.lanes[i & self.mask]
    }

    /// Every lane but the calling thread's, starting after it.
    #[inline]
    pub(crate) fn others<B: Backend>(&self) -> impl Iterator<Item = &L> {
        let me = B::thread_index() & self.mask;
        (1..self.lanes.len()).map(move |k| &*self.lanes[(me + k) & self.mask])
    }

    /// Every lane.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &L> {
        self.lanes.iter().map(|lane| &**lane)
    }
}
