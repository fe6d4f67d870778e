//! `poolcheck sim`: the deterministic simulation sweep (the main job) and one-seed replay.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use sim::{Check, CheckReport, Invariant, Mode, ReplayToken, SweepReport};

use crate::failure_records;
use crate::shard::{self, Shard, ShardSpec};
use crate::shard_result::ShardResult;

/// Flags of `poolcheck sim` (and of `poolcheck` with no subcommand).
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// How many seeds to sweep.
    #[arg(long, default_value_t = 1_000)]
    pub seeds: u64,
    /// The first seed (decimal or 0x-hex); seed i of the sweep is first + i.
    #[arg(long, default_value = "1", value_parser = parse_seed)]
    pub first_seed: u64,
    /// The pool under test: `poolcheck`, a rival (`deadpool`, `bb8`), or a bug-zoo member
    /// (`zoo-lost-wakeup`, …).
    #[arg(long, default_value = "poolcheck")]
    pub pool: String,
    /// The scenario: standard, zombie, calm, smoke, smoke-zombie.
    #[arg(long, default_value = "standard")]
    pub scenario: String,
    /// Replay one seed (or a shrunk token such as `0x56:f=1,2:c=5,6:o=22`) instead of sweeping.
    #[arg(long, value_parser = parse_token)]
    pub replay: Option<ReplayToken>,
    /// Write the trace (`<path>.jsonl` and `<path>.perfetto.json`) of a replay, or of the
    /// first failure of a sweep (into this directory).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Worker threads (each seed stays single-threaded and deterministic).
    #[arg(long, default_value_t = default_jobs())]
    pub jobs: usize,
    /// Run shard i of n (`--shard 0/4`), so a sweep splits across machines; `--shard auto`
    /// reads i from POOLCHECK_SHARD_INDEX or JOB_COMPLETION_INDEX (a Kubernetes Indexed
    /// Job) and n from --shards, POOLCHECK_SHARD_COUNT or POOLCHECK_SHARDS. Without it,
    /// every seed runs.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<ShardSpec>,
    /// The shard count for `--shard auto` (instead of the environment's).
    #[arg(long, requires = "shard", value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: Option<u32>,
    /// Write this shard's result (counts, every failure with its replay line and
    /// signature) as JSON to this file, for `poolcheck merge`.
    #[arg(long, conflicts_with = "replay")]
    pub json_out: Option<PathBuf>,
    /// Do not shrink failures (the first one; with `--json-out`, every one).
    #[arg(long)]
    pub no_shrink: bool,
    /// Do not draw a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// How seeds explore: random, swarm (a random subset of fault kinds and op styles per
    /// seed), pct (priority scheduling with change points) or portfolio (one of them per
    /// seed) [default: random]. A replay token names its own mode.
    #[arg(long, value_parser = parse_mode)]
    pub mode: Option<Mode>,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    Mode::from_str(s).map_err(|e| e.to_string())
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

pub(crate) fn parse_seed(s: &str) -> Result<u64, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not a seed: use a u64 in decimal or 0x-hex"))
}

fn parse_token(s: &str) -> Result<ReplayToken, String> {
    ReplayToken::from_str(s).map_err(|e| format!("`{s}` is not a replay seed or token: {e}"))
}

fn parse_shard(s: &str) -> Result<ShardSpec, String> {
    ShardSpec::from_str(s)
}

/// The shard this process runs (exit 2 with the reason when `--shard auto` finds none).
fn resolve_shard(args: &SimArgs) -> Result<Shard, ExitCode> {
    if args.shards.is_some() && args.shard != Some(ShardSpec::Auto) {
        eprintln!(
            "poolcheck sim: --shards N goes with --shard auto (--shard I/N names its own count)"
        );
        return Err(ExitCode::from(2));
    }
    if args.shard.is_none() {
        if let Some(var) = shard::ignored_env(shard::process_env) {
            eprintln!(
                "poolcheck sim: note: {var} is set but --shard is absent, so every seed runs; \
                 pass --shard auto to run this job's shard"
            );
        }
    }
    shard::resolve(args.shard, args.shards, shard::process_env).map_err(|e| {
        eprintln!("poolcheck sim: {e}");
        ExitCode::from(2)
    })
}

/// Runs the sweep or the replay; exit 0 when no invariant was violated.
pub fn run(args: &SimArgs) -> ExitCode {
    match &args.replay {
        Some(token) => replay(args, token),
        None => sweep(args),
    }
}

