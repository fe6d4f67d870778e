//! The claim watcher: takes back grants that their checkouts never claimed (I8).
//!
//! One task per pool with a `claim_timeout`, spawned through the pool's runtime. It costs
//! nothing while no grant is outstanding: it sleeps on a signal that the dispatcher fires
//! when the claim watch list stops being empty. While the list has waiters it sweeps
//! them (`Engine::sweep_claims`) at the next due time, at least every few milliseconds so
//! that settled waiters are freed promptly. Like the maintenance task, it holds only a
//! `Weak` to the engine while it sleeps, so dropping every pool handle ends it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use crate::engine::{Engine, Signal};
use crate::manager::Manager;
use crate::sync::Backend;

/// Spawns the claim watcher of `engine`.
pub(crate) fn start<M: Manager, B: Backend>(engine: &Arc<Engine<M, B>>) {
    let weak = Arc::downgrade(engine);
    let signal = engine.claim_signal.clone();
    engine.runtime.spawn(Box::pin(run(weak, signal)));
}

async fn run<M: Manager, B: Backend>(weak: Weak<Engine<M, B>>, signal: Arc<Signal<B>>) {
    loop {
        Notified { signal: &signal }.await;
        // Sweep until nothing is left to watch; a push onto the empty list fires the
        // signal again, so no grant is missed between the last sweep and the next wait.
        loop {
            let sleep = {
                let Some(engine) = weak.upgrade() else { return };
                match engine.sweep_claims() {
                    Some(at) => engine.runtime.sleep_until(at),
                    None => break,
                }
            };
            sleep.await;
        }
        if weak.strong_count() == 0 {
            return;
        }
    }
}

/// Completes when the signal fires.
struct Notified<'a, B: Backend> {
    signal: &'a Signal<B>,
}

impl<B: Backend> Future for Notified<'_, B> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.signal.poll(cx) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
