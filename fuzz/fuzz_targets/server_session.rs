//! `server_session`: see `mock_server::fuzzing::server_session` (mock-server/src/fuzzing.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| mock_server::fuzzing::server_session(data));
