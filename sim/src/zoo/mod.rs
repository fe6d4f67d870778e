//! The bug zoo: deliberately broken pools, each with one bug of a class found in real
//! pools (S1–S6: the deadlocks, lost wake-ups and limit races of hand-written pools;
//! B01–B21: their twins in popular pools and drivers), to prove the oracles catch each
//! class.
//!
//! Labels here are bug classes (`BUG-S1` … `BUG-S6` and `BUG-B01` … `BUG-B21` in
//! `INVARIANTS.md`): the zoo's `S1`…`S6` are `BUG-S1`…`BUG-S6`, not pool-core's shelf
//! invariants (`SHELF-1`…) nor CMAP rules.
//!
//! Every member is the skeleton (`skeleton.rs`, a small, correct mutex-and-queue pool) with exactly
//! one step replaced; the member's file holds that step and names the bug. `zoo-baseline`
//! is the skeleton unchanged: the control. The members use the simulator's async mutex,
//! so a deadlock shows as tasks that never become ready, never as a blocked thread.
//!
//! | member | class | caught by |
//! |---|---|---|
//! | `zoo-self-deadlock` | S1 re-entrant lock (B01, B02) | LIVE |
//! | `zoo-lost-wakeup` | S2 lost wake-up (B05) | LIVE |
//! | `zoo-pool-full` | S3 "pool is full" fails waiters | ERR |
//! | `zoo-overshoot` | S4 check-then-act overshoot (B13, B16) | MAX |
//! | `zoo-dead-waiter` | S5 timed-out waiter left queued, connection lost (B10, B11) | LEAK |
//! | `zoo-mismatched-timeouts` | S6 mismatched timeouts (B18, B20) | TIME |
//! | `zoo-cancelled-head` | B09 cancelled head blocks the queue | LIVE |
//! | `zoo-barging` | B17 barging newcomer | FIFO |
//! | `zoo-swallowed-error` | B18 swallowed creation error | ERR |
//! | `zoo-zombie` | B21 zombie waiter | LIVE |
//! | `zoo-stale-handout` | B19 stale connection handed out | STALE |
//! | `zoo-unasked-clear` | clears itself on a connect error, undeclared | CLEAR |
//! | `zoo-eager-idle` | closes idle connections at half maxIdleTime | IDLE |
//! | `zoo-unchecked-handoff` | a clear between grant and claim; no re-check at claim | STALE |
//! | `zoo-panicking-check-in` | check-in unwraps a lookup a clear emptied | PANIC |
//! | `zoo-silent-leak` | poolcheck's pool with its leak reports lost | TIME |
//!
//! `zoo-validating` is a second control: the skeleton pinging an idle connection before
//! handing it out (`ConnectionValidating`), correct, and so clean.

mod barging;
mod baseline;
mod cancelled_head;
mod dead_waiter;
mod eager_idle;
mod lost_wakeup;
mod mismatched_timeouts;
mod overshoot;
mod panicking_check_in;
mod pool_full;
mod self_deadlock;
mod silent_leak;
pub(crate) mod skeleton;
mod stale_handout;
mod swallowed_error;
mod unasked_clear;
mod unchecked_handoff;
mod validating;
mod zombie;

use crate::entry::PoolEntry;
use crate::oracle::Invariant;

/// Every zoo member (the control, `zoo-baseline`, first).
pub static MEMBERS: [PoolEntry; 18] = [
    PoolEntry {
        name: "zoo-baseline",
        summary: "the zoo's skeleton with no bug (the control)",
        expected: None,
        scenario: "standard",
        factory: baseline::build,
    },
    PoolEntry {
        name: "zoo-self-deadlock",
        summary: "S1: errored check-in re-locks the pool mutex it holds",
        expected: Some(Invariant::Live),
        scenario: "standard",
        factory: self_deadlock::build,
    },
    PoolEntry {
        name: "zoo-lost-wakeup",
        summary: "S2/B05: check, unlock, enqueue without re-checking",
        expected: Some(Invariant::Live),
        scenario: "standard",
        factory: lost_wakeup::build,
    },
    PoolEntry {
        name: "zoo-pool-full",
        summary: "S3: 'pool is full' fails checkouts instead of queueing them",
        expected: Some(Invariant::Err),
        scenario: "standard",
        factory: pool_full::build,
    },
    PoolEntry {
        name: "zoo-overshoot",
        summary: "S4: count checked, lock released, counted later without re-check",
        expected: Some(Invariant::Max),
        scenario: "standard",
        factory: overshoot::build,
    },
    PoolEntry {
        name: "zoo-dead-waiter",
        summary: "S5: a timed-out waiter stays queued; its connection is lost",
        expected: Some(Invariant::Leak),
        scenario: "standard",
        factory: dead_waiter::build,
    },
    PoolEntry {
        name: "zoo-mismatched-timeouts",
        summary: "S6: establishment ignores the caller's deadline",
        expected: Some(Invariant::Time),
        scenario: "standard",
        factory: mismatched_timeouts::build,
    },
    PoolEntry {
        name: "zoo-cancelled-head",
        summary: "B09: a cancelled head waiter blocks the queue",
        expected: Some(Invariant::Live),
        scenario: "standard",
        factory: cancelled_head::build,
    },
    PoolEntry {
        name: "zoo-barging",
        summary: "B17: wake-and-retry lets newcomers overtake waiters",
        expected: Some(Invariant::Fifo),
        scenario: "standard",
        factory: barging::build,
    },
    PoolEntry {
        name: "zoo-swallowed-error",
        summary: "B18: a creation error is dropped and the checkout waits again",
        expected: Some(Invariant::Err),
        scenario: "standard",
        factory: swallowed_error::build,
    },
    PoolEntry {
        name: "zoo-zombie",
        summary: "B21: grants to never-polled waiters are never taken back",
        expected: Some(Invariant::Live),
        scenario: "zombie",
        factory: zombie::build,
    },
    PoolEntry {
        name: "zoo-stale-handout",
        summary: "B19: generations ignored; stale connections handed out after a clear",
        expected: Some(Invariant::Stale),
        scenario: "standard",
        factory: stale_handout::build,
    },
    PoolEntry {
        name: "zoo-unasked-clear",
        summary: "clears itself on any connect error without declaring it",
        expected: Some(Invariant::Clear),
        scenario: "standard",
        factory: unasked_clear::build,
    },
    PoolEntry {
        name: "zoo-eager-idle",
        summary: "closes idle connections at half maxIdleTime",
        expected: Some(Invariant::Idle),
        scenario: "standard",
        factory: eager_idle::build,
    },
    PoolEntry {
        name: "zoo-silent-leak",
        summary: "poolcheck's pool with its leak reports lost",
        expected: Some(Invariant::Time),
        scenario: "standard",
        factory: silent_leak::build,
    },
    PoolEntry {
        name: "zoo-validating",
        summary: "the skeleton pinging an idle connection before handing it out (no bug)",
        expected: None,
        scenario: "standard",
        factory: validating::build,
    },
    PoolEntry {
        name: "zoo-unchecked-handoff",
        summary: "a connection handed over through the queue is not re-checked at claim",
        expected: Some(Invariant::Stale),
        scenario: "standard",
        factory: unchecked_handoff::build,
    },
    PoolEntry {
        name: "zoo-panicking-check-in",
        summary: "check-in unwraps a per-generation lookup that a clear emptied",
        expected: Some(Invariant::Panic),
        scenario: "standard",
        factory: panicking_check_in::build,
    },
];
