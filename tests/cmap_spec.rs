//! The CMAP spec-test runner: runs every `cmap-format` JSON file of the MongoDB
//! specifications repository against `pool_core::Pool`, then runs the integration files
//! again end to end over the wire protocol against poolcheck's mock server.
//!
//! Usage: `cargo test --test cmap_spec [-- FILTER...]`. Each positional argument keeps only
//! the files whose name contains it. The runner prints `PASS file.json` or
//! `FAIL file.json: reason` per file (with ` (wire+mock-server)` after the name for the end
//! to end runs) and ends with `cmap-spec: N passed, M failed`, counting both kinds of run;
//! it exits non-zero when a run failed.
//!
//! The spec files are vendored in `tests/spec/cmap/cmap-format` (origin and licence in
//! `tests/spec/cmap/README.md`). The runner runs every file of [`SPEC_FILES`] and fails,
//! loudly, if one is missing or unexpected.
//!
//! # How the files are run
//!
//! - *Unit* files run against [`MockManager`] with no fail point: `connect` returns a
//!   connection that is just its id.
//! - *Integration* files (`failPoint` + `runOn`) run against the same manager with a
//!   [`FailPoint`] that emulates mongod's `failCommand` on the `hello` handshake, filtered by
//!   the pool's `appName`. The mock reports server version [`MOCK_SERVER_VERSION`] for
//!   `runOn`.
//! - Then every integration file runs *again*, end to end: the pool is built over
//!   `wire::WireManager` (TCP connect plus a real `hello` handshake carrying the file's
//!   `appName`) against a `mock_server::MockServer` started for the file on a loopback
//!   port. The file's `failPoint` is sent to it as a real `configureFailPoint` command
//!   before the test, and `mode: "off"` after it; the server is shut down after each file.
//!   These runs print `PASS file.json (wire+mock-server)`, and fail if the server's fail
//!   point never fired. The server runs with a 1 ms `block_release_window`: a real server
//!   answers handshakes blocked together microseconds apart, but Tokio's timer ticks every
//!   millisecond, so two blocks started a few microseconds apart could end a tick apart,
//!   and `pool-checkout-minPoolSize-connection-maxConnecting`, whose expected events assume
//!   both populated connections become ready together, would then lose a race it never
//!   loses against a fast real server (the official Rust driver skips that file as flaky).
//! - Each file gets a fresh current-thread Tokio runtime with real time. The pool's own
//!   timers (wait-queue timeouts, maintenance) come from `pool_core::TokioRuntime`.
//! - Named threads are Tokio tasks fed by a channel. Operations sent to them are
//!   fire-and-forget; a thread stops at its first error, which reaches the main thread only
//!   through `waitForThread`.
//! - The main thread stops at its first error; the file's `error` must match it.
//! - Events are recorded as the JSON `CmapEvent` serializes to. `waitForEvent` counts all
//!   of them; the assertion drops the `ignore`d types, matches the expected events index by
//!   index, and then requires that no other event follows (as strict as the Rust driver's
//!   runner; every one of the 33 files passes that way, so nothing is loosened).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_server::{MockServer, ServerOptions};
use pool_core::{CmapEvent, Manager, Pool, PoolOptions, PooledConnection};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use wire::{ClientError, WireConfig, WireManager};

#[path = "common/fail_point.rs"]
mod fail_point;

use fail_point::{CommandError, FailPoint};

