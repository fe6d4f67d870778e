//! The workload: client tasks that think, check out, use and check in, as the plan
//! says, reporting every step to the recorder.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use bson::doc;

use crate::executor::TaskKind;
use crate::oracle::CheckoutOutcome;
use crate::plan::{Op, OpStyle};
use crate::pool_under_test::{Lease, PoolUnderTest};
use crate::recorder::Recorder;
use crate::runtime::{race, Either, SimRuntime};

/// A command that gets no reply within this is given up (the connection is then
/// errored: its stream is out of step).
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// What every harness task shares.
#[derive(Clone)]
pub struct Ctx {
    /// The pool under test.
    pub pool: Arc<dyn PoolUnderTest>,
    /// Where observations go.
    pub recorder: Arc<Recorder>,
    /// Clock and spawner.
    pub runtime: SimRuntime,
    /// Harness tasks still running (the workload is over at zero).
    pub active: Arc<AtomicUsize>,
}

impl Ctx {
    /// The harness clears the pool: the oracle is told first, so the `PoolCleared` that
    /// follows counts as asked for (CLEAR).
    pub fn clear(&self, interrupt_in_use: bool) {
        self.recorder.clear_requested();
        self.pool.clear(interrupt_in_use);
    }
}

/// Decrements the active-task count when a harness task ends (or is dropped).
pub struct ActiveGuard(Arc<AtomicUsize>);

