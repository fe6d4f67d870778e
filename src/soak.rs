//! `poolcheck soak`: the real MongoDB Rust driver (3.x) against mock-server over loopback
//! TCP, under faults, judged live by the simulator's oracle on wall-clock time.
//!
//! Unlike `sim`, nothing here is deterministic: real threads, real sockets, the Tokio
//! scheduler. Workers run commands through one [`mongodb::Client`] while a fault driver
//! injects the same vocabulary the simulation uses, through mock-server's own controls:
//! `failCommand` fail points (error codes, `closeConnection`, `blockConnection`), refused
//! connections, reply latency, replies cut mid-way, and server restarts. The driver's CMAP
//! events (`ClientOptions::cmap_event_handler`) are converted to [`sim::PoolEvent`]s and
//! fed, in the order the driver emits them, to a [`sim::Judge`]: the simulation's oracle on
//! wall-clock time.
//!
//! What it judges: the invariants the events alone decide, at every event and every
//! 10 ms: MAX (maxPoolSize, maxConnecting), LEAK (a connection checked out twice, closed
//! while checked out; after shutdown nothing left open), STALE (no connection from before a
//! `PoolCleared` checked out after it) and ACCT (events consistent with each other:
//! `ConnectionReady` only for a pending connection, `CheckedIn` only for a checked-out
//! one), and IDLE (nothing closed as idle or expired: no maxIdleTime or maxLifetime is
//! set). The driver's events name no checkout, so the per-checkout invariants (LIVE,
//! FIFO, TIME, ERR) are not judged here; the simulation judges those.
//!
//! What it tends to find: STALE, from the driver's event order rather than a stale
//! hand-out. The Rust driver's pool worker hands a just-checked-in connection to a queued
//! request, then processes a clear (`PoolCleared`); the requesting task emits
//! `ConnectionCheckedOut` only when it resumes (mongodb 3.x `cmap.rs`, `check_out`), so
//! the event can trail the clear although the hand-off preceded it. `--events` writes the
//! event log to check each case.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bson::{doc, Document};
use clap::Args;
use mock_server::{MockServer, ServerOptions};
use mongodb::event::cmap::{
    CmapEvent as DriverEvent, ConnectionCheckoutFailedReason as DriverFailed,
    ConnectionClosedReason as DriverClosed,
};
use mongodb::event::EventHandler;
use mongodb::options::ClientOptions;
use mongodb::Client;
use pool_core::{ConnectionCheckOutFailedReason, ConnectionClosedReason};
use serde::Serialize;
use sim::oracle::OracleConfig;
use sim::rng::Rng;
use sim::{Judge, PoolEvent, Violation};

use crate::fault_plan::Fault;

/// Flags of `poolcheck soak`.
#[derive(Debug, Clone, Args)]
pub struct SoakArgs {
    /// How long to run (`3s`, `500ms`, `2m`).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Concurrent workers running commands through the one client.
    #[arg(long, default_value_t = 8)]
    pub workers: u32,
    /// The driver's maxPoolSize (small, so workers contend).
    #[arg(long, default_value_t = 4)]
    pub max_pool_size: u32,
    /// The driver's maxConnecting.
    #[arg(long, default_value_t = 2)]
    pub max_connecting: u32,
    /// Seeds the fault plan and the workers' choices (the run itself is not
    /// deterministic); by default taken from the clock.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Inject no faults.
    #[arg(long)]
    pub no_faults: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Write every CMAP event the oracle saw (as JSON lines, with its wall-clock time)
    /// to this file.
    #[arg(long)]
    pub events: Option<std::path::PathBuf>,
}