/// Where the spec files are, relative to this package's manifest directory.
const SPEC_DIR: &str = "tests/spec/cmap/cmap-format";
/// Every file the runner must find there (the whole `cmap-format` suite).
const SPEC_FILES: [&str; 33] = [
    "connection-must-have-id.json",
    "connection-must-order-ids.json",
    "pool-checkin-destroy-closed.json",
    "pool-checkin-destroy-stale.json",
    "pool-checkin-make-available.json",
    "pool-checkin.json",
    "pool-checkout-connection.json",
    "pool-checkout-custom-maxConnecting-is-enforced.json",
    "pool-checkout-error-closed.json",
    "pool-checkout-maxConnecting-is-enforced.json",
    "pool-checkout-maxConnecting-timeout.json",
    "pool-checkout-minPoolSize-connection-maxConnecting.json",
    "pool-checkout-multiple.json",
    "pool-checkout-no-idle.json",
    "pool-checkout-no-stale.json",
    "pool-checkout-returned-connection-maxConnecting.json",
    "pool-clear-clears-waitqueue.json",
    "pool-clear-interrupting-pending-connections.json",
    "pool-clear-min-size.json",
    "pool-clear-paused.json",
    "pool-clear-ready.json",
    "pool-clear-schedule-run-interruptInUseConnections-false.json",
    "pool-close-destroy-conns.json",
    "pool-close.json",
    "pool-create-max-size.json",
    "pool-create-min-size-error.json",
    "pool-create-min-size.json",
    "pool-create-with-options.json",
    "pool-create.json",
    "pool-ready-ready.json",
    "pool-ready.json",
    "wait-queue-fairness.json",
    "wait-queue-timeout.json",
];
/// The address the pool reports in its events (wire runs report the mock server's).
const ADDRESS: &str = "localhost:27017";
/// The server version the mock reports, for `runOn`.
const MOCK_SERVER_VERSION: &str = "8.0.0";
/// `waitForEvent` without a `timeout`.
const WAIT_FOR_EVENT_DEFAULT: Duration = Duration::from_secs(10);
/// How long `waitForThread` waits for a thread to finish its operations.
const WAIT_FOR_THREAD_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the final assertion waits for the expected events to arrive, since some are
/// emitted by background tasks (the Rust driver's runner waits too).
const EVENTS_ARRIVE_TIMEOUT: Duration = Duration::from_secs(2);
/// A whole file, operations and assertion included.
const FILE_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(SPEC_DIR);
    let (mut passed, mut failed) = (0u32, 0u32);
    for name in SPEC_FILES {
        if !dir.join(name).is_file() {
            println!(
                "FAIL {name}: missing from {SPEC_DIR} (the vendored spec suite is incomplete)"
            );
            failed += 1;
        }
    }
    if let Err(reason) = runtime().block_on(fail_point::self_test()) {
        println!("FAIL fail point emulation: {reason}");
        failed += 1;
    }
    match spec_files(&dir) {
        Ok(files) if files.is_empty() => {
            println!("FAIL {SPEC_DIR}: no .json files");
            failed += 1;
        }
        Ok(files) => {
            for path in &files {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                if !name.as_deref().is_some_and(|n| SPEC_FILES.contains(&n)) {
                    println!(
                        "FAIL {}: not in SPEC_FILES (register it, see tests/spec/cmap/README.md)",
                        path.display()
                    );
                    failed += 1;
                }
            }
            for path in files.iter() {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
                    continue;
                }
                tally(
                    &name,
                    run_file(path, Backend::Emulated),
                    &mut passed,
                    &mut failed,
                );
            }
            // The integration files again, end to end over TCP against the mock server.
            for path in &files {
                let name = format!(
                    "{} {WIRE_SUFFIX}",
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                );
                if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
                    continue;
                }
                tally(
                    &name,
                    run_file(path, Backend::Wire),
                    &mut passed,
                    &mut failed,
                );
            }
        }
        Err(error) => {
            println!("FAIL {SPEC_DIR}: cannot list it: {error}");
            failed += 1;
        }
    }
    println!("cmap-spec: {passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints one run's outcome and counts it. `NotApplicable` runs are neither.
fn tally(name: &str, outcome: Outcome, passed: &mut u32, failed: &mut u32) {
    match outcome {
        Outcome::Pass => {
            println!("PASS {name}");
            *passed += 1;
        }
        Outcome::Skip(reason) => println!("SKIP {name}: {reason}"),
        Outcome::Fail(reason) => {
            println!("FAIL {name}: {reason}");
            *failed += 1;
        }
        Outcome::NotApplicable => {}
    }
}

/// The `.json` files of `dir`, sorted by name.
fn spec_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

enum Outcome {
    Pass,
    Skip(String),
    Fail(String),
    /// A unit file in the end-to-end pass: it has no server to talk to.
    NotApplicable,
}

/// What the pool's connections are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// [`MockManager`]'s in-process connections, with the emulated fail point.
    Emulated,
    /// `wire::WireManager` over TCP to a `MockServer` with a real fail point.
    Wire,
}

/// The mock server's `block_release_window` in [`Backend::Wire`] runs: handshakes blocked
/// within one 1 ms timer tick of each other end together, as a real server's would (the
/// emulated fail point does the same; see `fail_point::BLOCK_COALESCE`).
const BLOCK_RELEASE_WINDOW: Duration = Duration::from_millis(1);

