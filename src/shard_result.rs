//! The result file of one shard of a sweep (`poolcheck sim --json-out PATH`), which
//! `poolcheck merge` reads back.
//!
//! One JSON object, format [`FORMAT_VERSION`]: which sweep (pool, scenario, seed range,
//! shard), what ran (seeds, checkouts, faults, steps, simulated and wall time in
//! nanoseconds), what failed (failing seeds by invariant, and each failure with its replay
//! line and [signature](crate::signature)), and an optional `coverage` map (state name →
//! count, summed by merge). Unknown
//! fields are refused on read, so a file from a newer format is reported, not misread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sim::SweepReport;
use thiserror::Error;

use crate::shard::Shard;

/// The format of the result file; `poolcheck merge` refuses any other.
pub const FORMAT_VERSION: u32 = 1;

/// One shard's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardResult {
    /// [`FORMAT_VERSION`].
    pub format: u32,
    /// The `poolcheck` version that wrote it.
    pub poolcheck: String,
    /// The pool under test.
    pub pool: String,
    /// The scenario.
    pub scenario: String,
    /// The exploration mode (`random`, `swarm`, `pct`, `portfolio`); files written before
    /// modes existed read as `random`, which is what they ran.
    #[serde(default = "random_mode")]
    pub mode: String,
    /// The sweep's first seed (seed `i` is `first_seed + i`).
    pub first_seed: u64,
    /// Seeds in the whole sweep, before sharding.
    pub seeds: u64,
    /// This shard: it ran the seed indices `i` with `i % shard.count == shard.index`.
    pub shard: ShardId,
    /// Seeds this shard ran.
    pub seeds_run: u64,
    /// Seeds run twice by the determinism self-check.
    pub determinism_checked: u64,
    /// Checkouts begun, summed over seeds.
    pub checkouts: u64,
    /// Faults injected, summed.
    pub faults: u64,
    /// Scheduler steps (polls), summed.
    pub steps: u64,
    /// Seeds that violated an invariant.
    pub failed_seeds: u64,
    /// Failing seeds per invariant of their first violation (`LIVE`, `MAX`, …).
    pub violations: BTreeMap<String, u64>,
    /// Virtual time simulated, summed over seeds, in nanoseconds.
    pub simulated_ns: u64,
    /// Wall-clock time of the sweep (without shrinking), in nanoseconds.
    pub wall_ns: u64,
    /// The failing seeds, in seed order. The sweep engine lists at most 100 per shard;
    /// `failed_seeds` counts them all.
    pub failures: Vec<FailureRecord>,
    /// Coverage: how often each interesting state was reached, summed over seeds (every
    /// state the simulator counts, zeros included; absent in older files).
    #[serde(default)]
    pub coverage: BTreeMap<String, u64>,
}

/// A shard, as written in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardId {
    /// The shard's index, below `count`.
    pub index: u32,
    /// How many shards the sweep was split into.
    pub count: u32,
}

/// One failing seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRecord {
    /// The seed.
    pub seed: u64,
    /// The invariant it violated first.
    pub invariant: String,
    /// The violation's message (empty when not re-run).
    pub message: String,
    /// The token that replays the seed.
    pub token: String,
    /// The line that replays the seed.
    pub replay: String,
    /// The shrunk case, when shrinking ran.
    pub shrunk: Option<ShrunkRecord>,
    /// What the failure is, across seeds: see [`crate::signature`].
    pub signature: String,
}

/// A failure's shrunk case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShrunkRecord {
    /// The token that replays the minimal case.
    pub token: String,
    /// The line that replays it.
    pub replay: String,
    /// Faults left.
    pub faults: usize,
    /// Clients left.
    pub clients: usize,
    /// Ops left.
    pub ops: usize,
    /// What is left, without numbers: fault kinds, clients, op kinds.
    pub shape: String,
    /// The shrunk case's violation message.
    pub message: String,
}

/// A result file that cannot be written or read.
#[derive(Debug, Error)]
pub enum ResultFileError {
    /// Writing failed.
    #[error("cannot write the result file {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Reading failed.
    #[error("cannot read the result file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a shard result.
    #[error(
        "{path} is not a poolcheck shard result (written by `poolcheck sim --json-out`): {source}"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
    /// The file is of another format.
    #[error(
        "{path} is result format {found}, this poolcheck reads format {FORMAT_VERSION}: merge \
         with the poolcheck that wrote it"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// Its format.
        found: u32,
    },
}

/// The mode of a result file written before modes existed.
fn random_mode() -> String {
    "random".to_string()
}

