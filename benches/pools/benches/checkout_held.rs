//! `checkout_held`: the exhausted pool. 100 tasks share the pool of 10 no-op connections
//! (the same pools, runtime and options as `checkout`), and each holds its connection
//! across one `tokio::task::yield_now()` before checking it in. 90 tasks are always
//! queued, so every checkout waits in the pool's wait queue and every check-in hands its
//! connection to the head of the queue and wakes it: this measures the FIFO hand-off and
//! the wake-up path. (In `checkout`, a task that finds a connection free never yields, so
//! its 100-task figure mostly measures checkouts that do not wait.)
//!
//! One criterion iteration is one checkout + hold + check-in; a sample splits `iters`
//! over the 100 tasks and times the whole, as in `checkout`. The yield costs the same for
//! every pool.
//!
//! Criterion group `checkout_held`, function ids `poolcheck`, `deadpool`, `bb8`, `mobc`,
//! `semaphore`, parameter = tasks (100). This is a separate bench target from `checkout`
//! so that adding this loop does not change how that one is compiled.
//!
//! Run: `cargo bench -p bench-pools --bench checkout_held`.

use std::time::{Duration, Instant};

use benches::noop::{AsyncPool, Bb8, Deadpool, Mobc, Poolcheck, SemaphorePool};
use benches::runtime::{load_average, two_workers};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tokio::runtime::Runtime;

/// Tasks: ten per connection, so 90 always queue.
const HELD_TASKS: usize = 100;

/// `elapsed` for `done` cycles, rescaled to `iters` cycles.
fn scale(elapsed: Duration, iters: u64, done: u64) -> Duration {
    if done == iters {
        return elapsed;
    }
    Duration::from_secs_f64(elapsed.as_secs_f64() * iters as f64 / done as f64)
}

/// Runs `iters` held cycles split over `tasks` Tokio tasks; returns the elapsed time
/// scaled to exactly `iters` cycles.
fn run_tasks_held<P: AsyncPool>(rt: &Runtime, pool: &P, tasks: usize, iters: u64) -> Duration {
    let per_task = (iters / tasks as u64).max(1);
    let elapsed = rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    for _ in 0..per_task {
                        pool.cycle_held().await;
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

fn bench_async_held<P: AsyncPool>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &Runtime,
    name: &str,
    pool: &P,
) {
    group.bench_with_input(
        BenchmarkId::new(name, HELD_TASKS),
        &HELD_TASKS,
        |b, &tasks| {
            b.iter_custom(|iters| run_tasks_held(rt, pool, tasks, iters));
        },
    );
}

fn checkout_held(c: &mut Criterion) {
    let load_before = load_average();
    let started = benches::extra::unix_time();
    let rt = two_workers("checkout_held");
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
    let mut group = c.benchmark_group("checkout_held");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(1));
    bench_async_held(&mut group, &rt, "poolcheck", &poolcheck);
    bench_async_held(&mut group, &rt, "deadpool", &deadpool);
    bench_async_held(&mut group, &rt, "bb8", &bb8);
    bench_async_held(&mut group, &rt, "mobc", &mobc);
    bench_async_held(&mut group, &rt, "semaphore", &semaphore);
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
        "checkout_held",
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

criterion_group!(benches, checkout_held);
criterion_main!(benches);
