//! [`Check`]: judge a pool from a test, the way loom or proptest are used.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # fn build(p: sim::PoolParams) -> Result<Arc<dyn sim::PoolUnderTest>, String> { unimplemented!() }
//! #[test]
//! fn my_pool_is_correct() {
//!     sim::Check::new(|p: sim::PoolParams| build(p))
//!         .scenarios(["standard", "zombie"])
//!         .seeds(1_000)
//!         .jobs(2)
//!         .run()
//!         .assert_ok();
//! }
//! ```
//!
//! A failure panics with the invariant, the seed, the shrunk case, the trace files and
//! the one line that replays it in the same crate, bit for bit:
//! `POOLCHECK_REPLAY='0x2a:f=1:c=0,3' cargo test my_pool_is_correct`.
//!
//! # Environment
//! [`Check::run`] reads (unless [`Check::ignore_env`]):
//!
//! | variable | effect |
//! |---|---|
//! | `POOLCHECK_REPLAY=TOKEN` | run only that case (`TOKEN` or `scenario/TOKEN`, as a failure prints it) |
//! | `POOLCHECK_SEEDS=N` | sweep `N` seeds per scenario |
//! | `POOLCHECK_FIRST_SEED=S` | start at seed `S` (decimal or 0x-hex) |
//! | `POOLCHECK_JOBS=N` | worker threads |
//! | `POOLCHECK_MODE=MODE` | explore in `random`, `swarm`, `pct` or `portfolio` mode (see [`Mode`]) |
//! | `POOLCHECK_TRACE=DIR` | write the trace of a failure (or of the replayed case) into `DIR`: `.jsonl` and `.perfetto.json` (open it in ui.perfetto.dev) |
//!
//! A value that does not parse is an error the report carries ([`SimError::BadEnv`]).

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::error::SimError;
use crate::mode::Mode;
use crate::oracle::Violation;
use crate::plan::Scenario;
use crate::pool_under_test::{PoolFactory, PoolParams, PoolUnderTest};
use crate::run::RunReport;
use crate::sweep::{replay_pool, sweep_pool, Failure, ReplayStyle, Settings, SweepProgress};
use crate::sweep::{SweepReport, DETERMINISM_CHECKS};
use crate::token::ReplayToken;

/// Replay one case instead of sweeping.
pub const ENV_REPLAY: &str = "POOLCHECK_REPLAY";
/// Seeds per scenario.
pub const ENV_SEEDS: &str = "POOLCHECK_SEEDS";
/// The first seed.
pub const ENV_FIRST_SEED: &str = "POOLCHECK_FIRST_SEED";
/// Worker threads.
pub const ENV_JOBS: &str = "POOLCHECK_JOBS";
/// Where traces go.
pub const ENV_TRACE: &str = "POOLCHECK_TRACE";
/// The exploration mode.
pub const ENV_MODE: &str = "POOLCHECK_MODE";

/// A check of one pool: which scenarios, how many seeds, what to do with a failure.
/// Build it with [`Check::new`], run it with [`Check::run`].
#[derive(Debug, Clone)]
pub struct Check {
    pool: PoolFactory,
    scenarios: Vec<String>,
    seeds: u64,
    first_seed: u64,
    jobs: usize,
    shard: (u32, u32),
    shrink: bool,
    shrink_budget: usize,
    trace_dir: Option<PathBuf>,
    all_violations: bool,
    determinism_checks: u64,
    test_name: Option<String>,
    use_env: bool,
    cli_replay: bool,
    mode: Mode,
    stop_at_first: bool,
}

