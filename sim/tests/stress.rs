//! `sim::stress`: the simulator's world on real threads and wall-clock time finds a zoo
//! bug, and poolcheck's own pool gives no false alarm in a short run.
//!
//! Real time is involved, so each assertion is one that holds however the machine is
//! loaded: `zoo-pool-full` fails a checkout with "pool is full" as soon as the pool is at
//! maxPoolSize with a checkout waiting, which every standard plan reaches within its first
//! round (about 2 s); the cap gives it ten times that.

use std::time::Duration;

use sim::oracle::Invariant;
use sim::stress::{stress, StressConfig};
use sim::Scenario;

fn config(pool: &sim::pools::PoolEntry, cap: Duration) -> StressConfig {
    let scenario = Scenario::named(pool.scenario).expect("the pool's scenario exists");
    StressConfig::new(pool, scenario).cap(cap)
}

#[test]
fn the_stress_test_finds_a_pool_that_fails_waiters_when_full() {
    let pool = sim::pools::find("zoo-pool-full").expect("a zoo member");
    let report = stress(&config(pool, Duration::from_secs(20))).expect("the stress test runs");
    let violation = report
        .violation
        .as_ref()
        .unwrap_or_else(|| panic!("not found: {report}"));
    assert_eq!(violation.invariant, Invariant::Err, "{report}");
    assert!(violation.message.contains("pool is full"), "{report}");
    assert!(report.seed.is_some(), "{report}");
    assert!(report.checkouts > 0, "{report}");
}

#[test]
fn poolchecks_own_pool_gives_no_violation_under_stress() {
    let report = stress(&config(&sim::pools::REFERENCE, Duration::from_secs(3)))
        .expect("the stress test runs");
    assert!(report.is_ok(), "{report}");
    assert!(report.rounds >= 1 && report.checkouts > 0, "{report}");
}
