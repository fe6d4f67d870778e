//! Goal: one seed decides everything. Method: run several seeds of several pools and
//! scenarios twice (in one process, so anything keyed by process state, such as hash map
//! seeds or Tokio's internal RNG, differs between the two runs), once keeping the trace
//! and once not, and require identical trace hashes and lengths.

use sim::pools;
use sim::run::{run, RunConfig};
use sim::Scenario;

fn once(pool: &str, scenario: &str, seed: u64, keep_trace: bool) -> (u64, u64, String) {
    let report = run(&RunConfig {
        keep_trace,
        ..RunConfig::new(
            pools::find(pool).expect("known pool"),
            Scenario::named(scenario).expect("known scenario"),
            seed,
        )
    })
    .expect("the world builds");
    let first = report.violation.map(|v| v.to_string()).unwrap_or_default();
    (report.trace_hash, report.trace_len, first)
}

#[test]
fn same_seed_same_trace() {
    for (pool, scenario) in [
        ("poolcheck", "standard"),
        ("poolcheck", "zombie"),
        ("zoo-baseline", "standard"),
        ("zoo-lost-wakeup", "smoke"),
        ("zoo-barging", "smoke"),
    ] {
        for seed in 1..=6 {
            let a = once(pool, scenario, seed, false);
            let b = once(pool, scenario, seed, true);
            assert_eq!(a, b, "{pool}/{scenario} seed {seed} is not deterministic");
            assert!(
                a.1 > 10,
                "{pool}/{scenario} seed {seed} recorded almost nothing"
            );
        }
    }
}

#[test]
fn different_seeds_differ() {
    let hashes: std::collections::BTreeSet<u64> = (1..=10)
        .map(|s| once("poolcheck", "smoke", s, false).0)
        .collect();
    assert_eq!(hashes.len(), 10, "ten seeds, ten different runs");
}
