//! bb8 0.9 behind [`PoolUnderTest`].
//!
//! # How it runs on virtual time
//! bb8 is built on Tokio: `Pool::get` wraps its work in `tokio::time::timeout`, and every
//! connection is made by a task started with `tokio::spawn` (`spawn_replenishing_approvals`
//! in bb8's `inner.rs`), which retries failed connects after a `tokio::time::sleep`. The
//! adapter gives each pool its own current-thread Tokio runtime with a **paused** clock
//! that is never run on its own:
//!
//! - every poll of a checkout, and every check-in, happens inside the runtime's context,
//!   so `tokio::spawn` queues the task on it and `timeout` registers with its timer;
//! - a simulation task, the *pump*, runs that runtime's queued tasks (`block_on` of a few
//!   `yield_now`s) whenever there is work: after a checkout poll or check-in queued a
//!   task, and whenever a simulated future (a connect's network I/O or sleep) wakes a
//!   Tokio task, because the manager's futures are polled with a waker that also wakes the
//!   pump;
//! - before each pump, the paused clock is advanced to virtual time
//!   (`tokio::time::advance`); while Tokio tasks are alive (they may be in a retry sleep)
//!   the pump also runs on every virtual millisecond, Tokio's timer resolution, so a
//!   Tokio sleep ends at the virtual instant it is due.
//!
//! The current-thread scheduler runs its queue in FIFO order and the pump runs at
//! seed-chosen points, so the same seed still gives the same trace; the seeded scheduler
//! does not reorder tasks *inside* one pump (bb8's background connects among
//! themselves), which is the caveat.
//!
//! # Mapping
//! - `maxPoolSize` → `max_size`; `minPoolSize` → `min_idle` (bb8 keeps that many *idle*
//!   connections, not that many in total; `None` when 0).
//! - `waitQueueTimeout` and the checkout's deadline: the adapter races `get` against a
//!   virtual-time sleep and declares `waitQueueTimeout` as the checkout bound.
//!   `connection_timeout` is set to an hour: bb8 compares it with
//!   `std::time::Instant` (the wall clock) to stop retrying a failed connect, and a wall
//!   clock would make runs depend on the machine; an hour of wall time never passes in a
//!   run, so bb8 always retries, as it does with its defaults within its 30 s.
//! - `connectTimeout`: enforced by the manager's `connect`.
//! - `retry_connection`, `test_on_check_out`, `queue_strategy`: bb8's defaults (true, true,
//!   FIFO). `is_valid` and `has_broken` check the errored mark only (no I/O): an errored
//!   connection is dropped by bb8 at check-in.
//! - `max_lifetime` and `idle_timeout`: off. bb8's reaper measures them with
//!   `std::time::Instant` (the wall clock), which the simulation cannot move.
//! - Not supported by bb8, so not claimed: `maxConnecting` (each waiting `get` may approve
//!   one more connect), clear / generations / pause (`clear` and `ready` do nothing),
//!   `close` (bb8 has none: the adapter drops its handle, which is how a bb8 pool ends;
//!   idle connections close when the last reference goes). `status` is `None`: bb8's
//!   `State` does not count connects in flight (ACCT is skipped).
//!
//! # Events
//! Derived from what bb8 does (see `pools/rival.rs`); `PoolReady` once at build and
//! `PoolClosed` when the adapter drops its handle.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use ::bb8::{ManageConnection, PooledConnection, RunError};
use pool_core::runtime::BoxFuture;
use pool_core::ConnectionId;

use super::rival::{failed_reason, give_up_at, Factory, RivalConn, RivalError};
use crate::executor::{race, Either, SimRuntime, TaskKind};
use crate::manager::SimConnection;
use crate::pool_under_test::{
    Capabilities, CheckoutFailure, Lease, LeaseInner, PoolEvent, PoolParams, PoolStatus,
    PoolUnderTest,
};

/// bb8's `connection_timeout` (see the module doc).
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(3_600);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

// ===== the Tokio side =====

