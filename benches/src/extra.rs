//! Where the figures go: criterion's output directory and the suite's JSON side files.
//!
//! Criterion records time per iteration. What it does not record (ops/s, p50/p99
//! latency, simulated seconds per wall second, the load average while measuring) each
//! bench writes to `<target>/poolcheck-bench/<bench>.json`: one JSON object whose keys are
//! the criterion ids (`end_to_end/poolcheck/100`, ...). Runs under `--test` write nothing,
//! so a smoke run never overwrites real figures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The cargo target directory: `$CARGO_TARGET_DIR` (relative paths taken from the
/// workspace root), else `<workspace>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// Criterion's output directory, as criterion itself picks it: `$CRITERION_HOME`, else
/// `<target>/criterion`.
pub fn criterion_dir() -> PathBuf {
    match std::env::var_os("CRITERION_HOME") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => target_dir().join("criterion"),
    }
}

/// The directory of the side files.
pub fn side_dir() -> PathBuf {
    target_dir().join("poolcheck-bench")
}

/// The side file of bench target `bench`.
pub fn side_file(bench: &str) -> PathBuf {
    side_dir().join(format!("{bench}.json"))
}

/// Reads the side file of `bench` (empty when missing or unreadable).
pub fn read(bench: &str) -> BTreeMap<String, Value> {
    std::fs::read_to_string(side_file(bench))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Stores `value` under `key` in the side file of `bench`, keeping the other keys (a
/// filtered run updates only what it measured). Does nothing in test mode. Failing to
/// write only warns: the criterion figures still stand.
pub fn record(bench: &str, key: &str, value: Value) {
    if crate::test_mode() {
        return;
    }
    let mut all = read(bench);
    all.insert(key.to_string(), value);
    let path = side_file(bench);
    let written = std::fs::create_dir_all(side_dir()).and_then(|()| {
        let text = serde_json::to_string_pretty(&all).map_err(std::io::Error::other)?;
        std::fs::write(&path, text)
    });
    if let Err(err) = written {
        eprintln!("warning: cannot write {}: {err}", path.display());
    }
}

/// Seconds since the Unix epoch (stamped on each record).
pub fn unix_time() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
