//! `wire_decode`: see `wire::fuzzing::wire_decode` (wire/src/fuzzing.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| wire::fuzzing::wire_decode(data));
