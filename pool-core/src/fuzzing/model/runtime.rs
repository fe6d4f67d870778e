//! The system under test's surroundings: a manager whose connections cost nothing and a
//! runtime whose clock moves only when the interpreter says so.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::{BoxFuture, CheckoutError, Manager, PooledConnection, Runtime};

/// A manager whose connections are their ids and connect at once. Its `validate`
/// (test-on-borrow) is ready at once and fails for connection `id` when bit `id % 8` of
/// `fail_mask` is set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Noop {
    /// Which connections fail their validation (bit `id % 8`).
    pub fail_mask: u8,
}

impl Noop {
    /// True if connection `id` fails its validation.
    pub fn fails(&self, id: u64) -> bool {
        self.fail_mask & (1 << (id % 8)) != 0
    }
}

impl Manager for Noop {
    type Connection = u64;
    type Error = std::io::Error;
    async fn connect(&self, id: u64) -> Result<u64, std::io::Error> {
        Ok(id)
    }
    async fn validate(&self, conn: &mut u64) -> Result<(), std::io::Error> {
        if self.fails(*conn) {
            Err(std::io::Error::other("validation failed"))
        } else {
            Ok(())
        }
    }
}

/// Virtual time that moves only when the test says so; spawned tasks are kept (the
/// model's configurations never spawn, and the harness asserts that).
#[derive(Default)]
pub(super) struct ManualRuntime {
    pub(super) now_ms: Arc<AtomicU64>,
    pub(super) spawned: AtomicU64,
}

impl Runtime for ManualRuntime {
    fn now(&self) -> Duration {
        Duration::from_millis(self.now_ms.load(Ordering::SeqCst))
    }
    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()> {
        Box::pin(Sleep {
            deadline,
            now_ms: self.now_ms.clone(),
        })
    }
    fn spawn(&self, _task: BoxFuture<()>) {
        self.spawned.fetch_add(1, Ordering::SeqCst);
    }
}

/// Ready once virtual time reaches the deadline (the harness re-polls after each step).
struct Sleep {
    deadline: Duration,
    now_ms: Arc<AtomicU64>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if Duration::from_millis(self.now_ms.load(Ordering::SeqCst)) >= self.deadline {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

/// One checkout of the pool under test, boxed so the interpreter can keep it pending.
pub(super) type Checkout<'a> = Pin<
    Box<dyn Future<Output = Result<PooledConnection<Noop>, CheckoutError<std::io::Error>>> + 'a>,
>;
