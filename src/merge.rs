//! `poolcheck merge`: the shard results of one sweep (`poolcheck sim --json-out`) as one
//! summary, one verdict and one replay line per distinct failure.
//!
//! The files must be of the same sweep — poolcheck version, pool, scenario, mode, first
//! seed, seed count and shard count equal — with no shard twice and **none missing**: a missing shard is an error
//! (exit 2) naming the missing indices, never a partial verdict, because a sweep that
//! silently lost a shard would report OK on seeds it never ran. A shard that ran fewer
//! seeds than its share is refused the same way. Counts are summed; failures are grouped
//! by [signature](crate::signature), each group represented by its smallest seed and
//! counted. Exit status as `poolcheck sim`: 0 OK, 1 violations, 2 usage or input error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use thiserror::Error;

use crate::shard::Shard;
use crate::shard_result::{FailureRecord, ResultFileError, ShardResult, FORMAT_VERSION};

/// Flags of `poolcheck merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// The shard result files (`poolcheck sim --json-out`), one per shard; a directory
    /// stands for every `*.json` file in it.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print the merged result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Why shard results cannot be merged.
#[derive(Debug, Error)]
pub enum MergeError {
    /// A file cannot be read.
    #[error(transparent)]
    File(#[from] ResultFileError),
    /// Two files are of different sweeps.
    #[error(
        "{path} is from another sweep: its {field} is {found}, but {first} has {expected}; \
         merge only the shards of one sweep"
    )]
    Mismatch {
        /// The file that differs.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// Its value.
        found: String,
        /// The first file.
        first: PathBuf,
        /// The first file's value.
        expected: String,
    },
    /// A shard is given twice.
    #[error("shard {shard} is given twice: {first} and {second}; pass each shard's file once")]
    Duplicate {
        /// The shard.
        shard: String,
        /// One file.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// Shards are missing.
    #[error(
        "{} of {count} shards missing (index {}): the sweep is incomplete, so no verdict; \
         re-run them with --shard I/{count} and merge again",
        missing.len(),
        list(missing)
    )]
    Missing {
        /// The shard count.
        count: u32,
        /// The missing indices.
        missing: Vec<u32>,
    },
    /// A shard ran fewer (or more) seeds than its share of the sweep.
    #[error(
        "{path} (shard {shard}) ran {seeds_run} seeds, but its share of the sweep is {expected}: \
         an interrupted or different run; re-run that shard"
    )]
    Short {
        /// The file.
        path: PathBuf,
        /// The shard.
        shard: String,
        /// Seeds it ran.
        seeds_run: u64,
        /// Seeds it should have run.
        expected: u64,
    },
}

fn list(items: &[u32]) -> String {
    items
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The merged sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Merged {
    /// The shard result format merged.
    pub format: u32,
    /// The pool.
    pub pool: String,
    /// The scenario.
    pub scenario: String,
    /// The exploration mode.
    pub mode: String,
    /// The first seed.
    pub first_seed: u64,
    /// Seeds in the sweep.
    pub seeds: u64,
    /// Shards merged (all of them).
    pub shards: u32,
    /// Seeds run, summed.
    pub seeds_run: u64,
    /// Seeds run twice by the determinism self-checks, summed.
    pub determinism_checked: u64,
    /// Checkouts, summed.
    pub checkouts: u64,
    /// Faults, summed.
    pub faults: u64,
    /// Steps, summed.
    pub steps: u64,
    /// Failing seeds, summed.
    pub failed_seeds: u64,
    /// Failing seeds per invariant, summed.
    pub violations: BTreeMap<String, u64>,
    /// Virtual time, summed, in nanoseconds.
    pub simulated_ns: u64,
    /// Wall time of the shards, summed (machine time, not elapsed), in nanoseconds.
    pub wall_ns: u64,
    /// Failures the shards listed (each lists at most 100 of its failing seeds).
    pub failures_listed: u64,
    /// The distinct failures, by their smallest seed.
    pub distinct: Vec<Distinct>,
    /// Coverage, summed.
    pub coverage: BTreeMap<String, u64>,
    /// `OK` or `FAIL`.
    pub verdict: &'static str,
}

/// One distinct failure: the failures of one signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distinct {
    /// The signature.
    pub signature: String,
    /// Failing seeds with it.
    pub occurrences: u64,
    /// Those seeds, ascending.
    pub seeds: Vec<u64>,
    /// The failure of the smallest seed.
    pub representative: FailureRecord,
}

