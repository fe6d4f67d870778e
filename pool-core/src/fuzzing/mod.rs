//! Entry points for the fuzz targets, the loom models and the property tests (not a
//! stable API; compiled only with the `fuzzing` feature).
//!
//! - [`Ring`]: the engine's lock-free ring, so that it can be checked against a plain
//!   `VecDeque` model with the same code the pool runs.
//! - [`WaiterQueue`]: the engine's wait queue (a [`Ring`] of shared waiter nodes plus the
//!   deliver / cancel rendezvous of each node), split into the atomic steps the engine
//!   takes; [`waiter_queue`] is the `waiter_queue` fuzz target's checker built on it.
//! - [`Shelf`]: one of the engine's per-thread single-connection shelves (invariants
//!   S1–S3 in `engine/shelves.rs`), for the loom models.
//! - [`model`]: the sequential reference model of the whole pool and the interpreter that
//!   runs an operation sequence against both the real pool and the model (used by
//!   `tests/model.rs` and by the `pool_ops` fuzz target, whose `arbitrary` input it
//!   defines).

pub mod model;
pub mod waiter_queue;

use std::sync::atomic::Ordering::SeqCst;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use crate::engine::waiter::{Cancelled, Claim, Waiter};
use crate::sync::{AtomicOps, Backend, StdBackend};

/// The engine's bounded FIFO ring (see `engine/ring.rs` for invariants R1–R3).
pub struct Ring<T, B: Backend>(crate::engine::ring::Ring<T, B>);

impl<T, B: Backend> Ring<T, B> {
    /// A ring of capacity `cap` (> 0).
    pub fn new(cap: usize) -> Self {
        Ring(crate::engine::ring::Ring::new(cap))
    }
    /// Pushes at the tail; gives the value back when full.
    pub fn push(&self, value: T) -> Result<(), T> {
        self.0.push(value)
    }
    /// Pops from the head.
    pub fn pop(&self) -> Option<T> {
        self.0.pop()
    }
    /// The number of values held.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One of the engine's per-thread shelves (see `engine/shelves.rs` for S1–S3).
pub struct Shelf<T, B: Backend>(crate::engine::shelves::Shelf<T, B>);

impl<T, B: Backend> Shelf<T, B> {
    /// An empty shelf.
    pub fn new() -> Self {
        Shelf(crate::engine::shelves::Shelf::new())
    }
    /// Puts a value on the shelf; gives it back when the shelf is taken.
    pub fn put(&self, value: T) -> Result<(), T> {
        self.0.put(value)
    }
    /// Takes the value, if one is there and nobody else is moving it.
    pub fn take(&self) -> Option<T> {
        self.0.take()
    }
}

impl<T, B: Backend> Default for Shelf<T, B> {
    fn default() -> Self {
        Self::new()
    }
}

/// One queued waiter: the engine's `Waiter` node plus an id for the checker.
struct Node<G, B: Backend> {
    id: u64,
    waiter: Waiter<G, B>,
}

/// The engine's wait queue, built from the same parts: a [`Ring`] of `Arc`ed waiter
/// nodes, each a `Waiter` with its `WAITING -> GRANTED / CANCELLED`, `GRANTED -> TAKEN /
/// RECLAIMED` states.
///
/// Every method is one atomic step of the engine (one ring push or pop, one waiter CAS),
/// so a driver can interleave the steps of several logical threads in any order it
/// likes. A delivery is two steps, as in `Engine::dispatch`: [`WaiterQueue::pop`] takes
/// the head waiter out of the ring, then [`Popped::deliver`] hands it the value (which
/// comes back if the waiter was cancelled in between; the deliverer then tries the next
/// waiter). [`WaiterQueue::deliver`] is the two steps run back to back.
///
/// What is *not* interleaved here: the instructions inside one ring push or pop, or inside
/// one waiter CAS; `tests/loom_ring.rs` and `tests/loom_pool.rs` model-check those.
pub struct WaiterQueue<G, B: Backend = StdBackend> {
    ring: Ring<Arc<Node<G, B>>, B>,
    closed: B::AtomicUsize,
    next_id: B::AtomicU64,
}

/// The waiting side's handle on one queued waiter (what a checkout future holds).
pub struct WaiterHandle<G, B: Backend = StdBackend>(Arc<Node<G, B>>);

/// A waiter popped from the ring by a deliverer and not yet delivered to.
pub struct Popped<G, B: Backend = StdBackend>(Arc<Node<G, B>>);

impl<G, B: Backend> WaiterQueue<G, B> {
    /// A queue that holds at most `cap` (> 0) waiters.
    pub fn new(cap: usize) -> Self {
        WaiterQueue {
            ring: Ring::new(cap),
            closed: B::AtomicUsize::new(0),
            next_id: B::AtomicU64::new(0),
        }
    }