fn replay(args: &SimArgs, token: &ReplayToken) -> ExitCode {
    // A token names its mode; `--mode` applies to one that does not.
    let token = &ReplayToken {
        mode: token.mode.or(args.mode),
        ..token.clone()
    };
    match sim::replay(token, &args.pool, &args.scenario, args.trace.as_deref()) {
        Ok(r) => {
            let report = &r.report;
            println!(
                "replay {}: {} checkouts, {} faults, {:.3} s simulated, trace hash {:016x}",
                r.replay,
                report.checkouts,
                report.faults,
                report.simulated.as_secs_f64(),
                report.trace_hash
            );
            for file in &r.trace_files {
                println!("trace: {}", file.display());
            }
            match &report.violation {
                Some(v) => {
                    println!("verdict: FAIL — {v}");
                    ExitCode::FAILURE
                }
                None => {
                    println!("verdict: OK — no invariant violated");
                    ExitCode::SUCCESS
                }
            }
        }
        Err(e) => {
            eprintln!("poolcheck sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn sweep(args: &SimArgs) -> ExitCode {
    let shard = match resolve_shard(args) {
        Ok(shard) => shard,
        Err(code) => return code,
    };
    // The built-in pools go through the same public path as anyone's: a `sim::Check`.
    let entry = match sim::pools::find(&args.pool) {
        Ok(entry) => entry,
        Err(e) => {
            eprintln!("poolcheck sim: {e}");
            return ExitCode::from(2);
        }
    };
    let mut check = Check::pool(entry)
        .scenarios([args.scenario.as_str()])
        .seeds(args.seeds)
        .first_seed(args.first_seed)
        .jobs(args.jobs.max(1))
        .shard(shard.index, shard.count)
        .shrink(!args.no_shrink)
        .mode(args.mode.unwrap_or(Mode::DEFAULT))
        .ignore_env()
        .cli_replay_lines();
    if let Some(dir) = &args.trace {
        check = check.trace_dir(dir);
    }
    let mut result = run_with_bar(check, args, shard);
    if let Some(e) = result.error {
        eprintln!("poolcheck sim: {e}");
        return ExitCode::from(2);
    }
    let Some(report) = result.sweeps.pop() else {
        eprintln!("poolcheck sim: the sweep produced no report");
        return ExitCode::from(2);
    };
    if let Some(path) = &args.json_out {
        if let Err(message) = write_result(&report, args, shard, path) {
            eprintln!("poolcheck sim: {message}");
            return ExitCode::from(2);
        }
    }
    print_summary(&report, args.json);
    verdict(&report)
}

/// Records every failure (shrunk unless `--no-shrink`) and writes the shard's result file.
fn write_result(
    report: &SweepReport,
    args: &SimArgs,
    shard: Shard,
    path: &Path,
) -> Result<(), String> {
    if !args.no_shrink && !args.no_progress && !args.json && report.failing.len() > 1 {
        eprintln!(
            "poolcheck sim: shrinking {} failing seeds for {}",
            report.failing.len(),
            path.display()
        );
    }
    let failures = failure_records::collect(report, !args.no_shrink, args.jobs)
        .map_err(|e| format!("cannot record the failures for {}: {e}", path.display()))?;
    ShardResult::from_sweep(report, args.first_seed, args.seeds, shard, failures)
        .write(path)
        .map_err(|e| e.to_string())
}

/// Runs the check with a progress bar (hidden with `--no-progress` or `--json`).
fn run_with_bar(check: Check, args: &SimArgs, shard: Shard) -> CheckReport {
    let bar = if args.no_progress || args.json {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(shard.seeds_in(args.seeds))
    };
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} seeds {msg}",
    );
    bar.set_style(style.unwrap_or_else(|_| ProgressStyle::default_bar()));
    let result = check.run_with_progress(|_, p| {
        bar.set_length(p.total);
        bar.set_position(p.done);
        if p.failed > 0 {
            bar.set_message(format!("({} failing)", p.failed));
        }
    });
    bar.finish_and_clear();
    result
}

/// The sweep's figures, as text or JSON.
fn print_summary(report: &SweepReport, json: bool) {
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("poolcheck sim: cannot print JSON: {e}"),
        }
    } else {
        println!(
            "poolcheck sim — pool `{}`, scenario `{}`, mode `{}`",
            report.pool, report.scenario, report.mode
        );
        println!("  seeds run          {}", report.seeds_run);
        println!(
            "  simulated time     {:.1} s",
            report.simulated.as_secs_f64()
        );
        println!("  wall time          {:.2} s", report.wall.as_secs_f64());
        println!(
            "  speed              {:.0} simulated s per wall s",
            report.speed()
        );
        println!("  checkouts          {}", report.checkouts);
        println!("  faults injected    {}", report.faults);
        println!(
            "  determinism        {} seed(s) run twice and compared",
            report.determinism_checked
        );
        println!("  violations (seeds failing, by first violated invariant):");
        for inv in Invariant::ALL {
            let n = report.violations.get(&inv).copied().unwrap_or(0);
            println!("    {:<6} {n}", inv.to_string());
        }
        println!("  coverage (interesting states reached, summed over seeds):");
        for (state, n) in &report.coverage {
            println!("    {state:<28} {n}");
        }
        if !report.never_reached.is_empty() {
            println!("  never reached: {}", report.never_reached.join(", "));
        }
    }
}

/// The verdict line (and the replay lines of a failure); the exit code.
fn verdict(report: &SweepReport) -> ExitCode {
    match &report.first_failure {
        None => {
            println!(
                "verdict: OK — no invariant violated in {} seeds",
                report.seeds_run
            );
            ExitCode::SUCCESS
        }
        Some(f) => {
            println!(
                "verdict: FAIL — {} of {} seeds; first: {}",
                report.failed_seeds, report.seeds_run, f.violation
            );
            println!("replay: {}", f.replay);
            if let Some(s) = &f.shrunk {
                println!(
                    "shrunk ({} faults, {} clients, {} ops): {}",
                    s.faults, s.clients, s.ops, s.replay
                );
            }
            for v in f.violations.iter().skip(1) {
                println!("  and: {v}");
            }
            for file in &f.trace_files {
                println!("trace: {}", file.display());
            }
            ExitCode::FAILURE
        }
    }
}