impl Distinct {
    /// The line that replays it: the shrunk case if there is one, else the seed.
    pub fn replay(&self) -> &str {
        self.representative
            .shrunk
            .as_ref()
            .map_or(&self.representative.replay, |s| &s.replay)
    }
}

/// Merges the shard results `(file, result)` of one sweep.
///
/// # Errors
/// [`MergeError`]: results of different sweeps, a shard twice, a shard missing or short.
pub fn merge(results: &[(PathBuf, ShardResult)]) -> Result<Merged, MergeError> {
    let first = complete_sweep(results)?;
    let mut merged = Merged {
        format: FORMAT_VERSION,
        pool: first.pool.clone(),
        scenario: first.scenario.clone(),
        mode: first.mode.clone(),
        first_seed: first.first_seed,
        seeds: first.seeds,
        shards: first.shard.count,
        seeds_run: 0,
        determinism_checked: 0,
        checkouts: 0,
        faults: 0,
        steps: 0,
        failed_seeds: 0,
        violations: BTreeMap::new(),
        simulated_ns: 0,
        wall_ns: 0,
        failures_listed: 0,
        distinct: Vec::new(),
        coverage: BTreeMap::new(),
        verdict: "OK",
    };
    for (_, r) in results {
        add(&mut merged, r);
    }
    merged.distinct = distinct(results.iter().flat_map(|(_, r)| &r.failures));
    if merged.failed_seeds > 0 {
        merged.verdict = "FAIL";
    }
    Ok(merged)
}

/// The first result, once every result is checked to be a shard of its sweep, each shard
/// given once, none short and none missing.
fn complete_sweep(results: &[(PathBuf, ShardResult)]) -> Result<&ShardResult, MergeError> {
    let Some((first_path, first)) = results.first() else {
        return Err(MergeError::Missing {
            count: 0,
            missing: Vec::new(),
        });
    };
    let mut by_index: BTreeMap<u32, &PathBuf> = BTreeMap::new();
    for (path, r) in results {
        same_sweep(first_path, first, path, r)?;
        let shard = format!("{}/{}", r.shard.index, r.shard.count);
        if let Some(earlier) = by_index.insert(r.shard.index, path) {
            return Err(MergeError::Duplicate {
                shard,
                first: earlier.clone(),
                second: path.clone(),
            });
        }
        let expected = Shard::new(r.shard.index, r.shard.count).map_or(0, |s| s.seeds_in(r.seeds));
        if r.seeds_run != expected {
            return Err(MergeError::Short {
                path: path.clone(),
                shard,
                seeds_run: r.seeds_run,
                expected,
            });
        }
    }
    let count = first.shard.count;
    let missing: Vec<u32> = (0..count).filter(|i| !by_index.contains_key(i)).collect();
    if missing.is_empty() {
        Ok(first)
    } else {
        Err(MergeError::Missing { count, missing })
    }
}

/// The failures grouped by signature, each group by its smallest seed, in seed order.
fn distinct<'a>(failures: impl Iterator<Item = &'a FailureRecord>) -> Vec<Distinct> {
    let mut groups: BTreeMap<&str, Vec<&FailureRecord>> = BTreeMap::new();
    for f in failures {
        groups.entry(&f.signature).or_default().push(f);
    }
    let mut distinct: Vec<Distinct> = groups
        .into_iter()
        .filter_map(|(signature, mut failures)| {
            failures.sort_by_key(|f| f.seed);
            let representative = (*failures.first()?).clone();
            Some(Distinct {
                signature: signature.to_string(),
                occurrences: failures.len() as u64,
                seeds: failures.iter().map(|f| f.seed).collect(),
                representative,
            })
        })
        .collect();
    distinct.sort_by_key(|d| d.representative.seed);
    distinct
}

