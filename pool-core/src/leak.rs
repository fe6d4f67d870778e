//! Leak detection (`leak_detection_threshold`, off by default): a connection held longer
//! than the threshold is reported once — a [`CmapEvent::ConnectionLeakSuspected`] and a
//! `tracing` warning carrying the backtrace of its checkout — and, if it comes back later,
//! once more ([`CmapEvent::ConnectionLeakReturned`]).
//!
//! The watch is per checkout and exists only when the option is on, so a pool without it
//! pays one branch at checkout and one at check-in. With it on, each checkout captures a
//! backtrace and starts one timer task on the pool's runtime; the timer holds the engine
//! weakly, so a closed or dropped pool is not kept alive by it.
//!
//! States of a watch, in the one order they can take (a compare-and-swap decides the
//! race between the timer and the check-in):
//!
//! ```text
//! HELD ──timer──▶ SUSPECTED ──check-in──▶ RETURNED   (two reports)
//!   └────────────check-in────────────────▶ RETURNED   (no report; the timer then does nothing)
//! ```

use std::backtrace::Backtrace;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::engine::Engine;
use crate::event::CmapEvent;
use crate::manager::Manager;
use crate::sync::Backend;
use crate::ConnectionId;

const HELD: u8 = 0;
const SUSPECTED: u8 = 1;
const RETURNED: u8 = 2;

/// One checkout's watch.
pub(crate) struct LeakWatch {
    state: AtomicU8,
    id: ConnectionId,
    /// The pool's clock at checkout.
    out_at: Duration,
}

impl LeakWatch {
    /// Starts watching connection `id`, checked out now, against `threshold`.
    pub(crate) fn start<M: Manager, B: Backend>(
        engine: &Arc<Engine<M, B>>,
        id: ConnectionId,
        threshold: Duration,
    ) -> Arc<LeakWatch> {
        let out_at = engine.now();
        let watch = Arc::new(LeakWatch {
            state: AtomicU8::new(HELD),
            id,
            out_at,
        });
        let backtrace = Backtrace::force_capture();
        let timer = engine.runtime.sleep_until(out_at.saturating_add(threshold));
        let (weak, mine): (Weak<Engine<M, B>>, _) = (Arc::downgrade(engine), watch.clone());
        engine.runtime.spawn(Box::pin(async move {
            timer.await;
            let Some(engine) = weak.upgrade() else {
                return;
            };
            mine.suspect(&engine, &backtrace);
        }));
        watch
    }

    /// The timer fired: reports the connection if it is still out.
    fn suspect<M: Manager, B: Backend>(&self, engine: &Engine<M, B>, backtrace: &Backtrace) {
        if self
            .state
            .compare_exchange(HELD, SUSPECTED, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let held = engine.now().saturating_sub(self.out_at);
        tracing::warn!(
            pool = %engine.address,
            connection_id = self.id,
            held_ms = held.as_millis() as u64,
            "possible connection leak: connection {} checked out {} ms ago and not returned; checked out at:\n{backtrace}",
            self.id,
            held.as_millis(),
        );
        engine.emit(|address| CmapEvent::ConnectionLeakSuspected {
            address,
            connection_id: self.id,
            held,
        });
    }

    /// The connection came back: reports it if it had been reported as a leak.
    pub(crate) fn returned<M: Manager, B: Backend>(&self, engine: &Engine<M, B>) {
        if self.state.swap(RETURNED, Ordering::AcqRel) != SUSPECTED {
            return;
        }
        let held = engine.now().saturating_sub(self.out_at);
        tracing::info!(
            pool = %engine.address,
            connection_id = self.id,
            held_ms = held.as_millis() as u64,
            "connection {} reported as a possible leak came back after {} ms",
            self.id,
            held.as_millis(),
        );
        engine.emit(|address| CmapEvent::ConnectionLeakReturned {
            address,
            connection_id: self.id,
            held,
        });
    }
}
