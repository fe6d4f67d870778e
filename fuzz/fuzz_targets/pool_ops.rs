//! `pool_ops`: see `pool_core::fuzzing::model::fuzz` (pool-core/src/fuzzing/model/ops.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;
use pool_core::fuzzing::model::{fuzz, FuzzInput};

fuzz_target!(|input: FuzzInput| fuzz(&input));
