//! [`SimRuntime`]: the handle to the executor's virtual clock, timers and spawner that
//! pools, the network and the harness hold; plus [`Sleep`], [`yield_now`] and [`race`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pool_core::runtime::BoxFuture;

use crate::shared::{Shared, TaskId, TaskKind, TimerKey};

/// The simulation's [`pool_core::Runtime`]: virtual clock, timers, spawner. Also what the
/// network, the manager and the harness use to sleep and spawn.
#[derive(Clone)]
pub struct SimRuntime {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SimRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimRuntime")
            .field("now", &self.now())
            .finish()
    }
}

impl SimRuntime {
    pub(crate) fn new(shared: Arc<Shared>) -> SimRuntime {
        SimRuntime { shared }
    }

    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.shared.now()
    }

    /// The task being polled, if any.
    pub fn current_task(&self) -> Option<TaskId> {
        self.shared.current()
    }

    /// Completes once virtual time reaches `deadline`.
    pub fn sleep_until(&self, deadline: Duration) -> Sleep {
        Sleep {
            shared: self.shared.clone(),
            deadline,
            key: None,
        }
    }

    /// Completes after `length` of virtual time.
    pub fn sleep(&self, length: Duration) -> Sleep {
        self.sleep_until(self.now() + length)
    }

    /// Announces the lengths of the Tokio sleeps server tasks may start (the block time of
    /// the fail point in force); see `time_bridge.rs`.
    pub fn set_server_sleeps(&self, lengths: Vec<Duration>) {
        self.shared.set_server_sleeps(lengths);
    }

    /// Spawns a task of `kind`.
    pub fn spawn_task(&self, kind: TaskKind, future: BoxFuture<()>) -> TaskId {
        self.shared.spawn(future, kind)
    }
}

impl pool_core::Runtime for SimRuntime {
    fn now(&self) -> Duration {
        SimRuntime::now(self)
    }

    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()> {
        Box::pin(SimRuntime::sleep_until(self, deadline))
    }

    fn spawn(&self, task: BoxFuture<()>) {
        self.shared.spawn(task, TaskKind::Pool);
    }
}

/// A virtual-time sleep. Cancel-safe: dropping it removes its timer.
pub struct Sleep {
    shared: Arc<Shared>,
    deadline: Duration,
    key: Option<TimerKey>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.now() >= self.deadline {
            if let Some(key) = self.key.take() {
                self.shared.cancel_timer(key);
            }
            return Poll::Ready(());
        }
        match self.key {
            Some(key) => self.shared.update_timer(key, cx.waker()),
            None => {
                let key = self.shared.register_timer(self.deadline, cx.waker());
                self.key = Some(key);
            }
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.shared.cancel_timer(key);
        }
    }
}

/// Returns `Pending` once (waking itself), so the scheduler may run another task here: a
/// preemption point. The zoo pools use it where a real thread could be preempted between
/// two critical sections.
pub fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

/// Which of two raced futures finished first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Either<A, B> {
    /// The first.
    Left(A),
    /// The second.
    Right(B),
}

/// Polls `a` and `b` until one is ready; the other is dropped. Inside a simulated task
/// the seed decides, afresh on each poll, which of the two is polled first (so either
/// may win when both are ready, as in an unbiased `select!`); outside one, `a` is polled
/// first.
pub async fn race<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    std::future::poll_fn(|cx| {
        let a_first = crate::shared::coin();
        if a_first {
            if let Poll::Ready(x) = a.as_mut().poll(cx) {
                return Poll::Ready(Either::Left(x));
            }
        }
        if let Poll::Ready(y) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(y));
        }
        if !a_first {
            if let Poll::Ready(x) = a.as_mut().poll(cx) {
                return Poll::Ready(Either::Left(x));
            }
        }
        Poll::Pending
    })
    .await
}
