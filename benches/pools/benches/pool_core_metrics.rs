//! What the OpenTelemetry metrics cost an uncontended checkout + check-in (cargo feature
//! `metrics`): the pool with no event handler (the baseline, as `pool_core_checkout.rs`), with a
//! no-op event handler (the cost of producing events at all), with `OtelMetrics` and no
//! recorder installed, and with `OtelMetrics` over a Prometheus recorder.
//!
//! Run: `cargo bench -p bench-pools --bench pool_core_metrics`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use pool_core::metrics::OtelMetrics;
use pool_core::{CmapEvent, Pool};

mod common;

use common::{filled, poll_once_or_block, Noop};

/// One checkout polled by hand, then checked in.
fn cycle(rt: &tokio::runtime::Runtime, pool: &Pool<Noop>) {
    let mut pending = 0;
    drop(black_box(poll_once_or_block(
        rt,
        pool.check_out(),
        &mut pending,
    )));
}

fn metrics(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread Tokio runtime");
    let mut group = c.benchmark_group("metrics");
    let bare = filled(&rt, |b| b);
    group.bench_function("no_handler", |b| b.iter(|| cycle(&rt, &bare)));
    let noop = filled(&rt, |b| b.event_handler(|_: &CmapEvent| {}));
    group.bench_function("noop_handler", |b| b.iter(|| cycle(&rt, &noop)));
    let unrecorded = filled(&rt, |b| b.event_handler(OtelMetrics::new("bench")));
    group.bench_function("otel_no_recorder", |b| b.iter(|| cycle(&rt, &unrecorded)));
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let recorded = metrics::with_local_recorder(&recorder, || {
        filled(&rt, |b| b.event_handler(OtelMetrics::new("bench")))
    });
    group.bench_function("otel_prometheus", |b| b.iter(|| cycle(&rt, &recorded)));
    group.finish();
    // The recorded pool's figures reached the recorder.
    let text = handle.render();
    assert!(
        text.contains(
            "db_client_connection_wait_time_count{db_client_connection_pool_name=\"bench\"}"
        ),
        "{text}"
    );
}

criterion_group!(benches, metrics);
criterion_main!(benches);
