//! `poolcheck drivers`: a real driver's connection pool judged against CMAP under a
//! seeded workload and fault plan, from the wire and from the driver's own events.
//!
//! For each seed, a fresh mock server starts on loopback with its wire judge on
//! (`mock_server::judge`: WIRE-MAX, WIRE-CONNECTING, WIRE-SHARED, WIRE-LEAK and
//! WIRE-STALE). The driver runs the seed's [`plan::Plan`] — its pool options
//! (maxPoolSize, maxConnecting, waitQueueTimeoutMS), each worker's operations with think
//! times, connection-holding `sleep` commands and cancellations — while the server injects
//! the seed's faults (fail points with error codes, `closeConnection` and
//! `blockConnection`; refused connects; latency; replies cut mid-way; restarts). Then the
//! client is closed, the wire judge checks that its connections go, and the oracle of
//! `poolcheck soak` and `sim` ([`sim::Judge`]) replays the driver's own CMAP events:
//! MAX, LEAK, STALE, ACCT and IDLE.
//!
//! PyMongo (sync and asyncio) and the Node driver run as scripts in their own process
//! (`scripts/`, installed with a pinned driver into a cache directory on first use:
//! [`install`]); the Rust driver runs in this process ([`rust_driver`]). The run is not
//! deterministic — real processes, sockets and schedulers — but the plan is: a failing
//! seed prints its fault plan and a replay line that runs the same plan again.
//!
//! Exit status: 0 when every seed of every driver passed, 1 when any judge found a
//! violation (or a driver hung or crashed), 2 when a driver could not be set up (a missing
//! `python3` or `node`, a failed install).

mod events;
mod install;
mod known;
mod plan;
mod report;
mod rust_driver;
mod seed;
mod session;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::simulate::parse_seed;
use plan::{Driver, Plan};
use report::DriverReport;

/// Flags of `poolcheck drivers`.
#[derive(Debug, Clone, Args)]
pub struct DriversArgs {
    /// The drivers to judge, comma-separated: pymongo, pymongo-async, node, rust.
    #[arg(long, value_enum, value_delimiter = ',', required = true)]
    pub driver: Vec<Driver>,
    /// Seeds per driver.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// The first seed (decimal or 0x-hex).
    #[arg(long, default_value = "1", value_parser = parse_seed)]
    pub first_seed: u64,
    /// Runs this one seed (what a failing run's replay line gives).
    #[arg(long, value_parser = parse_seed, conflicts_with_all = ["seeds", "first_seed"])]
    pub seed: Option<u64>,
    /// Operations per worker.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub ops: u32,
    /// The server injects no faults.
    #[arg(long)]
    pub no_faults: bool,
    /// Where drivers are installed (default: $POOLCHECK_CACHE_DIR, else
    /// $XDG_CACHE_HOME/poolcheck, else ~/.cache/poolcheck).
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Keep every seed's files (plan, events, wire verdict) under this directory. Without
    /// it, only failing seeds' files are kept, under the cache directory's `runs/`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Findings already explained (`driver CHECK text` per line): reported as known, they
    /// do not fail the verdict.
    #[arg(long)]
    pub known: Option<PathBuf>,
    /// Prints the summary as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

impl DriversArgs {
    /// The seeds to run.
    fn seeds(&self) -> Vec<u64> {
        match self.seed {
            Some(seed) => vec![seed],
            None => (0..self.seeds)
                .map(|i| self.first_seed.wrapping_add(i))
                .collect(),
        }
    }

    /// The command that runs `seed` of `driver` again.
    fn replay(&self, driver: Driver, seed: u64) -> String {
        let mut line = format!("poolcheck drivers --driver {driver} --seed {seed:#x}");
        if self.ops != 30 {
            line.push_str(&format!(" --ops {}", self.ops));
        }
        if self.no_faults {
            line.push_str(" --no-faults");
        }
        if let Some(known) = &self.known {
            line.push_str(&format!(" --known {}", known.display()));
        }
        line
    }
}

/// Runs `poolcheck drivers`.
pub fn run(args: &DriversArgs) -> ExitCode {
    let known = match &args.known {
        Some(path) => match known::Known::load(path) {
            Ok(known) => known,
            Err(err) => return setup_failure(&err.to_string()),
        },
        None => known::Known::default(),
    };
    let cache = match install::cache_dir(args.cache_dir.as_deref()) {
        Ok(cache) => cache,
        Err(err) => return setup_failure(&err.to_string()),
    };
    let mut launchers = Vec::new();
    for &driver in &args.driver {
        let mut log = |line: &str| eprintln!("poolcheck drivers: {line}");
        match install::prepare(driver, &cache, &mut log) {
            Ok(launcher) => launchers.push((driver, launcher)),
            Err(err) => return setup_failure(&format!("{driver}: {err}")),
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return setup_failure(&format!("cannot start a runtime: {err}")),
    };
    let run_dir = args
        .out
        .clone()
        .unwrap_or_else(|| cache.join("runs").join(format!("{}", std::process::id())));
    let mut reports = Vec::new();
    for (driver, launcher) in &launchers {
        let mut outcomes = Vec::new();
        for seed in args.seeds() {
            let plan = Plan::draw(seed, *driver, args.ops, !args.no_faults);
            let dir = run_dir.join(format!("{driver}-{seed:#x}"));
            let running = seed::run(&plan, launcher.as_ref(), &dir, seed::LOAD_TIMEOUT);
            let outcome = runtime.block_on(running);
            if !args.json {
                report::print_seed(&outcome);
            }
            if args.out.is_none() && outcome.findings() == 0 && !outcome.is_setup_error() {
                let _ = std::fs::remove_dir_all(&dir);
            }
            outcomes.push(outcome);
        }
        let replay = |d, s| args.replay(d, s);
        reports.push(DriverReport::new(*driver, outcomes, replay, &known));
    }
    if args.out.is_none() {
        // Removes the run directory if no failing seed kept anything in it.
        let _ = std::fs::remove_dir(&run_dir);
    }
    report::finish(&reports, args.json)
}

fn setup_failure(message: &str) -> ExitCode {
    eprintln!("poolcheck drivers: {message}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: DriversArgs,
    }

    fn parse(line: &[&str]) -> Result<DriversArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("drivers").chain(line.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn flags_parse_and_seeds_follow() {
        let args = parse(&[
            "--driver",
            "pymongo,node",
            "--seeds",
            "3",
            "--first-seed",
            "0x10",
        ])
        .expect("parses");
        assert_eq!(args.driver, [Driver::Pymongo, Driver::Node]);
        assert_eq!(args.seeds(), [16, 17, 18]);
        let one = parse(&["--driver", "rust", "--seed", "0x7"]).expect("parses");
        assert_eq!(one.seeds(), [7]);
        assert_eq!(
            one.replay(Driver::Rust, 7),
            "poolcheck drivers --driver rust --seed 0x7"
        );
    }

    #[test]
    fn bad_flags_are_errors() {
        assert!(parse(&[]).is_err(), "a driver is required");
        assert!(parse(&["--driver", "jdbc"]).is_err());
        assert!(parse(&["--driver", "node", "--ops", "0"]).is_err());
        assert!(parse(&["--driver", "node", "--seed", "1", "--seeds", "2"]).is_err());
    }
}
