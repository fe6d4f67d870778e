//! Goal: the tools around a failure work end to end. Method: sweep a zoo member (with
//! two jobs and with shards), check the summary and the replay line, shrink the failure
//! and replay the shrunk token, and write and parse both trace files.

use sim::oracle::Invariant;
use sim::{replay, sweep, ReplayToken, SweepConfig};

fn config(pool: &str, seeds: u64) -> SweepConfig {
    SweepConfig {
        seeds,
        pool: pool.to_string(),
        scenario: "smoke".to_string(),
        jobs: 2,
        shrink: false,
        ..SweepConfig::default()
    }
}

#[test]
fn sweep_summarises_and_shards_partition_the_seeds() {
    let mut calls = 0;
    let whole = sweep(&config("zoo-pool-full", 12), |_| calls += 1).expect("sweep runs");
    assert_eq!(whole.seeds_run, 12);
    assert_eq!(calls, 12);
    assert!(whole.failed_seeds > 0);
    assert!(whole.simulated.as_secs_f64() > 1.0);
    let first = whole.first_failure.as_ref().expect("a failure");
    assert_eq!(first.violation.invariant, Invariant::Err);
    assert!(first
        .replay
        .starts_with("poolcheck sim --pool zoo-pool-full --scenario smoke --replay 0x"));
    let shards: u64 = (0..3)
        .map(|i| {
            let mut c = config("zoo-pool-full", 12);
            c.shard = (i, 3);
            sweep(&c, |_| {}).expect("shard runs").seeds_run
        })
        .sum();
    assert_eq!(shards, 12);
    let mut bad = config("zoo-pool-full", 1);
    bad.shard = (3, 3);
    assert!(sweep(&bad, |_| {}).is_err());
    assert!(sweep(&config("no-such-pool", 1), |_| {}).is_err());
}

#[test]
fn shrink_then_replay_and_write_traces() {
    let mut c = config("zoo-swallowed-error", 20);
    c.shrink = true;
    c.jobs = 1;
    let dir = std::env::temp_dir().join(format!("sim-tools-{}", std::process::id()));
    c.trace_dir = Some(dir.clone());
    let report = sweep(&c, |_| {}).expect("sweep runs");
    let failure = report.first_failure.expect("caught");
    let shrunk = failure.shrunk.expect("shrunk");
    assert_eq!(shrunk.violation.invariant, failure.violation.invariant);
    let token: ReplayToken = shrunk
        .replay
        .rsplit(' ')
        .next()
        .expect("a token")
        .parse()
        .expect("the token parses");
    let again = replay(&token, "zoo-swallowed-error", "smoke", None).expect("replays");
    assert_eq!(
        again.report.violation.map(|v| v.invariant),
        Some(shrunk.violation.invariant)
    );
    assert_eq!(failure.trace_files.len(), 2);
    for path in &failure.trace_files {
        let text = std::fs::read_to_string(path).expect("trace written");
        if path.extension().is_some_and(|e| e == "jsonl") {
            for line in text.lines() {
                let _: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            }
            assert!(text.contains("\"src\":\"violation\""));
        } else {
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            assert!(v["traceEvents"].as_array().is_some_and(|a| a.len() > 10));
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