impl Check {
    /// A check of the pool that `factory` builds. It is called once per run with the
    /// run's [`PoolParams`] (the seed's options, the simulated manager and runtime, the
    /// event sink) and returns the pool's adapter, or why it could not be built. It may
    /// capture the pool's own configuration.
    ///
    /// Defaults: scenario `standard`, 100 seeds from seed 1, one worker thread per core,
    /// shrinking on (400 re-runs), the determinism self-check on 4 seeds, stop each run at
    /// its first violation, [`Mode::DEFAULT`], environment variables honoured.
    pub fn new<F, P, E>(factory: F) -> Check
    where
        F: Fn(PoolParams) -> Result<P, E> + Send + Sync + 'static,
        P: PoolUnderTest + 'static,
        E: std::fmt::Display,
    {
        Check::pool(PoolFactory::new("pool", factory))
    }

    /// A check of a ready-made [`PoolFactory`] (a built-in pool's, for example).
    pub fn pool(pool: impl Into<PoolFactory>) -> Check {
        Check {
            pool: pool.into(),
            scenarios: vec!["standard".to_string()],
            seeds: 100,
            first_seed: 1,
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            shard: (0, 1),
            shrink: true,
            shrink_budget: crate::shrink::RUNS_MAX,
            trace_dir: None,
            all_violations: false,
            determinism_checks: DETERMINISM_CHECKS,
            test_name: None,
            use_env: true,
            cli_replay: false,
            mode: Mode::DEFAULT,
            stop_at_first: false,
        }
    }

    /// How the seeds explore (default [`Mode::DEFAULT`]; `POOLCHECK_MODE` overrides it).
    pub fn mode(mut self, mode: Mode) -> Check {
        self.mode = mode;
        self
    }

    /// Stop each scenario's sweep at its first failing seed (in seed order): the report's
    /// `seeds_run` is then how many seeds it took to find it.
    pub fn stop_at_first(mut self, on: bool) -> Check {
        self.stop_at_first = on;
        self
    }

    /// The pool's name in reports and trace file names (default `pool`).
    pub fn name(mut self, name: impl Into<String>) -> Check {
        self.pool = self.pool.renamed(name);
        self
    }

