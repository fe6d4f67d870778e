//! The command line / embedding configuration and [`run`], which serves until Ctrl-C.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::error::ServeError;
use crate::faults::Faults;
use crate::judge::{JudgeSpec, Verdict};
use crate::server::{Server, ServerOptions};
use crate::tcp::serve_tcp;

/// How to run the mock server. With the `cli` feature it derives `clap::Args`, so the
/// `mock-server` binary and `poolcheck serve` can flatten it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
pub struct Config {
    /// The TCP port to listen on (0 picks a free one).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 27017))]
    pub port: u16,
    /// The address to bind (loopback by default; the mock has no authentication).
    #[cfg_attr(feature = "cli", arg(long, default_value = "127.0.0.1"))]
    pub bind: String,
    /// Close connections beyond this many, as mongod's maxIncomingConnections.
    #[cfg_attr(feature = "cli", arg(long))]
    pub max_connections: Option<u32>,
    /// Milliseconds of latency added before every reply.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 0))]
    pub latency_ms: u64,
    /// Close every new connection at once.
    #[cfg_attr(feature = "cli", arg(long))]
    pub refuse: bool,
    /// Milliseconds to hold every new connection before serving it.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 0))]
    pub accept_delay_ms: u64,
    /// Read requests but never answer them.
    #[cfg_attr(feature = "cli", arg(long))]
    pub black_hole: bool,
    /// Close a connection once it has written this many bytes.
    #[cfg_attr(feature = "cli", arg(long))]
    pub reset_after_bytes: Option<u64>,
    /// Cut the next N replies in half and close their connections.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 0))]
    pub reset_mid_reply: u32,
    /// maxWireVersion announced in hello (21 = MongoDB 7.0).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 21))]
    pub max_wire_version: i32,
    /// Leave topologyVersion out of hello, so drivers poll instead of streaming heartbeats.
    #[cfg_attr(feature = "cli", arg(long))]
    pub no_topology_version: bool,
    /// Present the server as the primary of a one-member replica set of this name
    /// (drivers then use retryable writes); a standalone without it.
    #[cfg_attr(feature = "cli", arg(long, value_name = "NAME"))]
    pub replica_set: Option<String>,
    /// Seed for failCommand's activationProbability.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = 0x5EED))]
    pub seed: u64,
    /// Turn on the wire-side pool checker:
    /// `max-pool-size=N[,max-connecting=M][,grace-ms=G]` (defaults 100, 2, 1000). The
    /// verdict is printed on exit and answered by `{poolcheckVerdict: 1}`.
    #[cfg_attr(feature = "cli", arg(long, value_name = "SPEC"))]
    pub judge: Option<JudgeSpec>,
    /// With `--judge`, write the verdict as JSON to this file on exit.
    #[cfg_attr(feature = "cli", arg(long, value_name = "PATH", requires = "judge"))]
    pub verdict_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 27017,
            bind: "127.0.0.1".to_string(),
            max_connections: None,
            latency_ms: 0,
            refuse: false,
            accept_delay_ms: 0,
            black_hole: false,
            reset_after_bytes: None,
            reset_mid_reply: 0,
            max_wire_version: 21,
            no_topology_version: false,
            replica_set: None,
            seed: 0x5EED,
            judge: None,
            verdict_file: None,
        }
    }
}

impl Config {
    /// The fault settings the flags ask for.
    pub fn faults(&self) -> Faults {
        Faults {
            refuse_connections: self.refuse,
            accept_delay: Duration::from_millis(self.accept_delay_ms),
            max_incoming_connections: self.max_connections,
            black_hole: self.black_hole,
            latency: Duration::from_millis(self.latency_ms),
            reset_after_bytes: self.reset_after_bytes,
            reset_mid_reply: self.reset_mid_reply,
        }
    }

    /// The server options the flags ask for; `host` is reported by serverStatus.
    pub fn server_options(&self, host: String) -> ServerOptions {
        ServerOptions {
            host,
            max_wire_version: self.max_wire_version,
            topology_version: !self.no_topology_version,
            replica_set: self.replica_set.clone(),
            faults: self.faults(),
            seed: self.seed,
            judge: self.judge,
            ..ServerOptions::default()
        }
    }
}

/// How a [`run`] ended.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RunOutcome {
    /// The judge's final verdict (`None` with the judge off, or if the server never
    /// served).
    pub verdict: Option<Verdict>,
}