/// Parses `3s`, `500ms`, `2m`, `1.5s` (a bare number is seconds).
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: use e.g. 3s, 500ms, 2m"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use ms, s or m)")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 86_400.0 {
        return Err(format!(
            "`{s}`: the duration must be above 0 and at most a day"
        ));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The driver's CMAP event as the oracle's [`PoolEvent`] (`None` for `PoolCreated`).
pub(crate) fn translate(event: DriverEvent) -> Option<PoolEvent> {
    Some(match event {
        DriverEvent::PoolReady(_) => PoolEvent::PoolReady,
        DriverEvent::PoolCleared(e) => PoolEvent::PoolCleared {
            interrupt: e.interrupt_in_use_connections,
        },
        DriverEvent::PoolClosed(_) => PoolEvent::PoolClosed,
        DriverEvent::ConnectionCreated(e) => PoolEvent::ConnectionCreated {
            id: u64::from(e.connection_id),
        },
        DriverEvent::ConnectionReady(e) => PoolEvent::ConnectionReady {
            id: u64::from(e.connection_id),
        },
        DriverEvent::ConnectionClosed(e) => PoolEvent::ConnectionClosed {
            id: u64::from(e.connection_id),
            reason: match e.reason {
                DriverClosed::Stale => ConnectionClosedReason::Stale,
                DriverClosed::Idle => ConnectionClosedReason::Idle,
                DriverClosed::PoolClosed => ConnectionClosedReason::PoolClosed,
                // `Error`, and `Dropped` (dropped while a command was running).
                _ => ConnectionClosedReason::Error,
            },
        },
        DriverEvent::ConnectionCheckoutStarted(_) => PoolEvent::CheckOutStarted,
        DriverEvent::ConnectionCheckoutFailed(e) => PoolEvent::CheckOutFailed {
            reason: match e.reason {
                DriverFailed::Timeout => ConnectionCheckOutFailedReason::Timeout,
                _ => ConnectionCheckOutFailedReason::ConnectionError,
            },
        },
        DriverEvent::ConnectionCheckedOut(e) => PoolEvent::CheckedOut {
            id: u64::from(e.connection_id),
        },
        DriverEvent::ConnectionCheckedIn(e) => PoolEvent::CheckedIn {
            id: u64::from(e.connection_id),
        },
        _ => return None,
    })
}

/// What a soak found.
#[derive(Debug, Serialize)]
struct Summary {
    duration_s: f64,
    workers: u32,
    seed: u64,
    operations_ok: u64,
    operations_failed: u64,
    faults: u64,
    cmap_events: u64,
    violations: Vec<Violation>,
}

/// Runs `poolcheck soak`.
pub fn run(args: &SoakArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("poolcheck soak: cannot start a runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    match runtime.block_on(soak(args, seed)) {
        Ok(summary) => report(args, &summary),
        Err(message) => {
            eprintln!("poolcheck soak: {message}");
            ExitCode::from(2)
        }
    }
}

async fn soak(args: &SoakArgs, seed: u64) -> Result<Summary, String> {
    let mock = MockServer::start(ServerOptions::default(), "127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot start the mock server: {e}"))?;
    let judge = Arc::new(judge(args));
    let client = client(args, &mock, judge.clone()).await?;
    let load = Load::start(args, seed, &client, &mock, &judge);
    tokio::time::sleep(args.duration).await;
    let load = load.stop().await;
    // Heal the server, then close the client: every connection must be gone after.
    crate::fault_plan::heal(mock.server());
    client.shutdown().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let verdict = judge.finish(None);
    mock.shutdown().await;
    if let Some(path) = &args.events {
        write_events(path, &verdict.log)?;
    }
    Ok(Summary {
        duration_s: args.duration.as_secs_f64(),
        workers: args.workers.max(1),
        seed,
        operations_ok: load.ok,
        operations_failed: load.failed,
        faults: load.faults,
        cmap_events: verdict.events,
        violations: verdict.violations,
    })
}

/// The judge of the driver's events: the pool's limits, a tolerance generous enough for
/// wall-clock time on a loaded machine; it keeps the event log when `--events` asks.
fn judge(args: &SoakArgs) -> Judge {
    let judge = Judge::new(OracleConfig {
        max_total: args.max_pool_size.max(1),
        max_connecting: args.max_connecting.max(1),
        // Wall-clock time on a loaded machine: generous.
        tolerance: Duration::from_millis(100),
        wait_queue_timeout: None,
        checkout_bound: None,
        background_establishment: false,
        ..OracleConfig::default()
    });
    if args.events.is_some() {
        judge.recording()
    } else {
        judge
    }
}

/// The driver's client for the mock server, its CMAP events fed to `judge`.
async fn client(args: &SoakArgs, mock: &MockServer, judge: Arc<Judge>) -> Result<Client, String> {
    let uri = format!(
        "mongodb://{}/?directConnection=true&serverSelectionTimeoutMS=2000&connectTimeoutMS=1000",
        mock.addr()
    );
    let mut options = ClientOptions::parse(uri)
        .await
        .map_err(|e| format!("bad client options: {e}"))?;
    options.max_pool_size = Some(args.max_pool_size.max(1));
    options.max_connecting = Some(args.max_connecting.max(1));
    options.cmap_event_handler = Some(EventHandler::callback(move |event| {
        if let Some(event) = translate(event) {
            judge.event(&event);
        }
    }));
    Client::with_options(options).map_err(|e| format!("cannot build a client: {e}"))
}

/// The running load: the workers, the fault driver and the judge's ticker.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    faults: Arc<AtomicU64>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What the load did.
struct LoadCounts {
    ok: u64,
    failed: u64,
    faults: u64,
}

