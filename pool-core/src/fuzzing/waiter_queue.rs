//! The `waiter_queue` fuzz target's checker: the engine's wait queue (the real lock-free
//! `Ring` of real `Waiter` nodes, through [`WaiterQueue`]) against a plain `VecDeque`
//! model.
//!
//! The input is a ring capacity, a number of logical threads (1–4) and a list of steps
//! `(thread, action)`. A thread with no operation in progress starts `action`; a thread
//! with one in progress ignores `action` and takes the next atomic step of it. What is
//! interleaved is therefore the engine's atomic steps:
//!
//! - enqueue = one ring push (then, if the queue is closed, the refusal drain below);
//! - deliver = pop the head waiter (one ring pop) | deliver to it (one waiter CAS); a
//!   value that comes back (the waiter was cancelled in between) is offered to the next
//!   waiter, and to the producer when the queue is empty;
//! - close = set the flag | then pop | deliver "closed", one waiter per step, until empty;
//! - cancel (any live checkout's waiter, wherever it is in the ring, or already granted)
//!   = one waiter CAS;
//! - poll = the checkout future's poll (load, register waker, take CAS);
//! - reclaim (any waiter) = the claim watcher's CAS that takes back an unclaimed grant.
//!
//! Other threads run between those steps, so e.g. a cancel can land between a
//! deliverer's pop and its hand-off. The instructions *inside* one push, pop or CAS run
//! without interruption here; `pool-core/tests/loom_ring.rs` and `loom_pool.rs`
//! model-check those interleavings.
//!
//! Checked after every step: the ring length equals the model's; pops come out in FIFO
//! order; enqueue fails exactly when the ring is full; a cancelled waiter never receives
//! (its deliveries come back, its polls stay empty); a granted value reaches exactly one
//! place (the waiter's poll, its canceller, or the claim watcher); the node reference counts say where each
//! waiter is. At the end every thread finishes, every waiter is cancelled, and every value
//! produced must have been received exactly once or returned to its producer exactly once.

use std::collections::{HashMap, VecDeque};
use std::task::Poll;

use arbitrary::Arbitrary;

use super::{Popped, WaiterHandle, WaiterQueue};

/// The most steps one input runs.
pub const MAX_STEPS: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Item(u32),
    Closed,
}

/// One input: a ring capacity, a thread count and the steps. The `waiter_queue` fuzz
/// target decodes it with `arbitrary` and hands it to [`check`].
#[derive(Arbitrary, Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The ring holds `capacity % 8 + 1` waiters.
    pub capacity: u8,
    /// `threads % 4 + 1` logical threads.
    pub threads: u8,
    /// `(thread, action)`: thread `thread % threads` takes its next step, or starts
    /// `action` if it is idle. At most [`MAX_STEPS`] are run.
    pub steps: Vec<(u8, Action)>,
}

/// What an idle logical thread starts.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Queue a new waiter.
    Enqueue,
    /// Deliver a fresh item to the head waiter (two steps per waiter tried).
    Deliver,
    /// Cancel the `n`-th (modulo) live checkout's waiter.
    Cancel(u16),
    /// Poll the `n`-th (modulo) live checkout's waiter.
    Poll(u16),
    /// The claim watcher tries to take back the `n`-th (modulo) waiter's grant.
    Reclaim(u16),
    /// Close the queue (the flag, then one refusal per step).
    Close,
}

/// The model's view of one waiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Waiting,
    Granted(Value),
    Cancelled,
    /// The grant was taken (by a poll, or by a cancel that lost to the delivery).
    Taken,
    /// The claim watcher took the grant back; the checkout has not seen it yet.
    Reclaimed,
    /// The checkout saw the reclaim (it would queue again with a new waiter).
    Done,
}

impl Model {
    /// True while the checkout future that owns the waiter is still alive (it may be
    /// polled or cancelled).
    fn live(self) -> bool {
        matches!(self, Model::Waiting | Model::Granted(_) | Model::Reclaimed)
    }
}

