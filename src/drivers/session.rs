//! A driver's run through the phases of one seed, whichever way it runs: a script in its
//! own process ([`External`]) or the Rust driver in this one
//! ([`super::rust_driver::InProcess`]).
//!
//! The phases, in order: **ready** (the client exists), **load done** (every worker ran its
//! operations; the server's faults stop here), **closed** (the client was closed; the wire
//! judge now expects every connection of it to close within its grace) and **finished**
//! (the process exited; its event log is complete).
//!
//! An external script reports each phase as one JSON line on stdout
//! (`{"phase": "ready", "driver": …, "version": …}`, `{"phase": "load-done", "ok": …}`,
//! `{"phase": "closed"}`) and waits on stdin for `close` and then `exit`, so the process
//! stays alive while the wire judge watches its connections after the close.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::events::EventLog;
use super::install::Launcher;

/// What the workers did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadCounts {
    /// Operations run.
    #[serde(default)]
    pub ops: u64,
    /// Operations that succeeded.
    pub ok: u64,
    /// Operations that failed (faults make some fail).
    pub failed: u64,
    /// Operations cancelled by the workload.
    pub cancelled: u64,
    /// Failures and cancellations by error class.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
}

/// The client is up.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Ready {
    /// The driver's version as it reports it.
    #[serde(default)]
    pub version: String,
    /// The language runtime's version.
    #[serde(default)]
    pub runtime: String,
}

/// Why a seed's run ended early.
#[derive(Debug, Clone, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunError {
    /// The driver could not be started or set up (before ready): the environment, not the
    /// pool.
    #[error("the driver could not start: {detail}")]
    Setup {
        /// What went wrong, with the end of its error output.
        detail: String,
    },
    /// The driver did not reach a phase in time: a hang under this seed.
    #[error("the driver did not reach '{phase}' within {} s", waited.as_secs())]
    Hang {
        /// The phase it was expected to reach.
        phase: String,
        /// How long it was given.
        waited: Duration,
    },
    /// The driver's process ended before a phase.
    #[error("the driver's process ended before '{phase}' ({status}): {stderr}")]
    Crash {
        /// The phase it did not reach.
        phase: String,
        /// Its exit status.
        status: String,
        /// The end of its error output.
        stderr: String,
    },
}

impl RunError {
    /// Whether the run says nothing about the driver (a setup problem).
    pub fn is_setup(&self) -> bool {
        matches!(self, RunError::Setup { .. })
    }
}

/// The longest a phase that does not run the load may take.
const PHASE_TIMEOUT: Duration = Duration::from_secs(30);

/// A driver's script running in its own process.
pub struct External {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
    events_path: PathBuf,
}

impl External {
    /// Starts the script on `plan_path`; its events go to `events_path` (which the plan
    /// names).
    pub fn spawn(
        launcher: &Launcher,
        plan_path: &Path,
        events_path: &Path,
    ) -> Result<External, RunError> {
        let mut command = Command::new(&launcher.program);
        command
            .args(&launcher.args)
            .arg("--plan")
            .arg(plan_path)
            .envs(launcher.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|e| RunError::Setup {
            detail: format!("cannot run {}: {e}", launcher.program.display()),
        })?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(RunError::Setup {
                detail: "the child's pipes are missing".into(),
            });
        };
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        Ok(External {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout).lines(),
            stderr,
            events_path: events_path.to_path_buf(),
        })
    }

    /// Waits for the `ready` line.
    pub async fn ready(&mut self) -> Result<Ready, RunError> {
        let line = self
            .phase("ready", PHASE_TIMEOUT)
            .await
            .map_err(|e| match e {
                RunError::Crash { stderr, status, .. } => RunError::Setup {
                    detail: format!("{status}: {stderr}"),
                },
                other => other,
            })?;
        Ok(serde_json::from_value(line).unwrap_or_default())
    }

    /// Waits for the `load-done` line, at most `within`.
    pub async fn load_done(&mut self, within: Duration) -> Result<LoadCounts, RunError> {
        let line = self.phase("load-done", within).await?;
        Ok(serde_json::from_value(line).unwrap_or_default())
    }

    /// Tells the script to close its client and waits for `closed`.
    pub async fn close(&mut self) -> Result<(), RunError> {
        self.say("close").await;
        self.phase("closed", PHASE_TIMEOUT).await.map(|_| ())
    }

    /// Tells the script to exit, waits for it (killing it after the phase timeout), and
    /// reads its event log. Also what to call after an error: the log so far is read.
    pub async fn finish(mut self) -> (EventLog, Result<(), RunError>) {
        self.say("exit").await;
        self.stdin = None;
        let exited = match tokio::time::timeout(PHASE_TIMEOUT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(self.crash("exit", status.to_string()).await),
            Ok(Err(e)) => Err(self.crash("exit", e.to_string()).await),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(RunError::Hang {
                    phase: "exit".into(),
                    waited: PHASE_TIMEOUT,
                })
            }
        };
        let text = tokio::fs::read_to_string(&self.events_path)
            .await
            .unwrap_or_default();
        (EventLog::parse(&text), exited)
    }

    /// Kills the process (after a hang or a crash). What it logged stays in its events
    /// file: an unfinished run is not judged.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    async fn say(&mut self, word: &str) {
        if let Some(stdin) = self.stdin.as_mut() {
            // A script that already exited cannot hear it; `phase` reports that.
            let _ = stdin.write_all(format!("{word}\n").as_bytes()).await;
            let _ = stdin.flush().await;
        }
    }

    /// Reads stdout lines until one whose `phase` is `phase`.
    async fn phase(
        &mut self,
        phase: &str,
        within: Duration,
    ) -> Result<serde_json::Value, RunError> {
        let wait = async {
            loop {
                match self.stdout.next_line().await {
                    Ok(Some(line)) => {
                        let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
                            continue;
                        };
                        if value.get("phase").and_then(|p| p.as_str()) == Some(phase) {
                            return Ok(value);
                        }
                    }
                    Ok(None) | Err(_) => return Err(()),
                }
            }
        };
        match tokio::time::timeout(within, wait).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(())) => {
                let status = match tokio::time::timeout(PHASE_TIMEOUT, self.child.wait()).await {
                    Ok(Ok(status)) => status.to_string(),
                    _ => "no exit status".into(),
                };
                Err(self.crash(phase, status).await)
            }
            Err(_) => Err(RunError::Hang {
                phase: phase.into(),
                waited: within,
            }),
        }
    }

    async fn crash(&mut self, phase: &str, status: String) -> RunError {
        let stderr = match tokio::time::timeout(Duration::from_secs(5), &mut self.stderr).await {
            Ok(Ok(text)) => tail(&text, 12),
            _ => String::new(),
        };
        RunError::Crash {
            phase: phase.into(),
            status,
            stderr,
        }
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 3), "");
    }

    #[test]
    fn load_lines_read_with_defaults() {
        let line = serde_json::json!({"phase": "load-done", "ok": 3, "failed": 1, "cancelled": 2,
            "errors": {"AutoReconnect": 1}});
        let counts: LoadCounts = serde_json::from_value(line).unwrap_or_default();
        assert_eq!(counts.ok, 3);
        assert_eq!(counts.errors.get("AutoReconnect"), Some(&1));
        assert_eq!(counts.ops, 0);
    }
}
