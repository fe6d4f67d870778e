//! The one place that names atomics.
//!
//! The engine is generic over a [`Backend`]: a small set of atomic integers, an
//! `UnsafeCell` with a closure API, a fence and a spin hint. [`StdBackend`] is the
//! default and compiles to plain `std` atomics. The loom models in `tests/` supply a
//! backend built from `loom` types, so plain `cargo test` model-checks the *same*
//! engine code that production runs, with no `RUSTFLAGS` and no `cfg` swap.
//!
//! The module is public only with the `model-check` feature (which the crate's own tests
//! turn on). In a default build it is private, so [`Backend`] is sealed: nothing outside
//! the crate can name or implement it, and `Pool<M>` and `PooledConnection<M>` always take
//! their default backend, `StdBackend`.

use std::sync::atomic::Ordering;

/// The synchronisation primitives the engine is built from.
///
/// Implementations must give the types the memory-model semantics of their `std`
/// namesakes. The loom backend in `tests/common/loom_backend.rs` is the only other
/// implementation poolcheck ships.
pub trait Backend: Send + Sync + Sized + 'static {
    /// An atomic `usize`.
    type AtomicUsize: AtomicOps<usize>;
    /// An atomic `u64`.
    type AtomicU64: AtomicOps<u64>;
    /// An interior-mutable cell whose accesses the backend may track.
    type Cell<T>: CellOps<T>;

    /// A memory fence (`std::sync::atomic::fence`).
    fn fence(order: Ordering);

    /// How many doublings of spin hints a retry loop's backoff issues before it yields
    /// instead (the engine's `Backoff`): up to `2^SPIN_LIMIT` hints in one wait. A model
    /// checker's backend sets 0, so that every wait is one [`Backend::yield_now`]-like
    /// scheduling point.
    const SPIN_LIMIT: u32 = 6;

    /// One spin hint inside a retry loop's backoff. `std` issues a CPU spin hint; loom
    /// yields so that the thread it waits for can run.
    fn spin_loop();

    /// Gives up the thread's time slice once a retry loop has spun `2^SPIN_LIMIT` times
    /// without progress. `std` yields to the OS scheduler; loom yields to its own.
    fn yield_now() {
        std::thread::yield_now();
    }

    /// A small number that stays the same for the calling thread and differs between
    /// threads as far as possible: it picks the thread's shelf (the per-thread cache of one
    /// available connection). Any value is correct; distinct values are faster.
    #[inline(always)]
    fn thread_index() -> usize {
        0
    }

    /// How many shelves a pool keeps (rounded up to a power of two). One is correct; the
    /// default backend keeps a few per CPU so that concurrent threads rarely share one.
    fn shelf_count() -> usize {
        1
    }
}

/// The operations the engine uses on an atomic integer.
#[allow(missing_docs)]
pub trait AtomicOps<V: Copy>: Send + Sync {
    fn new(v: V) -> Self;
    fn load(&self, order: Ordering) -> V;
    fn store(&self, v: V, order: Ordering);
    fn swap(&self, v: V, order: Ordering) -> V;
    fn compare_exchange(
        &self,
        current: V,
        new: V,
        success: Ordering,
        failure: Ordering,
    ) -> Result<V, V>;
    fn fetch_add(&self, v: V, order: Ordering) -> V;
    fn fetch_sub(&self, v: V, order: Ordering) -> V;
    fn fetch_or(&self, v: V, order: Ordering) -> V;
    fn fetch_and(&self, v: V, order: Ordering) -> V;
}

/// An `UnsafeCell` reached only through closures, as loom requires.
pub trait CellOps<T> {
    /// Wraps `value`.
    fn new(value: T) -> Self;
    /// Runs `f` with a shared pointer to the contents.
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R;
    /// Runs `f` with an exclusive pointer to the contents.
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R;
}