impl ShardResult {
    /// The result of `report`, the sweep of seeds `first_seed..first_seed + seeds` cut
    /// into `shard`, with its `failures` recorded.
    pub fn from_sweep(
        report: &SweepReport,
        first_seed: u64,
        seeds: u64,
        shard: Shard,
        failures: Vec<FailureRecord>,
    ) -> ShardResult {
        ShardResult {
            format: FORMAT_VERSION,
            poolcheck: env!("CARGO_PKG_VERSION").to_string(),
            pool: report.pool.clone(),
            scenario: report.scenario.clone(),
            mode: report.mode.to_string(),
            first_seed,
            seeds,
            shard: ShardId {
                index: shard.index,
                count: shard.count,
            },
            seeds_run: report.seeds_run,
            determinism_checked: report.determinism_checked,
            checkouts: report.checkouts,
            faults: report.faults,
            steps: report.steps,
            failed_seeds: report.failed_seeds,
            violations: report
                .violations
                .iter()
                .map(|(inv, n)| (inv.to_string(), *n))
                .collect(),
            simulated_ns: nanos(report.simulated),
            wall_ns: nanos(report.wall),
            failures,
            coverage: report.coverage.clone(),
        }
    }

    /// Writes the result as pretty JSON to `path` (creating its directory).
    ///
    /// # Errors
    /// [`ResultFileError::Write`].
    pub fn write(&self, path: &Path) -> Result<(), ResultFileError> {
        let write_err = |source| ResultFileError::Write {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        let mut json =
            serde_json::to_string_pretty(self).map_err(|e| write_err(std::io::Error::other(e)))?;
        json.push('\n');
        std::fs::write(path, json).map_err(write_err)
    }

    /// Reads a result written by [`ShardResult::write`].
    ///
    /// # Errors
    /// [`ResultFileError`] naming the file: unreadable, not JSON of this shape, or another
    /// format.
    pub fn read(path: &Path) -> Result<ShardResult, ResultFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ResultFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // The format first, so a newer file says so rather than naming an unknown field.
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        if let Ok(Format { format }) = serde_json::from_str::<Format>(&text) {
            if format != FORMAT_VERSION {
                return Err(ResultFileError::Format {
                    path: path.to_path_buf(),
                    found: format,
                });
            }
        }
        serde_json::from_str(&text).map_err(|source| ResultFileError::Parse {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Nanoseconds of `d`, saturating (584 years).
pub fn nanos(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ShardResult {
        ShardResult {
            format: FORMAT_VERSION,
            poolcheck: "0.1.0".into(),
            pool: "zoo-x".into(),
            scenario: "standard".into(),
            mode: "random".into(),
            first_seed: 1,
            seeds: 10,
            shard: ShardId { index: 1, count: 2 },
            seeds_run: 5,
            determinism_checked: 4,
            checkouts: 100,
            faults: 7,
            steps: 1000,
            failed_seeds: 1,
            violations: BTreeMap::from([("LIVE".to_string(), 1)]),
            simulated_ns: 5_000_000_000,
            wall_ns: 1_000_000,
            failures: vec![FailureRecord {
                seed: 4,
                invariant: "LIVE".into(),
                message: "stuck".into(),
                token: "0x4".into(),
                replay: "poolcheck sim --replay 0x4".into(),
                shrunk: None,
                signature: "LIVE".into(),
            }],
            coverage: BTreeMap::new(),
        }
    }

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "poolcheck-shard-result-{}-{name}",
            std::process::id()
        ))
    }

    #[test]
    fn round_trips() {
        let path = temp("round-trip.json");
        sample().write(&path).expect("writes");
        let back = ShardResult::read(&path).expect("reads");
        assert_eq!(back, sample());
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn refuses_unknown_fields_and_other_formats() {
        let mut value = serde_json::to_value(sample()).expect("serialises");
        value["surprise"] = serde_json::json!(1);
        let path = temp("unknown.json");
        std::fs::write(&path, value.to_string()).expect("writes");
        let err = ShardResult::read(&path).expect_err("unknown field refused");
        assert!(matches!(err, ResultFileError::Parse { .. }), "{err}");
        assert!(err.to_string().contains("surprise"), "{err}");

        let mut value = serde_json::to_value(sample()).expect("serialises");
        value["format"] = serde_json::json!(2);
        std::fs::write(&path, value.to_string()).expect("writes");
        let err = ShardResult::read(&path).expect_err("format 2 refused");
        assert!(
            matches!(err, ResultFileError::Format { found: 2, .. }),
            "{err}"
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn coverage_may_be_absent() {
        let mut value = serde_json::to_value(sample()).expect("serialises");
        value.as_object_mut().map(|o| o.remove("coverage"));
        let back: ShardResult = serde_json::from_value(value).expect("parses");
        assert!(back.coverage.is_empty());
    }
}
