//! `poolcheck soak`: the real driver against the mock server for a few seconds. A soak is
//! not deterministic, so these tests check the shape of the verdict, not its content.

use std::process::{Command, Output};

fn poolcheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .output()
        .expect("the poolcheck binary runs")
}

#[test]
fn soak_prints_a_verdict() {
    let out = poolcheck(&["soak", "--duration", "3s", "--workers", "4", "--seed", "7"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.starts_with("poolcheck soak — mongodb driver vs mock-server"),
        "{context}"
    );
    let ok_ops = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("operations"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no operations line: {context}"));
    assert!(ok_ops > 0, "no operation succeeded: {context}");
    let events = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("cmap events"))
        .and_then(|rest| rest.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no cmap events line: {context}"));
    assert!(events > 0, "the oracle saw no CMAP event: {context}");
    for invariant in ["MAX", "LEAK", "STALE", "ACCT"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(invariant)),
            "no {invariant} row: {context}"
        );
    }
    let verdict = stdout
        .lines()
        .find(|l| l.starts_with("verdict: "))
        .unwrap_or_else(|| panic!("no verdict: {context}"));
    match out.status.code() {
        Some(0) => assert!(verdict.starts_with("verdict: OK"), "{context}"),
        Some(1) => assert!(verdict.starts_with("verdict: FAIL"), "{context}"),
        other => panic!("exit code {other:?}: {context}"),
    }
}

#[test]
fn soak_json_is_json() {
    let out = poolcheck(&["soak", "--duration", "1s", "--workers", "2", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"));
    for key in [
        "operations_ok",
        "operations_failed",
        "faults",
        "cmap_events",
        "violations",
    ] {
        assert!(summary.get(key).is_some(), "no `{key}` in {summary}");
    }
}

#[test]
fn soak_rejects_a_bad_duration() {
    let out = poolcheck(&["soak", "--duration", "soon"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a duration"));
}
