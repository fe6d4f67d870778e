//! A single-threaded executor with virtual time and a seeded scheduler.
//!
//! # Why not turmoil (or tokio's paused time)
//!
//! turmoil runs each simulated host on its own current-thread Tokio runtime and steps
//! the hosts in lock-step ticks; the order in which the tasks *inside* a host run is
//! Tokio's, which no seed controls, and turmoil only shuffles host order. A pool bug is an
//! interleaving of tasks on one host (a check-in racing a timeout), so the scheduler must
//! be ours. pool-core also needs a [`pool_core::Runtime`] implementation anyway (clock
//! plus spawner), and the zoo pools must deadlock *visibly* (tasks that never become
//! ready) rather than block an OS thread. The home-made executor is ~400 lines and gives
//! exactly that; its only foreign part is the time bridge (`time_bridge.rs`) that
//! keeps mock-server's `tokio::time` sleeps on the virtual clock.
//!
//! # How it runs
//!
//! Tasks are boxed futures in a slab, identified by [`TaskId`]. A waker pushes its task
//! onto the ready list (once). [`Executor::run_ready`] repeatedly picks a ready task
//! *uniformly at random by the seed* and polls it (inside `catch_unwind`), until none is
//! ready. Only then may [`Executor::advance`] move virtual time: it jumps straight to the
//! earliest pending event (a timer, or the release of a held task, below) and fires
//! every timer due at that instant. No wall clock, no threads, no sockets: the same seed
//! and the same inputs give the same run, bit for bit.
//!
//! # Schedulers
//!
//! Which ready task runs is the [`Scheduler`]'s choice: [`Scheduler::Random`] picks
//! uniformly by the seed (the scheduler every run used before modes existed, draw for
//! draw), [`Scheduler::Pct`] runs the ready task of highest priority and demotes the
//! running one at a few seeded change points (see [`pct`]). Holds, races and time work
//! the same under both.
//!
//! # Held wake-ups
//!
//! On a real runtime a woken task is not polled at once: other threads run, timers fire,
//! a clear or a check-in lands between the wake-up and the poll that consumes it. So the
//! scheduler sometimes *holds* a picked harness or pool task back instead of polling it
//! ([`HoldPolicy`], drawn from the seed: some runs hold often, some never). A held task
//! stays woken (a second wake-up is a no-op) and is released at a virtual instant: the
//! same instant once every other ready task has run, the next timer's instant (so it
//! races what that timer wakes), or a few microseconds later, never more than
//! [`HOLD_MAX`]. A released task is polled before it can be held again, so no task
//! waits longer than [`HOLD_MAX`] per wake-up. A held task is not *stalled*: its release
//! is an event [`Executor::next_timer`] reports and [`Executor::advance`] moves time to.
//! Nor is the run at a *stable point* while a task is held ([`Executor::held`]): a task
//! was woken and has not run yet, so the run loop judges nothing that assumes every
//! woken task has run (FIFO's verdicts) until the hold is over.
//! Server tasks are never held (their delays are the network's latency).
//!
//! `HOLD_MAX` stays below the oracle's 5 ms tolerance and below the reference pool's
//! `claim_timeout` in the simulator (250 µs), so a hold alone never makes a correct
//! pool look starved or lose a grant it was about to claim.
//!
//! # Races
//!
//! [`race`](crate::race) polls its two futures in an order the seed decides, afresh on each poll (a
//! coin the executor provides to the task it polls), so a checkout whose grant and
//! whose timer are both due sometimes loses to the timer.
//!
//! Budgets bound a run: [`Budget::steps_max`] polls (a livelock detector) and
//! [`Budget::time_max`] of virtual time. When no task is ready and no timer is pending,
//! the run is *stalled*: if any task still waits, nothing can ever wake it (a deadlock).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use pool_core::runtime::BoxFuture;

pub use crate::panics::{quiet_task_panics, set_panic_observer, PanicObserver, TaskPanic};
pub use crate::shared::{TaskId, TaskKind};

pub(crate) use crate::panics::catch_quietly;