    /// Queues a new waiter (one ring push); `Err(())` when the ring is full. Waiter ids
    /// count from 0 in enqueue order, including refused enqueues.
    #[allow(clippy::result_unit_err)]
    pub fn enqueue(&self) -> Result<WaiterHandle<G, B>, ()> {
        let node = Arc::new(Node {
            id: self.next_id.fetch_add(1, SeqCst),
            waiter: Waiter::new(),
        });
        match self.ring.push(Arc::clone(&node)) {
            Ok(()) => Ok(WaiterHandle(node)),
            Err(_) => Err(()),
        }
    }

    /// Pops the head waiter (one ring pop), cancelled or not.
    pub fn pop(&self) -> Option<Popped<G, B>> {
        self.ring.pop().map(Popped)
    }

    /// Delivers `value` to the oldest waiter that is still waiting, popping (and
    /// dropping) cancelled ones on the way; gives `value` back when no waiter is left.
    pub fn deliver(&self, mut value: G) -> Result<u64, G> {
        while let Some(popped) = self.pop() {
            let id = popped.id();
            match popped.deliver(value) {
                Ok(()) => return Ok(id),
                Err(back) => value = back,
            }
        }
        Err(value)
    }

    /// Marks the queue closed and hands every queued waiter `refusal()` (what the engine
    /// does for a closed or paused pool, I7). Returns how many waiters got the refusal.
    pub fn close(&self, mut refusal: impl FnMut() -> G) -> usize {
        self.mark_closed();
        let mut refused = 0;
        while let Some(popped) = self.pop() {
            if popped.deliver(refusal()).is_ok() {
                refused += 1;
            }
        }
        refused
    }

    /// Sets the closed flag only (the first step of [`WaiterQueue::close`]; the caller
    /// then pops and refuses the queued waiters itself).
    pub fn mark_closed(&self) {
        self.closed.store(1, SeqCst);
    }

    /// True once [`WaiterQueue::close`] or [`WaiterQueue::mark_closed`] ran.
    pub fn is_closed(&self) -> bool {
        self.closed.load(SeqCst) != 0
    }

    /// The number of waiters in the ring (cancelled ones included until popped).
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// True when the ring holds no waiter.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }
}

impl<G, B: Backend> WaiterHandle<G, B> {
    /// The waiter's id (its enqueue number).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Gives up waiting (one CAS). Returns the value if a delivery beat the cancel: the
    /// caller owns it again (CMAP K11: it is never lost). A checkout cancels at most once,
    /// and only before it finished (the engine debug-asserts this, W2).
    pub fn cancel(&self) -> Option<G> {
        match self.0.waiter.cancel() {
            Cancelled::Granted(value) => Some(value),
            Cancelled::Waiting | Cancelled::Reclaimed => None,
        }
    }

    /// Polls for the value once (what the checkout future does when woken):
    /// `Ready(Some(value))` when granted, `Ready(None)` when the grant was reclaimed (the
    /// checkout must queue again), `Pending` while waiting.
    pub fn poll(&self) -> Poll<Option<G>> {
        let mut cx = Context::from_waker(Waker::noop());
        match self.0.waiter.poll(&mut cx) {
            Poll::Ready(Claim::Granted(value)) => Poll::Ready(Some(value)),
            Poll::Ready(Claim::Reclaimed) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The claim watcher's step (one CAS out of `GRANTED`): takes back a grant nobody
    /// claimed, for the caller to return to the pool; `None` if the waiter is not holding
    /// an unclaimed grant.
    pub fn reclaim(&self) -> Option<G> {
        self.0.waiter.reclaim()
    }

    /// How many references to the node exist (the ring's, a deliverer's and this one).
    pub fn references(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl<G, B: Backend> Popped<G, B> {
    /// The popped waiter's id.
    pub fn id(&self) -> u64 {
        self.0.id
    }

    /// Hands `value` to the popped waiter (one CAS); gives it back if the waiter was
    /// cancelled first (W2).
    pub fn deliver(self, value: G) -> Result<(), G> {
        self.0.waiter.deliver(value)
    }
}
