//! Inputs for the `server_session` fuzz target (fuzz/fuzz_targets/server_session.rs),
//! run through the same entry point (`mock_server::fuzzing::check_session`) on a paused
//! clock: the committed seed corpus, and any crash reproducer saved under
//! `tests/fuzz-regressions/server_session/`.

use std::path::Path;

use mock_server::fuzzing::check_session;

async fn run_dir(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0; // Not in a full checkout.
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in &paths {
        let data = std::fs::read(path).expect("readable input");
        if let Err(broken) = check_session(&data).await {
            panic!("{}: {broken}", path.display());
        }
    }
    paths.len()
}

/// Every committed seed runs clean, and the well-formed ones get every reply.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn seed_corpus_runs_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/server_session");
    run_dir(&dir).await;
    if let Ok(data) = std::fs::read(dir.join("seed-crud")) {
        let report = check_session(&data).await.expect("seed-crud passes");
        assert_eq!(report.replies, 6, "{report:?}");
    }
}

/// Crash reproducers found by the fuzzer (none so far).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn crash_reproducers_run_clean() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions/server_session");
    run_dir(&dir).await;
}

/// Garbage, an empty stream and a lone header end the session without hurting others.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn malformed_streams_end_only_their_session() {
    for data in [
        &b""[..],
        &[0xff; 64][..],
        &[16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0][..],
        &[0x7f, 0xff, 0xff, 0xff][..],
    ] {
        if let Err(broken) = check_session(data).await {
            panic!("{data:?}: {broken}");
        }
    }
}
