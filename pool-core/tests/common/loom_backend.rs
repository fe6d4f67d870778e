//! The loom flavour of `pool_core::sync::Backend`: the same engine code, with every
//! atomic and cell access a loom scheduling point.

use std::sync::atomic::Ordering;

use pool_core::sync::{AtomicOps, Backend, CellOps};

/// Loom's atomics, fence and cell.
pub enum LoomBackend {}

impl Backend for LoomBackend {
    type AtomicUsize = LoomAtomicUsize;
    type AtomicU64 = LoomAtomicU64;
    type Cell<T> = LoomCell<T>;

    fn fence(order: Ordering) {
        loom::sync::atomic::fence(order);
    }

    /// Every backoff wait is a single loom yield, so a retry loop that waits for another
    /// thread lets loom schedule it (the models terminate).
    const SPIN_LIMIT: u32 = 0;

    fn spin_loop() {
        loom::thread::yield_now();
    }

    fn yield_now() {
        loom::thread::yield_now();
    }

    /// Loom's public thread number (0 for the model's main thread, then 1, 2, ... in
    /// spawn order), so that every execution of a model maps threads to shelves alike.
    fn thread_index() -> usize {
        let id = format!("{:?}", loom::thread::current().id());
        id.chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or(0)
    }

    /// Two shelves: models see both a thread's own shelf and another thread's.
    fn shelf_count() -> usize {
        2
    }
}

macro_rules! loom_atomic {
    ($name:ident, $inner:ty, $v:ty) => {
        /// A loom atomic behind `AtomicOps`.
        pub struct $name($inner);

        impl AtomicOps<$v> for $name {
            fn new(v: $v) -> Self {
                $name(<$inner>::new(v))
            }
            fn load(&self, o: Ordering) -> $v {
                self.0.load(o)
            }
            fn store(&self, v: $v, o: Ordering) {
                self.0.store(v, o)
            }
            fn swap(&self, v: $v, o: Ordering) -> $v {
                self.0.swap(v, o)
            }
            fn compare_exchange(&self, c: $v, n: $v, s: Ordering, f: Ordering) -> Result<$v, $v> {
                self.0.compare_exchange(c, n, s, f)
            }
            fn fetch_add(&self, v: $v, o: Ordering) -> $v {
                self.0.fetch_add(v, o)
            }
            fn fetch_sub(&self, v: $v, o: Ordering) -> $v {
                self.0.fetch_sub(v, o)
            }
            fn fetch_or(&self, v: $v, o: Ordering) -> $v {
                self.0.fetch_or(v, o)
            }
            fn fetch_and(&self, v: $v, o: Ordering) -> $v {
                self.0.fetch_and(v, o)
            }
        }
    };
}

loom_atomic!(LoomAtomicUsize, loom::sync::atomic::AtomicUsize, usize);
loom_atomic!(LoomAtomicU64, loom::sync::atomic::AtomicU64, u64);

/// `loom::cell::UnsafeCell`, so loom checks every access for causality.
pub struct LoomCell<T>(loom::cell::UnsafeCell<T>);

impl<T> CellOps<T> for LoomCell<T> {
    fn new(value: T) -> Self {
        LoomCell(loom::cell::UnsafeCell::new(value))
    }
    fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        self.0.with(f)
    }
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        self.0.with_mut(f)
    }
}
