//! The rival pools (deadpool 0.12, bb8 0.9) on the simulator: each adapter is
//! deterministic (same seed ⇒ same trace), and a short sweep finds exactly the invariant
//! classes the README documents for them:
//!
//! | pool | scenario | found | why |
//! |---|---|---|---|
//! | deadpool | standard | nothing | FIFO semaphore, creates in the caller's task |
//! | deadpool | zombie | LIVE | the semaphore hands a released permit to a never-polled waiter (B21) |
//! | bb8 | standard, zombie | FIFO, LIVE | `get` takes an idle connection before queued waiters (barging); failed connects are retried in the background after a sleep while waiters wait (B18) |

use std::collections::BTreeSet;

use sim::pools;
use sim::run::{run, RunConfig};
use sim::{Invariant, Scenario};

fn once(pool: &str, scenario: &str, seed: u64, keep_trace: bool) -> sim::RunReport {
    run(&RunConfig {
        keep_trace,
        ..RunConfig::new(
            pools::find(pool).expect("known pool"),
            Scenario::named(scenario).expect("known scenario"),
            seed,
        )
    })
    .expect("the world builds")
}

#[test]
fn rivals_are_deterministic() {
    for pool in ["deadpool", "bb8"] {
        for scenario in ["standard", "zombie"] {
            for seed in 1..=4 {
                let a = once(pool, scenario, seed, false);
                let b = once(pool, scenario, seed, true);
                assert_eq!(
                    (
                        a.trace_hash,
                        a.trace_len,
                        a.violation.map(|v| v.to_string())
                    ),
                    (
                        b.trace_hash,
                        b.trace_len,
                        b.violation.map(|v| v.to_string())
                    ),
                    "{pool}/{scenario} seed {seed} is not deterministic"
                );
                assert!(
                    a.trace_len > 10,
                    "{pool}/{scenario} seed {seed} recorded almost nothing"
                );
            }
        }
    }
}

/// The invariant classes first violated across seeds 1..=n.
fn found(pool: &str, scenario: &str, n: u64) -> BTreeSet<Invariant> {
    (1..=n)
        .filter_map(|seed| once(pool, scenario, seed, false).violation)
        .map(|v| v.invariant)
        .collect()
}

#[test]
fn deadpool_verdicts() {
    assert_eq!(found("deadpool", "standard", 40), BTreeSet::new());
    assert_eq!(
        found("deadpool", "zombie", 40),
        BTreeSet::from([Invariant::Live])
    );
}

#[test]
fn bb8_verdicts() {
    for scenario in ["standard", "zombie"] {
        assert_eq!(
            found("bb8", scenario, 40),
            BTreeSet::from([Invariant::Live, Invariant::Fifo]),
            "bb8/{scenario}"
        );
    }
}
