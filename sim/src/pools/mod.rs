//! The pools the simulator knows, by name: poolcheck's own (`poolcheck`), the rivals
//! (`deadpool`, `bb8`: third-party pools judged by the same oracle, see [`RIVALS`]) and
//! the bug zoo (`zoo-*`, see [`crate::zoo`]).

#[cfg(feature = "rivals")]
pub mod bb8;
#[cfg(feature = "rivals")]
pub mod deadpool;
/// The reference pool's adapter (a top-level module, so the zoo can build on it too).
pub use crate::reference;

pub use crate::entry::PoolEntry;
use crate::error::SimError;

/// poolcheck's pool.
pub static REFERENCE: PoolEntry = PoolEntry {
    name: "poolcheck",
    summary: "poolcheck's lock-free CMAP pool (pool-core)",
    expected: None,
    scenario: "standard",
    factory: reference::build,
};

/// Third-party pools, run unmodified behind adapters that derive CMAP events from what
/// the pool does and declare the CMAP features it lacks ([`crate::pool_under_test::Capabilities`]).
/// Feature `rivals` (on by default); without it the list is empty.
#[cfg(feature = "rivals")]
pub static RIVALS: [PoolEntry; 2] = [
    PoolEntry {
        name: "deadpool",
        summary: "deadpool 0.12 (managed): semaphore-gated, creates in the caller's task",
        expected: None,
        scenario: "standard",
        factory: self::deadpool::build,
    },
    PoolEntry {
        name: "bb8",
        summary: "bb8 0.9: Notify-woken waiters, background connects on a paused Tokio runtime",
        expected: None,
        scenario: "standard",
        factory: self::bb8::build,
    },
];

/// Third-party pools: none without the `rivals` feature.
#[cfg(not(feature = "rivals"))]
pub static RIVALS: [PoolEntry; 0] = [];

/// Every pool: the reference first, then the rivals, then the zoo.
pub fn all() -> Vec<&'static PoolEntry> {
    let mut pools = vec![&REFERENCE];
    pools.extend(RIVALS.iter());
    pools.extend(crate::zoo::MEMBERS.iter());
    pools
}

/// The pool called `name`.
///
/// # Errors
/// [`SimError::UnknownPool`].
pub fn find(name: &str) -> Result<&'static PoolEntry, SimError> {
    all()
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| SimError::UnknownPool {
            name: name.to_string(),
            known: all().iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
        })
}
