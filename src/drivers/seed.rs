//! One seed of `poolcheck drivers`: a fresh mock server with its wire judge on, the
//! driver through its phases under the seed's workload while the server injects the
//! seed's faults, then both verdicts — the wire judge's and the oracle's over the
//! driver's own CMAP events.
//!
//! Every seed leaves its files in its own directory: `plan.json` (the whole plan, faults
//! included), `events.jsonl` (the driver's events), `wire-verdict.json`, and
//! `stderr.txt` when the driver's process wrote any.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_server::judge::{JudgeSpec, Verdict as WireVerdict};
use mock_server::{MockServer, ServerOptions};
use serde::Serialize;
use sim::oracle::OracleConfig;
use sim::{Judge, Verdict as EventVerdict};

use super::events::EventLog;
use super::install::Launcher;
use super::plan::Plan;
use super::rust_driver::InProcess;
use super::session::{External, LoadCounts, Ready, RunError};

/// How long after the close the wire judge waits for the client's connections to close.
pub const WIRE_GRACE: Duration = Duration::from_millis(500);

/// How long after a clearing error the wire judge lets a stale connection be used.
pub const STALE_GRACE: Duration = Duration::from_millis(500);

/// The longest a seed's load may run before the driver is taken to hang.
pub const LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// What one seed found.
#[derive(Debug, Serialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// What it ran.
    pub plan: Plan,
    /// The driver's and its runtime's version, as reported.
    pub ready: Ready,
    /// What the workers did (`None` if the load never finished).
    pub load: Option<LoadCounts>,
    /// Faults the server injected.
    pub faults_injected: u64,
    /// The oracle's verdict on the driver's events.
    pub events: EventVerdict,
    /// Lines of the event log that could not be read.
    pub event_problems: Vec<String>,
    /// The wire judge's verdict.
    #[serde(serialize_with = "wire_json")]
    pub wire: Option<WireVerdict>,
    /// Why the run ended early, if it did.
    pub error: Option<RunError>,
    /// Wall time of the seed.
    pub wall: Duration,
    /// Where the seed's files are.
    pub dir: PathBuf,
}

fn wire_json<S: serde::Serializer>(wire: &Option<WireVerdict>, s: S) -> Result<S::Ok, S::Error> {
    wire.as_ref().map(WireVerdict::to_json).serialize(s)
}

impl SeedOutcome {
    /// Violations of either judge, plus one for a hang or a crash.
    pub fn findings(&self) -> usize {
        let wire = self.wire.as_ref().map_or(0, |w| w.violations.len());
        let run = usize::from(self.error.as_ref().is_some_and(|e| !e.is_setup()));
        self.events.violations.len() + wire + run
    }

    /// Whether the driver could not even be set up (nothing was judged).
    pub fn is_setup_error(&self) -> bool {
        self.error.as_ref().is_some_and(RunError::is_setup) || !self.event_problems.is_empty()
    }
}

/// The oracle's settings for `plan`'s driver events: its pool options, a wall-clock
/// tolerance, and one creation of lag per worker for drivers that report events from
/// several threads.
pub fn oracle_config(plan: &Plan) -> OracleConfig {
    let w = &plan.workload;
    let workers = u32::try_from(w.workers.len()).unwrap_or(u32::MAX);
    OracleConfig {
        max_total: w.max_pool_size,
        max_connecting: w.max_connecting,
        tolerance: Duration::from_millis(100),
        wait_queue_timeout: None,
        checkout_bound: None,
        background_establishment: false,
        event_lag: if plan.driver.reports_from_threads() {
            workers
        } else {
            0
        },
        ..OracleConfig::default()
    }
}

/// Runs `plan` (`launcher`: how to start the driver's script; `None` for the Rust driver),
/// keeping its files under `dir`; a load that runs longer than `load_timeout` is a hang.
pub async fn run(
    plan: &Plan,
    launcher: Option<&Launcher>,
    dir: &Path,
    load_timeout: Duration,
) -> SeedOutcome {
    let started = Instant::now();
    let mut outcome = SeedOutcome {
        seed: plan.seed,
        plan: plan.clone(),
        ready: Ready::default(),
        load: None,
        faults_injected: 0,
        events: Judge::replay(oracle_config(plan), &[]),
        event_problems: Vec::new(),
        wire: None,
        error: None,
        wall: Duration::ZERO,
        dir: dir.to_path_buf(),
    };
    let log = match drive(plan, launcher, dir, load_timeout, &mut outcome).await {
        Ok(log) => log,
        Err(error) => {
            outcome.error = Some(error);
            EventLog::default()
        }
    };
    outcome.events = Judge::replay(oracle_config(plan), &log.events);
    outcome.event_problems = log.problems;
    if let Some(wire) = &outcome.wire {
        write(dir, "wire-verdict.json", &wire.to_json().to_string());
    }
    outcome.wall = started.elapsed();
    outcome
}