/// One logical thread's operation in progress.
enum Thread {
    Idle,
    /// Delivering `value`; `Some` once the head waiter was popped.
    Delivering(u32, Option<Popped<Value>>),
    /// Handing "closed" to every queued waiter; `Some` once one was popped.
    Refusing(Option<Popped<Value>>),
}

struct Harness {
    queue: WaiterQueue<Value>,
    capacity: usize,
    /// Waiter ids in ring order.
    ring: VecDeque<u64>,
    closed: bool,
    handles: Vec<WaiterHandle<Value>>,
    /// Indexed by waiter id (refused enqueues hold `None`).
    waiters: Vec<Option<Model>>,
    threads: Vec<Thread>,
    next_value: u32,
    /// For each item: how many times it was received by a waiter, or returned.
    received: HashMap<u32, u32>,
    returned: HashMap<u32, u32>,
}

impl Harness {
    fn check_len(&self, what: &str) {
        assert_eq!(self.queue.len(), self.ring.len(), "{what}: ring length");
        assert_eq!(
            self.queue.is_empty(),
            self.ring.is_empty(),
            "{what}: emptiness"
        );
    }

    /// One ring pop; checks FIFO against the model.
    fn pop(&mut self) -> Option<Popped<Value>> {
        let popped = self.queue.pop();
        let expected = self.ring.pop_front();
        assert_eq!(popped.as_ref().map(Popped::id), expected, "FIFO pop");
        popped
    }

    /// One hand-off; returns the value if it came back.
    fn hand_off(&mut self, popped: Popped<Value>, value: Value) -> Option<Value> {
        let id = popped.id();
        let state = self.model(id);
        match popped.deliver(value) {
            Ok(()) => {
                assert_eq!(
                    state,
                    Model::Waiting,
                    "waiter {id} granted in state {state:?}"
                );
                self.waiters[id as usize] = Some(Model::Granted(value));
                None
            }
            Err(back) => {
                assert_eq!(back, value, "a delivery came back changed");
                assert_eq!(
                    state,
                    Model::Cancelled,
                    "waiter {id} refused in state {state:?}"
                );
                Some(back)
            }
        }
    }

    fn model(&self, id: u64) -> Model {
        self.waiters
            .get(id as usize)
            .copied()
            .flatten()
            .unwrap_or_else(|| panic!("waiter {id} was never queued"))
    }

    fn give_back(&mut self, value: Value) {
        if let Value::Item(v) = value {
            *self.returned.entry(v).or_default() += 1;
        }
    }

    fn receive(&mut self, value: Value) {
        if let Value::Item(v) = value {
            *self.received.entry(v).or_default() += 1;
        }
    }

    /// Runs one step of thread `t`: the next step of its operation, or a new `action`.
    fn step(&mut self, t: usize, action: Action) {
        match std::mem::replace(&mut self.threads[t], Thread::Idle) {
            Thread::Idle => self.start(t, action),
            Thread::Delivering(v, None) => match self.pop() {
                Some(popped) => self.threads[t] = Thread::Delivering(v, Some(popped)),
                None => self.give_back(Value::Item(v)),
            },
            Thread::Delivering(v, Some(popped)) => {
                if let Some(back) = self.hand_off(popped, Value::Item(v)) {
                    let Value::Item(v) = back else {
                        unreachable!("checked equal above")
                    };
                    self.threads[t] = Thread::Delivering(v, None); // try the next waiter
                }
            }
            Thread::Refusing(None) => {
                if let Some(popped) = self.pop() {
                    self.threads[t] = Thread::Refusing(Some(popped));
                }
            }
            Thread::Refusing(Some(popped)) => {
                // A cancelled waiter gives the refusal back; nothing to return.
                let _ = self.hand_off(popped, Value::Closed);
                self.threads[t] = Thread::Refusing(None);
            }
        }
        self.check_len("after a step");
    }

    /// Starts `action` on idle thread `t`.
    fn start(&mut self, t: usize, action: Action) {
        match action {
            Action::Enqueue => self.enqueue(t),
            Action::Deliver => {
                self.next_value += 1;
                self.threads[t] = Thread::Delivering(self.next_value, None);
            }
            Action::Close => {
                self.closed = true;
                // One step: the flag. The refusals follow, one waiter per step.
                self.queue.mark_closed();
                self.threads[t] = Thread::Refusing(None);
            }
            Action::Cancel(k) => self.cancel(k),
            Action::Poll(k) => self.poll(k),
            Action::Reclaim(k) => self.reclaim(k),
        }
    }

