//! [`SimRuntime`]: the handle to the executor's virtual clock, timers and spawner that
//! pools, the network and the harness hold; plus [`Sleep`], [`yield_now`] and [`race`].
//!
//! A `SimRuntime` is normally the simulation's (virtual time). `SimRuntime::wall` makes
//! one on wall-clock time over a Tokio runtime instead ([`crate::stress`]): the same
//! pools, network and harness then run on real threads.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use pool_core::runtime::BoxFuture;

use crate::shared::{Shared, TaskId, TaskKind, TimerKey};

/// A clock other than the executor's: wall-clock time, its timers and spawner
/// (`crate::stress` implements it on Tokio).
pub(crate) trait ExternalClock: Send + Sync {
    /// Time now.
    fn now(&self) -> Duration;
    /// The task being polled on this thread, if any.
    fn current_task(&self) -> Option<TaskId>;
    /// Completes once the time reaches `deadline`.
    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()>;
    /// Spawns a task of `kind`.
    fn spawn(self: Arc<Self>, kind: TaskKind, future: BoxFuture<()>) -> TaskId;
}

/// The simulation's [`pool_core::Runtime`]: virtual clock, timers, spawner. Also what the
/// network, the manager and the harness use to sleep and spawn.
#[derive(Clone)]
pub struct SimRuntime {
    clock: Clock,
}

/// Whose time a [`SimRuntime`] keeps.
#[derive(Clone)]
enum Clock {
    /// The executor's virtual time.
    Virtual(Arc<Shared>),
    /// Wall-clock time on a Tokio runtime.
    Wall(Arc<dyn ExternalClock>),
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
        SimRuntime {
            clock: Clock::Virtual(shared),
        }
    }

    /// A runtime on wall-clock time: time 0 is now, sleeps are Tokio timers and tasks are
    /// spawned on the Tokio runtime of `clock` (see [`crate::stress`]).
    pub(crate) fn wall(clock: Arc<dyn ExternalClock>) -> SimRuntime {
        SimRuntime {
            clock: Clock::Wall(clock),
        }
    }

    /// Time now: virtual, or wall-clock time since a wall runtime was made.
    pub fn now(&self) -> Duration {
        match &self.clock {
            Clock::Virtual(shared) => shared.now(),
            Clock::Wall(wall) => wall.now(),
        }
    }

    /// The task being polled, if any.
    pub fn current_task(&self) -> Option<TaskId> {
        match &self.clock {
            Clock::Virtual(shared) => shared.current(),
            Clock::Wall(wall) => wall.current_task(),
        }
    }

    /// Completes once the time reaches `deadline`.
    pub fn sleep_until(&self, deadline: Duration) -> Sleep {
        match &self.clock {
            Clock::Virtual(shared) => Sleep {
                timer: Timer::Virtual {
                    shared: shared.clone(),
                    deadline,
                    key: None,
                },
            },
            Clock::Wall(wall) => Sleep {
                timer: Timer::Wall(wall.sleep_until(deadline)),
            },
        }
    }

    /// Completes after `length` of virtual time.
    pub fn sleep(&self, length: Duration) -> Sleep {
        self.sleep_until(self.now() + length)
    }

    /// Announces the lengths of the Tokio sleeps server tasks may start (the block time of
    /// the fail point in force); see `time_bridge.rs`.
    /// (Nothing to announce on wall-clock time: Tokio's sleeps are real.)
    pub fn set_server_sleeps(&self, lengths: Vec<Duration>) {
        if let Clock::Virtual(shared) = &self.clock {
            shared.set_server_sleeps(lengths);
        }
    }

    /// Spawns a task of `kind`.
    pub fn spawn_task(&self, kind: TaskKind, future: BoxFuture<()>) -> TaskId {
        match &self.clock {
            Clock::Virtual(shared) => shared.spawn(future, kind),
            Clock::Wall(wall) => wall.clone().spawn(kind, future),
        }
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
        self.spawn_task(TaskKind::Pool, task);
    }
}

/// A sleep on the runtime's time. Cancel-safe: dropping it removes its timer.
pub struct Sleep {
    timer: Timer,
}

/// A virtual-time timer, or a Tokio one.
enum Timer {
    Virtual {
        shared: Arc<Shared>,
        deadline: Duration,
        key: Option<TimerKey>,
    },
    Wall(BoxFuture<()>),
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let (shared, deadline, key) = match &mut self.timer {
            Timer::Wall(sleep) => return sleep.as_mut().poll(cx),
            Timer::Virtual {
                shared,
                deadline,
                key,
            } => (shared, *deadline, key),
        };
        if shared.now() >= deadline {
            if let Some(key) = key.take() {
                shared.cancel_timer(key);
            }
            return Poll::Ready(());
        }
        match *key {
            Some(key) => shared.update_timer(key, cx.waker()),
            None => *key = Some(shared.register_timer(deadline, cx.waker())),
        }
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Timer::Virtual { shared, key, .. } = &mut self.timer {
            if let Some(key) = key.take() {
                shared.cancel_timer(key);
            }
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
