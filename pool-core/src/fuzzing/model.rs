//! The sequential reference model of the pool and the interpreter that checks the real
//! pool against it, step by step (shared by `tests/model.rs` and the `pool_ops` fuzz
//! target).
//!
//! Ops: check out, check in, mark errored, clear, ready, close, cancel a queued checkout,
//! advance time. [`run`] builds a real [`Pool`] on a manual virtual-time runtime (nothing
//! is spawned, so the "executor" is the interpreter itself: after each op it polls every
//! unfinished checkout, in creation order, until nothing moves), applies each op to the
//! pool and to the model (`Model`), and compares the pool's status and every checkout
//! outcome with the model's. The first divergence is returned as an `Err` describing the
//! step.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::{BoxFuture, CheckoutError, Manager, Pool, PoolOptions, PooledConnection, Runtime};

/// `assert_eq!` that returns the failure instead of panicking.
macro_rules! ensure_eq {
    ($pool:expr, $model:expr, $($what:tt)+) => {{
        let (pool, model) = (&$pool, &$model);
        if pool != model {
            return Err(format!(
                "{}: pool {:?} vs model {:?}",
                format!($($what)+),
                pool,
                model
            ));
        }
    }};
}

// ===== the system under test =====

/// A manager whose connections are `()` and connect at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Noop;

impl Manager for Noop {
    type Connection = ();
    type Error = std::io::Error;
    async fn connect(&self, _id: u64) -> Result<(), std::io::Error> {
        Ok(())
    }
}

/// Virtual time that moves only when the test says so; spawned tasks are kept (the
/// model's configurations never spawn, and the harness asserts that).
#[derive(Default)]
struct ManualRuntime {
    now_ms: Arc<AtomicU64>,
    spawned: AtomicU64,
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

type Checkout<'a> = Pin<
    Box<dyn Future<Output = Result<PooledConnection<Noop>, CheckoutError<std::io::Error>>> + 'a>,
>;

// ===== operations =====

/// One step of a sequence. Indices are taken modulo the number of candidates (and the
/// op is a no-op when there is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Start a checkout and poll it once.
    CheckOut,
    /// Check in the `n`-th held connection.
    CheckIn(usize),
    /// Mark the `n`-th held connection errored (it is closed on check-in).
    MarkErrored(usize),
    /// Drop the `n`-th still-waiting checkout.
    Cancel(usize),
    /// `pool.clear(false)`: new generation, pool paused.
    Clear,
    /// `pool.ready()`.
    Ready,
    /// `pool.close()`.
    Close,
    /// Move virtual time on by this many milliseconds.
    Advance(u64),
}

/// The pool options a sequence runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `maxPoolSize` (>= 1).
    pub max_pool_size: u32,
    /// `maxConnecting` (>= 1).
    pub max_connecting: u32,
    /// `waitQueueTimeoutMS`, if any.
    pub wait_queue_timeout_ms: Option<u64>,
    /// `maxIdleTimeMS`, if any.
    pub max_idle_ms: Option<u64>,
}

// ===== the reference model =====

