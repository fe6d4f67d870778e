//! Which shard of a sweep this process runs: `--shard I/N`, or `--shard auto` read from
//! the environment of the engine that started it.
//!
//! The rule for `--shard auto`:
//!
//! - the **index** is `POOLCHECK_SHARD_INDEX` (a CI matrix sets it) or
//!   `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job sets it); if both are set they must
//!   agree;
//! - the **count** is `--shards N`, else `POOLCHECK_SHARD_COUNT` or `POOLCHECK_SHARDS`
//!   (Kubernetes does not pass `completions` to the pod: the manifest sets
//!   `POOLCHECK_SHARDS` to the same number); if both variables are set they must agree;
//! - the index must be below the count.
//!
//! Anything missing or malformed is a [`ShardError`] that names the variable and its value.
//! Without `--shard` the process runs every seed (shard 0/1) whatever the environment
//! says; [`ignored_env`] names a shard variable that is set, so the command line can warn.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// The CI-matrix index variable.
pub(crate) const ENV_INDEX: &str = "POOLCHECK_SHARD_INDEX";
/// The CI-matrix count variable.
pub(crate) const ENV_COUNT: &str = "POOLCHECK_SHARD_COUNT";
/// The index a Kubernetes Indexed Job gives each pod.
pub(crate) const ENV_K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
/// The count, as a Kubernetes manifest passes it.
pub(crate) const ENV_SHARDS: &str = "POOLCHECK_SHARDS";

/// `--shard`: a fixed shard or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardSpec {
    /// `I/N`.
    Fixed(Shard),
    /// Read the shard from the environment.
    Auto,
}

/// Shard `index` of `count`: the seeds whose index `i` has `i % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, below `count`.
    pub index: u32,
    /// How many shards the sweep is split into.
    pub count: u32,
}

impl Shard {
    /// The whole sweep in one process.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// A shard, if `index < count`.
    pub fn new(index: u32, count: u32) -> Option<Shard> {
        (index < count).then_some(Shard { index, count })
    }

    /// How many of the seed indices `0..seeds` fall in this shard.
    pub fn seeds_in(self, seeds: u64) -> u64 {
        let (index, count) = (u64::from(self.index), u64::from(self.count));
        seeds / count + u64::from(seeds % count > index)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<ShardSpec, String> {
        if s.eq_ignore_ascii_case("auto") {
            return Ok(ShardSpec::Auto);
        }
        let bad = || {
            format!(
                "`{s}` is not a shard: write i/n with 0 <= i < n (e.g. 0/4), or `auto` to read \
                 it from {ENV_INDEX}/{ENV_K8S_INDEX} and {ENV_COUNT}/{ENV_SHARDS}"
            )
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        Shard::new(i, n).map(ShardSpec::Fixed).ok_or_else(bad)
    }
}

/// Why `--shard auto` found no shard.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ShardError {
    /// No index variable is set.
    #[error(
        "--shard auto: no shard index in the environment: set {ENV_INDEX} (a CI matrix) or run \
         as a Kubernetes Indexed Job (which sets {ENV_K8S_INDEX}); or pass --shard I/N"
    )]
    NoIndex,
    /// No count: neither the flag nor a variable.
    #[error(
        "--shard auto: the shard index is {index} (from {from}) but the shard count is unknown: \
         pass --shards N or set {ENV_COUNT} or {ENV_SHARDS} (a Kubernetes manifest sets it to \
         the Job's `completions`)"
    )]
    NoCount {
        /// The index found.
        index: u32,
        /// Where it came from.
        from: &'static str,
    },
    /// A variable is not a number.
    #[error("--shard auto: {var}=`{value}` is not a {what}: write a whole number{hint}")]
    NotANumber {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// "shard index" or "shard count".
        what: &'static str,
        /// ", at least 1" for a count.
        hint: &'static str,
    },
    /// Two variables that mean the same thing disagree.
    #[error(
        "--shard auto: {a}={a_value} and {b}={b_value} disagree: unset one, or make them equal"
    )]
    Conflict {
        /// One variable.
        a: &'static str,
        /// Its value.
        a_value: u32,
        /// The other.
        b: &'static str,
        /// Its value.
        b_value: u32,
    },
    /// The count is zero.
    #[error("--shard auto: the shard count ({from}) is 0: a sweep has at least one shard")]
    ZeroCount {
        /// Where the count came from.
        from: &'static str,
    },
    /// The index is not below the count.
    #[error(
        "--shard auto: shard index {index} (from {index_from}) is not below the shard count \
         {count} (from {count_from}): indices run 0..{count}; does the count match the number \
         of jobs?"
    )]
    IndexTooLarge {
        /// The index.
        index: u32,
        /// Where it came from.
        index_from: &'static str,
        /// The count.
        count: u32,
        /// Where it came from.
        count_from: &'static str,
    },
}

