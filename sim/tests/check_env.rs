//! Goal: a failure found by `sim::Check` replays in the user's own crate from the line it
//! prints. Method (one test: it sets process-wide environment variables): find a failure
//! of a zoo member, take the shrunk token from its message, set `POOLCHECK_REPLAY` and
//! `POOLCHECK_TRACE` as the message says, and check that the same run fails the same way
//! and writes both trace files; then check `POOLCHECK_SEEDS` and a bad value.

use sim::{Check, ENV_REPLAY, ENV_SEEDS, ENV_TRACE};

fn check() -> Check {
    let zoo = sim::pools::find("zoo-swallowed-error").expect("a zoo member");
    Check::pool(zoo)
        .scenarios(["smoke", "standard"])
        .seeds(40)
        .test_name("swallowed")
}

#[test]
fn the_printed_line_replays_the_failure_and_writes_its_trace() {
    for name in [ENV_REPLAY, ENV_SEEDS, ENV_TRACE] {
        std::env::remove_var(name);
    }
    let found = check().run();
    let failure = found.failures().next().expect("caught");
    let shrunk = failure.shrunk.as_ref().expect("shrunk");
    let message = found.to_string();
    let line = format!("POOLCHECK_REPLAY='{}' cargo test swallowed", shrunk.token);
    assert!(message.contains(&line), "{message}");
    assert!(
        shrunk.token.starts_with("smoke/0x"),
        "two scenarios: the token names its scenario ({})",
        shrunk.token
    );

    let dir = std::env::temp_dir().join(format!("poolcheck-check-env-{}", std::process::id()));
    std::env::set_var(ENV_REPLAY, &shrunk.token);
    std::env::set_var(ENV_TRACE, &dir);
    let again = check().run();
    let replayed = again.replayed.as_ref().expect("only the case was replayed");
    assert!(again.sweeps.is_empty());
    assert_eq!(
        replayed.report.violation.as_ref(),
        Some(&shrunk.violation),
        "the same violation, at the same instant"
    );
    assert!(again.to_string().contains(&line), "{again}");
    assert_eq!(replayed.trace_files.len(), 2);
    for file in &replayed.trace_files {
        assert!(
            std::fs::metadata(file).is_ok_and(|m| m.len() > 100),
            "{file:?}"
        );
    }
    std::env::remove_var(ENV_TRACE);

    std::env::remove_var(ENV_REPLAY);
    std::env::set_var(ENV_SEEDS, "3");
    let few = check().shrink(false).run();
    assert!(few.sweeps.iter().all(|s| s.seeds_run == 3), "{few}");
    std::env::set_var(ENV_SEEDS, "lots");
    let bad = check().run();
    assert!(
        bad.error
            .as_ref()
            .is_some_and(|e| e.to_string().contains("POOLCHECK_SEEDS")),
        "{bad}"
    );
    std::env::remove_var(ENV_SEEDS);
    let _ = std::fs::remove_dir_all(&dir);
}
