//! The `poolcheck` command line.
//!
//! With no subcommand it runs the main job, which for now is `demo`. Flags of the main job
//! may be given without naming it: `poolcheck --tasks 8` is `poolcheck demo --tasks 8`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod demo;

/// A lock-free CMAP connection pool and a harness that checks pools against the spec.
#[derive(Debug, Parser)]
#[command(
    name = "poolcheck",
    version,
    args_conflicts_with_subcommands = true,
    after_help = "With no command, poolcheck runs `demo`; its flags may be given without naming it."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// The main job's flags, for when no subcommand is named.
    #[command(flatten)]
    demo: demo::DemoArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the pool under concurrent load over an in-process mock server and checks its
    /// invariants live (the default job).
    Demo(demo::DemoArgs),
    // Planned, not implemented yet: `sim` (the deterministic simulator) and `serve` (the
    // mock MongoDB server). They are added here when they exist.
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Demo(cli.demo)) {
        Command::Demo(args) => demo::run(&args),
    }
}
