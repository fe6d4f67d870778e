//! [`PoolEntry`]: a built-in pool by name, the row type of [`crate::pools`] and
//! [`crate::zoo`] (its own module so that neither of them imports the other's types).

use crate::pool_under_test::{BuildFn, PoolFactory};

/// A built-in pool the command line knows by name. It is judged through the same public
/// path as anyone's pool: [`PoolEntry::pool_factory`] turns it into a [`PoolFactory`], which
/// is what [`crate::Check`] takes.
#[derive(Debug)]
pub struct PoolEntry {
    /// The name (`--pool`).
    pub name: &'static str,
    /// One line on what it is (for zoo members: the bug and its class).
    pub summary: &'static str,
    /// The invariant expected to catch it (zoo members only).
    pub expected: Option<crate::oracle::Invariant>,
    /// The scenario that exercises it best.
    pub scenario: &'static str,
    /// Builds it.
    pub factory: BuildFn,
}

impl PoolEntry {
    /// The entry as a [`PoolFactory`] (named after it).
    pub fn pool_factory(&self) -> PoolFactory {
        PoolFactory::new(self.name, self.factory)
    }
}

impl From<&PoolEntry> for PoolFactory {
    fn from(entry: &PoolEntry) -> PoolFactory {
        entry.pool_factory()
    }
}