use crate::error::SimError;
use crate::panics::poll_caught;
use crate::rng::Rng;
use crate::runtime::SimRuntime;
use crate::shared::{Core, Shared, TaskWaker, DONE, IDLE};
use crate::time_bridge::{tokio_deadline, TimeBridge};

pub mod pct;

pub use self::pct::Pct;

/// How the executor picks the next ready task.
#[derive(Debug, Clone)]
pub enum Scheduler {
    /// Uniformly at random, from the executor's scheduler stream.
    Random,
    /// PCT priorities and change points (see [`pct`]).
    Pct(Pct),
}

/// Bounds on one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The most task polls.
    pub steps_max: u64,
    /// The latest virtual time.
    pub time_max: Duration,
}

/// The longest a woken task is held back before it is polled (see the module doc).
pub const HOLD_MAX: Duration = Duration::from_micros(200);

/// How often, per run, the scheduler holds a picked task back (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HoldPolicy {
    /// Out of 1000 picks of a harness or pool task, how many are held (0: never).
    pub per_mille: u64,
}

impl HoldPolicy {
    /// Never holds: every woken task runs before time moves.
    pub const NEVER: HoldPolicy = HoldPolicy { per_mille: 0 };

    /// A policy drawn from `rng`: a quarter of runs never hold, the rest hold rarely
    /// (under 2 %), sometimes (2–10 %) or often (10–30 %) of the picks.
    pub fn draw(rng: &mut Rng) -> HoldPolicy {
        let per_mille = match rng.below(4) {
            0 => 0,
            1 => rng.range(1, 20),
            2 => rng.range(20, 100),
            _ => rng.range(100, 300),
        };
        HoldPolicy { per_mille }
    }
}

/// The result of one [`Executor::advance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// Time moved to this instant and its timers fired.
    To(Duration),
    /// No timer is pending: nothing can ever run again.
    Stalled,
}

// ===== the executor =====

struct Task {
    future: BoxFuture<()>,
    waker: Waker,
    kind: TaskKind,
}

