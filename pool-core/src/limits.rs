//! Every bound the pool enforces, in one place.

/// The most connections one pool may hold (pending + available + in use). A
/// `max_pool_size` of 0 ("unlimited" in CMAP) means this many.
pub const CONNECTIONS_MAX: u32 = (1 << 15) - 1;

/// The highest accepted `max_connecting`. Each establishing connection holds one slot of
/// a table of this size at most, so the pool can interrupt it on `clear`.
pub const MAX_CONNECTING_MAX: u32 = 1024;

/// The default bound on queued checkouts (`PoolOptions::waiters_max`).
pub const WAITERS_MAX_DEFAULT: u32 = 1 << 14;

/// The highest accepted `waiters_max`.
pub const WAITERS_MAX_CEILING: u32 = 1 << 20;

// The packed state word keeps `total` and `pending` in 16 bits each.
const _: () = assert!(CONNECTIONS_MAX < (1 << 16));
const _: () = assert!(MAX_CONNECTING_MAX <= CONNECTIONS_MAX);
const _: () = assert!(WAITERS_MAX_DEFAULT <= WAITERS_MAX_CEILING);