/// Printed after the file name for [`Backend::Wire`] runs.
const WIRE_SUFFIX: &str = "(wire+mock-server)";

/// Reads, parses and runs one file on a runtime of its own.
fn run_file(path: &Path, backend: Backend) -> Outcome {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) => return Outcome::Fail(format!("cannot read: {error}")),
    };
    let test: SpecTest = match serde_json::from_str(&text) {
        Ok(test) => test,
        Err(error) => return Outcome::Fail(format!("cannot parse: {error}")),
    };
    if test.version != 1 {
        return Outcome::Fail(format!("unsupported format version {}", test.version));
    }
    if backend == Backend::Wire && test.style != Style::Integration {
        return Outcome::NotApplicable;
    }
    if let Some(run_on) = &test.run_on {
        if !run_on.iter().any(RunOn::is_met) {
            return Outcome::Skip(format!(
                "runOn not met by server version {MOCK_SERVER_VERSION}"
            ));
        }
    }
    let rt = runtime();
    let result = rt.block_on(async {
        match tokio::time::timeout(FILE_TIMEOUT, run_test(&test, backend)).await {
            Ok(result) => result,
            Err(_) => Err(format!("did not finish within {FILE_TIMEOUT:?}")),
        }
    });
    drop(rt); // ends whatever the file left running
    match result {
        Ok(()) => Outcome::Pass,
        Err(reason) => Outcome::Fail(reason),
    }
}

// ===== the file format =====

/// One `cmap-format` file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SpecTest {
    version: u32,
    style: Style,
    #[allow(dead_code)] // read by humans
    description: String,
    #[serde(default)]
    pool_options: Map<String, Value>,
    operations: Vec<Value>,
    error: Option<Value>,
    events: Vec<Value>,
    #[serde(default)]
    ignore: Vec<String>,
    run_on: Option<Vec<RunOn>>,
    fail_point: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Style {
    Unit,
    Integration,
}

/// One `runOn` entry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RunOn {
    min_server_version: Option<String>,
    max_server_version: Option<String>,
    topology: Option<Vec<String>>,
}

impl RunOn {
    /// True if the mock server (a standalone of [`MOCK_SERVER_VERSION`]) satisfies it.
    fn is_met(&self) -> bool {
        let server = version(MOCK_SERVER_VERSION);
        self.min_server_version
            .as_deref()
            .is_none_or(|min| server >= version(min))
            && self
                .max_server_version
                .as_deref()
                .is_none_or(|max| server <= version(max))
            && self
                .topology
                .as_ref()
                .is_none_or(|t| t.iter().any(|t| t == "single"))
    }
}

/// "4.4.0" as comparable numbers, padded to three components.
fn version(text: &str) -> Vec<u64> {
    let mut parts: Vec<u64> = text.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    parts.resize(parts.len().max(3), 0);
    parts
}

/// One operation; `thread` is split off before parsing.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    tag = "name",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
enum Op {
    Start {
        target: String,
    },
    Wait {
        ms: u64,
    },
    WaitForThread {
        target: String,
    },
    WaitForEvent {
        event: String,
        count: usize,
        timeout: Option<u64>,
    },
    CheckOut {
        label: Option<String>,
    },
    CheckIn {
        connection: String,
    },
    Clear {
        #[serde(default)]
        interrupt_in_use_connections: bool,
    },
    Close,
    Ready,
}

/// Splits `{"name": ..., "thread": ...}` into the thread name and the operation.
fn parse_operation(raw: &Value) -> Result<(Option<String>, Op), String> {
    let mut fields = raw
        .as_object()
        .cloned()
        .ok_or_else(|| format!("operation is not a document: {raw}"))?;
    let thread = match fields.remove("thread") {
        None => None,
        Some(Value::String(t)) => Some(t),
        Some(other) => return Err(format!("operation thread must be a string: {other}")),
    };
    let op = serde_json::from_value(Value::Object(fields))
        .map_err(|e| format!("bad operation {raw}: {e}"))?;
    Ok((thread, op))
}

// ===== the mock server =====

/// The "server" the pool connects to. Emulated: connections are just their id; with a
/// fail point, the handshake goes through it first. Wire: a real TCP connection and
/// `hello` handshake to the mock server, through `wire::WireManager`.
struct MockManager {
    /// The `appName` the handshake sends (from `poolOptions`).
    app_name: Option<String>,
    /// Set for integration files run on [`Backend::Emulated`].
    fail_point: Option<Arc<FailPoint>>,
    /// Set for [`Backend::Wire`] runs.
    wire: Option<WireManager>,
}

