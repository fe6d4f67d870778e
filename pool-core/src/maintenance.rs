//! Background maintenance (CMAP's "background thread"): close perished available
//! connections and populate up to `min_pool_size` while the pool is ready.
//!
//! One task per pool, spawned through the pool's runtime. It holds only a `Weak` to the
//! engine while it sleeps, so dropping every pool handle ends it. A clear or ready wakes it
//! at once (CMAP L5, S2) instead of waiting for the next interval.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use crate::engine::futures::Establish;
use crate::engine::Origin;
use crate::engine::{Engine, Signal};
use crate::manager::Manager;
use crate::runtime::BoxFuture;
use crate::sync::Backend;

/// Spawns the maintenance task of `engine`.
pub(crate) fn start<M: Manager, B: Backend>(engine: &Arc<Engine<M, B>>, interval: Duration) {
    let weak = Arc::downgrade(engine);
    let signal = engine.maintenance.clone();
    engine.runtime.spawn(Box::pin(run(weak, signal, interval)));
}

async fn run<M: Manager, B: Backend>(
    weak: Weak<Engine<M, B>>,
    signal: Arc<Signal<B>>,
    interval: Duration,
) {
    loop {
        let sleep = {
            let Some(engine) = weak.upgrade() else { return };
            if engine.state().closed() {
                return;
            }
            run_once(&engine);
            engine.runtime.sleep_until(engine.now() + interval)
        };
        WakeOrSleep {
            signal: &signal,
            sleep,
        }
        .await;
    }
}

/// One maintenance pass. Never waits: it does what it can now and returns (CMAP B2).
pub(crate) fn run_once<M: Manager, B: Backend>(engine: &Arc<Engine<M, B>>) {
    prune(engine);
    populate(engine);
}

/// Closes perished available connections, oldest first.
fn prune<M: Manager, B: Backend>(engine: &Engine<M, B>) {
    // Each connection is looked at once: `reserve`-style pops would hand out healthy ones,
    // so pop and put back in order, bounded by the count at the start.
    engine.unshelve_all();
    let count = engine.status().available;
    let mut kept = false;
    for _ in 0..count {
        let Some(entry) = engine.pop_idle() else {
            break;
        };
        match engine.perished(&entry, engine.state()) {
            Some(reason) => engine.close_live(entry, reason),
            None => {
                engine.push_idle(entry);
                kept = true;
            }
        }
    }
    if kept || count > 0 {
        engine.dispatch();
    }
}

/// Starts establishments until `total >= min_pool_size` or `max_connecting` is reached.
fn populate<M: Manager, B: Backend>(engine: &Arc<Engine<M, B>>) {
    let min = engine.options.min_pool_size;
    while engine.state().total() < min {
        let Some(permit) = engine.admit() else { return };
        let establish = Establish::new(engine.clone(), permit, Origin::Populate);
        engine.runtime.spawn(Box::pin(async move {
            let _ = establish.await;
        }));
    }
}

/// Completes when the signal fires or the sleep ends.
struct WakeOrSleep<'a, B: Backend> {
    signal: &'a Signal<B>,
    sleep: BoxFuture<()>,
}

impl<B: Backend> Future for WakeOrSleep<'_, B> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.poll(cx) {
            return Poll::Ready(());
        }
        self.sleep.as_mut().poll(cx)
    }
}
