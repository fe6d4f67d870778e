//! `waiter_queue`: the engine's wait queue (the real lock-free `Ring` of real `Waiter`
//! nodes) against a plain `VecDeque` model, across 1–4 logical threads whose atomic steps
//! the input interleaves. The checker and what it interleaves are documented in
//! `pool_core::fuzzing::waiter_queue` (pool-core/src/fuzzing/waiter_queue.rs); this
//! target only maps `arbitrary` input onto it.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use pool_core::fuzzing::waiter_queue::{check, Action, Input};

#[derive(Arbitrary, Debug)]
struct FuzzInput {
    capacity: u8,
    threads: u8,
    steps: Vec<(u8, FuzzAction)>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum FuzzAction {
    Enqueue,
    Deliver,
    Cancel(u16),
    Poll(u16),
    Reclaim(u16),
    Close,
}

impl From<FuzzAction> for Action {
    fn from(action: FuzzAction) -> Action {
        match action {
            FuzzAction::Enqueue => Action::Enqueue,
            FuzzAction::Deliver => Action::Deliver,
            FuzzAction::Cancel(k) => Action::Cancel(k),
            FuzzAction::Poll(k) => Action::Poll(k),
            FuzzAction::Reclaim(k) => Action::Reclaim(k),
            FuzzAction::Close => Action::Close,
        }
    }
}

fuzz_target!(|input: FuzzInput| {
    check(&Input {
        capacity: input.capacity,
        threads: input.threads,
        steps: input
            .steps
            .iter()
            .map(|&(thread, action)| (thread, action.into()))
            .collect(),
    });
});