    /// The scenarios to sweep, in order (see [`Scenario::NAMES`]).
    pub fn scenarios<I, S>(mut self, names: I) -> Check
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scenarios = names.into_iter().map(Into::into).collect();
        self
    }

    /// Seeds per scenario.
    pub fn seeds(mut self, seeds: u64) -> Check {
        self.seeds = seeds;
        self
    }

    /// The first seed (seed `i` of the sweep is `first + i`).
    pub fn first_seed(mut self, first: u64) -> Check {
        self.first_seed = first;
        self
    }

    /// Worker threads (each seed stays single-threaded and deterministic).
    pub fn jobs(mut self, jobs: usize) -> Check {
        self.jobs = jobs.max(1);
        self
    }

    /// Run only shard `index` of `count` (seed indices `i` with `i % count == index`).
    pub fn shard(mut self, index: u32, count: u32) -> Check {
        self.shard = (index, count);
        self
    }

    /// Shrink the first failure (default on).
    pub fn shrink(mut self, on: bool) -> Check {
        self.shrink = on;
        self
    }

    /// The most re-runs one shrink may make (default 400).
    pub fn shrink_budget(mut self, runs: usize) -> Check {
        self.shrink_budget = runs;
        self
    }

    /// Write the first failure's trace into `dir` (as `POOLCHECK_TRACE` does).
    pub fn trace_dir(mut self, dir: impl Into<PathBuf>) -> Check {
        self.trace_dir = Some(dir.into());
        self
    }

    /// Keep each run going after its first violation and report all of them, so a bug
    /// that hides behind an earlier finding is still seen.
    pub fn all_violations(mut self, on: bool) -> Check {
        self.all_violations = on;
        self
    }

    /// How many seeds per scenario to run twice and compare (0 turns the determinism
    /// self-check off). A difference is a NONDET violation.
    pub fn determinism_checks(mut self, seeds: u64) -> Check {
        self.determinism_checks = seeds;
        self
    }

    /// The test that runs this check, for the replay line (default: the name of the
    /// current thread, which is the test's path under `cargo test`).
    pub fn test_name(mut self, name: impl Into<String>) -> Check {
        self.test_name = Some(name.into());
        self
    }

    /// Do not read the `POOLCHECK_*` environment variables.
    pub fn ignore_env(mut self) -> Check {
        self.use_env = false;
        self
    }

    /// Print replay lines as `poolcheck sim --pool NAME ...` (for the built-in pools).
    #[doc(hidden)]
    pub fn cli_replay_lines(mut self) -> Check {
        self.cli_replay = true;
        self
    }

    /// The pool factory this check judges.
    pub fn pool_factory(&self) -> &PoolFactory {
        &self.pool
    }

    /// Runs the check: every scenario's sweep, or only the case `POOLCHECK_REPLAY` names.
    /// Never panics because of the pool: its panics, hangs and wrong answers are
    /// violations in the report; a check that cannot run at all (an unknown scenario, a
    /// pool that refuses to be built, a bad environment variable) carries the error.
    pub fn run(&self) -> CheckReport {
        self.run_with_progress(|_, _| {})
    }

    /// Like [`Check::run`], calling `progress` with the scenario after each seed.
    pub fn run_with_progress(&self, mut progress: impl FnMut(&str, &SweepProgress)) -> CheckReport {
        let mut report = CheckReport {
            pool: self.pool.name().to_string(),
            sweeps: Vec::new(),
            replayed: None,
            error: None,
        };
        if let Err(error) = self.run_into(&mut report, &mut progress) {
            report.error = Some(error);
        }
        report
    }

    fn run_into(
        &self,
        report: &mut CheckReport,
        progress: &mut impl FnMut(&str, &SweepProgress),
    ) -> Result<(), SimError> {
        let env = if self.use_env {
            Env::read()?
        } else {
            Env::default()
        };
        let scenarios = self
            .scenarios
            .iter()
            .map(|name| Scenario::named(name))
            .collect::<Result<Vec<_>, _>>()?;
        let first = scenarios.first().ok_or(SimError::NoScenario)?;
        let settings = self.settings(&env, scenarios.len() > 1);
        if let Some(text) = &env.replay {
            let (scenario, token) = match text.split_once('/') {
                Some((name, token)) => (Scenario::named(name)?, token),
                None => (first.clone(), text.as_str()),
            };
            let token: ReplayToken = token.parse()?;
            let stem = settings.trace_dir.as_ref().map(|dir| {
                dir.join(format!(
                    "{}-{}-{}",
                    self.pool.name(),
                    scenario.name,
                    token.to_string().replace([':', '=', ','], "_")
                ))
            });
            let replayed = replay_pool(
                &token,
                &self.pool,
                &scenario,
                stem.as_deref(),
                settings.all_violations,
            )?;
            report.replayed = Some(Replayed {
                scenario: scenario.name.to_string(),
                replay: settings
                    .replay_style
                    .command(&token, self.pool.name(), scenario.name),
                token: settings.replay_style.token(&token, scenario.name),
                report: replayed.report,
                trace_files: replayed.trace_files,
            });
            return Ok(());
        }
        for scenario in &scenarios {
            let sweep = sweep_pool(&self.pool, scenario, &settings, |p| {
                progress(scenario.name, p)
            })?;
            report.sweeps.push(sweep);
        }
        Ok(())
    }

    fn settings(&self, env: &Env, several: bool) -> Settings {
        let test = self.test_name.clone().or_else(|| {
            std::thread::current()
                .name()
                .filter(|name| *name != "main")
                .map(str::to_string)
        });
        Settings {
            seeds: env.seeds.unwrap_or(self.seeds),
            first_seed: env.first_seed.unwrap_or(self.first_seed),
            jobs: env.jobs.unwrap_or(self.jobs),
            shard: self.shard,
            shrink: self.shrink,
            shrink_budget: self.shrink_budget,
            trace_dir: env.trace.clone().or_else(|| self.trace_dir.clone()),
            all_violations: self.all_violations,
            determinism_checks: self.determinism_checks,
            mode: env.mode.unwrap_or(self.mode),
            stop_at_first: self.stop_at_first,
            replay_style: if self.cli_replay {
                ReplayStyle::Cli
            } else {
                ReplayStyle::CargoTest {
                    test,
                    scenario_prefix: several,
                }
            },
        }
    }
}

