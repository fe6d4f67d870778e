//! The table of establishing connections, so `clear(interrupt_in_use_connections)` can
//! reach them (CMAP L6: pending connections are interrupted too).
//!
//! # Implementation details
//!
//! One slot per possible pending connection (`max_connecting` of them). A slot word is 0
//! when free, or `generation + 1` of the connection establishing in it, with
//! `INTERRUPTED` set once a clear interrupted it.
//!
//! - **T1** A permit holder (pending ≤ `max_connecting`, I2) always finds a free slot,
//!   because slots are released before the pending count is.
//! - **T2** An interrupt only marks the word it read (by CAS), so it can never mark the
//!   next connection to take the slot.

use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::task::Context;

use super::atomic_waker::AtomicWaker;
use crate::sync::{AtomicOps, Backend};

const INTERRUPTED: u64 = 1 << 63;

struct Slot<B: Backend> {
    word: B::AtomicU64,
    waker: AtomicWaker<B>,
}

/// The interrupt table; see the module docs.
pub(crate) struct Interrupts<B: Backend> {
    slots: Box<[Slot<B>]>,
}

impl<B: Backend> Interrupts<B> {
    pub(crate) fn new(size: usize) -> Self {
        let slots = (0..size)
            .map(|_| Slot {
                word: B::AtomicU64::new(0),
                waker: AtomicWaker::new(),
            })
            .collect();
        Interrupts { slots }
    }

    /// Claims a slot for a connection of `generation`.
    pub(crate) fn acquire(&self, generation: u64) -> Option<usize> {
        for (i, slot) in self.slots.iter().enumerate() {
            if slot
                .word
                .compare_exchange(0, generation + 1, AcqRel, Acquire)
                .is_ok()
            {
                return Some(i);
            }
        }
        debug_assert!(false, "T1: no free interrupt slot for a pending connection");
        None
    }

    /// True once the connection in `index` was interrupted; registers for a wake-up.
    pub(crate) fn poll_interrupted(&self, index: usize, cx: &mut Context<'_>) -> bool {
        let slot = &self.slots[index];
        let word = slot.word.load(Acquire);
        debug_assert_ne!(word, 0, "T1: an establishment polls the slot it holds");
        if word & INTERRUPTED != 0 {
            return true;
        }
        slot.waker.register(cx.waker());
        let word = slot.word.load(Acquire);
        debug_assert_ne!(word, 0, "T1: an establishment polls the slot it holds");
        word & INTERRUPTED != 0
    }

    /// Frees `index` (before the pending count drops, T1).
    pub(crate) fn release(&self, index: usize) {
        let old = self.slots[index].word.swap(0, Release);
        debug_assert_ne!(old, 0, "T1: released a free interrupt slot");
    }

    /// Interrupts every pending connection whose generation is not `current`.
    pub(crate) fn interrupt_except(&self, current: u64) {
        for slot in self.slots.iter() {
            let word = slot.word.load(Acquire);
            if word != 0 && word & INTERRUPTED == 0 && word - 1 != current {
                // T2: only the word we read gets marked.
                match slot
                    .word
                    .compare_exchange(word, word | INTERRUPTED, AcqRel, Acquire)
                {
                    Ok(_) => slot.waker.wake(),
                    Err(actual) => debug_assert_ne!(
                        actual, word,
                        "T2: a failed mark saw the slot change hands or get marked"
                    ),
                }
            }
        }
    }
}