/// How a checkout ended, as both sides report it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Conn(u64),
    Closed,
    Cleared,
    Timeout,
    /// A checkout error the model never produces (always a divergence).
    Unexpected(String),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Grant {
    Idle(ModelConn),
    Create { generation: u64 },
    Refused(Outcome2),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome2 {
    Closed,
    Cleared,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct ModelConn {
    id: u64,
    generation: u64,
    idle_since: u64,
}

#[derive(Debug)]
struct Waiting {
    deadline: Option<u64>,
    grant: Option<Grant>,
    cancelled: bool,
}

/// A sequential pool with the same rules, written for clarity, not speed.
struct Model {
    cfg: Config,
    now: u64,
    paused: bool,
    closed: bool,
    generation: u64,
    total: u32,
    pending: u32,
    next_id: u64,
    idle: VecDeque<ModelConn>,
    /// The test thread's shelf: a connection checked in while nobody queues goes here,
    /// if it is free, and the next checkout takes it first.
    shelf: Option<ModelConn>,
    /// Queue of checkout indices (cancelled ones stay as tombstones until popped).
    queue: VecDeque<usize>,
    checkouts: Vec<Option<Waiting>>,
}

impl Model {
    fn perished(&self, c: &ModelConn) -> bool {
        self.closed
            || c.generation != self.generation
            || self
                .cfg
                .max_idle_ms
                .is_some_and(|m| self.now.saturating_sub(c.idle_since) > m)
    }

    fn reserve(&mut self) -> Option<Grant> {
        while let Some(c) = self.shelf.take().or_else(|| self.idle.pop_front()) {
            if self.perished(&c) {
                self.total -= 1;
            } else {
                return Some(Grant::Idle(c));
            }
        }
        if !self.paused
            && !self.closed
            && self.total < self.cfg.max_pool_size
            && self.pending < self.cfg.max_connecting
        {
            self.total += 1;
            self.pending += 1;
            return Some(Grant::Create {
                generation: self.generation,
            });
        }
        None
    }

    fn release(&mut self, g: Grant) {
        match g {
            Grant::Idle(c) => self.idle.push_back(c),
            Grant::Create { .. } => {
                self.total -= 1;
                self.pending -= 1;
            }
            Grant::Refused(_) => {}
        }
    }

    fn dispatch(&mut self) {
        loop {
            if self.closed {
                while let Some(c) = self.idle.pop_front().or_else(|| self.shelf.take()) {
                    let _ = c;
                    self.total -= 1;
                }
                self.refuse_all(Outcome2::Closed);
                return;
            }
            if self.queue.is_empty() {
                return;
            }
            if self.paused {
                self.refuse_all(Outcome2::Cleared);
                return;
            }
            let Some(g) = self.reserve() else { return };
            let head = self.queue.pop_front().expect("non-empty");
            let w = self.checkouts[head]
                .as_mut()
                .expect("queued checkouts exist");
            if w.cancelled {
                self.release(g);
            } else {
                w.grant = Some(g);
            }
        }
    }

    fn refuse_all(&mut self, why: Outcome2) {
        while let Some(i) = self.queue.pop_front() {
            let w = self.checkouts[i].as_mut().expect("queued checkouts exist");
            if !w.cancelled {
                w.grant = Some(Grant::Refused(why));
            }
        }
    }

    /// A new checkout `index`: returns its outcome if it ends on its first poll.
    fn check_out(&mut self, index: usize) -> Option<Outcome> {
        let deadline = self.cfg.wait_queue_timeout_ms.map(|t| self.now + t);
        if self.closed {
            self.checkouts.push(None);
            return Some(Outcome::Closed);
        }
        if self.paused {
            self.checkouts.push(None);
            return Some(Outcome::Cleared);
        }
        assert_eq!(index, self.checkouts.len());
        if self.queue.is_empty() {
            if let Some(g) = self.reserve() {
                self.checkouts.push(None);
                return Some(self.finish(g));
            }
        }
        self.checkouts.push(Some(Waiting {
            deadline,
            grant: None,
            cancelled: false,
        }));
        self.queue.push_back(index);
        self.dispatch();
        self.poll(index) // the pool polls its own wait once, right after enqueueing
    }

    /// Turns a grant into an outcome (establishing instantly, as `Noop` does).
    fn finish(&mut self, g: Grant) -> Outcome {
        match g {
            Grant::Idle(c) => {
                if self.perished(&c) {
                    self.total -= 1;
                    self.dispatch();
                    return if self.closed {
                        Outcome::Closed
                    } else {
                        Outcome::Cleared
                    };
                }
                Outcome::Conn(c.id)
            }
            Grant::Create { generation } => {
                self.next_id += 1;
                let id = self.next_id;
                self.pending -= 1;
                self.dispatch();
                let c = ModelConn {
                    id,
                    generation,
                    idle_since: self.now,
                };
                if self.perished(&c) {
                    self.total -= 1;
                    self.dispatch();
                    return if self.closed {
                        Outcome::Closed
                    } else {
                        Outcome::Cleared
                    };
                }
                Outcome::Conn(id)
            }
            Grant::Refused(Outcome2::Closed) => Outcome::Closed,
            Grant::Refused(Outcome2::Cleared) => Outcome::Cleared,
        }
    }

    /// One poll of waiting checkout `i`: grant first, then its timer.
    fn poll(&mut self, i: usize) -> Option<Outcome> {
        let w = self.checkouts[i].as_mut()?;
        if let Some(g) = w.grant.take() {
            self.checkouts[i] = None;
            return Some(self.finish(g));
        }
        if w.deadline.is_some_and(|d| self.now >= d) {
            w.cancelled = true;
            self.checkouts[i] = Some(Waiting {
                deadline: None,
                grant: None,
                cancelled: true,
            });
            return Some(Outcome::Timeout);
        }
        None
    }

    fn cancel(&mut self, i: usize) {
        if let Some(w) = self.checkouts[i].as_mut() {
            w.cancelled = true;
            if let Some(g) = w.grant.take() {
                self.release(g);
                self.dispatch();
            }
        }
    }

    fn check_in(&mut self, c: ModelConn, errored: bool) {
        let c = ModelConn {
            idle_since: self.now,
            ..c
        };
        if self.closed || errored || self.perished(&c) {
            self.total -= 1;
        } else if self.queue.is_empty() && self.shelf.is_none() {
            self.shelf = Some(c);
        } else {
            self.idle.push_back(c);
        }
        self.dispatch();
    }

    fn clear(&mut self) {
        if self.closed {
            return;
        }
        self.generation += 1;
        self.paused = true;
        self.dispatch();
    }

    fn ready(&mut self) {
        if !self.closed && self.paused {
            self.paused = false;
            self.dispatch();
        }
    }

    fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.dispatch();
        }
    }
}

