//! The interpreter: [`run`] applies each op to a real pool and to the reference model,
//! then polls every unfinished checkout (the executor's job) and compares the two sides.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::ops::{Config, Op, WAITERS_MAX};
use super::reference::{Model, ModelConn, Outcome};
use super::runtime::{Checkout, ManualRuntime, Noop};
use crate::{CheckoutError, Pool, PoolOptions, PooledConnection};

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

/// A connection the sequence holds: the pool's guard and the model's view of it.
struct Held {
    conn: PooledConnection<Noop>,
    model: ModelConn,
    errored: bool,
}

/// The checkouts that ended during one step: (index, the pool's outcome, the model's).
type Outcomes = Vec<(usize, Outcome, Outcome)>;

/// A checkout's result as the pool reports it.
type Real = Result<PooledConnection<Noop>, CheckoutError<std::io::Error>>;

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
        test_on_borrow: cfg.test_on_borrow_ms.is_some(),
        validation_bypass: Duration::from_millis(cfg.test_on_borrow_ms.unwrap_or_default()),
        maintenance_interval: None,
        // The interpreter polls every checkout after every op, so no grant ever waits to
        // be claimed; without the claim watcher nothing is spawned (checked below).
        claim_timeout: None,
        waiters_max: WAITERS_MAX,
        ..PoolOptions::default()
    };
    let pool = Pool::builder(Noop {
        fail_mask: cfg.fail_mask,
    })
    .options(options)
    .runtime(runtime.clone())
    .ready()
    .build()
    .map_err(|e| format!("the pool refused {cfg:?}: {e}"))?;
    let mut interpreter = Interpreter {
        pool: &pool,
        runtime,
        model: Model::new(cfg),
        held: Vec::new(),
        futures: Vec::new(),
    };
    for (step, op) in ops.iter().cloned().enumerate() {
        interpreter.step(step, op)?;
    }
    Ok(())
}

/// Both sides of one sequence. Fields drop in order: the held connections are checked in
/// before the still-waiting checkouts are dropped.
struct Interpreter<'p> {
    pool: &'p Pool<Noop>,
    runtime: Arc<ManualRuntime>,
    model: Model,
    held: Vec<Held>,
    /// Every checkout started, by index; `None` once it ended or was cancelled.
    futures: Vec<Option<Checkout<'p>>>,
}

impl<'p> Interpreter<'p> {
    /// Applies `op` to both sides, lets every checkout move, and compares.
    fn step(&mut self, step: usize, op: Op) -> Result<(), String> {
        let mut outcomes = Outcomes::new();
        self.apply(step, op, &mut outcomes)?;
        self.settle(step, &mut outcomes)?;
        for (i, real, expected) in outcomes {
            ensure_eq!(real, expected, "step {}: outcome of checkout {}", step, i);
        }
        self.compare_status(step)
    }

    /// Applies `op` to the pool and to the model.
    fn apply(&mut self, step: usize, op: Op, outcomes: &mut Outcomes) -> Result<(), String> {
        match op {
            Op::CheckOut => return self.check_out(step, outcomes),
            Op::CheckIn(k) if !self.held.is_empty() => {
                let h = self.held.remove(k % self.held.len());
                let errored = h.errored;
                drop(h.conn);
                self.model.check_in(h.model, errored);
            }
            Op::MarkErrored(k) if !self.held.is_empty() => {
                let n = self.held.len();
                let h = &mut self.held[k % n];
                h.conn.mark_errored();
                h.errored = true;
            }
            Op::Cancel(k) => {
                let waiting: Vec<usize> = (0..self.futures.len())
                    .filter(|&i| self.futures[i].is_some())
                    .collect();
                if !waiting.is_empty() {
                    let i = waiting[k % waiting.len()];
                    self.futures[i] = None;
                    self.model.cancel(i);
                }
            }
            Op::Clear => {
                self.pool.clear(false);
                self.model.clear();
            }
            Op::Ready => {
                let _ = self.pool.ready();
                self.model.ready();
            }
            Op::Close => {
                self.pool.close();
                self.model.close();
            }
            Op::Advance(ms) => {
                self.runtime.now_ms.fetch_add(ms, Ordering::SeqCst);
                self.model.now += ms;
            }
            Op::CheckIn(_) | Op::MarkErrored(_) => {}
        }
        Ok(())
    }

    /// Starts a checkout on both sides and polls it once.
    fn check_out(&mut self, step: usize, outcomes: &mut Outcomes) -> Result<(), String> {
        let mut cx = Context::from_waker(Waker::noop());
        let index = self.futures.len();
        let pool: &'p Pool<Noop> = self.pool;
        let mut fut: Checkout<'p> = Box::pin(pool.check_out());
        let real = match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => {
                self.futures.push(None);
                Some(r)
            }
            Poll::Pending => {
                self.futures.push(Some(fut));
                None
            }
        };
        let expected = self.model.check_out(index);
        match (real, expected) {
            (Some(r), Some(e)) => record(&mut self.held, outcomes, index, r, e, &self.model),
            (None, None) => {}
            (r, e) => {
                return Err(format!(
                    "step {step}: checkout {index}: pool {:?} vs model {e:?}",
                    r.map(|r| r.map(|c| c.id()))
                ))
            }
        }
        Ok(())
    }

    /// Polls every waiting checkout, in creation order, until nothing moves.
    fn settle(&mut self, step: usize, outcomes: &mut Outcomes) -> Result<(), String> {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            let mut moved = false;
            for (i, slot) in self.futures.iter_mut().enumerate() {
                let Some(fut) = slot.as_mut() else {
                    continue;
                };
                let real = match fut.as_mut().poll(&mut cx) {
                    Poll::Ready(r) => Some(r),
                    Poll::Pending => None,
                };
                let expected = self.model.poll(i);
                match (real, expected) {
                    (Some(r), Some(e)) => {
                        *slot = None;
                        moved = true;
                        record(&mut self.held, outcomes, i, r, e, &self.model);
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
                return Ok(());
            }
        }
    }

    /// Compares the pool's status with the model's, and checks I1 and that nothing was
    /// spawned.
    fn compare_status(&self, step: usize) -> Result<(), String> {
        let model = &self.model;
        let s = self.pool.status();
        let in_use = self.held.len() as u32;
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
        ensure_eq!(s.waiters, model.live_waiters(), "step {}: waiters", step);
        if s.total > model.cfg.max_pool_size {
            return Err(format!("step {step}: I1: total {} > maxPoolSize", s.total));
        }
        ensure_eq!(
            self.runtime.spawned.load(Ordering::SeqCst),
            0,
            "nothing needs a task here"
        );
        Ok(())
    }
}

/// Records a checkout that ended on both sides; a connection the model also handed out
/// joins the held ones.
fn record(
    held: &mut Vec<Held>,
    outcomes: &mut Outcomes,
    index: usize,
    real: Real,
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
