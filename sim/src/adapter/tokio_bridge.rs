//! [`TokioBridge`]: runs a pool written for Tokio, unmodified, on virtual time.
//!
//! # What it is
//! A current-thread Tokio runtime with a **paused** clock that never runs on its own,
//! plus a simulation task, the *pump* (see `pump.rs`), that runs it at points the seeded
//! scheduler picks:
//!
//! - code run in [`TokioBridge::enter`], and futures wrapped by [`TokioBridge::wrap`]
//!   (polled and dropped in the bridge's context), may call `tokio::spawn`,
//!   `tokio::time::sleep` / `timeout` / `Instant::now`: spawned tasks queue on the bridge's
//!   runtime and the pump is asked to run them, timers register with its paused clock;
//! - before each run the pump moves the paused clock to virtual time
//!   (`tokio::time::advance`), which fires due Tokio timers; while Tokio tasks are alive
//!   (or, with [`Ticking::WhilePending`], a wrapped future waits) it runs on every virtual
//!   millisecond, Tokio's timer resolution, so a Tokio sleep ends at the virtual
//!   millisecond it is due;
//! - a simulated future (a [`Connector::connect`](super::Connector::connect), a
//!   [`SimConnection`](crate::SimConnection) command) polled from a Tokio task must be
//!   wrapped by [`TokioBridge::pumped`], so its wake-ups also wake the pump.
//!
//! # Determinism
//! The runtime runs its queue in FIFO order and the pump runs at seed-chosen points, so
//! the same seed gives the same trace. The seeded scheduler does not reorder Tokio tasks
//! *among themselves* within one pump run: that is the bridge's caveat.
//!
//! # What cannot be bridged
//! OS threads (`std::thread::spawn`, `spawn_blocking`, a multi-thread runtime), the wall
//! clock (`std::time::Instant`, `SystemTime`: a pool timer measured with them must be
//! turned off, see [`PoolSettings`](super::PoolSettings)), timer crates with their own
//! thread (`futures-timer`, `async-io`), and a runtime the pool builds itself. Tokio's
//! clock reads virtual time as of the last pump run (at most a virtual millisecond old
//! while ticking).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::error::AdapterError;
use crate::executor::TaskKind;
#[cfg(doc)]
use crate::pool_under_test::PoolParams;
use crate::pump::{poll_pumped, pump, Side, Signal, Ticking};
use crate::runtime::SimRuntime;

/// A paused Tokio runtime slaved to virtual time, and its pump. Cheap to clone.
#[derive(Clone)]
pub struct TokioBridge {
    side: Arc<Side>,
}

impl std::fmt::Debug for TokioBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioBridge").finish_non_exhaustive()
    }
}

impl TokioBridge {
    /// A bridge on `runtime` (a pool's [`PoolParams::runtime`]), ticking
    /// [`Ticking::WhilePending`]; its pump is spawned on the simulation now.
    ///
    /// # Errors
    /// [`AdapterError::Runtime`] if the Tokio runtime cannot be built.
    pub fn new(runtime: &SimRuntime) -> Result<TokioBridge, AdapterError> {
        TokioBridge::with_ticking(runtime, Ticking::default())
    }

    /// A bridge that ticks as `ticking` says.
    ///
    /// # Errors
    /// [`AdapterError::Runtime`] if the Tokio runtime cannot be built.
    pub fn with_ticking(
        runtime: &SimRuntime,
        ticking: Ticking,
    ) -> Result<TokioBridge, AdapterError> {
        let side = Arc::new(Side::new(ticking).map_err(|e| AdapterError::Runtime(e.to_string()))?);
        runtime.spawn_task(
            TaskKind::Pool,
            Box::pin(pump(side.clone(), runtime.clone())),
        );
        side.signal.request();
        Ok(TokioBridge { side })
    }

    /// Runs `f` in the bridge's Tokio context (build the pool here, close it here, drop
    /// its handles here). If `f` spawned a Tokio task, the pump is asked to run it.
    pub fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        self.side.enter(f)
    }

    /// `future` polled, and dropped, in the bridge's context: for the pool's own futures
    /// (its `get`) polled from a simulation task.
    pub fn wrap<F: Future>(&self, future: F) -> InBridge<F> {
        InBridge {
            inner: Some(Box::pin(future)),
            side: self.side.clone(),
            waiting: false,
        }
    }

    /// `future` with a waker that also wakes the pump: for simulated futures polled from
    /// Tokio tasks (the connects a pool spawns).
    pub fn pumped<F: Future>(&self, future: F) -> Pumped<F> {
        Pumped {
            inner: Box::pin(future),
            signal: self.side.signal.clone(),
        }
    }
}

/// A simulated future polled from a Tokio task (see [`TokioBridge::pumped`]).
pub struct Pumped<F> {
    inner: Pin<Box<F>>,
    signal: Arc<Signal>,
}

impl<F> std::fmt::Debug for Pumped<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pumped").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Pumped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let signal = self.signal.clone();
        poll_pumped(self.inner.as_mut(), cx, &signal)
    }
}

/// A pool's future polled and dropped in the bridge's context (see
/// [`TokioBridge::wrap`]). Fused: once it has completed it stays `Pending`.
pub struct InBridge<F> {
    /// `Some` until it completes (then dropped in the context).
    inner: Option<Pin<Box<F>>>,
    side: Arc<Side>,
    /// Counted in the side's waiting futures.
    waiting: bool,
}

impl<F> std::fmt::Debug for InBridge<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InBridge")
            .field("done", &self.inner.is_none())
            .finish_non_exhaustive()
    }
}

impl<F> InBridge<F> {
    fn stop_waiting(&mut self) {
        if std::mem::take(&mut self.waiting) {
            self.side.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl<F: Future> Future for InBridge<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let side = self.side.clone();
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Pending;
        };
        match side.enter(|| inner.as_mut().poll(cx)) {
            Poll::Ready(output) => {
                let inner = self.inner.take();
                side.enter(|| drop(inner));
                self.stop_waiting();
                Poll::Ready(output)
            }
            Poll::Pending => {
                if !self.waiting && side.ticks_for_waiters() {
                    self.waiting = true;
                    side.waiting.fetch_add(1, Ordering::SeqCst);
                    side.signal.request();
                }
                Poll::Pending
            }
        }
    }
}

impl<F> Drop for InBridge<F> {
    fn drop(&mut self) {
        let inner = self.inner.take();
        self.side.enter(|| drop(inner));
        self.stop_waiting();
    }
}
