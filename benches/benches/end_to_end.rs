//! `end_to_end`: `find_one` by `_id` against the mock-server on loopback.
//!
//! Two clients, each with a pool of 10 connections, at 5, 10, 11, 15, 20, 30 and 100
//! concurrent workers (the load table of the MongoBouncer write-up, which measured 1,036
//! ops/s at 100 workers on 10 connections):
//!
//! - `poolcheck`: pool-core's `Pool` over `wire::WireManager`; each operation checks a
//!   connection out, runs `{find: "users", filter: {_id}, limit: 1, singleBatch: true}`,
//!   takes the document out of `cursor.firstBatch` and checks the connection in.
//! - `mongodb`: the official `mongodb` crate (3.x), `directConnection=true`,
//!   `maxPoolSize=10`, `Collection::find_one(doc! {"_id": id})`.
//!
//! The server runs on its own 2-worker Tokio runtime (as a separate process would), the
//! client on another 2-worker runtime; each client has its own server, both clients are
//! warmed up (10 connections made) before measuring, and they take turns at each worker
//! count. One criterion iteration is one `find_one`: a sample of `iters`
//! operations is split over the W workers and timed as a whole, so criterion's figure is
//! wall time per operation and its inverse is ops/s. Every operation's latency (checkout
//! included) is recorded; p50/p99 go to `<target>/poolcheck-bench/end_to_end.json`.
//!
//! Criterion group `end_to_end`, ids `poolcheck` and `mongodb`, parameter = workers.
//!
//! Run: `cargo bench -p benches --bench end_to_end`.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use benches::latency::Latencies;
use benches::runtime::{load_average, two_workers};
use bson::{doc, Document};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mock_server::{MockServer, ServerOptions};
use tokio::runtime::Runtime;

/// Concurrent workers.
const WORKERS: [usize; 7] = [5, 10, 11, 15, 20, 30, 100];
/// Documents in `bench.users` (`_id` 0..DOCS).
const DOCS: i32 = 100;
/// No sample may take longer than this; past it the bench fails instead of hanging.
const SAMPLE_LIMIT: Duration = Duration::from_secs(120);

/// One of the two clients under test.
#[derive(Clone)]
enum Client {
    Poolcheck(pool_core::Pool<wire::WireManager>),
    Mongodb(mongodb::Collection<Document>),
}

impl Client {
    async fn find_one(&self, id: i32) -> Document {
        match self {
            Client::Poolcheck(pool) => {
                let mut conn = pool.check_out().await.expect("poolcheck checkout");
                let command = doc! {
                    "find": "users",
                    "filter": {"_id": id},
                    "limit": 1_i64,
                    "singleBatch": true,
                };
                let reply = conn.run_command("bench", command).await.expect("find");
                drop(conn);
                first_document(reply).expect("a document in cursor.firstBatch")
            }
            Client::Mongodb(coll) => coll
                .find_one(doc! {"_id": id})
                .await
                .expect("find_one")
                .expect("a document"),
        }
    }
}

fn first_document(mut reply: Document) -> Option<Document> {
    let mut cursor = match reply.remove("cursor")? {
        bson::Bson::Document(cursor) => cursor,
        _ => return None,
    };
    match cursor.remove("firstBatch")? {
        bson::Bson::Array(batch) => match batch.into_iter().next()? {
            bson::Bson::Document(doc) => Some(doc),
            _ => None,
        },
        _ => None,
    }
}

/// Starts the mock-server with `bench.users` seeded.
fn start_server(server_rt: &Runtime) -> MockServer {
    let mock = server_rt
        .block_on(MockServer::start(ServerOptions::default(), "127.0.0.1:0"))
        .expect("mock-server binds a loopback port");
    let docs = (0..DOCS)
        .map(|id| doc! {"_id": id, "name": format!("user{id}"), "karma": id * 7})
        .collect();
    mock.server()
        .insert_documents("bench", "users", docs)
        .expect("seed documents");
    mock
}