/// The `POOLCHECK_*` variables, parsed.
#[derive(Debug, Default)]
struct Env {
    replay: Option<String>,
    seeds: Option<u64>,
    first_seed: Option<u64>,
    jobs: Option<usize>,
    trace: Option<PathBuf>,
    mode: Option<Mode>,
}

impl Env {
    fn read() -> Result<Env, SimError> {
        let var = |name: &'static str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let bad = |name: &'static str, value: &str, reason: &str| SimError::BadEnv {
            name,
            value: value.to_string(),
            reason: reason.to_string(),
        };
        let number = |name: &'static str| -> Result<Option<u64>, SimError> {
            var(name)
                .map(|v| {
                    let parsed = match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
                        Some(hex) => u64::from_str_radix(hex, 16),
                        None => v.replace('_', "").parse(),
                    };
                    parsed.map_err(|_| bad(name, &v, "expected a number (decimal or 0x-hex)"))
                })
                .transpose()
        };
        let jobs = number(ENV_JOBS)?
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .filter(|n| *n > 0);
        if let Some(v) = var(ENV_JOBS) {
            if jobs.is_none() {
                return Err(bad(ENV_JOBS, &v, "expected at least 1"));
            }
        }
        Ok(Env {
            replay: var(ENV_REPLAY),
            seeds: number(ENV_SEEDS)?,
            first_seed: number(ENV_FIRST_SEED)?,
            jobs,
            trace: var(ENV_TRACE).map(PathBuf::from),
            mode: var(ENV_MODE)
                .map(|v| {
                    v.parse()
                        .map_err(|_| bad(ENV_MODE, &v, "expected random, swarm, pct or portfolio"))
                })
                .transpose()?,
        })
    }
}

/// The case `POOLCHECK_REPLAY` named, run once.
#[derive(Debug, Clone)]
pub struct Replayed {
    /// Its scenario.
    pub scenario: String,
    /// The token, as given back.
    pub token: String,
    /// The line that replays it again.
    pub replay: String,
    /// The run.
    pub report: RunReport,
    /// Trace files written.
    pub trace_files: Vec<PathBuf>,
}

/// What a [`Check`] found.
#[derive(Debug)]
pub struct CheckReport {
    /// The pool's name.
    pub pool: String,
    /// One sweep per scenario (none when a single case was replayed).
    pub sweeps: Vec<SweepReport>,
    /// The replayed case, when `POOLCHECK_REPLAY` was set.
    pub replayed: Option<Replayed>,
    /// Why the check could not run, if it could not.
    pub error: Option<SimError>,
}

impl CheckReport {
    /// True if the check ran and no invariant was violated.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
            && self.sweeps.iter().all(|s| s.first_failure.is_none())
            && self
                .replayed
                .as_ref()
                .is_none_or(|r| r.report.violation.is_none())
    }

    /// The first failure of each failing scenario.
    pub fn failures(&self) -> impl Iterator<Item = &Failure> {
        self.sweeps.iter().filter_map(|s| s.first_failure.as_ref())
    }

    /// The first violation found, if any.
    pub fn first_violation(&self) -> Option<&Violation> {
        self.replayed
            .as_ref()
            .and_then(|r| r.report.violation.as_ref())
            .or_else(|| self.failures().next().map(|f| &f.violation))
    }

    /// Panics with the summary unless [`CheckReport::is_ok`].
    ///
    /// # Panics
    /// When a seed violated an invariant (the message names the invariant, the seed, the
    /// shrunk case, the trace files and the line that replays it) or the check could not
    /// run.
    #[track_caller]
    pub fn assert_ok(&self) {
        if !self.is_ok() {
            panic!("{self}");
        }
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = String::new();
        if let Some(error) = &self.error {
            let _ = writeln!(
                out,
                "poolcheck: the check of `{}` could not run: {error}",
                self.pool
            );
        }
        if let Some(r) = &self.replayed {
            write_replayed(&mut out, &self.pool, r);
        }
        for s in &self.sweeps {
            match &s.first_failure {
                None => write_clean_sweep(&mut out, s),
                Some(failure) => write_failed_sweep(&mut out, s, failure),
            }
        }
        f.write_str(out.trim_end())
    }
}

