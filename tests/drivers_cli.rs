//! `poolcheck drivers` as a user runs it: the Rust driver in-process end to end (no
//! installation needed), and the errors a fresh machine can meet.

use std::process::{Command, Output};

fn poolcheck(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolcheck"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the poolcheck binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("poolcheck-drivers-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_rust_driver_runs_under_faults_and_both_judges_report() {
    let cache = scratch("rust");
    let out_dir = cache.join("out");
    let args = [
        "drivers",
        "--driver",
        "rust",
        "--seeds",
        "2",
        "--ops",
        "8",
        "--json",
        "--cache-dir",
        cache.to_str().expect("utf-8 path"),
        "--out",
        out_dir.to_str().expect("utf-8 path"),
    ];
    let out = poolcheck(&args, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\nstderr:\n{stderr}"));
    let verdict = summary["verdict"].as_str().unwrap_or_default();
    // The verdict and the exit status agree, whatever the driver did under this run.
    let expected = match verdict {
        "OK" => Some(0),
        "FAIL" => Some(1),
        other => panic!("verdict {other:?}:\n{stdout}\nstderr:\n{stderr}"),
    };
    assert_eq!(out.status.code(), expected, "{stdout}\n{stderr}");
    let driver = &summary["drivers"][0];
    assert_eq!(driver["driver"], "rust");
    assert!(
        driver["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "{driver}"
    );
    let seeds = driver["seeds"].as_array().expect("seeds");
    assert_eq!(seeds.len(), 2);
    for seed in seeds {
        let workers = seed["plan"]["workload"]["workers"]
            .as_array()
            .expect("workers")
            .len();
        assert_eq!(
            seed["load"]["ops"].as_u64(),
            Some(8 * workers as u64),
            "{seed}"
        );
        assert!(
            seed["events"]["events"].as_u64().is_some_and(|n| n > 0),
            "{seed}"
        );
        // The wire judge ran with every check, WIRE-STALE included.
        let checks = &seed["wire"]["checks"];
        assert!(checks.to_string().contains("WIRE-STALE"), "{checks}");
        assert!(
            seed["wire"]["connections"].as_u64().is_some_and(|n| n > 0),
            "{seed}"
        );
    }
    // Every seed kept its files under --out.
    for seed in ["0x1", "0x2"] {
        let dir = out_dir.join(format!("rust-{seed}"));
        for file in ["plan.json", "events.jsonl", "wire-verdict.json"] {
            assert!(
                dir.join(file).is_file(),
                "{} missing",
                dir.join(file).display()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_missing_python_is_a_clear_error_with_status_2() {
    let cache = scratch("nopython");
    let out = poolcheck(
        &[
            "drivers",
            "--driver",
            "pymongo",
            "--cache-dir",
            cache.to_str().expect("utf-8"),
        ],
        &[("POOLCHECK_PYTHON", "/nonexistent/python3")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`/nonexistent/python3` was not found"),
        "{stderr}"
    );
    assert!(stderr.contains("POOLCHECK_PYTHON"), "{stderr}");
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn bad_flags_and_known_files_are_errors() {
    let out = poolcheck(&["drivers", "--driver", "jdbc"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("jdbc"));
    let cache = scratch("known");
    std::fs::create_dir_all(&cache).expect("mkdir");
    let known = cache.join("known.txt");
    std::fs::write(&known, "rust LEAK\n").expect("write");
    let out = poolcheck(
        &[
            "drivers",
            "--driver",
            "rust",
            "--known",
            known.to_str().expect("utf-8"),
        ],
        &[],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("known.txt:1: too few fields"), "{stderr}");
    let _ = std::fs::remove_dir_all(&cache);
}
