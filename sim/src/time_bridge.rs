//! Keeps mock-server's `tokio::time` sleeps on the simulation's virtual clock.
//!
//! mock-server's connection handler sleeps with `tokio::time::sleep` (a fail point's
//! `blockConnection`, and the accept delay / latency faults, which the simulation leaves
//! off because its network has its own). A Tokio sleep needs a Tokio time driver. The
//! bridge owns a current-thread Tokio runtime with a *paused* clock that is never run as
//! an executor: the simulation enters its context only while it polls a server task, so
//! a sleep created there registers with the bridge's timer wheel and wakes the
//! simulation's waker. The bridge moves the paused clock forward in step with virtual
//! time (`tokio::time::advance`), which fires due sleeps.
//!
//! Tokio's wheel has millisecond ticks and rounds deadlines up, so a sleep of `d` created
//! at virtual time `t` fires at `ceil_ms(t + d)`. The simulation does not see Tokio's
//! timers, so whoever configures a server-side sleep announces its length
//! ([`crate::executor::SimRuntime::set_server_sleeps`]); each poll of a server task then
//! plants a wake-up at that instant, and time stops there instead of jumping past it.
//!
//! # The ambient context
//! The bridge also owns a second paused runtime, the *ambient* one, that the executor
//! enters around every poll and every drop of a task (server tasks then enter the time
//! bridge's runtime inside it). Nothing is ever queued on it by a well-behaved pool: the
//! reference pool and the zoo spawn on [`crate::SimRuntime`], adapters on their own
//! [`crate::adapter::TokioBridge`]. It is a safety net for a pool that calls
//! `tokio::spawn` or `tokio::time` with no bridge, which would otherwise panic ("no
//! reactor running"), often inside a destructor, which aborts the process. The first time
//! a poll or drop leaves a Tokio task alive on it, [`TimeBridge::ambient_pump`] hands the
//! executor a pump task (the one a `TokioBridge` uses) that runs those tasks on virtual
//! time from then on. Until that happens the hook changes nothing a run does, so runs of
//! pools that never reach it are exactly what they were without it.

use std::sync::Arc;
use std::time::Duration;

use pool_core::runtime::BoxFuture;

use crate::error::SimError;
use crate::pump::{pump, Side, Ticking};
use crate::runtime::SimRuntime;

/// A paused Tokio clock slaved to virtual time, and the ambient Tokio context.
pub(crate) struct TimeBridge {
    runtime: tokio::runtime::Runtime,
    /// How far the paused clock has been advanced (= the virtual time of the last sync).
    synced: Duration,
    /// The ambient context (see the module doc).
    ambient: Arc<Side>,
    /// Whether the ambient pump was started.
    ambient_pumped: bool,
}

impl TimeBridge {
    pub(crate) fn new() -> Result<TimeBridge, SimError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .map_err(|e| SimError::Runtime(e.to_string()))?;
        let ambient =
            Side::new(Ticking::WhileTasksAlive).map_err(|e| SimError::Runtime(e.to_string()))?;
        Ok(TimeBridge {
            runtime,
            synced: Duration::ZERO,
            ambient: Arc::new(ambient),
            ambient_pumped: false,
        })
    }

    /// Runs `f` in the ambient Tokio context (see the module doc).
    pub(crate) fn ambient<R>(&self, f: impl FnOnce() -> R) -> R {
        self.ambient.enter(f)
    }

    /// The ambient pump, once: when a poll or drop left a Tokio task on the ambient
    /// runtime for the first time.
    pub(crate) fn ambient_pump(&mut self, runtime: SimRuntime) -> Option<BoxFuture<()>> {
        if self.ambient_pumped || !self.ambient.has_tasks() {
            return None;
        }
        self.ambient_pumped = true;
        Some(Box::pin(pump(self.ambient.clone(), runtime)))
    }

    /// Runs `f` inside the bridge's runtime context (so `tokio::time::sleep` works).
    pub(crate) fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.runtime.enter();
        f()
    }

    /// Advances the paused clock to `now` and fires every Tokio timer due by then.
    pub(crate) fn sync(&mut self, now: Duration) {
        if now <= self.synced {
            return;
        }
        let step = now - self.synced;
        self.synced = now;
        self.runtime.block_on(tokio::time::advance(step));
    }
}

/// The virtual instant at which a Tokio sleep of `length` started at `now` fires.
pub(crate) fn tokio_deadline(now: Duration, length: Duration) -> Duration {
    let end = now + length;
    let ms = end.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_the_millisecond() {
        let ms = Duration::from_millis;
        assert_eq!(tokio_deadline(ms(0), ms(100)), ms(100));
        assert_eq!(tokio_deadline(Duration::from_micros(300), ms(100)), ms(101));
    }
}
