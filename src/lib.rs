//! poolcheck
pub use pool_core;