    /// One ring push by thread `t`; on a closed queue, `t` then drains it.
    fn enqueue(&mut self, t: usize) {
        let full = self.ring.len() == self.capacity;
        let id = self.waiters.len() as u64;
        match self.queue.enqueue() {
            Ok(handle) => {
                assert!(!full, "enqueue succeeded on a full ring");
                assert_eq!(handle.id(), id, "waiter ids count enqueues");
                self.ring.push_back(id);
                self.waiters.push(Some(Model::Waiting));
                self.handles.push(handle);
                if self.closed {
                    // As the engine's dispatch after an enqueue: a closed queue
                    // refuses everyone (I7).
                    self.threads[t] = Thread::Refusing(None);
                }
            }
            Err(()) => {
                assert!(
                    full,
                    "enqueue refused with {} of {}",
                    self.ring.len(),
                    self.capacity
                );
                self.waiters.push(None);
            }
        }
    }

    /// The `k`-th (modulo) live checkout cancels its waiter (one waiter CAS).
    fn cancel(&mut self, k: u16) {
        let Some(i) = self.pick_live(k) else { return };
        let id = self.handles[i].id();
        let got = self.handles[i].cancel();
        let state = self.model(id);
        let next = match (state, got) {
            (Model::Waiting, None) => Model::Cancelled,
            (Model::Granted(v), Some(g)) => {
                assert_eq!(v, g, "waiter {id}: the canceller got another value");
                self.give_back(g);
                Model::Taken
            }
            (Model::Reclaimed, None) => Model::Done,
            (state, got) => panic!("cancel of waiter {id} in {state:?} returned {got:?}"),
        };
        self.waiters[id as usize] = Some(next);
    }

    /// The `k`-th (modulo) live checkout polls its waiter.
    fn poll(&mut self, k: u16) {
        let Some(i) = self.pick_live(k) else { return };
        let id = self.handles[i].id();
        let got = self.handles[i].poll();
        let state = self.model(id);
        let next = match (state, got) {
            (Model::Granted(v), Poll::Ready(Some(g))) => {
                assert_eq!(v, g, "waiter {id} received another value");
                self.receive(g);
                Model::Taken
            }
            (Model::Reclaimed, Poll::Ready(None)) => Model::Done,
            (Model::Waiting, Poll::Pending) => state,
            (state, got) => panic!("poll of waiter {id} in {state:?} returned {got:?}"),
        };
        self.waiters[id as usize] = Some(next);
    }

    /// The claim watcher tries to take back the `k`-th (modulo) waiter's grant.
    fn reclaim(&mut self, k: u16) {
        // The claim watcher may look at any waiter it ever saw granted; a waiter
        // in any other state refuses the CAS.
        if self.handles.is_empty() {
            return;
        }
        let i = usize::from(k) % self.handles.len();
        let id = self.handles[i].id();
        let got = self.handles[i].reclaim();
        let state = self.model(id);
        match (state, got) {
            (Model::Granted(v), Some(g)) => {
                assert_eq!(v, g, "waiter {id}: the watcher took another value");
                self.give_back(g);
                self.waiters[id as usize] = Some(Model::Reclaimed);
            }
            (Model::Granted(_), None) => {
                panic!("waiter {id}: an unclaimed grant could not be reclaimed")
            }
            (_, None) => {}
            (state, got) => panic!("reclaim of waiter {id} in {state:?} returned {got:?}"),
        }
    }

    /// The index of the `k`-th (modulo) handle whose checkout is still alive.
    fn pick_live(&self, k: u16) -> Option<usize> {
        let live: Vec<usize> = (0..self.handles.len())
            .filter(|&i| self.model(self.handles[i].id()).live())
            .collect();
        if live.is_empty() {
            return None;
        }
        Some(live[usize::from(k) % live.len()])
    }

