//! A sweep split over four `poolcheck sim` processes (`--shard auto`, `--json-out`) and
//! put back together by `poolcheck merge` gives what one process gives for the same seeds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

/// A zoo pool that fails some seeds of the small scenario, in more than one way
/// (LEAK and LIVE), so dedup has something to merge and something to keep apart.
const SWEEP: [&str; 10] = [
    "sim",
    "--pool",
    "zoo-dead-waiter",
    "--scenario",
    "smoke",
    "--seeds",
    "20",
    "--first-seed",
    "1",
    "--no-progress",
];
const SHARDS: u32 = 4;
const SHARD_VARS: [&str; 4] = [
    "POOLCHECK_SHARD_INDEX",
    "POOLCHECK_SHARD_COUNT",
    "JOB_COMPLETION_INDEX",
    "POOLCHECK_SHARDS",
];

/// `poolcheck` with none of the shard variables of the test's own environment.
fn poolcheck() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_poolcheck"));
    for var in SHARD_VARS {
        cmd.env_remove(var);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

fn spawn(mut cmd: Command) -> Child {
    cmd.spawn().expect("the poolcheck binary starts")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn finished(child: Child, what: &str) -> Output {
    let out = child.wait_with_output().expect("the process ends");
    let code = out.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "{what}: exit {code:?}\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "poolcheck-shard-merge-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

fn merge(files: &[PathBuf], json: bool) -> Output {
    let mut cmd = poolcheck();
    cmd.arg("merge");
    if json {
        cmd.arg("--json");
    }
    cmd.args(files);
    cmd.output().expect("poolcheck merge runs")
}

#[test]
fn four_shards_merge_to_the_single_process_result() {
    let dir = scratch("equal");
    let shard_dir = dir.join("shards");
    let shard_file = |i: u32| shard_dir.join(format!("shard-{i}.json"));
    // Two shards as a CI matrix starts them, two as a Kubernetes Indexed Job does; all
    // five processes at once.
    let mut children = Vec::new();
    for i in 0..SHARDS {
        let mut cmd = poolcheck();
        cmd.args(SWEEP)
            .args(["--jobs", "1", "--shard", "auto", "--json-out"])
            .arg(shard_file(i));
        if i % 2 == 0 {
            cmd.env("POOLCHECK_SHARD_INDEX", i.to_string())
                .env("POOLCHECK_SHARD_COUNT", SHARDS.to_string());
        } else {
            cmd.env("JOB_COMPLETION_INDEX", i.to_string())
                .env("POOLCHECK_SHARDS", SHARDS.to_string());
        }
        children.push((format!("shard {i}"), spawn(cmd)));
    }
    let whole_file = dir.join("whole.json");
    let mut whole_cmd = poolcheck();
    whole_cmd
        .args(SWEEP)
        .args(["--jobs", "1", "--json-out"])
        .arg(&whole_file);
    children.push(("whole sweep".to_string(), spawn(whole_cmd)));
    for (what, child) in children {
        finished(child, &what);
    }

    let whole = read_json(&whole_file);
    for i in 0..SHARDS {
        let shard = read_json(&shard_file(i));
        assert_eq!(shard["shard"]["index"], i);
        assert_eq!(shard["shard"]["count"], SHARDS);
        assert_eq!(shard["seeds_run"], 5, "shard {i} runs its quarter");
    }
    assert_eq!(whole["shard"]["count"], 1);

    let files: Vec<PathBuf> = (0..SHARDS).map(shard_file).collect();
    let out = merge(&files, true);
    assert_eq!(
        out.status.code(),
        Some(1),
        "violations: exit 1\n{}",
        text(&out.stderr)
    );
    let merged: Value = serde_json::from_slice(&out.stdout).expect("merge --json is JSON");
    // A directory stands for the result files in it.
    let from_dir = merge(std::slice::from_ref(&shard_dir), true);
    assert_eq!(from_dir.status.code(), Some(1));
    assert_eq!(from_dir.stdout, out.stdout, "merge DIR is merge DIR/*.json");

    for field in [
        "seeds_run",
        "checkouts",
        "faults",
        "steps",
        "failed_seeds",
        "violations",
        "simulated_ns",
        "coverage",
        "mode",
    ] {
        assert_eq!(merged[field], whole[field], "{field}");
    }
    let reached = merged["coverage"]
        .as_object()
        .expect("a coverage map")
        .values()
        .filter(|n| n.as_u64() > Some(0))
        .count();
    assert!(reached > 0, "the sweep reached some interesting state");
    assert_eq!(merged["seeds_run"], 20);
    assert_eq!(merged["verdict"], "FAIL");

    // The failing seeds and their signatures.
    let mut whole_by_signature: BTreeMap<String, BTreeSet<u64>> = BTreeMap::new();
    for f in whole["failures"].as_array().expect("failures") {
        whole_by_signature
            .entry(f["signature"].as_str().expect("a signature").to_string())
            .or_default()
            .insert(f["seed"].as_u64().expect("a seed"));
    }
    let distinct = merged["distinct"].as_array().expect("distinct failures");
    let merged_by_signature: BTreeMap<String, BTreeSet<u64>> = distinct
        .iter()
        .map(|d| {
            let seeds = d["seeds"]
                .as_array()
                .expect("seeds")
                .iter()
                .filter_map(Value::as_u64)
                .collect();
            (
                d["signature"].as_str().expect("a signature").to_string(),
                seeds,
            )
        })
        .collect();
    assert_eq!(merged_by_signature, whole_by_signature);
    assert!(
        whole_by_signature.len() >= 2,
        "the sweep should fail in at least two ways: {whole_by_signature:?}"
    );
    let failing: u64 = whole_by_signature.values().map(|s| s.len() as u64).sum();
    assert_eq!(
        Some(failing),
        whole["failed_seeds"].as_u64(),
        "every failing seed is listed"
    );

    // Each distinct failure is represented by its smallest seed, with the very record
    // (shrunk case and all) the single process made of that seed.
    for d in distinct {
        let seed = d["representative"]["seed"].as_u64().expect("a seed");
        assert_eq!(
            Some(seed),
            d["seeds"][0].as_u64(),
            "the smallest seed represents"
        );
        assert_eq!(
            d["occurrences"].as_u64(),
            Some(d["seeds"].as_array().map_or(0, Vec::len) as u64)
        );
        let same = whole["failures"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["seed"].as_u64() == Some(seed)))
            .expect("the seed failed in the single process");
        assert_eq!(&d["representative"], same);
        assert!(d["representative"]["shrunk"]["replay"]
            .as_str()
            .is_some_and(|r| r.contains("--replay")));
    }

    // The text: one replay line per distinct failure, exit 1.
    let out = merge(&files, false);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    let replays: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("replay: "))
        .collect();
    assert_eq!(replays.len(), distinct.len(), "{stdout}");
    assert!(stdout.contains("verdict: FAIL — "), "{stdout}");

    // A missing shard or one given twice is refused, naming it.
    let out = merge(&files[..3], false);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("1 of 4 shards missing (index 3)"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no verdict for an incomplete sweep");

    let twice = [files.clone(), vec![files[1].clone()]].concat();
    let out = merge(&twice, false);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("shard 1/4 is given twice"), "{stderr}");

    // The single-process file is a sweep of one shard: not mergeable with the four.
    let mixed = [files[..3].to_vec(), vec![whole_file.clone()]].concat();
    let out = merge(&mixed, false);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("shard count"),
        "{}",
        text(&out.stderr)
    );

    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_malformed_result_file_is_named() {
    let dir = scratch("malformed");
    let bad = dir.join("shard-0.json");
    std::fs::write(&bad, "{\"format\": 1, \"pool\": ").expect("writes");
    let out = merge(std::slice::from_ref(&bad), false);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&bad.display().to_string()), "{stderr}");
    assert!(
        stderr.contains("is not a poolcheck shard result"),
        "{stderr}"
    );

    let missing = dir.join("nowhere.json");
    let out = merge(std::slice::from_ref(&missing), false);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read the result file"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shard_auto_without_an_index_is_a_usage_error() {
    let mut cmd = poolcheck();
    cmd.args(SWEEP).args(["--shard", "auto"]);
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no shard index in the environment"),
        "{stderr}"
    );
    assert!(stderr.contains("POOLCHECK_SHARD_INDEX"), "{stderr}");

    let mut cmd = poolcheck();
    cmd.args(SWEEP)
        .args(["--shard", "auto"])
        .env("JOB_COMPLETION_INDEX", "5")
        .env("POOLCHECK_SHARDS", "4");
    let out = cmd.output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("shard index 5 (from JOB_COMPLETION_INDEX) is not below the shard count 4"),
        "{}",
        text(&out.stderr)
    );
}
