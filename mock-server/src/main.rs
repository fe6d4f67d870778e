//! The `mock-server` binary: a MongoDB wire server with fail points and connection
//! faults, for driver and pool tests. `mock-server --help` lists the flags.

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;
use mock_server::Config;

/// A mock mongod with failCommand fail points and connection-level faults.
#[derive(Debug, Parser)]
#[command(name = "mock-server", version)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(err) = mock_server::init_logging() {
        eprintln!("mock-server: {err}");
    }
    match mock_server::run(cli.config).await {
        Ok(outcome) if outcome.failed() => ExitCode::FAILURE,
        Ok(_) => ExitCode::SUCCESS,
        Err(err) => {
            let mut message = format!("mock-server: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}
