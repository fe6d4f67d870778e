//! Goal: the official Rust driver (`mongodb` 3) works against mock-server as it would
//! against a mongod: handshake and ping, CRUD, multi-batch cursors, failCommand fail
//! points (the driver's retryable reads and writes recover; a blocked command takes its
//! time), and a `maxPoolSize` that the server can see being respected.
//!
//! Method: each test starts its own `MockServer` on 127.0.0.1:0 and connects a driver
//! `Client` with `directConnection=true`. Fail points are set with a real
//! `configureFailPoint` command on `admin`, sent by the driver itself. The server side is
//! checked both through the mock's in-process state (`documents`, `connection_stats`) and
//! through `serverStatus` over poolcheck's own wire client. Only lower bounds are asserted
//! on wall-clock time.

#[path = "common/eventually.rs"]
mod eventually;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use eventually::eventually;
use mock_server::{MockServer, ServerOptions};
use mongodb::event::cmap::CmapEvent as DriverCmapEvent;
use mongodb::event::command::CommandEvent;
use mongodb::event::EventHandler;
use mongodb::options::{ClientOptions, FindOptions};
use mongodb::{Client, Collection};
use wire::{WireConfig, WireManager};

/// Every test gives up on server selection after this long rather than hanging.
const SERVER_SELECTION_TIMEOUT_MS: u64 = 10_000;

/// The Rust driver's own connections besides its pool when the server announces
/// `topologyVersion` (mock-server does by default): one streaming monitor connection and
/// one RTT-measuring connection per server (mongodb 3.x `sdam::monitor`).
const DRIVER_MONITORING_CONNECTIONS: u64 = 2;

async fn start_mock() -> MockServer {
    start_mock_with(ServerOptions::default()).await
}

async fn start_mock_with(options: ServerOptions) -> MockServer {
    MockServer::start(options, "127.0.0.1:0")
        .await
        .expect("bind a loopback port")
}

fn uri(mock: &MockServer, extra: &str) -> String {
    format!(
        "mongodb://{}/?directConnection=true&serverSelectionTimeoutMS={SERVER_SELECTION_TIMEOUT_MS}{extra}",
        mock.addr()
    )
}

/// Client options for `mock`, with `extra` URI options (each starting with `&`).
async fn options(mock: &MockServer, extra: &str) -> ClientOptions {
    ClientOptions::parse(uri(mock, extra))
        .await
        .expect("a valid URI")
}

async fn client(mock: &MockServer) -> Client {
    Client::with_options(options(mock, "").await).expect("a client")
}

/// Runs `configureFailPoint` on `admin` through the driver; returns the reply's `count`:
/// how often the fail point fired since the server started (mongod's running total).
async fn configure_fail_point(client: &Client, mode: Bson, data: Document) -> i64 {
    let reply = client
        .database("admin")
        .run_command(doc! {"configureFailPoint": "failCommand", "mode": mode, "data": data})
        .await
        .expect("configureFailPoint");
    assert_eq!(number(reply.get("ok")), Some(1), "{reply}");
    number(reply.get("count")).expect("count")
}

/// Turns the fail point off; returns its running total of firings.
async fn fail_point_off(client: &Client) -> i64 {
    configure_fail_point(client, Bson::String("off".into()), Document::new()).await
}

