//! The one wait every retry loop of the engine uses: spin a little, then yield.
//!
//! # State machine
//!
//! A [`Backoff`] counts the waits of one retry loop in `step`, which only grows and
//! stops at `YIELD_STEP`:
//!
//! - while `step <= B::SPIN_LIMIT`, a wait issues `2^step` spin hints
//!   ([`Backend::spin_loop`]): the thread we wait for is running on another core and
//!   needs a few instructions (a push publishing its value, a pop copying one out);
//! - past that, a wait yields the thread through the backend ([`Backend::yield_now`]):
//!   the thread we wait for may have been descheduled, and only the scheduler can let
//!   it finish.
//!
//! Invariants:
//!
//! - **BK1** A wait is bounded: at most `2^SPIN_LIMIT` spin hints, or one yield.
//! - **BK2** Under a model checker every wait reaches a scheduling point: the loom
//!   backend sets `SPIN_LIMIT = 0` and makes both `spin_loop` and `yield_now` a loom
//!   yield, so each wait is exactly one yield and a model whose retry loop waits for
//!   another thread lets that thread run (the model terminates).
//!
//! The engine's own invariants (`I1`–`I8`, see the engine's module docs) do not depend
//! on how long a wait lasts: a backoff only decides how politely a loop retries.

use std::marker::PhantomData;

use crate::sync::Backend;

/// The step past which the count stops growing: waits then always yield.
const YIELD_STEP: u32 = 10;

/// Exponential spin-then-yield backoff for one retry loop (after crossbeam's `Backoff`).
pub(crate) struct Backoff<B: Backend> {
    /// How many waits this loop has done, capped at `YIELD_STEP`.
    step: u32,
    _backend: PhantomData<fn() -> B>,
}

impl<B: Backend> Backoff<B> {
    /// A backoff for a loop that has not waited yet.
    #[inline(always)]
    pub(crate) fn new() -> Self {
        Backoff {
            step: 0,
            _backend: PhantomData,
        }
    }

    /// Waits once before the loop retries (BK1, BK2).
    #[inline]
    pub(crate) fn snooze(&mut self) {
        let before = self.step;
        debug_assert!(
            before <= YIELD_STEP,
            "BK1: backoff step {before} past its cap"
        );
        if before <= B::SPIN_LIMIT {
            for _ in 0..1u32 << before {
                B::spin_loop();
            }
        } else {
            B::yield_now();
        }
        if before < YIELD_STEP {
            self.step += 1;
        }
        debug_assert!(
            self.step >= before && self.step <= YIELD_STEP,
            "BK1: backoff step went from {before} to {}",
            self.step
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::StdBackend;

    #[test]
    fn the_step_grows_to_its_cap_and_stays() {
        let mut backoff = Backoff::<StdBackend>::new();
        for expected in 1..=YIELD_STEP {
            backoff.snooze();
            assert_eq!(backoff.step, expected);
        }
        backoff.snooze();
        backoff.snooze();
        assert_eq!(backoff.step, YIELD_STEP, "the step stops at its cap");
    }
}
