//! A seed's pipeline driven by fake drivers: small `sh` scripts that speak the phase
//! protocol and write an event log of their choosing, so each outcome — a violation in
//! the events, a hang, a crash, a failed setup — is produced on purpose.

use std::path::PathBuf;

use sim::Invariant;

use super::*;
use crate::drivers::plan::Driver;

/// A directory of its own for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("poolcheck-seed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}

/// A launcher running `body` with `sh`; `$events` is the plan's events path.
fn fake(dir: &Path, body: &str) -> Launcher {
    let script = dir.join("fake-driver.sh");
    let text = format!(
        "plan=\"$2\"\n\
         events=$(sed -n 's/.*\"events_path\": *\"\\([^\"]*\\)\".*/\\1/p' \"$plan\")\n{body}\n"
    );
    std::fs::write(&script, text).expect("write the fake driver");
    Launcher {
        program: PathBuf::from("sh"),
        args: vec![script.to_string_lossy().into_owned()],
        env: Vec::new(),
    }
}

const READY: &str = r#"echo '{"phase":"ready","version":"fake-1","runtime":"sh"}'"#;
const LOAD_DONE: &str = r#"echo '{"phase":"load-done","ops":2,"ok":2,"failed":0,"cancelled":0}'"#;
const CLOSE_AND_EXIT: &str = r#"read line; echo '{"phase":"closed"}'; read line; exit 0"#;

async fn run_fake(name: &str, body: &str, load_timeout: Duration) -> SeedOutcome {
    let dir = scratch(name);
    let launcher = fake(&dir, body);
    let plan = Plan::draw(1, Driver::Pymongo, 2, false);
    let outcome = run(&plan, Some(&launcher), &dir.join("seed"), load_timeout).await;
    let _ = std::fs::remove_dir_all(&dir);
    outcome
}

#[tokio::test]
async fn a_clean_log_passes_and_a_double_checkout_is_leak() {
    let clean = format!(
        "{READY}\ncat > \"$events\" <<EOF\n\
         {{\"t_us\":1,\"type\":\"ConnectionPoolReady\"}}\n\
         {{\"t_us\":2,\"type\":\"ConnectionCreated\",\"connection_id\":1}}\n\
         {{\"t_us\":3,\"type\":\"ConnectionReady\",\"connection_id\":1}}\n\
         {{\"t_us\":4,\"type\":\"ConnectionCheckedOut\",\"connection_id\":1}}\n\
         {{\"t_us\":5,\"type\":\"ConnectionCheckedIn\",\"connection_id\":1}}\n\
         {{\"t_us\":6,\"type\":\"ConnectionPoolClosed\"}}\n\
         {{\"t_us\":7,\"type\":\"ConnectionClosed\",\"connection_id\":1,\"reason\":\"poolClosed\"}}\n\
         EOF\n{LOAD_DONE}\n{CLOSE_AND_EXIT}"
    );
    let outcome = run_fake("clean", &clean, Duration::from_secs(30)).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.ready.version, "fake-1");
    assert_eq!(outcome.load.as_ref().map(|l| l.ops), Some(2));
    assert_eq!(outcome.events.events, 7);
    assert!(outcome.events.is_ok(), "{}", outcome.events);
    assert!(outcome.wire.as_ref().is_some_and(|w| w.is_ok()));
    assert_eq!(outcome.findings(), 0);

    let twice = clean.replace(
        "\"type\":\"ConnectionCheckedIn\",\"connection_id\":1}",
        "\"type\":\"ConnectionCheckedOut\",\"connection_id\":1}",
    );
    let outcome = run_fake("twice", &twice, Duration::from_secs(30)).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let found: Vec<Invariant> = outcome
        .events
        .violations
        .iter()
        .map(|v| v.invariant)
        .collect();
    assert_eq!(found.first(), Some(&Invariant::Leak), "{}", outcome.events);
    assert!(outcome.findings() > 0);
}

#[tokio::test]
async fn a_driver_that_never_finishes_its_load_is_a_hang() {
    let body = format!("{READY}\nread line\nsleep 30");
    let outcome = run_fake("hang", &body, Duration::from_millis(500)).await;
    match &outcome.error {
        Some(RunError::Hang { phase, .. }) => assert_eq!(phase, "load-done"),
        other => panic!("expected a hang, got {other:?}"),
    }
    assert!(!outcome.is_setup_error());
    assert_eq!(outcome.findings(), 1);
}

#[tokio::test]
async fn a_driver_that_dies_mid_load_is_a_crash_with_its_stderr() {
    let body = format!("{READY}\necho 'Traceback: boom' >&2\nexit 3");
    let outcome = run_fake("crash", &body, Duration::from_secs(30)).await;
    match &outcome.error {
        Some(RunError::Crash {
            phase,
            stderr,
            status,
        }) => {
            assert_eq!(phase, "load-done");
            assert!(stderr.contains("boom"), "{stderr}");
            assert!(status.contains('3'), "{status}");
        }
        other => panic!("expected a crash, got {other:?}"),
    }
    assert_eq!(outcome.findings(), 1);
}

#[tokio::test]
async fn a_driver_that_cannot_start_is_a_setup_error_not_a_finding() {
    let body = "echo 'cannot import pymongo' >&2\nexit 3";
    let outcome = run_fake("setup", body, Duration::from_secs(30)).await;
    match &outcome.error {
        Some(RunError::Setup { detail }) => assert!(detail.contains("cannot import"), "{detail}"),
        other => panic!("expected a setup error, got {other:?}"),
    }
    assert!(outcome.is_setup_error());
    assert_eq!(outcome.findings(), 0);
}
