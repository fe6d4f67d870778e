//! `waiter_queue`: see `pool_core::fuzzing::waiter_queue` (pool-core/src/fuzzing/waiter_queue.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pool_core::fuzzing::waiter_queue::{check, Input};

fuzz_target!(|input: Input| check(&input));