/// Starts the server, runs the driver's phases and returns its event log. The wire
/// verdict and the load counts land in `outcome` as they come.
async fn drive(
    plan: &Plan,
    launcher: Option<&Launcher>,
    dir: &Path,
    load_timeout: Duration,
    outcome: &mut SeedOutcome,
) -> Result<EventLog, RunError> {
    let setup = |detail: String| RunError::Setup { detail };
    std::fs::create_dir_all(dir).map_err(|e| setup(format!("{}: {e}", dir.display())))?;
    let spec = JudgeSpec {
        max_pool_size: plan.workload.max_pool_size,
        max_connecting: plan.workload.max_connecting,
        grace: WIRE_GRACE,
        stale_grace: Some(STALE_GRACE),
        ..JudgeSpec::default()
    };
    let options = ServerOptions {
        judge: Some(spec),
        ..ServerOptions::default()
    };
    let mock = MockServer::start(options, "127.0.0.1:0")
        .await
        .map_err(|e| setup(format!("cannot start the mock server: {e}")))?;
    let events_path = dir.join("events.jsonl");
    let plan_path = dir.join("plan.json");
    let input = plan.script_input(mock.addr(), &events_path);
    write(dir, "plan.json", &plan_json(plan, &input));
    let phases = Phases {
        plan,
        server: mock.server().clone(),
        load_timeout,
    };
    let log = match launcher {
        Some(launcher) => {
            let driver = External::spawn(launcher, &plan_path, &events_path)?;
            phases.external(driver, dir, outcome).await
        }
        None => {
            let uri = plan.uri(mock.addr());
            let (driver, ready) = InProcess::start(&uri).await?;
            outcome.ready = ready;
            phases.in_process(driver, &events_path, outcome).await
        }
    };
    outcome.wire = mock.server().verdict();
    mock.shutdown().await;
    log
}

/// The phases common to every driver, around the server.
struct Phases<'a> {
    plan: &'a Plan,
    server: Arc<mock_server::Server>,
    load_timeout: Duration,
}

impl Phases<'_> {
    async fn external(
        &self,
        mut driver: External,
        dir: &Path,
        outcome: &mut SeedOutcome,
    ) -> Result<EventLog, RunError> {
        outcome.ready = match driver.ready().await {
            Ok(ready) => ready,
            Err(e) => return Err(self.abandon(driver, dir, e).await),
        };
        let faults = self.start_faults();
        let load = driver.load_done(self.load_timeout).await;
        outcome.faults_injected = faults.stop().await;
        match load {
            Ok(load) => outcome.load = Some(load),
            Err(e) => return Err(self.abandon(driver, dir, e).await),
        }
        if let Err(e) = driver.close().await {
            return Err(self.abandon(driver, dir, e).await);
        }
        self.closed().await;
        let (log, exited) = driver.finish().await;
        exited.map(|()| log)
    }

    async fn in_process(
        &self,
        driver: InProcess,
        events_path: &Path,
        outcome: &mut SeedOutcome,
    ) -> Result<EventLog, RunError> {
        let faults = self.start_faults();
        let load = driver.load(self.plan, self.load_timeout).await;
        outcome.faults_injected = faults.stop().await;
        outcome.load = Some(load?);
        driver.close(Duration::from_secs(30)).await?;
        self.closed().await;
        let log = driver.finish();
        let _ = std::fs::write(events_path, log.to_jsonl());
        Ok(log)
    }

    /// The client closed: the wire judge's grace starts now; waits it out.
    async fn closed(&self) {
        if let Some(judge) = self.server.judge() {
            judge.client_closed_by_app(&self.plan.app_name());
        }
        tokio::time::sleep(WIRE_GRACE + Duration::from_millis(100)).await;
    }

    fn start_faults(&self) -> RunningFaults {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let plan = self.plan.faults.clone();
        let server = self.server.clone();
        RunningFaults {
            stop,
            task: tokio::spawn(async move { plan.run(server, stopped).await }),
        }
    }

    /// Ends a run that failed: kills the process and keeps its error output (the fault
    /// plan is already stopped and the server healed).
    async fn abandon(&self, driver: External, dir: &Path, error: RunError) -> RunError {
        driver.kill().await;
        if let RunError::Crash { stderr, .. } | RunError::Setup { detail: stderr } = &error {
            write(dir, "stderr.txt", stderr);
        }
        error
    }
}

/// The fault plan running beside the load.
struct RunningFaults {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<u64>,
}

impl RunningFaults {
    /// Stops it (the server is healed) and returns how many faults were injected.
    async fn stop(self) -> u64 {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or(0)
    }
}

/// The plan file: what the script reads, plus the seed, the pool options and the faults.
fn plan_json(plan: &Plan, input: &serde_json::Value) -> String {
    let mut value = input.clone();
    if let Some(object) = value.as_object_mut() {
        object.insert("seed".into(), serde_json::json!(plan.seed));
        object.insert("driver".into(), serde_json::json!(plan.driver));
        object.insert(
            "max_pool_size".into(),
            serde_json::json!(plan.workload.max_pool_size),
        );
        object.insert(
            "max_connecting".into(),
            serde_json::json!(plan.workload.max_connecting),
        );
        object.insert(
            "wait_queue_timeout_ms".into(),
            serde_json::json!(plan.workload.wait_queue_timeout_ms),
        );
        object.insert("faults".into(), serde_json::json!(plan.faults.steps));
    }
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

/// Writes one of the seed's files; a seed's files are for reading afterwards, so a
/// failure to write one does not fail the seed.
fn write(dir: &Path, name: &str, text: &str) {
    let _ = std::fs::write(dir.join(name), text);
}

#[cfg(test)]
mod tests;
