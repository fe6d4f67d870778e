//! Shared pieces of the loom models: the loom backend, a frozen runtime, a no-op manager,
//! and a model runner that counts the interleavings it explored.
#![allow(dead_code)]

pub mod loom_backend;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pool_core::{BoxFuture, Manager, Pool, PoolOptions, Runtime};

pub use loom_backend::LoomBackend;

/// A pool on the loom backend.
pub type LoomPool = Pool<Noop, LoomBackend>;

/// A manager whose connections are nothing and whose connect never waits.
pub struct Noop;

impl Manager for Noop {
    type Connection = ();
    type Error = std::io::Error;
    async fn connect(&self, _id: u64) -> Result<(), std::io::Error> {
        Ok(())
    }
}

/// Time stands still and nothing may be spawned: the models cover checkout, check-in,
/// hand-off, cancellation, clear and close, none of which needs either.
pub struct FrozenRuntime;

impl Runtime for FrozenRuntime {
    fn now(&self) -> Duration {
        Duration::ZERO
    }
    fn sleep_until(&self, _deadline: Duration) -> BoxFuture<()> {
        Box::pin(std::future::pending())
    }
    fn spawn(&self, _task: BoxFuture<()>) {
        panic!("the loom models never need a spawned task");
    }
}

/// Time moves only when the model says so; spawned tasks are dropped unrun. For the claim
/// model, which runs the claim watcher's sweep by hand (`Pool::sweep_claims`) in a loom
/// thread. The clock is a plain `std` atomic: it is set between phases, never raced.
#[derive(Default)]
pub struct StillRuntime {
    nanos: std::sync::atomic::AtomicU64,
}

impl StillRuntime {
    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.nanos
            .fetch_add(by.as_nanos() as u64, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Runtime for StillRuntime {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(std::sync::atomic::Ordering::SeqCst))
    }
    fn sleep_until(&self, _deadline: Duration) -> BoxFuture<()> {
        Box::pin(std::future::pending())
    }
    fn spawn(&self, task: BoxFuture<()>) {
        drop(task);
    }
}

/// A ready pool with `max_pool_size` and `max_connecting`, no maintenance, no claim
/// watcher, a small queue.
pub fn pool(max_pool_size: u32, max_connecting: u32) -> LoomPool {
    let options = PoolOptions {
        max_pool_size,
        max_connecting,
        maintenance_interval: None,
        claim_timeout: None,
        waiters_max: 4,
        ..PoolOptions::default()
    };
    Pool::builder(Noop)
        .options(options)
        .runtime(Arc::new(FrozenRuntime))
        .ready()
        .build_with_backend::<LoomBackend>()
        .expect("valid options")
}

/// A ready pool of one connection whose grants must be claimed within `claim`, on
/// `runtime` (no maintenance, no watcher task: the model sweeps by hand).
pub fn claim_pool(claim: Duration, runtime: Arc<StillRuntime>) -> LoomPool {
    let options = PoolOptions {
        max_pool_size: 1,
        max_connecting: 1,
        maintenance_interval: None,
        claim_timeout: Some(claim),
        waiters_max: 4,
        ..PoolOptions::default()
    };
    Pool::builder(Noop)
        .options(options)
        .runtime(runtime)
        .ready()
        .build_with_backend::<LoomBackend>()
        .expect("valid options")
}

/// Runs `f` under loom with `preemptions` as the bound, and prints how many interleavings
/// were explored.
pub fn model<F>(name: &str, preemptions: usize, f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(preemptions);
    // The engine has short bounded retry loops (a push being published); give them room.
    builder.max_branches = 20_000;
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        f();
    });
    println!(
        "loom model {name}: {} interleavings explored (preemption bound {preemptions})",
        runs.load(Ordering::Relaxed)
    );
}

/// Polls `fut` once with a waker that does nothing; returns its output if it finished.
pub fn poll_once<F: Future + Unpin>(fut: &mut F) -> Option<F::Output> {
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    match Pin::new(fut).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}

/// At quiescence (LEAK): every connection available, nothing pending, nobody waiting.
pub fn assert_quiescent(pool: &LoomPool) {
    let s = pool.status();
    assert_eq!(s.pending, 0, "LEAK: pending at quiescence: {s:?}");
    assert_eq!(s.in_use, 0, "LEAK: in use at quiescence: {s:?}");
    assert_eq!(
        s.available, s.total,
        "LEAK: total != available at quiescence: {s:?}"
    );
    assert_eq!(s.waiters, 0, "LEAK: waiters at quiescence: {s:?}");
}