impl ActiveGuard {
    /// Counts one more active harness task.
    pub fn new(active: &Arc<AtomicUsize>) -> ActiveGuard {
        active.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(active.clone())
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One client: its ops in order.
pub async fn client(ctx: Ctx, client: u32, ops: Vec<Op>, guard: ActiveGuard) {
    for op in ops {
        ctx.runtime.sleep(op.think).await;
        run_op(&ctx, client, &op).await;
    }
    drop(guard);
}

async fn run_op(ctx: &Ctx, client: u32, op: &Op) {
    let rt = &ctx.runtime;
    let deadline = rt.now() + op.deadline;
    let k = ctx.recorder.checkout_began(client, deadline);
    let mut checkout = ctx.pool.check_out(deadline);
    let result = match op.style {
        OpStyle::Await => Some((&mut checkout).await),
        OpStyle::CancelAfter(after) => match race(&mut checkout, rt.sleep(after)).await {
            Either::Left(result) => Some(result),
            Either::Right(()) => None,
        },
        OpStyle::Zombie(hold) => {
            let first = std::future::poll_fn(|cx| Poll::Ready(checkout.as_mut().poll(cx))).await;
            match first {
                Poll::Ready(result) => Some(result),
                Poll::Pending => {
                    ctx.recorder.checkout_abandoned(k);
                    rt.sleep(hold).await;
                    None
                }
            }
        }
        OpStyle::DropOnWake { wakes } => until_woken(&mut checkout, u32::from(wakes)).await,
    };
    drop(checkout);
    match result {
        None => ctx.recorder.checkout_ended(k, CheckoutOutcome::Cancelled),
        Some(Err(failure)) => ctx
            .recorder
            .checkout_ended(k, CheckoutOutcome::Failed(failure)),
        Some(Ok(lease)) => {
            ctx.recorder
                .checkout_ended(k, CheckoutOutcome::Ok(lease.id()));
            use_connection(ctx, client, op, lease).await;
        }
    }
}

/// Passes a wake-up on to the task and counts it.
struct CountingWaker {
    woken: Arc<AtomicU32>,
    inner: Waker,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.fetch_add(1, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

/// Polls `future` until it ends (`Some`) or until its `wakes`-th wake-up, whatever woke
/// it: then gives up (`None`) without polling it again, so whatever the wake-up
/// announced (a grant, say) is never claimed by this poll.
async fn until_woken<F: Future + Unpin>(future: &mut F, wakes: u32) -> Option<F::Output> {
    let woken = Arc::new(AtomicU32::new(0));
    std::future::poll_fn(|cx| {
        if woken.load(Ordering::SeqCst) >= wakes {
            return Poll::Ready(None);
        }
        let waker = Waker::from(Arc::new(CountingWaker {
            woken: woken.clone(),
            inner: cx.waker().clone(),
        }));
        let mut counted = Context::from_waker(&waker);
        Pin::new(&mut *future).poll(&mut counted).map(Some)
    })
    .await
}

async fn use_connection(ctx: &Ctx, client: u32, op: &Op, mut lease: Lease) {
    let rt = &ctx.runtime;
    let slice = op.hold / (u32::from(op.commands) + 1);
    let mut errored = op.mark_errored;
    for _ in 0..op.commands {
        rt.sleep(slice).await;
        let command = lease.connection().run_command("admin", doc! { "ping": 1 });
        let ok = matches!(
            race(command, rt.sleep(COMMAND_TIMEOUT)).await,
            Either::Left(Ok(_))
        );
        ctx.recorder.command(client, lease.id(), ok);
        if !ok {
            errored = true;
            break;
        }
    }
    rt.sleep(slice).await;
    if errored {
        lease.mark_errored();
    }
    ctx.recorder.check_in(client, lease.id(), errored);
    ctx.pool.check_in(lease);
    if let Some(pause) = op.clear_after_check_in {
        // In the same poll as the check-in: a waiter it granted has not run yet.
        ctx.recorder
            .harness(format!("client {client}: clear after check-in"), true);
        ctx.clear(false);
        let guard = ActiveGuard::new(&ctx.active);
        let task_ctx = ctx.clone();
        rt.spawn_task(
            TaskKind::Harness,
            Box::pin(async move {
                task_ctx.runtime.sleep(pause).await;
                task_ctx.recorder.harness("ready".to_string(), false);
                task_ctx.pool.ready();
                drop(guard);
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::{Advance, Budget, Executor, HoldPolicy};
    use crate::rng::Rng;
    use std::sync::Mutex;

    /// Pending until `ready`; counts its polls and keeps its last waker.
    struct Gate {
        polls: Arc<AtomicU32>,
        ready: Arc<std::sync::atomic::AtomicBool>,
        waker: Arc<Mutex<Option<Waker>>>,
    }

    impl Future for Gate {
        type Output = u32;
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
            let polls = self.polls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.ready.load(Ordering::SeqCst) {
                return Poll::Ready(polls);
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            Poll::Pending
        }
    }

    /// Runs a `Gate` under `until_woken(wakes)` while another task wakes it `kicks` times
    /// (the last one making it ready); returns the output and the gate's polls.
    fn drive(wakes: u32, kicks: u32) -> (Option<Option<u32>>, u32) {
        let budget = Budget {
            steps_max: 1_000,
            time_max: Duration::from_secs(10),
        };
        let mut ex = Executor::with_hold(Rng::new(1), budget, HoldPolicy::NEVER).unwrap();
        let rt = ex.handle();
        let polls = Arc::new(AtomicU32::new(0));
        let ready = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = Arc::new(Mutex::new(None::<Waker>));
        let out = Arc::new(Mutex::new(None));
        let mut gate = Gate {
            polls: polls.clone(),
            ready: ready.clone(),
            waker: waker.clone(),
        };
        let out2 = out.clone();
        rt.spawn_task(
            TaskKind::Harness,
            Box::pin(async move {
                *out2.lock().unwrap() = Some(until_woken(&mut gate, wakes).await);
            }),
        );
        let rt2 = rt.clone();
        rt.spawn_task(
            TaskKind::Harness,
            Box::pin(async move {
                for kick in 1..=kicks {
                    rt2.sleep(Duration::from_millis(1)).await;
                    ready.store(kick == kicks, Ordering::SeqCst);
                    if let Some(w) = waker.lock().unwrap().take() {
                        w.wake();
                    }
                }
            }),
        );
        loop {
            ex.run_ready().unwrap();
            if ex.advance().unwrap() == Advance::Stalled {
                break;
            }
        }
        let result = *out.lock().unwrap();
        (result, polls.load(Ordering::SeqCst))
    }

    #[test]
    fn a_checkout_is_dropped_at_its_nth_wake_up_without_another_poll() {
        // Woken once, dropped at once: polled only before the wake-up, even though the
        // wake-up made it ready (its grant is never claimed).
        assert_eq!(drive(1, 1), (Some(None), 1));
        // Dropped at the second wake-up: polled after the first, not after the second.
        assert_eq!(drive(2, 3), (Some(None), 2));
        // Ready before the wake-up that would drop it: its output is kept.
        assert_eq!(drive(3, 2), (Some(Some(3)), 3));
    }
}
