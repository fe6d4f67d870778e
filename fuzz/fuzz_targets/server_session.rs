//! `server_session`: arbitrary bytes as one client's whole stream into the mock server's
//! connection handler (`mock_server::serve_connection`), through a `tokio::io::duplex`
//! pipe on a current-thread runtime with a paused clock (fail point blocks, latency
//! faults and awaitable hellos cost no wall time).
//!
//! `mock_server::fuzzing::check_session` opens a well-formed session before the fuzz
//! session and another after it, and checks: no panic; the fuzz session's replies frame
//! and decode; the session opened before still answers `ping` and still finds the
//! document it inserted (unless the input restarted the server or names the witness
//! database); the session opened after answers `ping` and finds what it inserted; the
//! connection counters are exact once everyone hung up.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    if let Err(broken) = runtime.block_on(mock_server::fuzzing::check_session(data)) {
        panic!("server_session: {broken}");
    }
});
