//! The pump: the simulation task that runs a [`TokioBridge`](crate::adapter::TokioBridge)'s Tokio
//! runtime on virtual time, and the wakers that call it.
//!
//! # State machine
//! ```text
//! idle ──request()──▶ requested ──pump runs──▶ idle
//!   └── while ticking: also runs on every virtual millisecond (Tokio's timer resolution)
//! ```
//! Invariants: requests coalesce (one flag); a pump run first moves the paused Tokio
//! clock to virtual time, then lets the runtime run every task that is ready (a few
//! rounds, FIFO); the pump runs only at points the seeded scheduler picks.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::runtime::{race, SimRuntime};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// When the pump runs on its own, besides when asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ticking {
    /// On every virtual millisecond while a Tokio task is alive, or a future wrapped by
    /// [`TokioBridge::wrap`](crate::adapter::TokioBridge::wrap) waits (its `tokio::time` timers
    /// then fire on time). The default.
    #[default]
    WhilePending,
    /// On every virtual millisecond while a Tokio task is alive only (fewer pump runs;
    /// timers in wrapped futures fire at the next run, late). For pools whose only
    /// timers in wrapped futures never fire in a run.
    WhileTasksAlive,
}

/// Asks the pump to run.
#[derive(Default)]
pub(crate) struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    pub(crate) fn request(&self) {
        let waker = {
            let mut state = lock(&self.state);
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Completes once a run was requested (and clears the request).
    fn requested(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            let mut state = lock(&self.state);
            if state.0 {
                state.0 = false;
                state.1 = None;
                Poll::Ready(())
            } else {
                state.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// The paused current-thread runtime, how far its clock has been moved, and who waits.
pub(crate) struct Side {
    pub(crate) runtime: tokio::runtime::Runtime,
    synced: Mutex<Duration>,
    pub(crate) signal: Arc<Signal>,
    ticking: Ticking,
    /// Wrapped futures that returned `Pending` and have not finished.
    pub(crate) waiting: AtomicUsize,
}

impl Side {
    pub(crate) fn new(ticking: Ticking) -> std::io::Result<Side> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()?;
        Ok(Side {
            runtime,
            synced: Mutex::new(Duration::ZERO),
            signal: Arc::new(Signal::default()),
            ticking,
            waiting: AtomicUsize::new(0),
        })
    }

    /// Runs `f` in the runtime's context, then asks for a pump if it queued a task.
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let result = {
            let _guard = self.runtime.enter();
            f()
        };
        if self.runtime.metrics().global_queue_depth() > 0 {
            self.signal.request();
        }
        result
    }

    /// Moves the paused clock to `now` and runs every task that is ready.
    fn run(&self, now: Duration) {
        let step = {
            let mut synced = lock(&self.synced);
            let step = now.saturating_sub(*synced);
            *synced = (*synced).max(now);
            step
        };
        self.runtime.block_on(async move {
            if !step.is_zero() {
                tokio::time::advance(step).await;
            }
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
        });
    }

    /// True while Tokio tasks are alive.
    pub(crate) fn has_tasks(&self) -> bool {
        self.runtime.metrics().num_alive_tasks() > 0
    }

    fn ticking_now(&self) -> bool {
        self.runtime.metrics().num_alive_tasks() > 0
            || (self.ticking == Ticking::WhilePending && self.waiting.load(Ordering::SeqCst) > 0)
    }

    /// True if wrapped futures count for ticking.
    pub(crate) fn ticks_for_waiters(&self) -> bool {
        self.ticking == Ticking::WhilePending
    }
}

/// The pump task: runs the side when asked, and on every virtual millisecond while
/// ticking.
pub(crate) async fn pump(side: Arc<Side>, runtime: SimRuntime) {
    let signal = side.signal.clone();
    loop {
        if side.ticking_now() {
            let ms = Duration::from_millis(1).as_nanos();
            let next = (runtime.now().as_nanos() / ms + 1) * ms;
            let tick = Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX));
            race(signal.requested(), runtime.sleep_until(tick)).await;
        } else {
            signal.requested().await;
        }
        side.run(runtime.now());
    }
}

/// Wakes a Tokio task and the pump that runs it.
pub(crate) struct WakeBoth {
    pub(crate) task: Waker,
    pub(crate) signal: Arc<Signal>,
}

impl Wake for WakeBoth {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.task.wake_by_ref();
        self.signal.request();
    }
}

/// Polls `inner` with a waker that also wakes the pump.
pub(crate) fn poll_pumped<F: Future + ?Sized>(
    inner: Pin<&mut F>,
    cx: &mut Context<'_>,
    signal: &Arc<Signal>,
) -> Poll<F::Output> {
    let waker = Waker::from(Arc::new(WakeBoth {
        task: cx.waker().clone(),
        signal: signal.clone(),
    }));
    inner.poll(&mut Context::from_waker(&waker))
}