/// The shard to run: `spec` (default: the whole sweep), `--shards` and the environment
/// (looked up through `env`, so tests need not touch the process's).
///
/// # Errors
/// [`ShardError`] when `--shard auto` cannot find a valid shard.
pub fn resolve(
    spec: Option<ShardSpec>,
    shards_flag: Option<u32>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Shard, ShardError> {
    match spec {
        None => Ok(Shard::WHOLE),
        Some(ShardSpec::Fixed(shard)) => Ok(shard),
        Some(ShardSpec::Auto) => auto(shards_flag, &env),
    }
}

fn auto(
    shards_flag: Option<u32>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Shard, ShardError> {
    let (index, index_from) =
        one_of(env, ENV_INDEX, ENV_K8S_INDEX, "shard index", "")?.ok_or(ShardError::NoIndex)?;
    let (count, count_from) = match shards_flag {
        Some(n) => (n, "--shards"),
        None => one_of(env, ENV_COUNT, ENV_SHARDS, "shard count", ", at least 1")?.ok_or(
            ShardError::NoCount {
                index,
                from: index_from,
            },
        )?,
    };
    if count == 0 {
        return Err(ShardError::ZeroCount { from: count_from });
    }
    Shard::new(index, count).ok_or(ShardError::IndexTooLarge {
        index,
        index_from,
        count,
        count_from,
    })
}

/// The value of `a` or `b` (which must agree when both are set), and its variable.
fn one_of(
    env: &impl Fn(&str) -> Option<String>,
    a: &'static str,
    b: &'static str,
    what: &'static str,
    hint: &'static str,
) -> Result<Option<(u32, &'static str)>, ShardError> {
    let read = |var: &'static str| -> Result<Option<u32>, ShardError> {
        match env(var) {
            None => Ok(None),
            Some(value) => value
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| ShardError::NotANumber {
                    var,
                    value,
                    what,
                    hint,
                }),
        }
    };
    match (read(a)?, read(b)?) {
        (Some(x), Some(y)) if x != y => Err(ShardError::Conflict {
            a,
            a_value: x,
            b,
            b_value: y,
        }),
        (Some(x), _) => Ok(Some((x, a))),
        (None, Some(y)) => Ok(Some((y, b))),
        (None, None) => Ok(None),
    }
}

/// A shard index variable that is set although `--shard` is absent (the sweep then runs
/// every seed; the command line warns).
pub fn ignored_env(env: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    [ENV_INDEX, ENV_K8S_INDEX]
        .into_iter()
        .find(|var| env(var).is_some())
}