/// Implements [`AtomicOps`] for an atomic type with the `std` method names.
macro_rules! impl_atomic_ops {
    ($atomic:ty, $v:ty) => {
        impl AtomicOps<$v> for $atomic {
            #[inline(always)]
            fn new(v: $v) -> Self {
                <$atomic>::new(v)
            }
            #[inline(always)]
            fn load(&self, o: ::std::sync::atomic::Ordering) -> $v {
                <$atomic>::load(self, o)
            }
            #[inline(always)]
            fn store(&self, v: $v, o: ::std::sync::atomic::Ordering) {
                <$atomic>::store(self, v, o)
            }
            #[inline(always)]
            fn swap(&self, v: $v, o: ::std::sync::atomic::Ordering) -> $v {
                <$atomic>::swap(self, v, o)
            }
            #[inline(always)]
            fn compare_exchange(
                &self,
                c: $v,
                n: $v,
                s: ::std::sync::atomic::Ordering,
                f: ::std::sync::atomic::Ordering,
            ) -> Result<$v, $v> {
                <$atomic>::compare_exchange(self, c, n, s, f)
            }
            #[inline(always)]
            fn fetch_add(&self, v: $v, o: ::std::sync::atomic::Ordering) -> $v {
                <$atomic>::fetch_add(self, v, o)
            }
            #[inline(always)]
            fn fetch_sub(&self, v: $v, o: ::std::sync::atomic::Ordering) -> $v {
                <$atomic>::fetch_sub(self, v, o)
            }
            #[inline(always)]
            fn fetch_or(&self, v: $v, o: ::std::sync::atomic::Ordering) -> $v {
                <$atomic>::fetch_or(self, v, o)
            }
            #[inline(always)]
            fn fetch_and(&self, v: $v, o: ::std::sync::atomic::Ordering) -> $v {
                <$atomic>::fetch_and(self, v, o)
            }
        }
    };
}

impl_atomic_ops!(std::sync::atomic::AtomicUsize, usize);
impl_atomic_ops!(std::sync::atomic::AtomicU64, u64);

/// The production backend: `std` atomics and `std::cell::UnsafeCell`.
#[derive(Debug)]
pub enum StdBackend {}

impl Backend for StdBackend {
    type AtomicUsize = std::sync::atomic::AtomicUsize;
    type AtomicU64 = std::sync::atomic::AtomicU64;
    type Cell<T> = StdCell<T>;

    #[inline(always)]
    fn fence(order: Ordering) {
        std::sync::atomic::fence(order);
    }

    #[inline(always)]
    fn spin_loop() {
        std::hint::spin_loop();
    }

    #[inline(always)]
    fn thread_index() -> usize {
        THREAD_INDEX.with(|index| {
            let i = index.get();
            if i != UNASSIGNED {
                return i;
            }
            let i = NEXT_THREAD_INDEX.fetch_add(1, Ordering::Relaxed) % UNASSIGNED;
            index.set(i);
            i
        })
    }

    fn shelf_count() -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cpus * SHELVES_PER_CPU)
            .next_power_of_two()
            .min(MAX_SHELVES)
    }
}

/// Shelves per CPU: runtimes run a worker per CPU plus a few other threads (a `block_on`
/// caller, blocking-pool threads), and threads get consecutive indices.
const SHELVES_PER_CPU: usize = 4;
/// Beyond this, the scan of other shelves before queueing costs more than sharing saves.
const MAX_SHELVES: usize = 64;

/// Hands out thread indices in order of first use.
static NEXT_THREAD_INDEX: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A thread's index before its first use.
const UNASSIGNED: usize = usize::MAX;

std::thread_local! {
    // `const`-initialised, so reading it is a plain thread-local load with no lazy-init
    // check; the index is assigned on first use instead.
    static THREAD_INDEX: std::cell::Cell<usize> = const { std::cell::Cell::new(UNASSIGNED) };
}

/// `std::cell::UnsafeCell` with loom's closure API.
#[derive(Debug)]
pub struct StdCell<T>(std::cell::UnsafeCell<T>);

impl<T> CellOps<T> for StdCell<T> {
    #[inline(always)]
    fn new(value: T) -> Self {
        StdCell(std::cell::UnsafeCell::new(value))
    }
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }
    #[inline(always)]
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Gives `T` a 128-byte-aligned block of its own, so that a hot atomic written by one core
/// does not share a cache line with fields other cores read or write (false sharing).
/// 128 rather than 64 bytes because x86-64's spatial prefetcher pulls lines in pairs
/// (crossbeam's `CachePadded` does the same).
#[repr(align(128))]
#[derive(Debug, Default)]
pub(crate) struct CachePadded<T>(pub(crate) T);

impl<T> std::ops::Deref for CachePadded<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// `fetch_add(1, Relaxed)` on a statistics counter (nothing is ordered by it).
pub(crate) trait CounterExt {
    fn fetch_add_relaxed(&self);
}

impl<A: AtomicOps<u64>> CounterExt for A {
    fn fetch_add_relaxed(&self) {
        self.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}
