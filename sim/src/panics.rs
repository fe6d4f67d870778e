//! Panics of the code under test: a panic inside a simulated task (or in pool code the
//! harness calls outside any task) is caught, kept quiet and reported as a [`TaskPanic`],
//! never an abort of the sweep.
//!
//! The executor polls every task through [`poll_caught`]; a panic hook installed once
//! ([`quiet_task_panics`]) tells the thread's [`PanicObserver`] where the panic happened,
//! before unwinding runs the task's destructors, so what those destructors cause is
//! recorded after its cause.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::shared::{TaskId, TaskKind};

/// A task that panicked (the oracle reports it as a PANIC violation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPanic {
    /// The task.
    pub task: TaskId,
    /// Its kind.
    pub kind: TaskKind,
    /// Virtual time of the panic.
    pub at: Duration,
    /// The panic message.
    pub message: String,
}

thread_local! {
    /// True while this thread polls a simulated task.
    static IN_TASK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The task being polled (id, kind, virtual time), for the panic observer.
    static POLLING: std::cell::Cell<Option<(u64, TaskKind, Duration)>> =
        const { std::cell::Cell::new(None) };
    /// Told of a task's panic at the panic site, before unwinding drops anything.
    static PANIC_OBSERVER: std::cell::RefCell<Option<PanicObserver>> =
        const { std::cell::RefCell::new(None) };
}

/// Installs (once per process) a panic hook that stays silent for panics inside
/// simulated tasks: the executor catches them and the oracle reports them as ERR
/// violations with their message, so printing each one (with a backtrace) during a sweep
/// of a buggy pool would only bury the summary. Other panics reach the previous hook.
pub fn quiet_task_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_TASK.with(std::cell::Cell::get) {
                previous(info);
                return;
            }
            let Some((id, kind, at)) = POLLING.with(std::cell::Cell::get) else {
                return;
            };
            let observer = PANIC_OBSERVER.with(|o| o.borrow().clone());
            if let Some(observer) = observer {
                observer(&TaskPanic {
                    task: TaskId(id),
                    kind,
                    at,
                    message: panic_message(info.payload()),
                });
            }
        }));
    });
}

/// Called with a task's panic at the panic site (see [`set_panic_observer`]).
pub type PanicObserver = Arc<dyn Fn(&TaskPanic) + Send + Sync>;

/// Sets (or, with `None`, clears) this thread's panic observer: with
/// [`quiet_task_panics`] installed, a panic in a polled task is reported to it where it
/// happens, before unwinding runs the task's destructors — so what those destructors
/// cause (a connection dropped mid-check-in, say) is recorded after its cause. The
/// executor still records the panic itself ([`Executor::take_panics`](crate::executor::Executor::take_panics)).
pub fn set_panic_observer(observer: Option<PanicObserver>) {
    PANIC_OBSERVER.with(|o| *o.borrow_mut() = observer);
}

/// Runs `f` (code of the pool under test, called by the harness outside any task) with
/// its panic caught and kept quiet like a task's (see [`quiet_task_panics`]): `Err` holds
/// the panic message.
pub(crate) fn catch_quietly<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    let was = IN_TASK.with(|flag| flag.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    IN_TASK.with(|flag| flag.set(was));
    result.map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs `poll` (one poll of task `task`) with its panic caught: the panic hook sees the
/// task and its virtual time; `Err` holds the panic message.
pub(crate) fn poll_caught<R>(
    task: TaskId,
    kind: TaskKind,
    now: Duration,
    poll: impl FnOnce() -> R,
) -> Result<R, String> {
    // A harness call wrapped in `catch_quietly` may run the executor: restore what was
    // there, not a blank.
    let was_in_task = IN_TASK.with(|flag| flag.replace(true));
    let was_polling = POLLING.with(|p| p.replace(Some((task.0, kind, now))));
    let result = catch_unwind(AssertUnwindSafe(poll));
    IN_TASK.with(|flag| flag.set(was_in_task));
    POLLING.with(|p| p.set(was_polling));
    result.map_err(|payload| panic_message(payload.as_ref()))
}
