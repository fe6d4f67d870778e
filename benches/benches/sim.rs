//! `sim`: how fast the deterministic simulator runs the standard scenario.
//!
//! One criterion iteration is one seed of the `standard` scenario against poolcheck's
//! pool, run by `sim::sweep` on one thread (`jobs: 1`, no shrinking); each sample runs
//! fresh seeds (so no seed is timed twice). Criterion's figure is wall time per seed; the
//! simulated time of every seed run is summed, and simulated seconds per wall second go
//! to `<target>/poolcheck-bench/sim.json`.
//!
//! Criterion group `sim`, id `standard`.
//!
//! Run: `cargo bench -p benches --bench sim`.

use std::cell::Cell;
use std::time::{Duration, Instant};

use benches::runtime::load_average;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn sim(c: &mut Criterion) {
    let load_before = load_average();
    let started = benches::extra::unix_time();
    let next_seed = Cell::new(1u64);
    let simulated = Cell::new(Duration::ZERO);
    let wall = Cell::new(Duration::ZERO);
    let seeds = Cell::new(0u64);
    let checkouts = Cell::new(0u64);

    let mut group = c.benchmark_group("sim");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(1));
    group.bench_function("standard", |b| {
        b.iter_custom(|iters| {
            let config = sim::SweepConfig {
                seeds: iters,
                first_seed: next_seed.get(),
                pool: "poolcheck".into(),
                scenario: "standard".into(),
                jobs: 1,
                shard: (0, 1),
                shrink: false,
                trace_dir: None,
                mode: sim::Mode::Random,
                stop_at_first: false,
            };
            next_seed.set(next_seed.get() + iters);
            let start = Instant::now();
            let report = sim::sweep(&config, |_| {}).expect("the standard sweep runs");
            let elapsed = start.elapsed();
            assert!(
                report.first_failure.is_none(),
                "poolcheck violated an invariant: {:?}",
                report.first_failure
            );
            simulated.set(simulated.get() + report.simulated);
            wall.set(wall.get() + elapsed);
            seeds.set(seeds.get() + report.seeds_run);
            checkouts.set(checkouts.get() + report.checkouts);
            elapsed
        });
    });
    group.finish();

    let wall_s = wall.get().as_secs_f64().max(1e-9);
    benches::extra::record(
        "sim",
        "sim/standard",
        serde_json::json!({
            "seeds": seeds.get(),
            "simulated_s": simulated.get().as_secs_f64(),
            "wall_s": wall_s,
            "sim_s_per_wall_s": simulated.get().as_secs_f64() / wall_s,
            "seeds_per_s": seeds.get() as f64 / wall_s,
            "checkouts": checkouts.get(),
            "started_unix": started,
            "load_before": load_before,
            "load_after": load_average(),
            "unix_time": benches::extra::unix_time(),
        }),
    );
}

criterion_group!(benches, sim);
criterion_main!(benches);
