//! `server`: the mock-server's `ping` throughput against a minimal Tokio echo server on the
//! same loopback (the limit of what any Tokio server can do per round trip here).
//!
//! Both servers run on their own 2-worker Tokio runtime and take turns at each connection
//! count; the client (another 2-worker
//! runtime) opens C connections (1 and 10), and each connection's task sends the same
//! pre-encoded OP_MSG `{ping: 1, $db: "admin"}` and reads one length-prefixed reply,
//! back to back. The mock-server decodes, dispatches and encodes a reply; the echo server
//! writes back the bytes it read (the same length-prefixed message), so the client code
//! is identical for both. One criterion iteration is one round trip, split over the C
//! connections; the figure is wall time per round trip, its inverse round trips per
//! second.
//!
//! Criterion group `server`, ids `mock_server` and `echo`, parameter = connections.
//!
//! Run: `cargo bench -p benches --bench server`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use benches::runtime::{load_average, two_workers};
use bson::doc;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mock_server::{MockServer, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

/// Client connections.
const CONNECTIONS: [usize; 2] = [1, 10];
/// No sample may take longer than this; past it the bench fails instead of hanging.
const SAMPLE_LIMIT: Duration = Duration::from_secs(120);

/// A minimal echo server: every connection writes back what it reads.
struct EchoServer {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl EchoServer {
    async fn start() -> EchoServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("echo server binds a loopback port");
        let addr = listener.local_addr().expect("a local address");
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                connections.spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
            // Dropping `connections` aborts every connection task.
        });
        EchoServer { addr, task }
    }

    /// Stops accepting and aborts every connection (they live in the accept task's
    /// `JoinSet`, which the abort drops).
    async fn shutdown(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Opens `n` connections to `addr`.
async fn connect(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut streams = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = TcpStream::connect(addr).await.expect("connect on loopback");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        streams.push(stream);
    }
    streams
}

/// One round trip: send `request`, read one length-prefixed message into `buf`.
async fn round_trip(stream: &mut TcpStream, request: &[u8], buf: &mut Vec<u8>) {
    stream.write_all(request).await.expect("write a request");
    let mut prefix = [0u8; 4];
    stream
        .read_exact(&mut prefix)
        .await
        .expect("read a reply's length");
    let len = usize::try_from(i32::from_le_bytes(prefix)).expect("a positive length");
    assert!(
        (16..=1 << 20).contains(&len),
        "implausible reply length {len}"
    );
    buf.resize(len - 4, 0);
    stream.read_exact(buf).await.expect("read a reply");
}

/// Runs `iters` round trips split over the connections; the streams come back for the
/// next sample. Returns the time scaled to `iters` round trips.
fn run(rt: &Runtime, streams: &mut Vec<TcpStream>, request: &'static [u8], iters: u64) -> Duration {
    let conns = streams.len() as u64;
    let per_conn = (iters / conns).max(1);
    let taken = std::mem::take(streams);
    let (elapsed, back) = rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = taken
            .into_iter()
            .map(|mut stream| {
                tokio::spawn(async move {
                    let mut buf = Vec::with_capacity(512);
                    for _ in 0..per_conn {
                        round_trip(&mut stream, request, &mut buf).await;
                    }
                    stream
                })
            })
            .collect();
        let back = tokio::time::timeout(SAMPLE_LIMIT, async {
            let mut back = Vec::new();
            for handle in handles {
                back.push(handle.await.expect("a client task panicked"));
            }
            back
        })
        .await
        .expect("a server sample took over 120 s");
        (start.elapsed(), back)
    });
    *streams = back;
    let done = per_conn * conns;
    Duration::from_secs_f64(elapsed.as_secs_f64() * iters as f64 / done as f64)
}

fn bench_target(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    name: &str,
    addr: SocketAddr,
    request: &'static [u8],
    conns: usize,
) {
    let mut streams = rt.block_on(connect(addr, conns));
    // One round trip each before measuring (the mock-server's first is the accept).
    run(rt, &mut streams, request, conns as u64);
    group.bench_with_input(BenchmarkId::new(name, conns), &conns, |b, _| {
        b.iter_custom(|iters| run(rt, &mut streams, request, iters));
    });
    drop(streams);
}

fn server(c: &mut Criterion) {
    let load_before = load_average();
    let started = benches::extra::unix_time();
    let ping = wire::Message::Msg(wire::OpMsg::command(doc! {"ping": 1, "$db": "admin"}));
    let request: &'static [u8] = Vec::leak(ping.encode(1, 0));
    let server_rt = two_workers("server");
    let rt = two_workers("client");
    let mut group = c.benchmark_group("server");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));

    // Both servers up for the whole group; they take turns at each connection count, so
    // load that comes and goes on a shared machine hits them alike.
    let mock = server_rt
        .block_on(MockServer::start(ServerOptions::default(), "127.0.0.1:0"))
        .expect("mock-server binds a loopback port");
    let echo = server_rt.block_on(EchoServer::start());
    for conns in CONNECTIONS {
        bench_target(&mut group, &rt, "mock_server", mock.addr(), request, conns);
        bench_target(&mut group, &rt, "echo", echo.addr, request, conns);
    }
    server_rt.block_on(mock.shutdown());
    server_rt.block_on(echo.shutdown());
    group.finish();

    benches::extra::record(
        "server",
        "meta",
        serde_json::json!({
            "started_unix": started,
            "unix_time": benches::extra::unix_time(),
            "load_before": load_before,
            "load_after": load_average(),
            "request_bytes": request.len(),
        }),
    );
}

criterion_group!(benches, server);
criterion_main!(benches);
