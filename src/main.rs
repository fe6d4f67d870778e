//! The `poolcheck` command line.
//!
//! With no subcommand it runs the main job, `sim`: a seeded sweep of the deterministic
//! simulation. Its flags may be given without naming it: `poolcheck --seeds 50` is
//! `poolcheck sim --seeds 50`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;
mod drivers;
mod failure_records;
mod fault_plan;
mod merge;
mod shard;
mod shard_result;
mod signature;
mod simulate;
mod soak;

/// A lock-free CMAP connection pool and a harness that checks pools against the spec.
#[derive(Debug, Parser)]
#[command(
    name = "poolcheck",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "With no command, poolcheck runs `sim`; its flags may be given without naming it."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The main job's flags (`sim`), for when no subcommand is named.
    #[command(flatten)]
    sim: simulate::SimArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sweeps seeds of the deterministic simulation (pool + mock server + faults) and
    /// checks every invariant on every event; `--replay <seed>` replays one (the default
    /// job).
    Sim(simulate::SimArgs),
    /// Merges the shard results of one sweep (`sim --json-out`) into one summary, verdict
    /// and replay line per distinct failure; refuses a missing or duplicate shard.
    Merge(merge::MergeArgs),
    /// Runs the pool under real concurrent load over an in-process mock manager, feeding
    /// its CMAP events to the simulator's oracle on wall-clock time.
    Demo(demo::DemoArgs),
    /// Runs the real MongoDB driver against the mock server over loopback TCP under
    /// faults for `--duration`, feeding its CMAP events to the simulator's oracle (not
    /// deterministic).
    Soak(soak::SoakArgs),
    /// Judges a real driver's connection pool (PyMongo, PyMongo async, Node, Rust) under
    /// a seeded workload and fault plan, from the wire and from its own CMAP events;
    /// installs the driver into a cache directory on first use.
    Drivers(drivers::DriversArgs),
    /// Serves the mock MongoDB server on TCP (fail points, connection faults) until
    /// Ctrl-C, so any driver can be pointed at it.
    Serve(mock_server::Config),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Sim(cli.sim)) {
        Command::Sim(args) => simulate::run(&args),
        Command::Merge(args) => merge::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Soak(args) => soak::run(&args),
        Command::Drivers(args) => drivers::run(&args),
        Command::Serve(config) => serve(config),
    }
}

/// `poolcheck serve`: the mock server, as the `mock-server` binary runs it.
fn serve(config: mock_server::Config) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("poolcheck serve: cannot start a runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = mock_server::init_logging() {
        eprintln!("poolcheck serve: {err}");
    }
    match runtime.block_on(mock_server::run(config)) {
        // The verdict was printed; a FAIL verdict fails the process.
        Ok(outcome) if outcome.failed() => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = format!("poolcheck serve: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