/// The deterministic executor. One per run; not `Send` (it never leaves its thread).
pub struct Executor {
    shared: Arc<Shared>,
    tasks: Vec<Option<Task>>,
    scheduler: Rng,
    /// Picks among the ready tasks (with `scheduler` when random).
    picker: Scheduler,
    /// Decides holds and their lengths (its own stream: the picks do not shift).
    holds: Rng,
    hold: HoldPolicy,
    /// Tasks released from a hold and not polled since: they are not held again.
    released: BTreeSet<u64>,
    /// Seeds the [`race`] coin of each poll.
    coins: Rng,
    budget: Budget,
    steps: u64,
    panics: Vec<TaskPanic>,
    bridge: TimeBridge,
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Executor {
    /// An executor at virtual time 0 whose scheduling choices come from `scheduler`,
    /// holding woken tasks back as [`HoldPolicy::draw`] draws from it.
    ///
    /// # Errors
    /// [`SimError::Runtime`] if the time bridge's Tokio runtime cannot be built.
    pub fn new(scheduler: Rng, budget: Budget) -> Result<Executor, SimError> {
        let hold = HoldPolicy::draw(&mut scheduler.fork("hold-policy"));
        Executor::with_hold(scheduler, budget, hold)
    }

    /// An executor like [`Executor::new`] (the same hold policy, races and holds) that
    /// picks ready tasks with the PCT scheduler, drawn from `scheduler.fork("pct")` for a
    /// run of about `expected_steps` polls.
    ///
    /// # Errors
    /// [`SimError::Runtime`] if the time bridge's Tokio runtime cannot be built.
    pub fn new_pct(
        scheduler: Rng,
        budget: Budget,
        expected_steps: u64,
    ) -> Result<Executor, SimError> {
        let pct = Pct::draw(scheduler.fork("pct"), expected_steps);
        let mut executor = Executor::new(scheduler, budget)?;
        executor.picker = Scheduler::Pct(pct);
        Ok(executor)
    }

    /// The scheduler that picks the ready tasks.
    pub fn scheduler(&self) -> &Scheduler {
        &self.picker
    }

    /// Uses `picker` from now on (before the first task is spawned).
    pub fn set_scheduler(&mut self, picker: Scheduler) {
        self.picker = picker;
    }

    /// An executor like [`Executor::new`] with the hold policy `hold`.
    ///
    /// # Errors
    /// [`SimError::Runtime`] if the time bridge's Tokio runtime cannot be built.
    pub fn with_hold(
        scheduler: Rng,
        budget: Budget,
        hold: HoldPolicy,
    ) -> Result<Executor, SimError> {
        let core = Core {
            now: Duration::ZERO,
            ready: BTreeSet::new(),
            task_state: Vec::new(),
            spawned: Vec::new(),
            current: None,
            heap: BinaryHeap::new(),
            timers: Vec::new(),
            timers_free: Vec::new(),
            timer_seq: 0,
            server_sleeps: Vec::new(),
            held: BTreeSet::new(),
        };
        Ok(Executor {
            shared: Arc::new(Shared {
                core: Mutex::new(core),
            }),
            tasks: Vec::new(),
            holds: scheduler.fork("holds"),
            coins: scheduler.fork("race-coins"),
            scheduler,
            picker: Scheduler::Random,
            hold,
            released: BTreeSet::new(),
            budget,
            steps: 0,
            panics: Vec::new(),
            bridge: TimeBridge::new()?,
            _not_send: std::marker::PhantomData,
        })
    }

    /// A handle for the pool, the network and the harness: clock, sleeps, spawns.
    pub fn handle(&self) -> SimRuntime {
        SimRuntime::new(self.shared.clone())
    }

    /// Virtual time now.
    pub fn now(&self) -> Duration {
        self.shared.lock().now
    }

    /// Polls made so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Takes the panics recorded since the last call.
    pub fn take_panics(&mut self) -> Vec<TaskPanic> {
        std::mem::take(&mut self.panics)
    }

    /// True if task `id` has finished (or panicked).
    pub fn is_done(&self, id: TaskId) -> bool {
        self.shared.lock().task_state.get(id.0 as usize) == Some(&DONE)
    }

    /// How many woken tasks are held back now. While any is, the run is not at a stable
    /// point: a task was woken and has not yet run.
    pub fn held(&self) -> usize {
        self.shared.lock().held.len()
    }

    /// The hold policy of this run.
    pub fn hold_policy(&self) -> HoldPolicy {
        self.hold
    }

    /// Polls ready tasks, in seeded random order, until none is ready (held tasks due
    /// now included: a task held for no time runs once the others have).
    ///
    /// # Errors
    /// [`SimError::StepBudget`] when the poll budget runs out (a livelock).
    pub fn run_ready(&mut self) -> Result<(), SimError> {
        loop {
            self.absorb_spawned();
            let picked = {
                let mut core = self.shared.lock();
                if core.ready.is_empty() {
                    let now = core.now;
                    if release_due(&mut core, now, &mut self.released) == 0 {
                        return Ok(());
                    }
                }
                let chosen = match &mut self.picker {
                    Scheduler::Random => {
                        let pick = self.scheduler.below(core.ready.len() as u64) as usize;
                        core.ready.iter().nth(pick).copied()
                    }
                    Scheduler::Pct(pct) => pct.pick(&core.ready, self.steps),
                };
                let Some(id) = chosen else {
                    return Ok(());
                };
                core.ready.remove(&id);
                (id, core.now)
            };
            let (id, now) = picked;
            if self.hold_back(id, now) {
                continue;
            }
            {
                let mut core = self.shared.lock();
                if let Some(state) = core.task_state.get_mut(id as usize) {
                    *state = IDLE;
                }
                core.current = Some(TaskId(id));
            }
            self.steps += 1;
            if self.steps > self.budget.steps_max {
                return Err(SimError::StepBudget {
                    steps: self.budget.steps_max,
                    at: now,
                });
            }
            self.poll_task(id, now);
            self.shared.lock().current = None;
        }
    }

    /// Decides whether the picked task `id` is held back; if so, parks it (still
    /// `QUEUED`) until its release instant.
    fn hold_back(&mut self, id: u64, now: Duration) -> bool {
        if self.hold.per_mille == 0 || self.released.remove(&id) {
            return false;
        }
        let holdable = self
            .tasks
            .get(id as usize)
            .and_then(Option::as_ref)
            .is_some_and(|task| task.kind != TaskKind::Server);
        if !holdable || self.holds.below(1000) >= self.hold.per_mille {
            return false;
        }
        let release = match self.holds.below(3) {
            // Until every other task ready now has run.
            0 => now,
            // Until the next timer, if it is near: the task races what that timer wakes.
            1 => match self.next_timer() {
                Some(at) if at <= now + HOLD_MAX => at,
                _ => self.holds.duration(now, now + HOLD_MAX),
            },
            _ => self.holds.duration(now, now + HOLD_MAX),
        };
        self.shared.lock().held.insert((release, id));
        true
    }

    fn poll_task(&mut self, id: u64, now: Duration) {
        self.absorb_spawned();
        let Some(mut task) = self.tasks.get_mut(id as usize).and_then(Option::take) else {
            return;
        };
        if task.kind == TaskKind::Server {
            self.prepare_server_poll(now);
        }
        let waker = task.waker.clone();
        let mut cx = Context::from_waker(&waker);
        let bridge = &self.bridge;
        let coin = self.coins.next_u64();
        crate::shared::set_coin(Some(coin));
        // Every poll (and every drop below) runs in the ambient Tokio context, so a pool
        // that calls `tokio::spawn` without a `TokioBridge` cannot panic or abort the
        // process; see `time_bridge.rs`, "The ambient context".
        let kind = task.kind;
        let result = poll_caught(TaskId(id), kind, now, || {
            bridge.ambient(|| {
                if kind == TaskKind::Server {
                    bridge.enter(|| task.future.as_mut().poll(&mut cx))
                } else {
                    task.future.as_mut().poll(&mut cx)
                }
            })
        });
        crate::shared::set_coin(None);
        let finished = match result {
            Ok(Poll::Pending) => false,
            Ok(Poll::Ready(())) => true,
            Err(message) => {
                self.panics.push(TaskPanic {
                    task: TaskId(id),
                    kind,
                    at: now,
                    message,
                });
                true
            }
        };
        if finished {
            if let Some(state) = self.shared.lock().task_state.get_mut(id as usize) {
                *state = DONE;
            }
            // Dropped here, outside every lock: its destructors may wake or spawn, or
            // panic (the pool's drop code runs here too).
            if let Err(message) = catch_quietly(|| bridge.ambient(move || drop(task))) {
                self.panics.push(TaskPanic {
                    task: TaskId(id),
                    kind,
                    at: now,
                    message: format!("while dropping the finished task: {message}"),
                });
            }
        } else if let Some(slot) = self.tasks.get_mut(id as usize) {
            *slot = Some(task);
        }
        if let Some(pump) = self.bridge.ambient_pump(self.handle()) {
            self.shared.spawn(pump, TaskKind::Pool);
        }
    }

    /// Before a server task runs: the Tokio clock must read virtual time, and any sleep
    /// it may start gets a wake-up planted at its (rounded-up) deadline.
    fn prepare_server_poll(&mut self, now: Duration) {
        self.bridge.sync(now);
        let mut core = self.shared.lock();
        let lengths = core.server_sleeps.clone();
        for length in lengths {
            let at = tokio_deadline(now, length);
            let seq = core.timer_seq;
            core.timer_seq += 1;
            core.heap.push(Reverse((at, seq, None)));
        }
    }

    fn absorb_spawned(&mut self) {
        let spawned = std::mem::take(&mut self.shared.lock().spawned);
        for (id, future, kind) in spawned {
            if let Scheduler::Pct(pct) = &mut self.picker {
                pct.spawned(id);
            }
            let waker = Waker::from(Arc::new(TaskWaker {
                id,
                shared: Arc::downgrade(&self.shared),
            }));
            let index = id as usize;
            if self.tasks.len() <= index {
                self.tasks.resize_with(index + 1, || None);
            }
            self.tasks[index] = Some(Task {
                future,
                waker,
                kind,
            });
        }
    }

    /// The earliest pending event, if any: a timer (cancelled timers skipped) or the
    /// release of a held task.
    pub fn next_timer(&self) -> Option<Duration> {
        let mut core = self.shared.lock();
        let held = core.held.first().map(|&(at, _)| at);
        let timer = loop {
            let Some(&Reverse((at, _, key))) = core.heap.peek() else {
                break None;
            };
            match key {
                None => break Some(at),
                Some(key) => {
                    let live = core
                        .timers
                        .get(key.index as usize)
                        .is_some_and(|s| s.generation == key.generation && s.waker.is_some());
                    if live {
                        break Some(at);
                    }
                    core.heap.pop();
                }
            }
        };
        match (timer, held) {
            (Some(t), Some(h)) => Some(t.min(h)),
            (t, h) => t.or(h),
        }
    }

    /// Jumps to the earliest pending event, fires every timer due then and releases
    /// every task held until then. Call only when no task is ready.
    ///
    /// # Errors
    /// [`SimError::TimeBudget`] if that instant lies beyond the time budget.
    pub fn advance(&mut self) -> Result<Advance, SimError> {
        debug_assert!(
            self.shared.lock().ready.is_empty(),
            "advance with ready tasks"
        );
        let Some(at) = self.next_timer() else {
            return Ok(Advance::Stalled);
        };
        if at > self.budget.time_max {
            return Err(SimError::TimeBudget {
                limit: self.budget.time_max,
            });
        }
        let mut wakers = Vec::new();
        let mut bridge_due = false;
        {
            let mut core = self.shared.lock();
            debug_assert!(at >= core.now, "time never goes backwards");
            core.now = core.now.max(at);
            while let Some(&Reverse((when, _, key))) = core.heap.peek() {
                if when > at {
                    break;
                }
                core.heap.pop();
                match key {
                    None => bridge_due = true,
                    Some(key) => {
                        let slot = core.timers.get_mut(key.index as usize);
                        if let Some(slot) = slot.filter(|s| s.generation == key.generation) {
                            if let Some(w) = slot.waker.take() {
                                wakers.push(w);
                                core.timers_free.push(key.index);
                            }
                        }
                    }
                }
            }
            release_due(&mut core, at, &mut self.released);
        }
        if bridge_due {
            self.bridge.sync(at);
        }
        for w in wakers {
            w.wake();
        }
        Ok(Advance::To(at))
    }

    /// Drops every task (in id order) while the time bridge is still alive. A task whose
    /// drop panics is recorded (see [`Executor::take_panics`]); the others are still
    /// dropped.
    pub fn shutdown(&mut self) {
        let now = self.now();
        let tasks = std::mem::take(&mut self.tasks);
        for (id, task) in tasks.into_iter().enumerate() {
            let Some(task) = task else { continue };
            let kind = task.kind;
            if let Err(message) = catch_quietly(|| self.bridge.ambient(move || drop(task))) {
                self.panics.push(TaskPanic {
                    task: TaskId(id as u64),
                    kind,
                    at: now,
                    message: format!("while dropping the task at shutdown: {message}"),
                });
            }
        }
        loop {
            let spawned = std::mem::take(&mut self.shared.lock().spawned);
            if spawned.is_empty() {
                break;
            }
            for (id, future, kind) in spawned {
                if let Err(message) = catch_quietly(|| self.bridge.ambient(move || drop(future))) {
                    self.panics.push(TaskPanic {
                        task: TaskId(id),
                        kind,
                        at: now,
                        message: format!("while dropping the task at shutdown: {message}"),
                    });
                }
            }
        }
        let mut core = self.shared.lock();
        core.heap.clear();
        core.timers.clear();
        core.ready.clear();
        core.held.clear();
    }
}

/// Moves every task held until `at` or earlier onto the ready set (marked released, so
/// it is polled before it can be held again). Returns how many.
fn release_due(core: &mut Core, at: Duration, released: &mut BTreeSet<u64>) -> usize {
    let mut count = 0;
    while let Some(&(when, id)) = core.held.first() {
        if when > at {
            break;
        }
        core.held.pop_first();
        core.ready.insert(id);
        released.insert(id);
        count += 1;
    }
    count
}

impl Drop for Executor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests;
