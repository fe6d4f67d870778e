//! Uncontended checkout + check-in of a no-op connection.
//!
//! The pool holds 10 ready connections, has no event handler, no wait queue timeout and no
//! maintenance task, so a checkout takes the lock-free fast path and completes on its first
//! poll. `poolcheck/uncontended` polls the `check_out` future once by hand with a no-op
//! waker, so the figure is the pool's own cost; `poolcheck/uncontended_borrowed` does the
//! same with `get`, whose guard borrows the pool instead of cloning its `Arc`; `poolcheck/uncontended_block_on` goes
//! through `Runtime::block_on` of a current-thread Tokio runtime, for comparison.
//!
//! Run: `cargo bench -p bench-pools --bench pool_core_checkout`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use pool_core::Pool;

mod common;

use common::{filled, poll_once_or_block, POOL_SIZE};

fn checkout(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread Tokio runtime");
    let pool: Pool<common::Noop> = filled(&rt, |b| b);

    let mut pending = 0u64;
    let mut group = c.benchmark_group("checkout");

    group.bench_function("poolcheck/uncontended", |b| {
        b.iter(|| {
            drop(black_box(poll_once_or_block(
                &rt,
                pool.check_out(),
                &mut pending,
            )))
        });
    });

    group.bench_function("poolcheck/uncontended_borrowed", |b| {
        b.iter(|| drop(black_box(poll_once_or_block(&rt, pool.get(), &mut pending))));
    });

    group.bench_function("poolcheck/uncontended_block_on", |b| {
        b.iter(|| {
            let conn = rt.block_on(pool.check_out());
            drop(black_box(conn));
        });
    });

    group.finish();
    if pending > 0 {
        eprintln!(
            "note: {pending} hand-polled checkouts were Pending and finished through block_on"
        );
    }

    let status = pool.status();
    assert_eq!(
        status.total, POOL_SIZE,
        "the benchmark changed the pool: {status:?}"
    );
    assert_eq!(
        status.counters.checkout_failed, 0,
        "a checkout failed: {status:?}"
    );
}

criterion_group!(benches, checkout);
criterion_main!(benches);
