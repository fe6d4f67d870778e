//! `wire_decode`: arbitrary bytes into the wire decoder (OP_MSG, OP_QUERY, OP_REPLY and
//! the BSON documents inside them).
//!
//! - `wire::fuzzing::decode_roundtrip`: never a panic; whatever decodes re-encodes to the
//!   same bytes (or, for non-canonical BSON the `bson` crate normalises, encoding is a
//!   fixed point after one normalisation).
//! - `wire::fuzzing::document_differential`: the same bytes as one BSON document, parsed
//!   by the crate's own reader and by the `bson` crate; both accept the same value or
//!   both refuse.
//!
//! "No allocation driven by an unchecked length" is enforced by libFuzzer's
//! `-malloc_limit_mb` (`ci/fuzz.sh` passes 64: inputs are at most a few KiB, so any
//! bigger allocation was sized by a length field rather than by the bytes at hand).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    wire::fuzzing::decode_roundtrip(data);
    wire::fuzzing::document_differential(data);
});