/// Asks the pump to run.
#[derive(Default)]
struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    fn request(&self) {
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

/// The paused runtime bb8 runs on, and how far its clock has been moved.
struct TokioSide {
    runtime: tokio::runtime::Runtime,
    synced: Mutex<Duration>,
    signal: Arc<Signal>,
}

impl TokioSide {
    fn new() -> Result<Arc<TokioSide>, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(TokioSide {
            runtime,
            synced: Mutex::new(Duration::ZERO),
            signal: Arc::new(Signal::default()),
        }))
    }

    /// Runs `f` in the runtime's context, then asks for a pump if it queued a task.
    fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
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
    fn pump(&self, now: Duration) {
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

    fn alive(&self) -> bool {
        self.runtime.metrics().num_alive_tasks() > 0
    }
}

/// The pump: a simulation task that runs the Tokio side when asked, and on every virtual
/// millisecond while Tokio tasks are alive.
async fn pump(side: Arc<TokioSide>, runtime: SimRuntime) {
    let signal = side.signal.clone();
    loop {
        if side.alive() {
            let ms = Duration::from_millis(1).as_nanos();
            let next = (runtime.now().as_nanos() / ms + 1) * ms;
            let tick = Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX));
            race(signal.requested(), runtime.sleep_until(tick)).await;
        } else {
            signal.requested().await;
        }
        side.pump(runtime.now());
    }
}