    /// Every node is referenced by its handle, by the ring while queued, and by the thread
    /// that popped it until the hand-off.
    fn check_references(&self) {
        let mut popped: HashMap<u64, usize> = HashMap::new();
        for thread in &self.threads {
            if let Thread::Delivering(_, Some(p)) | Thread::Refusing(Some(p)) = thread {
                *popped.entry(p.id()).or_default() += 1;
            }
        }
        for handle in &self.handles {
            let id = handle.id();
            let queued = usize::from(self.ring.contains(&id));
            let held = popped.get(&id).copied().unwrap_or(0);
            assert_eq!(
                handle.references(),
                1 + queued + held,
                "waiter {id}: references (queued {queued}, popped {held})"
            );
        }
    }
}

/// Runs `input` against the real queue and the model.
///
/// # Panics
/// When the queue and the model disagree (that is the finding).
pub fn check(input: &Input) {
    let capacity = usize::from(input.capacity % 8) + 1;
    let threads = usize::from(input.threads % 4) + 1;
    let mut h = Harness::new(capacity, threads);
    for &(t, action) in input.steps.iter().take(MAX_STEPS) {
        h.step(usize::from(t) % threads, action);
        if h.handles.len() < 64 {
            h.check_references();
        }
    }
    h.finish_threads();
    h.check_references();
    if h.closed {
        h.check_closed_empty();
    }
    h.give_up_live();
    h.check_conservation();
    h.check_no_leak();
}

impl Harness {
    /// An empty queue of `capacity` waiters, `threads` idle threads.
    fn new(capacity: usize, threads: usize) -> Self {
        Harness {
            queue: WaiterQueue::new(capacity),
            capacity,
            ring: VecDeque::new(),
            closed: false,
            handles: Vec::new(),
            waiters: Vec::new(),
            threads: (0..threads).map(|_| Thread::Idle).collect(),
            next_value: 0,
            received: HashMap::new(),
            returned: HashMap::new(),
        }
    }

    /// Lets every thread finish its operation (each step makes progress: a deliverer's
    /// value either lands or comes back, and the ring only shrinks meanwhile).
    fn finish_threads(&mut self) {
        for t in 0..self.threads.len() {
            let mut guard = 0;
            while !matches!(self.threads[t], Thread::Idle) {
                self.step(t, Action::Poll(0));
                guard += 1;
                assert!(
                    guard <= 4 * (self.capacity + 2),
                    "thread {t} does not finish"
                );
            }
        }
    }

    /// I7: a closed queue has no waiters once every refusal drain returned.
    fn check_closed_empty(&self) {
        assert!(
            self.ring.is_empty() && self.queue.is_empty(),
            "waiters left in a closed queue"
        );
        assert!(
            self.waiters.iter().flatten().all(|w| *w != Model::Waiting),
            "a waiter still waits in a closed queue"
        );
    }

    /// Every live checkout polls once more, then gives up.
    fn give_up_live(&mut self) {
        while self.pick_live(0).is_some() {
            self.start(0, Action::Poll(0));
            self.start(0, Action::Cancel(0));
        }
        for handle in &self.handles {
            let state = self.model(handle.id());
            assert!(
                !state.live(),
                "waiter {} still live: {state:?}",
                handle.id()
            );
        }
    }

    /// Conservation: each item was received exactly once or returned exactly once.
    fn check_conservation(&self) {
        for v in 1..=self.next_value {
            let received = self.received.get(&v).copied().unwrap_or(0);
            let returned = self.returned.get(&v).copied().unwrap_or(0);
            assert_eq!(
                (received, returned),
                if received > 0 { (1, 0) } else { (0, 1) },
                "item {v}: received {received} times, returned {returned} times"
            );
        }
    }

    /// Drops the queue: each handle is then its node's only reference.
    fn check_no_leak(self) {
        let Harness { queue, handles, .. } = self;
        drop(queue);
        for handle in &handles {
            assert_eq!(
                handle.references(),
                1,
                "the ring leaked waiter {}",
                handle.id()
            );
        }
    }
}
