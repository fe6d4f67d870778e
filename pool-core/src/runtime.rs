//! Time and task spawning, the pool's only links to the outside world.
//!
//! The pool never reads the wall clock and never spawns a task itself: it asks its
//! [`Runtime`]. [`TokioRuntime`] is the production one; the simulator supplies a
//! virtual-time runtime and the loom models a frozen clock.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// A boxed, sendable future; what the runtime spawns and sleeps return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A monotonic clock plus a task spawner.
pub trait Runtime: Send + Sync + 'static {
    /// Time elapsed since the runtime's epoch. Never goes backwards.
    fn now(&self) -> Duration;
    /// A future that completes once `now() >= deadline`.
    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()>;
    /// Runs `task` to completion in the background.
    fn spawn(&self, task: BoxFuture<()>);
}

/// The Tokio runtime: `tokio::time` for the clock (so paused test time works) and
/// `Handle::spawn` for tasks.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    epoch: tokio::time::Instant,
    handle: tokio::runtime::Handle,
}

#[cfg(feature = "tokio")]
impl TokioRuntime {
    /// Binds to the Tokio runtime the caller runs in, or `None` outside one.
    pub fn current() -> Option<Self> {
        let handle = tokio::runtime::Handle::try_current().ok()?;
        Some(TokioRuntime {
            epoch: tokio::time::Instant::now(),
            handle,
        })
    }
}

#[cfg(feature = "tokio")]
impl Runtime for TokioRuntime {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()> {
        Box::pin(tokio::time::sleep_until(self.epoch + deadline))
    }

    fn spawn(&self, task: BoxFuture<()>) {
        drop(self.handle.spawn(task));
    }
}