/// Refuses `r` unless it is of the same sweep as `first`.
fn same_sweep(
    first_path: &std::path::Path,
    first: &ShardResult,
    path: &std::path::Path,
    r: &ShardResult,
) -> Result<(), MergeError> {
    let fields: [(&'static str, String, String); 7] = [
        (
            "poolcheck version",
            first.poolcheck.clone(),
            r.poolcheck.clone(),
        ),
        ("pool", first.pool.clone(), r.pool.clone()),
        ("scenario", first.scenario.clone(), r.scenario.clone()),
        ("mode", first.mode.clone(), r.mode.clone()),
        (
            "first seed",
            first.first_seed.to_string(),
            r.first_seed.to_string(),
        ),
        ("seed count", first.seeds.to_string(), r.seeds.to_string()),
        (
            "shard count",
            first.shard.count.to_string(),
            r.shard.count.to_string(),
        ),
    ];
    for (field, expected, found) in fields {
        if expected != found {
            return Err(MergeError::Mismatch {
                path: path.to_path_buf(),
                field,
                found,
                first: first_path.to_path_buf(),
                expected,
            });
        }
    }
    Ok(())
}

/// Adds one shard's counts.
fn add(m: &mut Merged, r: &ShardResult) {
    m.seeds_run += r.seeds_run;
    m.determinism_checked += r.determinism_checked;
    m.checkouts += r.checkouts;
    m.faults += r.faults;
    m.steps += r.steps;
    m.failed_seeds += r.failed_seeds;
    m.simulated_ns = m.simulated_ns.saturating_add(r.simulated_ns);
    m.wall_ns = m.wall_ns.saturating_add(r.wall_ns);
    m.failures_listed += r.failures.len() as u64;
    for (inv, n) in &r.violations {
        *m.violations.entry(inv.clone()).or_default() += n;
    }
    for (state, n) in &r.coverage {
        *m.coverage.entry(state.clone()).or_default() += n;
    }
}

/// The files named: each file, and the `*.json` files of each directory (sorted).
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ResultFileError> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
        let read_err = |source| ResultFileError::Read {
            path: path.clone(),
            source,
        };
        let mut inside = Vec::new();
        for entry in std::fs::read_dir(path).map_err(read_err)? {
            let file = entry.map_err(read_err)?.path();
            if file.is_file() && file.extension().is_some_and(|e| e == "json") {
                inside.push(file);
            }
        }
        inside.sort();
        files.extend(inside);
    }
    Ok(files)
}