/// Runs `iters` operations split over `workers` tasks; returns the time scaled to `iters`
/// operations, and adds each operation's latency to `latencies`.
fn run_workers(
    rt: &Runtime,
    client: &Client,
    workers: usize,
    iters: u64,
    latencies: &Mutex<Latencies>,
) -> Duration {
    let per_worker = (iters / workers as u64).max(1);
    let (elapsed, lat) = rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let client = client.clone();
                tokio::spawn(async move {
                    let mut lat = Latencies::with_capacity(per_worker as usize);
                    for k in 0..per_worker {
                        let id = ((w as u64 * 7919 + k) % DOCS as u64) as i32;
                        let began = Instant::now();
                        let doc = client.find_one(id).await;
                        lat.record(began.elapsed());
                        assert_eq!(doc.get_i32("_id"), Ok(id), "wrong document");
                    }
                    lat
                })
            })
            .collect();
        let all = tokio::time::timeout(SAMPLE_LIMIT, async {
            let mut all = Latencies::default();
            for handle in handles {
                all.merge(handle.await.expect("a worker panicked"));
            }
            all
        })
        .await
        .expect("an end_to_end sample took over 120 s");
        (start.elapsed(), all)
    });
    latencies.lock().expect("latencies lock").merge(lat);
    let done = per_worker * workers as u64;
    Duration::from_secs_f64(elapsed.as_secs_f64() * iters as f64 / done as f64)
}

/// Makes the client's 10 connections (30 workers, 300 operations) before measuring.
fn warm_up(rt: &Runtime, client: &Client) {
    run_workers(rt, client, 30, 300, &Mutex::new(Latencies::default()));
}

fn bench_cell(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    name: &str,
    client: &Client,
    workers: usize,
) {
    let latencies = Mutex::new(Latencies::default());
    let wall = Mutex::new(Duration::ZERO);
    let ops = Mutex::new(0u64);
    group.bench_with_input(BenchmarkId::new(name, workers), &workers, |b, &workers| {
        b.iter_custom(|iters| {
            let elapsed = run_workers(rt, client, workers, iters, &latencies);
            *wall.lock().expect("lock") += elapsed;
            *ops.lock().expect("lock") += iters;
            elapsed
        });
    });
    let mut latencies = latencies.into_inner().expect("latencies lock");
    let wall = wall.into_inner().expect("lock");
    let ops = ops.into_inner().expect("lock");
    let summary = latencies.summary();
    benches::extra::record(
        "end_to_end",
        &format!("end_to_end/{name}/{workers}"),
        serde_json::json!({
            "ops": ops,
            "wall_s": wall.as_secs_f64(),
            "ops_per_s": ops as f64 / wall.as_secs_f64().max(1e-9),
            "latency": summary,
            "load": load_average(),
            "unix_time": benches::extra::unix_time(),
        }),
    );
}

fn end_to_end(c: &mut Criterion) {
    let load_before = load_average();
    let started = benches::extra::unix_time();
    let server_rt = two_workers("mock-server");
    let rt = two_workers("client");
    let mut group = c.benchmark_group("end_to_end");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));

    // One server per client, both up for the whole group; the clients take turns at each
    // worker count, so load that comes and goes on a shared machine hits them alike.
    let pool_mock = start_server(&server_rt);
    let address = pool_mock.addr().to_string();
    let pool = rt.block_on(async {
        pool_core::Pool::builder(wire::WireManager::new(wire::WireConfig::new(address)))
            .max_pool_size(benches::POOL_SIZE)
            .ready()
            .build()
            .expect("a poolcheck pool")
    });
    let poolcheck = Client::Poolcheck(pool.clone());

    let driver_mock = start_server(&server_rt);
    let uri = format!(
        "mongodb://{}/?directConnection=true&maxPoolSize={}&serverSelectionTimeoutMS=10000",
        driver_mock.addr(),
        benches::POOL_SIZE
    );
    let mongo = rt.block_on(async {
        let options = mongodb::options::ClientOptions::parse(uri)
            .await
            .expect("a valid URI");
        mongodb::Client::with_options(options).expect("a mongodb client")
    });
    let driver = Client::Mongodb(mongo.database("bench").collection("users"));

    warm_up(&rt, &poolcheck);
    warm_up(&rt, &driver);
    for workers in WORKERS {
        bench_cell(&mut group, &rt, "poolcheck", &poolcheck, workers);
        bench_cell(&mut group, &rt, "mongodb", &driver, workers);
    }

    drop(poolcheck);
    let status = pool.status();
    assert!(
        status.total <= benches::POOL_SIZE,
        "pool over its size: {status:?}"
    );
    pool.close();
    drop(pool);
    drop(driver);
    rt.block_on(async {
        if tokio::time::timeout(Duration::from_secs(10), mongo.shutdown())
            .await
            .is_err()
        {
            eprintln!("warning: mongodb client shutdown took over 10 s");
        }
    });
    server_rt.block_on(pool_mock.shutdown());
    server_rt.block_on(driver_mock.shutdown());
    group.finish();

    benches::extra::record(
        "end_to_end",
        "meta",
        serde_json::json!({
            "started_unix": started,
            "unix_time": benches::extra::unix_time(),
            "load_before": load_before,
            "load_after": load_average(),
            "docs": DOCS,
            "pool_size": benches::POOL_SIZE,
        }),
    );
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