/// Wakes a Tokio task and the pump that runs it.
struct WakeBoth {
    task: Waker,
    signal: Arc<Signal>,
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

/// A simulated future polled from a Tokio task: its wake-ups also wake the pump.
struct Pumped<F> {
    inner: Pin<Box<F>>,
    signal: Arc<Signal>,
}

impl<F: Future> Future for Pumped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let waker = Waker::from(Arc::new(WakeBoth {
            task: cx.waker().clone(),
            signal: self.signal.clone(),
        }));
        self.inner.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

/// A future of bb8's polled (and dropped) in the Tokio side's context.
struct InRuntime<F> {
    inner: Option<Pin<Box<F>>>,
    side: Arc<TokioSide>,
}

impl<F: Future> Future for InRuntime<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        let side = self.side.clone();
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let poll = side.enter(|| inner.as_mut().poll(cx));
        match poll {
            Poll::Ready(output) => {
                let inner = self.inner.take();
                side.enter(|| drop(inner));
                Poll::Ready(Some(output))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> Drop for InRuntime<F> {
    fn drop(&mut self) {
        let inner = self.inner.take();
        self.side.enter(|| drop(inner));
    }
}

// ===== the manager =====

/// bb8's manager over the simulated network.
struct Bb8Manager {
    factory: Arc<Factory>,
    signal: Arc<Signal>,
}

impl ManageConnection for Bb8Manager {
    type Connection = RivalConn;
    type Error = RivalError;

    fn connect(&self) -> impl Future<Output = Result<RivalConn, RivalError>> + Send {
        Pumped {
            inner: Box::pin(self.factory.clone().create()),
            signal: self.signal.clone(),
        }
    }

    async fn is_valid(&self, conn: &mut RivalConn) -> Result<(), RivalError> {
        if conn.is_broken() {
            Err(RivalError::Connect("connection marked errored".to_string()))
        } else {
            Ok(())
        }
    }

    fn has_broken(&self, conn: &mut RivalConn) -> bool {
        conn.is_broken()
    }
}

// ===== the adapter =====

/// The adapter.
pub struct Bb8 {
    pool: Mutex<Option<::bb8::Pool<Bb8Manager>>>,
    side: Arc<TokioSide>,
    factory: Arc<Factory>,
    params: PoolParams,
}

/// Builds a bb8 pool (ready at once) and its pump.
///
/// # Errors
/// An invalid option, or the Tokio runtime could not be built.
pub fn build(params: PoolParams) -> Result<Arc<dyn PoolUnderTest>, String> {
    params.options.validate().map_err(|e| e.to_string())?;
    let side = TokioSide::new()?;
    let factory = Factory::new(&params);
    let options = &params.options;
    let min_idle = (options.min_pool_size > 0).then_some(options.min_pool_size);
    factory.emit(PoolEvent::PoolReady);
    let manager = Bb8Manager {
        factory: factory.clone(),
        signal: side.signal.clone(),
    };
    let pool = side.enter(|| {
        ::bb8::Pool::builder()
            .max_size(options.total_max())
            .min_idle(min_idle)
            .max_lifetime(None)
            .idle_timeout(None)
            .connection_timeout(CONNECTION_TIMEOUT)
            .build_unchecked(manager)
    });
    params.runtime.spawn_task(
        TaskKind::Pool,
        Box::pin(pump(side.clone(), params.runtime.clone())),
    );
    side.signal.request();
    Ok(Arc::new(Bb8 {
        pool: Mutex::new(Some(pool)),
        side,
        factory,
        params,
    }))
}

/// A bb8 connection. Dropping it reports `CheckedIn` and gives it back in the Tokio
/// side's context (bb8 may spawn a replenishing connect then).
struct Bb8Lease {
    /// `None` only while it is dropped.
    conn: Option<PooledConnection<'static, Bb8Manager>>,
    id: ConnectionId,
    side: Arc<TokioSide>,
    factory: Arc<Factory>,
}

impl LeaseInner for Bb8Lease {
    fn id(&self) -> ConnectionId {
        self.id
    }

    fn connection(&mut self) -> &mut SimConnection {
        self.conn
            .as_mut()
            .map(|conn| conn.connection())
            .expect("a lease holds its connection until it is dropped")
    }

    fn mark_errored(&mut self) {
        if let Some(conn) = self.conn.as_mut() {
            conn.mark_broken();
        }
    }
}

impl Drop for Bb8Lease {
    fn drop(&mut self) {
        self.factory.emit(PoolEvent::CheckedIn { id: self.id });
        let conn = self.conn.take();
        self.side.enter(|| drop(conn));
    }
}

fn classify(error: RunError<RivalError>) -> CheckoutFailure {
    match error {
        RunError::User(e) => e.failure(),
        RunError::TimedOut => CheckoutFailure::Timeout,
    }
}

impl PoolUnderTest for Bb8 {
    fn check_out(&self, deadline: Duration) -> BoxFuture<Result<Lease, CheckoutFailure>> {
        let pool = lock(&self.pool).clone();
        let side = self.side.clone();
        let factory = self.factory.clone();
        let runtime = self.params.runtime.clone();
        let wait = self.params.options.wait_queue_timeout;
        Box::pin(async move {
            factory.emit(PoolEvent::CheckOutStarted);
            let Some(pool) = pool else {
                factory.emit(PoolEvent::CheckOutFailed {
                    reason: failed_reason(&CheckoutFailure::PoolClosed),
                });
                return Err(CheckoutFailure::PoolClosed);
            };
            let give_up = give_up_at(&runtime, deadline, wait);
            let get = InRuntime {
                inner: Some(Box::pin(async move { pool.get_owned().await })),
                side: side.clone(),
            };
            let failure = match race(get, runtime.sleep_until(give_up)).await {
                Either::Left(Some(Ok(conn))) => {
                    let id = conn.id();
                    factory.emit(PoolEvent::CheckedOut { id });
                    return Ok(Lease::new(Box::new(Bb8Lease {
                        conn: Some(conn),
                        id,
                        side,
                        factory,
                    })));
                }
                Either::Left(Some(Err(error))) => classify(error),
                Either::Left(None) => CheckoutFailure::Rejected("polled after completion".into()),
                Either::Right(()) => CheckoutFailure::Timeout,
            };
            factory.emit(PoolEvent::CheckOutFailed {
                reason: failed_reason(&failure),
            });
            Err(failure)
        })
    }

    fn clear(&self, _interrupt_in_use: bool) {}

    fn ready(&self) {}

    fn close(&self) {
        let pool = lock(&self.pool).take();
        if let Some(pool) = pool {
            self.factory.mark_closed();
            self.factory.emit(PoolEvent::PoolClosed);
            self.side.enter(|| drop(pool));
        }
    }

    fn status(&self) -> Option<PoolStatus> {
        None
    }

    fn checkout_bound(&self) -> Option<Duration> {
        self.params.options.wait_queue_timeout
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            max_connecting: false,
            clear: false,
            background_establishment: true,
            clears_on_connect_error: false,
            idle_close_slack: Duration::ZERO,
        }
    }
}

impl Drop for Bb8 {
    fn drop(&mut self) {
        let pool = lock(&self.pool).take();
        self.side.enter(|| drop(pool));
    }
}