/// Runs `poolcheck merge`.
pub fn run(args: &MergeArgs) -> ExitCode {
    let files = match expand(&args.files) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("poolcheck merge: {e}");
            return ExitCode::from(2);
        }
    };
    let mut results = Vec::with_capacity(files.len());
    for path in &files {
        match ShardResult::read(path) {
            Ok(r) => results.push((path.clone(), r)),
            Err(e) => {
                eprintln!("poolcheck merge: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let merged = match merge(&results) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("poolcheck merge: {e}");
            return ExitCode::from(2);
        }
    };
    if args.json {
        match serde_json::to_string_pretty(&merged) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("poolcheck merge: cannot print JSON: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print_text(&merged);
    }
    if merged.failed_seeds > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn print_text(m: &Merged) {
    let secs = |ns: u64| ns as f64 / 1e9;
    println!(
        "poolcheck merge — pool `{}`, scenario `{}`, mode `{}`, seeds {:#x}.. ({} seeds), {} shards",
        m.pool, m.scenario, m.mode, m.first_seed, m.seeds, m.shards
    );
    println!("  seeds run          {}", m.seeds_run);
    println!("  simulated time     {:.1} s", secs(m.simulated_ns));
    println!("  wall time (summed) {:.2} s", secs(m.wall_ns));
    println!("  checkouts          {}", m.checkouts);
    println!("  faults injected    {}", m.faults);
    println!(
        "  determinism        {} seed(s) run twice and compared",
        m.determinism_checked
    );
    println!("  violations (seeds failing, by first violated invariant):");
    for (inv, n) in &m.violations {
        println!("    {inv:<6} {n}");
    }
    if !m.coverage.is_empty() {
        println!("  coverage (interesting states reached, summed over shards):");
        for (state, n) in &m.coverage {
            println!("    {state:<32} {n}");
        }
        let never: Vec<&str> = m
            .coverage
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(state, _)| state.as_str())
            .collect();
        if !never.is_empty() {
            println!("  never reached: {}", never.join(", "));
        }
    }
    if m.failures_listed < m.failed_seeds {
        println!(
            "  note: the shards listed {} of {} failing seeds (at most 100 each); the distinct \
             failures are of those",
            m.failures_listed, m.failed_seeds
        );
    }
    if m.verdict == "OK" {
        println!(
            "verdict: OK — no invariant violated in {} seeds",
            m.seeds_run
        );
        return;
    }
    println!(
        "verdict: FAIL — {} of {} seeds; {} distinct failure(s)",
        m.failed_seeds,
        m.seeds_run,
        m.distinct.len()
    );
    for (n, d) in m.distinct.iter().enumerate() {
        println!(
            "[{}] {} — {} seed(s), first {:#x}: {}",
            n + 1,
            d.signature,
            d.occurrences,
            d.representative.seed,
            d.representative.message
        );
        println!("replay: {}", d.replay());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shard_result::ShardId;

    fn failure(seed: u64, signature: &str) -> FailureRecord {
        FailureRecord {
            seed,
            invariant: "LIVE".into(),
            message: format!("seed {seed}"),
            token: format!("{seed:#x}"),
            replay: format!("poolcheck sim --replay {seed:#x}"),
            shrunk: None,
            signature: signature.into(),
        }
    }

    /// Shard `index` of 3 over 10 seeds, failing on `failing` (signature per seed).
    fn shard(index: u32, failing: &[(u64, &str)]) -> (PathBuf, ShardResult) {
        let count = 3;
        let seeds_run = Shard::new(index, count).map_or(0, |s| s.seeds_in(10));
        let result = ShardResult {
            format: FORMAT_VERSION,
            poolcheck: "0.1.0".into(),
            pool: "zoo-x".into(),
            scenario: "standard".into(),
            mode: "random".into(),
            first_seed: 1,
            seeds: 10,
            shard: ShardId { index, count },
            seeds_run,
            determinism_checked: 1,
            checkouts: 10 * seeds_run,
            faults: seeds_run,
            steps: 100,
            failed_seeds: failing.len() as u64,
            violations: if failing.is_empty() {
                BTreeMap::new()
            } else {
                BTreeMap::from([("LIVE".to_string(), failing.len() as u64)])
            },
            simulated_ns: 1_000,
            wall_ns: 10,
            failures: failing.iter().map(|(s, sig)| failure(*s, sig)).collect(),
            coverage: BTreeMap::from([("waiting".to_string(), u64::from(index) + 1)]),
        };
        (PathBuf::from(format!("shard-{index}.json")), result)
    }

    #[test]
    fn sums_and_dedups_by_signature() {
        let results = [
            shard(0, &[(4, "A"), (7, "B")]),
            shard(1, &[(2, "A")]),
            shard(2, &[]),
        ];
        let m = merge(&results).expect("merges");
        assert_eq!(m.seeds_run, 10);
        assert_eq!(m.checkouts, 100);
        assert_eq!(m.failed_seeds, 3);
        assert_eq!(m.violations.get("LIVE"), Some(&3));
        assert_eq!(m.coverage.get("waiting"), Some(&6));
        assert_eq!(m.verdict, "FAIL");
        let sigs: Vec<(&str, u64, u64)> = m
            .distinct
            .iter()
            .map(|d| (d.signature.as_str(), d.occurrences, d.representative.seed))
            .collect();
        assert_eq!(sigs, [("A", 2, 2), ("B", 1, 7)]);
        assert_eq!(m.distinct[0].seeds, [2, 4]);
    }

    #[test]
    fn no_failures_is_ok() {
        let m = merge(&[shard(0, &[]), shard(1, &[]), shard(2, &[])]).expect("merges");
        assert_eq!(m.verdict, "OK");
        assert!(m.distinct.is_empty());
    }

    #[test]
    fn refuses_missing_duplicate_short_and_foreign_shards() {
        let err = merge(&[shard(0, &[]), shard(2, &[])]).expect_err("missing");
        assert!(matches!(&err, MergeError::Missing { count: 3, missing } if missing == &[1]));
        let err = merge(&[shard(0, &[]), shard(1, &[]), shard(1, &[]), shard(2, &[])])
            .expect_err("duplicate");
        assert!(matches!(err, MergeError::Duplicate { .. }), "{err}");
        let mut short = shard(1, &[]);
        short.1.seeds_run -= 1;
        let err = merge(&[shard(0, &[]), short, shard(2, &[])]).expect_err("short");
        assert!(
            matches!(err, MergeError::Short { expected: 3, .. }),
            "{err}"
        );
        let mut other = shard(1, &[]);
        other.1.scenario = "zombie".into();
        let err = merge(&[shard(0, &[]), other, shard(2, &[])]).expect_err("foreign");
        assert!(
            matches!(
                err,
                MergeError::Mismatch {
                    field: "scenario",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("shard-1.json"), "{err}");
        let mut newer = shard(2, &[]);
        newer.1.poolcheck = "0.2.0".into();
        let err = merge(&[shard(0, &[]), shard(1, &[]), newer]).expect_err("another build");
        assert!(
            matches!(
                err,
                MergeError::Mismatch {
                    field: "poolcheck version",
                    ..
                }
            ),
            "{err}"
        );
    }
}