impl Load {
    /// Starts the workers (each with its own fork of the seed), the fault driver (unless
    /// `--no-faults`) and a ticker that lets the judge check timing every 10 ms.
    fn start(
        args: &SoakArgs,
        seed: u64,
        client: &Client,
        mock: &MockServer,
        judge: &Arc<Judge>,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let faults = Arc::new(AtomicU64::new(0));
        let root = Rng::new(seed);
        let mut tasks = Vec::new();
        for w in 0..args.workers.max(1) {
            let (client, stop, ok, failed) =
                (client.clone(), stop.clone(), ok.clone(), failed.clone());
            let rng = root.fork(&format!("worker{w}"));
            tasks.push(tokio::spawn(worker(client, rng, stop, ok, failed)));
        }
        if !args.no_faults {
            let server = mock.server().clone();
            tasks.push(tokio::spawn(fault_driver(
                server,
                root.fork("faults"),
                stop.clone(),
                faults.clone(),
            )));
        }
        let (ticking, stopping) = (judge.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stopping.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
                ticking.tick();
            }
        }));
        Load {
            stop,
            ok,
            failed,
            faults,
            tasks,
        }
    }

    /// Stops every task, waits for each, and returns the counts.
    async fn stop(self) -> LoadCounts {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            let _ = task.await;
        }
        LoadCounts {
            ok: self.ok.load(Ordering::SeqCst),
            failed: self.failed.load(Ordering::SeqCst),
            faults: self.faults.load(Ordering::SeqCst),
        }
    }
}

/// Writes the judged events as JSON lines (`t_us`, `event`).
fn write_events(path: &std::path::Path, log: &[(Duration, PoolEvent)]) -> Result<(), String> {
    let mut text = String::new();
    for (at, event) in log {
        let line = serde_json::json!({ "t_us": at.as_micros() as u64, "event": event });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// One worker: reads, writes and pings until told to stop.
async fn worker(
    client: Client,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
) {
    let db = client.database("soak");
    let coll = db.collection::<Document>("docs");
    let mut n: i64 = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let outcome = match rng.below(3) {
            0 => db.run_command(doc! { "ping": 1 }).await.map(|_| ()),
            1 => coll.insert_one(doc! { "n": n }).await.map(|_| ()),
            _ => coll.find_one(doc! { "n": n - 1 }).await.map(|_| ()),
        };
        match outcome {
            Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => failed.fetch_add(1, Ordering::Relaxed),
        };
        if !rng.percent(30) {
            tokio::time::sleep(rng.duration(Duration::from_micros(100), Duration::from_millis(5)))
                .await;
        }
    }
}

/// Injects a fault every 100–400 ms ([`Fault::draw`]); the timed ones heal themselves.
async fn fault_driver(
    server: Arc<mock_server::Server>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    count: Arc<AtomicU64>,
) {
    let ms = Duration::from_millis;
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(rng.duration(ms(100), ms(400))).await;
        if stop.load(Ordering::SeqCst) {
            break;
        }
        count.fetch_add(1, Ordering::Relaxed);
        Fault::draw(&mut rng).apply(&server).await;
    }
}

fn report(args: &SoakArgs, summary: &Summary) -> ExitCode {
    if args.json {
        match serde_json::to_string_pretty(summary) {
            Ok(json) => println!("{json}"),
            Err(err) => eprintln!("poolcheck soak: cannot print JSON: {err}"),
        }
    } else {
        println!(
            "poolcheck soak — mongodb driver vs mock-server (loopback TCP), {:.1} s, {} workers, seed {:#x}",
            summary.duration_s, summary.workers, summary.seed
        );
        println!(
            "  operations         {} ok, {} failed",
            summary.operations_ok, summary.operations_failed
        );
        println!("  faults injected    {}", summary.faults);
        println!("  cmap events        {}", summary.cmap_events);
        println!("  violations (by invariant; LIVE, FIFO, TIME, ERR need checkout ids: sim only):");
        for invariant in sim::judge::JUDGED {
            let n = summary
                .violations
                .iter()
                .filter(|v| v.invariant == invariant)
                .count();
            println!("    {:<6} {n}", invariant.name());
        }
        for v in summary.violations.iter().take(5) {
            println!("  - {v}");
        }
    }
    match summary.violations.first() {
        None => {
            if !args.json {
                println!("verdict: OK — no invariant violated");
            }
            ExitCode::SUCCESS
        }
        Some(first) => {
            if !args.json {
                println!(
                    "verdict: FAIL — {} violation(s); first: {first}",
                    summary.violations.len()
                );
            }
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("3s"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("abc").is_err());
    }
}
