//! [`WallClock`]: what a [`SimRuntime`](crate::SimRuntime) made by `SimRuntime::wall`
//! runs on: wall-clock time since the clock was made, Tokio timers, and tasks spawned on a
//! Tokio runtime (multi-thread in a stress run).
//!
//! Every task it spawns is polled through a wrapper that names it (so
//! [`SimRuntime::current_task`](crate::SimRuntime::current_task) works as in the
//! simulation: the recorder attributes events and connects to the checkout whose task
//! caused them) and catches its panics, which go to the clock's recorder (a PANIC
//! violation) instead of ending a Tokio task silently. As in the simulation, the
//! recorder hears of a panic at the panic site, before unwinding runs the task's
//! destructors, so what those cause (a connection dropped mid-check-in) comes after it.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pool_core::runtime::BoxFuture;

use crate::panics::{poll_caught, set_panic_observer, PanicObserver, TaskPanic};
use crate::recorder::Recorder;
use crate::runtime::ExternalClock;
use crate::shared::{TaskId, TaskKind};

thread_local! {
    /// The wall-clock task this thread is polling, if any.
    static CURRENT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Wall-clock time, Tokio timers and a Tokio spawner, with task ids and caught panics.
pub struct WallClock {
    start: Instant,
    handle: tokio::runtime::Handle,
    next_task: AtomicU64,
    recorder: Mutex<Option<Listener>>,
}

/// The recorder that hears of panics, and its observer for the panic site.
#[derive(Clone)]
struct Listener {
    recorder: Arc<Recorder>,
    at_site: PanicObserver,
}

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WallClock")
            .field("now", &self.now())
            .finish_non_exhaustive()
    }
}

impl WallClock {
    /// A clock whose time 0 is now, spawning on `handle`'s runtime.
    pub(crate) fn new(handle: tokio::runtime::Handle) -> WallClock {
        WallClock {
            start: Instant::now(),
            handle,
            next_task: AtomicU64::new(0),
            recorder: Mutex::new(None),
        }
    }

    /// Sets (or, with `None`, clears) the recorder that hears of a task's panic.
    pub(crate) fn set_recorder(&self, recorder: Option<Arc<Recorder>>) {
        let listener = recorder.map(|recorder| {
            let site = recorder.clone();
            let at_site: PanicObserver =
                Arc::new(move |panic: &TaskPanic| site.panicked_at_site(panic));
            Listener { recorder, at_site }
        });
        *self.recorder.lock().unwrap_or_else(PoisonError::into_inner) = listener;
    }

    fn listener(&self) -> Option<Listener> {
        self.recorder
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records a caught panic (the panic site already told the recorder, unless its lock
    /// was busy then; a repeat is dropped by the oracle's ledger).
    fn panicked(&self, panic: TaskPanic) {
        if let Some(listener) = self.listener() {
            listener.recorder.panicked(&panic);
        }
    }
}

impl ExternalClock for WallClock {
    /// Time since the clock was made.
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// The wall-clock task being polled on this thread, if any.
    fn current_task(&self) -> Option<TaskId> {
        CURRENT.with(Cell::get).map(TaskId)
    }

    /// A Tokio sleep until `deadline` on this clock.
    fn sleep_until(&self, deadline: Duration) -> BoxFuture<()> {
        let _entered = self.handle.enter();
        let at = self.start.checked_add(deadline).unwrap_or_else(far_future);
        Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(at)))
    }

    /// Spawns `future` as task `kind` on the Tokio runtime.
    fn spawn(self: Arc<Self>, kind: TaskKind, future: BoxFuture<()>) -> TaskId {
        let id = self.next_task.fetch_add(1, Ordering::Relaxed);
        let handle = self.handle.clone();
        let task = Named {
            id,
            kind,
            clock: self,
            future: Some(future),
        };
        // The join handle is not needed: a task's end is seen through what it reports.
        drop(handle.spawn(task));
        TaskId(id)
    }
}

/// About thirty years from now: a deadline past any run.
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// A spawned task: polled with its id set and its panics caught.
struct Named {
    id: u64,
    kind: TaskKind,
    clock: Arc<WallClock>,
    /// `None` once it finished or panicked.
    future: Option<BoxFuture<()>>,
}

impl Future for Named {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let (id, kind, now) = (self.id, self.kind, self.clock.now());
        let at_site = self.clock.listener().map(|l| l.at_site);
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(());
        };
        let was = CURRENT.with(|c| c.replace(Some(id)));
        set_panic_observer(at_site);
        let polled = poll_caught(TaskId(id), kind, now, || future.as_mut().poll(cx));
        set_panic_observer(None);
        CURRENT.with(|c| c.set(was));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(())) => {
                self.future = None;
                Poll::Ready(())
            }
            Err(message) => {
                // Drop what is left of the task (its destructors run as in the
                // simulation, after the panic is reported).
                self.clock.panicked(TaskPanic {
                    task: TaskId(id),
                    kind,
                    at: now,
                    message,
                });
                let was = CURRENT.with(|c| c.replace(Some(id)));
                let dropped = poll_caught(TaskId(id), kind, now, || self.future = None);
                CURRENT.with(|c| c.set(was));
                if let Err(message) = dropped {
                    self.clock.panicked(TaskPanic {
                        task: TaskId(id),
                        kind,
                        at: self.clock.now(),
                        message: format!("dropping a panicked task: {message}"),
                    });
                }
                Poll::Ready(())
            }
        }
    }
}