/// A connection: its id is all the tests look at; a wire run also holds the socket.
#[derive(Debug)]
struct MockConnection {
    id: u64,
    /// Held open while the pool holds the connection.
    _wire: Option<wire::TcpConnection>,
}

/// Why a connection could not be established.
#[derive(Debug)]
enum ConnectError {
    /// The emulated fail point failed the handshake.
    Emulated(CommandError),
    /// The wire client failed (connect, I/O, or the server's error reply to `hello`).
    Wire(ClientError),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Emulated(e) => e.fmt(f),
            ConnectError::Wire(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ConnectError {}

impl Manager for MockManager {
    type Connection = MockConnection;
    type Error = ConnectError;

    async fn connect(&self, id: u64) -> Result<MockConnection, ConnectError> {
        if let Some(wire) = &self.wire {
            let conn = wire.open().await.map_err(ConnectError::Wire)?;
            return Ok(MockConnection {
                id,
                _wire: Some(conn),
            });
        }
        if let Some(fail_point) = &self.fail_point {
            fail_point
                .run_command("hello", self.app_name.as_deref())
                .await
                .map_err(ConnectError::Emulated)?;
        }
        Ok(MockConnection { id, _wire: None })
    }
}

/// A mock server for one [`Backend::Wire`] run, and a connection of its own to control it.
struct WireServer {
    mock: MockServer,
    control: wire::TcpConnection,
}

impl WireServer {
    /// Starts a mock server on a loopback port and opens the control connection (without
    /// an `appName`, so the files' fail points, all filtered by `appName`, spare it).
    async fn start() -> Result<WireServer, String> {
        let options = ServerOptions {
            block_release_window: BLOCK_RELEASE_WINDOW,
            ..ServerOptions::default()
        };
        let mock = MockServer::start(options, "127.0.0.1:0")
            .await
            .map_err(|e| format!("starting the mock server: {e}"))?;
        let control = WireManager::new(WireConfig::new(mock.addr().to_string()))
            .open()
            .await
            .map_err(|e| format!("control connection: {e}"))?;
        Ok(WireServer { mock, control })
    }

    /// Sends a `configureFailPoint` command (JSON, as the spec files write it) to `admin`
    /// and returns the reply's `count`: how often the fail point fired so far.
    async fn configure_fail_point(&mut self, command: &Value) -> Result<i64, String> {
        let command = bson::to_document(command)
            .map_err(|e| format!("failPoint is not a BSON document: {e}"))?;
        let reply = self
            .control
            .run_command("admin", command)
            .await
            .map_err(|e| format!("configureFailPoint: {e}"))?;
        match reply.get("count") {
            Some(bson::Bson::Int32(n)) => Ok(i64::from(*n)),
            Some(bson::Bson::Int64(n)) => Ok(*n),
            _ => Err(format!("configureFailPoint reply without a count: {reply}")),
        }
    }

    /// Stops the server; every connection still open (a blocked handshake included) ends.
    async fn shutdown(self) {
        drop(self.control);
        self.mock.shutdown().await;
    }
}

type TestPool = Pool<MockManager>;
type Conn = PooledConnection<MockManager>;

// ===== events =====

/// Every event of the pool, in order, as JSON; plus a way to wait for more.
struct EventLog {
    events: Mutex<Vec<Value>>,
    /// Bumped after every event.
    changed: watch::Sender<usize>,
}

impl EventLog {
    fn new() -> Arc<Self> {
        Arc::new(EventLog {
            events: Mutex::new(Vec::new()),
            changed: watch::Sender::new(0),
        })
    }

    fn record(&self, event: &CmapEvent) {
        let value = serde_json::to_value(event).expect("CmapEvent serializes");
        let len = {
            let mut events = self.events.lock().expect("event log lock");
            events.push(value);
            events.len()
        };
        self.changed.send_replace(len);
    }

    fn snapshot(&self) -> Vec<Value> {
        self.events.lock().expect("event log lock").clone()
    }

    /// Waits until `done` holds for the events, for at most `timeout`.
    async fn wait_until(&self, timeout: Duration, done: impl Fn(&[Value]) -> bool) -> bool {
        let mut changes = self.changed.subscribe();
        let check = |_: &usize| done(&self.events.lock().expect("event log lock"));
        let reached = tokio::time::timeout(timeout, changes.wait_for(check)).await;
        matches!(reached, Ok(Ok(_)))
    }
}

fn event_type(event: &Value) -> &str {
    event.get("type").and_then(Value::as_str).unwrap_or("")
}

// ===== running operations =====

/// Why an operation failed.
#[derive(Debug, Clone)]
enum OpError {
    /// The pool refused a checkout: the error the test may expect.
    Checkout(Value),
    /// The runner could not carry out the operation (unknown label, timeout, …).
    Runner(String),
}

/// What every thread shares: the pool, the checked-out connections and the event log.
struct Shared {
    pool: TestPool,
    /// Connections checked out with a `label`, for `checkIn`.
    labeled: Mutex<HashMap<String, Conn>>,
    /// Connections checked out without one: kept out until the file ends.
    unlabeled: Mutex<Vec<Conn>>,
    log: Arc<EventLog>,
}

impl Shared {
    /// Runs an operation that any thread may run.
    async fn execute(&self, op: Op) -> Result<(), OpError> {
        match op {
            Op::Wait { ms } => tokio::time::sleep(Duration::from_millis(ms)).await,
            Op::WaitForEvent {
                event,
                count,
                timeout,
            } => {
                let timeout = timeout.map_or(WAIT_FOR_EVENT_DEFAULT, Duration::from_millis);
                let enough = |events: &[Value]| {
                    events.iter().filter(|e| event_type(e) == event).count() >= count
                };
                if !self.log.wait_until(timeout, enough).await {
                    let seen = self
                        .log
                        .snapshot()
                        .iter()
                        .filter(|e| event_type(e) == event)
                        .count();
                    return Err(OpError::Runner(format!(
                        "waitForEvent: saw {seen} of {count} {event} events within {timeout:?}"
                    )));
                }
            }
            Op::CheckOut { label } => {
                let conn = self.pool.check_out().await.map_err(|error| {
                    OpError::Checkout(json!({
                        "type": error.cmap_type(),
                        "message": error.to_string(),
                        "address": self.pool.address(),
                    }))
                })?;
                if conn.id != conn.id() {
                    return Err(OpError::Runner(format!(
                        "connection {} carries the manager's id {}",
                        conn.id(),
                        conn.id
                    )));
                }
                match label {
                    Some(label) => {
                        let old = self
                            .labeled
                            .lock()
                            .expect("labels lock")
                            .insert(label, conn);
                        // A reused label checks the previous connection in (outside the lock).
                        drop(old);
                    }
                    None => self.unlabeled.lock().expect("unlabeled lock").push(conn),
                }
            }
            Op::CheckIn { connection } => {
                let conn = self
                    .labeled
                    .lock()
                    .expect("labels lock")
                    .remove(&connection);
                let conn = conn.ok_or_else(|| {
                    OpError::Runner(format!("checkIn: no connection {connection:?}"))
                })?;
                self.pool
                    .check_in(conn)
                    .map_err(|e| OpError::Runner(format!("checkIn: {e}")))?;
            }
            Op::Clear {
                interrupt_in_use_connections,
            } => {
                self.pool.clear(interrupt_in_use_connections);
            }
            Op::Close => self.pool.close(),
            Op::Ready => {
                // Readying a closed pool is an error in pool-core; no spec file does it.
                self.pool
                    .ready()
                    .map_err(|e| OpError::Runner(format!("ready: {e}")))?;
            }
            Op::Start { .. } | Op::WaitForThread { .. } => {
                return Err(OpError::Runner(format!(
                    "{op:?} is for the main thread only"
                )));
            }
        }
        Ok(())
    }
}

/// A named thread: a task running the operations sent to it, in order.
struct Thread {
    ops: mpsc::UnboundedSender<Op>,
    task: JoinHandle<Result<(), OpError>>,
}

/// The main thread.
struct Runner {
    shared: Arc<Shared>,
    threads: HashMap<String, Thread>,
}

impl Runner {
    /// Runs the operations until the end or the main thread's first error.
    async fn run(&mut self, operations: &[Value]) -> Result<(), OpError> {
        for raw in operations {
            let (thread, op) = parse_operation(raw).map_err(OpError::Runner)?;
            match thread {
                Some(name) => {
                    let thread = self.threads.get(&name).ok_or_else(|| {
                        OpError::Runner(format!("thread {name:?} was not started"))
                    })?;
                    // Fire and forget. A thread that stopped at an error takes no more
                    // operations; its error is reported by `waitForThread`.
                    let _ = thread.ops.send(op);
                }
                None => self.execute(op).await?,
            }
        }
        Ok(())
    }

    async fn execute(&mut self, op: Op) -> Result<(), OpError> {
        match op {
            Op::Start { target } => {
                if self.threads.contains_key(&target) {
                    return Err(OpError::Runner(format!("thread {target:?} started twice")));
                }
                let (ops, mut inbox) = mpsc::unbounded_channel::<Op>();
                let shared = self.shared.clone();
                let task = tokio::spawn(async move {
                    while let Some(op) = inbox.recv().await {
                        shared.execute(op).await?;
                    }
                    Ok(())
                });
                self.threads.insert(target, Thread { ops, task });
                Ok(())
            }
            Op::WaitForThread { target } => {
                let Thread { ops, task } = self.threads.remove(&target).ok_or_else(|| {
                    OpError::Runner(format!("waitForThread: no thread {target:?}"))
                })?;
                drop(ops); // the thread ends once it has run what it was sent
                match tokio::time::timeout(WAIT_FOR_THREAD_TIMEOUT, task).await {
                    Ok(Ok(result)) => result,
                    Ok(Err(join)) => Err(OpError::Runner(format!("thread {target:?} panicked: {join}"))),
                    Err(_) => Err(OpError::Runner(format!(
                        "waitForThread: thread {target:?} still busy after {WAIT_FOR_THREAD_TIMEOUT:?}"
                    ))),
                }
            }
            op => self.shared.execute(op).await,
        }
    }

    /// Stops the threads that were never joined; their errors are dropped, as the spec says.
    async fn stop_threads(&mut self) {
        for (_, thread) in self.threads.drain() {
            thread.task.abort();
            let _ = thread.task.await;
        }
    }
}

// ===== one file =====

async fn run_test(test: &SpecTest, backend: Backend) -> Result<(), String> {
    let mut pool_options = test.pool_options.clone();
    let app_name = match pool_options.remove("appName") {
        None => None,
        Some(Value::String(name)) => Some(name),
        Some(other) => return Err(format!("poolOptions.appName must be a string: {other}")),
    };
    let options: PoolOptions = serde_json::from_value(Value::Object(pool_options))
        .map_err(|e| format!("poolOptions: {e}"))?;

    let fail_point_command = match (test.style, &test.fail_point) {
        (Style::Integration, Some(command)) => Some(command),
        (Style::Integration, None) => return Err("integration file without failPoint".into()),
        (Style::Unit, Some(_)) => return Err("unit file with a failPoint".into()),
        (Style::Unit, None) => None,
    };
    let (fail_point, mut server, address) = match (backend, fail_point_command) {
        (Backend::Emulated, Some(command)) => {
            let fail_point = Arc::new(FailPoint::new());
            fail_point.configure(command)?;
            (Some(fail_point), None, ADDRESS.to_string())
        }
        (Backend::Emulated, None) => (None, None, ADDRESS.to_string()),
        (Backend::Wire, command) => {
            let mut server = WireServer::start().await?;
            if let Some(command) = command {
                server.configure_fail_point(command).await?;
            }
            let address = server.mock.addr().to_string();
            (None, Some(server), address)
        }
    };
    let wire = server.as_ref().map(|server| {
        let mut config = WireConfig::new(server.mock.addr().to_string());
        if let Some(name) = &app_name {
            config = config.app_name(name.clone());
        }
        WireManager::new(config)
    });

    let log = EventLog::new();
    let handler_log = log.clone();
    let manager = MockManager {
        app_name,
        fail_point: fail_point.clone(),
        wire,
    };
    let pool = Pool::builder(manager)
        .options(options)
        .address(address)
        .event_handler(move |event: &CmapEvent| handler_log.record(event))
        .build()
        .map_err(|e| format!("building the pool: {e}"))?;
    let shared = Arc::new(Shared {
        pool,
        labeled: Mutex::new(HashMap::new()),
        unlabeled: Mutex::new(Vec::new()),
        log: log.clone(),
    });
    let mut runner = Runner {
        shared: shared.clone(),
        threads: HashMap::new(),
    };

    let outcome = runner.run(&test.operations).await;
    let verdict = check_error(test.error.as_ref(), &outcome).and(check_events(test, &log).await);

    // Clean up as the spec asks (fail point off), then let everything go.
    let off = json!({"configureFailPoint": "failCommand", "mode": "off"});
    if let Some(fail_point) = &fail_point {
        fail_point.configure(&off)?;
    }
    // A fail point that never fired would mean the file tested nothing of the server.
    let cleanup = match &mut server {
        Some(server) => match server.configure_fail_point(&off).await {
            Ok(0) => Err("the mock server's fail point never fired".to_string()),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        },
        None => Ok(()),
    };
    runner.stop_threads().await;
    drop(runner);
    drop(shared);
    if let Some(server) = server {
        server.shutdown().await;
    }
    verdict.and(cleanup)
}

/// The main thread's outcome against the file's `error`.
fn check_error(expected: Option<&Value>, outcome: &Result<(), OpError>) -> Result<(), String> {
    match (expected, outcome) {
        (None, Ok(())) => Ok(()),
        (_, Err(OpError::Runner(reason))) => Err(reason.clone()),
        (None, Err(OpError::Checkout(actual))) => Err(format!("unexpected error {actual}")),
        (Some(expected), Ok(())) => Err(format!("expected error {expected}, but there was none")),
        (Some(expected), Err(OpError::Checkout(actual))) => {
            // Only the type (and an address, if given) are compared: the spec fixes the
            // error types, but each driver words its messages its own way.
            let mut expected = expected.clone();
            if let Some(fields) = expected.as_object_mut() {
                fields.remove("message");
            }
            matches(&expected, actual)
                .map_err(|why| format!("error {actual} does not match {expected}: {why}"))
        }
    }
}

/// The recorded events against the file's `events` and `ignore`.
async fn check_events(test: &SpecTest, log: &EventLog) -> Result<(), String> {
    let kept = |events: &[Value]| -> Vec<Value> {
        events
            .iter()
            .filter(|e| !test.ignore.iter().any(|i| i == event_type(e)))
            .cloned()
            .collect()
    };
    // Some expected events come from background tasks; give them a moment.
    log.wait_until(EVENTS_ARRIVE_TIMEOUT, |events| {
        kept(events).len() >= test.events.len()
    })
    .await;
    let actual = kept(&log.snapshot());
    let show = |events: &[Value]| {
        events
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, expected) in test.events.iter().enumerate() {
        let Some(event) = actual.get(i) else {
            return Err(format!(
                "expected event {i} {expected} is missing; events after ignore: [{}]",
                show(&actual)
            ));
        };
        if let Err(why) = matches(expected, event) {
            return Err(format!(
                "event {i}: {event} does not match {expected} ({why}); events after ignore: [{}]",
                show(&actual)
            ));
        }
    }
    // Strict, like the Rust driver's runner: nothing may follow the expected events.
    if actual.len() > test.events.len() {
        return Err(format!(
            "unexpected events after the expected ones: [{}]",
            show(&actual[test.events.len()..])
        ));
    }
    Ok(())
}

/// The spec's MATCH: `expected` is a subset of `actual`; 42 or "42" means "present and not
/// null"; arrays compare index by index over the expected elements; objects key by key over
/// the expected keys; scalars must be equal (numbers by value).
fn matches(expected: &Value, actual: &Value) -> Result<(), String> {
    if is_placeholder(expected) {
        return if actual.is_null() {
            Err("missing or null where any value is expected".into())
        } else {
            Ok(())
        };
    }
    match (expected, actual) {
        (Value::Object(exp), Value::Object(act)) => {
            for (key, value) in exp {
                let found = act.get(key).unwrap_or(&Value::Null);
                matches(value, found).map_err(|why| format!("{key}: {why}"))?;
            }
            Ok(())
        }
        (Value::Array(exp), Value::Array(act)) => {
            for (i, value) in exp.iter().enumerate() {
                let found = act.get(i).ok_or_else(|| format!("[{i}]: missing"))?;
                matches(value, found).map_err(|why| format!("[{i}]: {why}"))?;
            }
            Ok(())
        }
        (Value::Number(exp), Value::Number(act)) if exp.as_f64() == act.as_f64() => Ok(()),
        _ if expected == actual => Ok(()),
        _ => Err(format!("expected {expected}, got {actual}")),
    }
}

fn is_placeholder(value: &Value) -> bool {
    value.as_i64() == Some(42) || value.as_str() == Some("42")
}