/// The replayed case: its figures, what it violated, the replay line, the trace files.
fn write_replayed(out: &mut String, pool: &str, r: &Replayed) {
    let _ = writeln!(
        out,
        "poolcheck: pool `{}`, scenario `{}`, replayed {}: {} checkouts, {} faults, {:.3} s simulated, trace hash {:016x}",
        pool,
        r.scenario,
        r.token,
        r.report.checkouts,
        r.report.faults,
        r.report.simulated.as_secs_f64(),
        r.report.trace_hash
    );
    match &r.report.violation {
        Some(_) => {
            for v in &r.report.violations {
                let _ = writeln!(out, "  violated: {v}");
            }
            let _ = writeln!(out, "  replay: {}", r.replay);
        }
        None => {
            let _ = writeln!(out, "  no invariant violated");
        }
    }
    for file in &r.trace_files {
        let _ = writeln!(out, "  trace: {}", file.display());
    }
}

/// One line for a sweep in which no seed failed.
fn write_clean_sweep(out: &mut String, s: &SweepReport) {
    let _ = writeln!(
        out,
        "poolcheck: pool `{}`, scenario `{}`: OK, {} seeds ({} re-run for determinism), {} checkouts, {} faults",
        s.pool, s.scenario, s.seeds_run, s.determinism_checked, s.checkouts, s.faults
    );
}

/// A failed sweep: the count per invariant, the first failing seed, its shrunk case, the
/// replay lines and the trace files.
fn write_failed_sweep(out: &mut String, s: &SweepReport, failure: &Failure) {
    let by: Vec<String> = s
        .violations
        .iter()
        .map(|(invariant, n)| format!("{invariant} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "poolcheck: pool `{}`, scenario `{}`: FAILED, {} of {} seeds ({})",
        s.pool,
        s.scenario,
        s.failed_seeds,
        s.seeds_run,
        by.join(", ")
    );
    let _ = writeln!(out, "  seed {:#x}: {}", failure.seed, failure.violation);
    for v in failure.violations.iter().skip(1) {
        let _ = writeln!(out, "    and: {v}");
    }
    match &failure.shrunk {
        Some(shrunk) => {
            let _ = writeln!(
                out,
                "  shrunk to {} fault(s), {} client(s), {} op(s) in {} runs: {}",
                shrunk.faults, shrunk.clients, shrunk.ops, shrunk.runs, shrunk.violation
            );
            let _ = writeln!(out, "  shrunk token: {}", shrunk.token);
            let _ = writeln!(out, "  replay: {}", shrunk.replay);
            let _ = writeln!(out, "  replay the whole seed: {}", failure.replay);
        }
        None => {
            let _ = writeln!(out, "  replay: {}", failure.replay);
        }
    }
    if failure.trace_files.is_empty() {
        let _ = writeln!(
            out,
            "  trace: set {ENV_TRACE}=DIR (with {ENV_REPLAY}) to write it as JSON lines and a Perfetto trace"
        );
    }
    for file in &failure.trace_files {
        let _ = writeln!(out, "  trace: {}", file.display());
    }
}