impl RunOutcome {
    /// Whether the process should fail (exit status 1): the judge's final verdict is FAIL.
    pub fn failed(&self) -> bool {
        self.verdict.as_ref().is_some_and(|v| !v.is_ok())
    }
}

/// Binds, logs the address, and serves until Ctrl-C. With [`Config::judge`], the outcome
/// carries the final verdict ([`RunOutcome::failed`] says whether it is FAIL).
///
/// # Errors
/// If the address cannot be bound, or the verdict file cannot be written.
pub async fn run(config: Config) -> Result<RunOutcome, ServeError> {
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    // Poll once, so the handler is in place before the server logs that it listens (a
    // Ctrl-C right after that line then shuts down cleanly instead of killing the process).
    tokio::select! {
        biased;
        caught = &mut ctrl_c => {
            if let Err(err) = caught {
                tracing::error!(%err, "cannot watch Ctrl-C");
            }
            return Ok(RunOutcome::default());
        }
        () = std::future::ready(()) => {}
    }
    run_until(config, async {
        match ctrl_c.await {
            Ok(()) => tracing::info!("Ctrl-C: shutting down"),
            Err(err) => tracing::error!(%err, "cannot watch Ctrl-C; shutting down"),
        }
    })
    .await
}

/// Binds, logs the address, and serves until `shutdown` completes. With
/// [`Config::judge`], prints the verdict on exit (and writes [`Config::verdict_file`]) and
/// returns it in the [`RunOutcome`].
///
/// # Errors
/// If the address cannot be bound, or the verdict file cannot be written.
pub async fn run_until<F>(config: Config, shutdown: F) -> Result<RunOutcome, ServeError>
where
    F: Future<Output = ()>,
{
    let addr = format!("{}:{}", config.bind, config.port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: addr.clone(),
            source,
        })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let server = Arc::new(Server::new(config.server_options(local.to_string())));
    tracing::info!(address = %local, faults = ?config.faults(), judge = ?config.judge, "mock-server listening");
    serve_tcp(Arc::clone(&server), listener, shutdown).await;
    let verdict = server.verdict();
    if let Some(verdict) = &verdict {
        report_verdict(verdict, config.verdict_file.as_deref())?;
    }
    Ok(RunOutcome { verdict })
}

/// Prints the verdict to stdout and writes it to `verdict_file`.
fn report_verdict(verdict: &Verdict, verdict_file: Option<&Path>) -> Result<(), ServeError> {
    println!("{verdict}");
    let Some(path) = verdict_file else {
        return Ok(());
    };
    let json = serde_json::to_string_pretty(&verdict.to_json()).unwrap_or_default();
    std::fs::write(path, json + "\n").map_err(|source| ServeError::VerdictFile {
        path: path.to_path_buf(),
        source,
    })
}

/// Installs a `tracing` subscriber that logs to stderr, filtered by `RUST_LOG` (default
/// `info`), in colour only when stderr is a terminal (a log file or CI output gets no
/// ANSI escapes) and never when `NO_COLOR` is set. Feature `cli`.
///
/// # Errors
/// If a global subscriber is already installed.
#[cfg(feature = "cli")]
pub fn init_logging() -> Result<(), ServeError> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .try_init()
        .map_err(|err| ServeError::Logging(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::{Check, Violation};

    fn verdict(violations: Vec<Violation>, dropped: u64) -> Verdict {
        Verdict {
            spec: JudgeSpec::default(),
            clients: 1,
            connections: 1,
            pooled: 1,
            untracked: 0,
            violations,
            dropped,
        }
    }

    /// The binaries exit with status 1 exactly when the judge's final verdict is FAIL.
    #[test]
    fn only_a_fail_verdict_fails_the_run() {
        assert!(!RunOutcome::default().failed(), "judge off");
        let ok = RunOutcome {
            verdict: Some(verdict(Vec::new(), 0)),
        };
        assert!(!ok.failed());
        let violation = Violation {
            check: Check::Stale,
            client: "d/a@ip".into(),
            connection: 2,
            at_millis: 5,
            detail: "reused".into(),
        };
        let fail = RunOutcome {
            verdict: Some(verdict(vec![violation], 0)),
        };
        assert!(fail.failed());
        let dropped_only = RunOutcome {
            verdict: Some(verdict(Vec::new(), 1)),
        };
        assert!(dropped_only.failed());
    }
}