/// The process's environment, as [`resolve`] reads it (a value that is not Unicode is
/// passed on lossily, so it fails to parse and is reported).
pub fn process_env(var: &str) -> Option<String> {
    std::env::var_os(var).map(|v| v.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |var| pairs.iter().find(|(k, _)| k == var).map(|(_, v)| v.clone())
    }

    fn auto_with(pairs: &[(&str, &str)], flag: Option<u32>) -> Result<Shard, ShardError> {
        resolve(Some(ShardSpec::Auto), flag, env(pairs))
    }

    #[test]
    fn parses_fixed_and_auto() {
        assert_eq!("auto".parse(), Ok(ShardSpec::Auto));
        assert_eq!("AUTO".parse(), Ok(ShardSpec::Auto));
        assert_eq!(
            "2/4".parse(),
            Ok(ShardSpec::Fixed(Shard { index: 2, count: 4 }))
        );
        for bad in ["4/4", "0/0", "1", "a/4", "-1/4", "1/4/5", ""] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn absent_flag_runs_everything_whatever_the_env() {
        let e = env(&[(ENV_K8S_INDEX, "3"), (ENV_SHARDS, "8")]);
        assert_eq!(resolve(None, None, &e), Ok(Shard::WHOLE));
        assert_eq!(ignored_env(&e), Some(ENV_K8S_INDEX));
        assert_eq!(ignored_env(env(&[(ENV_SHARDS, "8")])), None);
    }

    #[test]
    fn fixed_flag_wins_over_the_env() {
        let e = env(&[(ENV_K8S_INDEX, "3"), (ENV_SHARDS, "8")]);
        let fixed = ShardSpec::Fixed(Shard { index: 1, count: 2 });
        assert_eq!(
            resolve(Some(fixed), None, e),
            Ok(Shard { index: 1, count: 2 })
        );
    }

    #[test]
    fn kubernetes_indexed_job() {
        let got = auto_with(&[(ENV_K8S_INDEX, "3"), (ENV_SHARDS, "8")], None);
        assert_eq!(got, Ok(Shard { index: 3, count: 8 }));
        // The flag gives the count.
        assert_eq!(
            auto_with(&[(ENV_K8S_INDEX, "3")], Some(5)),
            Ok(Shard { index: 3, count: 5 })
        );
        // The flag overrides the variable.
        assert_eq!(
            auto_with(&[(ENV_K8S_INDEX, "3"), (ENV_SHARDS, "8")], Some(4)),
            Ok(Shard { index: 3, count: 4 })
        );
    }

    #[test]
    fn ci_matrix_pair() {
        let got = auto_with(&[(ENV_INDEX, " 0 "), (ENV_COUNT, "2")], None);
        assert_eq!(got, Ok(Shard { index: 0, count: 2 }));
    }

    #[test]
    fn missing_values_are_named() {
        assert_eq!(auto_with(&[], None), Err(ShardError::NoIndex));
        assert_eq!(
            auto_with(&[(ENV_SHARDS, "4")], None),
            Err(ShardError::NoIndex)
        );
        assert_eq!(
            auto_with(&[(ENV_K8S_INDEX, "1")], None),
            Err(ShardError::NoCount {
                index: 1,
                from: ENV_K8S_INDEX
            })
        );
    }

    #[test]
    fn malformed_values_are_named() {
        let err = auto_with(&[(ENV_INDEX, "one"), (ENV_COUNT, "2")], None).unwrap_err();
        assert!(matches!(err, ShardError::NotANumber { var: ENV_INDEX, .. }));
        assert!(
            err.to_string().contains("POOLCHECK_SHARD_INDEX=`one`"),
            "{err}"
        );
        let err = auto_with(&[(ENV_INDEX, "1"), (ENV_COUNT, "-2")], None).unwrap_err();
        assert!(matches!(err, ShardError::NotANumber { var: ENV_COUNT, .. }));
        assert_eq!(
            auto_with(&[(ENV_INDEX, "0"), (ENV_COUNT, "0")], None),
            Err(ShardError::ZeroCount { from: ENV_COUNT })
        );
        assert_eq!(
            auto_with(&[(ENV_K8S_INDEX, "4"), (ENV_SHARDS, "4")], None),
            Err(ShardError::IndexTooLarge {
                index: 4,
                index_from: ENV_K8S_INDEX,
                count: 4,
                count_from: ENV_SHARDS
            })
        );
        assert_eq!(
            auto_with(&[(ENV_K8S_INDEX, "4")], Some(0)),
            Err(ShardError::ZeroCount { from: "--shards" })
        );
    }

    #[test]
    fn disagreeing_variables_are_refused() {
        assert_eq!(
            auto_with(
                &[(ENV_INDEX, "1"), (ENV_K8S_INDEX, "2"), (ENV_SHARDS, "4")],
                None
            ),
            Err(ShardError::Conflict {
                a: ENV_INDEX,
                a_value: 1,
                b: ENV_K8S_INDEX,
                b_value: 2
            })
        );
        // Agreeing ones are fine.
        assert_eq!(
            auto_with(
                &[
                    (ENV_INDEX, "1"),
                    (ENV_K8S_INDEX, "1"),
                    (ENV_COUNT, "4"),
                    (ENV_SHARDS, "4")
                ],
                None
            ),
            Ok(Shard { index: 1, count: 4 })
        );
    }

    #[test]
    fn seeds_in_a_shard_cover_the_sweep_once() {
        for seeds in [0u64, 1, 7, 100, 101] {
            for count in 1..6u32 {
                let total: u64 = (0..count)
                    .filter_map(|i| Shard::new(i, count))
                    .map(|s| s.seeds_in(seeds))
                    .sum();
                assert_eq!(total, seeds, "{seeds} seeds over {count} shards");
                for index in 0..count {
                    let expected = (0..seeds)
                        .filter(|i| i % u64::from(count) == u64::from(index))
                        .count();
                    let shard = Shard { index, count };
                    assert_eq!(shard.seeds_in(seeds), expected as u64);
                }
            }
        }
    }
}
