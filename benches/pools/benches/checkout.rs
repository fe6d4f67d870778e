//! `checkout`: checkout + check-in of a no-op connection from a pool of 10.
//!
//! Async pools (poolcheck, deadpool, bb8, mobc, and the `Semaphore` + `ArrayQueue`
//! baseline) run on the same 2-worker Tokio runtime at 1, 10 and 100 concurrent tasks;
//! the blocking r2d2 runs on 1 and 2 OS threads. Every pool holds the same 10 no-op
//! connections, all created before measuring, with no checkout health check (see
//! `benches::noop`).
//!
//! The contenders take turns at each task count (poolcheck, deadpool, bb8, mobc,
//! semaphore at 1 task, then all at 10, ...), so load that comes and goes on a shared
//! machine hits them alike.
//!
//! Each criterion iteration is one checkout + check-in. A sample of `iters` iterations
//! spawns N tasks (threads) that each do `iters / N` cycles back to back, and times the
//! whole thing, so the figure is wall time per checkout + check-in with N tasks competing
//! for the 10 connections (the inverse of the pool's throughput). The spawn cost is
//! constant per sample and drops out of criterion's slope estimate.
//!
//! The `checkout_held` target (its own binary, so that neither loop changes how the other
//! is compiled) measures the exhausted pool.
//!
//! Criterion group `checkout`, function ids `poolcheck`, `deadpool`, `bb8`, `mobc`,
//! `r2d2`, `semaphore`, parameter = tasks (threads for r2d2).
//!
//! Run: `cargo bench -p bench-pools --bench checkout`.

use std::time::{Duration, Instant};

use benches::noop::{r2d2_pool, AsyncPool, Bb8, Deadpool, Mobc, Poolcheck, SemaphorePool};
use benches::runtime::{load_average, two_workers};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::runtime::Runtime;

/// Concurrent tasks of the async pools.
const TASKS: [usize; 3] = [1, 10, 100];
/// OS threads of the blocking pool.
const THREADS: [usize; 2] = [1, 2];

/// Runs `iters` checkout + check-in cycles split over `tasks` Tokio tasks; returns the
/// elapsed time scaled to exactly `iters` cycles.
fn run_tasks<P: AsyncPool>(rt: &Runtime, pool: &P, tasks: usize, iters: u64) -> Duration {
    let per_task = (iters / tasks as u64).max(1);
    let elapsed = rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        pool.cycle().await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("a checkout task panicked");
        }
        start.elapsed()
    });
    scale(elapsed, iters, per_task * tasks as u64)
}

/// `elapsed` for `done` cycles, rescaled to `iters` cycles.
fn scale(elapsed: Duration, iters: u64, done: u64) -> Duration {
    if done == iters {
        return elapsed;
    }
    Duration::from_secs_f64(elapsed.as_secs_f64() * iters as f64 / done as f64)
}

fn bench_async<P: AsyncPool>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    name: &str,
    pool: &P,
    tasks: usize,
) {
    group.bench_with_input(BenchmarkId::new(name, tasks), &tasks, |b, &tasks| {
        b.iter_custom(|iters| run_tasks(rt, pool, tasks, iters));
    });
}

fn checkout(c: &mut Criterion) {
    let load_before = load_average();
    let started = benches::extra::unix_time();
    let rt = two_workers("checkout");
    let mut group = c.benchmark_group("checkout");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));

    // Every pool exists and is full before the first measurement, and the pools take
    // turns at each task count, so load that comes and goes on a shared machine hits
    // them alike (ratios are measured back to back).
    let poolcheck = rt.block_on(async { Poolcheck::new() });
    let deadpool = rt.block_on(async { Deadpool::new() });
    let bb8 = rt.block_on(Bb8::new());
    let mobc = rt.block_on(async { Mobc::new() });
    let semaphore = SemaphorePool::new();
    rt.block_on(async {
        poolcheck.fill().await;
        deadpool.fill().await;
        bb8.fill().await;
        mobc.fill().await;
    });
    for tasks in TASKS {
        bench_async(&mut group, &rt, "poolcheck", &poolcheck, tasks);
        bench_async(&mut group, &rt, "deadpool", &deadpool, tasks);
        bench_async(&mut group, &rt, "bb8", &bb8, tasks);
        bench_async(&mut group, &rt, "mobc", &mobc, tasks);
        bench_async(&mut group, &rt, "semaphore", &semaphore, tasks);
    }
    let r2d2 = r2d2_pool();
    for threads in THREADS {
        group.bench_with_input(
            BenchmarkId::new("r2d2", threads),
            &threads,
            |b, &threads| {
                b.iter_custom(|iters| {
                    let per_thread = (iters / threads as u64).max(1);
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for _ in 0..threads {
                            s.spawn(|| {
                                for _ in 0..per_thread {
                                    let conn = r2d2.get().expect("r2d2 get");
                                    std::hint::black_box(&conn.0);
                                    drop(conn);
                                }
                            });
                        }
                    });
                    scale(start.elapsed(), iters, per_thread * threads as u64)
                });
            },
        );
    }
    group.finish();

    let status = poolcheck.0.status();
    assert_eq!(
        status.total,
        benches::POOL_SIZE,
        "poolcheck pool changed size"
    );
    assert_eq!(
        status.counters.checkout_failed, 0,
        "a poolcheck checkout failed"
    );
    drop((poolcheck, deadpool, bb8, mobc, semaphore));

    benches::extra::record(
        "checkout",
        "meta",
        serde_json::json!({
            "started_unix": started,
            "unix_time": benches::extra::unix_time(),
            "load_before": load_before,
            "load_after": load_average(),
            "workers": benches::runtime::WORKERS,
            "pool_size": benches::POOL_SIZE,
        }),
    );
}

criterion_group!(benches, checkout);
criterion_main!(benches);