fn number(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

/// Names of the commands the driver started, in order (from command monitoring).
#[derive(Default)]
struct Commands {
    started: Mutex<Vec<String>>,
    failed: Mutex<Vec<String>>,
}

impl Commands {
    fn attach(options: &mut ClientOptions) -> Arc<Commands> {
        let commands = Arc::new(Commands::default());
        let sink = Arc::clone(&commands);
        options.command_event_handler = Some(EventHandler::callback(move |event| match event {
            CommandEvent::Started(e) => sink.started.lock().unwrap().push(e.command_name),
            CommandEvent::Failed(e) => sink.failed.lock().unwrap().push(e.command_name),
            _ => {}
        }));
        commands
    }

    fn started(&self, name: &str) -> usize {
        self.started
            .lock()
            .unwrap()
            .iter()
            .filter(|n| *n == name)
            .count()
    }

    fn failed(&self, name: &str) -> usize {
        self.failed
            .lock()
            .unwrap()
            .iter()
            .filter(|n| *n == name)
            .count()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_and_pings() {
    let mock = start_mock().await;
    let client = client(&mock).await;
    let reply = client
        .database("admin")
        .run_command(doc! {"ping": 1})
        .await
        .expect("ping");
    assert_eq!(number(reply.get("ok")), Some(1), "{reply}");
    let hello = client
        .database("admin")
        .run_command(doc! {"hello": 1})
        .await
        .expect("hello");
    assert_eq!(hello.get_bool("isWritablePrimary"), Ok(true), "{hello}");
    assert!(number(hello.get("maxWireVersion")).is_some_and(|v| v >= 9));
    let stats = mock.server().connection_stats();
    assert!(
        stats.current >= 1 && stats.total_created >= 1,
        "the driver's connections are counted: {stats:?}"
    );
    client.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crud_round_trips() {
    let mock = start_mock().await;
    let client = client(&mock).await;
    let coll: Collection<Document> = client.database("shop").collection("items");

    let one = coll
        .insert_one(doc! {"_id": 0, "n": 0, "tag": "first"})
        .await
        .expect("insert_one");
    assert_eq!(one.inserted_id, Bson::Int32(0));
    let many: Vec<Document> = (1..10)
        .map(|n| doc! {"n": n, "parity": if n % 2 == 0 { "even" } else { "odd" }})
        .collect();
    let inserted = coll.insert_many(many).await.expect("insert_many");
    assert_eq!(inserted.inserted_ids.len(), 9);
    assert_eq!(mock.server().documents("shop", "items").len(), 10);

    // find: filter + sort + limit + projection.
    let found: Vec<Document> = collect(
        coll.find(doc! {"n": {"$gte": 3}})
            .sort(doc! {"n": -1})
            .limit(4)
            .projection(doc! {"_id": 0, "n": 1})
            .await
            .expect("find"),
    )
    .await;
    assert_eq!(
        found,
        vec![doc! {"n": 9}, doc! {"n": 8}, doc! {"n": 7}, doc! {"n": 6}]
    );
    let first = coll
        .find_one(doc! {"tag": "first"})
        .await
        .expect("find_one")
        .expect("a document");
    assert_eq!(first.get_i32("n"), Ok(0));

    // update_one / update_many.
    let updated = coll
        .update_one(doc! {"n": 1}, doc! {"$set": {"tag": "one"}})
        .await
        .expect("update_one");
    assert_eq!((updated.matched_count, updated.modified_count), (1, 1));
    let updated = coll
        .update_many(doc! {"parity": "even"}, doc! {"$inc": {"n": 100}})
        .await
        .expect("update_many");
    assert_eq!((updated.matched_count, updated.modified_count), (4, 4));
    let upserted = coll
        .update_one(doc! {"n": 42}, doc! {"$set": {"tag": "new"}})
        .upsert(true)
        .await
        .expect("upsert");
    assert!(upserted.upserted_id.is_some(), "{upserted:?}");
    assert_eq!(
        coll.count_documents(doc! {"n": {"$gt": 100}})
            .await
            .expect("count"),
        4
    );
    assert_eq!(
        coll.count_documents(doc! {"tag": "one"})
            .await
            .expect("count"),
        1
    );

    // delete_one / delete_many.
    let deleted = coll.delete_one(doc! {"n": 42}).await.expect("delete_one");
    assert_eq!(deleted.deleted_count, 1);
    let deleted = coll
        .delete_many(doc! {"parity": "odd"})
        .await
        .expect("delete_many");
    assert_eq!(deleted.deleted_count, 5);
    assert_eq!(coll.count_documents(doc! {}).await.expect("count"), 5);
    assert_eq!(
        coll.count_documents(doc! {"parity": "odd"})
            .await
            .expect("count of an empty match"),
        0
    );
    assert_eq!(
        coll.estimated_document_count()
            .await
            .expect("estimated count"),
        5
    );
    // The server holds exactly what the driver says it does.
    let mut left: Vec<i32> = mock
        .server()
        .documents("shop", "items")
        .iter()
        .map(|d| d.get_i32("n").expect("n"))
        .collect();
    left.sort_unstable();
    assert_eq!(left, vec![0, 102, 104, 106, 108]);
    client.shutdown().await;
    mock.shutdown().await;
}

async fn collect(mut cursor: mongodb::Cursor<Document>) -> Vec<Document> {
    let mut out = Vec::new();
    while cursor.advance().await.expect("cursor advance") {
        out.push(cursor.deserialize_current().expect("a document"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_spans_many_batches() {
    const DOCS: i32 = 250;
    const BATCH: u32 = 20;
    let mock = start_mock().await;
    let mut opts = options(&mock, "").await;
    let commands = Commands::attach(&mut opts);
    let client = Client::with_options(opts).expect("client");
    let coll: Collection<Document> = client.database("db").collection("big");
    let docs: Vec<Document> = (0..DOCS).map(|i| doc! {"_id": i, "pad": "x"}).collect();
    coll.insert_many(docs).await.expect("insert_many");

    let cursor = coll
        .find(doc! {})
        .with_options(
            FindOptions::builder()
                .batch_size(BATCH)
                .sort(doc! {"_id": 1})
                .build(),
        )
        .await
        .expect("find");
    let read: Vec<i32> = collect(cursor)
        .await
        .iter()
        .map(|d| d.get_i32("_id").expect("_id"))
        .collect();
    assert_eq!(
        read,
        (0..DOCS).collect::<Vec<_>>(),
        "every document, in order"
    );
    // 20 in the first batch, then ceil(230 / 20) = 12 getMores.
    let expected_get_mores = (DOCS as usize - BATCH as usize).div_ceil(BATCH as usize);
    assert_eq!(commands.started("getMore"), expected_get_mores);
    assert_eq!(
        mock.server().open_cursors(),
        0,
        "an exhausted cursor is gone"
    );
    client.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_read_survives_close_connection() {
    let mock = start_mock().await;
    let mut opts = options(&mock, "").await;
    let commands = Commands::attach(&mut opts);
    let client = Client::with_options(opts).expect("client");
    let coll: Collection<Document> = client.database("db").collection("reads");
    coll.insert_many((0..5).map(|i| doc! {"_id": i}))
        .await
        .expect("seed");
    let created_before = mock.server().connection_stats().total_created;

    let before = configure_fail_point(
        &client,
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["find"], "closeConnection": true},
    )
    .await;
    let found = collect(
        coll.find(doc! {})
            .sort(doc! {"_id": 1})
            .await
            .expect("the retryable read recovers from the closed connection"),
    )
    .await;
    assert_eq!(found.len(), 5);
    assert_eq!(
        fail_point_off(&client).await - before,
        1,
        "the fail point fired once"
    );
    assert_eq!(commands.started("find"), 2, "one attempt and one retry");
    assert_eq!(commands.failed("find"), 1);
    assert!(
        mock.server().connection_stats().total_created > created_before,
        "the retry ran on a new connection"
    );
    client.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_connection_delays_the_command() {
    const BLOCK_MS: u64 = 200;
    let mock = start_mock().await;
    let client = client(&mock).await;
    let coll: Collection<Document> = client.database("db").collection("slow");
    coll.insert_one(doc! {"_id": 1}).await.expect("seed");
    let before = configure_fail_point(
        &client,
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["find"], "blockConnection": true, "blockTimeMS": BLOCK_MS as i64},
    )
    .await;
    let started = Instant::now();
    let found = coll
        .find_one(doc! {"_id": 1})
        .await
        .expect("a blocked command still succeeds");
    let took = started.elapsed();
    assert!(found.is_some());
    assert!(
        took >= Duration::from_millis(BLOCK_MS),
        "find took {took:?}, less than blockTimeMS"
    );
    assert_eq!(fail_point_off(&client).await - before, 1);
    client.shutdown().await;
    mock.shutdown().await;
}

/// mock-server presented as the primary of a one-member replica set: drivers use
/// retryable writes only against replica sets and sharded clusters, never a standalone.
fn replica_set_options() -> ServerOptions {
    ServerOptions {
        replica_set: Some("rs0".into()),
        ..ServerOptions::default()
    }
}

/// One retryable write against a fail point that fails the first `insert` with `code`
/// (and the `RetryableWriteError` label). Returns how many times the driver's pool was
/// cleared meanwhile.
async fn retryable_write_recovers(code: i32, extra_uri: &str) -> usize {
    let mock = start_mock_with(replica_set_options()).await;
    let mut opts = options(&mock, extra_uri).await;
    let commands = Commands::attach(&mut opts);
    let cleared = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&cleared);
    opts.cmap_event_handler = Some(EventHandler::callback(move |event| {
        if matches!(event, DriverCmapEvent::PoolCleared(_)) {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    }));
    let client = Client::with_options(opts).expect("client");
    let coll: Collection<Document> = client.database("db").collection("writes");
    let before = configure_fail_point(
        &client,
        Bson::Document(doc! {"times": 1}),
        doc! {
            "failCommands": ["insert"],
            "errorCode": code,
            "errorLabels": ["RetryableWriteError"],
        },
    )
    .await;
    coll.insert_one(doc! {"_id": "once", "v": 1})
        .await
        .unwrap_or_else(|e| panic!("the retryable write recovers from code {code}: {e}"));
    assert_eq!(
        fail_point_off(&client).await - before,
        1,
        "the fail point fired once"
    );
    assert_eq!(commands.started("insert"), 2, "one attempt and one retry");
    assert_eq!(commands.failed("insert"), 1);
    assert_eq!(
        mock.server().documents("db", "writes"),
        vec![doc! {"_id": "once", "v": 1}],
        "exactly one document"
    );
    client.shutdown().await;
    mock.shutdown().await;
    cleared.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_write_survives_shutdown_in_progress() {
    // 91 ShutdownInProgress is a state-change error: the driver marks the server Unknown,
    // clears its pool, and the retry waits for the monitor to see the server again. The
    // streaming monitor's awaitable hello (held by the mock as by mongod, since the
    // topology did not change) returns only after maxAwaitTimeMS = heartbeatFrequencyMS,
    // 10 s by default; 500 ms (the minimum) keeps the test short.
    let cleared = retryable_write_recovers(91, "&heartbeatFrequencyMS=500").await;
    assert!(cleared >= 1, "a shutdown error clears the driver's pool");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_write_survives_host_unreachable() {
    // 6 HostUnreachable is retryable but no state change: the retry is immediate and the
    // pool is kept.
    let cleared = retryable_write_recovers(6, "").await;
    assert_eq!(cleared, 0, "a non-state-change error leaves the pool alone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_gets_no_retryable_writes() {
    // The same fail point against a standalone: the driver must not retry (the retryable
    // writes spec excludes standalones), so the error reaches the caller and nothing is
    // written. This pins the mock's standalone identity.
    let mock = start_mock().await;
    let mut opts = options(&mock, "").await;
    let commands = Commands::attach(&mut opts);
    let client = Client::with_options(opts).expect("client");
    let coll: Collection<Document> = client.database("db").collection("writes");
    configure_fail_point(
        &client,
        Bson::Document(doc! {"times": 1}),
        doc! {"failCommands": ["insert"], "errorCode": 6, "errorLabels": ["RetryableWriteError"]},
    )
    .await;
    let err = coll
        .insert_one(doc! {"_id": 1})
        .await
        .expect_err("no retry on a standalone");
    assert!(
        matches!(*err.kind, mongodb::error::ErrorKind::Command(ref e) if e.code == 6),
        "{err}"
    );
    assert_eq!(commands.started("insert"), 1);
    assert!(mock.server().documents("db", "writes").is_empty());
    client.shutdown().await;
    mock.shutdown().await;
}

/// The driver's pool as its CMAP events tell it: connections checked out and open now,
/// and the most ever seen at once. The driver calls the handler synchronously and emits
/// `ConnectionCheckedIn` before the connection is available again, so the running count
/// never over-counts.
#[derive(Default)]
struct PoolGauge {
    checked_out: AtomicI64,
    max_checked_out: AtomicI64,
    open: AtomicI64,
    max_open: AtomicI64,
    checkouts: AtomicI64,
}

impl PoolGauge {
    fn attach(options: &mut ClientOptions) -> Arc<PoolGauge> {
        let gauge = Arc::new(PoolGauge::default());
        let sink = Arc::clone(&gauge);
        options.cmap_event_handler = Some(EventHandler::callback(move |event| match event {
            DriverCmapEvent::ConnectionCheckedOut(_) => {
                sink.checkouts.fetch_add(1, Ordering::SeqCst);
                let now = sink.checked_out.fetch_add(1, Ordering::SeqCst) + 1;
                sink.max_checked_out.fetch_max(now, Ordering::SeqCst);
            }
            DriverCmapEvent::ConnectionCheckedIn(_) => {
                sink.checked_out.fetch_sub(1, Ordering::SeqCst);
            }
            DriverCmapEvent::ConnectionCreated(_) => {
                let now = sink.open.fetch_add(1, Ordering::SeqCst) + 1;
                sink.max_open.fetch_max(now, Ordering::SeqCst);
            }
            DriverCmapEvent::ConnectionClosed(_) => {
                sink.open.fetch_sub(1, Ordering::SeqCst);
            }
            _ => {}
        }));
        gauge
    }
}

/// `serverStatus.connections.current` over poolcheck's wire client.
async fn server_status_current(conn: &mut wire::TcpConnection) -> u64 {
    let status = conn
        .run_command("admin", doc! {"serverStatus": 1})
        .await
        .expect("serverStatus");
    let current = status
        .get_document("connections")
        .ok()
        .and_then(|c| number(c.get("current")))
        .expect("connections.current");
    u64::try_from(current).expect("non-negative")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_pool_size_holds_under_fifty_tasks() {
    const POOL: u64 = 5;
    const TASKS: usize = 50;
    const FINDS: usize = 5;
    const APP: &str = "pool-bound";
    let mock = start_mock().await;
    mock.server()
        .insert_documents("db", "hot", (0..10).map(|i| doc! {"_id": i}).collect())
        .expect("seed");

    // The sampler: one long-lived connection of poolcheck's own client. serverStatus
    // counts the connection that asks, so the driver's share is `current - 1`.
    let mut sampler = WireManager::new(WireConfig::new(mock.addr().to_string()))
        .open()
        .await
        .expect("sampler connection");
    assert_eq!(server_status_current(&mut sampler).await, 1, "baseline");
    // Every driver find holds its connection for 10 ms, so 50 tasks must queue for 5.
    let reply = sampler
        .run_command(
            "admin",
            doc! {
                "configureFailPoint": "failCommand", "mode": "alwaysOn",
                "data": {"failCommands": ["find"], "appName": APP, "blockConnection": true, "blockTimeMS": 10},
            },
        )
        .await
        .expect("configureFailPoint");
    assert_eq!(number(reply.get("ok")), Some(1));

    let mut opts = options(&mock, &format!("&maxPoolSize={POOL}&appName={APP}")).await;
    let gauge = PoolGauge::attach(&mut opts);
    let client = Client::with_options(opts).expect("client");

    let stop = Arc::new(AtomicBool::new(false));
    let sampling = {
        let stop = Arc::clone(&stop);
        let server = Arc::clone(mock.server());
        tokio::spawn(async move {
            let (mut max_status, mut max_stats, mut samples) = (0u64, 0u64, 0u64);
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                max_status = max_status.max(server_status_current(&mut sampler).await - 1);
                max_stats = max_stats.max(server.connection_stats().current - 1);
                samples += 1;
            }
            (max_status, max_stats, samples)
        })
    };

    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let coll: Collection<Document> = client.database("db").collection("hot");
        tasks.spawn(async move {
            for f in 0..FINDS {
                let id = ((t + f) % 10) as i32;
                let found = coll.find_one(doc! {"_id": id}).await.expect("find");
                assert_eq!(found, Some(doc! {"_id": id}));
            }
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined.expect("a find task panicked");
    }
    stop.store(true, Ordering::SeqCst);
    let (max_status, max_stats, samples) = sampling.await.expect("sampler");

    let allowed = POOL + DRIVER_MONITORING_CONNECTIONS;
    eprintln!(
        "driver connections seen by the server: max {max_status} (serverStatus, {samples} samples), \
         {max_stats} (connection_stats); CMAP: max checked out {}, max open {}",
        gauge.max_checked_out.load(Ordering::SeqCst),
        gauge.max_open.load(Ordering::SeqCst),
    );
    assert!(samples > 0);
    assert!(
        max_status <= allowed && max_stats <= allowed,
        "the server saw {max_status}/{max_stats} driver connections; at most {POOL} pooled + \
         {DRIVER_MONITORING_CONNECTIONS} monitoring are allowed"
    );
    assert!(
        max_stats >= POOL,
        "under contention the pool fills up: the server saw only {max_stats}"
    );
    assert_eq!(
        gauge.checkouts.load(Ordering::SeqCst),
        (TASKS * FINDS) as i64,
        "one checkout per find"
    );
    assert_eq!(
        gauge.max_checked_out.load(Ordering::SeqCst),
        POOL as i64,
        "never more than maxPoolSize checked out, and the pool was saturated"
    );
    assert!(gauge.max_open.load(Ordering::SeqCst) <= POOL as i64);
    // The driver checks a connection in on its pool's worker task, after the operation
    // has returned to the caller.
    eventually(Duration::from_secs(5), || async {
        match gauge.checked_out.load(Ordering::SeqCst) {
            0 => Ok(()),
            n => Err(format!("{n} connections still checked out")),
        }
    })
    .await
    .expect("every connection is checked in");
    client.shutdown().await;
    mock.shutdown().await;
}

/// The real driver, its pool held at `pool` connections, loaded by 20 tasks whose finds
/// each hold a connection for 10 ms, then shut down; returns the mock's judge verdict once
/// every connection has closed.
async fn judged_driver_run(pool: u32, judge: &str) -> mock_server::judge::Verdict {
    const APP: &str = "judged";
    let spec = judge.parse().expect("judge spec");
    let mock = start_mock_with(ServerOptions {
        judge: Some(spec),
        ..ServerOptions::default()
    })
    .await;
    let opts = options(&mock, &format!("&maxPoolSize={pool}&appName={APP}")).await;
    let client = Client::with_options(opts).expect("client");
    configure_fail_point(
        &client,
        Bson::String("alwaysOn".into()),
        doc! {"failCommands": ["find"], "appName": APP, "blockConnection": true, "blockTimeMS": 10},
    )
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let coll: Collection<Document> = client.database("db").collection("c");
        tasks.spawn(async move {
            for _ in 0..3 {
                coll.find_one(doc! {}).await.expect("find");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    client.shutdown().await;
    let server = Arc::clone(mock.server());
    eventually(Duration::from_secs(5), || async {
        match server.connection_stats().current {
            0 => Ok(()),
            n => Err(format!("{n} connections still open")),
        }
    })
    .await
    .expect("the driver closes its connections");
    let verdict = server.verdict().expect("the judge is on");
    mock.shutdown().await;
    verdict
}

/// The judge never flags the real driver, a well-behaved client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_driver_passes_the_wire_judge() {
    let verdict = judged_driver_run(5, "max-pool-size=5,max-connecting=2,grace-ms=2000").await;
    assert!(verdict.is_ok(), "{verdict}");
    assert!(verdict.pooled >= 2, "the pool grew under load: {verdict}");
}

/// A pool larger than the judge allows is caught from the wire alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wire_judge_catches_a_pool_over_its_max() {
    // The 8 connections stay open through the load (tens of ms): a short settle window
    // lets the judge decide while they are.
    let verdict = judged_driver_run(8, "max-pool-size=3,grace-ms=2000,settle-ms=5").await;
    assert!(
        verdict
            .violations
            .iter()
            .any(|v| v.check == mock_server::judge::Check::Max),
        "{verdict}"
    );
}