// ===== the harness =====

struct Held {
    conn: PooledConnection<Noop>,
    model: ModelConn,
    errored: bool,
}

/// The most checkouts one sequence may leave queued (the pool's `waiters_max`).
pub const WAITERS_MAX: u32 = 64;

/// Runs `ops` against a real pool built from `cfg` and against the reference model,
/// comparing them after every step.
///
/// # Errors
/// A description of the first step where the pool and the model disagree (or where `cfg`
/// is refused by the pool builder).
pub fn run(cfg: &Config, ops: &[Op]) -> Result<(), String> {
    let cfg = cfg.clone();
    let runtime = Arc::new(ManualRuntime::default());
    let options = PoolOptions {
        max_pool_size: cfg.max_pool_size,
        max_connecting: cfg.max_connecting,
        wait_queue_timeout: cfg.wait_queue_timeout_ms.map(Duration::from_millis),
        max_idle_time: cfg.max_idle_ms.map(Duration::from_millis),
        maintenance_interval: None,
        // The interpreter polls every checkout after every op, so no grant ever waits to
        // be claimed; without the claim watcher nothing is spawned (checked below).
        claim_timeout: None,
        waiters_max: WAITERS_MAX,
        ..PoolOptions::default()
    };
    let pool = Pool::builder(Noop)
        .options(options)
        .runtime(runtime.clone())
        .ready()
        .build()
        .map_err(|e| format!("the pool refused {cfg:?}: {e}"))?;
    let mut model = Model {
        cfg,
        now: 0,
        paused: false,
        closed: false,
        generation: 0,
        total: 0,
        pending: 0,
        next_id: 0,
        idle: VecDeque::new(),
        shelf: None,
        queue: VecDeque::new(),
        checkouts: Vec::new(),
    };
    let mut futures: Vec<Option<Checkout<'_>>> = Vec::new();
    let mut held: Vec<Held> = Vec::new();
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);

    for (step, op) in ops.iter().cloned().enumerate() {
        let mut outcomes: Vec<(usize, Outcome, Outcome)> = Vec::new();
        match op {
            Op::CheckOut => {
                let index = futures.len();
                let mut fut: Checkout<'_> = Box::pin(pool.check_out());
                let real = match fut.as_mut().poll(&mut cx) {
                    Poll::Ready(r) => {
                        futures.push(None);
                        Some(r)
                    }
                    Poll::Pending => {
                        futures.push(Some(fut));
                        None
                    }
                };
                let expected = model.check_out(index);
                match (real, expected) {
                    (Some(r), Some(e)) => record(&mut held, &mut outcomes, index, r, e, &model),
                    (None, None) => {}
                    (r, e) => {
                        return Err(format!(
                            "step {step}: checkout {index}: pool {:?} vs model {e:?}",
                            r.map(|r| r.map(|c| c.id()))
                        ))
                    }
                }
            }
            Op::CheckIn(k) if !held.is_empty() => {
                let h = held.remove(k % held.len());
                let errored = h.errored;
                drop(h.conn);
                model.check_in(h.model, errored);
            }
            Op::MarkErrored(k) if !held.is_empty() => {
                let n = held.len();
                let h = &mut held[k % n];
                h.conn.mark_errored();
                h.errored = true;
            }
            Op::Cancel(k) => {
                let waiting: Vec<usize> = (0..futures.len())
                    .filter(|&i| futures[i].is_some())
                    .collect();
                if !waiting.is_empty() {
                    let i = waiting[k % waiting.len()];
                    futures[i] = None;
                    model.cancel(i);
                }
            }
            Op::Clear => {
                pool.clear(false);
                model.clear();
            }
            Op::Ready => {
                let _ = pool.ready();
                model.ready();
            }
            Op::Close => {
                pool.close();
                model.close();
            }
            Op::Advance(ms) => {
                runtime.now_ms.fetch_add(ms, Ordering::SeqCst);
                model.now += ms;
            }
            Op::CheckIn(_) | Op::MarkErrored(_) => {}
        }
        // Poll every waiting checkout, in creation order, until nothing moves.
        loop {
            let mut moved = false;
            for (i, slot) in futures.iter_mut().enumerate() {
                let Some(fut) = slot.as_mut() else {
                    continue;
                };
                let real = match fut.as_mut().poll(&mut cx) {
                    Poll::Ready(r) => Some(r),
                    Poll::Pending => None,
                };
                let expected = model.poll(i);
                match (real, expected) {
                    (Some(r), Some(e)) => {
                        *slot = None;
                        moved = true;
                        record(&mut held, &mut outcomes, i, r, e, &model);
                    }
                    (None, None) => {}
                    (r, e) => {
                        return Err(format!(
                            "step {step}: waiting checkout {i}: pool {:?} vs model {e:?}",
                            r.map(|r| r.map(|c| c.id()))
                        ))
                    }
                }
            }
            if !moved {
                break;
            }
        }
        for (i, real, expected) in outcomes {
            ensure_eq!(real, expected, "step {}: outcome of checkout {}", step, i);
        }
        let s = pool.status();
        let in_use = held.len() as u32;
        ensure_eq!(
            (
                s.total,
                s.pending,
                s.available,
                s.in_use,
                s.generation,
                s.paused,
                s.closed
            ),
            (
                model.total,
                model.pending,
                model.idle.len() as u32 + u32::from(model.shelf.is_some()),
                in_use,
                model.generation,
                model.paused,
                model.closed
            ),
            "step {}: status (total, pending, available, in_use, generation, paused, closed)",
            step
        );
        let live_waiters = model
            .checkouts
            .iter()
            .flatten()
            .filter(|w| !w.cancelled && w.grant.is_none())
            .count() as u32;
        ensure_eq!(s.waiters, live_waiters, "step {}: waiters", step);
        if s.total > model.cfg.max_pool_size {
            return Err(format!("step {step}: I1: total {} > maxPoolSize", s.total));
        }
        ensure_eq!(
            runtime.spawned.load(Ordering::SeqCst),
            0,
            "nothing needs a task here"
        );
    }
    Ok(())
}

fn record(
    held: &mut Vec<Held>,
    outcomes: &mut Vec<(usize, Outcome, Outcome)>,
    index: usize,
    real: Result<PooledConnection<Noop>, CheckoutError<std::io::Error>>,
    expected: Outcome,
    model: &Model,
) {
    let real_outcome = match &real {
        Ok(c) => Outcome::Conn(c.id()),
        Err(CheckoutError::PoolClosed) => Outcome::Closed,
        Err(CheckoutError::PoolCleared { .. }) => Outcome::Cleared,
        Err(CheckoutError::Timeout { .. }) => Outcome::Timeout,
        Err(e) => Outcome::Unexpected(e.to_string()),
    };
    if let Ok(conn) = real {
        if let Outcome::Conn(id) = expected {
            held.push(Held {
                conn,
                model: ModelConn {
                    id,
                    generation: model.generation,
                    idle_since: model.now,
                },
                errored: false,
            });
        }
    }
    outcomes.push((index, real_outcome, expected));
}
