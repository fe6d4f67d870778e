//! The state the executor shares with its wakers, timers and every
//! [`SimRuntime`](crate::SimRuntime): virtual time, the ready set, the timer heap, the
//! tasks spawned but not yet taken in, and the seeded coin of the task being polled. Its
//! own module so that the executor (which drives it) and the runtime handle (which reads
//! the clock and registers timers) both depend on it and not on each other.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Wake, Waker};
use std::time::Duration;

use pool_core::runtime::BoxFuture;

/// A task's id: 0, 1, 2, … in spawn order; never reused within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u64);

/// What a task is, for the time bridge (server tasks may create Tokio sleeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// A workload client, the fault driver, or other harness code.
    Harness,
    /// A task the pool under test spawned through [`pool_core::Runtime::spawn`].
    Pool,
    /// A mock-server connection handler.
    Server,
}

/// Timer slab key: index and generation (so a freed slot is never woken by a stale entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A heap entry; `key == None` marks a time-bridge wake-up.
pub(crate) type HeapEntry = Reverse<(Duration, u64, Option<TimerKey>)>;

pub(crate) struct TimerSlot {
    pub(crate) generation: u32,
    pub(crate) waker: Option<Waker>,
}

/// Task states in `Core::task_state`.
pub(crate) const IDLE: u8 = 0;
pub(crate) const QUEUED: u8 = 1;
pub(crate) const DONE: u8 = 2;

/// Everything wakers, sleeps and spawners touch. Behind one mutex: the run is
/// single-threaded, so the lock is never contended; it exists because wakers and the
/// [`SimRuntime`] must be `Send + Sync`.
pub(crate) struct Core {
    pub(crate) now: Duration,
    /// Ready tasks as a *set*: the scheduler's choice depends on which tasks are ready,
    /// never on the order they were woken in (Tokio's `watch` wakes its receivers in an
    /// order drawn from its own, unseeded RNG).
    pub(crate) ready: BTreeSet<u64>,
    pub(crate) task_state: Vec<u8>,
    pub(crate) spawned: Vec<(u64, BoxFuture<()>, TaskKind)>,
    pub(crate) current: Option<TaskId>,
    pub(crate) heap: BinaryHeap<HeapEntry>,
    pub(crate) timers: Vec<TimerSlot>,
    pub(crate) timers_free: Vec<u32>,
    pub(crate) timer_seq: u64,
    /// Lengths of the Tokio sleeps a server task may start (see `time_bridge`).
    pub(crate) server_sleeps: Vec<Duration>,
    /// Held tasks by (release instant, id); their state stays `QUEUED`.
    pub(crate) held: BTreeSet<(Duration, u64)>,
}

/// The state shared by the executor, its wakers and every [`SimRuntime`].
pub(crate) struct Shared {
    pub(crate) core: Mutex<Core>,
}

impl Shared {
    pub(crate) fn now(&self) -> Duration {
        self.lock().now
    }

    pub(crate) fn current(&self) -> Option<TaskId> {
        self.lock().current
    }

    pub(crate) fn set_server_sleeps(&self, lengths: Vec<Duration>) {
        self.lock().server_sleeps = lengths;
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Core> {
        // Nothing panics while holding it; recover the data anyway rather than poison the
        // whole run.
        self.core
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn wake(&self, id: u64) {
        let mut core = self.lock();
        if let Some(state) = core.task_state.get_mut(id as usize) {
            if *state == IDLE {
                *state = QUEUED;
                core.ready.insert(id);
            }
        }
    }

    pub(crate) fn spawn(&self, future: BoxFuture<()>, kind: TaskKind) -> TaskId {
        let mut core = self.lock();
        let id = core.task_state.len() as u64;
        core.task_state.push(QUEUED);
        core.ready.insert(id);
        core.spawned.push((id, future, kind));
        TaskId(id)
    }

    pub(crate) fn register_timer(&self, deadline: Duration, waker: &Waker) -> TimerKey {
        let mut core = self.lock();
        let key = match core.timers_free.pop() {
            Some(index) => {
                let slot = &mut core.timers[index as usize];
                slot.generation = slot.generation.wrapping_add(1);
                slot.waker = Some(waker.clone());
                TimerKey {
                    index,
                    generation: slot.generation,
                }
            }
            None => {
                let index = core.timers.len() as u32;
                core.timers.push(TimerSlot {
                    generation: 0,
                    waker: Some(waker.clone()),
                });
                TimerKey {
                    index,
                    generation: 0,
                }
            }
        };
        let seq = core.timer_seq;
        core.timer_seq += 1;
        core.heap.push(Reverse((deadline, seq, Some(key))));
        key
    }

    pub(crate) fn update_timer(&self, key: TimerKey, waker: &Waker) {
        let mut core = self.lock();
        if let Some(slot) = core.timers.get_mut(key.index as usize) {
            if slot.generation == key.generation {
                match &slot.waker {
                    Some(w) if w.will_wake(waker) => {}
                    _ => slot.waker = Some(waker.clone()),
                }
            }
        }
    }

    pub(crate) fn cancel_timer(&self, key: TimerKey) {
        let mut core = self.lock();
        free_timer(&mut core, key);
    }
}

pub(crate) fn free_timer(core: &mut Core, key: TimerKey) {
    if let Some(slot) = core.timers.get_mut(key.index as usize) {
        if slot.generation == key.generation && slot.waker.is_some() {
            slot.waker = None;
            core.timers_free.push(key.index);
        }
    }
}

pub(crate) struct TaskWaker {
    pub(crate) id: u64,
    pub(crate) shared: Weak<Shared>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(shared) = self.shared.upgrade() {
            shared.wake(self.id);
        }
    }
}

/// A fair coin for the task being polled, drawn from the seed (`true` outside a poll).
/// [`race`] flips it to decide which future it polls first.
pub(crate) fn coin() -> bool {
    RACE_COIN.with(|c| match c.get() {
        Some(state) => {
            let next = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            c.set(Some(next));
            crate::rng::Rng::new(next).next_u64() & 1 == 0
        }
        None => true,
    })
}

/// Sets (or, with `None`, clears) the [`race`](crate::race) coin of the task about to be
/// polled.
pub(crate) fn set_coin(state: Option<u64>) {
    RACE_COIN.with(|c| c.set(state));
}

thread_local! {
    /// The state of the [`race`](crate::race) coin of the task being polled (`None`
    /// outside a poll).
    static RACE_COIN: std::cell::Cell<Option<u64>> = const { std::cell::Cell::new(None) };
}
